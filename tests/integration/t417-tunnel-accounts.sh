#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Tunnel accounts: what the tunnel command writes on stderr reaches nmsync's log lines with the
# account's name (it is a pipe nmsync reads, never written over the status line), and the error
# of a tunnel that fails says how its command ended with its last stderr line (so -q still
# says why). A tunnel account no longer turns the sandbox off for the other accounts of the
# run: the tunnel runs unconfined (in a process of its own), the rest is confined.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

T=$(tap_tmpdir)
dovecot_start
dovecot_seed INBOX 3

nmsync_setup <<EOF2
tunnel = echo 'hello from the tunnel' >&2; $(dovecot_tunnel_cmd)
EOF2
nmsync_run pull
check_eq "tunnel writing to stderr: exit 0" 0 "$NMS_RC"
check_eq "tunnel: the messages arrived" 3 "$(local_count INBOX)"
check_match "its stderr is a log line with the account's name" \
    "^test: tunnel: hello from the tunnel$" "$(cat "$NMS_ERR")"
check_eq "and said only there" 1 "$(grep -c 'hello from the tunnel' "$NMS_ERR")"

nmsync_setup <<EOF2
tunnel = echo 'ssh: connect to host nowhere: Connection refused' >&2; exit 255
EOF2
nmsync_run pull
check_eq "failing tunnel: exit 3" 3 "$NMS_RC"
check_match "failing tunnel: its stderr, with the account's name" \
    "^test: tunnel: ssh: connect to host nowhere: Connection refused$" "$(cat "$NMS_ERR")"
check_match "failing tunnel: the error names the account" "^nmsync: test: " "$(cat "$NMS_ERR")"
nmsync_run -q pull
check_eq "failing tunnel, -q: exit 3" 3 "$NMS_RC"
check_match "failing tunnel, -q: the error says how the command ended and why" \
    "^nmsync: test: tunnel .* failed: the command exited with status 255: ssh: connect to host nowhere: Connection refused$" \
    "$(cat "$NMS_ERR")"

# Two accounts: "tun" through a tunnel, "test" over TCP.
nmsync_setup_dovecot
cat >>"$NMS_CONFIG" <<EOF2

[account tun]
tunnel = touch '$T/tunnel-wrote'; $(dovecot_tunnel_cmd)
maildir = $NMS_HOME/Tun
EOF2
outside="$NMS_HOME/outside"
NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run -v pull
if grep -q "sandbox: off: the kernel offers no Landlock" "$NMS_ERR"; then
    skip "sandbox checks" "the kernel offers no Landlock"
else
    check_eq "tunnel + TCP account: exit 0" 0 "$NMS_RC"
    check_eq "the TCP account synced" 3 "$(local_count INBOX)"
    check_eq "the tunnel account synced" 3 "$(find "$NMS_HOME/Tun/cur" "$NMS_HOME/Tun/new" -type f | wc -l)"
    check "the tunnel command ran unconfined (wrote outside the Maildirs)" test -e "$T/tunnel-wrote"
    check_match "-v: the sandbox is on for the other account" \
        "sandbox: on \(Landlock ABI [0-9]+\): writes only beneath '$NMS_MAILDIR'" "$(cat "$NMS_ERR")"
    check "the other account's process is confined (a write outside is denied)" \
        bash -c "grep -q \"sandbox probe: cannot create '$outside'\" '$NMS_ERR' && test ! -e '$outside'"
fi

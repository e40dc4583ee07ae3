#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The Landlock sandbox (nmsync(1) SANDBOX): after reading its config nmsync may write only
# beneath the Maildir, its state directory and the notmuch database. The test hook
# NMSYNC_TEST_SANDBOX_PROBE=PATH makes nmsync try to create PATH once the sandbox is up: a
# write outside fails under the sandbox and succeeds with --no-sandbox, a write inside works,
# and a normal sync under the sandbox writes files, state and index. A tunnel account is synced
# unconfined, in a process of its own (its command would inherit the sandbox), and -v says so;
# t417 checks that the other accounts of such a run stay confined.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed_corpus
nmsync_setup_dovecot
nmsync_notmuch
outside="$NMS_HOME/outside"

NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run -v sync
if grep -q "sandbox: off: the kernel offers no Landlock" "$NMS_ERR"; then
    skip_all "the kernel offers no Landlock"
fi
check_eq "sandboxed sync: exit 0" 0 "$NMS_RC"
check_match "-v: the sandbox is on, with the ABI version" \
    "sandbox: on \(Landlock ABI [0-9]+\): writes only beneath '$NMS_MAILDIR'" "$(cat "$NMS_ERR")"
check_match "-v: the state directory is writable" "'$NMS_STATE'" "$(grep 'sandbox: on' "$NMS_ERR")"
check_match "-v: the notmuch database is writable" "'$NMS_MAILDIR/.notmuch/xapian'" \
    "$(grep 'sandbox: on' "$NMS_ERR")"
check_match "a write outside is denied" "sandbox probe: cannot create '$outside': Permission denied" \
    "$(cat "$NMS_ERR")"
check "the file outside does not exist" test ! -e "$outside"
total=0
while IFS= read -r folder; do
    check_mirror "$folder"
    total=$((total + $(imap_count "$folder")))
done < <(server_folders)
check "the state was written" test -s "$NMS_STATE/test.db"
# The corpus holds one message that starts with an empty line, which notmuch refuses as not mail.
check_eq "every message file is in the notmuch index" "$((total - 1))" \
    "$(notmuch count --output=files '*')"
check_match "notmuch new finds nothing new" "No new mail" "$(notmuch new 2>&1)"

NMSYNC_TEST_SANDBOX_PROBE=$NMS_STATE/probe nmsync_run sync
check_eq "a write inside the state directory: exit 0" 0 "$NMS_RC"
check "a write inside the state directory works" test -e "$NMS_STATE/probe"
rm -f "$NMS_STATE/probe"

NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run -v --no-sandbox sync
check_eq "--no-sandbox: exit 0" 0 "$NMS_RC"
check_match "--no-sandbox: -v says it is off" "sandbox: off: --no-sandbox" "$(cat "$NMS_ERR")"
check "--no-sandbox: the write outside works" test -e "$outside"
rm -f "$outside"

NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run sync
check_eq "without -v: exit 0" 0 "$NMS_RC"
check_fails "without -v: nothing said about the sandbox" grep -q "sandbox:" "$NMS_ERR"

# apply is confined too.
nmsync_rules default.rules
NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run -v apply
check_eq "apply: exit 0" 0 "$NMS_RC"
check_match "apply: the sandbox is on" "sandbox: on \(Landlock ABI" "$(cat "$NMS_ERR")"
check "apply: the write outside is denied" test ! -e "$outside"

# A password-command runs before the sandbox goes up: it may write where it likes.
sed -i "s|^password = .*|password-command = touch '$NMS_HOME/pw-ran'; echo '$DOVECOT_PASSWORD'|" \
    "$NMS_CONFIG"
NMSYNC_TEST_SANDBOX_PROBE=$outside nmsync_run -v sync
check_eq "password-command: exit 0" 0 "$NMS_RC"
check "password-command: ran unconfined" test -e "$NMS_HOME/pw-ran"
check "password-command: the sandbox is on afterwards" test ! -e "$outside"

sed -i "s|^password-command = .*|password-command = echo 'no such key' >\\&2; exit 5|" "$NMS_CONFIG"
nmsync_run sync
check_eq "failing password-command: exit 3" 3 "$NMS_RC"
check_match "failing password-command: named, with its stderr" \
    "account 'test': password-command failed with exit status 5.*no such key" "$(cat "$NMS_ERR")"

# A tunnel command would inherit the sandbox: such a run is not confined, and -v says why.
nmsync_setup <<EOF2
tunnel = touch '$outside'; $(dovecot_tunnel_cmd)
EOF2
nmsync_run -v pull
check_eq "tunnel: exit 0" 0 "$NMS_RC"
check_match "tunnel: -v says why the sandbox is off" \
    "sandbox: off: account 'test' uses a tunnel command" "$(cat "$NMS_ERR")"
check "tunnel: the tunnel command is not confined" test -e "$outside"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Under systemd (Type=notify): READY=1 reaches $NOTIFY_SOCKET only after the first pass (the
# mail is in the Maildir by then), a STATUS= line after each run, STOPPING=1 on SIGTERM. A run
# that fails (the server is down) is retried with backoff while the process stays up: once the
# server is back, the local change it could not push reaches the server without a new event.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"

T=$(tap_tmpdir)
dovecot_start
dovecot_seed INBOX 5
nmsync_setup_dovecot

# A stand-in for systemd's notification socket: every datagram, one line each, into a file.
sock=$T/notify.sock
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
out = open(sys.argv[2], "a", buffering=1)
while True:
    data = s.recv(4096).decode()
    out.write(data.replace("\n", " ") + "\n")
' "$sock" "$T/notify.log" &
listener=$!
at_exit tap_kill "$listener"
sock_ready () { [ -S "$sock" ]; }
wait_for "the notification socket" 10 sock_ready

NOTIFY_SOCKET=$sock "$NMSYNC" -c "$NMS_CONFIG" watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
ready () { grep -q '^READY=1' "$T/notify.log" 2>/dev/null; }
check "READY=1 is sent (bounded: 20 s)" wait_for "READY=1" 20 ready
check_eq "READY=1 comes after the first pass: the 5 messages are here" 5 "$(local_count INBOX)"
check_match "a STATUS= line after the first run" "^STATUS=watching 1 account; last sync [0-9:]+; 1 run, 0 failed" \
    "$(grep '^STATUS=' "$T/notify.log" | head -n 1)"

# The server goes away; a message saved into Sent meanwhile fails to go up, and is retried.
dovecot_stop
mail_file "$(local_dir Sent)/cur/1700000002.M1P1.client:2,S" offline-sent1
failed () { grep -q 'the run failed; trying again in 5 s' "$T/watch.err"; }
check "the failed run is said with its retry (bounded: 10 s)" wait_for "failure" 10 failed
check "watch stays up" _tap_alive "$watch"
dovecot_restart
sent_up () { [ "$(dv search mailbox Sent header message-id '<offline-sent1@nmsync.test>' | grep -c .)" -eq 1 ]; }
check "after the server is back, the retry pushes it (bounded: 30 s)" wait_for "retry" 30 sent_up
check_match "STATUS= counts the failed run" "[0-9]+ runs, [1-9][0-9]* failed" \
    "$(grep '^STATUS=' "$T/notify.log" | tail -n 1)"

kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
check "STOPPING=1 was sent" grep -q '^STOPPING=1' "$T/notify.log"

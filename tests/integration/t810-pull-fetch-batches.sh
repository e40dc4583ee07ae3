#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A folder bigger than one FETCH batch (200 messages): the downloads hold one batch at a time
# (issue 15: a full sync's memory does not grow with the folder), so every batch must find its
# own messages. 450 messages are three batches (200, 200, 50): every message arrives once,
# in three body FETCHes; a message the server cannot deliver in the second batch is skipped
# and named, the rest of that batch and the third arrive; the next run fetches only it. A kill
# in the middle of the second batch loses nothing and fetches no landed message again.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
DOVECOT_RAWLOG=1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root: Dovecot must run as another user than the test"

dovecot_start
dovecot_seed INBOX 450
check_eq "server holds 450 messages" 450 "$(imap_count INBOX)"
nmsync_setup_dovecot "connections = 1"

# body FETCHes of the last session(s) since rawlog_mark: "UID FETCH <set> (UID BODY.PEEK[])"
body_fetches () { rawlog_commands | grep -cE '^UID FETCH [0-9:,]+ .*BODY\.PEEK\[\]'; }

rawlog_mark
dovecot_mark
nmsync_run pull
check_eq "first pull: exit 0" 0 "$NMS_RC"
check_eq "first pull: all 450 arrived" 450 "$(local_count INBOX)"
check_eq "first pull: each body sent once" 450 "$(bodies_since_mark)"
check_eq "first pull: three body FETCHes (200, 200, 50)" 3 "$(body_fetches)"
check_mirror INBOX
check "no file left in tmp/" no_tmp_leftovers
dovecot_mark
nmsync_run pull
check_eq "second pull: exit 0, no body sent" "0 0" "$NMS_RC $(bodies_since_mark)"

# A broken message in the second batch: that batch is fetched again one message at a time.
rm -rf "$NMS_MAILDIR" "$NMS_STATE"
broken=$(server_file INBOX 250)
check "the server's file of INBOX UID 250 is found" test -f "$broken"
chmod 000 "$broken"
dovecot_mark
nmsync_run pull
check_eq "broken message: exit status 1" 1 "$NMS_RC"
check_match "broken message: named with folder and UID" \
    "folder 'INBOX': message UID 250 could not be fetched" "$(cat "$NMS_ERR")"
check_eq "broken message: the other 449 arrived" 449 "$(local_count INBOX)"
check_eq "UID 250 is not there" "" "$(local_file INBOX 250)"
for uid in 201 249 251 400 401 450; do
    check "UID $uid (second and third batch) arrived" test -n "$(local_file INBOX "$uid")"
done
check "no file left in tmp/" no_tmp_leftovers
chmod 644 "$broken"
dovecot_mark
nmsync_run pull
check_eq "server repaired: exit 0" 0 "$NMS_RC"
check_eq "server repaired: only the skipped body was sent" 1 "$(bodies_since_mark)"
check_eq "server repaired: the server's messages, byte for byte" "$(server_sum INBOX)" "$(local_sum INBOX)"

# A kill in the second batch (the crash hook counts one step per landed message, after the
# first batch's 200 and the folder's own steps): the files of the first batch are recorded;
# the rerun fetches only what did not land, and nothing is there twice.
rm -rf "$NMS_MAILDIR" "$NMS_STATE"
NMSYNC_TEST_CRASH_AFTER=300 nmsync_run pull
check_eq "killed in the second batch (SIGKILL)" 137 "$NMS_RC"
landed=$(local_count INBOX)
check "killed: the first batch landed, not everything" test "$landed" -ge 200 -a "$landed" -lt 450
dovecot_mark
nmsync_run pull
check_eq "after the kill: exit 0" 0 "$NMS_RC"
check_eq "after the kill: all 450 there, once each" 450 "$(local_count INBOX)"
check "after the kill: no landed message fetched again" test "$(bodies_since_mark)" -le $((450 - 200))
check_eq "after the kill: the server's messages, byte for byte" "$(server_sum INBOX)" "$(local_sum INBOX)"
check "no file left in tmp/" no_tmp_leftovers


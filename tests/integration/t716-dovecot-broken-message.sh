#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A message the real Dovecot cannot deliver (its file in the server's Maildir made unreadable
# for Dovecot's mail user): nmsync skips and names that message, the rest of the folder and
# the other folders arrive, exit status 1, nothing partial on disk; once the server can read
# the message again, the next run fetches that one message and nothing else.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# Dovecot's mail processes run as nobody when the tests run as root; otherwise as the test's
# own user, who can read a file whatever its mode, and the fault cannot be made.
[ "$(id -u)" = 0 ] || skip_all "needs root: Dovecot must run as another user than the test"

dovecot_start
dovecot_seed INBOX 6
dovecot_seed Other 3
broken=$(server_file INBOX 4)
check "the server's file of INBOX UID 4 is found" test -f "$broken"
chmod 000 "$broken"
nmsync_setup_dovecot
nmsync_run pull
check_eq "broken message: exit status 1" 1 "$NMS_RC"
check_match "broken message: named with folder and UID" \
    "folder 'INBOX': message UID 4 could not be fetched" "$(cat "$NMS_ERR")"
for uid in 1 2 3 5 6; do
    check "INBOX UID $uid arrived" test -n "$(local_file INBOX "$uid")"
done
check_eq "INBOX UID 4 is not there" "" "$(local_file INBOX 4)"
check_eq "the other folder arrived whole" 3 "$(local_count Other)"
check "no file left in tmp/" no_tmp_leftovers
check_eq "nothing but the 8 good messages in cur/ and new/" 8 \
    "$(find "$NMS_MAILDIR" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)"

chmod 644 "$broken"
dovecot_mark
nmsync_run pull
check_eq "server repaired: exit 0" 0 "$NMS_RC"
check_eq "server repaired: only the skipped body was sent" 1 "$(bodies_since_mark)"
check "server repaired: UID 4 arrived" test -n "$(local_file INBOX 4)"
# every message of both folders byte for byte (CRLF -> LF) with the server's flags
check_mirror INBOX
check_mirror Other

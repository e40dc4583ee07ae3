#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The same move made on both sides before a sync: another client moved a message from Junk
# to INBOX on the server, and locally the file moved from .Junk to INBOX too (a rule run for
# "not spam", or the user). The sync's UID MOVE then finds nothing left to move (Dovecot says
# OK without COPYUID): the local file is paired with the message already in INBOX, once,
# nothing uploaded or downloaded, and later runs are quiet.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 2
dovecot_seed --flags '\Seen' Junk 3
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"

id=$(dv fetch hdr.message-id mailbox Junk uid 2 | grep -o '<[^>]*>')
dv move INBOX mailbox Junk uid 2
f=$(local_file Junk 2)
mv "$f" "$NMS_MAILDIR/cur/$(basename "$f" | sed 's/,U=[0-9]*//')"
dovecot_mark
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: no 'cannot be found'" "" "$(grep 'cannot be found' "$NMS_ERR")"
check_eq "sync: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "server: the message once, in INBOX" "1 0" \
    "$(dv fetch hdr.message-id mailbox INBOX | grep -cF "$id") $(dv fetch hdr.message-id mailbox Junk | grep -cF "$id")"
check_eq "server: INBOX 3, Junk 2" "3 2" "$(imap_count INBOX) $(imap_count Junk)"
check_eq "local: INBOX 3, Junk 2" "3 2" "$(local_count INBOX) $(local_count Junk)"
check_eq "INBOX: the server's messages, byte for byte" "$(server_sums INBOX)" "$(local_sum INBOX)"
check_mirror Junk
for run in 1 2; do
    nmsync_run sync
    check_eq "later sync $run: exit 0, nothing said about the move" "0:" \
        "$NMS_RC:$(grep -i 'move' "$NMS_ERR")"
done

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# With the shipped spam.rules (its [keywords] $Junk and $NotJunk get letters), a sync with
# nothing to do selects no folder: 20 such syncs in a row, each one LIST and nothing else on
# the wire, the stored keyword signature the same after each, and neither side changed. (The
# signature used to be sorted by the bytes of pointers, so it "changed" at random and every
# folder's HIGHESTMODSEQ was reset: a SELECT and UID FETCH 1:* of every folder.)
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

DOVECOT_RAWLOG=1
dovecot_start
for f in A B C; do
    dovecot_seed --flags '\Seen' "$f" 3 || bail_out "seeding $f"
done
dovecot_seed INBOX 3 || bail_out "seeding INBOX"
dv flags add '$Junk' mailbox A uid 1
dv flags add '$NotJunk' mailbox B uid 2
nmsync_setup_dovecot
nmsync_rules default.rules spam.rules
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
db=$NMS_STATE/test.db
check_eq "spam.rules' keywords got letters" '$Junk=a $NotJunk=b' \
    "$(sqlite3 "$db" "SELECT keyword || '=' || letter FROM keywords ORDER BY letter" | paste -sd' ')"
check_match "the server's \$Junk arrived as its letter" ':2,S*a' "$(local_file A 1)"
incr_settle
check_eq "settling sync: exit 0" 0 "$NMS_RC"
signature=$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'keyword-letters'")
check_eq "the stored signature is sorted by letter" 'a=$Junk b=$NotJunk' "$signature"

srv_before=$(server_state)
loc_before=$(local_state)
selected="" fetches=0 rcs="" changed=0
for i in $(seq 1 20); do
    rawlog_mark
    nmsync_run sync
    rcs+="$NMS_RC "
    s=$(selected_folders)
    [ -z "$s" ] || selected+="run $i: $s; "
    fetches=$((fetches + $(fetch_all_count)))
    [ "$(sqlite3 "$db" "SELECT value FROM meta WHERE key = 'keyword-letters'")" = "$signature" ] ||
        changed=$((changed + 1))
done
check_eq "20 no-change syncs: exit 0 each" "$(printf '0 %.0s' $(seq 1 20))" "$rcs"
check_eq "20 no-change syncs: no folder selected" "" "$selected"
check_eq "20 no-change syncs: no UID FETCH 1:*" 0 "$fetches"
check_eq "20 no-change syncs: the stored signature never changed" 0 "$changed"
check_eq "20 no-change syncs: the server is unchanged" "$srv_before" "$(server_state)"
check_eq "20 no-change syncs: the Maildir is unchanged" "$loc_before" "$(local_state)"

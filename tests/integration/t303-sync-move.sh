#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A file moved between folders by another tool is moved on the server (UID MOVE: the Dovecot
# GUID stays, no body crosses), and the file gets the destination's UID: (a) moved keeping its
# name, ",U=" of the source included, even when that UID exists in the destination too; (b)
# renamed mbsync-style, ",U=" dropped, flags kept; (c) a copy (the source file still there) is
# uploaded as a new message and the source stays; (d) 12 of 20 moved at once (no mass-deletion
# guard: nothing is deleted), one of them flagged on the way; --dry-run leaves them pending.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# T303_BULK names the folder part (d) moves from (t923 makes it a nested one).
BULK=${T303_BULK:-Bulk}

guid_of () { dv -f tab fetch 'uid guid' mailbox "$1" uid "$2" | sed -n 2p | cut -f2; }
total () { echo $(($(imap_count INBOX) + $(imap_count Junk))); }
sum_of () { sha256sum <"$1" | cut -d' ' -f1; }

# unchanged_by_sync WHAT: a further sync changes nothing on either side.
unchanged_by_sync () {
    local srv loc
    srv=$(server_state)
    loc=$(local_state)
    nmsync_run sync
    check_eq "$1: another sync: exit 0" 0 "$NMS_RC"
    check "$1: another sync: no folder created or gone" no_folder_events
    check_eq "$1: another sync: the server is unchanged" "$srv" "$(server_state)"
    check_eq "$1: another sync: the Maildir is unchanged" "$loc" "$(local_state)"
}

# moved_checks WHAT BASE OLD_UID GUID SUM TOTAL FLAGS: after a sync that should have moved the
# message OLD_UID (file unique part BASE) from INBOX to Junk on the server.
moved_checks () {
    local what=$1 base=$2 old=$3 guid=$4 sum=$5 tot=$6 flags=$7 uid
    check_eq "$what: sync exit 0" 0 "$NMS_RC"
    check "$what: no folder created or gone" no_folder_events
    check_eq "$what: INBOX on the server lacks UID $old" "" \
        "$(server_uids INBOX | tr ' ' '\n' | grep -x "$old")"
    uid=$(local_uid_of Junk "$base")
    check_match "$what: the local file in Junk carries a UID" '^[0-9]+$' "$uid"
    uid=${uid:-0}
    check_eq "$what: that UID in Junk is the same Dovecot message (GUID)" "$guid" "$(guid_of Junk "$uid")"
    check_eq "$what: the server copy in Junk is the file, byte for byte" "$uid $sum" \
        "$(server_sums Junk | grep "^$uid ")"
    check_eq "$what: server flags kept" "$flags" "$(server_flags Junk "$uid")"
    check_eq "$what: no message body downloaded" 0 "$(bodies_since_mark)"
    check_eq "$what: no message uploaded (server total unchanged)" "$tot" "$(total)"
    check_eq "$what: the GUID exists once on the server" 1 \
        "$( (dv -f tab fetch guid mailbox INBOX all; dv -f tab fetch guid mailbox Junk all) | grep -cx "$guid")"
    check_eq "$what: local_file Junk $uid is the moved file" "$(local_path_of Junk "$base")" \
        "$(local_file Junk "$uid")"
    check_eq "$what: the file is gone from INBOX" "" "$(local_path_of INBOX "$base")"
    check_eq "$what: Junk: no UID carried by two files" "" "$(dup_uids Junk)"
    check_eq "$what: INBOX: no UID carried by two files" "" "$(dup_uids INBOX)"
    check_eq "$what: INBOX on both sides the same" "$(server_sums INBOX)" "$(local_sum INBOX)"
    check_eq "$what: Junk on both sides the same" "$(server_sums Junk)" "$(local_sum Junk)"
}

dovecot_start
dovecot_seed --flags '\Seen' INBOX 5
dovecot_seed --flags '\Seen' Junk 3
dovecot_seed --flags '\Seen' "$BULK" 20
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check_eq "initial sync: INBOX complete" 5 "$(local_count INBOX)"
check_eq "initial sync: Junk complete" 3 "$(local_count Junk)"
junk=$(local_dir Junk)

# (a) mv keeping the name: ",U=2" of INBOX lands in Junk, which has a UID 2 of its own.
f=$(local_file INBOX 2)
base=$(basename "$f")
base=${base%%[,:]*}
guid=$(guid_of INBOX 2)
sum=$(sum_of "$f")
tot=$(total)
mv "$f" "$junk/cur/"
check_eq "(a) set-up: Junk now has two files with ,U=2" 2 "$(dup_uids Junk)"
dovecot_mark
nmsync_run sync
moved_checks "(a) mv keeping ,U=" "$base" 2 "$guid" "$sum" "$tot" '\Seen'
check_eq "(a) Junk's own UID 2 untouched on the server" "$(server_sums Junk | grep '^2 ' | cut -d' ' -f2)" \
    "$(sum_of "$(local_file Junk 2)")"
unchanged_by_sync "(a)"

# (b) mbsync-style rename: ",U=" dropped, unique part and ":2,S" kept.
f=$(local_file INBOX 3)
base=$(basename "$f")
base=${base%%[,:]*}
guid=$(guid_of INBOX 3)
sum=$(sum_of "$f")
tot=$(total)
mv "$f" "$junk/cur/$base:2,S"
dovecot_mark
nmsync_run sync
moved_checks "(b) mbsync-style rename" "$base" 3 "$guid" "$sum" "$tot" '\Seen'
unchanged_by_sync "(b)"

# (c) a copy: the INBOX file stays, Junk gets a copy without ",U=": a new message on the server.
f=$(local_file INBOX 4)
base=$(basename "$f")
base=${base%%[,:]*}
guid=$(guid_of INBOX 4)
sum=$(sum_of "$f")
inbox_before=$(server_sums INBOX)
junk_count=$(imap_count Junk)
cp -p "$f" "$junk/cur/$base:2,S"
dovecot_mark
nmsync_run sync
check_eq "(c) copy: sync exit 0" 0 "$NMS_RC"
check_eq "(c) copy: INBOX unchanged on the server" "$inbox_before" "$(server_sums INBOX)"
check_eq "(c) copy: the INBOX file stays, with its UID" "$f" "$(local_file INBOX 4)"
check_eq "(c) copy: INBOX keeps UID 4 (same GUID)" "$guid" "$(guid_of INBOX 4)"
uid=$(local_uid_of Junk "$base")
check_match "(c) copy: the copy in Junk carries a UID" '^[0-9]+$' "$uid"
uid=${uid:-0}
check_eq "(c) copy: uploaded to Junk as one new message" $((junk_count + 1)) "$(imap_count Junk)"
check_eq "(c) copy: the new message is the file, byte for byte" "$uid $sum" \
    "$(server_sums Junk | grep "^$uid ")"
check_eq "(c) copy: the new message keeps \\Seen" '\Seen' "$(server_flags Junk "$uid")"
check_eq "(c) copy: no message body downloaded" 0 "$(bodies_since_mark)"
check_eq "(c) copy: Junk: no UID carried by two files" "" "$(dup_uids Junk)"
check_eq "(c) copy: Junk on both sides the same" "$(server_sums Junk)" "$(local_sum Junk)"
check_eq "(c) copy: INBOX on both sides the same" "$(server_sums INBOX)" "$(local_sum INBOX)"
unchanged_by_sync "(c)"

# (d) 12 of the 20 messages of Bulk moved to Junk at once (as a rules run would), one of them
# renamed mbsync-style and flagged on the way.
guids () { (dv -f tab fetch guid mailbox "$BULK" all; dv -f tab fetch guid mailbox Junk all) | grep -v '^guid$' | sort; }
guids_before=$(guids)
tot=$(($(imap_count "$BULK") + $(imap_count Junk)))
junk_count=$(imap_count Junk)
for uid in $(seq 1 11); do
    mv "$(local_file "$BULK" "$uid")" "$junk/cur/"
done
f=$(local_file "$BULK" 12)
flagged=$(basename "$f")
flagged=${flagged%%[,:]*}
flagged_guid=$(guid_of "$BULK" 12)
mv "$f" "$junk/cur/$flagged:2,FS"

# The dry run must foresee what the real run below does (12 moves, exit 0), and change nothing.
srv=$(server_state)
loc=$(local_state)
nmsync_run -n sync
check_eq "(d) dry run: exit 0" 0 "$NMS_RC"
check_eq "(d) dry run: the server is unchanged" "$srv" "$(server_state)"
check_eq "(d) dry run: the Maildir is unchanged" "$loc" "$(local_state)"

dovecot_mark
nmsync_run sync
check_eq "(d) 12 of 20 moved: exit 0 (a move deletes nothing: no guard)" 0 "$NMS_RC"
check_eq "(d) $BULK has 8 left on the server" 8 "$(imap_count "$BULK")"
check_eq "(d) they are UIDs 13..20" "13 14 15 16 17 18 19 20" "$(server_uids "$BULK")"
check_eq "(d) Junk has 12 more" $((junk_count + 12)) "$(imap_count Junk)"
check_eq "(d) the same Dovecot messages (GUIDs), none uploaded or lost" "$guids_before" "$(guids)"
check_eq "(d) server total unchanged" "$tot" "$(($(imap_count "$BULK") + $(imap_count Junk)))"
check_eq "(d) no message body downloaded" 0 "$(bodies_since_mark)"
uid=$(local_uid_of Junk "$flagged")
check_match "(d) the flagged one carries a Junk UID" '^[0-9]+$' "$uid"
uid=${uid:-0}
check_eq "(d) the flagged one is the same Dovecot message" "$flagged_guid" "$(guid_of Junk "$uid")"
check_eq "(d) the flag set on the way reached the server" '\Flagged \Seen' "$(server_flags Junk "$uid")"
check_eq "(d) Junk: no UID carried by two files" "" "$(dup_uids Junk)"
check_eq "(d) Junk on both sides the same" "$(server_sums Junk)" "$(local_sum Junk)"
check_eq "(d) $BULK on both sides the same" "$(server_sums "$BULK")" "$(local_sum "$BULK")"
unchanged_by_sync "(d)"

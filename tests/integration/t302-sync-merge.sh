#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# sync as a three-way merge: flag changes on both sides (on different messages and on the same
# message) end up on both sides; new messages and deletions cross in both directions; --dry-run
# with work pending on both sides changes nothing, byte for byte; a second sync changes
# nothing; the mass-deletion guard holds on either side until --force.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# T302_BULK names the folder of the mass-deletion part (t922 makes it a nested one).
BULK=${T302_BULK:-Bulk}

# flags_agree FOLDER: every server message's flags, as Maildir letters, equal the local file's.
flags_agree () {
    local f=$1 uid want="" got=""
    for uid in $(server_uids "$f"); do
        # shellcheck disable=SC2046
        want+="$uid:$(imap_letters $(server_flags "$f" "$uid")) "
        got+="$uid:$(local_flags "$f" "$uid") "
    done
    check_eq "$f: the same flags on both sides" "$want" "$got"
}

dovecot_start
dovecot_seed --flags '\Seen' INBOX 6
dovecot_seed --flags '\Seen' "$BULK" 20
dovecot_seed Mass 20
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check_eq "initial sync: INBOX complete" 6 "$(local_count INBOX)"
check_eq "initial sync: $BULK complete" 20 "$(local_count "$BULK")"
check_eq "initial sync: Mass complete" 20 "$(local_count Mass)"

# Work on both sides.
#   1: local adds F            2: server adds \Answered
#   3: local adds F, server removes \Seen (same message, different letters)
#   4: both add F               5: expunged on the server     6: deleted locally
#   a new message on each side
rename_flags () {
    local f
    f=$(local_file INBOX "$1")
    mv "$f" "${f%:2,*}:2,$2"
}
rename_flags 1 FS
dv flags add '\Answered' mailbox INBOX uid 2
rename_flags 3 FS
dv flags remove '\Seen' mailbox INBOX uid 3
rename_flags 4 FS
dv flags add '\Flagged' mailbox INBOX uid 4
dv expunge mailbox INBOX uid 5
rm "$(local_file INBOX 6)"
dovecot_seed INBOX 1
server_new=${DOVECOT_SEEDED_UIDS%%:*}
mail_file "$(local_dir INBOX)/cur/1712000001.M1P1.writer:2,S" sync-local-new
local_new_sum=$(sha256sum <"$(local_dir INBOX)/cur/1712000001.M1P1.writer:2,S" | cut -d' ' -f1)

# --dry-run first: nothing changes anywhere.
srv_before=$(server_state)
loc_before=$(local_state)
nmsync_run -n sync
check_eq "dry run: exit 0" 0 "$NMS_RC"
check_eq "dry run: the server is unchanged (messages, bytes, flags, UIDNEXT)" "$srv_before" "$(server_state)"
check_eq "dry run: the Maildir is unchanged (names, sizes, bytes)" "$loc_before" "$(local_state)"
check_match "dry run: says it would upload the new local file" "would upload.*1712000001" "$(cat "$NMS_ERR")"

dovecot_mark
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check "sync: no folder created or gone" no_folder_events
check_eq "UID 1: local \\Flagged reached the server" '\Flagged \Seen' "$(server_flags INBOX 1)"
check_eq "UID 1: local file kept" FS "$(local_flags INBOX 1)"
check_eq "UID 2: server \\Answered arrived locally" RS "$(local_flags INBOX 2)"
check_eq "UID 2: server keeps it" '\Answered \Seen' "$(server_flags INBOX 2)"
check_eq "UID 3: merged on the server (+F from local, -S from the server)" '\Flagged' "$(server_flags INBOX 3)"
check_eq "UID 3: merged locally" F "$(local_flags INBOX 3)"
check_eq "UID 4: the same change on both sides" '\Flagged \Seen' "$(server_flags INBOX 4)"
check_eq "UID 4: locally" FS "$(local_flags INBOX 4)"
check_eq "UID 5: expunged on the server, deleted locally" "" "$(local_file INBOX 5)"
check_eq "UID 6: deleted locally, expunged on the server" "" \
    "$(server_uids INBOX | tr ' ' '\n' | grep -x 6)"
check_eq "new server message UID $server_new downloaded byte for byte" \
    "$(server_sum INBOX | grep "^$server_new ")" "$(local_sum INBOX | grep "^$server_new ")"
check_eq "only the one new server message was downloaded" 1 "$(bodies_since_mark)"
up=$(local_uid_of INBOX 1712000001.M1P1.writer)
check_match "new local message got a UID" '^[0-9]+$' "$up"
check_eq "new local message uploaded byte for byte" "${up:-0} $local_new_sum" \
    "$(server_sum INBOX | grep "^${up:-0} ")"
check_eq "new local message keeps \\Seen on the server" '\Seen' "$(server_flags INBOX "${up:-0}")"
check_eq "INBOX: server count (6 - 2 + 2)" 6 "$(imap_count INBOX)"
check_eq "INBOX: local count" 6 "$(local_count INBOX)"
check_eq "INBOX: server and disk hold the same messages, byte for byte" "$(server_sum INBOX)" \
    "$(local_sum INBOX)"
flags_agree INBOX
check_eq "INBOX: no UID carried by two files" "" "$(dup_uids INBOX)"

# A second sync right after changes nothing.
srv_before=$(server_state)
loc_before=$(local_state)
dovecot_mark
nmsync_run sync
check_eq "second sync: exit 0" 0 "$NMS_RC"
check "second sync: no folder created or gone" no_folder_events
check_eq "second sync: the server is unchanged" "$srv_before" "$(server_state)"
check_eq "second sync: the Maildir is unchanged" "$loc_before" "$(local_state)"
check_eq "second sync: no body downloaded" 0 "$(bodies_since_mark)"

# Mass deletion, server side: 15 of 20 deleted locally.
for uid in $(seq 1 15); do
    rm "$(local_file "$BULK" "$uid")"
done
nmsync_run sync
check_eq "15 of 20 deleted locally: exit 1" 1 "$NMS_RC"
check_match "15 of 20 deleted locally: the folder and --force are named" "'$BULK'.*--force" \
    "$(cat "$NMS_ERR")"
check_eq "15 of 20 deleted locally: the server still has 20" 20 "$(imap_count "$BULK")"
check_eq "15 of 20 deleted locally: none flagged \\Deleted" "" \
    "$(dv search mailbox "$BULK" deleted)"
check_eq "the guard held only $BULK: INBOX still in step" "$(server_sum INBOX)" "$(local_sum INBOX)"
nmsync_run --force sync
check_eq "--force: exit 0" 0 "$NMS_RC"
check_eq "--force: the server has 5 left" 5 "$(imap_count "$BULK")"
check_eq "--force: the 5 kept are the ones kept locally" "16 17 18 19 20" "$(server_uids "$BULK")"
check_eq "--force: 5 local files" 5 "$(local_count "$BULK")"

# Mass deletion, local side: 15 of 20 expunged on the server.
dv expunge mailbox Mass uid 1:15
nmsync_run sync
check_eq "15 of 20 expunged on the server: exit 1" 1 "$NMS_RC"
check_match "15 of 20 expunged on the server: the folder and --force are named" "'Mass'.*--force" \
    "$(cat "$NMS_ERR")"
check_eq "15 of 20 expunged on the server: all 20 local files kept" 20 "$(local_count Mass)"
check_eq "15 of 20 expunged on the server: nothing uploaded back" 5 "$(imap_count Mass)"
nmsync_run --force sync
check_eq "--force: exit 0" 0 "$NMS_RC"
check_eq "--force: 5 local files left" 5 "$(local_count Mass)"
check_eq "--force: they are the server's 5, byte for byte" "$(server_sum Mass)" "$(local_sum Mass)"
check_eq "--force: the server still has 5" 5 "$(imap_count Mass)"

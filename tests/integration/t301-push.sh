#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# push after an initial sync: new local messages (cur/ with flags, new/ without, another folder,
# a new local folder) are uploaded byte for byte with their flags and the file's mtime as
# internal date, and renamed to carry the server's UID; local flag changes and deletions reach
# the server; nothing comes down from the server; a second push changes nothing; the account
# settings `delete = local` and `create = local|none` keep the server side as it is.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 5
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check_eq "initial sync: INBOX complete" 5 "$(local_count INBOX)"
check "initial sync: Sent exists locally" test -d "$(local_dir Sent)/cur"
inbox_next=$(server_uidnext INBOX)
sent_next=$(server_uidnext Sent)

# The server moves on: a new message (UID 6) and a flag; push must bring neither down.
dovecot_seed INBOX 1
dv flags add '\Flagged' mailbox INBOX uid 1

# Local work: three new messages, two flag changes, one deletion, one new folder. The new
# messages are written by "another program": no ,U=, mtimes in the past in several zones.
inbox=$(local_dir INBOX)
sent=$(local_dir Sent)
mail_file "$inbox/cur/1711000001.M1P1.writer:2,FS" push-cur "2023-03-04 05:06:07 UTC"
mail_file "$inbox/new/1711000002.M2P1.writer" push-new "2022-01-02 03:04:05 UTC"
mail_file "$sent/cur/1711000003.M3P1.writer:2,S" push-sent "2021-07-08 09:10:11 UTC"
local_mkfolder Projects
mail_file "$(local_dir Projects)/cur/1711000004.M4P1.writer:2,S" push-proj "2020-05-06 07:08:09 UTC"
f2=$(local_file INBOX 2)
mv "$f2" "${f2%:2,*}:2,RS"
f3=$(local_file INBOX 3)
mv "$f3" "${f3%:2,*}:2,"
rm "$(local_file INBOX 4)"

# folder base sha256 mtime(unix) flags-on-the-server
new_msgs=$(
    for spec in "INBOX 1711000001.M1P1.writer \\Flagged \\Seen" \
        "INBOX 1711000002.M2P1.writer " \
        "Sent 1711000003.M3P1.writer \\Seen" \
        "Projects 1711000004.M4P1.writer \\Seen"; do
        read -r folder base flags <<<"$spec"
        f=$(local_path_of "$folder" "$base")
        printf '%s|%s|%s|%s|%s\n' "$folder" "$base" "$(sha256sum <"$f" | cut -d' ' -f1)" \
            "$(stat -c %Y "$f")" "$flags"
    done
)

# A zone with a half-hour offset west of UTC: the internal date must still be the mtime.
TZ=America/St_Johns nmsync_run push
check_eq "push: exit 0" 0 "$NMS_RC"

while IFS='|' read -r folder base sum mtime flags; do
    uid=$(local_uid_of "$folder" "$base")
    check_match "$folder: $base renamed to carry a UID" '^[0-9]+$' "$uid"
    [ -n "$uid" ] || uid=0
    case $folder in
        INBOX) check "$folder: $base got a new UID (>= old UIDNEXT $inbox_next)" test "$uid" -ge "$inbox_next" ;;
        Sent) check "$folder: $base got a new UID (>= old UIDNEXT $sent_next)" test "$uid" -ge "$sent_next" ;;
    esac
    check_eq "$folder: $base on the server byte for byte (UID $uid)" "$uid $sum" \
        "$(server_sum "$folder" | grep "^$uid ")"
    check_eq "$folder: $base flags on the server" "$flags" "$(server_flags "$folder" "$uid")"
    check_eq "$folder: $base internal date = file mtime" \
        "$(date -u -d "@$mtime" '+%Y-%m-%d %H:%M:%S')" \
        "$(TZ=UTC dv -f tab fetch date.received mailbox "$folder" uid "$uid" | sed -n 2p)"
    # DESIGN 6: files are <unique>,U=<uid>:2,<flags>, in new/ too (as nmsync's own downloads).
    check_eq "$folder: local_file $folder $uid finds $base" "$(local_path_of "$folder" "$base")" \
        "$(local_file "$folder" "$uid")"
    check_eq "$folder: $base unchanged on disk" "$sum" \
        "$(sha256sum <"$(local_path_of "$folder" "$base")" | cut -d' ' -f1)"
done <<<"$new_msgs"

check_eq "INBOX: local flag added (UID 2: \\Answered)" '\Answered \Seen' "$(server_flags INBOX 2)"
check_eq "INBOX: local flag removed (UID 3: no \\Seen)" "" "$(server_flags INBOX 3)"
check_eq "INBOX: local deletion expunged on the server" "" \
    "$(server_uids INBOX | tr ' ' '\n' | grep -x 4)"
check_eq "INBOX: server count (5 + 1 seeded - 1 deleted + 2 uploaded)" 7 "$(imap_count INBOX)"
check_eq "Sent: server count" 1 "$(imap_count Sent)"
check_eq "new local folder Projects created on the server" Projects "$(server_folders | grep -Fx Projects)"
check_eq "Projects: one message on the server" 1 "$(imap_count Projects)"
check_eq "Projects: server and disk hold the same message" "$(server_sum Projects)" "$(local_sum Projects)"
check_eq "push did not download the new server message (UID 6)" "" "$(local_file INBOX 6)"
check_eq "INBOX: local count (5 - 1 + 2)" 6 "$(local_count INBOX)"
check_eq "push did not apply the server's \\Flagged locally (UID 1)" S "$(local_flags INBOX 1)"
check_eq "server's \\Flagged kept on the server (UID 1)" '\Flagged \Seen' "$(server_flags INBOX 1)"
for f in INBOX Sent Projects; do
    check_eq "$f: no UID carried by two files" "" "$(dup_uids "$f")"
done
check "no file left in tmp/" no_tmp_leftovers

# A second push right away changes nothing anywhere.
srv_before=$(server_state)
loc_before=$(local_state)
nmsync_run push
check_eq "second push: exit 0" 0 "$NMS_RC"
check_eq "second push: the server is unchanged" "$srv_before" "$(server_state)"
check_eq "second push: the Maildir is unchanged" "$loc_before" "$(local_state)"

# What push left on the server side is still pending for a pull: push recorded the local
# flags, not the server's.
nmsync_run pull
check_eq "pull after push: exit 0" 0 "$NMS_RC"
check_eq "pull after push: the server's \\Flagged arrives (UID 1)" FS "$(local_flags INBOX 1)"
check_eq "pull after push: UID 6 arrives" "$(server_sum INBOX | grep '^6 ')" "$(local_sum INBOX | grep '^6 ')"
check_eq "pull after push: INBOX holds the server's messages, byte for byte" "$(server_sum INBOX)" \
    "$(local_sum INBOX)"

# delete = local: a local deletion stays local.
printf 'delete = local\n' >>"$NMS_CONFIG"
rm "$(local_file INBOX 5)"
nmsync_run push
check_eq "delete = local: exit 0" 0 "$NMS_RC"
check_eq "delete = local: the server copy of UID 5 stays" 5 \
    "$(server_uids INBOX | tr ' ' '\n' | grep -x 5)"
check_eq "delete = local: server count unchanged" 7 "$(imap_count INBOX)"
check_eq "delete = local: not flagged \\Deleted either" '\Seen' "$(server_flags INBOX 5)"

# create = local / none: a new local folder is not created on the server.
for mode in local none; do
    sed -i '/^delete = /d; /^create = /d' "$NMS_CONFIG"
    printf 'create = %s\n' "$mode" >>"$NMS_CONFIG"
    folder=Ideas$mode
    local_mkfolder "$folder"
    mail_file "$(local_dir "$folder")/cur/1711000010.M1P9.$mode:2,S" "idea-$mode"
    nmsync_run push
    check_eq "create = $mode: exit 0" 0 "$NMS_RC"
    check_eq "create = $mode: folder $folder not created on the server" "" \
        "$(server_folders | grep -Fx "$folder")"
    check_eq "create = $mode: the local message is left as it was" \
        "$(local_dir "$folder")/cur/1711000010.M1P9.$mode:2,S" "$(local_path_of "$folder" 1711000010.M1P9.$mode)"
done

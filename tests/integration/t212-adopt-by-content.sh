#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync adopt` on a spool with no record nmsync can use (an OfflineIMAP-style INBOX whose
# ",U=" are another program's; an Archive whose dovecot-uidlist is from another server, under
# another UIDVALIDITY, numbering the files against the server's order): files pair by
# Message-ID and size. One flag changed locally (kept, and sent up by the next sync), one
# message missing locally (downloaded), one extra local file (reported, left for the next
# sync, which uploads it once). `-n` prints the same summary and changes nothing.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 a1 a2 a3 x1; do
    mail_file "$src/$n" "$n"
    printf 'Padding: %*s\n' "${#n}${n#?}" "" >>"$src/$n"
done
dovecot_seed INBOX "$src"/m{1,2,3,4}                 # UIDs 1..4
dv flags add '\Seen' mailbox INBOX uid 1:4
dovecot_seed Archive "$src"/a{1,2,3}                 # UIDs 1..3

nmsync_setup_dovecot
d=$NMS_MAILDIR
mkdir -p "$d"/{cur,new,tmp} "$d"/.Archive/{cur,new,tmp}
# INBOX: m1..m3 under another program's UIDs (shuffled), m2 flagged locally, m4 missing; x1
# only local.
cp "$src/m1" "$d/cur/1700000001_0.100.host,U=3,FMD5=aa:2,S"
cp "$src/m2" "$d/cur/1700000002_0.100.host,U=1,FMD5=aa:2,FS"
cp "$src/m3" "$d/cur/1700000003_0.100.host,U=2,FMD5=aa:2,S"
cp "$src/x1" "$d/cur/1700000009_0.100.host,U=4,FMD5=aa:2,"
# Archive: a dovecot-uidlist of another server: UIDVALIDITY 42, a1..a3 numbered 3, 1, 2.
cp "$src/a1" "$d/.Archive/cur/1700000011.M1P1.old,S=1:2,"
cp "$src/a2" "$d/.Archive/cur/1700000012.M1P1.old,S=1:2,"
cp "$src/a3" "$d/.Archive/cur/1700000013.M1P1.old,S=1:2,"
printf '3 V42 N4 Gx\n3 :1700000011.M1P1.old,S=1\n1 :1700000012.M1P1.old,S=1\n2 :1700000013.M1P1.old,S=1\n' \
    >"$d/.Archive/dovecot-uidlist"
file_of () { grep -l "<$2@" "$(local_dir "$1")"/cur/* "$(local_dir "$1")"/new/* 2>/dev/null; }
declare -A ino
for k in INBOX:m1 INBOX:m2 INBOX:m3 Archive:a1 Archive:a2 Archive:a3; do
    ino[$k]=$(stat -c %i "$(file_of "${k%%:*}" "${k##*:}")")
done

srv0=$(server_state)
loc0=$(local_state)
mkdir -m 700 -p "$NMS_STATE"
nmsync_run -n adopt
check_eq "-n adopt: exit 0" 0 "$NMS_RC"
check_match "-n adopt: INBOX summary" \
    "test: INBOX: 0 paired exactly, 3 by content, 1 to download, 1 local-only" "$(cat "$NMS_ERR")"
check_match "-n adopt: Archive summary" \
    "test: Archive: 0 paired exactly, 3 by content, 0 to download, 0 local-only" "$(cat "$NMS_ERR")"
check_match "-n adopt: says the foreign dovecot-uidlist is not used" \
    "Archive: dovecot-uidlist records another UIDVALIDITY" "$(cat "$NMS_ERR")"
check_eq "-n adopt: the Maildir unchanged" "$loc0" "$(local_state)"
check_eq "-n adopt: the server unchanged" "$srv0" "$(server_state)"

dovecot_mark
nmsync_run adopt
check_eq "adopt: exit 0" 0 "$NMS_RC"
check_match "adopt: INBOX summary" \
    "test: INBOX: 0 paired exactly, 3 by content, 1 downloaded, 1 local-only" "$(cat "$NMS_ERR")"
check_match "adopt: Archive summary" \
    "test: Archive: 0 paired exactly, 3 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
check_eq "adopt: one body read (m4)" 1 "$(bodies_since_mark)"
check_eq "adopt: the server unchanged" "$srv0" "$(server_state)"
for k in "${!ino[@]}"; do
    check_eq "$k: same inode" "${ino[$k]}" "$(stat -c %i "$(file_of "${k%%:*}" "${k##*:}")")"
done
collect_sides
by_id_srv () { printf '%s\n' "$SRV" | awk 'NF { print $1, $NF, $2 }' | sort; }
by_id_loc () {
    printf '%s\n' "$LOC" | awk 'NF && $2 ~ /,U=/ { u = $2; sub(/.*,U=/, "", u); sub(/[:,].*/, "", u); print $1, $NF, u }' | sort
}
check_eq "each paired file carries its own message's UID (by Message-ID)" "$(by_id_srv)" "$(by_id_loc)"
check_eq "x1: local-only, its foreign ,U= dropped" "" "$(local_uid_of INBOX 1700000009_0)"
f2=$(file_of INBOX m2)
check_eq "m2: the local \\Flagged kept" FS "${f2##*:2,}"

dovecot_mark
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "sync: x1 uploaded once (INBOX 1..5)" "1 2 3 4 5" "$(server_uids INBOX)"
check_eq "sync: m2's \\Flagged on the server" '\Flagged \Seen' "$(server_flags INBOX 2)"
check_eq "sync: Archive unchanged" "1 2 3" "$(server_uids Archive)"
collect_sides
check "both sides agree UID by UID (bytes and flags)" agree_by_uid
check "every local file carries a UID" all_uploaded

# ACCOUNT/FOLDER: a folder the state has messages of is refused; a folder it has none of is
# adopted while the others keep their state.
nmsync_run adopt test/Archive
check_eq "adopt test/Archive (synced): refused (exit 2)" 2 "$NMS_RC"
check_match "adopt test/Archive: names the folder" "messages of folder 'Archive'" "$(cat "$NMS_ERR")"
mail_file "$src/l1" l1
mail_file "$src/l2" l2
dovecot_seed Lists "$src/l1" "$src/l2"             # UIDs 1, 2
mkdir -p "$d/.Lists/cur" "$d/.Lists/new" "$d/.Lists/tmp"
cp "$src/l1" "$d/.Lists/cur/1700000021_0.100.host,U=7,FMD5=bb:2,S"
cp "$src/l2" "$d/.Lists/cur/1700000022_0.100.host,U=8,FMD5=bb:2,"
dovecot_mark
nmsync_run adopt test/Lists
check_eq "adopt test/Lists: exit 0" 0 "$NMS_RC"
check_eq "adopt test/Lists: nothing downloaded" 0 "$(bodies_since_mark)"
check_match "adopt test/Lists: summary" \
    "test: Lists: 0 paired exactly, 2 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
check_eq "adopt test/Lists: only Lists was adopted" 1 "$(grep -c 'paired exactly' "$NMS_ERR")"
nmsync_run sync
check_eq "sync after: exit 0" 0 "$NMS_RC"
check_eq "sync after: Lists unchanged on the server" "1 2" "$(server_uids Lists)"
collect_sides
check "both sides agree UID by UID" agree_by_uid

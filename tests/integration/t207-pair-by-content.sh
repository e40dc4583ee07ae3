#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A first sync over a Maildir whose file names carry ",U=" values nmsync did not write (an
# mbsync spool: mbsync's own Maildir UIDs, shuffled against the server's): files pair with
# server messages by Message-ID and size, never by that ",U=". Paired files are renamed in
# place (same inode, nothing downloaded), local-only files are uploaded once, server-only
# messages downloaded once, no server message deleted or changed except by the flags the user
# set locally; afterwards a local deletion expunges the right message and a local flag lands
# on the right one. `-n sync` first says exactly that and changes nothing. Then the same spool
# with `pull`: paired, downloaded, nothing uploaded, the server untouched.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in 1 2 3 4 5 6 7 8; do
    mail_file "$src/m$n" "m$n"
    printf 'Padding so that sizes differ: %*s\n' "$n" "" >>"$src/m$n"
done
dovecot_seed INBOX "$src/m1"                      # UID 1
dovecot_seed --flags '\Seen' INBOX "$src/m2"      # UID 2
dovecot_seed --flags '\Flagged' INBOX "$src/m3"   # UID 3
dovecot_seed INBOX "$src/m4" "$src/m5" "$src/m6" "$src/m7" "$src/m8"   # UIDs 4..8
check_eq "server UIDs 1..8" "1 2 3 4 5 6 7 8" "$(server_uids INBOX)"

# The spool: m1..m6 under mbsync's own (wrong) UIDs, each pointing at another server message;
# l1..l3 only local (two of them carrying UIDs of server messages m8 and m6); m7, m8 only on
# the server.
spool () {
    local d=$NMS_MAILDIR
    mkdir -p "$d/cur" "$d/new" "$d/tmp"
    cp "$src/m1" "$d/cur/1700000001.1_1.host,U=3:2,F"     # the user flagged m1 locally
    cp "$src/m2" "$d/cur/1700000002.1_2.host,U=1:2,S"
    cp "$src/m3" "$d/cur/1700000003.1_3.host,U=2:2,FS"    # the user read m3 locally
    cp "$src/m4" "$d/cur/1700000004.1_4.host,U=5:2,RS"    # and answered m4
    cp "$src/m5" "$d/cur/1700000005.1_5.host,U=4:2,"
    cp "$src/m6" "$d/cur/1700000006.1_6.host,U=7:2,"
    mail_file "$d/cur/1700000011.1_11.host,U=8:2,S" l1
    mail_file "$d/cur/1700000012.1_12.host,U=6:2," l2
    mail_file "$d/new/1700000013.1_13.host" l3
}
inode_of () { stat -c %i "$(local_path_of INBOX "$1")"; }
ids_of () { awk -v f="$1" '$1 == f { print $NF }' | sort | tr '\n' ' '; }

nmsync_setup_dovecot
spool
declare -A ino
for b in 1700000001.1_1 1700000002.1_2 1700000003.1_3 1700000004.1_4 1700000005.1_5 1700000006.1_6; do
    ino[$b]=$(inode_of "$b.host")
done
srv0=$(server_state)
loc0=$(local_state)

# (A dry run cannot create the state directory itself yet: the sandbox of -n forbids it.)
mkdir -m 700 -p "$NMS_STATE"
nmsync_run -n sync
check_eq "-n sync: exit 0" 0 "$NMS_RC"
dry=$(cat "$NMS_OUT" "$NMS_ERR")
check_eq "-n sync: would pair the 6 files with their messages" 6 \
    "$(grep -c "INBOX: would pair" <<<"$dry")"
for p in "1_1.host,U=3:2,F' with UID 1" "1_2.host,U=1:2,S' with UID 2" "1_4.host,U=5:2,RS' with UID 4" \
         "1_6.host,U=7:2,' with UID 6"; do
    check "-n sync: says it would pair ...$p" grep -qF "$p" "$NMS_ERR"
done
check_eq "-n sync: would upload the 3 local-only files" 3 "$(grep -c "INBOX: would upload '" <<<"$dry")"
check_eq "-n sync: would download m7 and m8 (UIDs 7, 8)" "7 8" \
    "$(sed -n 's/.*INBOX: would download UID \([0-9]*\).*/\1/p' <<<"$dry" | sort -n | tr '\n' ' ' | sed 's/ $//')"
check_eq "-n sync: would delete nothing" 0 "$(grep -c "INBOX: would delete" <<<"$dry")"
check_eq "-n sync: the server is unchanged" "$srv0" "$(server_state)"
check_eq "-n sync: the Maildir is unchanged" "$loc0" "$(local_state)"

dovecot_mark
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "first sync: only m7 and m8 downloaded" 2 "$(bodies_since_mark)"
collect_sides
check_eq "server: every message once (8 old + 3 uploaded)" \
    "l1@nmsync.test l2@nmsync.test l3@nmsync.test m1@nmsync.test m2@nmsync.test m3@nmsync.test m4@nmsync.test m5@nmsync.test m6@nmsync.test m7@nmsync.test m8@nmsync.test " \
    "$(printf '%s\n' "$SRV" | ids_of INBOX | tr -d '<>')"
check_eq "local: every message once" \
    "<l1@nmsync.test> <l2@nmsync.test> <l3@nmsync.test> <m1@nmsync.test> <m2@nmsync.test> <m3@nmsync.test> <m4@nmsync.test> <m5@nmsync.test> <m6@nmsync.test> <m7@nmsync.test> <m8@nmsync.test> " \
    "$(printf '%s\n' "$LOC" | ids_of INBOX)"
check_eq "server: UIDs 1..8 kept, 3 uploads after them" "1 2 3 4 5 6 7 8 9 10 11" "$(server_uids INBOX)"
check "both sides agree UID by UID (bytes and flags)" agree_by_uid
check "every local file carries a UID" all_uploaded
check_eq "no UID carried by two files" "" "$(dup_uids INBOX)"
moved=""
for b in "${!ino[@]}"; do
    [ "$(inode_of "$b.host")" = "${ino[$b]}" ] || moved+="$b "
done
check_eq "the 6 paired files keep their inodes (renamed in place)" "" "$moved"
for pair in 1700000001.1_1:1 1700000002.1_2:2 1700000003.1_3:3 1700000004.1_4:4 1700000005.1_5:5 1700000006.1_6:6; do
    check_eq "${pair%%:*} carries the server's UID ${pair##*:}" "${pair##*:}" "$(local_uid_of INBOX "${pair%%:*}.host")"
done
check_eq "m1: the local \\Flagged reached the server" '\Flagged' "$(server_flags INBOX 1)"
check_eq "m2: unchanged" '\Seen' "$(server_flags INBOX 2)"
check_eq "m3: server \\Flagged kept, local \\Seen added" '\Flagged \Seen' "$(server_flags INBOX 3)"
check_eq "m4: the local \\Answered \\Seen reached the server" '\Answered \Seen' "$(server_flags INBOX 4)"
check_eq "m5, m6, m7, m8: no flags" "///" \
    "$(server_flags INBOX 5)/$(server_flags INBOX 6)/$(server_flags INBOX 7)/$(server_flags INBOX 8)"
for n in 1 2 3 4 5 6 7 8; do
    check_eq "server m$n (UID $n) keeps its bytes" "$(sha256sum <"$src/m$n" | cut -d' ' -f1)" \
        "$(sha256sum <"$(server_file INBOX "$n")" | cut -d' ' -f1)"
done

# A local deletion expunges the right message: m5 (mbsync called it 4).
rm "$(local_path_of INBOX 1700000005.1_5.host)"
nmsync_run sync
check_eq "after deleting m5 locally: exit 0" 0 "$NMS_RC"
check_eq "m5 (UID 5) and only m5 expunged" "1 2 3 4 6 7 8 9 10 11" "$(server_uids INBOX)"
# A local flag lands on the right message: m2 (mbsync called it 1).
f=$(local_path_of INBOX 1700000002.1_2.host)
mv "$f" "${f%:2,*}:2,FS"
nmsync_run sync
check_eq "after flagging m2 locally: exit 0" 0 "$NMS_RC"
check_eq "m2 (UID 2) got \\Flagged" '\Flagged \Seen' "$(server_flags INBOX 2)"
check_eq "m1 (UID 1) unchanged" '\Flagged' "$(server_flags INBOX 1)"
srv=$(server_state)
loc=$(local_state)
dovecot_mark
nmsync_run sync
check_eq "another sync: exit 0" 0 "$NMS_RC"
check_eq "another sync: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "another sync: the server unchanged" "$srv" "$(server_state)"
check_eq "another sync: the Maildir unchanged" "$loc" "$(local_state)"

# Pull only, from the same spool against a fresh state: pairs and downloads, uploads nothing,
# leaves the server exactly as it was.
nmsync_setup_dovecot
spool
for b in 1700000001.1_1 1700000004.1_4; do
    ino[$b]=$(inode_of "$b.host")
done
srv=$(server_state)
dovecot_mark
nmsync_run pull
check_eq "pull: exit 0" 0 "$NMS_RC"
check_eq "pull: the server unchanged" "$srv" "$(server_state)"
check_eq "pull: only m7 and m8 downloaded" 2 "$(bodies_since_mark)"
collect_sides
check_eq "pull: every server message once locally (l1..l3 uploaded above pair too), and m5" \
    "<l1@nmsync.test> <l2@nmsync.test> <l3@nmsync.test> <m1@nmsync.test> <m2@nmsync.test> <m3@nmsync.test> <m4@nmsync.test> <m5@nmsync.test> <m6@nmsync.test> <m7@nmsync.test> <m8@nmsync.test> " \
    "$(printf '%s\n' "$LOC" | ids_of INBOX)"
check_eq "pull: m1 paired in place with UID 1" "${ino[1700000001.1_1]}:1" \
    "$(inode_of 1700000001.1_1.host):$(local_uid_of INBOX 1700000001.1_1.host)"
check_eq "pull: m4 paired in place with UID 4" "${ino[1700000004.1_4]}:4" \
    "$(inode_of 1700000004.1_4.host):$(local_uid_of INBOX 1700000004.1_4.host)"
check_eq "pull: m5, expunged on the server, lost mbsync's ,U=4 and is kept" "" \
    "$(local_uid_of INBOX 1700000005.1_5.host)"
check "pull: m5's file is still there" test -n "$(local_path_of INBOX 1700000005.1_5.host)"
check_eq "no UID carried by two files" "" "$(dup_uids INBOX)"
check "pull: both sides agree UID by UID" agree_by_uid

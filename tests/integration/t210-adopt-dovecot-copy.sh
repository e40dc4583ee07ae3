#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync adopt` on a copy (cp -a, as rsync or tar make it) of the server's own Dovecot
# Maildir: every file pairs exactly by the folder's dovecot-uidlist, with no message body read
# from the server; files are renamed in place (same inode) to the server's UIDs; the message
# that came after the copy is the only one downloaded; a flag set on the server after the copy
# reaches the file, one the user set locally stays (and reaches the server with the next
# sync). adopt writes nothing to the server. notmuch keeps every tag (its dump is the same
# except the flag-derived tag of the flag pulled), and its paths follow the renames. `-n`
# prints the same summary and changes nothing; the next sync is an ordinary one.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 m5 m6 a1 a2; do
    mail_file "$src/$n" "$n"
done
dovecot_seed INBOX "$src"/m{1,2,3,4,5}         # UIDs 1..5
dv expunge mailbox INBOX uid 2                  # a gap: 1 3 4 5
dv flags add '\Seen' mailbox INBOX uid 3
dovecot_seed Archive "$src/a1" "$src/a2"         # UIDs 1, 2

# The copy, then the server moves on: a new message, a flag.
nmsync_setup_dovecot
mkdir -p "$NMS_MAILDIR"
cp -a "$DOVECOT_MAILDIR/." "$NMS_MAILDIR/"
dovecot_seed INBOX "$src/m6"                     # UID 6: only on the server
dv flags add '\Flagged' mailbox INBOX uid 4
# ... and the user reads m5 locally (a Dovecot name in new/ has no info yet).
f5=$(grep -l 'm5@' "$NMS_MAILDIR"/new/* "$NMS_MAILDIR"/cur/* 2>/dev/null | head -n1)
b5=${f5##*/}
b5=${b5%%:*}
mv "$f5" "$NMS_MAILDIR/cur/$b5:2,S"
check "the copy carries dovecot-uidlist" test -f "$NMS_MAILDIR/dovecot-uidlist"

# The UID dovecot-uidlist gives the file whose Message-ID is $2 in folder $1.
uid_by_list () {
    local d f b
    d=$(local_dir "$1")
    f=$(grep -l "<$2@" "$d"/cur/* "$d"/new/* 2>/dev/null | head -n1)
    b=${f##*/}
    b=${b%%:*}
    awk -v b="$b" 'NR > 1 && $NF == ":" b { print $1 }' "$d/dovecot-uidlist"
}
file_of () { grep -l "<$2@" "$(local_dir "$1")"/cur/* "$(local_dir "$1")"/new/* 2>/dev/null; }
declare -A ino uid
for k in INBOX:m1 INBOX:m3 INBOX:m4 INBOX:m5 Archive:a1 Archive:a2; do
    uid[$k]=$(uid_by_list "${k%%:*}" "${k##*:}")
    ino[$k]=$(stat -c %i "$(file_of "${k%%:*}" "${k##*:}")")
done
check_eq "dovecot-uidlist: m1 m3 m4 m5 have UIDs 1 3 4 5" "1 3 4 5" \
    "${uid[INBOX:m1]} ${uid[INBOX:m3]} ${uid[INBOX:m4]} ${uid[INBOX:m5]}"

nmsync_notmuch "/dovecot[-.]/"
notmuch tag +important -- id:m1@nmsync.test
notmuch tag +work +kept -- id:a2@nmsync.test
notmuch tag -inbox -- id:m3@nmsync.test
dump0=$(notmuch dump)

srv0=$(server_state)
loc0=$(local_state)
mkdir -m 700 -p "$NMS_STATE"
dovecot_mark
nmsync_run -n adopt
check_eq "-n adopt: exit 0" 0 "$NMS_RC"
check_match "-n adopt: INBOX summary" \
    "test: INBOX: 4 paired exactly, 0 by content, 1 to download, 0 local-only" "$(cat "$NMS_ERR")"
check_match "-n adopt: Archive summary" \
    "test: Archive: 2 paired exactly, 0 by content, 0 to download, 0 local-only" "$(cat "$NMS_ERR")"
check_eq "-n adopt: the Maildir unchanged" "$loc0" "$(local_state)"
check_eq "-n adopt: notmuch unchanged" "$dump0" "$(notmuch dump)"

dovecot_mark
nmsync_run adopt
check_eq "adopt: exit 0" 0 "$NMS_RC"
check_eq "adopt: one body read from the server (m6, the only new message)" 1 "$(bodies_since_mark)"
check_eq "adopt: the server unchanged" "$srv0" "$(server_state)"
check_match "adopt: INBOX summary" \
    "test: INBOX: 4 paired exactly, 0 by content, 1 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
check_match "adopt: Archive summary" \
    "test: Archive: 2 paired exactly, 0 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
for k in "${!uid[@]}"; do
    f=$(file_of "${k%%:*}" "${k##*:}")
    check_eq "$k: one file" 1 "$(printf '%s\n' "$f" | grep -c .)"
    check_match "$k: carries the UID dovecot-uidlist gave it (${uid[$k]})" ",U=${uid[$k]}:" "$f"
    check_eq "$k: same inode (renamed in place)" "${ino[$k]}" "$(stat -c %i "$f")"
done
check_match "m6 downloaded with UID 6" ",U=6:" "$(file_of INBOX m6)"
check_eq "m4: the server's \\Flagged pulled" F "$(local_flags INBOX 4)"
check_eq "m5: the local \\Seen kept" S "$(local_flags INBOX 5)"
check_eq "no UID twice" "" "$(dup_uids INBOX)$(dup_uids Archive)"
check_eq "the Dovecot files are left alone" "$(cat "$DOVECOT_MAILDIR/.Archive/dovecot-uidlist")" \
    "$(cat "$NMS_MAILDIR/.Archive/dovecot-uidlist")"
# notmuch: the same tags, except what the pulled \Flagged means; paths follow the renames.
dump1=$(notmuch dump -- not id:m6@nmsync.test)
check_eq "notmuch: dump the same but m4's +flagged" \
    "$(printf '%s\n' "$dump0" | sed '/id:m4@nmsync.test/s/^+inbox/+flagged +inbox/')" "$dump1"
check_eq "notmuch: m6 indexed" 1 "$(notmuch count id:m6@nmsync.test)"
check_eq "notmuch: m1's file is the renamed one" "$(file_of INBOX m1)" \
    "$(notmuch search --output=files id:m1@nmsync.test)"
check_eq "notmuch: every file it knows exists" "" \
    "$(notmuch search --output=files '*' | while read -r p; do [ -e "$p" ] || echo "$p"; done)"

# The next sync is an ordinary one: m5's \Seen goes up, nothing is downloaded or uploaded.
dovecot_mark
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "sync: m5 \\Seen on the server" '\Seen' "$(server_flags INBOX 5)"
check_eq "sync: no upload (INBOX still 1 3 4 5 6)" "1 3 4 5 6" "$(server_uids INBOX)"
check_eq "sync: Archive still 1 2" "1 2" "$(server_uids Archive)"
collect_sides
check "both sides agree UID by UID" agree_by_uid
nmsync_run adopt
check_eq "adopt again over a state with messages: refused (exit 2)" 2 "$NMS_RC"
check_match "adopt again: says how to start over" "move the files 'test\\.\\*'" "$(cat "$NMS_ERR")"

# Starting over: a Maildir whose marker is gone is refused, saying how to start over; with the
# state moved away, adopt pairs it again (exactly by dovecot-uidlist, m6 by content), nothing
# downloaded.
rm "$NMS_MAILDIR/.nmsync-maildir"
nmsync_run sync
check_eq "sync without the marker: refused (exit 2)" 2 "$NMS_RC"
check_match "the refusal names adopt" "move the state files 'test\\.\\*' out of .* run 'nmsync adopt'" "$(cat "$NMS_ERR")"
mv "$NMS_STATE" "$NMS_STATE.old"
mkdir -m 700 "$NMS_STATE"
dovecot_mark
nmsync_run adopt
check_eq "adopt from a new state: exit 0" 0 "$NMS_RC"
check_eq "adopt from a new state: nothing downloaded" 0 "$(bodies_since_mark)"
check_match "adopt from a new state: INBOX summary" \
    "test: INBOX: 4 paired exactly, 1 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
collect_sides
check "both sides still agree UID by UID" agree_by_uid

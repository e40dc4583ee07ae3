#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync check` on a synced INBOX with every defect planted: a message moved into the folder
# directory itself and one into a stray subdirectory (misfiled), an empty file, an empty and a
# non-empty tmp/ file older than 36 h, a new local message carrying another message's ,U=
# (duplicate), a name that does not parse, a file renamed behind notmuch's back (stale name),
# a file gone that the state pairs, a message only on the server and one only locally.
# check finds each (the table's rows) and exits 1; -n --fix changes nothing (Maildir, notmuch,
# server); --fix repairs only the safe ones; then check is clean of those, and a sync
# converges with no Message-ID twice on the server and nothing lost.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 m5 s1; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src"/m{1,2,3,4,5}
dv flags add '\Seen' mailbox INBOX uid 1:5
nmsync_setup_dovecot
nmsync_notmuch
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
d=$NMS_MAILDIR
f1=$(local_file INBOX 1) f2=$(local_file INBOX 2) f3=$(local_file INBOX 3)
f4=$(local_file INBOX 4) f5=$(local_file INBOX 5)
check "five files synced" test -n "$f1" -a -n "$f5"

# The defects.
mv "$f2" "$d/"                                        # misfiled in the folder directory
mkdir "$d/stray" && mv "$f3" "$d/stray/"              # misfiled in a stray subdirectory
touch -d '2 hours ago' "$d/${f2##*/}" "$d/stray/${f3##*/}"  # not recent: --fix refiles them
empty="$d/cur/1700000100.M1P1.host:2,S"; : >"$empty"  # empty message file
tmp_empty="$d/tmp/1700000101.M1P1.host"; : >"$tmp_empty"; touch -d '3 days ago' "$tmp_empty"
tmp_full="$d/tmp/1700000102.M1P1.host"; mail_file "$tmp_full" t1 '3 days ago'
tmp_young="$d/tmp/1700000103.M1P1.host"; : >"$tmp_young"
dup="$d/cur/1700000104.M1P1.host,U=1:2,S"; mail_file "$dup" x1   # a new message, m1's UID
bad="$d/cur/1700000105.M1P1.host,U=007:2,S"; mail_file "$bad" b1  # leading zeros: no parse
f4new="${f4%:2,*}:2,FS"; mv "$f4" "$f4new"            # renamed behind notmuch's back
mv "$f5" "$src/f5.saved"                              # gone: the state still pairs it
dovecot_seed INBOX "$src/s1"                          # only on the server

rows () { awk -v k="$1" '$2 == k { print $3 }' "$NMS_OUT" | sort; }
nmsync_run check
check_eq "check: exit 1" 1 "$NMS_RC"
check_match "check: header" "ACCOUNT/FOLDER +SERVER +LOCAL +NOTMUCH +ISSUES" "$(head -1 "$NMS_OUT")"
# notmuch: only m1 still has a file where notmuch says (m2, m3 misfiled, m4 renamed, m5 gone).
check_match "check: INBOX counts (server 6, local 5 files in cur/ and new/, notmuch 1)" \
    "test/INBOX +6 +5 +1 +[0-9]+" "$(cat "$NMS_OUT")"
check_eq "check: misfiled" "$(printf '%s\n' "$d/${f2##*/}" "$d/stray/${f3##*/}" | sort)" "$(rows misfiled)"
check_eq "check: empty" "$empty" "$(rows empty)"
check_eq "check: tmp-old (not the young one)" "$(printf '%s\n' "$tmp_empty" "$tmp_full" | sort)" "$(rows tmp-old)"
check_eq "check: duplicate-uid (both files)" "$(printf '%s\n' "$f1" "$dup" | sort)" "$(rows duplicate-uid)"
check_eq "check: bad-name" "$bad" "$(rows bad-name)"
check_eq "check: notmuch-stale (m2, m3: reported as misfiled)" "$(printf '%s\n' "$f4" "$f5" | sort)" "$(rows notmuch-stale)"
check_match "check: state-gone names m5's uid" "^test/INBOX +state-gone +uid=5 " "$(cat "$NMS_OUT")"
check_eq "check: server-only (misfiled messages count as local)" \
    "$(printf '%s\n' m5@nmsync.test s1@nmsync.test)" "$(rows server-only)"
check_eq "check: local-only (the bad name is not read)" "x1@nmsync.test" "$(rows local-only)"

loc0=$(local_state)
nm_files () { notmuch search --output=files '*' | sort; }
nm0=$(nm_files)
srv0=$(server_state)
nmsync_run -n check --fix
check_eq "-n --fix: exit 1" 1 "$NMS_RC"
check_eq "-n --fix: the Maildir unchanged" "$loc0" "$(local_state)"
check_eq "-n --fix: notmuch unchanged" "$nm0" "$(nm_files)"
check_eq "-n --fix: the server unchanged" "$srv0" "$(server_state)"
check_match "-n --fix: would refile" "test/INBOX would-fix refile $d/${f2##*/} -> $d/cur/${f2##*/}" "$(cat "$NMS_OUT")"
check_eq "-n --fix: four kinds of repair, five in all" 5 "$(grep -c ' would-fix ' "$NMS_OUT")"

nmsync_run check --fix
check_eq "--fix: exit 1 (what it may not repair is left)" 1 "$NMS_RC"
check_eq "--fix: five repairs" 5 "$(grep -c ' fixed ' "$NMS_OUT")"
check "--fix: m2 back in cur/" test -f "$d/cur/${f2##*/}"
check "--fix: m3 back in cur/" test -f "$d/cur/${f3##*/}"
check "--fix: the empty old tmp/ file removed" test ! -e "$tmp_empty"
check "--fix: the non-empty old tmp/ file kept" test -s "$tmp_full"
check "--fix: the young tmp/ file kept" test -e "$tmp_young"
check "--fix: the empty message file kept" test -e "$empty"
check "--fix: the bad name kept" test -e "$bad"
check "--fix: m1 keeps its ,U=1" test -f "$f1"
check_eq "--fix: x1 lost the duplicate ,U=" "$d/cur/1700000104.M1P1.host:2,S" \
    "$(grep -l '<x1@' "$d"/cur/*)"
check_eq "--fix: notmuch names m4's file as it is now" "$f4new" \
    "$(notmuch search --output=files id:m4@nmsync.test)"
check_eq "--fix: notmuch names m2's file in cur/" "$d/cur/${f2##*/}" \
    "$(notmuch search --output=files id:m2@nmsync.test)"
check_eq "--fix: the server unchanged" "$srv0" "$(server_state)"

nmsync_run check
for k in misfiled duplicate-uid; do
    check_eq "check after --fix: no $k" "" "$(rows $k)"
done
check_eq "check after --fix: notmuch-stale only m5's (no file to point at)" "$f5" "$(rows notmuch-stale)"
check_eq "check after --fix: only the non-empty tmp/ file left" "$tmp_full" "$(rows tmp-old)"

# What only the user may decide: the empty file, the bad name, the old tmp/ file, m5's file.
rm -f "$empty" "$bad" "$tmp_full" "$tmp_young"
mv "$src/f5.saved" "$f5"
nmsync_run sync
check_eq "sync after --fix: exit 0" 0 "$NMS_RC"
nmsync_run check
check_eq "check after the sync: exit 0" 0 "$NMS_RC"
check_eq "check after the sync: no issue rows" "" "$(awk 'NR > 1 && $2 !~ /^[0-9-]+$/' "$NMS_OUT")"
check_match "check after the sync: INBOX counts agree" "test/INBOX +7 +7 +7 +0" "$(cat "$NMS_OUT")"
collect_sides
ids_srv=$(printf '%s\n' "$SRV" | awk 'NF { print $NF }' | sort)
check_eq "server: every Message-ID once" "" "$(printf '%s\n' "$ids_srv" | uniq -d)"
check_eq "server: m1..m5, s1 and x1" \
    "$(printf '<%s@nmsync.test>\n' m1 m2 m3 m4 m5 s1 x1 | sort)" "$ids_srv"
check_eq "local: no duplicate ,U=" "" "$(dup_uids INBOX)"
check_eq "local: seven files" 7 "$(local_count INBOX)"

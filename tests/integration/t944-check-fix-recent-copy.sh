#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync check --fix` refiles a misfiled message only when it is safe: not one another
# program may still be writing (modified in the last hour: "recent: left"), and not a byte
# copy of a message already in cur/ or new/ (the next sync would upload it as a duplicate:
# "copy of ...: left"). An old, distinct misfiled message is still refiled. The sync after it
# uploads exactly that message: no truncated message and no Message-ID twice on the server.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 o1 w1; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src"/m{1,2,3}
nmsync_setup_dovecot
nmsync_notmuch
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
d=$NMS_MAILDIR
f1=$(local_file INBOX 1)
check "m1 synced" test -n "$f1"

old="$d/1700000200.M1P1.host"; cp "$src/o1" "$old"; touch -d '2 hours ago' "$old"
copy="$d/saved-by-user.eml"; cp "$f1" "$copy"; touch -d '2 hours ago' "$copy"
partial="$d/1700000201.M1P1.writer"; head -c 120 "$src/w1" >"$partial"   # being written
check "the partial file looks like mail (a header)" grep -q '^From:' "$partial"

nmsync_run check
check_eq "check: exit 1" 1 "$NMS_RC"
check_match "check: the recent file is reported as left" \
    "test/INBOX +misfiled +$partial \(recent: left\)" "$(cat "$NMS_OUT")"
check_match "check: the copy is reported as a copy, left" \
    "test/INBOX +misfiled +$copy \(copy of $f1: left\)" "$(cat "$NMS_OUT")"
nmsync_run -n check --fix
check_eq "-n --fix: one refile (the old distinct message)" \
    "test/INBOX would-fix refile $old -> $d/new/${old##*/}" "$(grep ' would-fix ' "$NMS_OUT")"

nmsync_run check --fix
check_eq "--fix: one repair" 1 "$(grep -c ' fixed ' "$NMS_OUT")"
check "--fix: the old message refiled into new/" test -f "$d/new/${old##*/}"
check "--fix: the recent file left in place" test -f "$partial"
check "--fix: the copy left in place" test -f "$copy"
check_eq "--fix: nothing else entered cur/ or new/" 4 "$(local_count INBOX)"

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
collect_sides
ids_srv=$(printf '%s\n' "$SRV" | awk 'NF { print $NF }' | sort)
check_eq "server: every Message-ID once" "" "$(printf '%s\n' "$ids_srv" | uniq -d)"
check_eq "server: m1..m3 and o1 (no partial w1, no second m1)" \
    "$(printf '<%s@nmsync.test>\n' m1 m2 m3 o1 | sort)" "$ids_srv"
check_eq "local: the partial file still where its writer put it" 120 "$(stat -c %s "$partial")"

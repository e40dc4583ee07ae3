#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Indexing overlaps downloading: a scripted server delivers folder A, then pauses before it
# sends folder B's messages. While nmsync waits for B, A's messages are already searchable in
# notmuch (committed by the writer thread, not at the end of the account); at the end both
# folders are indexed and `notmuch new` finds nothing to add. With the database locked by another
# writer the whole time, the sync still completes, the failure is said once, and `notmuch new`
# indexes the files afterwards.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

PAUSE=12
dir=$(tap_tmpdir)

# body UID NAME: the FETCH reply lines that deliver message UID of folder NAME whole.
body () {
    local text="Message-ID: <$2-$1@t752.test>"$'\r\n'"Subject: $2 $1"$'\r\n\r\nbody\r\n'
    echo "  * $1 FETCH (UID $1 BODY[] {${#text}}"
    echo "  raw:Message-ID: <$2-$1@t752.test>\\r\\nSubject: $2 $1\\r\\n\\r\\nbody\\r\\n"
    echo '  )'
}

{
    echo 'greeting * PREAUTH fake ready'
    echo 'on EXAMINE'
    echo '  * 5 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 100] x'
    echo '  $TAG OK [READ-ONLY] done'
    echo 'on LIST'
    echo '  * LIST () "/" "A"'
    echo '  * LIST () "/" "B"'
    echo '  $TAG OK done'
    # A holds UIDs 1-5, B 11-15.
    echo 'on once UID FETCH 1:*'
    for uid in 1 2 3 4 5; do echo "  * $uid FETCH (UID $uid FLAGS () RFC822.SIZE 50)"; done
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    for uid in 11 12 13 14 15; do echo "  * $uid FETCH (UID $uid FLAGS () RFC822.SIZE 50)"; done
    echo '  $TAG OK done'
    echo 'on UID FETCH 11'
    echo "  sleep $PAUSE"
    for uid in 11 12 13 14 15; do body "$uid" b; done
    echo '  $TAG OK done'
    echo 'on UID FETCH 1'
    for uid in 1 2 3 4 5; do body "$uid" a; done
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/script"

fakeimap_start "$dir/script" --timeout 60
nmsync_setup <<EOF2
host = 127.0.0.1
port = $FAKEIMAP_PORT
tls = none
user = u
password = p
# fakeimap serves one connection
connections = 1
EOF2
nmsync_notmuch

count_is () { [ "$(notmuch count "$1" 2>/dev/null)" = "$2" ]; }

timeout 120 "$NMSYNC" -c "$NMS_CONFIG" -v pull </dev/null >"$dir/out" 2>"$dir/err" &
pid=$!
at_exit tap_kill "$pid"
if wait_for "folder A indexed" "$PAUSE" count_is folder:.A 5; then
    seen_a=yes
else
    seen_a=no
fi
running=no
kill -0 "$pid" 2>/dev/null && running=yes
b_then=$(notmuch count folder:.B 2>/dev/null)
check_eq "folder A is searchable while nmsync waits for folder B" yes "$seen_a"
check_eq "nmsync was still downloading then" yes "$running"
check_eq "folder B was not there yet" 0 "$b_then"
check "folder B's fetch was sent (nmsync is paused in B)" grep -q 'UID FETCH 11:15' "$dir/script.log"

wait "$pid"
rc=$?
check_eq "pull: exit 0" 0 "$rc"
check "fakeimap ended cleanly" fakeimap_wait 10
check_eq "all of A indexed" 5 "$(notmuch count folder:.A)"
check_eq "all of B indexed" 5 "$(notmuch count folder:.B)"
check_eq "by their Message-IDs too" 2 "$(notmuch count id:a-1@t752.test or id:b-15@t752.test)"
check_match "-v: the writer reports what it indexed" "notmuch: 10 added" "$(cat "$dir/err")"
check_match "notmuch new finds nothing new" "No new mail" "$(notmuch new 2>&1)"

# --- The database locked by another writer the whole time: the sync completes, the writer gives
# up after its bounded wait and says so once, the files are in place and `notmuch new` indexes
# them. `notmuch tag --batch` holds the write lock until its input ends.
{
    echo 'greeting * PREAUTH fake ready'
    echo 'on EXAMINE'
    echo '  * 5 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 100] x'
    echo '  $TAG OK [READ-ONLY] done'
    echo 'on LIST'
    echo '  * LIST () "/" "C"'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    for uid in 1 2 3; do echo "  * $uid FETCH (UID $uid FLAGS () RFC822.SIZE 50)"; done
    echo '  $TAG OK done'
    echo 'on UID FETCH 1'
    for uid in 1 2 3; do body "$uid" c; done
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/locked"
fakeimap_start "$dir/locked" --timeout 60
sed -i "s|^port = .*|port = $FAKEIMAP_PORT|" "$NMS_CONFIG"
mkfifo "$dir/tag-input"
notmuch tag --batch <"$dir/tag-input" &
tag_pid=$!
at_exit tap_kill "$tag_pid"
exec 7>"$dir/tag-input"
nmsync_run pull
exec 7>&-
wait "$tag_pid"
check_eq "database locked: exit 1" 1 "$NMS_RC"
check_match "database locked: said once, with what to do" \
    "notmuch: notmuch database .* is locked by another process.*'notmuch new' will index them" \
    "$(cat "$NMS_ERR")"
check_eq "database locked: said once" 1 "$(grep -c 'locked by another process' "$NMS_ERR")"
check_eq "database locked: the messages arrived" 3 "$(local_count C)"
check_eq "database locked: nothing of C indexed" 0 "$(notmuch count folder:.C)"
notmuch new >/dev/null 2>&1
check_eq "database locked: notmuch new indexes them afterwards" 3 "$(notmuch count folder:.C)"

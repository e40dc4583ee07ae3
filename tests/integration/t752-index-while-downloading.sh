#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Indexing overlaps downloading: a scripted server delivers folder A, then pauses before it
# sends folder B's messages. While nmsync waits for B, A's messages are already searchable in
# notmuch (committed by the writer thread, not at the end of the account); at the end both
# folders are indexed and `notmuch new` finds nothing to add.
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

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# What Dovecot will not do on demand, from a scripted server: LIST-STATUS refused (nmsync falls
# back to LIST and pipelined STATUS), a STATUS refused for one folder (that folder is synced
# the full way), and a QRESYNC reply with a hostile VANISHED range (1,5:4294967295): only the
# known messages in it are deleted, nothing is expanded, the changed flags arrive.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dir=$(tap_tmpdir)

common () {
    echo 'greeting * PREAUTH fake ready'
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 ENABLE UIDPLUS LIST-EXTENDED LIST-STATUS CONDSTORE QRESYNC'
    echo '  $TAG OK done'
    echo 'on ENABLE QRESYNC'
    echo '  * ENABLED QRESYNC'
    echo '  $TAG OK enabled'
    echo 'on LIST "" "*" RETURN'
    echo '  $TAG NO [CANNOT] not today'
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  * LIST () "/" "B"'
    echo '  $TAG OK done'
    echo 'on STATUS "INBOX" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)'
    echo "  * STATUS \"INBOX\" (UIDVALIDITY 7 UIDNEXT 3 MESSAGES $1 HIGHESTMODSEQ $2)"
    echo '  $TAG OK done'
    echo 'on STATUS "B"'
    echo '  $TAG NO [NONEXISTENT] gone meanwhile'
    echo 'on SELECT B'
    echo '  * 0 EXISTS'
    echo '  * OK [UIDVALIDITY 8] x'
    echo '  * OK [UIDNEXT 1] x'
    echo '  $TAG OK [READ-WRITE] done'
}

body () {
    local text="Subject: message $1"$'\r\n\r\nbody\r\n'
    echo "  * $1 FETCH (UID $1 BODY[] {${#text}}"
    echo "  raw:Subject: message $1\\r\\n\\r\\nbody\\r\\n"
    echo '  )'
}

# --- 1. the first sync: the full path, after the fallbacks ---------------------------------
{
    common 2 10
    echo 'on SELECT INBOX'
    echo '  * 2 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 3] x'
    echo '  $TAG OK [READ-WRITE] done'
    echo 'on UID FETCH 1:* (UID FLAGS)'
    echo '  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 30)'
    echo '  * 2 FETCH (UID 2 FLAGS (\Seen) RFC822.SIZE 30)'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:2 (UID BODY.PEEK[])'
    body 1
    body 2
    echo '  $TAG OK done'
    echo 'on LOGOUT'
    echo '  * BYE'
    echo '  $TAG OK bye'
} >"$dir/first"
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/first")
EOF2
nmsync_run sync
check_eq "LIST-STATUS refused: exit 0" 0 "$NMS_RC"
check_eq "LIST-STATUS refused: LIST-STATUS, LIST, then one STATUS per folder" \
    'LIST "" "*" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ))
LIST "" "*"
STATUS "INBOX" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)
STATUS "B" (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ)' \
    "$(sed -n 's/^C: [^ ]* \(LIST\|STATUS\)/\1/p' "$dir/first.log")"
check "both messages arrived" test -n "$(local_file INBOX 1)" -a -n "$(local_file INBOX 2)"
check "the folder whose STATUS was refused is synced all the same" test -d "$(local_dir B)/cur"
check_eq "the complete folder's modseq is recorded" 10 \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT highestmodseq FROM folders WHERE name = 'INBOX'")"
check_eq "the folder without STATUS has none" 0 \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT highestmodseq FROM folders WHERE name = 'B'")"

# --- 2. QRESYNC with a hostile VANISHED range ---------------------------------------------
{
    common 1 12
    echo 'on SELECT "INBOX" (QRESYNC (7 10))'
    echo '  * 1 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 3] x'
    echo '  * OK [HIGHESTMODSEQ 12] x'
    echo '  * VANISHED (EARLIER) 1,5:4294967295'
    echo '  * 1 FETCH (UID 2 FLAGS (\Seen \Flagged) MODSEQ (12))'
    echo '  $TAG OK [READ-WRITE] done'
    echo 'on LOGOUT'
    echo '  * BYE'
    echo '  $TAG OK bye'
} >"$dir/second"
sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/second")|" "$NMS_CONFIG"
nmsync_run sync
check_eq "QRESYNC: exit 0" 0 "$NMS_RC"
check_eq "QRESYNC: the last sync's UIDVALIDITY and modseq are sent" 1 \
    "$(grep -c 'SELECT "INBOX" (QRESYNC (7 10))' "$dir/second.log")"
check_eq "QRESYNC: no flag list is fetched" 0 "$(grep -c 'UID FETCH' "$dir/second.log")"
check_eq "QRESYNC: the vanished message is deleted locally" "" "$(local_file INBOX 1)"
check_eq "QRESYNC: the changed flags arrive" FS "$(local_flags INBOX 2)"
check_eq "QRESYNC: every command matched the script" "" \
    "$(grep -h 'unmatched' "$NMS_ERR" "$dir"/*.log 2>/dev/null)"

# --- 3. LIST-STATUS with hostile names: refused and named as with a plain LIST --------------
{
    echo 'greeting * PREAUTH fake ready'
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 UIDPLUS LIST-EXTENDED LIST-STATUS CONDSTORE SPECIAL-USE'
    echo '  $TAG OK done'
    echo 'on LIST "" "*" RETURN (SPECIAL-USE STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ))'
    echo '  * LIST (\Junk) "/" "Good"'
    echo '  * STATUS "Good" (UIDVALIDITY 9 UIDNEXT 1 MESSAGES 0 HIGHESTMODSEQ 4)'
    echo '  * LIST () "/" ".."'
    echo '  * STATUS ".." (UIDVALIDITY 9 UIDNEXT 1 MESSAGES 0 HIGHESTMODSEQ 4)'
    echo '  * LIST () "/" {7}'
    echo '  raw:bad\x00nam'
    echo '  send:'
    echo '  * STATUS "Unlisted" (UIDVALIDITY 9 UIDNEXT 1 MESSAGES 0 HIGHESTMODSEQ 4)'
    echo '  $TAG OK done'
    echo 'on SELECT Good'
    echo '  * 0 EXISTS'
    echo '  * OK [UIDVALIDITY 9] x'
    echo '  * OK [UIDNEXT 1] x'
    echo '  $TAG OK [READ-WRITE] done'
    echo 'on LOGOUT'
    echo '  * BYE'
    echo '  $TAG OK bye'
} >"$dir/hostile"
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/hostile")
EOF2
nmsync_run sync
check_eq "hostile LIST-STATUS: exit 1 (folders skipped)" 1 "$NMS_RC"
check_match "hostile LIST-STATUS: '..' is refused and named" "folder.*'\.\.'" "$(cat "$NMS_ERR")"
check_match "hostile LIST-STATUS: the NUL byte is named" "folder 'bad'.*NUL byte" "$(cat "$NMS_ERR")"
check "hostile LIST-STATUS: the good folder is synced" test -d "$(local_dir Good)/cur"
check_eq "hostile LIST-STATUS: only the good folder is in the state" "Good" \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT name FROM folders ORDER BY name" | paste -sd' ')"
check_eq "hostile LIST-STATUS: the special-use role is kept" '\Junk|Good' \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT role, folder FROM roles")"
check_eq "hostile LIST-STATUS: every command matched the script" 0 \
    "$(grep -c 'unmatched' "$NMS_ERR")"

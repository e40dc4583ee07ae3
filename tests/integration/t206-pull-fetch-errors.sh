#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Faults while fetching, from a scripted server: a NO for some messages (they are skipped,
# named, and fetched on the next run), a connection lost in the middle of a literal (that
# folder fails cleanly, the next folder is pulled over a new connection, the state stays
# valid), and a server that stops answering (bounded by the configured timeout).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dir=$(tap_tmpdir)

# body UID: the FETCH reply lines that deliver message UID whole.
body () {
    local text="Subject: message $1"$'\r\n\r\nbody\r\n'
    echo "  * 1 FETCH (UID $1 BODY[] {${#text}}"
    echo "  raw:Subject: message $1\\r\\n\\r\\nbody\\r\\n"
    echo '  )'
}

examine () {
    echo 'greeting * PREAUTH fake ready'
    echo 'on EXAMINE'
    echo "  * $1 EXISTS"
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 9] x'
    echo '  $TAG OK [READ-ONLY] done'
}

# --- 1. NO on FETCH for one message of three --------------------------------------------
{
    examine 3
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    for uid in 1 2 3; do echo "  * $uid FETCH (UID $uid FLAGS (\\Seen) RFC822.SIZE 30)"; done
    echo '  $TAG OK done'
    echo 'on UID FETCH'
    body 1
    body 3
    echo '  $TAG NO Some messages could not be FETCHed (UID 2)'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/no"
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/no")
EOF2
nmsync_run pull
check_eq "NO on FETCH: exit status 1" 1 "$NMS_RC"
check_match "NO on FETCH: the message is named" \
    "folder 'INBOX': message UID 2 could not be fetched" "$(cat "$NMS_ERR")"
check "NO on FETCH: UID 1 arrived" test -n "$(local_file INBOX 1)"
check "NO on FETCH: UID 3 arrived" test -n "$(local_file INBOX 3)"
check_eq "NO on FETCH: UID 2 is not there" "" "$(local_file INBOX 2)"
check "NO on FETCH: no file left in tmp/" no_tmp_leftovers

{
    examine 3
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    for uid in 1 2 3; do echo "  * $uid FETCH (UID $uid FLAGS (\\Seen) RFC822.SIZE 30)"; done
    echo '  $TAG OK done'
    echo 'on UID FETCH 2 ('
    body 2
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/no-retry"
sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/no-retry")|" "$NMS_CONFIG"
nmsync_run pull
check_eq "next run: exit 0" 0 "$NMS_RC"
check_eq "next run: the skipped message arrives" "Subject: message 2" "$(head -n 1 "$(local_file INBOX 2)")"
check_eq "next run: only UID 2 was asked for" "1" "$(grep -c 'BODY.PEEK\[\]' "$dir/no-retry.log")"

# --- 2. Connection lost in the middle of a literal -----------------------------------------
# Folders in LIST order: Fine (UID 7), Broken (UID 5: the literal stops after 10 of 1000
# bytes and the server hangs up), After (pulled over a new connection: a new script run, so
# its first UID FETCH 1:* answers UID 7 again).
{
    examine 1
    echo 'on LIST'
    echo '  * LIST () "/" "Fine"'
    echo '  * LIST () "/" "Broken"'
    echo '  * LIST () "/" "After"'
    echo '  $TAG OK done'
    echo 'on once UID FETCH 1:*'
    echo '  * 1 FETCH (UID 7 FLAGS (\Seen) RFC822.SIZE 30)'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    echo '  * 1 FETCH (UID 5 FLAGS (\Seen) RFC822.SIZE 1000)'
    echo '  $TAG OK done'
    echo 'on UID FETCH 7 ('
    body 7
    echo '  $TAG OK done'
    echo 'on UID FETCH 5 ('
    echo '  * 1 FETCH (UID 5 BODY[] {1000}'
    echo '  raw:Subject: p'
    echo '  close'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/cut"
# One connection: the script answers by order ("once" is per connection), so the folders must
# come one after another over one connection, and "reconnected" means what it says.
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/cut")
timeout = 5
connections = 1
EOF2
start=$(date +%s)
nmsync_run pull
check_eq "lost connection: exit status 1" 1 "$NMS_RC"
check "lost connection: returns at once, no spinning (under 5 s)" test $(($(date +%s) - start)) -lt 5
check_match "lost connection: the folder or message is named" \
    "folder 'Broken'(: message UID 5 could not be fetched| skipped): .*(lost|closed)" \
    "$(cat "$NMS_ERR")"
check "lost connection: the folder before it arrived" test -n "$(local_file Fine 7)"
check "lost connection: the folder after it arrived (reconnected)" test -n "$(local_file After 7)"
check_eq "lost connection: no partial message in cur/ or new/" 0 "$(local_count Broken)"
check "lost connection: no file left in tmp/" no_tmp_leftovers

{
    examine 1
    echo 'on LIST'
    echo '  * LIST () "/" "Fine"'
    echo '  * LIST () "/" "Broken"'
    echo '  * LIST () "/" "After"'
    echo '  $TAG OK done'
    echo 'on UID FETCH 1:*'
    echo '  * 1 FETCH (UID 5 FLAGS (\Seen) RFC822.SIZE 30)'
    echo '  $TAG OK done'
    echo 'on UID FETCH 5 ('
    body 5
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/cut-retry"
sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/cut-retry")|" "$NMS_CONFIG"
nmsync_run pull test/Broken
check_eq "after the lost connection: exit 0" 0 "$NMS_RC"
check_eq "after the lost connection: the message arrives whole" "Subject: message 5" \
    "$(head -n 1 "$(local_file Broken 5)")"
check_eq "after the lost connection: exactly one copy" 1 "$(local_count Broken)"

# --- 3. A server that stops answering ------------------------------------------------------
{
    echo 'greeting * PREAUTH fake ready'
    echo 'on LIST'
    echo '  * LIST () "/" "Slow"'
    echo '  $TAG OK done'
    echo 'on EXAMINE'
    echo '  sleep 30'
    echo 'on *'
    echo '  $TAG OK done'
} > "$dir/slow"
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/slow")
timeout = 2
EOF2
start=$(date +%s)
nmsync_run pull
elapsed=$(($(date +%s) - start))
check_eq "silent server: exit status 1" 1 "$NMS_RC"
check "silent server: gives up after the timeout (2 s), not 30 s" test "$elapsed" -lt 12
check_match "silent server: the folder is named" "folder 'Slow' skipped" "$(cat "$NMS_ERR")"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# COMPRESS=DEFLATE against a scripted server (fakeimap, deflating after its OK): a good
# compressed session (untagged data right behind the OK included) delivers byte for byte and
# the server read every command; NO or BAD to COMPRESS leave the session uncompressed and
# working; garbage instead of deflate data, a deflate stream cut short before the server
# closes, and an endless run of empty deflate blocks each end the run with exit 1 or 3, an
# error that names the server and what broke, within the timeout, and no file in cur/ or new/.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dir=$(tap_tmpdir)
body="Subject: compressed message"$'\r\n\r\n'"body line one"$'\r\n'"body line two"$'\r\n'

# script COMPRESS-ACTIONS...: a server offering COMPRESS=DEFLATE with one message in INBOX,
# whose reply to COMPRESS DEFLATE is the given action lines.
script () {
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 UIDPLUS COMPRESS=DEFLATE'
    echo '  $TAG OK done'
    echo 'on LOGIN'
    echo '  $TAG OK logged in'
    echo 'on COMPRESS DEFLATE'
    printf '  %s\n' "$@"
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    echo 'on EXAMINE'
    echo '  * 1 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 2] x'
    echo '  $TAG OK [READ-ONLY] done'
    echo 'on UID FETCH 1:*'
    echo "  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE ${#body})"
    echo '  $TAG OK done'
    echo 'on UID FETCH'
    echo "  * 1 FETCH (UID 1 BODY[] {${#body}}"
    echo '  raw:Subject: compressed message\r\n\r\nbody line one\r\nbody line two\r\n'
    echo '  )'
    echo '  $TAG OK done'
    echo 'on NOOP'
    echo '  $TAG OK done'
    echo 'on LOGOUT'
    echo '  * BYE'
    echo '  $TAG OK'
}

# run NAME: pulls from the script in $dir/NAME over TCP with compress = yes, timeout 5 s.
run () {
    fakeimap_start "$dir/$1" --timeout 20
    nmsync_setup <<EOF2
host = 127.0.0.1
port = $FAKEIMAP_PORT
tls = none
user = u
password = p
compress = yes
timeout = 5
EOF2
    start=$(date +%s)
    nmsync_run -v pull
    took=$(($(date +%s) - start))
    fakeimap_wait 10
    fake_rc=$?
}

# broken WHAT: the checks after a run that must fail cleanly.
broken () {
    check_match "$1: exit 1 or 3" '^[13]$' "$NMS_RC"
    check_match "$1: the error names the server and the compressed connection" \
        "compressed connection to '127.0.0.1' broke" "$(cat "$NMS_ERR")"
    check "$1: over within the timeout (took ${took}s)" test "$took" -le 10
    check_eq "$1: no message file in cur/ or new/" 0 \
        "$(find "$NMS_MAILDIR" \( -path '*/cur/*' -o -path '*/new/*' \) -type f | wc -l)"
    check "$1: no file left in tmp/" no_tmp_leftovers
}

# --- a good compressed session ---------------------------------------------------------
# The untagged line is deflated behind the OK, in the same write: nmsync reads it with the OK,
# so it must hand those bytes to the inflater instead of reading them as plain text.
script '$TAG OK begin compression' deflate '* OK still here, compressed' > "$dir/good"
run good
check_eq "good: exit 0" 0 "$NMS_RC"
check_match "good: -v says the session is compressed" "session compressed" "$(cat "$NMS_OUT" "$NMS_ERR")"
check_eq "good: the message arrived byte for byte (CRLF stored as LF)" \
    "$(printf '%s' "$body" | tr -d '\r' | sha256sum)" "$(sha256sum <"$(local_file INBOX 1)")"
check_eq "good: fakeimap read every command (none unmatched)" 0 "$fake_rc"
check_match "good: the server inflated the commands after COMPRESS" \
    'C: [^ ]+ UID FETCH 1 \(UID BODY.PEEK\[\]\)' "$(cat "$dir/good.log")"
check_match "good: and LOGOUT" 'C: [^ ]+ LOGOUT' "$(cat "$dir/good.log")"

# --- NO and BAD leave the session uncompressed ---------------------------------------------
for reply in NO BAD; do
    script "\$TAG $reply not today" > "$dir/refused-$reply"
    run "refused-$reply"
    check_eq "$reply to COMPRESS: exit 0" 0 "$NMS_RC"
    check_eq "$reply to COMPRESS: the message arrived" "Subject: compressed message" \
        "$(head -n 1 "$(local_file INBOX 1)")"
    check_eq "$reply to COMPRESS: -v does not claim compression" "" \
        "$(grep 'session compressed' "$NMS_OUT" "$NMS_ERR")"
    check_eq "$reply to COMPRESS: every command matched" 0 "$fake_rc"
done

# --- garbage instead of deflate data ---------------------------------------------------
script '$TAG OK begin compression' 'raw:this is not deflate data, it is plain text\r\n' \
    > "$dir/garbage"
run garbage
broken "garbage"
check_match "garbage: says the data is corrupt" "corrupt compressed data" "$(cat "$NMS_ERR")"

# --- a deflate stream cut short in the middle of a body, then the server closes ------------
script '$TAG OK begin compression' deflate > "$dir/cut"
sed -i '/^on UID FETCH$/,$d' "$dir/cut"
{
    echo 'on UID FETCH'
    echo "  cut:* 1 FETCH (UID 1 BODY[] {${#body}}\\r\\nSubject: compressed message\\r\\n\\r\\nbody line one\\r\\nbody line two\\r\\n)\\r\\n\$TAG OK done\\r\\n"
    echo '  close'
} >> "$dir/cut"
run cut
check_match "cut: exit 1 or 3" '^[13]$' "$NMS_RC"
check_match "cut: the error names the server" "'127.0.0.1'" "$(cat "$NMS_ERR")"
check "cut: over within the timeout (took ${took}s)" test "$took" -le 10
check_eq "cut: no message file in cur/ or new/" 0 \
    "$(find "$NMS_MAILDIR" \( -path '*/cur/*' -o -path '*/new/*' \) -type f | wc -l)"
check "cut: no file left in tmp/" no_tmp_leftovers

# --- empty stored blocks forever (each is 5 valid bytes that inflate to nothing) ----------
# 1.5 MB of them, sent raw right after the OK: nmsync gives up after 1 MiB instead of reading
# on until the server tires.
script '$TAG OK begin compression' 'repeat 300000 \x00\x00\x00\xff\xff' > "$dir/barren"
run barren
broken "barren"
check_match "barren: says why" "decompresses to nothing" "$(cat "$NMS_ERR")"

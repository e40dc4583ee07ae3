#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Hostile folder names from a scripted server (Dovecot refuses to create them): each one is
# refused and named, nothing is written outside the Maildir root, the good folders are pulled,
# exit status 1. Both layouts.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

script=$(tap_tmpdir)/server
msg=$'Subject: good\r\n\r\nhello\r\n'
{
    echo 'greeting * PREAUTH fake ready'
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  * LIST () "/" ".."'
    echo '  * LIST () "/" "../escape"'
    echo '  * LIST () "/" "a/../../escape2"'
    echo '  * LIST () "/" "/abs"'
    echo '  * LIST () "/" "a//b"'
    echo '  * LIST () "/" "bad&-utf7&Jjo"'
    echo '  * LIST () "/" {9}'
    echo '  raw:ctl\x01\x1bname'
    echo '  send:'
    echo '  * LIST () "/" "Good"'
    echo '  * LIST (\Noselect) "/" "Parent"'
    echo '  $TAG OK done'
    echo 'on EXAMINE'
    echo '  * 1 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 2] x'
    echo '  $TAG OK [READ-ONLY] done'
    echo 'on UID FETCH 1:*'
    echo "  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE ${#msg})"
    echo '  $TAG OK done'
    echo 'on UID FETCH'
    echo "  * 1 FETCH (UID 1 BODY[] {${#msg}}"
    echo '  raw:Subject: good\r\n\r\nhello\r\n'
    echo '  )'
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$script"

for layout in maildir++ verbatim; do
    nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$script")
layout = $layout
EOF2
    marker="$NMS_HOME/.marker"
    touch "$marker"
    sleep 1.1 # find -newer compares mtimes; keep the setup files older than the marker
    nmsync_run pull
    check_eq "$layout: exit status 1 (folders skipped)" 1 "$NMS_RC"
    for name in "'\.\.'" "'\.\./escape'" "'a/\.\./\.\./escape2'" "'/abs'" "'a//b'" \
        "bad&-utf7&Jjo" "ctl"; do
        check_match "$layout: refused folder $name is named" "folder.*$name" "$(cat "$NMS_ERR")"
    done
    check_eq "$layout: nothing written outside the Maildir, the state and the logs" "" \
        "$(find "$TAP_ROOT" -newer "$marker" ! -path "$NMS_MAILDIR*" ! -path "$NMS_STATE*" \
            ! -path "$NMS_HOME/out.*" ! -path "$NMS_HOME/err.*" ! -path "$(dirname "$script")*" \
            ! -path "$NMS_HOME")"
    check "$layout: no raw control character reaches the terminal" \
        bash -c "! grep -q \$'[\\x01\\x1b]' '$NMS_ERR'"
    check "$layout: no 'escape' anywhere" test -z "$(find "$TAP_ROOT" -name 'escape*')"
    if [ "$layout" = verbatim ]; then
        good="$NMS_MAILDIR/Good"
        inbox="$NMS_MAILDIR/INBOX"
    else
        good="$NMS_MAILDIR/.Good"
        inbox="$NMS_MAILDIR"
    fi
    check "$layout: the good folder arrived" test "$(find "$good/cur" -type f | wc -l)" -eq 1
    check "$layout: INBOX arrived" test "$(find "$inbox/cur" -type f | wc -l)" -eq 1
    check_eq "$layout: the message is byte-exact (CRLF stored as LF)" \
        "$(printf 'Subject: good\n\nhello\n')" "$(cat "$good"/cur/*)"
    check "$layout: a \\Noselect parent is not made a folder" \
        test ! -e "$NMS_MAILDIR/.Parent/cur" -a ! -e "$NMS_MAILDIR/Parent/cur"
done

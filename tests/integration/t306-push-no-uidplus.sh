#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A server without UIDPLUS: a local deletion is marked \Deleted on the server but never
# expunged (a plain EXPUNGE would also remove what other clients marked), and nmsync says so.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

script=$(tap_tmpdir)/server
text=$'Subject: m1\r\n\r\nbody\r\n'
size=${#text}
{
    echo 'greeting * PREAUTH fake ready'
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 MOVE'
    echo '  $TAG OK done'
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    echo 'on SELECT'
    echo '  * 2 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 3] x'
    echo '  $TAG OK [READ-WRITE] done'
    echo 'on UID FETCH 1:*'
    echo '  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE '"$size"')'
    echo '  * 2 FETCH (UID 2 FLAGS (\Seen) RFC822.SIZE '"$size"')'
    echo '  $TAG OK done'
    echo 'on UID FETCH'
    for uid in 1 2; do
        echo "  * $uid FETCH (UID $uid BODY[] {$size}"
        echo "  raw:Subject: m$uid\\r\\n\\r\\nbody\\r\\n"
        echo '  )'
    done
    echo '  $TAG OK done'
    echo 'on UID STORE'
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} > "$script"

nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$script")
EOF2
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "first sync: both messages arrived" 2 "$(local_count INBOX)"

rm "$(local_file INBOX 1)"
: > "$script.log"
nmsync_run sync
check_eq "local deletion without UIDPLUS: exit 1 (said, not done)" 1 "$NMS_RC"
check_match "local deletion without UIDPLUS: the reason is named" \
    "marked .Deleted on the server but not expunged: it lacks UIDPLUS" "$(cat "$NMS_ERR")"
check "the message is marked \\Deleted on the server" \
    grep -q 'UID STORE 1 +FLAGS.SILENT (\\Deleted)' "$script.log"
check "no EXPUNGE of any kind was sent" bash -c "! grep -qi 'EXPUNGE' '$script.log'"
check_eq "the other message is untouched locally" 1 "$(local_count INBOX)"

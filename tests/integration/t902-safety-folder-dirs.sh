#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A folder's local directory that is gone (or lost cur/), or was replaced by another directory
# under the same name, while the Maildir root is fine, is a folder event: named, never turned
# into server deletions (also below the per-folder guard's 10 messages); a recreated directory
# gets the folder's messages downloaded again. Checked on the server by UID and bytes.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 3
dovecot_seed Small 5
dovecot_seed --flags '\Seen' Big 12
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
srv=$(server_state)
small=$(local_dir Small)
big=$(local_dir Big)

# 1. The folder's directory is deleted locally (a script, a mail client's "delete folder").
rm -rf "$small"
for run in "-n sync" sync sync pull; do
    # shellcheck disable=SC2086
    nmsync_run $run
    check_eq "folder gone, $run: exit 1 (the folder is named as skipped)" 1 "$NMS_RC"
    check_match "folder gone, $run: says the directory is gone and nothing is deleted" \
        "folder 'Small' skipped: its local directory '$small' is gone.*nothing is deleted on the server" \
        "$(cat "$NMS_ERR")"
    check_eq "folder gone, $run: the server is unchanged" "$srv" "$(server_state)"
    check "folder gone, $run: the directory is not recreated behind the user's back" test ! -e "$small"
done

# 2. cur/ alone is lost.
mkdir -p "$small/new" "$small/tmp"
nmsync_run sync
check_eq "cur/ lost: exit 1" 1 "$NMS_RC"
check_eq "cur/ lost: the server is unchanged" "$srv" "$(server_state)"

# 3. The user creates the directory again: it is a new directory, so its messages come back.
mkdir -p "$small/cur"
dovecot_mark
nmsync_run sync
check_eq "recreated: exit 0" 0 "$NMS_RC"
check_match "recreated: says the directory was replaced" "'Small'.*replaced" "$(cat "$NMS_ERR")"
check_eq "recreated: the server is unchanged" "$srv" "$(server_state)"
check_eq "recreated: the 5 messages are downloaded again" 5 "$(bodies_since_mark)"
check_mirror Small
nmsync_run sync
check_eq "recreated, next sync: exit 0, quiet" "0:" "$NMS_RC:$(grep -i replaced "$NMS_ERR")"
check_eq "recreated, next sync: the server is unchanged" "$srv" "$(server_state)"

# 4. Big replaced by a directory holding only half of its files (a restore from an old
#    backup, a tool that rewrote the folder): the missing half is not deleted on the server.
mv "$big" "$NMS_HOME/big-old"
mkdir -p "$big/cur" "$big/new" "$big/tmp"
find "$NMS_HOME/big-old/cur" -type f | sort | head -n 6 | xargs -I{} cp -p {} "$big/cur/"
nmsync_run -n sync
check_eq "replaced with half: -n exit 0" 0 "$NMS_RC"
check_eq "replaced with half: -n plans no server deletion" "" \
    "$(grep 'would delete on the server' "$NMS_ERR")"
check_eq "replaced with half: -n plans 6 downloads" 6 "$(grep -c 'Big: would download' "$NMS_ERR")"
nmsync_run sync
check_eq "replaced with half: exit 0" 0 "$NMS_RC"
check_eq "replaced with half: the server is unchanged" "$srv" "$(server_state)"
check_mirror Big

# 5. A replaced directory whose re-download is cut short (a message the server cannot deliver
#    now): it stays "replaced" until every message is back, so the one that failed is fetched
#    later, never deleted on the server. Also a push meanwhile does not make it look deleted.
srv=$(server_state)
mv "$small" "$NMS_HOME/small-old"
mkdir -p "$small/cur" "$small/new" "$small/tmp"
broken=$(server_file Small 3)
chmod 000 "$broken"
nmsync_run sync
check_eq "replaced, one message undeliverable: exit 1" 1 "$NMS_RC"
check_eq "replaced, one message undeliverable: 4 of 5 back" 4 "$(local_count Small)"
chmod 644 "$broken"
nmsync_run push
check_eq "replaced, then push: exit 0" 0 "$NMS_RC"
nmsync_run -n sync
check_eq "replaced, then -n sync: no server deletion planned" "" \
    "$(grep 'Small: would delete on the server' "$NMS_ERR")"
nmsync_run sync
check_eq "replaced, then sync: exit 0" 0 "$NMS_RC"
check_eq "replaced, then sync: the server still has all 5" 5 "$(imap_count Small)"
check_eq "replaced, then sync: the server is unchanged" "$srv" "$(server_state)"
check_mirror Small

# 6. A directory deleted and created again that gets its old inode number back (ext4 hands
#    freed inodes out again): its birth time still tells it apart.
old_ino=$(stat -c %i "$big")
mkdir -p "$NMS_HOME/bk/cur"
find "$big/cur" -type f | sort | head -n 6 | xargs -I{} cp -p {} "$NMS_HOME/bk/cur/"
rm -rf "$big"
got=""
for i in $(seq 1 1000); do
    mkdir "$NMS_MAILDIR/.d$i"
    if [ "$(stat -c %i "$NMS_MAILDIR/.d$i")" = "$old_ino" ]; then got=$i; break; fi
done
if [ -n "$got" ]; then
    mv "$NMS_MAILDIR/.d$got" "$big"
    mkdir -p "$big/new" "$big/tmp"
    cp -a "$NMS_HOME/bk/cur" "$big/"
    nmsync_run sync
    check_eq "inode reused: exit 0" 0 "$NMS_RC"
    check_match "inode reused: taken for a replaced directory" "'Big'.*replaced" "$(cat "$NMS_ERR")"
    check_eq "inode reused: the server is unchanged" "$srv" "$(server_state)"
    check_mirror Big
else
    skip "inode reused" "this file system did not hand the inode out again in 1000 tries"
fi
rmdir "$NMS_MAILDIR"/.d[0-9]* 2>/dev/null || true

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

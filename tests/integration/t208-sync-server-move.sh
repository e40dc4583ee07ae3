#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Another client moves 500 of 800 messages from folder A to folder B on the server. The next
# sync takes the local files along (B's files are A's inodes: no body downloaded), deletes
# nothing that was moved, never counts the moves as deletions for the guard (500 of 800 is
# more than half), says so in one line, keeps notmuch tags, and converges: two more syncs
# change nothing. With several connections, B (the heavier folder) is synced before or
# beside A.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' A 300                 # UIDs 1..300
dovecot_seed --flags '\Flagged \Seen' A 100        # 301..400
dovecot_seed A 400                                 # 401..800
dv mailbox create B
nmsync_setup_dovecot 'connections = 3'
nmsync_notmuch
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "first sync: A has 800 files" 800 "$(local_count A)"
notmuch tag +kept -- "folder:.A and (id:seed-1@nmsync.test or id:seed-350@nmsync.test or id:seed-450@nmsync.test or id:seed-700@nmsync.test)"
# Message-ID -> inode of every file of A.
ids_inodes () {
    local d f
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f | while IFS= read -r f; do
        printf '%s %s\n' "$(sed -n '/^$/q; s/^Message-ID:[[:space:]]*//p' "$f")" "$(stat -c %i "$f")"
    done | sort
}
before=$(ids_inodes A)
# Cheap fingerprints (server_state and collect_sides read every message: minutes for 800).
srv_fp () {
    local f
    for f in A B; do
        printf '%s %s %s\n' "$f" "$(server_uidvalidity "$f")" "$(server_uidnext "$f")"
        dv -f tab fetch 'uid flags' mailbox "$f" all | tail -n +2 | sed 's/ *\\Recent//' |
            LC_ALL=C sort -n
    done
}
loc_fp () {
    find "$NMS_MAILDIR" -path "$NMS_MAILDIR/.notmuch" -prune -o -type f -printf '%P %i\n' | LC_ALL=C sort
}
# "uid letters" of a folder, from the server and from the local names.
srv_letters () {
    local uid flags
    dv -f tab fetch 'uid flags' mailbox "$1" all | tail -n +2 | while IFS=$'\t' read -r uid flags; do
        # shellcheck disable=SC2086
        printf '%s %s\n' "$uid" "$(imap_letters $flags)"
    done | sort -n
}
loc_letters () {
    local d
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f -printf '%f\n' |
        sed -n 's/.*,U=\([0-9]*\):2,\(.*\)/\1 \2/p' | sort -n
}

# Another client moves UIDs 151..650 (mixed flags) to B.
dv move B mailbox A uid 151:650
check_eq "server: A has 300 left" 300 "$(imap_count A)"
check_eq "server: B has the 500" 500 "$(imap_count B)"
srv=$(srv_fp)

dovecot_mark
nmsync_run -v sync
check_eq "sync after the move: exit 0" 0 "$NMS_RC"
check_eq "no body downloaded" 0 "$(bodies_since_mark)"
check "one line says the 500 were moved from A to B" \
    grep -q "500 messages moved on the server from 'A' to 'B'" "$NMS_ERR"
check "no guard refusal" bash -c '! grep -q "not deleting" "$1"' _ "$NMS_ERR"
check_eq "the server is unchanged by the sync" "$srv" "$(srv_fp)"
check_eq "local A: 300 files" 300 "$(local_count A)"
check_eq "local B: 500 files" 500 "$(local_count B)"
after=$( { ids_inodes A; ids_inodes B; } | sort)
check_eq "every message keeps its inode (A's files moved into B, not downloaded)" "$before" "$after"
check_eq "B's files are the moved messages" \
    "$(printf '%s\n' "$before" | awk '{ print $1 }' | grep -E '^<seed-(15[1-9]|1[6-9][0-9]|[2-5][0-9][0-9]|6[0-4][0-9]|650)@' | sort)" \
    "$(ids_inodes B | awk '{ print $1 }')"
check_eq "A: both sides agree UID by UID (flags)" "$(srv_letters A)" "$(loc_letters A)"
check_eq "B: both sides agree UID by UID (flags)" "$(srv_letters B)" "$(loc_letters B)"
check_eq "no UID carried by two files in B" "" "$(dup_uids B)"
check_eq "notmuch: 800 messages" 800 "$(notmuch count '*')"
check_eq "notmuch: 800 files (each Message-ID once)" 800 "$(notmuch count --output=files '*')"
check_eq "notmuch: 500 in B" 500 "$(notmuch count folder:.B)"
check_eq "notmuch: 300 in A" 300 "$(notmuch count folder:.A)"
check_eq "notmuch: the 4 tagged messages keep their tag" 4 "$(notmuch count tag:kept)"
check_eq "notmuch: the tagged ones moved are in B" 2 "$(notmuch count tag:kept and folder:.B)"
check_eq "notmuch: flags kept on moved messages" 100 "$(notmuch count folder:.B and tag:flagged)"

for n in 1 2; do
    srv=$(srv_fp)
    loc=$(loc_fp)
    dovecot_mark
    nmsync_run sync
    check_eq "sync $n more: exit 0" 0 "$NMS_RC"
    check_eq "sync $n more: nothing downloaded" 0 "$(bodies_since_mark)"
    check_eq "sync $n more: the server unchanged" "$srv" "$(srv_fp)"
    check_eq "sync $n more: the Maildir unchanged (names and inodes)" "$loc" "$(loc_fp)"
done

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A folder restored in place from a backup that kept the directory mtimes (cp -a, rsync -a
# --delete into the existing directories), right after a sync that changed its files itself
# (a download, a deleted file, a flag rename). That sync must not record the mtimes it read at
# its start, which are the backup's: the runs after the restore would then take the folder for
# unchanged (or take its local side from the state) and leave the Maildir and the server apart
# without a word, until some later change made a scan act on the old restore (found by the
# hostile tester). Recorded is an mtime the directory still has when the record is written; the
# first sync after the restore reads the folder, and the two sides agree after it. What that
# sync does with the restored files is the documented meaning of such a restore (nmsync(1),
# SAFETY: it cannot be told from deletions by the user); this test asserts that it happens at
# once, and that the sides agree.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

recorded () { # FOLDER: the cur/ and new/ mtimes the state recorded
    sqlite3 "$NMS_STATE/test.db" "SELECT cur_mtime || ' ' || new_mtime FROM folders WHERE name = '$1'"
}
mtime_ns () { stat -c %.9Y "$1" | tr -d .; }
# restore_in_place DIR BACKUP: the files of BACKUP's cur/ and new/ replace DIR's, and each
# directory gets BACKUP's mtime back (the directory inodes stay)
restore_in_place () {
    local s
    for s in cur new; do
        find "$1/$s" -mindepth 1 -delete
        cp -a "$2/$s"/. "$1/$s"/
        touch -m -d "@$(stat -c %.9Y "$2/$s")" "$1/$s"
    done
}

dovecot_start
incr_setup
incr_settle
BK=$(tap_tmpdir)

# Part 1: nothing changes on the server after the restore (the folder would be "unchanged on
# both sides").
A=$(local_dir A)
cp -a "$A" "$BK/A"
sleep 1.1
dovecot_seed --flags '\Seen' A 1 # UID 6 arrives
dv flags add '\Flagged' mailbox A uid 1
nmsync_run sync
check_eq "A: the sync after the backup: exit 0" 0 "$NMS_RC"
check_eq "A: UID 6 downloaded" S "$(local_flags A 6)"
check_eq "A: UID 1 flagged" FS "$(local_flags A 1)"
# cur/ changed (the download, the flag rename); new/ did not, and may keep its mtime
check_eq "A: cur/'s mtime from before the sync is not recorded" 0 \
    "$(recorded A | tr ' ' '\n' | grep -cx "$(mtime_ns "$BK/A/cur")")"
restore_in_place "$A" "$BK/A"
check_eq "A: the restore put the backup's cur/ mtime back" "$(mtime_ns "$BK/A/cur")" "$(mtime_ns "$A/cur")"
sleep 1.1
nmsync_run -vv sync
check_eq "A: the sync after the restore: exit 0" 0 "$NMS_RC"
check_eq "A: the sync after the restore reads the folder" 0 \
    "$(grep -c 'A: local side from the state' "$NMS_ERR")"
check_mirror A
check_eq "A: no duplicate UID" "" "$(dup_uids A)"

# Part 2: the server changes too after the restore (the local side would be taken from the
# state).
B=$(local_dir B)
incr_settle
cp -a "$B" "$BK/B"
sleep 1.1
dovecot_seed --flags '\Seen' B 1 # UID 6 arrives
dv expunge mailbox B uid 3
nmsync_run sync
check_eq "B: the sync after the backup: exit 0" 0 "$NMS_RC"
check_eq "B: UID 6 downloaded" S "$(local_flags B 6)"
restore_in_place "$B" "$BK/B"
dv flags add '\Answered' mailbox B uid 2
sleep 1.1
nmsync_run -vv sync
check_eq "B: the sync after the restore: exit 0" 0 "$NMS_RC"
check_eq "B: its local side is not taken from the state" 0 \
    "$(grep -c 'B: local side from the state' "$NMS_ERR")"
check_mirror B
check_eq "B: no duplicate UID" "" "$(dup_uids B)"

# A folder the sync did not touch keeps its mtimes recorded: the next run skips it.
incr_settle
incr_settle
nmsync_run -vv sync
check_eq "settled: every folder unchanged on both sides" 1 \
    "$(grep -cE ' ([0-9]+) of \1 folders unchanged on both sides' "$NMS_ERR")"

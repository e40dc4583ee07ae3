#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A server expunge is deleted locally at the end of the run (server-moves.c: the file may be
# taken along by a folder synced later). Once those deletions are done, the folder is recorded
# as completely synced like any other: the next run selects it with QRESYNC and fetches no
# full flag list. Before, such a folder kept HIGHESTMODSEQ 0, and the run after every server
# expunge fetched the flags of all its messages (the small-change bench, issue 15). The
# record is written only when every deferred deletion was done: one the guard refuses leaves
# the folder "not known complete".
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

modseq () { sqlite3 "$NMS_STATE/test.db" "SELECT highestmodseq FROM folders WHERE name = '$1'"; }

DOVECOT_RAWLOG=1
dovecot_start
incr_setup
sleep 1.1

# An expunge in C and a flag change in A: C's deletion is deferred to the end of the run.
dv expunge mailbox C uid 3
dv flags add '\Flagged' mailbox A uid 2
nmsync_run sync
check_eq "expunge: exit 0" 0 "$NMS_RC"
check_eq "C: the expunged message is gone locally" "" "$(local_file C 3)"
check_mirror C
check_eq "C: recorded as completely synced (nonzero HIGHESTMODSEQ)" 1 "$( [ "$(modseq C)" -gt 0 ] && echo 1)"
check_eq "C: the state no longer has UID 3" 0 \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT count(*) FROM messages WHERE folder = 'C' AND uid = 3")"

# The next change in C comes by QRESYNC: no full flag list.
sleep 1.1
dv flags add '\Answered' mailbox C uid 4
rawlog_mark
nmsync_run sync
check_eq "next run: exit 0" 0 "$NMS_RC"
check_eq "next run: C selected with QRESYNC" 1 \
    "$(rawlog_commands | grep -cE '^SELECT "C" \(QRESYNC \([0-9]+ [1-9][0-9]*\)\)$')"
check_eq "next run: no folder's full flag list is fetched" 0 "$(fetch_all_count)"
check_eq "next run: the flag arrived" RS "$(local_flags C 4)"
for f in $INCR_FOLDERS; do
    check_mirror "$f"
done

# A deletion the guard refuses (every message of G expunged) leaves G not known complete.
dovecot_seed --flags '\Seen' G 12 || bail_out "seeding G"
incr_settle
check_eq "G: synced complete first" 1 "$( [ "$(modseq G)" -gt 0 ] && echo 1)"
sleep 1.1
dv expunge mailbox G all
nmsync_run sync
check_eq "guard: G's files stay" 1 "$( [ -n "$(local_file G 1)" ] && [ -n "$(local_file G 12)" ] && echo 1)"
check_eq "guard: G is not recorded complete" 0 "$(modseq G)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A sync with nothing to do costs one LIST-STATUS after login: no folder is selected or
# scanned. After changes in some folders (a server flag, a new server message, an expunge, a
# local flag), exactly those folders are selected and everything converges. A local change
# made in the same second as a sync's scan is still found by the next sync.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

DOVECOT_RAWLOG=1
dovecot_start
incr_setup

# Nothing changed: one LIST-STATUS, no SELECT, nothing changes on either side.
srv_before=$(server_state)
loc_before=$(local_state)
rawlog_mark
nmsync_run sync
check_eq "no-change sync: exit 0" 0 "$NMS_RC"
check_eq "no-change sync: no folder selected" "" "$(selected_folders)"
check_eq "no-change sync: exactly one LIST" 1 "$(rawlog_commands | grep -c '^LIST ')"
check_match "no-change sync: the LIST asks for STATUS" '^LIST "" "\*" RETURN \(.*STATUS \(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ\)\)' \
    "$(rawlog_commands | grep '^LIST ')"
check_eq "no-change sync: no STATUS command of its own" 0 "$(rawlog_commands | grep -c '^STATUS ')"
# The floor: after login nothing but the LIST and LOGOUT (Dovecot's rawlog starts after LOGIN;
# the capabilities come with LOGIN's OK, ENABLE QRESYNC waits for a folder to select).
check_eq "no-change sync: after login only LIST and LOGOUT" "LIST LOGOUT" \
    "$(rawlog_commands | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')"
check_eq "no-change sync: the server is unchanged" "$srv_before" "$(server_state)"
check_eq "no-change sync: the Maildir is unchanged" "$loc_before" "$(local_state)"

# One change in each of four folders: exactly those four are selected.
incr_change
rawlog_mark
nmsync_run sync
check_eq "sync after changes: exit 0" 0 "$NMS_RC"
check_eq "only the changed folders are selected" "A B C D" "$(selected_folders)"
incr_check_converged

# Our own changes make the next run look once more; the run after selects nothing.
incr_settle
check_eq "settling sync: exit 0" 0 "$NMS_RC"
rawlog_mark
nmsync_run sync
check_eq "then no folder is selected again" "" "$(selected_folders)"

# A local change in the same second as the scan: the directory's mtime then cannot be
# trusted (another change within the same clock tick would leave it as it is), so none is
# recorded. The second change below restores the directory's mtime exactly, and is still found.
# (On a loaded machine the sync may start more than a second after the change: try again.)
d=$(local_dir E)
for attempt in 1 2 3; do
    touch "$d/cur"
    nmsync_run sync
    stored=$(sqlite3 "$NMS_STATE/test.db" "SELECT cur_mtime FROM folders WHERE name = 'E'")
    [ "$stored" != 0 ] || break
    diag "attempt $attempt: the sync read cur/ more than a second after the change"
done
check_eq "sync right after a local change: exit 0" 0 "$NMS_RC"
check_eq "an mtime as recent as the scan is not recorded" 0 "$stored"
mtime=$(stat -c %y "$d/cur")
f=$(local_file E 4)
mv "$f" "${f%:2,*}:2,FS"
touch -d "$mtime" "$d/cur"
check_eq "the directory's mtime is as the scan saw it" "$mtime" "$(stat -c %y "$d/cur")"
nmsync_run sync
check_eq "next sync: exit 0" 0 "$NMS_RC"
check_eq "the change made within the scan's second reached the server" '\Flagged \Seen' \
    "$(server_flags E 4)"

# An old, trusted mtime: the same trick now hides the change (documents the contract: a tool
# that resets a directory's mtime must expect this), so the stored mtime is really used.
nmsync_run sync
incr_settle
rawlog_mark
nmsync_run sync
check_eq "settled again: no folder selected" "" "$(selected_folders)"
check "settled: E's cur/ mtime is recorded" test \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT cur_mtime FROM folders WHERE name = 'E'")" -gt 0

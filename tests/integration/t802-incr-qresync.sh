#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# QRESYNC: a changed folder whose last sync was complete is selected with SELECT ... (QRESYNC
# (uidvalidity modseq)); the server then sends only the changed messages' flags and the
# expunged UIDs, and nmsync fetches no folder's full flag list. Flag changes, expunges, new
# messages and a local change in the same folder all arrive as the full path would bring them:
# both sides end up equal.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

DOVECOT_RAWLOG=1
dovecot_start
incr_setup
dv flags add '\Answered' mailbox A uid 4     # removed again below
nmsync_run sync
incr_settle
check_eq "A: a flag to remove later arrived" RS "$(local_flags A 4)"

dv flags add '\Flagged' mailbox A uid 2
dv flags remove '\Answered' mailbox A uid 4
dv flags add '\Answered' mailbox B uid 1
dv expunge mailbox B uid 5
dv expunge mailbox C uid 2:3
dv flags add '\Flagged' mailbox D uid 5
f=$(local_file D 1)
mv "$f" "${f%:2,*}:2,FS"                 # a local change in a folder the server changed too
dovecot_seed --flags '\Seen \Answered' E 2  # new messages: UIDs 6 and 7
rawlog_mark
nmsync_run -vv sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "the changed folders are selected" "A B C D E" "$(selected_folders)"
check_eq "each with QRESYNC and the last sync's UIDVALIDITY and modseq" 5 \
    "$(rawlog_commands | grep -cE '^SELECT "[A-E]" \(QRESYNC \([0-9]+ [1-9][0-9]*\)\)$')"
check_eq "no folder's full flag list is fetched" 0 "$(fetch_all_count)"
check_match "the expunges arrive as VANISHED" 'C: QRESYNC: 0 changed, 2 vanished' "$(cat "$NMS_ERR")"
for f in $INCR_FOLDERS; do
    check_mirror "$f"
done
check_eq "A: flag added on the server" FS "$(local_flags A 2)"
check_eq "A: flag removed on the server" S "$(local_flags A 4)"
check_eq "B: expunged" "" "$(local_file B 5)"
check_eq "C: both expunged" "" "$(local_file C 2)$(local_file C 3)"
check_eq "D: the local change reached the server" '\Flagged \Seen' "$(server_flags D 1)"
check_eq "D: the server change arrived" FS "$(local_flags D 5)"
check_eq "E: the new messages arrived with their flags" "RS RS" "$(local_flags E 6) $(local_flags E 7)"
check_eq "nothing left unsynced in D's state" 5 \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT count(*) FROM messages WHERE folder = 'D'")"

# Our own changes (the STORE in D, the renames) are reported back once; then all is quiet.
incr_settle
check_eq "settling sync: exit 0" 0 "$NMS_RC"
rawlog_mark
nmsync_run sync
check_eq "then nothing is selected" "" "$(selected_folders)"

# A crash (or a skipped message) leaves the folder's modseq 0: the next run takes the full
# path for it, whatever the server reports.
sqlite3 "$NMS_STATE/test.db" "UPDATE folders SET highestmodseq = 0 WHERE name = 'A'"
dv flags add '\Answered' mailbox A uid 1
rawlog_mark
nmsync_run sync
check_eq "modseq 0: exit 0" 0 "$NMS_RC"
check_eq "modseq 0: the folder's full flag list is fetched" 1 "$(fetch_all_count)"
check_eq "modseq 0: no QRESYNC for it" 0 "$(rawlog_commands | grep -c 'QRESYNC (')"
check_mirror A

# A keyword newly named in the rules changes how unchanged server messages read (their keyword
# becomes a Maildir letter), which no modseq reports: every folder is then read in full once.
dv flags add '$Label7' mailbox E uid 2
nmsync_run sync
incr_settle
rawlog_mark
nmsync_run sync
check_eq "keyword not in the rules yet: nothing selected" "" "$(selected_folders)"
printf '[keywords]\nlabel7 = $Label7\n' >"$NMS_HOME/label.rules"
sed -i "/^\[general\]/a rules = $NMS_HOME/label.rules" "$NMS_CONFIG"
rawlog_mark
nmsync_run sync
check_eq "new keyword rule: exit 0" 0 "$NMS_RC"
check_eq "new keyword rule: every folder is selected" "A Archive B C D E INBOX Junk Sent Trash Two Words" "$(selected_folders)"
check_eq "new keyword rule: every non-empty folder's flags are fetched in full" 7 "$(fetch_all_count)"
check_eq "new keyword rule: the old message's keyword arrives as its letter" Sa "$(local_flags E 2)"

# pull after a complete sync: EXAMINE with QRESYNC. A pull records the server's STATUS (its
# agreed flags are the server's) but not the directory times: a local change it did not push
# is found by the next sync, which needs no full fetch; a second pull skips B entirely.
incr_settle
dv flags add '\Draft' mailbox B uid 2
f=$(local_file B 3)
mv "$f" "${f%:2,*}:2,FS"                 # local change a pull leaves alone
rawlog_mark
nmsync_run pull
check_eq "pull: exit 0" 0 "$NMS_RC"
check_eq "pull: EXAMINE with QRESYNC" 1 "$(rawlog_commands | grep -cE '^EXAMINE "B" \(QRESYNC \(')"
check_eq "pull: the flag arrived" DS "$(local_flags B 2)"
rawlog_mark
nmsync_run pull
check_eq "second pull: B not examined" 0 "$(rawlog_commands | grep -cE '^(EXAMINE|SELECT) "B"')"
rawlog_mark
nmsync_run sync
check_eq "sync after pull: B selected with QRESYNC" 1 "$(rawlog_commands | grep -cE '^SELECT "B" \(QRESYNC \(')"
check_eq "sync after pull: no full flag fetch" 0 "$(fetch_all_count)"
check_eq "sync after pull: the local change the pull left reached the server" FS "$(imap_letters $(server_flags B 3))"

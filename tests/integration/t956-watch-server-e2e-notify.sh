#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync watch` wakes up on the server end to end, on Dovecot's NOTIFY, with no timer
# (watch-interval = 3600): a message APPENDed to the server's INBOX is in the Maildir and
# searchable in notmuch by Message-ID within seconds; a flag set on the server reaches the local
# file's name; a message saved into another folder (Archive) arrives too; a move on the server
# moves the local file, an expunge deletes it, a new server folder appears locally with its mail.
# Nothing duplicated on either side; SIGTERM: exit 0.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
DOVECOT_RAWLOG=1
dovecot_start
dovecot_seed INBOX 1
nmsync_setup_dovecot 'watch-interval = 3600'
nmsync_notmuch

uid_of () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | awk '{ print $2 }'; }
indexed () { [ "$(notmuch count "id:$1@nmsync.test")" -ge 1 ]; }
local_has () { [ -n "$(local_file "$1" "$(uid_of "$1" "$2")")" ]; }
local_flagged () { case "$(local_flags "$1" "$2")" in *F*) return 0 ;; esac; return 1; }
took () { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

"$NMSYNC" -c "$NMS_CONFIG" watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
check "the first pass downloads INBOX (bounded: 20 s)" \
    wait_for "first pass" 20 eval '[ "$(local_count INBOX)" = 1 ]'
sleep 1 # the first pass's own changes are reported back by the server: let that settle

# (1) APPEND to INBOX -> the file in the Maildir, searchable in notmuch.
mail_file "$T/e-in1.eml" e-in1
t0=$EPOCHREALTIME
dovecot_seed INBOX "$T/e-in1.eml"
check "server wake-up: the new INBOX message is searchable in notmuch (bounded: 10 s)" \
    wait_for "indexed" 10 indexed e-in1
diag "APPEND -> notmuch took $(took "$t0") s"
check "server wake-up: its file is in the local INBOX with its UID" local_has INBOX e-in1
check_eq "notmuch: the message has exactly one file" 1 \
    "$(notmuch search --output=files "id:e-in1@nmsync.test" | grep -c .)"

# (2) a flag set on the server -> the local file's name.
uid=$(uid_of INBOX e-in1)
dv flags add '\Flagged' mailbox INBOX uid "$uid"
check "server flag: the local file carries F (bounded: 10 s)" \
    wait_for "flag" 10 local_flagged INBOX "$uid"
check "server flag: notmuch tags it flagged" \
    wait_for "tag" 5 eval '[ "$(notmuch count "id:e-in1@nmsync.test and tag:flagged")" = 1 ]'

# (3) a message saved into another folder.
mail_file "$T/e-ar1.eml" e-ar1
t0=$EPOCHREALTIME
dovecot_seed Archive "$T/e-ar1.eml"
check "server wake-up in Archive: searchable in notmuch (bounded: 10 s)" \
    wait_for "indexed" 10 indexed e-ar1
diag "save into Archive -> notmuch took $(took "$t0") s"
check "server wake-up in Archive: the file is in the local Archive" local_has Archive e-ar1

# (4) a message moved on the server (INBOX -> Archive): moved locally, not copied.
dv move Archive mailbox INBOX header message-id "<e-in1@nmsync.test>"
check "server move: the message's file is in the local Archive (bounded: 10 s)" \
    wait_for "moved" 10 local_has Archive e-in1
in_local () { grep -l "$2@nmsync.test" "$(local_dir "$1")"/cur/* "$(local_dir "$1")"/new/* 2>/dev/null; }
check_eq "server move: no file of it left in the local INBOX" "" "$(in_local INBOX e-in1)"
check_eq "server move: notmuch has one file for it" 1 \
    "$(notmuch search --output=files "id:e-in1@nmsync.test" | grep -c .)"

# (5) an expunge on the server (positive evidence): the local file goes, notmuch forgets it.
uid=$(uid_of Archive e-ar1)
dv expunge mailbox Archive uid "$uid"
check "server expunge: the local file is deleted (bounded: 10 s)" \
    wait_for "deleted" 10 eval '[ "$(notmuch count "id:e-ar1@nmsync.test")" = 0 ]'
check_eq "server expunge: no file of it left in the local Archive" "" \
    "$(in_local Archive e-ar1)"

# (6) a folder created on the server with a message in it.
mail_file "$T/e-pr1.eml" e-pr1
dovecot_seed Projects "$T/e-pr1.eml"
check "server folder: the new folder's message is searchable (bounded: 10 s)" \
    wait_for "indexed" 10 indexed e-pr1
check "server folder: its file is in the local Projects" local_has Projects e-pr1

# (7) nmsync's own change comes back from the server (NOTIFY reports every session's
# changes): at most a follow-up run that finds nothing, then quiet - no loop.
uid=$(uid_of Projects e-pr1)
f=$(local_file Projects "$uid")
mv "$f" "${f%%:2,*}:2,F${f##*:2,}"
check "local flag: \\Flagged on the server (bounded: 10 s)" \
    wait_for "pushed" 10 eval 'server_flags Projects "$uid" | grep -q Flagged'
sleep 2
rawlog_mark
lines=$(wc -l <"$T/watch.out")
sleep 3
check_eq "after its own change came back, watch sends the server nothing more" "" \
    "$(rawlog_commands | grep -v -e '^IDLE' -e '^DONE')"
check_eq "and prints nothing more" "$lines" "$(wc -l <"$T/watch.out")"

sleep 1
collect_sides
check_eq "no duplicate on the server" "" "$(printf '%s\n' "$SRV" | awk '{ print $NF }' | sort | uniq -d)"
check_eq "no duplicate locally" "" "$(printf '%s\n' "$LOC" | awk '{ print $NF }' | sort | uniq -d)"
check "both sides agree" agree_by_uid

check "watch is still running" _tap_alive "$watch"
kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
# The sync stage names a server-side move it took along locally (a note, not an error).
check_eq "watch wrote no error" "" "$(grep -v -e '^$' -e 'moved on the server from .INBOX. to .Archive. (taken along locally' "$T/watch.err")"
diag "watch stdout:" "$(cat "$T/watch.out")"

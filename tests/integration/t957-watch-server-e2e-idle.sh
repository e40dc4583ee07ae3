#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync watch` end to end on a server without NOTIFY (trimmed from Dovecot's capabilities):
# IDLE on INBOX and on the watch-folders brings a message APPENDed there into the Maildir and
# notmuch, and a server flag onto the local file, with no timer (watch-interval = 3600); a
# message saved into a folder nobody idles on (Junk) arrives with the LIST-STATUS sweep of a
# short watch-interval, and so does a folder created on the server. Nothing duplicated on
# either side; SIGTERM: exit 0.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
DOVECOT_CAPABILITY="IMAP4rev1 SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS MOVE SPECIAL-USE LITERAL+"
DOVECOT_RAWLOG=1
dovecot_start
dovecot_seed INBOX 1
nmsync_setup_dovecot 'watch-interval = 3600' 'watch-folders = Archive'
nmsync_notmuch

uid_of () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | awk '{ print $2 }'; }
indexed () { [ "$(notmuch count "id:$1@nmsync.test")" -ge 1 ]; }
local_has () { [ -n "$(local_file "$1" "$(uid_of "$1" "$2")")" ]; }
local_flagged () { case "$(local_flags "$1" "$2")" in *F*) return 0 ;; esac; return 1; }
took () { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
watch_start () {
    "$NMSYNC" -c "$NMS_CONFIG" watch >>"$T/watch.out" 2>>"$T/watch.err" &
    watch=$!
    at_exit tap_kill "$watch"
}
watch_stop () {
    check "watch is still running" _tap_alive "$watch"
    kill -TERM "$watch"
    rc=0
    wait "$watch" || rc=$?
    check_eq "SIGTERM: exit 0" 0 "$rc"
}

rawlog_mark
watch_start
check "the first pass downloads INBOX (bounded: 20 s)" \
    wait_for "first pass" 20 eval '[ "$(local_count INBOX)" = 1 ]'
check "INBOX and Archive idle (bounded: 10 s)" wait_for "IDLE" 10 eval \
    '[ "$(rawlog_commands | grep -c "^IDLE")" -ge 2 ]'
check "no NOTIFY was sent" eval '! rawlog_commands | grep -q "^NOTIFY"'
sleep 1

mail_file "$T/i-in1.eml" i-in1
t0=$EPOCHREALTIME
dovecot_seed INBOX "$T/i-in1.eml"
check "IDLE wake-up: the new INBOX message is searchable in notmuch (bounded: 10 s)" \
    wait_for "indexed" 10 indexed i-in1
diag "APPEND -> notmuch took $(took "$t0") s"
check "IDLE wake-up: its file is in the local INBOX with its UID" local_has INBOX i-in1

uid=$(uid_of INBOX i-in1)
dv flags add '\Flagged' mailbox INBOX uid "$uid"
check "server flag on INBOX: the local file carries F (bounded: 10 s)" \
    wait_for "flag" 10 local_flagged INBOX "$uid"

mail_file "$T/i-ar1.eml" i-ar1
dovecot_seed Archive "$T/i-ar1.eml"
check "IDLE on a watch-folder: the Archive message is searchable (bounded: 10 s)" \
    wait_for "indexed" 10 indexed i-ar1
check "IDLE on a watch-folder: its file is in the local Archive" local_has Archive i-ar1

mail_file "$T/i-junk1.eml" i-junk1
dovecot_seed Junk "$T/i-junk1.eml"
sleep 3
check_eq "Junk: no IDLE there and the sweep is an hour away, so nothing yet" 0 \
    "$(notmuch count "id:i-junk1@nmsync.test")"
watch_stop

# The sweep: watch-interval = 2 s finds Junk's change (and the one left from above).
sed -i 's/^watch-interval = .*/watch-interval = 2/' "$NMS_CONFIG"
watch_start
check "the first pass (or the sweep) brings the waiting Junk message (bounded: 20 s)" \
    wait_for "indexed" 20 indexed i-junk1
sleep 2
mail_file "$T/i-junk2.eml" i-junk2
t0=$EPOCHREALTIME
dovecot_seed Junk "$T/i-junk2.eml"
check "sweep wake-up: the new Junk message is searchable in notmuch (bounded: 10 s)" \
    wait_for "indexed" 10 indexed i-junk2
diag "save into Junk -> notmuch took $(took "$t0") s (sweep every 2 s)"
check "sweep wake-up: its file is in the local Junk" local_has Junk i-junk2
uid=$(uid_of Junk i-junk2)
dv flags add '\Flagged' mailbox Junk uid "$uid"
check "server flag on Junk: the sweep brings F to the local file (bounded: 10 s)" \
    wait_for "flag" 10 local_flagged Junk "$uid"

mail_file "$T/i-pr1.eml" i-pr1
dovecot_seed Projects "$T/i-pr1.eml"
check "sweep: a folder created on the server arrives with its message (bounded: 10 s)" \
    wait_for "indexed" 10 indexed i-pr1
check "sweep: its file is in the local Projects" local_has Projects i-pr1

sleep 1
collect_sides
check_eq "no duplicate on the server" "" "$(printf '%s\n' "$SRV" | awk '{ print $NF }' | sort | uniq -d)"
check_eq "no duplicate locally" "" "$(printf '%s\n' "$LOC" | awk '{ print $NF }' | sort | uniq -d)"
check "both sides agree" agree_by_uid
watch_stop
check_eq "watch wrote no error" "" "$(grep -v '^$' "$T/watch.err")"
diag "watch stdout:" "$(cat "$T/watch.out")"

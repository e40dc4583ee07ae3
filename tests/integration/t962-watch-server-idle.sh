#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch on a server without NOTIFY (trimmed from Dovecot's
# capabilities): IDLE on INBOX and on the watch-folders, one connection each, reports changes
# there as FOLDER at once; changes in other folders come from the LIST-STATUS sweep every
# watch-interval (FOLDER for the folder whose counters moved, SWEEP for a new folder); with
# connections = 1 only INBOX idles.
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

DOVECOT_CAPABILITY="IMAP4rev1 SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE QRESYNC LIST-STATUS MOVE SPECIAL-USE LITERAL+"
DOVECOT_RAWLOG=1
dovecot_start
dovecot_seed INBOX 2
dovecot_seed Archive 2
dovecot_seed Junk 1
nmsync_setup_dovecot 'watch-interval = 3600' 'watch-folders = Archive'
rawlog_mark

probe_start
check "connected: UP, then SWEEP" probe_wait_lines 10 '^UP$' '^SWEEP$'
check "INBOX and Archive examined, one connection each; no NOTIFY" probe_wait 10 eval \
    '[ "$(rawlog_commands | grep -Ec "^EXAMINE \"?(INBOX|Archive)\"?$")" = 2 ] && ! rawlog_commands | grep -q "^NOTIFY"'
check "both idle" probe_wait 10 eval '[ "$(rawlog_commands | grep -c "^IDLE")" -ge 2 ]'

dovecot_seed INBOX 1
check "a new message in INBOX: FOLDER INBOX (IDLE)" probe_wait 10 probe_has 'FOLDER INBOX'
dovecot_seed Archive 1
check "a new message in Archive: FOLDER Archive (IDLE)" probe_wait 10 probe_has 'FOLDER Archive'
probe_mark
dv flags add '\Flagged' mailbox INBOX uid 1
check "a flag change in INBOX: FOLDER INBOX" probe_wait 10 probe_has_since 'FOLDER INBOX'
probe_mark
dv expunge mailbox Archive uid 2
check "an expunge in Archive: FOLDER Archive" probe_wait 10 probe_has_since 'FOLDER Archive'
probe_mark
dovecot_seed Junk 1
sleep 3
check_eq "Junk has no IDLE and the sweep is an hour away: nothing yet" "" \
    "$(probe_lines | tail -n +"$((_PROBE_MARK + 1))")"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"

# The sweep: a short watch-interval, connections = 1 (INBOX only idles).
sed -i -e 's/^watch-interval = .*/watch-interval = 2/' -e '$a connections = 1' "$NMS_CONFIG"
rawlog_mark
probe_start
check "connected again" probe_wait_lines 10 '^UP$' '^SWEEP$'
check "connections = 1: only INBOX is examined" probe_wait 10 eval \
    '[ "$(rawlog_commands | grep -c "^EXAMINE")" = 1 ] && rawlog_commands | grep -Eq "^EXAMINE \"?INBOX\"?$"'
probe_mark
sleep 2.5
check_eq "a sweep with nothing changed posts nothing" "" "$(probe_lines | tail -n +"$((_PROBE_MARK + 1))")"
dovecot_seed Junk 1
check "a new message in Junk: FOLDER Junk from the sweep" probe_wait 10 probe_has_since 'FOLDER Junk'
probe_mark
dv flags add '\Seen' mailbox Archive uid 1
check "a flag change in Archive (not idled on now): FOLDER Archive from the sweep" \
    probe_wait 10 probe_has_since 'FOLDER Archive'
probe_mark
dv mailbox create Projects
check "a new folder: SWEEP from the sweep" probe_wait 10 probe_has_since 'SWEEP'
check "sweeps are LIST-STATUS" eval 'rawlog_commands | grep -q "^LIST .*RETURN .*STATUS"'
check_eq "no DOWN" "" "$(probe_lines | grep '^DOWN')"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"
check "the server logged no error" eval '! dovecot_log_errors'

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch on a server with NOTIFY (Dovecot): one connection
# reports a new message in INBOX and in another folder, a flag change and an expunge each as
# FOLDER naming the right folder, a created folder as SWEEP; it connects once (UP, SWEEP),
# sweeps nothing unasked, and stops at SIGTERM.
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

DOVECOT_RAWLOG=1
dovecot_start
dovecot_seed INBOX 2
dovecot_seed Archive 2
nmsync_setup_dovecot 'watch-interval = 3600' 'folders = * !Trash'
rawlog_mark

probe_start
check "connected: UP, then SWEEP" probe_wait_lines 10 '^UP$' '^SWEEP$'
check "one connection, with NOTIFY SET" probe_wait 10 \
    eval '[ "$(rawlog_commands | grep -c "^NOTIFY SET")" = 1 ]'

dovecot_seed INBOX 1
check "a new message in INBOX: FOLDER INBOX" probe_wait 10 probe_has 'FOLDER INBOX'
dovecot_seed Archive 1
check "a new message in Archive: FOLDER Archive" probe_wait 10 probe_has 'FOLDER Archive'

probe_mark
dv flags add '\Flagged' mailbox Archive uid 1
check "a flag change in Archive (no unseen count moved): FOLDER Archive" \
    probe_wait 10 probe_has_since 'FOLDER Archive'
probe_mark
dv expunge mailbox INBOX uid 2
check "an expunge in INBOX: FOLDER INBOX" probe_wait 10 probe_has_since 'FOLDER INBOX'
probe_mark
dovecot_seed Trash 1
dv mailbox create Projects
check "a new folder: SWEEP" probe_wait 10 probe_has_since 'SWEEP'
check_eq "Trash (not synced) is not reported" "" "$(probe_lines | grep -x 'FOLDER Trash')"
check_eq "no DOWN" "" "$(probe_lines | grep '^DOWN')"
check_eq "no other UP" "1" "$(probe_lines | grep -c '^UP$')"

probe_stop
check_eq "SIGTERM: the probe stops, exit 0" "0" "$PROBE_RC"
check "the server saw LOGOUT" probe_wait 5 eval 'rawlog_commands | grep -q "^LOGOUT"'
check "the server logged no error" eval '! dovecot_log_errors'

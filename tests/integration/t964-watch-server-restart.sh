#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch across a server restart: the Dovecot is stopped by
# PID (it says BYE to its clients) and started again. The outage is posted once as DOWN with a
# sentence, however many attempts fail meanwhile; on recovery UP and then SWEEP (so a message
# that arrived while it was down is not lost), and IDLE/NOTIFY work again. A poke (resume)
# answers with SWEEP on a live connection. Stopping during a reconnect backoff is prompt.
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

dovecot_start
dovecot_seed INBOX 1
nmsync_setup_dovecot 'watch-interval = 3600'

probe_start
check "connected: UP, then SWEEP" probe_wait_lines 10 '^UP$' '^SWEEP$'

probe_mark
dovecot_stop
check "the server goes away: DOWN" probe_wait 10 eval '[ "$(probe_count_since "DOWN .*")" -ge 1 ]'
check_match "DOWN says why" '^DOWN .*(closed the connection|lost|cannot connect)' \
    "$(probe_lines | grep '^DOWN' | tail -n 1)"
sleep 4 # attempts after 1, 2 and 4 s fail meanwhile
check_eq "one DOWN for the whole outage" "1" "$(probe_count_since 'DOWN .*')"
check_eq "no UP while the server is down" "0" "$(probe_count_since 'UP')"

probe_mark
dovecot_restart
dovecot_seed INBOX 1 # arrives before the source is back: the SWEEP after UP covers it
check "the server is back: UP, then SWEEP" probe_wait_lines 20 '^DOWN .*' '^UP$' '^SWEEP$'
probe_mark
dovecot_seed INBOX 1
check "after the reconnect changes are pushed again: FOLDER INBOX" \
    probe_wait 10 probe_has_since 'FOLDER INBOX'

probe_mark
probe_poke
check "a poke on a live connection: SWEEP" probe_wait 10 probe_has_since 'SWEEP'
check_eq "a poke on a live connection: no DOWN, no UP" "0" "$(probe_count_since '(DOWN .*|UP)')"

# Stop during the backoff: the server goes away again, the probe is stopped while it waits.
probe_mark
dovecot_stop
check "down again: DOWN" probe_wait 10 eval '[ "$(probe_count_since "DOWN .*")" -ge 1 ]'
sleep 2.5
probe_stop 10
check_eq "SIGTERM during the backoff: exit 0" "0" "$PROBE_RC"
check "SIGTERM during the backoff: stopped within 1.5 s (took ${PROBE_STOP_MS} ms)" \
    test "$PROBE_STOP_MS" -lt 1500
check "the probe finished its stop" probe_has 'STOPPED'

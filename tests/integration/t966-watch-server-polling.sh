#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch where nothing can be pushed or compared: a server
# (scripted) with neither IDLE nor NOTIFY nor CONDSTORE gets a sweep every watch-interval and,
# since no counter proves a folder unchanged, each sweep is a SWEEP; it never sends IDLE. A
# server that cannot be reached at all: one DOWN saying why, however many attempts and pokes
# follow, and a prompt stop.
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

script=$(tap_tmpdir)/script
cat >"$script" <<'SCRIPT'
greeting * PREAUTH fake ready
on CAPABILITY
  * CAPABILITY IMAP4rev1 UIDPLUS
  $TAG OK done
on LIST
  * LIST () "/" "INBOX"
  * LIST () "/" "Sent"
  $TAG OK done
on LOGOUT
  * BYE logging out
  $TAG OK done
SCRIPT
fakeimap_start "$script"
nmsync_setup <<EOF
host = 127.0.0.1
port = $FAKEIMAP_PORT
tls = none
user = test
password = secret
watch-interval = 1
EOF

probe_start
check "connected: UP, then SWEEP" probe_wait_lines 10 '^UP$' '^SWEEP$'
probe_mark
check "no counters to compare: a SWEEP every watch-interval" \
    probe_wait 10 eval '[ "$(probe_count_since SWEEP)" -ge 3 ]'
check_eq "nothing but SWEEPs" "0" "$(probe_count_since '(FOLDER .*|DOWN .*|UP)')"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"
check_eq "no IDLE sent to a server without IDLE" "" "$(grep -i 'IDLE' "$script.log")"
check "each sweep is a LIST" eval '[ "$(grep -c "LIST" "$script.log")" -ge 4 ]'
rc=0
fakeimap_wait 5 || rc=$?
check_eq "every command matched a rule" "0" "$rc"

# A server that is not there: port 1 on loopback refuses.
sed -i "s/^port = .*/port = 1/" "$NMS_CONFIG"
probe_start
check "unreachable: DOWN" probe_wait 10 eval 'probe_lines | grep -q "^DOWN "'
check_match "DOWN says why" '^DOWN cannot connect to .127\.0\.0\.1:1.' "$(probe_lines | grep '^DOWN')"
sleep 3.5 # attempts after 1 and 2 s fail meanwhile
probe_poke # and one more, at once
sleep 0.5
check_eq "one DOWN for the whole outage, never UP" "DOWN 1 UP 0" \
    "DOWN $(probe_lines | grep -c '^DOWN') UP $(probe_lines | grep -c '^UP')"
check "the attempts were made (debug log)" eval '[ "$(grep -c "next attempt in" "$PROBE_ERR")" -ge 3 ]'
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"
check "stopped within 1.5 s (took ${PROBE_STOP_MS} ms)" test "$PROBE_STOP_MS" -lt 1500

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch against the scripted fault server (no NOTIFY, IDLE on
# INBOX): the first connection drops in the middle of IDLE, right after pushing a new message;
# the second gets a BYE while idling; the third idles. Each outage is one DOWN saying why,
# each reconnect UP then SWEEP (the SWEEP stands for the push the dropped connection could not
# deliver); the stop ends the third connection's IDLE with DONE and LOGOUT.
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

script=$(tap_tmpdir)/script
cat >"$script" <<'SCRIPT'
greeting * PREAUTH fake ready
on CAPABILITY
  * CAPABILITY IMAP4rev1 IDLE UIDPLUS
  $TAG OK done
on LIST
  * LIST () "/" "INBOX"
  $TAG OK done
on EXAMINE
  * 1 EXISTS
  * OK [UIDVALIDITY 7] x
  * OK [UIDNEXT 2] x
  $TAG OK [READ-ONLY] done
# connection 1: a new message, then the connection is gone
on once IDLE
  + idling
  sleep 0.3
  * 2 EXISTS
  close
# connection 2: the server shuts down
on once IDLE
  + idling
  sleep 0.3
  * BYE server shutting down for maintenance
  close
# connection 3: idles until the client stops
on IDLE
  + idling
on DONE
  sleep 0
on LOGOUT
  * BYE logging out
  $TAG OK done
SCRIPT
fakeimap_start "$script" --connections 3
nmsync_setup <<EOF
host = 127.0.0.1
port = $FAKEIMAP_PORT
tls = none
user = test
password = secret
watch-interval = 3600
EOF

probe_start
check "dropped, then BYE, then a connection that lasts" probe_wait_lines 20 \
    '^UP$' '^SWEEP$' '^DOWN .*' '^UP$' '^SWEEP$' '^DOWN .*' '^UP$' '^SWEEP$'
check_match "the drop is said" '^DOWN .*(lost|closed)' "$(probe_lines | grep '^DOWN' | sed -n 1p)"
check_match "the BYE is quoted" '^DOWN .*server shutting down for maintenance' \
    "$(probe_lines | grep '^DOWN' | sed -n 2p)"
sleep 1
check_eq "three connections, three UPs, two DOWNs" "3 2" \
    "$(probe_lines | grep -c '^UP$') $(probe_lines | grep -c '^DOWN')"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"
check "the last connection ended with DONE and LOGOUT" eval \
    'tail -n 2 "$script.log" | tr -d "\r" | paste -sd" " | grep -Eq "^C: DONE C: [A-Za-z0-9]+ LOGOUT$"'
rc=0
fakeimap_wait 5 || rc=$?
check_eq "the fault server served exactly its three connections, every command matched" "0" "$rc"

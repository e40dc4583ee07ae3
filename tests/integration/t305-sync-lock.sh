#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One nmsync per account: while a sync runs (held up by a slow server), a second nmsync on the
# same account waits for the lock: with NMSYNC_LOCK_WAIT=0 it exits 4 at once, with 1 it exits
# 4 after about a second, both naming the first one's PID, without contacting the server; with
# the default wait (30 s) it waits for the first to finish and then syncs. Once the first is
# done, the next run gets the lock.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dir=$(tap_tmpdir)
# A server whose SELECT/EXAMINE answers after 4 s, with an empty INBOX.
fakeimap_slow_select_script 4 >"$dir/slow"

nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/slow")
EOF2
lock=$NMS_STATE/test.lock
sessions () { grep -c '^C: [^ ]* LIST' "$dir/slow.log" 2>/dev/null || true; }
holds_lock () { [ "$(cat "$lock" 2>/dev/null)" = "$1" ]; }
ended () { ! _tap_alive "$1"; }
connected () { [ "$(sessions)" -ge 1 ]; }

check "no lock file before the first run" test ! -e "$lock"
tap_spawn "$NMSYNC" -c "$NMS_CONFIG" sync
first=$TAP_SPAWN_PID
first_log=$(find "$TAP_ROOT" -maxdepth 1 -name 'spawn.*.err' | head -n 1)
check "the first run takes the lock (its PID in $lock)" wait_for "lock file names $first" 10 holds_lock "$first"
wait_for "the first run has connected" 10 connected
check_eq "the first run has connected once" 1 "$(sessions)"

tap_spawn "$NMSYNC" -c "$NMS_CONFIG" sync
waiter=$TAP_SPAWN_PID
t0=$EPOCHREALTIME
NMSYNC_LOCK_WAIT=0 nmsync_run sync
t1=$EPOCHREALTIME
check_eq "second run while the first holds the lock: exit 4" 4 "$NMS_RC"
check "second run: exits at once (under 1 s, the server takes 4 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 1.0) }'
check_match "second run: names the first one's PID" "pid $first([^0-9]|$)" "$(cat "$NMS_ERR")"
check_match "second run: names the account" "'test'" "$(cat "$NMS_ERR")"
check "the first run was still running then" _tap_alive "$first"
check_eq "second run: did not contact the server" 1 "$(sessions)"
check "second run: the lock file still names the first" holds_lock "$first"

t0=$EPOCHREALTIME
NMSYNC_LOCK_WAIT=1 nmsync_run sync
t1=$EPOCHREALTIME
check_eq "NMSYNC_LOCK_WAIT=1 while the first holds the lock: exit 4" 4 "$NMS_RC"
check "NMSYNC_LOCK_WAIT=1: gave up after about a second (0.9 to 2.5 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a > 0.9 && b - a < 2.5) }'
check_match "NMSYNC_LOCK_WAIT=1: names the PID and the wait" "pid $first\); gave up after 1 s" \
    "$(cat "$NMS_ERR")"
check_eq "NMSYNC_LOCK_WAIT=1: did not contact the server" 1 "$(sessions)"

check "the first run ends (bounded: 20 s)" wait_for "first run to end" 20 ended "$first"
rc=0
wait "$first" || rc=$?
check_eq "the first run: exit 0" 0 "$rc"
[ "$rc" = 0 ] || diag "first run stderr:" "$(cat "$first_log")"

check "the run with the default wait ends (bounded: 20 s)" wait_for "waiting run to end" 20 ended "$waiter"
rc=0
wait "$waiter" || rc=$?
check_eq "the run with the default wait, started while the first held the lock: exit 0" 0 "$rc"
check_eq "it synced after the first: the server saw two sessions" 2 "$(sessions)"

nmsync_run sync
check "after the first run: the next run gets the lock (exit not 4)" test "$NMS_RC" != 4
check_eq "after the first run: the next run succeeds" 0 "$NMS_RC"
check_eq "after the first run: the next run did contact the server" 3 "$(sessions)"

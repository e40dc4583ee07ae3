#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync apply` takes the account lock sync takes: while a sync holds it (held up by a slow
# server), an apply with NMSYNC_LOCK_WAIT=1 waits about a second, then exits 4 naming the
# sync's PID, having changed nothing (no file moved, notmuch untouched); an apply with the
# default wait waits for the sync to end and then moves the files; `-n apply` neither waits
# nor takes the lock. Before the fix, apply took no lock and moved the files under the sync.
# The synced folder is INBOX only (empty on both sides); the rules work in Archive and Junk,
# which the sync leaves alone, so the fake server sees nothing of them.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dir=$(tap_tmpdir)
# A server whose SELECT/EXAMINE answers after 4 s, with an empty INBOX.
fakeimap_slow_select_script 4 >"$dir/slow"

nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/slow")
folders = INBOX
EOF2
mkdir -p "$NMS_MAILDIR"/{cur,new,tmp}
for i in 1 2 3 4 5; do
    mail_file "$NMS_MAILDIR/.Archive/cur/170000000$i.M${i}P1.host:2,S" "m$i"
done
mkdir -p "$NMS_MAILDIR"/.Archive/{new,tmp} "$NMS_MAILDIR"/.Junk/{cur,new,tmp}
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run apply
check_eq "first apply (no sync running): exit 0" 0 "$NMS_RC"
notmuch tag +spam -- id:m1@nmsync.test id:m2@nmsync.test id:m3@nmsync.test

lock=$NMS_STATE/test.lock
holds_lock () { [ "$(cat "$lock" 2>/dev/null)" = "$1" ]; }
ended () { ! _tap_alive "$1"; }
# The running sync writes the root's marker once the server answered (sync/root.c): that one
# file is the sync's doing, not the apply's.
unchanged () { local_state | grep -v '^\./\.nmsync-maildir '; notmuch dump --include=tags --include=properties; }

# --no-rules: the sync holds the lock without doing the rules' work itself (sync runs them).
tap_spawn "$NMSYNC" -c "$NMS_CONFIG" --no-rules sync
sync_pid=$TAP_SPAWN_PID
check "the sync takes the lock" wait_for "lock file names $sync_pid" 10 holds_lock "$sync_pid"
before=$(unchanged)

t0=$EPOCHREALTIME
NMSYNC_LOCK_WAIT=1 nmsync_run apply
t1=$EPOCHREALTIME
check_eq "apply while the sync holds the lock (NMSYNC_LOCK_WAIT=1): exit 4" 4 "$NMS_RC"
check "it waited about a second (0.9 to 2.5 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a > 0.9 && b - a < 2.5) }'
check_match "it names the account and the sync's PID" "'test' is in use by another nmsync \(pid $sync_pid\)" \
    "$(cat "$NMS_ERR")"
check "the sync was still running then" _tap_alive "$sync_pid"
check_eq "it changed nothing: no file moved, notmuch untouched" "$before" "$(unchanged)"

nmsync_run -n apply
check_eq "-n apply while the sync holds the lock: exit 0 without waiting" 0 "$NMS_RC"
check_eq "-n apply predicts the three moves" 3 "$(grep -c "would change .*-> 'Junk'" "$NMS_ERR")"
check "-n apply ran while the sync still held the lock" holds_lock "$sync_pid"

tap_spawn "$NMSYNC" -c "$NMS_CONFIG" apply
apply_pid=$TAP_SPAWN_PID
sleep 0.5
check "apply with the default wait is still waiting while the sync runs" _tap_alive "$apply_pid"
check_eq "and has moved nothing yet" 0 "$(local_count Junk)"
check "the sync ends (bounded: 20 s)" wait_for "sync to end" 20 ended "$sync_pid"
check "then the apply ends (bounded: 20 s)" wait_for "apply to end" 20 ended "$apply_pid"
rc=0
wait "$apply_pid" || rc=$?
check_eq "the waiting apply: exit 0" 0 "$rc"
check_eq "it moved the three spam messages to Junk" 3 "$(local_count Junk)"
check_eq "Archive keeps the other two" 2 "$(local_count Archive)"
missing=$(notmuch search --output=files '*' | while IFS= read -r p; do [ -e "$p" ] || echo "$p"; done)
check_eq "every filename notmuch lists exists" "" "$missing"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Debounce: 100 message files dropped into a folder at once are one run (300 ms quiet, 3 s at
# most), which uploads all 100; -v says one line per event. nmsync's own renames and deliveries
# (the ",U=" it adds after the upload, the files it downloads) are not taken for local work:
# with -v every run prints its summary line, and exactly one run follows the drop. SIGUSR1
# syncs every folder at once (how server changes reach the Maildir with the stand-in server
# source): messages added on the server arrive without any local event.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
dovecot_seed INBOX 3
nmsync_setup_dovecot
nmsync_notmuch

runs () { grep -c '^test: ' "$T/watch.out" 2>/dev/null || true; }
runs_at_least () { [ "$(runs)" -ge "$1" ]; }
server_count_is () { [ "$(imap_count "$1")" -eq "$2" ]; }
local_count_is () { [ "$(local_count "$1")" -eq "$2" ]; }

"$NMSYNC" -c "$NMS_CONFIG" -v watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
check "the first pass ends (bounded: 20 s)" wait_for "first pass" 20 local_count_is INBOX 3
wait_for "first summary line" 10 runs_at_least 1
sleep 1
before=$(runs)
events_before=$(grep -c 'event: local file' "$T/watch.err" || true)

# 100 files written elsewhere on the same file system, then moved into Archive/cur at once.
archive=$(local_dir Archive)
mkdir -p "$T/stage"
for i in $(seq 1 100); do
    mail_file "$T/stage/17000$(printf %05d "$i").M1P1.client:2,S" "burst-$i"
done
mv "$T/stage/"* "$archive/cur/"
check "all 100 are on the server (bounded: 20 s)" wait_for "uploads" 20 server_count_is Archive 100
sleep 2 # a second run, if one were coming, would start within the 300 ms quiet + its own time
after=$(runs)
check_eq "the burst was one run (run lines after the drop)" 1 "$((after - before))"
check_match "that run uploaded the 100 files" "server: 100 uploaded" "$(tail -n 1 "$T/watch.out")"
events=$(( $(grep -c 'event: local file' "$T/watch.err") - events_before ))
check_eq "-v: one line per event (100 files moved in)" 100 "$events"
check_eq "no event line for a file nmsync renamed itself (,U=)" "" \
    "$(grep 'event: local file' "$T/watch.err" | grep ',U=' || true)"
check_eq "no duplicate on the server" "" \
    "$(dv -f tab fetch hdr.message-id mailbox Archive all | tail -n +2 | sort | uniq -d | tr -d "\r")"

# Server changes: the stand-in server source sweeps every 5 min; SIGUSR1 syncs now.
dovecot_seed INBOX 2
kill -USR1 "$watch"
check "SIGUSR1: the 2 new server messages are here (bounded: 10 s)" \
    wait_for "pull after SIGUSR1" 10 local_count_is INBOX 5
check "SIGUSR1: said at -v" grep -q 'SIGUSR1' "$T/watch.err"

kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
check_eq "no error" "" "$(grep '^nmsync: ' "$T/watch.err" || true)"

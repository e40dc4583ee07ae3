#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Signals: SIGTERM while watch's first pass downloads many messages finishes the run (every
# delivered file and the state committed) and exits 0; the next `nmsync sync` converges with
# nothing lost and nothing duplicated. SIGHUP reloads the config: an account added is synced,
# one removed is no longer watched (its Maildir gets nothing new), and a broken config keeps
# the old one running.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

N=1500
T=$(tap_tmpdir)
dovecot_start
dovecot_seed INBOX "$N"
nmsync_setup_dovecot
nmsync_notmuch

ended () { ! _tap_alive "$1"; }
some_arrived () { [ "$(local_count INBOX)" -ge 1 ]; }

# (1) SIGTERM during a run with many downloads.
"$NMSYNC" -c "$NMS_CONFIG" watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
check "the first pass is downloading (bounded: 20 s)" wait_for "downloads" 20 some_arrived
kill -TERM "$watch"
at_kill=$(local_count INBOX)
diag "$at_kill of $N files had landed when SIGTERM came"
check "watch ends after SIGTERM (bounded: 60 s)" wait_for "watch to end" 60 ended "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM mid-run: exit 0" 0 "$rc"
check_eq "SIGTERM mid-run: no error" "" "$(cat "$T/watch.err")"
check_eq "every file delivered is indexed (the run committed)" "$(local_count INBOX)" \
    "$(notmuch count '*')"
nmsync_run sync
check_eq "the next sync: exit 0" 0 "$NMS_RC"
# (collect_sides reads 1500 messages one by one: too slow here; Message-IDs in one pass each)
local_ids=$(find "$(local_dir INBOX)"/cur "$(local_dir INBOX)"/new -type f -exec grep -h -m1 -i '^message-id:' {} + |
    sed 's/^[^:]*: *//' | tr -d '\r' | LC_ALL=C sort)
server_ids=$(dv -f tab fetch hdr.message-id mailbox INBOX all | tail -n +2 | tr -d '\r' | LC_ALL=C sort)
check_eq "nothing lost: all $N messages are local" "$N" "$(local_count INBOX)"
check_eq "nothing duplicated locally" "" "$(printf '%s\n' "$local_ids" | uniq -d)"
check_eq "no UID carried twice locally" "" "$(dup_uids INBOX)"
check_eq "nothing duplicated on the server" "$N" "$(imap_count INBOX)"
check_eq "both sides hold the same messages (Message-IDs)" "$server_ids" "$local_ids"

# (2) SIGHUP: an account added. The watch runs without the sandbox here: Landlock cannot be
# widened, so an account whose Maildir lies elsewhere needs a restart (said; checked below).
two=$NMS_HOME/Maildir2
"$NMSYNC" -c "$NMS_CONFIG" --no-sandbox watch >"$T/w2.out" 2>"$T/w2.err" &
watch=$!
at_exit tap_kill "$watch"
sleep 2
cp "$NMS_CONFIG" "$T/config.one"
sed -n '/^\[account test\]/,$p' "$NMS_CONFIG" | sed "s/^\[account test\]/[account two]/; s|^maildir *=.*|maildir = $two|" >"$T/two"
echo "folders = Archive" >>"$T/two" # a small folder: this part is about the reload
dovecot_seed Archive 3
cat "$T/two" >>"$NMS_CONFIG"
kill -HUP "$watch"
two_files () { find "$two" -path '*/cur/*' -type f -o -path '*/new/*' -type f | wc -l; }
two_synced () { [ "$(two_files)" -eq 3 ]; }
check "SIGHUP: the added account is synced (bounded: 60 s)" wait_for "account two" 60 two_synced
check_match "SIGHUP: the reload is said" "reloaded: 2 accounts" "$(cat "$T/w2.err")"

# A broken config: the old one stays in force, the watch stays up.
cp "$NMS_CONFIG" "$T/config.two"
echo "this is not a key" >>"$NMS_CONFIG"
kill -HUP "$watch"
sleep 1
check "SIGHUP with a broken config: watch still runs" _tap_alive "$watch"
check_match "SIGHUP with a broken config: the error is said" "not a key|config" "$(cat "$T/w2.err")"

# The account removed again: its Maildir no longer changes.
cp "$T/config.one" "$NMS_CONFIG"
kill -HUP "$watch"
wait_for "reload to one account" 10 grep -q "reloaded: 1 account$" "$T/w2.err"
check "SIGHUP: back to one account" grep -q "reloaded: 1 account$" "$T/w2.err"
dovecot_seed INBOX 1
kill -USR1 "$watch"
one_more () { [ "$(local_count INBOX)" -eq $((N + 1)) ]; }
check "the remaining account still syncs (bounded: 20 s)" wait_for "test syncs" 20 one_more
dovecot_seed Archive 1
kill -USR1 "$watch"
sleep 2
check_eq "the removed account got nothing" 3 "$(two_files)"
kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "exit 0" 0 "$rc"

# With the sandbox (where the kernel has Landlock): an account added outside it is named.
if "$NMSYNC" -c "$NMS_CONFIG" -v sync 2>&1 | grep -q 'sandbox: on'; then
    "$NMSYNC" -c "$NMS_CONFIG" watch >"$T/w3.out" 2>"$T/w3.err" &
    watch=$!
    at_exit tap_kill "$watch"
    sleep 2
    cat "$T/two" >>"$NMS_CONFIG"
    kill -HUP "$watch"
    said () { grep -q "outside the sandbox" "$T/w3.err"; }
    check "sandboxed watch: an account added outside the sandbox is named (bounded: 10 s)" \
        wait_for "sandbox warning" 10 said
    check "sandboxed watch: still running" _tap_alive "$watch"
    tap_kill "$watch"
else
    skip "sandboxed watch: an account added outside the sandbox is named" "no Landlock here"
fi

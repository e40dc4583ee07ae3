#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync does not link libnotmuch (issue 15: a third of a no-change sync was the dynamic linker
# mapping it, Xapian, libstdc++, GMime and gpgme): it loads it the first time a run needs the
# database. A sync without any notmuch config never loads it, not even when it downloads mail
# or has rules; with a notmuch config, what a sync brings is still indexed and tagged, and an
# apply still runs its rules. Whether the library was loaded is read from the dynamic linker's
# own report (LD_DEBUG=libs: "calling init: .../libnotmuch.so.5"), not from /proc (racy).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

loaded () {
    grep -q 'calling init: .*/libnotmuch\.so\.5' "$NMS_ERR"
}

if command -v readelf >/dev/null 2>&1; then
    check_eq "the binary has no DT_NEEDED on libnotmuch" "" \
        "$(readelf -d "$NMSYNC" | grep -i 'NEEDED.*notmuch')"
else
    skip "the binary has no DT_NEEDED on libnotmuch" "no readelf"
fi

dovecot_start
dovecot_seed INBOX 3
dovecot_seed Archive 1
nmsync_setup_dovecot

LD_DEBUG=libs nmsync_run sync
check_eq "first sync without notmuch: exit 0" 0 "$NMS_RC"
check_eq "it downloaded everything" 3 "$(local_count INBOX)"
check_fails "a sync that downloads, without notmuch config: libnotmuch not loaded" loaded

sleep 1.1
LD_DEBUG=libs nmsync_run sync
check_eq "no-change sync without notmuch: exit 0" 0 "$NMS_RC"
check_fails "a no-change sync without notmuch config: libnotmuch not loaded" loaded

# Nor does it write anything durable: the time of the sync (for `nmsync status`) is a file's
# mtime, not an SQLite commit (four fdatasync and a checkpoint before).
if command -v strace >/dev/null 2>&1; then
    sleep 1.1
    trace="$NMS_HOME/strace.out"
    # LeakSanitizer cannot run under ptrace (an ASan build would exit 1 at the end).
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
        strace -f -qq -e trace=fsync,fdatasync,syncfs -o "$trace" \
        "$NMSYNC" -q -c "$NMS_CONFIG" sync </dev/null >/dev/null 2>"$NMS_HOME/strace.err"
    rc=$?
    [ "$rc" -eq 0 ] || sed -n '1,10p' "$NMS_HOME/strace.err" | while IFS= read -r l; do diag "  $l"; done
    check_eq "a no-change sync: exit 0 (under strace)" 0 "$rc"
    check_eq "a no-change sync calls no fsync, fdatasync or syncfs" "" \
        "$(grep -E '(fsync|fdatasync|syncfs)\(' "$trace")"
    nmsync_run status
    check_match "status still tells the time of the last sync" "last-sync +20[0-9-]+T" \
        "$(cat "$NMS_OUT")"
else
    skip "a no-change sync calls no fsync, fdatasync or syncfs" "no strace"
fi

nmsync_rules default.rules spam.rules
dovecot_seed INBOX 1
LD_DEBUG=libs nmsync_run sync
check_eq "sync with rules but no notmuch config: exit 0" 0 "$NMS_RC"
check_eq "it downloaded the new message" 4 "$(local_count INBOX)"
check_fails "rules but no notmuch config: libnotmuch not loaded" loaded
LD_DEBUG=libs nmsync_run -v apply
check_fails "apply without notmuch config: libnotmuch not loaded" loaded

# Now with notmuch: what arrives is indexed and tagged, as before.
nmsync_notmuch
check_eq "notmuch new indexed the spool" 5 "$(notmuch count '*')"
dovecot_seed INBOX 1
LD_DEBUG=libs nmsync_run sync
check_eq "sync with notmuch and rules: exit 0" 0 "$NMS_RC"
check "with something to index: libnotmuch loaded" loaded
check_eq "the new message is indexed" 6 "$(notmuch count '*')"
check_eq "with new.tags (unread, inbox: it is unseen)" 6 "$(notmuch count tag:inbox and tag:unread)"

id=$(notmuch search --output=messages --limit=1 folder:'""' | sed 's/^id://')
notmuch tag +spam -- "id:$id"
LD_DEBUG=libs nmsync_run apply
check_eq "apply with notmuch: exit 0" 0 "$NMS_RC"
check "apply loads libnotmuch" loaded
check_eq "the spam message moved to the Junk folder" 1 "$(local_count Junk)"
check_eq "notmuch has it there" 1 "$(notmuch count "id:$id and folder:.Junk")"

# With nothing changed since the last run, the rule stages and apply read the database and stop
# there: they need neither a writable database nor notmuch's write lock. Shown by holding that
# lock in another process (a `notmuch tag --batch` waiting for input, as in t733): before, both
# waited for it and then gave up (the sync with exit 1, apply with exit 4).
sleep 1.1
nmsync_run sync
check_eq "a sync to settle: exit 0" 0 "$NMS_RC"
dir=$(tap_tmpdir)
mkfifo "$dir/batch"
notmuch tag --batch <"$dir/batch" >"$dir/holder.out" 2>&1 &
holder=$!
at_exit tap_kill "$holder"
exec {batch_fd}>"$dir/batch"
locked () { ! timeout 1 notmuch tag +t814-probe -- id:no-such-message >/dev/null 2>&1; }
check "another process holds notmuch's write lock (bounded: 10 s)" \
    wait_for "the write lock to be taken" 10 locked
sleep 1.1
nmsync_run sync
check_eq "no-change sync with rules while notmuch is locked: exit 0" 0 "$NMS_RC"
check_eq "nothing said about a lock" "" "$(grep -i 'lock' "$NMS_ERR")"
nmsync_run apply
check_eq "apply with nothing to do while notmuch is locked: exit 0" 0 "$NMS_RC"
exec {batch_fd}>&-
tap_kill "$holder"

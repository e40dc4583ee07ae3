#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The notmuch database's write lock held by another process (a `notmuch tag --batch` waiting
# for its input, as a script or a mail client would hold it) while `nmsync pull` downloads:
# nmsync waits a bounded time (ten seconds, nmsync(1)), then exits 1 with an error that says
# the database is locked and names it. The mail is in the Maildir and the sync state is
# complete (the next pull downloads nothing); once the lock is released, `notmuch new` indexes
# the files, with the tags their flags call for.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 20 || bail_out "seeding INBOX"
dovecot_seed INBOX 10 || bail_out "seeding INBOX"
dovecot_seed --flags '\Seen' Work 12 || bail_out "seeding Work"
nmsync_setup_dovecot
nmsync_notmuch
check_eq "the notmuch database starts empty" 0 "$(notmuch count '*')"

# ---- hold the write lock ------------------------------------------------------------------
dir=$(tap_tmpdir)
mkfifo "$dir/batch"
notmuch tag --batch <"$dir/batch" >"$dir/holder.out" 2>&1 &
holder=$!
at_exit tap_kill "$holder"
exec {batch_fd}>"$dir/batch"    # the holder waits for its input as long as this stays open
release () { exec {batch_fd}>&-; }
# Locked when another writer cannot get in within a second.
locked () { ! timeout 1 notmuch tag +t733-probe -- id:no-such-message >/dev/null 2>&1; }
check "another process holds the database's write lock (bounded: 10 s)" \
    wait_for "the write lock to be taken" 10 locked

# ---- the pull while it is held ------------------------------------------------------------
t0=$EPOCHREALTIME
nmsync_run pull
t1=$EPOCHREALTIME
err=$(cat "$NMS_ERR")
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
diag "the pull took ${elapsed} s with the database locked"
check_eq "locked: exit 1" 1 "$NMS_RC"
check_match "locked: the error says the database is locked and names it" \
    "notmuch database '$NMS_MAILDIR(/\.notmuch)?/?' is locked by another process" "$err"
check_match "locked: ... and that the files are in place for notmuch new" \
    "files are in place, 'notmuch new' will index them" "$err"
check "locked: it waited for the lock (about ten seconds, at least 9)" \
    awk -v e="$elapsed" 'BEGIN { exit !(e >= 9) }'
check "locked: the wait is bounded (under 30 s)" awk -v e="$elapsed" 'BEGIN { exit !(e < 30) }'
check "the holder still holds the lock after nmsync gave up" _tap_alive "$holder"
for f in INBOX Work; do
    check_eq "locked: $f is in the Maildir, byte for byte" "$(server_sum "$f")" "$(local_sum "$f")"
done
check "locked: nothing left in tmp/" no_tmp_leftovers

# ---- the lock released --------------------------------------------------------------------
release
check "the holder ends once its input closes (bounded: 10 s)" \
    wait_for "the holder to end" 10 bash -c "! kill -0 $holder 2>/dev/null"
dovecot_mark
nmsync_run pull
check_eq "the next pull: exit 0" 0 "$NMS_RC"
check_eq "the next pull: the sync state was complete, no message fetched again" 0 \
    "$(bodies_since_mark)"
check "notmuch new indexes the files" notmuch new
check_eq "all 42 messages are indexed" 42 "$(notmuch count '*')"
check_eq "the 32 seen messages are not unread" 10 "$(notmuch count tag:unread)"
check_eq "Work's 12 are in their folder" 12 "$(notmuch count folder:.Work)"
check "notmuch new again finds nothing to do" bash -c 'notmuch new | grep -q "No new mail"'

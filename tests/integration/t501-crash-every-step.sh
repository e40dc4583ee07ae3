#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Kill -9 at every step of a sync (NMSYNC_TEST_CRASH_AFTER=N for N = 1, 2, ...), resume, and
# compare with an uninterrupted run. The workload mixes everything a sync does: new messages on
# both sides, flag changes on both sides (one message changed on both), deletions on both sides
# and a local move between folders that kept the file name (",U=" included). After each resume:
# the same messages on both sides with the same flags as after the uninterrupted run, every
# Message-ID exactly once per side, nothing left in tmp/, every local file uploaded, and local
# and server agreeing UID by UID.
#
# The scenario (seed, first sync, changes on both sides) is built once, from scratch, and
# snapshotted: the server's Maildir (with Dovecot's indexes) and the nmsync home (config,
# Maildir, state). Every run, the reference and each crash, starts from a restored copy on the
# same Dovecot. Why not a fresh Dovecot per N: stopping one takes ~2.5 s (its shutdown wait),
# ~50 s over the loop. Why not delete and re-seed: INBOX cannot be deleted and keeps its
# UIDNEXT, so UIDs would shift between runs. The copy gives every run the very same starting
# point (UIDs, UIDVALIDITY, file names, mtimes, state), so the crash is the only difference.
# Uploaded messages still get different UIDs and Dovecot file names from run to run, so the end
# state is compared by content: sha256 of the bytes, flags, Message-ID.
# The workload has 18 steps today (move 2; Archive: upload 2, download 1; INBOX: 3 local
# renames and 1 local deletion, 2 STOREs with an intent each, 1 expunge with its intent, upload
# 2, download 1). Which crash windows are tried is up to where the code counts its steps: the
# STORE and the expunge count only after their state commit, so "server ahead of the state"
# after a STORE or an EXPUNGE is not one of them.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# T501_ARCHIVE names the second folder (t925 makes it a nested one, on a "." server).
ARCHIVE=${T501_ARCHIVE:-Archive}
MAX_N=60          # more steps than this would mean the workload or the step count went wrong
MIN_POINTS=8      # the workload has more steps than this; fewer means the hook is not reached
TIME_BUDGET=100   # seconds for the crash loop (about 1 s per N); meson allows 300 for the test

MSGS=$(tap_tmpdir)
SNAP=$(tap_tmpdir)

# make_msg NAME: a small message with Message-ID <NAME@t501.nmsync.test>, at $MSGS/NAME.
make_msg ()
{
    printf '%s\n' \
        "From: Crash Test <crash@example.org>" \
        "To: Test User <test@example.org>" \
        "Subject: t501 message $1" \
        "Date: Tue, 2 Jan 2024 10:00:00 +0000" \
        "Message-ID: <$1@t501.nmsync.test>" \
        "MIME-Version: 1.0" \
        "Content-Type: text/plain; charset=us-ascii" \
        "" \
        "Body of $1." \
        >"$MSGS/$1"
}

for m in m1 m2 m3 m4 m5 m6 m7 m8 a1 a2 a3 s1 s2 l1 l2; do
    make_msg "$m"
done

# ---- the scenario ------------------------------------------------------------------------

# Expected end state, by Message-ID (m3 expunged on the server, m6 deleted locally, m7 moved
# locally from INBOX to Archive, s* new on the server, l* new locally).
WANT_INBOX="l1 m1 m2 m4 m5 m8 s1"
WANT_ARCHIVE="a1 a2 a3 l2 m7 s2"

# Builds the scenario and snapshots it: seed, the first sync, then changes on both sides not
# synced yet. Bails out when a step fails: every later check would be meaningless.
build_scenario ()
{
    local f
    dovecot_seed --flags '\Seen' INBOX "$MSGS"/m{1,2,3,4,5,6} || bail_out "seeding INBOX"
    dovecot_seed INBOX "$MSGS/m7" "$MSGS/m8" || bail_out "seeding INBOX"
    dovecot_seed --flags '\Seen' "$ARCHIVE" "$MSGS"/a{1,2,3} || bail_out "seeding $ARCHIVE"
    # One connection: step N is then the same point in every run, and a crash at a step never
    # also cuts short another folder's download in parallel (whose files, left in tmp/, would
    # fail "nothing left in tmp/"); parallel workers under kill -9 are t502's business.
    nmsync_setup_dovecot "connections = 1"
    nmsync_run sync
    [ "$NMS_RC" = 0 ] || bail_out "scenario: the first sync exited $NMS_RC"
    [ "$(local_count INBOX) $(local_count "$ARCHIVE")" = "8 3" ] ||
        bail_out "scenario: the first sync did not bring 8 + 3 messages"

    # The server: a flag added, a flag removed, a flag added where the local side adds
    # another, an expunge, a new message in each folder.
    dv flags add '\Flagged' mailbox INBOX uid 1 || bail_out "scenario: server changes"
    dv flags remove '\Seen' mailbox INBOX uid 2 || bail_out "scenario: server changes"
    dv flags add '\Answered' mailbox INBOX uid 8 || bail_out "scenario: server changes"
    dv expunge mailbox INBOX uid 3 || bail_out "scenario: server changes"
    dovecot_seed INBOX "$MSGS/s1" || bail_out "scenario: new server messages"
    dovecot_seed "$ARCHIVE" "$MSGS/s2" || bail_out "scenario: new server messages"

    # The local side: a flag added, a flag removed (two different STOREs), a flag added on
    # the message the server changed too, a deletion, a new file per folder (no ",U="), and a
    # move from INBOX to Archive keeping the name.
    {
        f=$(local_file INBOX 4) && [ -n "$f" ] && mv "$f" "${f%:2,*}:2,FS" &&
            f=$(local_file INBOX 5) && [ -n "$f" ] && mv "$f" "${f%:2,*}:2," &&
            f=$(local_file INBOX 8) && [ -n "$f" ] && mv "$f" "${f%:2,*}:2,F" &&
            f=$(local_file INBOX 6) && [ -n "$f" ] && rm "$f" &&
            cp "$MSGS/l1" "$NMS_MAILDIR/cur/1704189600.M1P501.t501host:2,S" &&
            cp "$MSGS/l2" "$(local_dir "$ARCHIVE")/cur/1704189601.M2P501.t501host:2," &&
            f=$(local_file INBOX 7) && [ -n "$f" ] && mv "$f" "$(local_dir "$ARCHIVE")/cur/"
    } || bail_out "scenario: local changes"

    server_idle || bail_out "scenario: Dovecot's imap processes do not go away"
    cp -a "$DOVECOT_MAILDIR" "$SNAP/server" || bail_out "scenario: cannot snapshot"
    cp -a "$NMS_HOME" "$SNAP/home" || bail_out "scenario: cannot snapshot"
}

# No imap process of our Dovecot is left (each serves one session, then exits): nothing
# writes to the server's Maildir while it is swapped.
_server_has_imap ()
{
    local mpid
    mpid=$(cat "$DOVECOT_DIR/run/master.pid") || return 1
    pgrep -x -P "$mpid" imap >/dev/null
}

server_idle ()
{
    wait_for "Dovecot's imap processes to exit" 10 eval '! _server_has_imap'
}

# Puts the scenario back as it was before its sync.
restore_scenario ()
{
    server_idle || bail_out "restore: Dovecot's imap processes do not go away"
    rm -rf "$DOVECOT_MAILDIR" "$NMS_HOME" || bail_out "restore: cannot remove the last run"
    cp -a "$SNAP/server" "$DOVECOT_MAILDIR" || bail_out "restore: cannot copy the server back"
    cp -a "$SNAP/home" "$NMS_HOME" || bail_out "restore: cannot copy the nmsync home back"
    state_rebind_dirs
}

# ---- the end state -----------------------------------------------------------------------

# The canonical end state: per side and folder "sha256 [letters] message-id", sorted, then how
# many times each Message-ID occurs on each side (over all folders).
digest ()
{
    local all
    all=$({
        [ -z "$SRV" ] || printf '%s\n' "$SRV" | awk '{ print "server", $1, $3, $4, $5 }'
        [ -z "$LOC" ] || printf '%s\n' "$LOC" | awk '{ print "local", $1, $3, $4, $5 }'
    } | LC_ALL=C sort)
    printf '%s\n' "$all"
    printf '%s\n' "$all" | awk 'NF { n[$1 " " $5]++ } END { for (k in n) print "count", k, "x" n[k] }' |
        LC_ALL=C sort
}

# Short names (m1, s2, ...) of the Message-IDs SIDE holds in FOLDER, sorted, on one line.
ids_in ()
{
    printf '%s\n' "$DIGEST" | awk -v s="$1" -v f="$2" '$1 == s && $2 == f { print $5 }' |
        sed 's/^<\(.*\)@t501\.nmsync\.test>$/\1/' | LC_ALL=C sort | paste -sd' ' -
}

# DIGEST equals REFERENCE; else prints the difference ("-" uninterrupted run, "+" this one).
same_as_reference ()
{
    [ "$DIGEST" != "$REFERENCE" ] || return 0
    echo "- uninterrupted run, + this run:"
    diff <(printf '%s\n' "$REFERENCE") <(printf '%s\n' "$DIGEST") | sed -n 's/^</-/p; s/^>/+/p'
    return 1
}

# ---- the invariants after a run ----------------------------------------------------------

# ---- the reference: one uninterrupted run ------------------------------------------------

started=$SECONDS
dovecot_start
build_scenario
restore_scenario
nmsync_run sync
check_eq "uninterrupted run: exit 0" 0 "$NMS_RC"
check "uninterrupted run: no folder created or gone" no_folder_events
collect_sides
REFERENCE=$(digest)
DIGEST=$REFERENCE
for side in server local; do
    check_eq "uninterrupted run: $side INBOX holds the expected messages" \
        "$WANT_INBOX" "$(ids_in $side INBOX)"
    check_eq "uninterrupted run: $side $ARCHIVE holds the expected messages" \
        "$WANT_ARCHIVE" "$(ids_in $side "$ARCHIVE")"
done
check_eq "uninterrupted run: every Message-ID once per side" "" \
    "$(printf '%s\n' "$REFERENCE" | grep '^count ' | grep -v ' x1$')"
for side in server local; do
    check_eq "uninterrupted run: $side flags merged (by Message-ID)" \
        "a1:S a2:S a3:S l1:S l2: m1:FS m2: m4:FS m5: m7: m8:FR s1: s2:" \
        "$(printf '%s\n' "$REFERENCE" | awk -v s=$side '$1 == s { print $5, $4 }' |
            sed 's/^<\(.*\)@t501\.nmsync\.test> \[\(.*\)\]$/\1:\2/' | LC_ALL=C sort | paste -sd' ' -)"
done
check "uninterrupted run: nothing left in tmp/" no_tmp_leftovers
check "uninterrupted run: every local file uploaded" all_uploaded
check "uninterrupted run: local and server agree UID by UID" agree_by_uid
diag "setup and uninterrupted run: $((SECONDS - started))s"

# ---- kill at every step ------------------------------------------------------------------

loop_start=$SECONDS
points=0
last_rc=""
for ((n = 1; n <= MAX_N; n++)); do
    if [ $((SECONDS - loop_start)) -gt "$TIME_BUDGET" ]; then
        diag "time budget of ${TIME_BUDGET}s used up before N=$n"
        # A loaded machine: the steps left are not killed, but the run past the last step
        # must still be one that is not killed and exits 0.
        restore_scenario
        NMSYNC_TEST_CRASH_AFTER=100000 nmsync_run sync 2>/dev/null
        last_rc=$NMS_RC
        break
    fi
    restore_scenario
    # (stderr: bash's "Killed" notice for the self-killed nmsync.)
    NMSYNC_TEST_CRASH_AFTER=$n nmsync_run sync 2>/dev/null
    last_rc=$NMS_RC
    if [ "$NMS_RC" != 137 ]; then
        break # fewer than N steps: the hook was never reached
    fi
    points=$((points + 1))
    # The first resume must finish the job: exit 0. Exit 1 would mean something was skipped
    # (named on stderr), i.e. the run after the crash did not converge, which DESIGN.md 7
    # promises. Then a second resume runs all the same, so that the comparison below shows
    # whether the end state converges at all.
    nmsync_run sync
    resumes=$NMS_RC
    if [ "$NMS_RC" != 0 ]; then
        nmsync_run sync
        resumes+=" $NMS_RC"
    fi
    check_eq "N=$n: killed at step $n, the first resume exits 0" 0 "$resumes"
    check "N=$n: the resume created no folder and found none gone" no_folder_events
    collect_sides
    DIGEST=$(digest)
    check "N=$n: end state equals the uninterrupted run" same_as_reference
    if [ "$DIGEST" != "$REFERENCE" ]; then
        cp -a "$DOVECOT_MAILDIR" "$TAP_ROOT/failed-$n-server"
        cp -a "$NMS_HOME" "$TAP_ROOT/failed-$n-home"
        diag "N=$n: kept as $TAP_ROOT/failed-$n-{server,home} (NMSYNC_KEEP_TMP=1 keeps them)"
    fi
    check "N=$n: nothing left in tmp/" no_tmp_leftovers
    check "N=$n: every local file uploaded" all_uploaded
    check "N=$n: local and server agree UID by UID" agree_by_uid
done
diag "crash points: $points; crash loop: $((SECONDS - loop_start))s; whole test: ${SECONDS}s"
check_eq "with N past the last step the run is not killed and exits 0" 0 "$last_rc"
check "more than $MIN_POINTS crash points exercised ($points)" test "$points" -gt "$MIN_POINTS"

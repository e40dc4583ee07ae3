#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync apply` and `nmsync sync` started together (the notmuch post-new hook and a systemd
# timer make that likely; issue 10 item 4). 400 messages in INBOX; in each of 4 rounds 100 of
# them are tagged spam, then apply and sync start at nearly the same time (which one first
# alternates, with a random head start), with server-side flag changes so that the sync has
# INBOX and Junk to look at. Then two more syncs. After it: every one of the 400 Message-IDs
# exactly once on the server, in Junk, as the same message (Dovecot GUID and INTERNALDATE
# unchanged: moved, not uploaded again), exactly once in the Maildir (.Junk), INBOX empty on
# both sides, and every filename notmuch lists exists. Before the fix, apply took no lock: the
# sync saw files vanish from INBOX and appear in Junk mid-run, uploaded them to Junk as new
# messages and (guard permitting) expunged or kept the originals: duplicates for good.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
N=400
ROUNDS=4
SEED=${NMSYNC_TEST_SEED:-$(date +%s)}
RANDOM=$SEED
diag "random seed: $SEED (NMSYNC_TEST_SEED=$SEED reproduces the head starts)"

MSGS=$(tap_tmpdir)
for ((i = 1; i <= N; i++)); do
    printf 'From: a@example.org\nTo: me@example.org\nSubject: race %s\nMessage-ID: <race%s@nmsync.test>\n\nbody %s\n' \
        "$i" "$i" "$i" >"$MSGS/$i.eml"
done
dovecot_start
# doveadm save in chunks (argument lists stay short).
for ((i = 1; i <= N; i += 100)); do
    dovecot_seed INBOX $(seq -f "$MSGS/%g.eml" "$i" $((i + 99))) >/dev/null || bail_out "seeding"
done
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run sync
[ "$NMS_RC" = 0 ] || bail_out "the first sync exited $NMS_RC"
nmsync_run apply
[ "$NMS_RC" = 0 ] || bail_out "the first apply exited $NMS_RC"
[ "$(local_count INBOX)" = "$N" ] || bail_out "the first sync did not bring $N messages"

# "message-id guid internaldate" of every server message of FOLDER, sorted by id.
server_ids () {
    dv -f tab fetch 'hdr.message-id guid date.received' mailbox "$1" all | tail -n +2 |
        tr -d '<>' | awk -F'\t' '{ print $1, $2, $3 }' | LC_ALL=C sort
}
ORIGINAL=$(server_ids INBOX)

run_race () {
    local round=$1 head=$((RANDOM % 400)) apply_pid sync_pid rc_apply=0 rc_sync=0
    if ((round % 2)); then
        "$NMSYNC" -c "$NMS_CONFIG" apply >"$NMS_HOME/race-apply.$round" 2>&1 &
        apply_pid=$!
        sleep "0.$(printf '%03d' "$head")"
        "$NMSYNC" -c "$NMS_CONFIG" sync >"$NMS_HOME/race-sync.$round" 2>&1 &
        sync_pid=$!
    else
        "$NMSYNC" -c "$NMS_CONFIG" sync >"$NMS_HOME/race-sync.$round" 2>&1 &
        sync_pid=$!
        sleep "0.$(printf '%03d' "$head")"
        "$NMSYNC" -c "$NMS_CONFIG" apply >"$NMS_HOME/race-apply.$round" 2>&1 &
        apply_pid=$!
    fi
    wait "$apply_pid" || rc_apply=$?
    wait "$sync_pid" || rc_sync=$?
    check_eq "round $round (head start ${head} ms): apply and sync both exit 0" "0 0" "$rc_apply $rc_sync"
    [ "$rc_apply $rc_sync" = "0 0" ] ||
        diag "$(tail -n 5 "$NMS_HOME/race-apply.$round" "$NMS_HOME/race-sync.$round")"
}

for ((r = 1; r <= ROUNDS; r++)); do
    first=$(((r - 1) * N / ROUNDS + 1))
    last=$((r * N / ROUNDS))
    notmuch tag +spam -- $(seq -f 'id:race%g@nmsync.test' "$first" "$last")
    # Something for the sync to do in both folders, so neither is skipped as unchanged.
    dv flags add '\Flagged' mailbox INBOX uid "$r" 2>/dev/null
    [ "$(imap_count Junk)" = 0 ] || dv flags add '\Answered' mailbox Junk uid 1:* 2>/dev/null
    run_race "$r"
done
nmsync_run sync
check_eq "converging: first sync exits 0" 0 "$NMS_RC"
nmsync_run sync
check_eq "converging: second sync exits 0" 0 "$NMS_RC"

check_eq "server: INBOX empty" 0 "$(imap_count INBOX)"
check_eq "server: Junk holds exactly the $N messages" "$N" "$(imap_count Junk)"
now=$(server_ids Junk)
check_eq "server: each Message-ID exactly once in Junk" "" \
    "$(printf '%s\n' "$now" | awk '{ print $1 }' | uniq -d | head -n 5)"
check_eq "server: every message is the original (same GUID and INTERNALDATE: moved, not uploaded)" \
    "0 of $N differ" \
    "$(diff <(printf '%s\n' "$ORIGINAL") <(printf '%s\n' "$now") | grep -c '^<') of $N differ"
check_eq "Maildir: INBOX empty" 0 "$(local_count INBOX)"
check_eq "Maildir: .Junk holds exactly the $N messages" "$N" "$(local_count Junk)"
check_eq "Maildir: each Message-ID once" "" \
    "$(find "$NMS_MAILDIR" -path '*/cur/*' -o -path '*/new/*' -type f | xargs sed -n 's/^Message-ID: //p' | sort | uniq -d)"
missing=$(notmuch search --output=files '*' | while IFS= read -r p; do [ -e "$p" ] || echo "$p"; done)
check_eq "notmuch: every filename it lists exists" "" "$missing"
check_eq "notmuch: $N messages" "$N" "$(notmuch count '*')"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A mail client (or an apply of an older nmsync, which took no lock) moves files from INBOX to
# Junk while a sync runs: a move must stay a move, never an expunge plus an upload. 400
# messages in INBOX; in each of 4 rounds a sync starts and, after a random head start, a
# "client" moves 100 files to .Junk/cur one by one (rounds 1 and 3 drop ",U=" as apply does,
# rounds 2 and 4 keep it as a careless client would), with server-side flag changes so that
# the sync has INBOX and Junk to look at. Then two more syncs. After it: every Message-ID
# exactly once on the server, in Junk, as the same message (Dovecot GUID and INTERNALDATE
# unchanged), exactly once in the Maildir, INBOX empty on both sides. The sync that sees a
# file vanish from INBOX while its unique part is in Junk leaves the server alone for the next
# run, which moves it (vanished.c); the one that finds in Junk a file whose unique part the
# state places in INBOX does not upload it nor pair its ",U=" with a Junk UID (folder.c).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

N=400
ROUNDS=4
SEED=${NMSYNC_TEST_SEED:-$(date +%s)}
RANDOM=$SEED
diag "random seed: $SEED (NMSYNC_TEST_SEED=$SEED reproduces the head starts)"

MSGS=$(tap_tmpdir)
for ((i = 1; i <= N; i++)); do
    printf 'From: a@example.org\nTo: me@example.org\nSubject: moved %s\nMessage-ID: <mv%s@nmsync.test>\n\nbody %s\n' \
        "$i" "$i" "$i" >"$MSGS/$i.eml"
done
dovecot_start
for ((i = 1; i <= N; i += 100)); do
    dovecot_seed INBOX $(seq -f "$MSGS/%g.eml" "$i" $((i + 99))) >/dev/null || bail_out "seeding"
done
nmsync_setup_dovecot
nmsync_run sync
[ "$NMS_RC" = 0 ] || bail_out "the first sync exited $NMS_RC"
[ "$(local_count INBOX)" = "$N" ] || bail_out "the first sync did not bring $N messages"
nmsync_run sync
[ "$(local_count Junk)" = 0 ] || bail_out "Junk is not empty"

server_ids () {
    dv -f tab fetch 'hdr.message-id guid date.received' mailbox "$1" all | tail -n +2 |
        tr -d '<>' | awk -F'\t' '{ print $1, $2, $3 }' | LC_ALL=C sort
}
ORIGINAL=$(server_ids INBOX)

# move_files ROUND: moves the files of messages mv<first>..mv<last> from INBOX to .Junk/cur.
# The sync renames files meanwhile (flag changes), so a file may change its name between the
# look-up and the mv: the client looks again, a bounded number of times, as a mail client
# would; every file is moved in the end (or the test says which one was not).
move_files () {
    local r=$1 i f name try
    for ((i = (r - 1) * N / ROUNDS + 1; i <= r * N / ROUNDS; i++)); do
        for ((try = 0; try < 50; try++)); do
            f=$(grep -l -m1 "^Message-ID: <mv$i@" "$NMS_MAILDIR"/cur/* "$NMS_MAILDIR"/new/* 2>/dev/null | head -n 1)
            if [ -n "$f" ]; then
                name=${f##*/}
                ((r % 2)) && name=$(printf '%s' "$name" | sed 's/,U=[0-9]*//')
                mv "$f" "$NMS_MAILDIR/.Junk/cur/$name" 2>/dev/null && break
            fi
            sleep 0.02
        done
        ((try < 50)) || diag "the client could not find mv$i in INBOX to move it"
    done
}

for ((r = 1; r <= ROUNDS; r++)); do
    head=$((RANDOM % 300))
    dv flags add '\Flagged' mailbox INBOX uid "$r" 2>/dev/null
    [ "$(imap_count Junk)" = 0 ] || dv flags add '\Answered' mailbox Junk uid 1:* 2>/dev/null
    "$NMSYNC" -c "$NMS_CONFIG" sync >"$NMS_HOME/race-sync.$r" 2>&1 &
    sync_pid=$!
    sleep "0.$(printf '%03d' "$head")"
    move_files "$r"
    rc=0
    wait "$sync_pid" || rc=$?
    check "round $r (head start ${head} ms): the sync exits 0 or 1" test "$rc" -le 1
done
for s in 1 2; do
    nmsync_run sync
    check_eq "converging: sync $s exits 0" 0 "$NMS_RC"
done

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
check_eq "Maildir: no UID carried twice in Junk" "" "$(dup_uids Junk)"
collect_sides
check "local and server agree UID by UID" agree_by_uid

# A copy is not a move: a file copied from Junk to INBOX is uploaded as a new message; when
# the copy is deleted, it is deleted on the server too (Junk's file, which Junk's state knows,
# does not make it look moved).
f=$(find "$NMS_MAILDIR/.Junk/cur" -type f | head -n 1)
name=${f##*/}
cp "$f" "$NMS_MAILDIR/cur/$(printf '%s' "$name" | sed 's/,U=[0-9]*//')"
nmsync_run sync
check_eq "copy: sync exits 0" 0 "$NMS_RC"
check_eq "copy: uploaded to the server's INBOX" 1 "$(imap_count INBOX)"
rm -f "$NMS_MAILDIR"/cur/* "$NMS_MAILDIR"/new/*
nmsync_run sync
check_eq "copy deleted: sync exits 0" 0 "$NMS_RC"
check_eq "copy deleted: expunged from the server's INBOX" 0 "$(imap_count INBOX)"
check_eq "copy deleted: Junk keeps its $N" "$N" "$(imap_count Junk)"
check_eq "copy deleted: no message said it was moved" "" "$(grep 'by another program' "$NMS_ERR")"

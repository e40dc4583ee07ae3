#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Random kill of an apply moving 1,000 messages (issue 10 item 8): a real `kill -9` from
# outside after a random delay, several rounds from the same starting point, each followed by
# a plain apply. After it: exit 0, every message exactly once on disk and in Junk with the
# rule's flags, every filename notmuch lists exists, every file is indexed (`notmuch new`
# finds nothing), and the tags are those of an uninterrupted apply. Before the fix the next
# apply failed with "cannot open ...: No such file or directory" for every message moved but
# not yet committed to notmuch (exit 1), and notmuch kept the stale filenames.
# The delays come from bash's RANDOM seeded with $NMSYNC_TEST_SEED (or the date).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
N_MSGS=1000
ROUNDS=5
SEED=${NMSYNC_TEST_SEED:-$(date +%s)}
RANDOM=$SEED
diag "random seed: $SEED (NMSYNC_TEST_SEED=$SEED reproduces the delays)"
SNAP=$(tap_tmpdir)

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = nobody
password = unused
EOF2
mkdir -p "$NMS_MAILDIR"/{cur,new,tmp} "$NMS_MAILDIR"/.Junk/{cur,new,tmp}
for ((i = 1; i <= N_MSGS; i++)); do
    printf 'From: a@example.org\nSubject: %s\nMessage-ID: <r%s@nmsync.test>\n\nbody %s\n' \
        "$i" "$i" "$i" >"$NMS_MAILDIR/cur/$((1700000000 + i)).M${i}P1.host,U=$i:2,S"
done
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run apply
[ "$NMS_RC" = 0 ] || bail_out "the first apply exited $NMS_RC"
notmuch tag +spam -- '*'
cp -a "$NMS_HOME" "$SNAP/home" || bail_out "cannot snapshot"
restore () {
    rm -rf "$NMS_HOME" && cp -a "$SNAP/home" "$NMS_HOME" || bail_out "cannot restore"
}
stale_filenames () {
    notmuch search --output=files '*' | while IFS= read -r p; do [ -e "$p" ] || echo "stale: $p"; done
}
dup_ids () {
    find "$NMS_MAILDIR"/cur "$NMS_MAILDIR"/new "$NMS_MAILDIR"/.Junk/cur "$NMS_MAILDIR"/.Junk/new \
        -type f -exec sed -n 's/^Message-ID: //p' {} + | sort | uniq -d
}
tags () { notmuch dump --include=tags '*' | grep -v '^#' | LC_ALL=C sort; }

restore
t0=$(date +%s%N)
nmsync_run apply
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "uninterrupted apply: exit 0" 0 "$NMS_RC"
check_eq "uninterrupted apply: all $N_MSGS in Junk" "$N_MSGS" "$(local_count Junk)"
REFERENCE=$(tags)
diag "uninterrupted apply of $N_MSGS moves: ${ms} ms"

for ((r = 1; r <= ROUNDS; r++)); do
    restore
    delay=$((RANDOM % (ms > 50 ? ms : 50)))
    "$NMSYNC" -c "$NMS_CONFIG" apply >/dev/null 2>&1 &
    pid=$!
    sleep "$((delay / 1000)).$(printf '%03d' $((delay % 1000)))"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    moved=$(local_count Junk)
    nmsync_run apply
    check_eq "round $r: killed after ${delay} ms ($moved moved by then): the next apply exits 0" 0 "$NMS_RC"
    check_eq "round $r: all $N_MSGS in Junk" "$N_MSGS" "$(local_count Junk)"
    check_eq "round $r: INBOX empty" 0 "$(local_count INBOX)"
    check_eq "round $r: every message once on disk" "" "$(dup_ids)"
    check_eq "round $r: every filename notmuch lists exists" "" "$(stale_filenames | head -n 5)"
    check_match "round $r: notmuch new finds nothing to do" "No new mail\.$" "$(notmuch new 2>&1)"
    check "round $r: tags as after the uninterrupted apply" test "$(tags)" = "$REFERENCE"
done

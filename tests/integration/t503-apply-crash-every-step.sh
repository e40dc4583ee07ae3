#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Kill -9 at every step of an apply (NMSYNC_TEST_CRASH_AFTER=N for N = 1, 2, ...), run apply
# again, and compare with an uninterrupted apply. The workload: moves to Junk (the spam rule,
# which also changes flags and tags), flag changes from tags (flagged, replied, unread) and a
# message whose tags change without any file change, and a file renamed by another program
# that notmuch has not seen yet. notmuch commits only when apply closes
# the database, so a kill leaves it listing the old filename of every file the run renamed:
# the next apply must find those files again. After each resume: exit 0, every Message-ID
# exactly once on disk, in the folder and with the flags of the uninterrupted run, the same
# tags, every filename notmuch lists exists and every file is indexed (a `notmuch new` then
# finds nothing to do). Before the fix the resume failed with "cannot open ...: No such file
# or directory" (exit 1) and notmuch kept the stale filenames.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
MAX_N=80
MIN_POINTS=10
SNAP=$(tap_tmpdir)

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = nobody
password = unused
EOF2
mkdir -p "$NMS_MAILDIR"/{cur,new,tmp} "$NMS_MAILDIR"/.Junk/{cur,new,tmp}
for i in 1 2 3 4 5 6 7 8; do
    mail_file "$NMS_MAILDIR/cur/170000000$i.M${i}P1.host,U=$i:2,S" "m$i"
done
mail_file "$NMS_MAILDIR/new/1700000009.M9P1.host,U=9" m9
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run apply
[ "$NMS_RC" = 0 ] || bail_out "the first apply exited $NMS_RC"
notmuch tag +spam -- id:m1@nmsync.test id:m2@nmsync.test id:m3@nmsync.test
notmuch tag +flagged -- id:m4@nmsync.test
notmuch tag +replied -- id:m5@nmsync.test
notmuch tag -unread -- id:m9@nmsync.test
notmuch tag +spam -- id:m6@nmsync.test
notmuch tag -spam -- id:m6@nmsync.test
# A file another program renamed behind notmuch's back, whose tags change too: the apply
# first updates notmuch's filename (a step of its own), then the flags.
mv "$NMS_MAILDIR/cur/1700000007.M7P1.host,U=7:2,S" "$NMS_MAILDIR/cur/1700000007.M7P1.host,U=77:2,S"
notmuch tag +flagged -- id:m7@nmsync.test
cp -a "$NMS_HOME" "$SNAP/home" || bail_out "cannot snapshot"

restore () {
    rm -rf "$NMS_HOME" && cp -a "$SNAP/home" "$NMS_HOME" || bail_out "cannot restore"
}

# Per Message-ID: folder and flags of its file(s), then its tags.
end_state () {
    local f dir file
    while IFS=$'\t' read -r f dir; do
        for file in "$dir"/cur/* "$dir"/new/*; do
            [ -f "$file" ] || continue
            printf '%s %s %s\n' "$(sed -n 's/^Message-ID: <\(.*\)@nmsync.test>$/\1/p' "$file")" \
                "$f/${file%/*}" "${file##*:2,}" | sed "s|$dir/||"
        done
    done < <(local_folders) | LC_ALL=C sort
    notmuch dump --include=tags '*' | grep -v '^#' | LC_ALL=C sort
}

stale_filenames () {
    notmuch search --output=files '*' | while IFS= read -r p; do [ -e "$p" ] || echo "stale: $p"; done
}

restore
nmsync_run apply
check_eq "uninterrupted apply: exit 0" 0 "$NMS_RC"
REFERENCE=$(end_state)
check_eq "uninterrupted apply: three messages in Junk" 3 "$(local_count Junk)"
check_eq "uninterrupted apply: no stale filename" "" "$(stale_filenames)"

points=0
last_rc=""
for ((n = 1; n <= MAX_N; n++)); do
    restore
    NMSYNC_TEST_CRASH_AFTER=$n nmsync_run apply 2>/dev/null
    last_rc=$NMS_RC
    [ "$NMS_RC" = 137 ] || break
    points=$((points + 1))
    nmsync_run apply
    check_eq "N=$n: killed at step $n, the next apply exits 0" 0 "$NMS_RC"
    state=$(end_state)
    if [ "$state" = "$REFERENCE" ]; then
        check "N=$n: files, flags and tags as after the uninterrupted apply" true
    else
        check_eq "N=$n: files, flags and tags as after the uninterrupted apply" "$REFERENCE" "$state"
    fi
    check_eq "N=$n: every Message-ID once on disk" "" \
        "$(printf '%s\n' "$state" | awk '$2 ~ /\/(cur|new)$/ { print $1 }' | uniq -d)"
    check_eq "N=$n: every filename notmuch lists exists" "" "$(stale_filenames)"
    check_match "N=$n: notmuch new finds nothing to do" "No new mail\.$" "$(notmuch new 2>&1)"
done
diag "crash points: $points"
check_eq "with N past the last step apply is not killed and exits 0" 0 "$last_rc"
check "more than $MIN_POINTS crash points exercised ($points)" test "$points" -gt "$MIN_POINTS"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync apply` works a batch of 500 messages at a time (renames, one fsync per directory,
# then notmuch in one atomic section): 600 messages, 550 tagged spam (moved to Junk, with
# the $Junk keyword letter and the spam tags) and 50 tagged flagged (renamed in place), so the
# run has three batches. Uninterrupted: all 550 in Junk, the 50 with F, every file indexed
# under its new name. Killed at steps inside and on the edges of each batch (a rename, the
# directory fsyncs, notmuch's part, the first step of the next batch), then resumed: exit 0,
# the same files, flags and tags as the uninterrupted run, every Message-ID once on disk,
# no stale filename in notmuch and nothing left for `notmuch new`.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
SNAP=$(tap_tmpdir)

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = nobody
password = unused
EOF2
mkdir -p "$NMS_MAILDIR"/{cur,new,tmp} "$NMS_MAILDIR"/.Junk/{cur,new,tmp}
for ((i = 1; i <= 600; i++)); do
    printf 'From: w@example.org\nSubject: m%d\nMessage-ID: <m%d@nmsync.test>\n\nbody %d\n' \
        "$i" "$i" "$i" >"$NMS_MAILDIR/cur/1700000000.M${i}P1.host,U=$i:2,S"
done
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run apply
[ "$NMS_RC" = 0 ] || bail_out "the first apply exited $NMS_RC"
for ((i = 1; i <= 600; i++)); do
    if [ "$i" -le 550 ]; then echo "+spam -- id:m$i@nmsync.test"; else echo "+flagged -- id:m$i@nmsync.test"; fi
done | notmuch tag --batch
cp -a "$NMS_HOME" "$SNAP/home" || bail_out "cannot snapshot"

restore () {
    rm -rf "$NMS_HOME" && cp -a "$SNAP/home" "$NMS_HOME" || bail_out "cannot restore"
}

# Per Message-ID: folder and flags of its file(s), then its tags (one grep per folder: 600
# files).
end_state () {
    local f dir
    while IFS=$'\t' read -r f dir; do
        find "$dir/cur" "$dir/new" -maxdepth 1 -type f -print0 |
            xargs -0 -r grep -H '^Message-ID: <' |
            awk -v f="$f" -v dir="$dir/" '{
                path = substr($0, 1, index($0, ":Message-ID: <") - 1)
                id = substr($0, index($0, ":Message-ID: <") + 14); sub(/@nmsync.test>$/, "", id)
                path = substr(path, length(dir) + 1); sd = path; sub(/\/.*/, "", sd)
                flags = path; sub(/.*:2,/, "", flags)
                print id, f "/" sd, flags
            }'
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
check_eq "uninterrupted apply: 600 files listed, each in cur/" 600 \
    "$(printf '%s\n' "$REFERENCE" | awk '$2 ~ /\/cur$/' | wc -l)"
check_eq "uninterrupted apply: the 550 spam messages in Junk" 550 "$(local_count Junk)"
check_eq "uninterrupted apply: 50 left in INBOX" 50 "$(local_count INBOX)"
check_eq "uninterrupted apply: the 50 flagged ones carry F" 50 \
    "$(find "$NMS_MAILDIR/cur" -name '*:2,*F*' | wc -l)"
check_eq "uninterrupted apply: notmuch finds the 550 in Junk" 550 \
    "$(notmuch count -- tag:spam and folder:.Junk)"
check_eq "uninterrupted apply: no stale filename" "" "$(stale_filenames)"
check_match "uninterrupted apply: notmuch new finds nothing to do" "No new mail\.$" "$(notmuch new 2>&1)"

# Steps: per batch one per rename, one for the directory fsyncs, one per message in notmuch:
# 1,001 for the first batch of 500, 201 for the second of 100.
for n in 250 501 800 1001 1002 1150; do
    restore
    NMSYNC_TEST_CRASH_AFTER=$n nmsync_run apply 2>/dev/null
    check_eq "N=$n: killed at step $n" 137 "$NMS_RC"
    nmsync_run apply
    check_eq "N=$n: the next apply exits 0" 0 "$NMS_RC"
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

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync -n apply` prints each move, flag and tag change the real apply then makes, and changes
# nothing: no file renamed, no notmuch change (tags, properties, revision), no state written,
# no state directory or lock file created. Three rounds on a Maildir nmsync never synced (as
# with mbsync): the first apply of all (every message an arrival, no state yet), tag changes
# that move files to Junk and change flags, and a file renamed behind notmuch's back (a stale
# filename the apply must find again). Each round compares the predicted lines ("would
# change ...") with what the real apply reports at -v ("changed ..."), line for line, and
# checks the disk against the prediction. Before the fix, `-n apply` crashed (exit 139) on a
# change without tags to add.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"

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

# Everything that must not change under -n.
snapshot () {
    local_state
    notmuch dump --include=tags --include=properties
    notmuch count --lastmod '*'
    if [ -d "$NMS_STATE" ]; then
        (cd "$NMS_STATE" && find . -printf '%p %y %s\n' | LC_ALL=C sort &&
            find . -type f -exec sha256sum {} + | LC_ALL=C sort)
    else
        echo "no state directory"
    fi
}

# The changes a run printed, without "would change " / "changed ", sorted.
changes () {
    sed -n "s/^$1 //p" "$2" | LC_ALL=C sort
}

# round NAME: -n apply, check nothing changed, real apply -v, compare.
round () {
    local name=$1 before predicted done
    before=$(snapshot)
    nmsync_run -n apply
    check_eq "$name: -n apply exits 0" 0 "$NMS_RC"
    predicted=$( { changes "would change" "$NMS_ERR"; changes "would update" "$NMS_ERR";
        changes "would remove" "$NMS_ERR"; } )
    check_eq "$name: -n apply changed nothing (files, notmuch, state)" "$before" "$(snapshot)"
    nmsync_run -v apply
    check_eq "$name: apply exits 0" 0 "$NMS_RC"
    done=$( { changes changed "$NMS_ERR"; changes updated "$NMS_ERR"; changes removed "$NMS_ERR"; } )
    check "$name: -n apply predicted something" test -n "$predicted"
    check_eq "$name: apply did exactly what -n apply predicted" "$predicted" "$done"
    PREDICTED=$predicted
}

# Round 1: no state yet: every message is an arrival whose place is recorded.
nmsync_run -n apply
check "first apply: the dry run created no state directory, no lock file" test ! -e "$NMS_STATE"
round "first apply"
check_eq "first apply: 9 predictions, one per message" 9 "$(printf '%s\n' "$PREDICTED" | grep -c '^id:')"

# Round 2: tags that move files and change flags.
notmuch tag +spam -- id:m2@nmsync.test id:m3@nmsync.test
notmuch tag +flagged -- id:m4@nmsync.test
notmuch tag -unread -- id:m9@nmsync.test
notmuch tag +replied -- id:m5@nmsync.test
round "tags changed"
check_match "tags changed: m2 predicted to move to Junk" \
    "id:m2@nmsync.test: folder 'INBOX' -> 'Junk'" "$PREDICTED"
check_eq "tags changed: the two spam messages are in .Junk/cur" 2 "$(local_count Junk)"
check "tags changed: m4's file carries F" test -n "$(find "$NMS_MAILDIR/cur" -name '1700000004.*:2,FS')"
check "tags changed: m9's file moved to cur/ with S" test -n "$(find "$NMS_MAILDIR/cur" -name '1700000009.*:2,S')"

# Round 3: a file renamed by another program (notmuch not told) and a tag change on it.
f=$(find "$NMS_MAILDIR/cur" -name '1700000006.*')
mv "$f" "$NMS_MAILDIR/cur/1700000006.M6P1.host,U=66:2,S"
notmuch tag +flagged -- id:m6@nmsync.test
round "stale filename"
check_match "stale filename: predicted notmuch's filename update" \
    "id:m6@nmsync.test: notmuch's filename '.*,U=6:2,S' -> '.*,U=66:2,S'" "$PREDICTED"
check "stale filename: m6 carries F" test -n "$(find "$NMS_MAILDIR/cur" -name '1700000006.*,U=66:2,FS')"
missing=$(notmuch search --output=files '*' | while IFS= read -r p; do [ -e "$p" ] || echo "$p"; done)
check_eq "stale filename: every filename notmuch lists exists" "" "$missing"

nmsync_run -n apply
check_eq "afterwards: -n apply predicts nothing" "" "$(changes 'would change' "$NMS_ERR")"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync apply on a few thousand messages: the first run settles everything, a second run looks
# at nothing and changes nothing; 100 messages tagged spam move (and only they), and the run
# after that changes nothing again; notmuch's index stays in step throughout.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
inbox=2000
junk=200
nmsync_setup <<EOF2
tunnel = true
EOF2
for f in "" .Junk; do
    mkdir -p "$NMS_MAILDIR/$f/cur" "$NMS_MAILDIR/$f/new" "$NMS_MAILDIR/$f/tmp"
done
# Files as a sync would have left them: seen ones in cur/ with ",U=", a few unseen in new/.
awk -v dir="$NMS_MAILDIR" -v n="$inbox" -v junk="$junk" 'BEGIN {
    for (i = 1; i <= n + junk; i++) {
        d = i <= n ? dir : dir "/.Junk"
        sub_ = (i % 10 == 0) ? "new" : "cur"
        flags = (i % 10 == 0) ? "" : "S"
        f = sprintf("%s/%s/1700000000.M%dP1.host,U=%d:2,%s", d, sub_, i, i, flags)
        printf "From: sender%d@example.org\nTo: me@example.org\nSubject: message %d\nMessage-ID: <bulk%d@example.org>\n\nbody %d\n", i % 97, i, i, i > f
        close(f)
    }
}'
nmsync_notmuch
check_eq "notmuch indexed them all" $((inbox + junk)) "$(notmuch count '*')"
nmsync_rules default.rules spam.rules

nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"
check_match "first apply looks at every message" "^apply: $((inbox + junk)) messages looked at, 0 moved" "$(cat "$NMS_OUT")"
check_eq "messages in the junk folder got the rule's tags" "$junk" \
    "$(notmuch count 'folder:.Junk and tag:spam and not tag:inbox and not tag:unread')"
check_eq "nothing else got them" 0 "$(notmuch count 'not folder:.Junk and tag:spam')"

nmsync_run apply
check_match "second apply looks at nothing and changes nothing" \
    "^apply: 0 messages looked at, 0 moved, 0 flags changed, 0 tags changed" "$(cat "$NMS_OUT")"

notmuch tag +spam -- $(seq 1 100 | sed 's/.*/id:bulk&@example.org/' | paste -sd' ' | sed 's/ / or /g')
nmsync_run apply
check_eq "apply after tagging 100: exit 0" 0 "$NMS_RC"
check_match "exactly the 100 tagged messages moved" "^apply: 100 messages looked at, 100 moved" "$(cat "$NMS_OUT")"
check_eq "they are in .Junk/cur" $((junk + 100)) "$(find "$NMS_MAILDIR/.Junk/cur" "$NMS_MAILDIR/.Junk/new" -type f | wc -l)"
check_eq "none kept a ,U= of INBOX in the junk folder" "$junk" \
    "$(find "$NMS_MAILDIR/.Junk" -type f -name '*,U=*' | wc -l)"
check_eq "INBOX lost exactly them" $((inbox - 100)) "$(find "$NMS_MAILDIR/cur" "$NMS_MAILDIR/new" -type f | wc -l)"

nmsync_run apply
check_match "the run after changes nothing" \
    "^apply: 0 messages looked at, 0 moved, 0 flags changed, 0 tags changed" "$(cat "$NMS_OUT")"
check_match "notmuch's index is in step: 'notmuch new' finds nothing" "No new mail\.$" "$(notmuch new)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync apply --all re-evaluates every message after a rule change (afew's --all): a rule
# added for tag:work moves nothing with a plain apply (no tag changed since the last run), and
# `apply --all` moves every work message to Projects; -n --all says so first and changes
# nothing; a second --all changes nothing (idempotent); a message in another folder without
# the tag stays.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
nmsync_setup <<EOF2
tunnel = true
EOF2
for f in "" .Junk .Archive; do
    mkdir -p "$NMS_MAILDIR/$f/cur" "$NMS_MAILDIR/$f/new" "$NMS_MAILDIR/$f/tmp"
done
for i in 1 2 3; do
    mail_file "$NMS_MAILDIR/cur/170000000$i.M${i}P1.host:2,S" "all$i"
done
mail_file "$NMS_MAILDIR/.Archive/cur/1700000004.M4P1.host:2,S" all4
nmsync_notmuch
notmuch tag +work -- id:all1@nmsync.test id:all2@nmsync.test
RULES=$NMS_HOME/my.rules
cp "$NMSYNC_SRCDIR/rules/default.rules" "$RULES"
sed -i "/^\[general\]/a rules = $RULES" "$NMS_CONFIG"
nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"

printf '\n[folder Projects]\nmatch = tag:work\n' >>"$RULES"
nmsync_run apply
check_eq "after the rule change, a plain apply: exit 0" 0 "$NMS_RC"
check_eq "a plain apply moves nothing (no tag changed)" 0 "$(local_count Projects 2>/dev/null || echo 0)"

nmsync_run -n apply --all
check_eq "-n apply --all: exit 0" 0 "$NMS_RC"
check_eq "-n apply --all: would move the two work messages" 2 "$(grep -c "would change .*-> 'Projects'" "$NMS_ERR")"
check "-n apply --all: moved nothing" test ! -d "$NMS_MAILDIR/.Projects"

nmsync_run apply --all
check_eq "apply --all: exit 0" 0 "$NMS_RC"
check_eq "apply --all: the two work messages are in Projects" 2 "$(local_count Projects)"
check_eq "apply --all: INBOX keeps the other one" 1 "$(local_count INBOX)"
check_eq "apply --all: Archive keeps its message" 1 "$(local_count Archive)"
check_match "notmuch lists them in .Projects" "\.Projects/cur/.*\.Projects/cur/" \
    "$(notmuch search --output=files tag:work | paste -sd' ')"
nmsync_run apply --all
check_match "a second apply --all moves nothing" "0 moved" "$(cat "$NMS_OUT")"

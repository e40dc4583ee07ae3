#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rule files are found one way by every command: [general] rules, else notmuch's
# nmsync.rules setting. Before, only `apply` read nmsync.rules: `nmsync rules` said "no
# rules" (exit 2) and `sync` skipped the rules and their [keywords] silently (t410 (6) covers
# the sync). Without either, `rules` and `apply` are usage errors naming both places; `nmsync
# rules` reports an 'otherwise' that has no 'match'.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
nmsync_setup <<EOF2
tunnel = true
EOF2
for f in "" .Junk .Archive; do
    mkdir -p "$NMS_MAILDIR/$f/cur" "$NMS_MAILDIR/$f/new" "$NMS_MAILDIR/$f/tmp"
done
mail_file "$NMS_MAILDIR/cur/1700000000.M1P1.host:2,S" disc1
nmsync_notmuch

nmsync_run rules
check_eq "no rules anywhere: rules exit 2" 2 "$NMS_RC"
check_match "and it names both places" "nmsync.rules in notmuch's config" "$(cat "$NMS_ERR")"
nmsync_run apply
check_eq "no rules anywhere: apply exit 2" 2 "$NMS_RC"

notmuch config set nmsync.rules " $NMSYNC_SRCDIR/rules/default.rules ; $NMSYNC_SRCDIR/rules/spam.rules;"
nmsync_run rules
check_eq "rules from notmuch's nmsync.rules: rules exit 0" 0 "$NMS_RC"
check_match "and it checked them" "no problems" "$(cat "$NMS_OUT")"
nmsync_run apply
check_eq "rules from notmuch's nmsync.rules: apply exit 0" 0 "$NMS_RC"
notmuch tag +spam -- id:disc1@nmsync.test
nmsync_run apply
check_eq "apply with them moves a message tagged spam" 1 "$(local_count Junk)"

printf '[folder Archive]\notherwise = INBOX\n' >"$NMS_HOME/odd.rules"
notmuch config set nmsync.rules "$NMS_HOME/odd.rules"
nmsync_run rules
check_eq "'otherwise' without 'match': rules exit 1" 1 "$NMS_RC"
check_match "and says so, with file and line" "odd.rules:1: \[folder Archive\]: 'otherwise' has no effect without 'match'" \
    "$(cat "$NMS_OUT")"

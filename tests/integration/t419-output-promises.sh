#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# What nmsync(1) promises a new user about output, checked end to end:
# - `nmsync rules` says of a rule whose folder the server does not have yet that a sync creates
#   it; the sync then does (CREATE on the server) and files the message there;
# - the cron example: without -q a run with nothing to do prints nothing and a run that changed
#   something one summary line; with -q a run that changed something prints nothing, and an
#   account that cannot connect prints its error once and a summary line that says it failed.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
T=$(tap_tmpdir)
dovecot_start
mail_file "$T/w1.eml" work1
dovecot_seed INBOX "$T/w1.eml"
nmsync_setup_dovecot
nmsync_notmuch
printf '[folder Projects/nmsync]\nmatch = tag:work\n' >"$T/work.rules"
sed -i "/^\[general\]/a rules = $NMSYNC_SRCDIR/rules/default.rules;$T/work.rules" "$NMS_CONFIG"
server_has () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" 2>/dev/null | grep -c .; }

nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
nmsync_run rules
check_match "rules: the missing folder is named, with file and line" \
    "$T/work.rules:1: \[folder Projects/nmsync\]" "$(cat "$NMS_OUT")"
check_match "rules: says a sync creates it" "a sync creates it" "$(cat "$NMS_OUT")"
check "the server has no such folder yet" bash -c "! dv mailbox list | grep -q '^Projects/nmsync$'"
notmuch tag +work -- id:work1@nmsync.test
nmsync_run sync
check_eq "sync with the rule: exit 0" 0 "$NMS_RC"
check_eq "the folder was created on the server, the message is there" 1 "$(server_has Projects/nmsync work1)"
check_eq "and no longer in INBOX" 0 "$(server_has INBOX work1)"
check_match "the summary counts the created folder" "1 folder created" "$(cat "$NMS_OUT")"
nmsync_run rules
check "rules afterwards: that folder is no longer reported" bash -c "! grep -q 'Projects/nmsync' '$NMS_OUT'"

# The cron example of nmsync(1): `nmsync sync >> log 2>&1`, and what -q keeps.
nmsync_run sync
check_eq "cron, nothing to do: exit 0" 0 "$NMS_RC"
check_eq "cron, nothing to do: nothing printed" "" "$(cat "$NMS_OUT" "$NMS_ERR")"
dovecot_seed INBOX 1
nmsync_run sync
check_eq "cron, one new message: one summary line" 1 "$(cat "$NMS_OUT" "$NMS_ERR" | wc -l)"
dovecot_seed INBOX 1
nmsync_run -q sync
check_eq "-q, one new message: exit 0" 0 "$NMS_RC"
check_eq "-q, one new message: nothing printed" "" "$(cat "$NMS_OUT" "$NMS_ERR")"
check_eq "-q: the message still arrived (INBOX: 2, work1 went to Projects/nmsync)" 2 "$(local_count INBOX)"
cat >>"$NMS_CONFIG" <<EOF2

[account off]
host = 127.0.0.1
port = 1
tls = none
user = nobody
password = x
maildir = $NMS_HOME/Off
EOF2
nmsync_run -q sync
check_eq "-q, an account that cannot connect: exit 3" 3 "$NMS_RC"
check_eq "-q: its error, once" 1 "$(grep -c "cannot connect to '127.0.0.1:1'" "$NMS_ERR")"
check_match "-q: its summary line says it failed" "^off: .*failed" "$(cat "$NMS_OUT")"
check "-q: the error is not repeated in the summary line" bash -c "! grep -q 'cannot connect' '$NMS_OUT'"
check "-q: nothing about the account that worked" bash -c "! grep -q '^test' '$NMS_OUT' '$NMS_ERR'"

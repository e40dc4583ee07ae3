#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rule roles resolve per account from the server's SPECIAL-USE attributes, recorded at sync:
# when the server marks "Bulk Mail" as \Junk, [folder \Junk] means "Bulk Mail" even though a
# local folder with the common name "Junk" exists; nmsync rules agrees, and the next sync moves
# the message into the server's \Junk folder.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
DOVECOT_JUNK_FOLDER="Bulk Mail" dovecot_start
for i in 1 2; do
    printf 'From: a@example.org\nSubject: s%s\nMessage-ID: <su%s@example.org>\n\nx\n' "$i" "$i" \
        > "$TAP_ROOT/m$i.eml"
done
dovecot_seed INBOX "$TAP_ROOT/m1.eml" "$TAP_ROOT/m2.eml"
nmsync_setup_dovecot
mkdir -p "$NMS_MAILDIR/.Junk/cur" "$NMS_MAILDIR/.Junk/new" "$NMS_MAILDIR/.Junk/tmp"
nmsync_notmuch
nmsync_rules default.rules spam.rules

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check "the server's \\Junk folder exists locally" test -d "$NMS_MAILDIR/.Bulk Mail/cur"
nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"

notmuch tag +spam -- id:su1@example.org
nmsync_run apply
check_eq "apply: exit 0" 0 "$NMS_RC"
check_eq "the spam went to the special-use folder, not to the one named Junk" 1 \
    "$(find "$NMS_MAILDIR/.Bulk Mail/cur" -type f | wc -l)"
check_eq "nothing went to the local folder named Junk" 0 "$(find "$NMS_MAILDIR/.Junk" -type f | wc -l)"

nmsync_run sync
check_eq "sync after apply: exit 0" 0 "$NMS_RC"
check_eq "the server's \\Junk folder has it" 1 "$(imap_count 'Bulk Mail')"
check_eq "the server's INBOX kept the other" 1 "$(imap_count INBOX)"

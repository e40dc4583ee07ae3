#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync sync ACCOUNT/FOLDER` (and each run of watch, which names the folders its events
# named) with rules that move a message out of the named folder: the IMAP stage then takes
# every folder, so the message is moved on the server (UID MOVE: the same Dovecot GUID, its
# keywords kept), not deleted from INBOX and uploaded again into Junk.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
mail_file "$T/m.eml" fm-spam1
dovecot_seed INBOX "$T/m.eml"
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules

guid_of () { dv fetch guid mailbox "$1" header message-id "<$2@nmsync.test>" | sed -n 's/^guid: //p'; }
server_has () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | grep -c .; }

nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
guid=$(guid_of INBOX fm-spam1)
notmuch tag +spam -- id:fm-spam1@nmsync.test
nmsync_run sync test/INBOX
check_eq "sync test/INBOX: exit 0" 0 "$NMS_RC"
check_eq "the server's Junk has the message" 1 "$(server_has Junk fm-spam1)"
check_eq "the server's INBOX no longer has it" 0 "$(server_has INBOX fm-spam1)"
check_eq "the same message (GUID unchanged: moved, not uploaded)" "$guid" "$(guid_of Junk fm-spam1)"
check_match "the summary says moved, not deleted and uploaded" "0 uploaded .*0 deleted, 1 moved" \
    "$(cat "$NMS_OUT")"

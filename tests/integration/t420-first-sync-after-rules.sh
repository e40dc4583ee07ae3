#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# What a new user does before the first sync must not break it: `nmsync rules` (to check the
# rule set) and `nmsync apply` run while the Maildir does not exist yet. Before the fix,
# `rules` created an empty state file per account, and the first sync's sandbox took an account
# with a state file for one already synced: it did not let the run create the missing Maildir
# ("cannot create directory ...: Permission denied", exit 1, nothing downloaded). `rules` now
# reads a copy of the state and creates nothing; the sandbox lets the Maildir be created when
# the state remembers no message, as sync/root.c does. A Maildir that is missing while the state
# remembers messages (an unmounted disk) is still refused, and not created.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

T=$(tap_tmpdir)
dovecot_start
mail_file "$T/f1.eml" rules-first-1
mail_file "$T/f2.eml" rules-first-2
dovecot_seed INBOX "$T/f1.eml" "$T/f2.eml"
nmsync_setup_dovecot
sed -i "/^\[general\]/a rules = $NMSYNC_SRCDIR/rules/default.rules" "$NMS_CONFIG"

nmsync_run rules
check "rules before the first sync creates no state file" \
    test -z "$(ls -A "$NMS_STATE" 2>/dev/null)"
check "rules before the first sync creates no Maildir" test ! -e "$NMS_MAILDIR"

# A state file without messages (what `rules` wrote before, what `apply` may write).
nmsync_run apply
nmsync_run -v sync
check_eq "first sync after rules and apply: exit 0" 0 "$NMS_RC"
diag "$(grep -m1 '^sandbox:' "$NMS_ERR")" # the defect needs Landlock: "sandbox: on"
check_eq "both messages downloaded" 2 "$(local_count INBOX)"

# The disk unmounted: the Maildir gone while the state remembers 2 messages.
mv "$NMS_MAILDIR" "$T/away"
nmsync_run sync
check_eq "missing Maildir with a state that remembers messages: exit 2" 2 "$NMS_RC"
check "the missing Maildir was not created" test ! -e "$NMS_MAILDIR"
check_eq "nothing deleted on the server" 2 "$(imap_count INBOX)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The core scenarios (tests/lib/core.sh) against Courier IMAP 5.0 through a preauthenticated
# tunnel: UIDPLUS, no CONDSTORE, no MOVE, no SPECIAL-USE, NAMESPACE (("INBOX." ".")). Local
# folders carry no "INBOX." (.Sent, .Archive.2012); the server's names get it back. Then a small
# kill-at-every-step loop on a second spool.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/courier.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/core.sh"

why=$(courier_available) || skip_all "$why"
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
SRV_PFX=INBOX. SRV_SEP=.
srv_setup () { nmsync_setup_courier "$@"; }
srv_snapshot () { cp -a "$COURIER_MAILDIR" "$1"; }
srv_restore () { rm -rf "$COURIER_MAILDIR" && cp -a "$1" "$COURIER_MAILDIR"; }

courier_start
core_run
check "the server's folders: no doubled prefix, nothing created by mistake" test \
    "$(server_folders | paste -sd' ' -)" = "INBOX INBOX.Archive INBOX.Archive.2012 INBOX.Junk INBOX.Sent INBOX.Trash"
check_fails "no message names the account's server 'tunnel'" grep -rq "server 'tunnel'" "$NMS_HOME"
diag "core scenarios: ${SECONDS}s"

courier_start
core_crash_loop
diag "whole test: ${SECONDS}s"

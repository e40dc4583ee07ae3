#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The core scenarios (tests/lib/core.sh) against Cyrus IMAP 3.6: CONDSTORE QRESYNC MOVE
# UIDPLUS LIST-STATUS SPECIAL-USE, NAMESPACE (("" "/")). Pull fidelity, two-way convergence,
# a local move (one MOVE), rules + the server move to \Junk, a UIDVALIDITY change (the folder
# deleted and created again), then a small kill-at-every-step loop on a second instance.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/cyrus.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/core.sh"

why=$(cyrus_available) || skip_all "$why"
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
SRV_PFX="" SRV_SEP=/
srv_setup () { nmsync_setup_cyrus "$@"; }
srv_snapshot () { cyrus_snapshot "$1"; }
srv_restore () { cyrus_restore "$1"; }

cyrus_start
check_match "Cyrus offers QRESYNC, MOVE, LIST-STATUS" "QRESYNC.*(MOVE|LIST-STATUS)" "$(imapc caps)"
core_run
diag "core scenarios: ${SECONDS}s"

cyrus_start
core_crash_loop
diag "whole test: ${SECONDS}s"

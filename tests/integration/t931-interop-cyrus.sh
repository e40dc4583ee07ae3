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

# With the shipped spam.rules (keywords $Junk and $NotJunk, set by core_rules) a no-change
# sync selects no folder, 20 runs in a row (the keyword signature, t924 on Dovecot). Cyrus
# logs every session of user test: the client's lines are "<EPOCH<TAG COMMAND".
# A run less than a second after a change records no mtime, so the run after it looks at that
# folder once more (src/sync/incremental.c): one sync a second later settles it.
sleep 1
nmsync_run sync
sleep 1 # the log has whole seconds: nothing before the mark shares its second
mark=$(date +%s)
quiet=0
for ((i = 1; i <= 20; i++)); do
    quiet_sync >/dev/null && quiet=$((quiet + 1))
done
check_eq "20 no-change syncs with the spam.rules keywords: all quiet" 20 "$quiet"
cmds=$(cyrus_log | awk -F'<' -v m="$mark" '/^<[0-9]+</ && $2 >= m { print $3 }')
check_match "... the protocol log has them (LIST RETURN STATUS)" "LIST .*RETURN" "$cmds"
check_eq "... and not one SELECT or EXAMINE" "" "$(printf '%s\n' "$cmds" | grep -E -i '^[^ ]+ (UID )?(SELECT|EXAMINE)')"

cyrus_start
core_crash_loop
diag "whole test: ${SECONDS}s"

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

# Folder patterns written with the prefix (the server's spelling or nmsync's) select the same
# folders as before it was left out of names.
nmsync_setup_courier "folders = INBOX.Archive* !INBOX/Archive/2012"
nmsync_run pull
check_eq "patterns with the prefix: exit 0" 0 "$NMS_RC"
check "patterns with the prefix: Archive pulled" test -d "$NMS_MAILDIR/.Archive/cur"
check_fails "patterns with the prefix: Archive/2012 excluded" test -e "$NMS_MAILDIR/.Archive.2012"
check_fails "patterns with the prefix: Sent not selected" test -e "$NMS_MAILDIR/.Sent"

# A tunnel that breaks off after its greeting: the message names the account, not
# "server 'tunnel'".
nmsync_setup <<'EOF2'
tunnel = printf '* PREAUTH ready\r\n'; sleep 0.2
EOF2
nmsync_run sync
check "broken tunnel: the run fails" test "$NMS_RC" -ne 0
check_match "broken tunnel: the server is named by its account" "'test \(tunnel\)'" "$(cat "$NMS_ERR")"
check_fails "broken tunnel: no message says server 'tunnel'" grep -q "'tunnel'" "$NMS_ERR"
diag "core scenarios: ${SECONDS}s"

# An account synced before the prefix was stripped (here: by a Courier that hides NAMESPACE)
# keeps its folder names and directories: no second folder beside each old one.
courier_start
srv_seed INBOX.Sent "$(core_msg sent1)"
sed 's/ NAMESPACE / /' "$COURIER_TUNNEL" > "$COURIER_TUNNEL-old" && chmod 755 "$COURIER_TUNNEL-old"
nmsync_setup <<< "tunnel = $COURIER_TUNNEL-old"
nmsync_run sync
check_eq "without NAMESPACE: exit 0" 0 "$NMS_RC"
check "without NAMESPACE: the folder is .INBOX.Sent" test -d "$NMS_MAILDIR/.INBOX.Sent/cur"
sed -i "s|^tunnel = .*|tunnel = $COURIER_TUNNEL|" "$NMS_CONFIG"
nmsync_run -v sync
check_eq "with NAMESPACE, after: exit 0" 0 "$NMS_RC"
check "with NAMESPACE, after: nothing to do" quiet_sync
check "with NAMESPACE, after: no folder created or gone" no_folder_events
check_fails "with NAMESPACE, after: no .Sent beside .INBOX.Sent" test -e "$NMS_MAILDIR/.Sent"
check_eq "with NAMESPACE, after: the server's folders unchanged" \
    "INBOX INBOX.Junk INBOX.Sent INBOX.Trash" "$(server_folders | paste -sd' ' -)"

courier_start
core_crash_loop
diag "whole test: ${SECONDS}s"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The core scenarios (tests/lib/core.sh) against a bare IMAP4rev1 server: Dovecot advertising
# only IMAP4rev1 LITERAL+ ENABLE UNSELECT CHILDREN NAMESPACE (no MOVE, UIDPLUS, CONDSTORE,
# QRESYNC, LIST-STATUS, SPECIAL-USE). A deletion there is \Deleted without an expunge (t306), so
# the server's side is read as a client sees it: \Deleted messages left out.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/imapsrv.sh"
. "$NMSYNC_TESTLIB/core.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
export DOVECOT_CAPABILITY="IMAP4rev1 LITERAL+ ENABLE UNSELECT CHILDREN NAMESPACE"
SRV_PFX="" SRV_SEP=/ SRV_KEEPS_DELETED=1
srv_setup () { nmsync_setup_dovecot "$@"; }
_imap_running () {
    local mpid
    mpid=$(cat "$DOVECOT_DIR/run/master.pid") || return 1
    pgrep -x -P "$mpid" imap >/dev/null
}
srv_snapshot () {
    wait_for "Dovecot's imap processes to exit" 10 eval '! _imap_running' || bail_out "imap processes stay"
    cp -a "$DOVECOT_MAILDIR" "$1"
}
srv_restore () {
    wait_for "Dovecot's imap processes to exit" 10 eval '! _imap_running' || bail_out "imap processes stay"
    rm -rf "$DOVECOT_MAILDIR" && cp -a "$1" "$DOVECOT_MAILDIR"
}
start () {
    dovecot_start
    export IMAPC_HOST=127.0.0.1 IMAPC_PORT=$DOVECOT_PORT IMAPC_USER=$DOVECOT_USER IMAPC_PASSWORD=$DOVECOT_PASSWORD
}

start
check_match "the server offers only the bare capabilities (and login methods)" \
    "^IMAP4REV1 LITERAL\+ ENABLE UNSELECT CHILDREN NAMESPACE( STARTTLS| AUTH=[A-Z]+)*$" "$(imapc caps)"
core_run
diag "core scenarios: ${SECONDS}s"

start
core_crash_loop
diag "whole test: ${SECONDS}s"

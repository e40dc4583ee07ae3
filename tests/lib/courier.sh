# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# courier.sh: a private Courier IMAP 5.0 for nmsync integration tests, run as a preauthenticated
# tunnel (`imapd MAILDIR` on stdin/stdout, what `tunnel =` runs). Source after tap.sh.
# Its binaries and libraries come unpacked (dpkg-deb -x, scripts/deps.sh: courier-imap conflicts
# with dovecot-imapd) under $NMSYNC_SERVERS; gamin must be installed (else Courier greets with an
# ALERT before PREAUTH). The spool is Maildir++: the server shows `.Sent` as INBOX.Sent,
# NAMESPACE (("INBOX." ".")); no CONDSTORE, no MOVE, UIDPLUS.
#
#   courier_available     exit 0 when it can run (else prints why not)
#   courier_start         creates the spool (INBOX, INBOX.Sent, INBOX.Trash, INBOX.Junk);
#                         exports COURIER_MAILDIR, COURIER_TUNNEL (a script: the command),
#                         COURIER_LOG (its stderr) and IMAPC_TUNNEL.
#   nmsync_setup_courier [LINE...]  nmsync_setup with `tunnel = $COURIER_TUNNEL`.
# Inspection and seeding: imapsrv.sh (sourced here). Each imapd runs only as long as its
# session; nothing is left running.

if [ -n "${_COURIER_SH_LOADED:-}" ]; then
    return 0
fi
_COURIER_SH_LOADED=1
. "$(dirname "${BASH_SOURCE[0]}")/imapsrv.sh"

courier_available () {
    if [ -z "${NMSYNC_SERVERS:-}" ] || [ ! -x "$NMSYNC_SERVERS/usr/bin/imapd" ]; then
        echo "courier-imap not unpacked in \$NMSYNC_SERVERS (scripts/deps.sh nmsync_fetch_servers)"
        return 1
    fi
    [ -x /usr/libexec/gam_server ] || { echo "gamin not installed"; return 1; }
    command -v python3 >/dev/null || { echo "python3 not installed"; return 1; }
}

courier_start () {
    local why D f
    why=$(courier_available) || bail_out "$why"
    D=$(tap_tmpdir) || bail_out "mktemp"
    mkdir -p "$D/Maildir"/{cur,new,tmp}
    for f in Sent Trash Junk; do
        mkdir -p "$D/Maildir/.$f"/{cur,new,tmp}
        : > "$D/Maildir/.$f/maildirfolder"
    done
    export COURIER_MAILDIR=$D/Maildir
    # The settings of Debian's /etc/courier/imapd that matter to a client (without them
    # Courier offers only IMAP4rev1 and refuses keywords); its log lines go to a file.
    cat > "$D/imapd" <<EOS
#!/bin/sh
export LD_LIBRARY_PATH=$NMSYNC_SERVERS/usr/lib/x86_64-linux-gnu:$NMSYNC_SERVERS/usr/lib
export IMAP_ENHANCEDIDLE=0 IMAP_KEYWORDS=1
export IMAP_CAPABILITY="IMAP4rev1 UIDPLUS CHILDREN NAMESPACE THREAD=ORDEREDSUBJECT THREAD=REFERENCES SORT QUOTA IDLE"
exec $NMSYNC_SERVERS/usr/bin/imapd $COURIER_MAILDIR 2>>$D/courier.log
EOS
    chmod 755 "$D/imapd"
    export COURIER_LOG=$D/courier.log COURIER_TUNNEL=$D/imapd
    export IMAPC_TUNNEL=$COURIER_TUNNEL
    imapc list >/dev/null || bail_out "Courier does not start: $(imapc list 2>&1 | tail -3)"
}

nmsync_setup_courier () {
    nmsync_setup < <(
        printf 'tunnel = %s\n' "$COURIER_TUNNEL"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    )
}

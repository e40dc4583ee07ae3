# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# imapsrv.sh: inspecting and seeding a server without doveadm (Cyrus, Courier) over IMAP, with
# tests/lib/imapc.py (python3 imaplib). Sourced by cyrus.sh and courier.sh (never together with
# dovecot.sh: the same function names). The server is the one the IMAPC_* variables name
# (imapc.py's header); FOLDER is the server's own name (Courier: "INBOX.Sent").
#
#   imapc ARGS...           run imapc.py (list, status, uids, flags, ids, sum, append, create,
#                           delete, store, expunge, caps; see its header)
#   srv_seed FOLDER FILE... APPEND each file (creating FOLDER when missing); a bare number N
#                           appends N generated small messages <FOLDER-seed-K@nmsync.test>.
#   imap_count FOLDER / server_uidvalidity FOLDER / server_uidnext FOLDER
#   server_uids FOLDER      UIDs ascending, space separated.
#   server_flags FOLDER UID flags and keywords, sorted, space separated (no \Recent).
#   server_ids FOLDER       "uid<TAB>message-id<TAB>flags" lines.
#   server_has ID FOLDER    exit 0 when exactly one message of FOLDER has Message-ID <ID@nmsync.test>.
#   server_flags_of ID FOLDER   the flags of the message with that Message-ID.
#   server_sum FOLDER       "uid sha256" lines of what the server serves (comparable to local_sum
#                           only where the server keeps the bytes: Cyrus munges 8-bit headers).
#   server_folders          the server's folder names, one per line, sorted.

if [ -n "${_IMAPSRV_SH_LOADED:-}" ]; then
    return 0
fi
_IMAPSRV_SH_LOADED=1
_IMAPSRV_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

imapc () { python3 "$_IMAPSRV_LIB/imapc.py" "$@"; }

srv_seed () {
    local folder=$1 f k tmp
    shift
    imapc list | grep -xF -- "$folder" >/dev/null || imapc create "$folder" || return 1
    for f in "$@"; do
        if [[ $f =~ ^[0-9]+$ ]]; then
            tmp=$(mktemp "$TAP_ROOT/seed.XXXXXX") || return 1
            for ((k = 1; k <= f; k++)); do
                printf 'From: seed@nmsync.test\nTo: test@nmsync.test\nSubject: %s seed %d\nDate: Mon, 7 Dec 2026 10:00:00 +0000\nMessage-ID: <%s-seed-%d@nmsync.test>\n\nbody %s %d\n' \
                    "$folder" "$k" "$folder" "$k" "$folder" "$k" > "$tmp"
                imapc append "$folder" "$tmp" || return 1
            done
            rm -f "$tmp"
        else
            imapc append "$folder" "$f" || return 1
        fi
    done
}

imap_count () { imapc status "$1" messages; }
server_uidvalidity () { imapc status "$1" uidvalidity; }
server_uidnext () { imapc status "$1" uidnext; }
server_uids () { imapc uids "$1"; }
server_flags () { imapc flags "$1" "$2"; }
server_ids () { imapc ids "$1"; }
server_sum () { imapc sum "$1"; }
server_folders () { imapc list | LC_ALL=C sort; }
server_has () {
    [ "$(imapc ids "$2" | awk -F'\t' -v id="<$1@nmsync.test>" '$2 == id' | wc -l)" -eq 1 ]
}
server_flags_of () {
    imapc ids "$2" | awk -F'\t' -v id="<$1@nmsync.test>" '$2 == id { print $3 }'
}

# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# nmsync.sh: running nmsync in integration tests and inspecting the local side. Source after
# tap.sh (and dovecot.sh when a server is used).
#
#   nmsync_setup [key = value lines on stdin]
#                          creates NMS_HOME (a private temp dir) with a config for one account
#                          "test": the lines read from stdin go into [account test] (heredoc);
#                          maildir and the state dir are set. Exports NMS_HOME NMS_CONFIG
#                          NMS_MAILDIR NMS_STATE.
#   nmsync_run ARGS...     runs $NMSYNC -c $NMS_CONFIG ARGS (bounded by timeout); sets NMS_RC
#                          and leaves stdout in $NMS_OUT, stderr in $NMS_ERR (files). Never
#                          fails itself.
#   local_dir FOLDER       the folder's directory (maildir++: INBOX the root, a/b -> .a.b).
#   local_file FOLDER UID  the file carrying ,U=UID in cur/ or new/ (empty when none).
#   local_count FOLDER     message files in cur/ and new/.
#   local_sum FOLDER       "uid sha256" lines by ascending uid, comparable to server_sum.
#   local_flags FOLDER UID the Maildir flag letters of that file.
#   imap_letters FLAGS...  IMAP flags -> sorted Maildir letters (\Seen -> S, ...).

if [ -n "${_NMSYNC_SH_LOADED:-}" ]; then
    return 0
fi
_NMSYNC_SH_LOADED=1

: "${NMSYNC:?NMSYNC must name the nmsync binary}"

nmsync_setup () {
    NMS_HOME=$(tap_tmpdir)
    NMS_CONFIG="$NMS_HOME/config"
    NMS_MAILDIR="$NMS_HOME/Maildir"
    NMS_STATE="$NMS_HOME/state"
    export NMS_HOME NMS_CONFIG NMS_MAILDIR NMS_STATE
    {
        printf '[general]\nstate = %s\n\n[account test]\nmaildir = %s\n' "$NMS_STATE" "$NMS_MAILDIR"
        cat
    } > "$NMS_CONFIG"
    chmod 600 "$NMS_CONFIG"
}

nmsync_run () {
    NMS_OUT="$NMS_HOME/out.$((++_NMS_RUNS))"
    NMS_ERR="$NMS_HOME/err.$_NMS_RUNS"
    timeout "${NMSYNC_TEST_TIMEOUT:-120}" "$NMSYNC" -c "$NMS_CONFIG" "$@" \
        </dev/null >"$NMS_OUT" 2>"$NMS_ERR"
    NMS_RC=$?
    if [ "$NMS_RC" -ne 0 ]; then
        diag "nmsync $* exited $NMS_RC; stderr:"
        sed -n '1,20p' "$NMS_ERR" | while IFS= read -r l; do diag "  $l"; done
    fi
    return 0
}

local_dir () {
    case "$1" in
        INBOX) printf '%s\n' "$NMS_MAILDIR" ;;
        *) printf '%s/.%s\n' "$NMS_MAILDIR" "${1//\//.}" ;;
    esac
}

local_file () {
    local d
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f -name "*,U=$2:2,*" 2>/dev/null | head -n 1
}

local_count () {
    local d
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f 2>/dev/null | wc -l
}

local_sum () {
    local d f uid
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f -name '*,U=*' 2>/dev/null | while IFS= read -r f; do
        uid=${f##*,U=}
        uid=${uid%%[:,]*}
        printf '%s %s\n' "$uid" "$(sha256sum < "$f" | cut -d' ' -f1)"
    done | sort -n
}

local_flags () {
    local f
    f=$(local_file "$1" "$2")
    [ -n "$f" ] || return 1
    printf '%s\n' "${f##*:2,}"
}

imap_letters () {
    local out="" f
    for f in "$@"; do
        case "$f" in
            '\Draft') out+=D ;;
            '\Flagged') out+=F ;;
            '$Forwarded') out+=P ;;
            '\Answered') out+=R ;;
            '\Seen') out+=S ;;
            '\Deleted') out+=T ;;
        esac
    done
    printf '%s\n' "$out" | fold -w1 | sort | tr -d '\n'
    echo
}

# check_mirror FOLDER: the local folder holds exactly the server's messages, byte for byte,
# each with the server's flags, unseen ones in new/ and seen ones in cur/.
check_mirror () {
    local f=$1 uid want="" got="" place="" flags file
    check_eq "$f: the server's messages, byte for byte" "$(server_sum "$f")" "$(local_sum "$f")"
    for uid in $(server_uids "$f"); do
        # shellcheck disable=SC2046
        flags=$(imap_letters $(server_flags "$f" "$uid"))
        want+="$uid:$flags "
        got+="$uid:$(local_flags "$f" "$uid") "
        file=$(local_file "$f" "$uid")
        case "$flags" in
            *S*) [ "$(basename "$(dirname "$file")")" = cur ] || place+="$uid:not-in-cur " ;;
            *) [ "$(basename "$(dirname "$file")")" = new ] || place+="$uid:not-in-new " ;;
        esac
    done
    check_eq "$f: flags as on the server" "$want" "$got"
    check_eq "$f: unseen in new/, seen in cur/" "" "$place"
}

# Server-side transfer accounting from Dovecot's logout lines (body_count, body_bytes):
# dovecot_mark remembers how many sessions have ended; bodies_since_mark prints the number of
# message bodies sent in the sessions that ended since.
dovecot_mark () {
    _NMS_MARK=$(dovecot_log | grep -c 'Logged out')
}

bodies_since_mark () {
    dovecot_log | grep 'Logged out' | tail -n +"$((_NMS_MARK + 1))" |
        sed -n 's/.* body_count=\([0-9]*\).*/\1/p' | awk '{n += $1} END {print n + 0}'
}

# no_tmp_leftovers: no file is left in any tmp/ of the local Maildir.
no_tmp_leftovers () {
    [ -z "$(find "$NMS_MAILDIR" -type d -name tmp -exec find {} -type f \; 2>/dev/null)" ]
}

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
#   nmsync_setup_dovecot [LINE...]
#                          nmsync_setup for the current private Dovecot (dovecot.sh) over
#                          plain TCP on 127.0.0.1, logging in as its test user; each LINE is
#                          one more "key = value" for [account test].
#   nmsync_run ARGS...     runs $NMSYNC -c $NMS_CONFIG ARGS (bounded by timeout); sets NMS_RC
#                          and leaves stdout in $NMS_OUT, stderr in $NMS_ERR (files). Never
#                          fails itself.
#   local_dir FOLDER       the folder's directory (maildir++: INBOX the root, a/b -> .a.b).
#   local_file FOLDER UID  the file carrying ,U=UID in cur/ or new/ (empty when none).
#   local_count FOLDER     message files in cur/ and new/.
#   local_sum FOLDER       "uid sha256" lines by ascending uid, comparable to server_sum.
#   local_flags FOLDER UID the Maildir flag letters of that file.
#   imap_letters FLAGS...  IMAP flags -> sorted Maildir letters (\Seen -> S, ...).
#   nmsync_notmuch [IGNORE] writes $NOTMUCH_CONFIG for a database at $NMS_MAILDIR (new.tags
#                          unread;inbox; maildirfolder, .nmsync-maildir and IGNORE ignored; synchronize_flags)
#                          and runs notmuch new.
#   nmsync_rules FILE...   sets [general] rules to the shipped rule files rules/FILE...
#   local_folders          the local folders as "name<TAB>dir" lines (maildir++).
#   collect_sides          reads both sides once into SRV ("folder uid sha256 [letters] id" per
#                          server message) and LOC ("folder file sha256 [letters] id" per local
#                          file in cur/ or new/); needs dovecot.sh.
#   all_uploaded           every file in LOC carries ",U=" (nothing left to upload).
#   agree_by_uid           in every folder, LOC's files with ",U=" equal SRV's messages UID by
#                          UID (bytes and flags); prints a diff when not.
#   local_mkfolder FOLDER  creates the folder's cur/ new/ tmp/ (a folder made by another tool).
#   mail_file PATH ID [MTIME]
#                          writes a small LF-ended message with Message-ID <ID@nmsync.test> (and
#                          ID in the subject and body) to PATH; MTIME (any `touch -d` date) sets
#                          the file's mtime.
#   local_path_of FOLDER BASE  the file of FOLDER (cur/ or new/) whose unique part (the name up
#                          to the first ',' or ':') is BASE; empty when none.
#   local_uid_of FOLDER BASE   the ,U= value in that file's name; empty when none.
#   dup_uids FOLDER        UIDs carried by more than one file of FOLDER, one per line (mbsync
#                          and nmsync both require none).
#   server_sums FOLDER     like server_sum, but also finds the files of messages Dovecot moved
#                          or copied under a new file name (server_sum looks files up by GUID,
#                          which such a message keeps): by the folder's dovecot-uidlist.
#   server_state           every server folder: name, UIDVALIDITY, UIDNEXT, then "uid sha256
#                          flags" per message (no \Recent): equal output = the server unchanged.
#   local_state            every file and dir under NMS_MAILDIR: path, type, size, sha256.
#   state_rebind_dirs      after the Maildir and the state were restored together from a copy
#                          (new directory inodes): records the copies' folder directories as
#                          the ones the state describes, as if they had never been copied.
#   no_folder_events       the last nmsync_run created no server folder and said of none that
#                          it is gone from the server (prints what it did say when it did).

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
    # Never the developer's own notmuch database: a test that wants one writes this file.
    NOTMUCH_CONFIG="$NMS_HOME/notmuch-config"
    export NOTMUCH_CONFIG
    {
        printf '[general]\nstate = %s\n\n[account test]\nmaildir = %s\n' "$NMS_STATE" "$NMS_MAILDIR"
        cat
    } > "$NMS_CONFIG"
    chmod 600 "$NMS_CONFIG"
}

nmsync_setup_dovecot () {
    nmsync_setup < <(
        printf 'host = 127.0.0.1\nport = %s\ntls = none\nuser = %s\npassword = %s\n' \
            "$DOVECOT_PORT" "$DOVECOT_USER" "$DOVECOT_PASSWORD"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    )
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

local_mkfolder () {
    local d
    d=$(local_dir "$1")
    mkdir -p "$d/cur" "$d/new" "$d/tmp"
}

mail_file () {
    local path=$1 id=$2 mtime=${3:-}
    mkdir -p "$(dirname "$path")"
    printf '%s\n' \
        "From: Local Writer <writer@example.org>" \
        "To: Test User <test@example.org>" \
        "Subject: local message $id" \
        "Date: Tue, 2 Jan 2024 10:00:00 +0100" \
        "Message-ID: <$id@nmsync.test>" \
        "MIME-Version: 1.0" \
        "Content-Type: text/plain; charset=us-ascii" \
        "" \
        "Body of $id." \
        "A second line." >"$path"
    if [ -n "$mtime" ]; then
        touch -d "$mtime" "$path"
    fi
}

local_path_of () {
    local d f b
    d=$(local_dir "$1")
    for f in "$d"/cur/* "$d"/new/*; do
        [ -f "$f" ] || continue
        b=${f##*/}
        b=${b%%[,:]*}
        if [ "$b" = "$2" ]; then
            printf '%s\n' "$f"
            return 0
        fi
    done
    return 0
}

local_uid_of () {
    local f uid
    f=$(local_path_of "$1" "$2")
    case ${f##*/} in
        *,U=*) uid=${f##*,U=}; printf '%s\n' "${uid%%[:,]*}" ;;
    esac
    return 0
}

dup_uids () {
    local d
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f -name '*,U=*' -printf '%f\n' 2>/dev/null |
        sed 's/.*,U=\([0-9]*\).*/\1/' | sort -n | uniq -d
}

server_state () {
    local f uid flags sum
    local -A fl
    while IFS= read -r f; do
        printf '== %s uidvalidity=%s uidnext=%s\n' "$f" "$(server_uidvalidity "$f")" \
            "$(server_uidnext "$f")"
        fl=()
        while IFS=$'\t' read -r uid flags; do
            fl[$uid]=$(printf '%s\n' "$flags" | tr ' ' '\n' | grep -v -e '^\\Recent$' -e '^$' |
                LC_ALL=C sort | paste -sd' ' -)
        done < <(dv -f tab fetch 'uid flags' mailbox "$f" all | tail -n +2)
        while read -r uid sum; do
            printf '%s %s %s\n' "$uid" "$sum" "${fl[$uid]-NOFLAGS}"
        done < <(server_sums "$f")
    done < <(server_folders)
}

local_state () {
    local p t s
    (cd "$NMS_MAILDIR" && find . -printf '%p\t%y\t%s\n' | LC_ALL=C sort) |
        while IFS=$'\t' read -r p t s; do
            if [ "$t" = f ]; then
                printf '%s %s %s %s\n' "$p" "$t" "$s" "$(sha256sum <"$NMS_MAILDIR/$p" | cut -d' ' -f1)"
            else
                printf '%s %s\n' "$p" "$t"
            fi
        done
}

server_sums () {
    local folder=$1 dir uid path base f sum line
    local -A byuid
    dir=$(dv mailbox path "$folder") || return 1
    _dv_sync_folder "$folder"
    # dovecot-uidlist: a header line, then "uid [extensions] :file-base" per message.
    while IFS= read -r line; do
        uid=${line%% *}
        base=${line##* :}
        [[ $uid =~ ^[0-9]+$ ]] && [ "$base" != "$line" ] && byuid[$uid]=$base
    done < <(tail -n +2 "$dir/dovecot-uidlist" 2>/dev/null)
    while IFS=$'\t' read -r uid path; do
        if [ "$path" = MISSING ] && [ -n "${byuid[$uid]:-}" ]; then
            base=${byuid[$uid]}
            for f in "$dir/cur/$base" "$dir/cur/$base:"* "$dir/new/$base" "$dir/new/$base:"*; do
                [ -f "$f" ] && { path=$f; break; }
            done
        fi
        if [ "$path" = MISSING ]; then
            sum=MISSING
        else
            sum=$(sha256sum <"$path") && sum=${sum%% *}
        fi
        printf '%s %s\n' "$uid" "$sum"
    done < <(_dv_files "$folder" 2>/dev/null | sort -n)
}

# Sorted Maildir letters, bracketed so that "no flags" is a field too: FS -> [FS], "" -> [].
_nms_bracket () {
    printf '[%s]\n' "$(printf '%s' "$1" | fold -w1 | LC_ALL=C sort | tr -d '\n')"
}

local_folders () {
    local d n
    printf 'INBOX\t%s\n' "$NMS_MAILDIR"
    for d in "$NMS_MAILDIR"/.*/; do
        d=${d%/}
        n=${d##*/.}
        case $n in '' | . | ..) continue ;; esac
        [ -d "$d/cur" ] && printf '%s\t%s\n' "${n//./\/}" "$d"
    done
    return 0
}

collect_sides () {
    local f dir uid sum flags id file letters
    SRV=$(
        for f in $(server_folders); do
            # "uid|sha256|flags|message-id": '|' as separator, since flags may be empty and
            # read would fold two tabs into one.
            LC_ALL=C join -t $'\t' <(server_sums "$f" | tr ' ' '\t' | LC_ALL=C sort -k1,1) \
                <(dv -f tab fetch 'uid flags hdr.message-id' mailbox "$f" all | tail -n +2 |
                    LC_ALL=C sort -k1,1) | tr '\t' '|' |
                while IFS='|' read -r uid sum flags id; do
                    # shellcheck disable=SC2086
                    printf '%s %s %s %s %s\n' "$f" "$uid" "$sum" \
                        "$(_nms_bracket "$(imap_letters $flags)")" "$(printf '%s' "${id:--}" | tr -d ' ')"
                done
        done
    )
    LOC=$(
        while IFS=$'\t' read -r f dir; do
            find "$dir/cur" "$dir/new" -maxdepth 1 -type f 2>/dev/null | LC_ALL=C sort |
                while IFS= read -r file; do
                    id=$(sed -n '/^$/q; s/^[Mm][Ee][Ss][Ss][Aa][Gg][Ee]-[Ii][Dd]:[[:space:]]*//p' "$file" |
                        head -n 1)
                    letters=""
                    case ${file##*/} in *:2,*) letters=${file##*:2,} ;; esac
                    printf '%s %s %s %s %s\n' "$f" "${file##*/}" "$(sha256sum <"$file" | cut -d' ' -f1)" \
                        "$(_nms_bracket "$letters")" "${id:--}"
                done
        done < <(local_folders)
    )
}

all_uploaded () {
    local bad
    bad=$(printf '%s\n' "$LOC" | awk 'NF && $2 !~ /,U=[0-9]+/ { print $1 ": " $2 }')
    [ -z "$bad" ] || { echo "files without ,U=:"; echo "$bad"; return 1; }
}

agree_by_uid () {
    local f srv loc rc=0
    for f in $({ printf '%s\n' "$SRV"; printf '%s\n' "$LOC"; } | awk 'NF { print $1 }' | sort -u); do
        srv=$(printf '%s\n' "$SRV" | awk -v f="$f" '$1 == f { print $2, $3, $4 }' | sort -n)
        loc=$(printf '%s\n' "$LOC" | awk -v f="$f" '$1 == f && $2 ~ /,U=[0-9]+/ {
                  u = $2; sub(/.*,U=/, "", u); sub(/[:,].*/, "", u); print u, $3, $4 }' | sort -n)
        if [ "$srv" != "$loc" ]; then
            diff <(printf '%s\n' "$srv") <(printf '%s\n' "$loc") | sed "s|^|$f: |" | head -n 40
            rc=1
        fi
    done
    return "$rc"
}

nmsync_notmuch () {
    mkdir -p "$NMS_MAILDIR"
    printf '[database]\npath=%s\n[new]\ntags=unread;inbox\nignore=maildirfolder;.nmsync-maildir%s\n[maildir]\nsynchronize_flags=true\n' \
        "$NMS_MAILDIR" "${1:+;$1}" > "$NOTMUCH_CONFIG"
    notmuch new >/dev/null
}

nmsync_rules () {
    local list
    list=$(printf "$NMSYNC_SRCDIR/rules/%s;" "$@")
    sed -i "/^\[general\]/a rules = ${list%;}" "$NMS_CONFIG"
}

state_rebind_dirs () {
    local db="$NMS_STATE/test.db" name dir
    sqlite3 "$db" "SELECT substr(key, 12) FROM meta WHERE key LIKE 'folder-dir:%'" |
        while IFS= read -r name; do
            dir=$(local_dir "$name")
            [ -d "$dir" ] || continue
            sqlite3 "$db" "UPDATE meta SET value = '$(stat -c %i "$dir")' WHERE key = 'folder-dir:${name//\'/\'\'}'"
        done
}

no_folder_events () {
    local said
    said=$(grep -h -e '[1-9][0-9]* folders created' -e 'gone from the server' \
        -e 'would create folder' "$NMS_OUT" "$NMS_ERR")
    [ -z "$said" ] || { printf '%s\n' "$said"; return 1; }
}

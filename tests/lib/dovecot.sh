# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# dovecot.sh: private Dovecot instances for nmsync integration tests. Source after tap.sh.
# Never touches the system Dovecot: every instance has its own dir, config (-c, no system
# config is read), base_dir, ports and certificate, and is stopped at exit.
#
# Mail access runs as uid/gid 65534 (nobody): Dovecot refuses to serve mail as root. When the
# test itself is not root, everything runs as the calling user instead.
#
# TLS certificate (generated per instance, EC P-256, self-signed, CA:TRUE) is valid ONLY for the
# host name "localhost": subjectAltName = DNS:localhost, no IP SAN. So, on DOVECOT_TLS_PORT:
#   host = localhost  + ca-file $DOVECOT_CA  -> trusted
#   host = 127.0.0.1  + ca-file $DOVECOT_CA  -> host name mismatch (verification fails)
#   any host, no ca-file (system trust)       -> untrusted (self-signed)
# The daemon listens on 127.0.0.1 only ("localhost" resolves to 127.0.0.1 on the test machines).
# DOVECOT_PORT is plaintext IMAP (STARTTLS offered, with the same certificate).
#
# DOVECOT_SEPARATOR (before dovecot_start; default "/"): the namespace's hierarchy separator.
# "." is Dovecot's own default for Maildir storage (and Courier's): the instance then leaves
# `separator` out of its namespace, as most real servers' configs do. Whatever the separator,
# every FOLDER below (and every mailbox name `dv` passes after "mailbox" or "save -m", as the
# destination of "move"/"copy", or to "mailbox create/delete/path/status ...") is written with
# '/' and translated for doveadm; server_folders prints names with '/' too. Only a raw
# `dv mailbox list` shows the server's own spelling.
#
# Functions (FOLDER is a UTF-8 mailbox name with '/' as separator, e.g. "Archive/2024"):
#   dovecot_start              start an instance; exports DOVECOT_DIR DOVECOT_PORT
#                              DOVECOT_TLS_PORT DOVECOT_CA DOVECOT_MAILDIR DOVECOT_CONF
#                              DOVECOT_USER=test DOVECOT_PASSWORD=secret. Bails out on failure.
#                              Folders Sent, Junk, Trash, Archive exist (auto=create, SPECIAL-USE);
#                              DOVECOT_JUNK_FOLDER names another folder to carry \Junk instead.
#                              DOVECOT_COMPRESS=1 loads imap_zlib: COMPRESS=DEFLATE is offered.
#   dovecot_stop [DIR]         stop an instance (default: the current one); also run at exit.
#   dovecot_restart            stop and start the current instance again, same dir and ports.
#   dovecot_use DIR            make another started instance the current one (re-exports vars).
#   dovecot_tunnel_cmd         print a shell command for `tunnel =` speaking preauthenticated
#                              IMAP (* PREAUTH) on stdin/stdout, same spool as the daemon.
#   dovecot_log                print the instance's log; dovecot_log_errors: only
#                              Error/Fatal/Panic lines (exit 1 when there are none).
#   dv [doveadm-opts] CMD ...  doveadm -c $DOVECOT_CONF, `-u test` inserted after mail commands
#                              (fetch, search, flags add, mailbox create, expunge, save, ...)
#                              unless given. e.g. dv flags add '\Seen' mailbox INBOX uid 3
#   dovecot_seed [--flags 'F...'] FOLDER FILE|N...
#                              save files byte for byte (doveadm save) into FOLDER, creating it;
#                              a bare number N instead of a file saves N generated small
#                              messages. UIDs follow argument order. Sets DOVECOT_SEEDED_UIDS
#                              ("first:last", empty when nothing was saved).
#   dovecot_seed_corpus [DIR]  seed tests/corpus/default (or DIR) following its MANIFEST (order,
#                              flags), then the generated 5 MB message into INBOX. Exports
#                              CORPUS_DIR and CORPUS_LARGE (path of the generated message).
#   corpus_files FOLDER [DIR]  print the corpus files of FOLDER in seeded order (incl. the large
#                              one for INBOX once seeded); corpus_count FOLDER: how many.
#   imap_count FOLDER          number of messages (including \Deleted, not yet expunged).
#   server_uids FOLDER         UIDs, ascending, space separated on one line.
#   server_flags FOLDER UID    IMAP flags and keywords, sorted, space separated (no \Recent).
#   server_file FOLDER UID     path of the message file in the server Maildir.
#   server_sum FOLDER          "uid sha256" lines (ascending uid) of the stored message bytes.
#   server_folders             folder names (UTF-8), one per line, sorted (LC_ALL=C).
#   server_uidvalidity FOLDER / server_uidnext FOLDER / server_highestmodseq FOLDER
#   DOVECOT_CAPABILITY=...     (before dovecot_start) the capabilities advertised after login
#                              (imap_capability), e.g. to hide QRESYNC or LIST-STATUS.
#   DOVECOT_RAWLOG=1           (before dovecot_start) record every session's traffic;
#                              rawlog_mark forgets what was recorded so far, rawlog_commands
#                              prints the client's commands since, tags stripped, one per line.

if [ -n "${_DOVECOT_SH_LOADED:-}" ]; then
    return 0
fi
_DOVECOT_SH_LOADED=1

if [ -z "${_TAP_SH_LOADED:-}" ]; then
    echo "Bail out! source tap.sh before dovecot.sh"
    exit 1
fi

_DV_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_DV_CORPUS_DEFAULT=${NMSYNC_SRCDIR:+$NMSYNC_SRCDIR/tests/corpus/default}
: "${_DV_CORPUS_DEFAULT:=$_DV_LIB/../corpus/default}"
_DV_IMAP_BIN=/usr/lib/dovecot/imap
_DV_GEN_SEQ=0

_dv_find_dovecot ()
{
    command -v dovecot 2>/dev/null || { [ -x /usr/sbin/dovecot ] && echo /usr/sbin/dovecot; }
}

_dv_port_in_use ()
{
    # A successful connect means something listens there.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

_dv_greets ()
{
    (
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        IFS= read -r -t 2 greeting <&3 || exit 1
        printf 'x LOGOUT\r\n' >&3
        case $greeting in '* OK'*) exit 0 ;; esac
        exit 1
    ) 2>/dev/null
}

_dv_write_conf ()
{
    local D=$1 port=$2 tls_port=$3 uid=$4 gid=$5 user=$6
    local users=""
    if [ "$uid" != 65534 ] || [ "$(id -u)" != 0 ]; then
        # Not root: everything runs as the caller, and chroot is not allowed.
        users="default_login_user = $user
default_internal_user = $user
default_internal_group = $(id -gn)
service anvil {
  chroot =
}
service imap-login {
  chroot =
}"
    fi
    cat >"$D/etc/dovecot.conf" <<EOF
# Generated by tests/lib/dovecot.sh for one test run.
base_dir = $D/run
state_dir = $D/state
log_path = $D/log/dovecot.log
info_log_path = $D/log/dovecot.log
$users
protocols = imap
listen = 127.0.0.1
shutdown_clients = yes
ssl = yes
ssl_cert = <$D/etc/cert.pem
ssl_key = <$D/etc/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
first_valid_uid = 1
first_valid_gid = 1
mail_max_userip_connections = 100
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/etc/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$D
}
mail_location = maildir:$D/Maildir
namespace inbox {
  inbox = yes
$(_dv_separator_conf)
  prefix =
  mailbox Sent {
    special_use = \\Sent
    auto = create
  }
  mailbox "${DOVECOT_JUNK_FOLDER:-Junk}" {
    special_use = \\Junk
    auto = create
  }
  mailbox Trash {
    special_use = \\Trash
    auto = create
  }
  mailbox Archive {
    special_use = \\Archive
    auto = create
  }
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $tls_port
    ssl = yes
  }
}
service stats {
  unix_listener stats-writer {
    mode = 0666
  }
}
${DOVECOT_CAPABILITY:+imap_capability = $DOVECOT_CAPABILITY}
${DOVECOT_RAWLOG:+rawlog_dir = $D/rawlog}
EOF
    [ -z "${DOVECOT_COMPRESS:-}" ] || _dv_compress_conf >>"$D/etc/dovecot.conf"
}

# The namespace's separator line: none for ".", Dovecot's default with Maildir storage.
_dv_separator_conf ()
{
    case ${DOVECOT_SEPARATOR:-/} in
    .) ;;
    /) echo "  separator = /" ;;
    *) bail_out "DOVECOT_SEPARATOR must be '/' or '.'" ;;
    esac
}

# _dv_box NAME: NAME with '/' as separator -> the server's name (its separator).
_dv_box ()
{
    if [ "${DOVECOT_SEPARATOR:-/}" = / ]; then
        printf '%s\n' "$1"
    else
        printf '%s\n' "${1//\//$DOVECOT_SEPARATOR}"
    fi
}

# Starts the master for the instance in $1 (config already written). Returns 2 when a port
# was taken, 1 on other failures.
_dv_launch ()
{
    local D=$1 dovecot i
    dovecot=$(_dv_find_dovecot) || return 1
    rm -f "$D/run/master.pid"
    : >"$D/log/start.err"
    if ! "$dovecot" -c "$D/etc/dovecot.conf" </dev/null >>"$D/log/start.err" 2>&1; then
        if grep -q 'Address already in use' "$D/log/start.err" "$D/log/dovecot.log" 2>/dev/null; then
            : >"$D/log/dovecot.log"
            return 2
        fi
        return 1
    fi
    for ((i = 0; i < 100; i++)); do
        [ -s "$D/run/master.pid" ] && break
        sleep 0.1
    done
    [ -s "$D/run/master.pid" ] || return 1
    # Wait until the IMAP port greets and the IMAPS port accepts (bounded: 10 s).
    dovecot_use "$D"
    for ((i = 0; i < 100; i++)); do
        if _dv_greets "$DOVECOT_PORT" && _dv_port_in_use "$DOVECOT_TLS_PORT"; then
            _dv_start_watchdog "$D"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# Kills the instance if the test shell disappears without running its exit handler
# (SIGKILL, meson timeout). Bounded: gives up after 2 hours.
_dv_start_watchdog ()
{
    local D=$1 mpid shell=$_TAP_MAIN_PID
    mpid=$(cat "$D/run/master.pid")
    (
        for ((i = 0; i < 7200; i++)); do
            kill -0 "$mpid" 2>/dev/null || exit 0
            kill -0 "$shell" 2>/dev/null || break
            sleep 1
        done
        kill -TERM "$mpid" 2>/dev/null
        sleep 3
        kill -KILL "$mpid" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    echo $! >"$D/run/watchdog.pid"
}

dovecot_start ()
{
    local D uid gid user attempt port tls_port rc
    if [ ! -x "$_DV_IMAP_BIN" ] || ! _dv_find_dovecot >/dev/null; then
        skip_all "dovecot-imapd is not installed"
    fi
    command -v openssl >/dev/null || bail_out "openssl is needed for dovecot_start"

    D=$(tap_tmpdir) || bail_out "no temp dir"
    if [ "$(id -u)" = 0 ]; then
        uid=65534 gid=65534 user=nobody
        # nobody must reach $D: traverse-only on the per-test root.
        chmod 711 "$TAP_ROOT"
    else
        uid=$(id -u) gid=$(id -g) user=$(id -un)
    fi
    mkdir -p "$D/etc" "$D/run" "$D/state" "$D/log" "$D/Maildir" || bail_out "mkdir in $D"

    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$D/etc/key.pem" -out "$D/etc/cert.pem" -days 7 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost \
        >"$D/log/openssl.log" 2>&1 || {
        diag "$(cat "$D/log/openssl.log")"
        bail_out "openssl could not make a certificate"
    }
    printf 'test:{PLAIN}secret\n' >"$D/etc/passwd"
    : >"$D/log/dovecot.log"
    : >"$D/log/tunnel.log"
    chmod 644 "$D/etc/key.pem" "$D/etc/cert.pem" "$D/log/tunnel.log"
    chmod 755 "$D"
    if [ "$(id -u)" = 0 ]; then
        chown "$uid:$gid" "$D" "$D/Maildir" "$D/log/tunnel.log"
        if ! setpriv --reuid="$uid" --regid="$gid" --clear-groups test -w "$D/Maildir"; then
            bail_out "uid $uid cannot write $D/Maildir (is ${TMPDIR:-/tmp} traversable for nobody?)"
        fi
    fi

    rc=1
    for ((attempt = 0; attempt < 20; attempt++)); do
        port=$((20000 + (RANDOM % 6000) * 2))
        tls_port=$((port + 1))
        if _dv_port_in_use "$port" || _dv_port_in_use "$tls_port"; then
            continue
        fi
        _dv_write_conf "$D" "$port" "$tls_port" "$uid" "$gid" "$user"
        _dv_write_env "$D" "$port" "$tls_port"
        rc=0
        _dv_launch "$D" || rc=$?
        [ "$rc" = 2 ] || break
    done
    if [ "$rc" != 0 ]; then
        diag "dovecot failed to start (attempts: $((attempt + 1)))"
        diag "$(cat "$D/log/start.err" "$D/log/dovecot.log" 2>/dev/null | tail -n 20)"
        [ -s "$D/run/master.pid" ] && _dv_stop_dir "$D"
        bail_out "dovecot_start failed"
    fi
    at_exit _dv_stop_dir "$D"
    dovecot_use "$D"
    # Make sure the userdb/storage path works before tests rely on it (creates INBOX).
    dv mailbox status messages INBOX >/dev/null 2>"$D/log/first-status.err" || {
        diag "$(cat "$D/log/first-status.err" "$D/log/dovecot.log")"
        bail_out "dovecot started but doveadm cannot open INBOX"
    }
}

_dv_write_env ()
{
    local D=$1
    {
        printf 'DOVECOT_DIR=%q\n' "$D"
        printf 'DOVECOT_PORT=%q\n' "$2"
        printf 'DOVECOT_TLS_PORT=%q\n' "$3"
        printf 'DOVECOT_CA=%q\n' "$D/etc/cert.pem"
        printf 'DOVECOT_MAILDIR=%q\n' "$D/Maildir"
        printf 'DOVECOT_CONF=%q\n' "$D/etc/dovecot.conf"
        printf 'DOVECOT_USER=test\nDOVECOT_PASSWORD=secret\n'
        echo 'export DOVECOT_DIR DOVECOT_PORT DOVECOT_TLS_PORT DOVECOT_CA DOVECOT_MAILDIR'
        echo 'export DOVECOT_CONF DOVECOT_USER DOVECOT_PASSWORD'
    } >"$D/env"
}

dovecot_use ()
{
    [ -f "$1/env" ] || { echo "dovecot_use: $1 is not a dovecot.sh instance" >&2; return 1; }
    # shellcheck disable=SC1091
    . "$1/env"
}

_dv_stop_dir ()
{
    local D=$1 mpid wpid i kids
    if [ -s "$D/run/watchdog.pid" ]; then
        wpid=$(cat "$D/run/watchdog.pid")
        kill -TERM "$wpid" 2>/dev/null || true
        rm -f "$D/run/watchdog.pid"
    fi
    [ -s "$D/run/master.pid" ] || return 0
    mpid=$(cat "$D/run/master.pid")
    if kill -0 "$mpid" 2>/dev/null; then
        kids=$(ps -o pid= --ppid "$mpid" 2>/dev/null | tr -d ' ' | tr '\n' ' ')
        kill -TERM "$mpid" 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
            kill -0 "$mpid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$mpid" 2>/dev/null; then
            kill -KILL "$mpid" 2>/dev/null || true
        fi
        for i in $kids; do
            kill -KILL "$i" 2>/dev/null || true
        done
    fi
    rm -f "$D/run/master.pid"
    return 0
}

dovecot_stop ()
{
    _dv_stop_dir "${1:-$DOVECOT_DIR}"
}

dovecot_restart ()
{
    local D=$DOVECOT_DIR
    _dv_stop_dir "$D"
    _dv_launch "$D" || {
        diag "$(tail -n 20 "$D/log/start.err" "$D/log/dovecot.log")"
        bail_out "dovecot_restart failed"
    }
}

dovecot_tunnel_cmd ()
{
    local D=$DOVECOT_DIR
    if [ "$(id -u)" = 0 ]; then
        printf 'env -i USER=test HOME=%q PATH=/usr/bin:/bin setpriv --reuid=65534 --regid=65534 --clear-groups ' "$D"
    else
        printf 'env -i USER=test HOME=%q PATH=/usr/bin:/bin ' "$D"
    fi
    # A standalone (preauth) imap logs to stderr whatever log_path says; send that to
    # log/tunnel.log (in dovecot_log) so nmsync's stderr only shows nmsync's messages.
    # Works both when the command is run with sh -c and when it is split into argv.
    # shellcheck disable=SC2016
    printf '/bin/sh -c '\''exec "$0" -c "$1" 2>>"$2"'\'' %q %q %q\n' \
        "$_DV_IMAP_BIN" "$DOVECOT_CONF" "$D/log/tunnel.log"
}

dovecot_log ()
{
    cat "$DOVECOT_DIR/log/dovecot.log" "$DOVECOT_DIR/log/tunnel.log" 2>/dev/null
}

dovecot_log_errors ()
{
    dovecot_log | grep -E '(Error|Fatal|Panic):'
}

# Sets _DV_ARGS to the doveadm arguments after "CMD... --" with every mailbox name given
# with '/' written with DOVECOT_SEPARATOR (see the header).
_dv_translate_args ()
{
    local -a cmd=()
    local a next=0 all=0 first=0
    while [ "$1" != -- ]; do
        cmd+=("$1")
        shift
    done
    shift
    case "${cmd[0]} ${cmd[1]:-}" in
    "mailbox "*) all=1 ;;
    "move "* | "copy "*) first=1 ;;
    esac
    _DV_ARGS=()
    for a in "$@"; do
        if [ "$next" = 1 ] || { [ "$all" = 1 ] && [ "${a#-}" = "$a" ]; } ||
            { [ "$first" = 1 ] && [ "${a#-}" = "$a" ]; }; then
            [ "$first" = 1 ] && [ "${a#-}" = "$a" ] && first=0
            a=$(_dv_box "$a")
            next=0
        elif [ "$a" = mailbox ] || { [ "${cmd[0]}" = save ] && [ "$a" = -m ]; }; then
            next=1
        fi
        _DV_ARGS+=("$a")
    done
}

dv ()
{
    local -a pre=() cmd=()
    while [ $# -gt 0 ]; do
        case $1 in
        -f | -o) pre+=("$1" "$2"); shift 2 ;;
        -*) pre+=("$1"); shift ;;
        *) break ;;
        esac
    done
    [ $# -gt 0 ] || { echo "dv: no doveadm command" >&2; return 2; }
    cmd=("$1")
    shift
    case ${cmd[0]} in
    flags | mailbox | acl | quota | fts | sieve)
        cmd+=("$1")
        shift
        [ "${cmd[0]} ${cmd[1]}" != "mailbox cache" ] || { cmd+=("$1"); shift; }
        ;;
    esac
    [ "${DOVECOT_SEPARATOR:-/}" = / ] || _dv_translate_args "${cmd[@]}" -- "$@"
    [ "${DOVECOT_SEPARATOR:-/}" = / ] || set -- "${_DV_ARGS[@]}"
    case ${cmd[0]} in
    fetch | search | expunge | save | import | flags | mailbox | altmove | copy | move | \
        deduplicate | force-resync | index | purge | quota | acl | fts | sync | backup | \
        batch | rebuild | sieve)
        if [ "${1:-}" != -u ] && [ "${1:-}" != -A ]; then
            cmd+=(-u test)
        fi
        ;;
    esac
    doveadm -c "$DOVECOT_CONF" "${pre[@]}" "${cmd[@]}" "$@"
}

# ---- seeding ----

_dv_ensure_folder ()
{
    [ "$1" = INBOX ] && return 0
    if ! server_folders | grep -Fxq -- "$1"; then
        dv mailbox create "$1" || return 1
    fi
}

_dv_sync_folder ()
{
    dv search mailbox "$1" all >/dev/null
}

# Writes N generated messages straight into FOLDER's new/ (fast for large N); Dovecot
# assigns UIDs in file-name time order, which is generation order.
_dv_generate ()
{
    local folder=$1 n=$2 dir k t s
    dir=$(dv mailbox path "$folder") || return 1
    [ -d "$dir/new" ] || { echo "no $dir/new" >&2; return 1; }
    for ((k = 1; k <= n; k++)); do
        _DV_GEN_SEQ=$((_DV_GEN_SEQ + 1))
        s=$_DV_GEN_SEQ
        t=$((1700000000 + s))
        printf '%s\n' \
            "From: Seed Sender <sender@example.org>" \
            "To: Test User <test@example.org>" \
            "Subject: Seed message $k of $n in $folder" \
            "Date: Mon, 1 Jan 2024 $(printf '%02d:%02d:%02d' $((s / 3600 % 24)) $((s / 60 % 60)) $((s % 60))) +0000" \
            "Message-ID: <seed-$s@nmsync.test>" \
            "MIME-Version: 1.0" \
            "Content-Type: text/plain; charset=us-ascii" \
            "" \
            "This is generated message $k of $n (sequence $s)." \
            >"$dir/tmp/$t.M${s}P$$.nmsync-seed"
        mv "$dir/tmp/$t.M${s}P$$.nmsync-seed" "$dir/new/$t.M${s}P$$.nmsync-seed"
    done
    if [ "$(id -u)" = 0 ]; then
        chown 65534:65534 "$dir"/new/*.nmsync-seed 2>/dev/null || true
    fi
}

dovecot_seed ()
{
    local flags="" folder f before after
    DOVECOT_SEEDED_UIDS=""
    if [ "${1:-}" = --flags ]; then
        flags=$2
        shift 2
    fi
    [ $# -ge 2 ] || { echo "usage: dovecot_seed [--flags 'F...'] FOLDER FILE|N..." >&2; return 2; }
    folder=$1
    shift
    _dv_ensure_folder "$folder" || { echo "dovecot_seed: cannot create $folder" >&2; return 1; }
    _dv_sync_folder "$folder"
    before=$(server_uidnext "$folder") || return 1
    for f in "$@"; do
        if [ -f "$f" ]; then
            dv save -m "$folder" <"$f" || { echo "dovecot_seed: doveadm save failed for $f" >&2; return 1; }
        elif [[ $f =~ ^[0-9]+$ ]]; then
            _dv_generate "$folder" "$f" || return 1
        else
            echo "dovecot_seed: no such file: $f" >&2
            return 1
        fi
    done
    _dv_sync_folder "$folder"
    after=$(server_uidnext "$folder") || return 1
    if [ "$after" -gt "$before" ]; then
        DOVECOT_SEEDED_UIDS="$before:$((after - 1))"
        if [ -n "$flags" ]; then
            dv flags add "$flags" mailbox "$folder" uid "$DOVECOT_SEEDED_UIDS" || return 1
        fi
    fi
    return 0
}

# Prints "relative-path<TAB>flags" for each MANIFEST entry, in order.
_dv_manifest ()
{
    local dir=$1 path rest
    while read -r path rest || [ -n "$path" ]; do
        case $path in '' | '#'*) continue ;; esac
        printf '%s\t%s\n' "$path" "$rest"
    done <"$dir/MANIFEST"
}

corpus_files ()
{
    local folder=$1 dir=${2:-${CORPUS_DIR:-$_DV_CORPUS_DEFAULT}} path flags
    _dv_manifest "$dir" | while IFS=$'\t' read -r path flags; do
        [ "${path%/*}" = "$folder" ] && printf '%s\n' "$dir/$path"
    done
    if [ "$folder" = INBOX ] && [ -n "${CORPUS_LARGE:-}" ]; then
        printf '%s\n' "$CORPUS_LARGE"
    fi
    return 0
}

corpus_count ()
{
    corpus_files "$@" | wc -l
}

dovecot_seed_corpus ()
{
    local dir=${1:-$_DV_CORPUS_DEFAULT} path flags f missing=0
    dir=$(cd "$dir" && pwd) || bail_out "no corpus dir $dir"
    [ -f "$dir/MANIFEST" ] || bail_out "no $dir/MANIFEST"
    # Every .eml is listed and every listed file exists.
    while IFS= read -r f; do
        if ! _dv_manifest "$dir" | cut -f1 | grep -Fxq -- "$f"; then
            diag "corpus file not in MANIFEST: $f"
            missing=1
        fi
    done < <(cd "$dir" && find . -name '*.eml' -type f | sed 's|^\./||')
    while IFS=$'\t' read -r path flags; do
        [ -f "$dir/$path" ] || { diag "MANIFEST lists a missing file: $path"; missing=1; }
    done < <(_dv_manifest "$dir")
    [ "$missing" = 0 ] || bail_out "corpus MANIFEST out of date"

    while IFS=$'\t' read -r path flags; do
        if [ -n "$flags" ]; then
            dovecot_seed --flags "$flags" "${path%/*}" "$dir/$path"
        else
            dovecot_seed "${path%/*}" "$dir/$path"
        fi || bail_out "seeding $path failed"
    done < <(_dv_manifest "$dir")

    CORPUS_DIR=$dir
    CORPUS_LARGE=$DOVECOT_DIR/large.eml
    if [ ! -s "$CORPUS_LARGE" ]; then
        bash "$dir/../gen-large.sh" "$CORPUS_LARGE" || bail_out "gen-large.sh failed"
    fi
    dovecot_seed INBOX "$CORPUS_LARGE" || bail_out "seeding the large message failed"
    export CORPUS_DIR CORPUS_LARGE
}

# ---- inspection ----

_dv_status ()
{
    # _dv_status FIELD FOLDER
    dv -f tab mailbox status "$1" "$2" | awk -F'\t' 'NR == 2 { print $NF }' | grep .
}

imap_count () { _dv_status messages "$1"; }
server_uidnext () { _dv_status uidnext "$1"; }
server_uidvalidity () { _dv_status uidvalidity "$1"; }
server_highestmodseq () { _dv_status highestmodseq "$1"; }

server_uids ()
{
    local out
    out=$(dv -f tab fetch uid mailbox "$1" all) || return 1
    printf '%s\n' "$out" | tail -n +2 | sort -n | paste -sd' ' -
}

server_flags ()
{
    local out
    out=$(dv -f tab fetch flags mailbox "$1" uid "$2") || return 1
    printf '%s\n' "$out" | sed -n 2p | tr ' ' '\n' | grep -v -e '^\\Recent$' -e '^$' |
        LC_ALL=C sort | paste -sd' ' -
}

# Prints "uid<TAB>path" for each message of FOLDER.
_dv_files ()
{
    local folder=$1 dir uid guid f
    dir=$(dv mailbox path "$folder") || return 1
    dv -f tab fetch 'uid guid' mailbox "$folder" all | tail -n +2 |
        while IFS=$'\t' read -r uid guid; do
            f=""
            for f in "$dir/cur/$guid" "$dir/cur/$guid:"* "$dir/new/$guid" "$dir/new/$guid:"*; do
                [ -f "$f" ] && break
                f=""
            done
            if [ -z "$f" ]; then
                echo "server_file: no file for uid $uid (guid $guid) in $dir" >&2
                f=MISSING
            fi
            printf '%s\t%s\n' "$uid" "$f"
        done
}

server_file ()
{
    local uid path
    while IFS=$'\t' read -r uid path; do
        if [ "$uid" = "$2" ]; then
            [ "$path" != MISSING ] || return 1
            printf '%s\n' "$path"
            return 0
        fi
    done < <(_dv_files "$1")
    return 1
}

server_sum ()
{
    local uid path sum
    _dv_files "$1" | sort -n | while IFS=$'\t' read -r uid path; do
        if [ "$path" = MISSING ]; then
            sum=MISSING
        else
            sum=$(sha256sum <"$path") && sum=${sum%% *}
        fi
        printf '%s %s\n' "$uid" "$sum"
    done
}

server_folders ()
{
    if [ "${DOVECOT_SEPARATOR:-/}" = / ]; then
        dv mailbox list | LC_ALL=C sort
    else
        dv mailbox list | tr "$DOVECOT_SEPARATOR" / | LC_ALL=C sort
    fi
}

# ---- options ----

# DOVECOT_COMPRESS=1: COMPRESS=DEFLATE (RFC 4978). imap_zlib needs the zlib mail plugin.
_dv_compress_conf ()
{
    cat <<'EOF'
mail_plugins = $mail_plugins zlib
protocol imap {
  mail_plugins = $mail_plugins imap_zlib
}
EOF
}

# ---- rawlog (DOVECOT_RAWLOG=1) ----

rawlog_mark () {
    local D=$DOVECOT_DIR
    [ -n "${DOVECOT_RAWLOG:-}" ] || { echo "rawlog_mark: DOVECOT_RAWLOG is not set" >&2; return 1; }
    rm -rf "$D/rawlog"
    mkdir -p "$D/rawlog"
    [ "$(id -u)" != 0 ] || chown 65534:65534 "$D/rawlog"
}

rawlog_commands () {
    local f
    for f in "$DOVECOT_DIR"/rawlog/*.in; do
        [ -f "$f" ] || continue
        # Dovecot prefixes each line with a timestamp; then comes the tag
        tr -d '\r' <"$f" | sed -E -n 's/^([0-9]+\.[0-9]+ )?[A-Za-z0-9.]+ ([A-Za-z].*)$/\2/p'
    done
}

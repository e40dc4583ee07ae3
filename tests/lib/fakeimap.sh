# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# fakeimap.sh: helpers around tests/tools/fakeimap ($FAKEIMAP). Source after tap.sh.
# Script format: tests/tools/README.md. Every client command is logged to SCRIPT.log
# ("C: <command>", literals included) so tests can assert what nmsync sent.
#
#   fakeimap_start SCRIPT [fakeimap-options...]
#                           serve one TCP connection on 127.0.0.1 in the background; exports
#                           FAKEIMAP_PORT, sets FAKEIMAP_PID and FAKEIMAP_STDERR; killed at exit.
#   fakeimap_wait [SECS]    wait (default 10 s) for the started fakeimap to end; returns its
#                           exit status (0 fine, 2 timeout, 3 some command matched no rule),
#                           or 124 if it is still running (it is left running; at_exit kills it).
#   fakeimap_tunnel_cmd SCRIPT [fakeimap-options...]
#                           print a `tunnel =` command running fakeimap --stdio SCRIPT.
#   fakeimap_slow_select_script SECS
#                           print a script: a preauthenticated server with an empty INBOX
#                           whose SELECT/EXAMINE answers after SECS seconds (a run that holds
#                           the account lock that long, for the lock tests).

if [ -n "${_FAKEIMAP_SH_LOADED:-}" ]; then
    return 0
fi
_FAKEIMAP_SH_LOADED=1

_fi_check ()
{
    if [ -z "${FAKEIMAP:-}" ] || [ ! -x "$FAKEIMAP" ]; then
        bail_out "FAKEIMAP is not set to the fakeimap binary"
    fi
}

fakeimap_start ()
{
    local script=$1 d i
    shift
    _fi_check
    d=$(tap_tmpdir) || bail_out "no temp dir"
    FAKEIMAP_STDERR=$d/stderr
    "$FAKEIMAP" --log "$script.log" "$@" --port-file "$d/port" "$script" \
        </dev/null >"$d/stdout" 2>"$FAKEIMAP_STDERR" &
    FAKEIMAP_PID=$!
    at_exit tap_kill "$FAKEIMAP_PID"
    for ((i = 0; i < 100; i++)); do
        [ -s "$d/port" ] && break
        _tap_alive "$FAKEIMAP_PID" || break
        sleep 0.1
    done
    if [ ! -s "$d/port" ]; then
        diag "$(cat "$FAKEIMAP_STDERR")"
        bail_out "fakeimap did not start"
    fi
    FAKEIMAP_PORT=$(cat "$d/port")
    export FAKEIMAP_PORT
}

fakeimap_wait ()
{
    local secs=${1:-10} i
    for ((i = 0; i < secs * 10; i++)); do
        _tap_alive "$FAKEIMAP_PID" || break
        sleep 0.1
    done
    if _tap_alive "$FAKEIMAP_PID"; then
        return 124
    fi
    wait "$FAKEIMAP_PID"
}

fakeimap_tunnel_cmd ()
{
    local script=$1
    shift
    _fi_check
    printf '%q --log %q' "$FAKEIMAP" "$script.log"
    [ $# -eq 0 ] || printf ' %q' "$@"
    printf ' --stdio %q\n' "$script"
}

fakeimap_slow_select_script ()
{
    local cmd
    # shellcheck disable=SC2016 # $TAG is fakeimap's, not the shell's
    echo 'greeting * PREAUTH fake ready'
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 UIDPLUS MOVE'
    echo '  $TAG OK done'
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    for cmd in SELECT EXAMINE; do
        echo "on $cmd"
        echo "  sleep $1"
        echo '  * 0 EXISTS'
        echo '  * OK [UIDVALIDITY 7] x'
        echo '  * OK [UIDNEXT 1] x'
        echo '  $TAG OK [READ-WRITE] done'
    done
    echo 'on *'
    echo '  $TAG OK done'
}

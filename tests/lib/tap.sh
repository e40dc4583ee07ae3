# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# tap.sh: TAP output, temp dirs and cleanup-at-exit for nmsync integration tests.
# Source it first:   . "$NMSYNC_TESTLIB/tap.sh"    (or "$(dirname "$0")/../lib/tap.sh")
#
#   check "desc" cmd args...      ok when cmd exits 0; on failure prints the command, its exit
#                                 status and the last lines of its stdout+stderr as '# ' lines.
#                                 External commands run with stdin </dev/null under
#                                 `timeout $NMSYNC_TEST_TIMEOUT` (default 120 s); shell
#                                 functions and builtins run directly (no timeout).
#   check_fails "desc" cmd...     the opposite: ok when cmd exits non-zero (not 124 = timeout,
#                                 not >= 126: not found / killed by a signal).
#   check_eq "desc" expected actual   string comparison, prints both on failure.
#   check_match "desc" ERE string     ok when string matches the extended regex (grep -E).
#   skip "desc" "reason"          prints `ok N - desc # SKIP reason`.
#   skip_all "reason"             prints `1..0 # SKIP reason`, exits 0 (before any check only).
#   bail_out "reason"             prints `Bail out! reason`, runs cleanup, exits 1.
#   diag "text"...                prints each line as `# text` (stdout, so it is kept in the log).
#   tap_tmpdir                    creates and prints a new private dir (mode 700) under the
#                                 per-test root ${TMPDIR:-/tmp}/nmsync-test.XXXXXX; the root is
#                                 removed at exit unless NMSYNC_KEEP_TMP=1. Safe in $( ).
#   at_exit cmd args...           registers a cleanup command; all registered commands run at
#                                 exit in reverse order, also when the test fails or is
#                                 interrupted. Call it at top level, not inside $( ).
#   tap_spawn cmd args...         starts cmd in the background (stdio to files in the test
#                                 root, never to the TAP stream), sets TAP_SPAWN_PID, and kills
#                                 it (TERM, bounded wait, KILL) at exit.
#   tap_kill PID                  TERM, wait up to 5 s, then KILL.
#   wait_for "desc" SECONDS cmd...  polls cmd every 0.1 s until it succeeds; returns 1 (no TAP
#                                 line) when SECONDS pass.
#
# At exit the plan `1..N` is printed (a trailing plan is valid TAP); the script exits non-zero
# when any check failed. If the script itself ends with a non-zero status outside a check
# (set -e, a crash, a signal), a final `not ok` line reports it.
# Variables: TAP_ROOT (per-test temp root), TAP_FAILED (number of failed checks).
# TAP_QUIET=1 (set before sourcing) drops the plan and the kept-dir line: for scripts/demo.

if [ -n "${_TAP_SH_LOADED:-}" ]; then
    return 0
fi
_TAP_SH_LOADED=1

_TAP_N=0
TAP_FAILED=0
_TAP_SKIPPED_ALL=0
_TAP_DONE=0
_TAP_AT_EXIT=()
_TAP_MAIN_PID=$$
: "${NMSYNC_TEST_TIMEOUT:=120}"

# The TAP stream, so that the plan reaches it even when the script dies inside a redirection.
exec {_TAP_FD}>&1

TAP_ROOT=$(mktemp -d "${TMPDIR:-/tmp}/nmsync-test.XXXXXX") || {
    echo "Bail out! cannot create a temp dir under ${TMPDIR:-/tmp}"
    exit 1
}
export TAP_ROOT

diag ()
{
    local line l
    for line in "$@"; do
        [ -n "$line" ] || continue
        while IFS= read -r l || [ -n "$l" ]; do
            printf '# %s\n' "$l"
        done <<<"$line"
    done
}

# Prints at most 40 lines of a file as diagnostics (head and tail when longer).
_tap_diag_file ()
{
    local f=$1 n
    [ -s "$f" ] || return 0
    n=$(wc -l <"$f")
    if [ "$n" -le 40 ]; then
        sed 's/^/#   /' "$f"
    else
        head -n 10 "$f" | sed 's/^/#   /'
        printf '#   [... %d lines left out ...]\n' "$((n - 40))"
        tail -n 30 "$f" | sed 's/^/#   /'
    fi
    # A last line without a newline still ends the diagnostic line.
    [ -z "$(tail -c 1 "$f")" ] || echo
}

_tap_result ()
{
    # _tap_result OK|NOTOK "desc" [directive]
    _TAP_N=$((_TAP_N + 1))
    local desc=${2//$'\n'/ }
    desc=${desc//#/\\#}
    if [ "$1" = OK ]; then
        printf 'ok %d - %s%s\n' "$_TAP_N" "$desc" "${3:+ # $3}"
    else
        TAP_FAILED=$((TAP_FAILED + 1))
        printf 'not ok %d - %s\n' "$_TAP_N" "$desc"
    fi
}

# Runs "$@" with output captured in $_TAP_OUT; sets _TAP_RC.
_tap_run ()
{
    _TAP_OUT=$TAP_ROOT/.check.out
    local t
    t=$(type -t "$1" 2>/dev/null || true)
    _TAP_TIMED=0
    # `|| _TAP_RC=$?`: a failing command must not end a test that runs under set -e.
    _TAP_RC=0
    if [ "$t" = function ] || [ "$t" = builtin ] || [ "$t" = keyword ]; then
        "$@" </dev/null >"$_TAP_OUT" 2>&1 || _TAP_RC=$?
    else
        _TAP_TIMED=1
        timeout -k 5 "$NMSYNC_TEST_TIMEOUT" "$@" </dev/null >"$_TAP_OUT" 2>&1 || _TAP_RC=$?
    fi
}

_tap_report_failure ()
{
    diag "command: $(printf '%q ' "$@")" "exit status: $_TAP_RC"
    if [ "$_TAP_TIMED" = 1 ] && [ "$_TAP_RC" -eq 124 ]; then
        diag "(timed out after ${NMSYNC_TEST_TIMEOUT}s)"
    fi
    if [ -s "$_TAP_OUT" ]; then
        diag "output:"
        _tap_diag_file "$_TAP_OUT"
    fi
}

check ()
{
    local desc=$1
    shift
    _tap_run "$@"
    if [ "$_TAP_RC" -eq 0 ]; then
        _tap_result OK "$desc"
    else
        _tap_result NOTOK "$desc"
        _tap_report_failure "$@"
    fi
    return 0
}

check_fails ()
{
    local desc=$1
    shift
    _tap_run "$@"
    if [ "$_TAP_RC" -ne 0 ] && [ "$_TAP_RC" -ne 124 ] && [ "$_TAP_RC" -lt 126 ]; then
        _tap_result OK "$desc"
    else
        _tap_result NOTOK "$desc"
        diag "expected a failure (exit status 1..123 or 125)"
        _tap_report_failure "$@"
    fi
    return 0
}

check_eq ()
{
    if [ "$2" = "$3" ]; then
        _tap_result OK "$1"
    else
        _tap_result NOTOK "$1"
        diag "expected:"
        printf '%s\n' "$2" | sed 's/^/#   /'
        diag "actual:"
        printf '%s\n' "$3" | sed 's/^/#   /'
    fi
    return 0
}

check_match ()
{
    if printf '%s\n' "$3" | grep -Eq -- "$2"; then
        _tap_result OK "$1"
    else
        _tap_result NOTOK "$1"
        diag "pattern: $2" "string:"
        printf '%s\n' "$3" | head -n 30 | sed 's/^/#   /'
    fi
    return 0
}

skip ()
{
    _tap_result OK "$1" "SKIP ${2:-}"
}

skip_all ()
{
    if [ "$_TAP_N" -gt 0 ]; then
        diag "skip_all after $_TAP_N checks: ${1:-}"
        exit 0
    fi
    printf '1..0 # SKIP %s\n' "${1:-}"
    _TAP_SKIPPED_ALL=1
    exit 0
}

bail_out ()
{
    printf 'Bail out! %s\n' "${*//$'\n'/ }"
    _TAP_DONE=1
    exit 1
}

tap_tmpdir ()
{
    mktemp -d "$TAP_ROOT/tmp.XXXXXX"
}

at_exit ()
{
    if [ "${BASHPID:-$$}" != "$_TAP_MAIN_PID" ]; then
        echo "at_exit called in a subshell; it would be lost: $*" >&2
        return 1
    fi
    _TAP_AT_EXIT+=("$(printf '%q ' "$@")")
}

# True while PID runs (a zombie child waiting to be reaped does not count).
_tap_alive ()
{
    local st
    kill -0 "$1" 2>/dev/null || return 1
    st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "${st%% *}" != Z ]
}

tap_kill ()
{
    local pid=$1 i
    _tap_alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        _tap_alive "$pid" || break
        sleep 0.1
    done
    if _tap_alive "$pid"; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    return 0
}

tap_spawn ()
{
    local log
    log=$(mktemp "$TAP_ROOT/spawn.XXXXXX") || return 1
    "$@" </dev/null >"$log.out" 2>"$log.err" &
    TAP_SPAWN_PID=$!
    at_exit tap_kill "$TAP_SPAWN_PID"
}

wait_for ()
{
    local desc=$1 secs=$2 i
    shift 2
    for ((i = 0; i < secs * 10; i++)); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    diag "timed out after ${secs}s waiting for: $desc"
    return 1
}

_tap_exit ()
{
    local rc=$? i
    # Only the main shell cleans up; subshells ($( ), pipelines) inherit the trap.
    if [ "${BASHPID:-$$}" != "$_TAP_MAIN_PID" ]; then
        return "$rc"
    fi
    trap - EXIT INT TERM HUP
    set +e
    exec 1>&"$_TAP_FD"
    for ((i = ${#_TAP_AT_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${_TAP_AT_EXIT[i]}" </dev/null >>"$TAP_ROOT/.at_exit.log" 2>&1 || true
    done
    if [ "${TAP_QUIET:-0}" = 1 ]; then
        : # scripts/demo uses the helpers, not the TAP output
    elif [ "$_TAP_SKIPPED_ALL" -eq 0 ] && [ "$_TAP_DONE" -eq 0 ]; then
        if [ "$rc" -ne 0 ] && [ "$TAP_FAILED" -eq 0 ]; then
            _tap_result NOTOK "test script ended early with exit status $rc"
        fi
        printf '1..%d\n' "$_TAP_N"
    fi
    if [ "${NMSYNC_KEEP_TMP:-0}" = 1 ]; then
        [ "${TAP_QUIET:-0}" = 1 ] || printf '# kept temp dir %s\n' "$TAP_ROOT"
    else
        rm -rf "$TAP_ROOT"
    fi
    if [ "$_TAP_DONE" -eq 1 ] || [ "$TAP_FAILED" -gt 0 ]; then
        exit 1
    fi
    exit "$rc"
}

trap _tap_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

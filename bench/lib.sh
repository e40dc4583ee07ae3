# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# bench/lib.sh: what tests/lib/dovecot.sh needs from tap.sh, without TAP. Source it with
# BENCH_WORK set to the run's work dir, then source tests/lib/dovecot.sh. dovecot.sh checks
# _TAP_SH_LOADED and calls tap_tmpdir, at_exit, diag, bail_out and skip_all; its watchdog
# stops Dovecot when the shell named by _TAP_MAIN_PID is gone.
#
#   at_exit CMD ARGS...   registered commands run in reverse order when the script exits
#                         (normally, on an error, or on INT/TERM/HUP).
#   bench_note TEXT       prints TEXT to stderr (progress), also used for dovecot.sh's diag.
#   bench_fg CMD ARGS...  runs CMD and returns its exit status, in a way a signal to the script
#                         interrupts (bash would wait for a foreground command first): CMD runs
#                         in the background and is waited for; at exit, a CMD still running
#                         gets SIGTERM (then SIGKILL after 5 s).

_TAP_SH_LOADED=1
_TAP_MAIN_PID=$$
TAP_ROOT=${BENCH_WORK:?BENCH_WORK must name the work dir}
_BENCH_AT_EXIT=()
_BENCH_CHILD=""

bench_note () { printf 'bench: %s\n' "$@" >&2; }
diag () { local l; for l in "$@"; do printf '  %s\n' "$l" >&2; done; }
bail_out () { bench_note "$*"; exit 1; }
skip_all () { bench_note "cannot run: $*"; exit 2; }
tap_tmpdir () { mktemp -d "$TAP_ROOT/tmp.XXXXXX"; }

at_exit () {
    if [ "${BASHPID:-$$}" != "$_TAP_MAIN_PID" ]; then
        echo "at_exit called in a subshell; it would be lost: $*" >&2
        return 1
    fi
    _BENCH_AT_EXIT+=("$(printf '%q ' "$@")")
}

bench_fg () {
    local rc
    "$@" &
    _BENCH_CHILD=$!
    wait "$_BENCH_CHILD"
    rc=$?
    _BENCH_CHILD=""
    return "$rc"
}

_bench_exit () {
    local rc=$? i
    [ "${BASHPID:-$$}" = "$_TAP_MAIN_PID" ] || return "$rc"
    trap - EXIT INT TERM HUP
    set +e
    if [ -n "$_BENCH_CHILD" ] && kill -TERM "$_BENCH_CHILD" 2>/dev/null; then
        for ((i = 0; i < 50; i++)); do
            kill -0 "$_BENCH_CHILD" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$_BENCH_CHILD" 2>/dev/null
        wait "$_BENCH_CHILD" 2>/dev/null
    fi
    for ((i = ${#_BENCH_AT_EXIT[@]} - 1; i >= 0; i--)); do
        eval "${_BENCH_AT_EXIT[i]}" </dev/null >>"$TAP_ROOT/at_exit.log" 2>&1
    done
    exit "$rc"
}
trap _bench_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

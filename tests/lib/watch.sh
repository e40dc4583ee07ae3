# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# watch.sh: the server event source of nmsync watch, run alone by tests/tools/watch-probe
# ($WATCH_PROBE), which prints one line per event: "FOLDER name", "SWEEP", "DOWN message",
# "UP", and "STOPPED" after SIGTERM. Source after tap.sh and nmsync.sh (it uses NMS_CONFIG).
#
#   probe_start [ACCOUNT]      start the probe for ACCOUNT (default test) in the background;
#                              sets PROBE_PID PROBE_OUT PROBE_ERR; killed at exit. Its
#                              debug messages (G_MESSAGES_DEBUG) go to PROBE_ERR.
#   probe_lines                the lines printed so far.
#   probe_has LINE             the probe printed exactly LINE (a whole line) at some point.
#   probe_mark                 remembers how many lines there are now;
#   probe_has_since LINE       LINE was printed after the last probe_mark.
#   probe_count_since REGEX    how many lines since the mark match REGEX (grep -E, whole line).
#   probe_wait SECS CMD...     polls CMD every 0.1 s until it succeeds (returns 1 after SECS).
#   probe_wait_lines SECS RE...  waits until lines matching each RE appear, in this order.
#   probe_poke                 SIGUSR1: nms_watch_server_poke().
#   probe_stop [SECS]          SIGTERM, waits up to SECS (default 10) for the exit; sets
#                              PROBE_RC (124 when it had to be killed) and PROBE_STOP_MS
#                              (how long the stop took).

if [ -n "${_WATCH_SH_LOADED:-}" ]; then
    return 0
fi
_WATCH_SH_LOADED=1

: "${WATCH_PROBE:?WATCH_PROBE must name the watch-probe binary}"

probe_start () {
    local d
    d=$(tap_tmpdir) || bail_out "no temp dir"
    PROBE_OUT=$d/out
    PROBE_ERR=$d/err
    _PROBE_MARK=0
    G_MESSAGES_DEBUG=all "$WATCH_PROBE" "$NMS_CONFIG" "${1:-test}" </dev/null >"$PROBE_OUT" 2>"$PROBE_ERR" &
    PROBE_PID=$!
    at_exit tap_kill "$PROBE_PID"
}

probe_lines () { cat "$PROBE_OUT" 2>/dev/null; }

probe_has () { probe_lines | grep -Fxq -- "$1"; }

probe_mark () { _PROBE_MARK=$(probe_lines | wc -l); }

probe_has_since () { probe_lines | tail -n +"$((_PROBE_MARK + 1))" | grep -Fxq -- "$1"; }

probe_count_since () { probe_lines | tail -n +"$((_PROBE_MARK + 1))" | grep -Ecx -- "$1"; }

probe_wait () {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "waited ${secs}s; the probe printed:"
    probe_lines
    echo "its stderr (last lines):"
    tail -n 15 "$PROBE_ERR"
    return 1
}

# True when lines matching each RE appear in this order.
_probe_in_order () {
    local re n=0 at
    for re in "$@"; do
        at=$(probe_lines | tail -n +"$((n + 1))" | grep -Enx -m1 -- "$re" | cut -d: -f1)
        [ -n "$at" ] || return 1
        n=$((n + at))
    done
}

probe_wait_lines () {
    local secs=$1
    shift
    probe_wait "$secs" _probe_in_order "$@"
}

probe_poke () { kill -USR1 "$PROBE_PID"; }

probe_stop () {
    local secs=${1:-10} i start
    start=$(date +%s%N)
    kill -TERM "$PROBE_PID" 2>/dev/null
    for ((i = 0; i < secs * 20; i++)); do
        _tap_alive "$PROBE_PID" || break
        sleep 0.05
    done
    PROBE_STOP_MS=$((($(date +%s%N) - start) / 1000000))
    if _tap_alive "$PROBE_PID"; then
        kill -KILL "$PROBE_PID" 2>/dev/null
        wait "$PROBE_PID" 2>/dev/null
        PROBE_RC=124
        return 0
    fi
    PROBE_RC=0
    wait "$PROBE_PID" 2>/dev/null || PROBE_RC=$?
}

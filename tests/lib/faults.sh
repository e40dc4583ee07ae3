# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# faults.sh: what every hostile-server test asserts (tests/integration/t71x). Source after
# tap.sh, fakeimap.sh and nmsync.sh.
#
#   fault_run ARGS...        nmsync_run ARGS, remembering when it started (FAULT_SECS: how
#                            long it took) and a marker file older than anything it writes.
#   check_fault DESC ERE [MAXSECS]
#                            the run ended with exit 1 or 3 (no crash, no sanitizer report),
#                            its stderr matches ERE, it took less than MAXSECS (default 20),
#                            nothing was written outside the Maildir, the state and the test's
#                            own files (the scripts in $FAULT_SCRIPTS, logs), every file in cur/ and new/ is a complete delivery
#                            (",U=<uid>:2,") and nothing is left in tmp/.
#   good_script FILE [UID...] a well-behaved server: INBOX holding the messages UID... (default
#                            1, ascending), each "Subject: message UID"; a body FETCH gets the
#                            messages asked for (a run of UIDs); anything else is answered OK.
#   fault_hostile NAME       writes $FAULT_SCRIPTS/NAME: the rules on stdin first, then those of
#                            the good server in $FAULT_SCRIPTS/good (see good_script).
#   fault_setup NAME         an account whose tunnel runs the script $FAULT_SCRIPTS/NAME.
#   check_recovers DESC SCRIPT [UID...]
#                            a pull from SCRIPT (a good server) exits 0 and INBOX then holds
#                            exactly the messages UID..., once each.

if [ -n "${_FAULTS_SH_LOADED:-}" ]; then
    return 0
fi
_FAULTS_SH_LOADED=1

fault_run () {
    _FAULT_MARK=$(tap_tmpdir)/marker
    touch "$_FAULT_MARK"
    sleep 1.1 # find -newer compares mtimes: everything written from now on is newer
    local start
    start=$(date +%s)
    nmsync_run "$@"
    FAULT_SECS=$(($(date +%s) - start))
}

_fault_outside () {
    find "$TAP_ROOT" -newer "$_FAULT_MARK" ! -path "$NMS_MAILDIR*" ! -path "$NMS_STATE*" \
        ! -path "$NMS_HOME/out.*" ! -path "$NMS_HOME/err.*" ! -path "$NMS_HOME" \
        ! -name '*.log' ! -path "$TAP_ROOT/.check.out" ! -path "$TAP_ROOT" \
        ! -path "$TAP_ROOT/tmp.*/stderr" ! -path "$TAP_ROOT/tmp.*/stdout" \
        ! -path "$TAP_ROOT/tmp.*/port*" ! -path "$(dirname "$_FAULT_MARK")*" \
        ! -path "${FAULT_SCRIPTS:-$NMS_MAILDIR}*"
}

_fault_partial () {
    find "$NMS_MAILDIR" -path '*/cur/*' -o -path '*/new/*' 2>/dev/null |
        grep -Ev ',U=[0-9]+:2,[A-Za-z]*$' || true
}

check_fault () {
    local desc=$1 ere=$2 max=${3:-20}
    check_match "$desc: exit status 1 or 3" '^(1|3)$' "$NMS_RC"
    check_match "$desc: the error says what and where" "$ere" "$(cat "$NMS_ERR")"
    check "$desc: no sanitizer report" bash -c \
        "! grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' '$NMS_ERR'"
    check "$desc: bounded time (${FAULT_SECS}s < ${max}s)" test "$FAULT_SECS" -lt "$max"
    check_eq "$desc: nothing written outside the Maildir" "" "$(_fault_outside)"
    check_eq "$desc: no partial file in cur/ or new/" "" "$(_fault_partial)"
    check "$desc: nothing left in tmp/" no_tmp_leftovers
}

good_script () {
    local file=$1 uid text
    shift
    [ $# -gt 0 ] || set -- 1
    {
        echo 'greeting * PREAUTH fake ready'
        echo 'on LIST'
        echo '  * LIST () "/" "INBOX"'
        echo '  $TAG OK done'
        for cmd in EXAMINE SELECT; do
            echo "on $cmd"
            echo "  * $# EXISTS"
            echo '  * OK [UIDVALIDITY 7] x'
            echo "  * OK [UIDNEXT $(($(printf '%s\n' "$@" | sort -n | tail -n 1) + 1))] x"
            echo '  $TAG OK done'
        done
        echo 'on UID FETCH 1:*'
        for uid in "$@"; do
            text="Subject: message $uid"$'\r\n\r\nbody\r\n'
            echo "  * $uid FETCH (UID $uid FLAGS (\\Seen) RFC822.SIZE ${#text})"
        done
        echo '  $TAG OK done'
        # bodies: a rule per run of UIDs nmsync may ask for ("1 (", "1:2 (", ...), so that
        # the server answers exactly what was asked
        local -a u=("$@")
        local i j
        for ((i = 0; i < ${#u[@]}; i++)); do
            for ((j = i; j < ${#u[@]}; j++)); do
                [ "${u[j]}" -eq $((u[i] + j - i)) ] || break
                if [ "$i" -eq "$j" ]; then
                    echo "on UID FETCH ${u[i]} ("
                else
                    echo "on UID FETCH ${u[i]}:${u[j]} ("
                fi
                for uid in "${u[@]:i:j-i+1}"; do
                    text="Subject: message $uid"$'\r\n\r\nbody\r\n'
                    echo "  * $uid FETCH (UID $uid BODY[] {${#text}}"
                    echo "  raw:Subject: message $uid\\r\\n\\r\\nbody\\r\\n"
                    echo '  )'
                done
                echo '  $TAG OK done'
            done
        done
        echo 'on *'
        echo '  $TAG OK done'
    } >"$file"
}

fault_hostile () {
    {
        echo 'greeting * PREAUTH fake ready'
        cat
        tail -n +2 "$FAULT_SCRIPTS/good"
    } >"$FAULT_SCRIPTS/$1"
}

fault_setup () {
    nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$FAULT_SCRIPTS/$1")
timeout = 10
EOF2
}

check_recovers () {
    local desc=$1 script=$2 uid want="" got=""
    shift 2
    [ $# -gt 0 ] || set -- 1
    sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$script")|" "$NMS_CONFIG"
    nmsync_run pull
    check_eq "$desc: the next run against a good server exits 0" 0 "$NMS_RC"
    for uid in "$@"; do
        want+="$uid:Subject: message $uid "
        got+="$uid:$(head -n 1 "$(local_file INBOX "$uid")" 2>/dev/null) "
    done
    check_eq "$desc: the next run brings INBOX in step" "$want" "$got"
    check_eq "$desc: each message once" "$#" "$(local_count INBOX)"
    check "$desc: nothing left in tmp/ after the next run" no_tmp_leftovers
}

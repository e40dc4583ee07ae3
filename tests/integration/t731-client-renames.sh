#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A mail client renaming files while `nmsync sync` runs, on four folders (one of 1000
# messages, whose cur/ takes several getdents() calls to read).
# Phase 1, three racing rounds: the server first changes (new messages, flags added,
# expunges), then a sync runs while the client, in the background, does what mutt or notmuch
# do to local files: adds a flag (":2,S" -> ":2,RS"), reads a new message (new/ -> cur/ with
# S), moves a file to another folder (",U=" dropped, as mbsync asks of movers), deletes a file,
# adds R to messages whose flags the server changed in the same round; and a second loop
# flips a few messages between two names as fast as it can for as long as the sync runs (F
# on and off, or new/ <-> cur/ with S: mutt moves a message marked new back to new/).
# Phase 2, the storm: twelve syncs in a row while two such loops rename files all along.
# The racing syncs may only complain about files that vanished under them (named, retried
# next run) or that the client moved to another folder during the run (left for the next
# run's move detection, vanished.c). Then one more sync with the loops stopped, and:
# - every Message-ID exactly once on each side, the same messages on both sides folder by
#   folder, and exactly the ones expected (the server's new ones, minus both sides' deletions,
#   moved ones in their new folder): nothing lost, nothing duplicated;
# - the client's last flags on the server (plus the server's own change where both changed a
#   message), local and server agreeing UID by UID;
# - a message the client only renamed keeps its server UID: a file missed by a scan while it
#   was being renamed was never taken for a local deletion (expunged, then uploaded again).
#   Before the fix (cur/ read before new/, no second look) the storm did that to 3 messages;
#   with new/ read first, the second look before a server deletion still finds a file or two
#   that a scan missed in many runs (its warning shows in the log).
# Every loop is bounded (CHURN_MAX renames, 50 tries per action, a 600 s sleep as the storm's
# clock), and every process is stopped at exit.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

ROUNDS=3
CHURN_MAX=3000   # churn renames per round at most: the loop is bounded even if a sync hangs
SEED=${NMSYNC_TEST_SEED:-$(date +%s)}
RANDOM=$SEED
diag "random seed: $SEED (NMSYNC_TEST_SEED=$SEED repeats the choices)"
FOLDERS=(INBOX Work Lists Big)
STORM_SYNCS=12   # syncs in a row while the churn goes on (phase 2)

# ---- the local side as the client sees it -------------------------------------------------

# resolve FOLDER BASE: the file of FOLDER whose unique part is BASE (empty when none).
resolve () {
    local d f
    d=$(local_dir "$1")
    for f in "$d"/new/"$2" "$d"/new/"$2"[,:]* "$d"/cur/"$2"[,:]*; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    return 0
}

# set_letters PATH ADD REMOVE: the client's rename of one file, as mutt does it: a file in new/
# that gets S goes to cur/. Fails when PATH is gone (renamed under it by nmsync).
set_letters () {
    local p=$1 add=$2 del=$3 name dir letters l target
    name=${p##*/} dir=${p%/*}
    letters=""
    case $name in *:2,*) letters=${name##*:2,} name=${name%:2,*} ;; esac
    for ((l = 0; l < ${#del}; l++)); do letters=${letters//${del:l:1}/}; done
    letters=$(printf '%s%s' "$letters" "$add" | fold -w1 | LC_ALL=C sort -u | tr -d '\n')
    case $letters in *S*) dir=${dir%/new}; dir=${dir%/cur}/cur ;; esac
    target=$dir/$name:2,$letters
    [ "$target" = "$p" ] && return 0
    mv -n "$p" "$target" 2>/dev/null && [ ! -e "$p" ]
}

# client_op OP FOLDER BASE [ARG]: one client action (flag LETTERS, move DEST, delete), retried when nmsync renamed the file
# between the look-up and the rename (bounded).
client_op () {
    local op=$1 f=$2 base=$3 arg=${4:-} p try name dest
    for ((try = 0; try < 50; try++)); do
        p=$(resolve "$f" "$base")
        [ -n "$p" ] || { sleep 0.01; continue; }
        case $op in
        flag) set_letters "$p" "$arg" "" && return 0 ;;
        delete) rm -f "$p" && return 0 ;;
        move)
            name=${p##*/}
            name=$(printf '%s' "$name" | sed 's/,U=[0-9]*//')
            case $name in *:2,*) ;; *) name=$name:2, ;; esac
            dest=$(local_dir "$arg")/cur/$name
            mv -n "$p" "$dest" 2>/dev/null && [ ! -e "$p" ] && return 0 ;;
        esac
    done
    echo "client: gave up on $op $f $base" >&2
    return 1
}

# client_ops OPS_FILE: the planned actions, one after the other.
client_ops () {
    local op f base arg
    while read -r op f base arg; do
        client_op "$op" "$f" "$base" "$arg"
    done <"$1"
}

# client_churn CHURN_FILE PID: flips each churn message between its two names (lines
# "dir name-a name-b", planned in advance so that the loop runs nothing but mv: hundreds of
# renames a second) until PID (the sync) ends; at most CHURN_MAX renames. The two names differ
# in F, or are new/ (unseen) and cur/ with S (mutt moves a message marked new back to new/).
# Writes the number of renames to CHURN_FILE.count.
client_churn () {
    local churn=$1 pid=$2 i n=0 d a b
    local -a dirs from to
    while read -r d a b; do dirs+=("$d") from+=("$a") to+=("$b"); done <"$churn"
    while [ ${#dirs[@]} -gt 0 ] && [ "$n" -lt "$CHURN_MAX" ] && kill -0 "$pid" 2>/dev/null; do
        i=$((RANDOM % ${#dirs[@]}))
        if mv "${dirs[i]}/${from[i]}" "${dirs[i]}/${to[i]}"; then
            a=${from[i]} from[i]=${to[i]} to[i]=$a
        else
            echo "client: ${dirs[i]}/${from[i]} was renamed by someone else" >&2
            dirs=("${dirs[@]:0:i}" "${dirs[@]:i+1}")
            from=("${from[@]:0:i}" "${from[@]:i+1}")
            to=("${to[@]:0:i}" "${to[@]:i+1}")
        fi
        n=$((n + 1))
    done
    echo "$n" >"$churn.count"
}

# ---- bookkeeping ------------------------------------------------------------------------
# WANT[id]=folder: every message that should exist at the end. BASE[id], LFOLDER[id]: its
# local file's unique part and folder (at the round's start). USED[id]: touched by the client
# or the server workload already (each message takes part in one action). KEEPUID[id]="folder
# uid": a message the client only renamed, which must keep its server UID. EXTRA_F[id]: the
# server added \Flagged while the client added R.
declare -A WANT=() BASE=() LFOLDER=() LUID=() USED=() KEEPUID=() EXTRA_F=() CLIENT=()

srv_ids () {
    dv -f tab fetch 'uid hdr.message-id' mailbox "$1" all | tail -n +2 | tr -d ' '
}

register_server () {
    local f uid id
    for f in "${FOLDERS[@]}" Archive; do
        while IFS=$'\t' read -r uid id; do
            [ -n "$id" ] && [ -z "${WANT[$id]+x}" ] && [ -z "${GONE[$id]:-}" ] && WANT[$id]=$f
        done < <(srv_ids "$f")
    done
}
declare -A GONE=()

# Reads the local files: BASE, LFOLDER, LUID, LSUB (new or cur) by Message-ID.
read_local () {
    local f dir p id name
    BASE=() LFOLDER=() LUID=() LSUB=()
    while IFS=$'\t' read -r f dir; do
        while IFS=$'\t' read -r p id; do
            [ -n "$id" ] || continue
            name=${p##*/}
            BASE[$id]=${name%%[,:]*}
            LFOLDER[$id]=$f
            LSUB[$id]=${p%/*} LSUB[$id]=${LSUB[$id]##*/}
            case $name in *,U=*) LUID[$id]=${name##*,U=}; LUID[$id]=${LUID[$id]%%[:,]*} ;; esac
        done < <(find "$dir/cur" "$dir/new" -maxdepth 1 -type f -print0 2>/dev/null |
                 xargs -0 -r grep -m1 -H -Z -i '^message-id:' |
                 awk 'BEGIN { RS = "\n" } { i = index($0, "\0"); p = substr($0, 1, i - 1)
                      id = substr($0, i + 1); sub(/^[^:]*:[ \t]*/, "", id); gsub(/[ \t\r]/, "", id)
                      print p "\t" id }')
    done < <(local_folders)
}
declare -A LSUB=()

# pick N FOLDER OWNER [new]: up to N unused messages of FOLDER that are synced (local file
# with ,U= in their folder); OWNER s: server-owned (seed number divisible by 4), c: the
# client's; "new": only files still in new/. Sets PICK.
pick () {
    local n=$1 f=$2 owner=$3 only_new=${4:-} id num
    local -a cand=()
    for id in "${!WANT[@]}"; do
        [ "${WANT[$id]}" = "$f" ] && [ "${LFOLDER[$id]:-}" = "$f" ] && [ -n "${LUID[$id]:-}" ] &&
            [ -z "${USED[$id]:-}" ] || continue
        num=${id#<seed-}; num=${num%%@*}
        [[ $num =~ ^[0-9]+$ ]] || continue
        if [ "$owner" = s ]; then ((num % 4 == 0)) || continue; else ((num % 4 != 0)) || continue; fi
        [ -z "$only_new" ] || [ "${LSUB[$id]}" = new ] || continue
        cand+=("$id")
    done
    mapfile -t cand < <(printf '%s\n' "${cand[@]}" | grep . | LC_ALL=C sort)
    PICK=()
    while [ ${#PICK[@]} -lt "$n" ] && [ ${#cand[@]} -gt 0 ]; do
        local i=$((RANDOM % ${#cand[@]}))
        PICK+=("${cand[i]}")
        USED[${cand[i]}]=1
        cand=("${cand[@]:0:i}" "${cand[@]:i+1}")
    done
}

pick_more () {  # like pick, adding to PICK
    local -a had=("${PICK[@]}")
    pick "$@"
    PICK+=("${had[@]}")
}

# churn_names FOLDER BASE: "dir name-a name-b" for client_churn, relative to the folder dir.
churn_names () {
    local p name letters d
    d=$(local_dir "$1")
    p=$(resolve "$1" "$2")
    name=${p##*/}
    case $p in
    */new/*) printf '%s new/%s cur/%s:2,S\n' "$d" "$name" "${name%:2,*}" ;;
    *)
        letters=${name##*:2,}
        case $letters in
        *F*) letters=${letters//F/} ;;
        *) letters=$(printf '%sF' "$letters" | fold -w1 | LC_ALL=C sort | tr -d '\n') ;;
        esac
        printf '%s cur/%s cur/%s:2,%s\n' "$d" "$name" "${name%:2,*}" "$letters" ;;
    esac
}

uids_of () {  # uids_of FOLDER ID...: their server UIDs, comma-separated
    local f=$1 uid id out=""
    local -A u=()
    shift
    while IFS=$'\t' read -r uid id; do u[$id]=$uid; done < <(srv_ids "$f")
    for id in "$@"; do out+=${out:+,}${u[$id]}; done
    printf '%s\n' "$out"
}

# ---- one round ----------------------------------------------------------------------------

# plan_round OPS CHURN: the server's changes (done now) and the client's (written to OPS and
# CHURN for the loop).
plan_round () {
    local ops=$1 churn=$2 f id dest
    : >"$ops"
    : >"$churn"
    read_local
    # The server: flags on its own messages, \Flagged on messages the client gives R, expunges.
    for f in "${FOLDERS[@]}"; do
        pick 6 "$f" s
        [ ${#PICK[@]} -eq 0 ] || dv flags add '\Flagged \Answered' mailbox "$f" uid "$(uids_of "$f" "${PICK[@]}")"
        pick 4 "$f" c
        if [ ${#PICK[@]} -gt 0 ]; then
            dv flags add '\Flagged' mailbox "$f" uid "$(uids_of "$f" "${PICK[@]}")"
            for id in "${PICK[@]}"; do
                echo "flag $f ${BASE[$id]} R" >>"$ops"
                EXTRA_F[$id]=1 CLIENT[$id]=1 KEEPUID[$id]="$f ${LUID[$id]}"
            done
        fi
        pick 3 "$f" s
        if [ ${#PICK[@]} -gt 0 ]; then
            dv expunge mailbox "$f" uid "$(uids_of "$f" "${PICK[@]}")"
            for id in "${PICK[@]}"; do unset "WANT[$id]"; GONE[$id]=1; done
        fi
    done
    dovecot_seed INBOX 40 >/dev/null
    dovecot_seed --flags '\Seen' Work 25 >/dev/null
    dovecot_seed Lists 30 >/dev/null
    register_server
    # The client.
    for f in "${FOLDERS[@]}"; do
        pick 6 "$f" c
        for id in "${PICK[@]}"; do
            echo "flag $f ${BASE[$id]} R" >>"$ops"
            CLIENT[$id]=1 KEEPUID[$id]="$f ${LUID[$id]}"
        done
        pick 3 "$f" c new
        for id in "${PICK[@]}"; do
            echo "flag $f ${BASE[$id]} S" >>"$ops"
            CLIENT[$id]=1 KEEPUID[$id]="$f ${LUID[$id]}"
        done
        pick 2 "$f" c
        for id in "${PICK[@]}"; do
            case $f in INBOX) dest=Archive ;; Work) dest=INBOX ;; *) dest=Work ;; esac
            echo "move $f ${BASE[$id]} $dest" >>"$ops"
            WANT[$id]=$dest CLIENT[$id]=1
        done
        pick 2 "$f" c
        for id in "${PICK[@]}"; do
            echo "delete $f ${BASE[$id]}" >>"$ops"
            unset "WANT[$id]"
            GONE[$id]=1
        done
        pick 4 "$f" c
        pick_more 2 "$f" c new
        for id in "${PICK[@]}"; do
            churn_names "$f" "${BASE[$id]}" >>"$churn"
            CLIENT[$id]=1 KEEPUID[$id]="$f ${LUID[$id]}"
        done
    done
    # The loop's order: shuffled, so renames, moves and deletions mix across folders.
    shuf --random-source=<(yes "$SEED$r") "$ops" -o "$ops"
}

# ---- the scenario ------------------------------------------------------------------------

dovecot_start
dovecot_seed --flags '\Seen' INBOX 150 >/dev/null || bail_out "seeding INBOX"
dovecot_seed INBOX 50 >/dev/null || bail_out "seeding INBOX"
dovecot_seed --flags '\Seen' Work 80 >/dev/null || bail_out "seeding Work"
dovecot_seed --flags '\Seen' Lists 40 >/dev/null || bail_out "seeding Lists"
dovecot_seed Lists 40 >/dev/null || bail_out "seeding Lists"
# A big folder: its cur/ takes several getdents() calls to read, and a rename between two of
# them can hide a file from the walk.
dovecot_seed --flags '\Seen' Big 900 >/dev/null || bail_out "seeding Big"
dovecot_seed Big 100 >/dev/null || bail_out "seeding Big"
register_server
nmsync_setup_dovecot
nmsync_run sync
[ "$NMS_RC" = 0 ] || bail_out "the first sync exited $NMS_RC"
diag "baseline: ${#WANT[@]} messages in ${FOLDERS[*]} (${SECONDS}s)"

# A file flipped between new/ and cur/ faster than a scan can look at both may be seen under
# both names while neither is where it was seen: both are then left alone for this run.
allowed='(vanished|retried next run|renamed or deleted by another program|repeats UID [0-9]+; left alone|moved (to|here from) .* by another program during this run)'
for ((r = 1; r <= ROUNDS; r++)); do
    work=$(tap_tmpdir)
    plan_round "$work/ops" "$work/churn"
    diag "round $r: planned (${SECONDS}s)"
    t0=$EPOCHREALTIME
    "$NMSYNC" -c "$NMS_CONFIG" sync </dev/null >"$work/out" 2>"$work/err" &
    spid=$!
    at_exit tap_kill "$spid"
    client_churn "$work/churn" "$spid" 2>"$work/churn.err" &
    hpid=$!
    at_exit tap_kill "$hpid"
    client_ops "$work/ops" 2>"$work/client.err" &
    cpid=$!
    at_exit tap_kill "$cpid"
    rc=0
    wait "$spid" || rc=$?
    t1=$EPOCHREALTIME
    wait "$cpid" "$hpid"
    cat "$work/churn.err" >>"$work/client.err"
    diag "round $r: sync exit $rc in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s;" \
    "client: $(wc -l <"$work/ops") actions, $(cat "$work/churn.count" 2>/dev/null || echo 0) renames" \
        "during the sync"
    [ ! -s "$work/err" ] || diag "round $r: nmsync said:" "$(head -n 20 "$work/err")"
    check "round $r: the racing sync exits 0 or 1 (no crash, no folder failure)" \
        test "$rc" = 0 -o "$rc" = 1
    check_eq "round $r: the racing sync complains only about files that vanished under it" "" \
        "$(grep -Ev "$allowed" "$work/err")"
    check_eq "round $r: the client did everything it planned" "" "$(cat "$work/client.err")"
done

# Phase 2, the storm: STORM_SYNCS syncs in a row with no other changes, while two churn loops
# rename files of Big (and of the other folders) all along. Every sync scans every folder
# (their directories keep changing), so a scan that misses a file would show as a deletion.
work=$(tap_tmpdir)
: >"$work/churn1"
read_local
for f in Big Big INBOX Work; do
    pick 6 "$f" c
    pick_more 3 "$f" c new
    for id in "${PICK[@]}"; do
        churn_names "$f" "${BASE[$id]}" >>"$work/churn1"
        CLIENT[$id]=1 KEEPUID[$id]="$f ${LUID[$id]}"
    done
done
split -n l/2 "$work/churn1" "$work/part."
sleep 600 &
storm=$!
at_exit tap_kill "$storm"
client_churn "$work/part.aa" "$storm" 2>"$work/c1.err" &
c1=$!
at_exit tap_kill "$c1"
client_churn "$work/part.ab" "$storm" 2>"$work/c2.err" &
c2=$!
at_exit tap_kill "$c2"
storm_rcs=""
: >"$work/err"
t0=$EPOCHREALTIME
for ((k = 1; k <= STORM_SYNCS; k++)); do
    rc=0
    timeout 120 "$NMSYNC" -c "$NMS_CONFIG" sync </dev/null >/dev/null 2>>"$work/err" || rc=$?
    storm_rcs+="$rc "
done
t1=$EPOCHREALTIME
tap_kill "$storm"
wait "$c1" "$c2"
diag "storm: $STORM_SYNCS syncs in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, exit" \
    "statuses: $storm_rcs; $(cat "$work/part.aa.count" 2>/dev/null || echo 0) +" \
    "$(cat "$work/part.ab.count" 2>/dev/null || echo 0) renames"
[ ! -s "$work/err" ] || diag "storm: nmsync said:" "$(sort "$work/err" | uniq -c | sort -rn | head -n 20)"
check_match "storm: every sync exits 0 or 1" '^([01] )+$' "$storm_rcs"
check_eq "storm: the syncs complain only about files that vanished under them" "" \
    "$(grep -Ev "$allowed" "$work/err")"
check_eq "storm: the client's renames were never undone by nmsync" "" "$(cat "$work/c1.err" "$work/c2.err")"

# The client's last word: its files as it left them (the server's \Flagged added where both
# changed a message, since nmsync may not have brought it down yet).
read_local
declare -A WANTFLAGS=()
for id in "${!CLIENT[@]}"; do
    [ -n "${WANT[$id]:-}" ] || continue
    p=$(resolve "${LFOLDER[$id]}" "${BASE[$id]}")
    letters=""
    case ${p##*/} in *:2,*) letters=${p##*:2,} ;; esac
    [ -z "${EXTRA_F[$id]:-}" ] || letters+=F
    WANTFLAGS[$id]=$(printf '%s' "$letters" | fold -w1 | LC_ALL=C sort -u | tr -d '\n')
done

nmsync_run sync
check_eq "the sync after the races (loop stopped): exit 0" 0 "$NMS_RC"
diag "the last sync done (${SECONDS}s)"
# Both sides, cheaply (collect_sides hashes every file, too slow for 1400 messages; bytes are
# other tests' business): SRV "folder uid [letters] id", LOC "folder uid [letters] id" (uid
# "-" for a file without ,U=).
sort_letters='function srt(s,   n, i, j, t, a) { n = split(s, a, ""); for (i = 1; i <= n; i++)
    for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    t = ""; for (i = 1; i <= n; i++) t = t a[i]; return t }'
SRV=$(for f in $(server_folders); do
    dv -f tab fetch 'uid flags hdr.message-id' mailbox "$f" all | tail -n +2 |
        awk -F'\t' -v f="$f" "$sort_letters"'
            { l = ""; n = split($2, fl, " ")
              for (i = 1; i <= n; i++) {
                  if (fl[i] == "\\Draft") l = l "D"; else if (fl[i] == "\\Flagged") l = l "F"
                  else if (fl[i] == "$Forwarded") l = l "P"; else if (fl[i] == "\\Answered") l = l "R"
                  else if (fl[i] == "\\Seen") l = l "S"; else if (fl[i] == "\\Deleted") l = l "T" }
              id = $3; gsub(/[ \t]/, "", id); print f, $1, "[" srt(l) "]", id }'
done)
LOC=$(while IFS=$'\t' read -r f dir; do
    find "$dir/cur" "$dir/new" -maxdepth 1 -type f -print0 2>/dev/null |
        xargs -0 -r grep -m1 -H -Z -i '^message-id:' |
        awk -v f="$f" "$sort_letters"'
            BEGIN { RS = "\n" }
            { i = index($0, "\0"); p = substr($0, 1, i - 1); id = substr($0, i + 1)
              sub(/^[^:]*:[ \t]*/, "", id); gsub(/[ \t\r]/, "", id)
              n = split(p, parts, "/"); name = parts[n]; uid = "-"; l = ""
              if (match(name, /,U=[0-9]+/)) uid = substr(name, RSTART + 3, RLENGTH - 3)
              if (match(name, /:2,[A-Za-z]*$/)) l = substr(name, RSTART + 3)
              print f, uid, "[" srt(l) "]", id }'
done < <(local_folders))
dups=$({ printf '%s\n' "$SRV" | awk 'NF { print "server", $4 }'
         printf '%s\n' "$LOC" | awk 'NF { print "local", $4 }'; } |
       LC_ALL=C sort | uniq -c | awk '$1 > 1 { print $2, $3, "x" $1 }')
check_eq "every Message-ID exactly once on each side" "" "$dups"
ids_of () { printf '%s\n' "$1" | awk 'NF { print $1, $4 }' | LC_ALL=C sort; }
check_eq "server and local hold the same messages, folder by folder" "$(ids_of "$SRV")" "$(ids_of "$LOC")"
want=$(for id in "${!WANT[@]}"; do printf '%s %s\n' "${WANT[$id]}" "$id"; done | LC_ALL=C sort)
check_eq "exactly the expected messages on the server (nothing lost, moved ones moved)" \
    "$want" "$(ids_of "$SRV")"
check_eq "local and server agree UID by UID (flags, Message-ID)" \
    "$(printf '%s\n' "$SRV" | LC_ALL=C sort)" "$(printf '%s\n' "$LOC" | LC_ALL=C sort)"
check_eq "every local file uploaded (,U=)" "" "$(printf '%s\n' "$LOC" | awk '$2 == "-"')"
declare -A SFLAGS=() SPLACE=()
while read -r f uid letters id; do
    [ -n "$id" ] && SFLAGS[$id]=$letters SPLACE[$id]="$f $uid"
done <<<"$SRV"
bad=""
for id in "${!WANTFLAGS[@]}"; do
    [ "${SFLAGS[$id]:-}" = "[${WANTFLAGS[$id]}]" ] ||
        bad+="$id: server ${SFLAGS[$id]:-none}, client [${WANTFLAGS[$id]}]"$'\n'
done
check_eq "the client's last flags are on the server (${#WANTFLAGS[@]} messages)" "" "$bad"
bad=""
for id in "${!KEEPUID[@]}"; do
    [ -n "${WANT[$id]:-}" ] || continue
    [ "${SPLACE[$id]:-}" = "${KEEPUID[$id]}" ] ||
        bad+="$id: was ${KEEPUID[$id]}, now ${SPLACE[$id]:-gone}"$'\n'
done
check_eq "messages the client only renamed keep their server UID (never deleted, re-uploaded)" "" "$bad"
check "nothing left in tmp/" no_tmp_leftovers
if [ "$TAP_FAILED" -gt 0 ]; then
    cp -a "$DOVECOT_MAILDIR" "$TAP_ROOT/failed-server" 2>/dev/null
    cp -a "$NMS_HOME" "$TAP_ROOT/failed-home" 2>/dev/null
    diag "seed $SEED; state kept in $TAP_ROOT/failed-{server,home} with NMSYNC_KEEP_TMP=1"
fi
diag "whole test: ${SECONDS}s"

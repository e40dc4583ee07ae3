#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Random kill test: 20 syncs, each killed from the outside with SIGKILL (a real `kill -9` after
# a random delay, not at a hook point) during a mixed workload, then one clean sync. After it:
# both sides hold the same messages, each Message-ID exactly once per side and in the folder it
# belongs to, flags and bytes agree UID by UID, nothing in tmp/, every local file uploaded, and
# every message created by the workload (minus the ones deliberately deleted) is on both sides.
#
# The scenario: a baseline (server INBOX + Archive) synced once, then a big workload not synced
# yet (200+ new server messages, 50 flag changes and 20 deletions on each side, new local
# files, a local move) so that the first killed syncs land in different phases (download,
# flags, expunges, uploads, the move). Every round then adds a small workload on both sides
# before its sync. Conflicts are kept out of the expectation on purpose: every message is
# "owned" by one side, and only its owner changes its flags, deletes it or moves it, and only
# once it is known to be synced (present on both sides after a sync that exited 0). Concurrent
# edits of one message on both sides are t302/t501's business; here the question is only
# whether a kill at any moment loses, duplicates or half-writes something.
#
# The random delays come from bash's RANDOM seeded with $NMSYNC_TEST_SEED (or the date): the
# seed is printed, NMSYNC_TEST_SEED=<seed> replays the same delays and choices (the moment
# the kill lands still depends on the machine's speed).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

ROUNDS=20
SEED=${NMSYNC_TEST_SEED:-$(date +%s)}
RANDOM=$SEED
diag "random seed: $SEED (NMSYNC_TEST_SEED=$SEED reproduces the delays and choices)"

now_ms () { echo $(($(date +%s%N) / 1000000)); }

# ---- the background sync, stopped at exit ------------------------------------------------

RK_PID=""
_rk_stop () { [ -z "$RK_PID" ] || tap_kill "$RK_PID"; RK_PID=""; }
at_exit _rk_stop

# ---- bookkeeping -------------------------------------------------------------------------
# WANT[id]=folder: every message the workload created and did not delete, where it belongs.
# OWNER[id]=s|l: the side allowed to change it. STABLE[id]=folder: synced (both sides, same
# folder) after the last sync that exited 0, and untouched since by a delete or a move.
declare -A WANT=() OWNER=() STABLE=() DELETED=() SRVUID=() LOCPATH=() LOCFOLDER=()
_owner_next=0
LOCAL_SEQ=0

new_id ()  # new_id ID FOLDER
{
    WANT[$1]=$2
    if ((_owner_next++ % 2)); then OWNER[$1]=l; else OWNER[$1]=s; fi
}

# "uid<TAB>message-id" of the server FOLDER.
srv_ids ()
{
    dv -f tab fetch 'uid hdr.message-id' mailbox "$1" all | tail -n +2 | tr -d ' '
}

# "folder<TAB>path<TAB>message-id" of every local file in cur/ or new/.
loc_ids ()
{
    local f dir
    while IFS=$'\t' read -r f dir; do
        find "$dir/cur" "$dir/new" -maxdepth 1 -type f -print0 2>/dev/null |
            xargs -0 -r grep -m1 -H -Z -i '^message-id:' |
            awk -v f="$f" 'BEGIN { RS = "\n" } { i = index($0, "\0"); p = substr($0, 1, i - 1)
                id = substr($0, i + 1); sub(/^[^:]*:[ \t]*/, "", id); print f "\t" p "\t" id }'
    done < <(local_folders)
}

# Reads the maps: SRVUID["folder id"]=uid, LOCPATH[id]=path, LOCFOLDER[id]=folder (the last
# file when an id occurs twice: the checks at the end count those).
read_maps ()
{
    local f uid id path
    SRVUID=() LOCPATH=() LOCFOLDER=()
    for f in INBOX Archive; do
        while IFS=$'\t' read -r uid id; do
            [ -n "$id" ] && SRVUID["$f $id"]=$uid
        done < <(srv_ids "$f")
    done
    while IFS=$'\t' read -r f path id; do
        [ -n "$id" ] || continue
        LOCPATH[$id]=$path
        LOCFOLDER[$id]=$f
    done < <(loc_ids)
}

# After a sync that exited 0: every message on both sides in the same folder, locally with
# ,U=, is stable. New server messages not in WANT yet are registered first.
register_server_new ()
{
    local f uid id
    for f in INBOX Archive; do
        while IFS=$'\t' read -r uid id; do
            [ -n "$id" ] && [ -z "${WANT[$id]:-}" ] && [ -z "${DELETED[$id]:-}" ] && new_id "$id" "$f"
        done < <(srv_ids "$f")
    done
}

mark_stable ()
{
    local id f
    read_maps
    STABLE=()
    for id in "${!WANT[@]}"; do
        f=${WANT[$id]}
        [ -n "${SRVUID["$f $id"]:-}" ] && [ "${LOCFOLDER[$id]:-}" = "$f" ] &&
            [[ ${LOCPATH[$id]##*/} == *,U=* ]] && STABLE[$id]=$f
    done
}

# pick N SIDE FOLDER: sets PICK to up to N random stable ids owned by SIDE in FOLDER, never
# picked before in this round (PICKED). Runs in the main shell (RANDOM).
declare -A PICKED=()
pick ()
{
    local n=$1 side=$2 folder=$3 id i j t
    local -a cand=()
    for id in "${!STABLE[@]}"; do
        [ "${STABLE[$id]}" = "$folder" ] && [ "${OWNER[$id]}" = "$side" ] &&
            [ -z "${PICKED[$id]:-}" ] && cand+=("$id")
    done
    # A stable order first (associative arrays have none), then Fisher-Yates with RANDOM.
    mapfile -t cand < <(printf '%s\n' "${cand[@]}" | grep . | LC_ALL=C sort)
    for ((i = ${#cand[@]} - 1; i > 0; i--)); do
        j=$((RANDOM % (i + 1)))
        t=${cand[i]} cand[i]=${cand[j]} cand[j]=$t
    done
    PICK=("${cand[@]:0:n}")
    for id in "${PICK[@]}"; do PICKED[$id]=1; done
}

uidset ()  # uidset FOLDER ID...: the server UIDs of the ids, comma-separated
{
    local f=$1 id out=""
    shift
    for id in "$@"; do out+=${out:+,}${SRVUID["$f $id"]}; done
    printf '%s\n' "$out"
}

# ---- the workload ------------------------------------------------------------------------

# workload TAG NEW_INBOX NEW_ARCHIVE FLAGS DELETES LOCAL_NEW MOVES: new server messages, server
# flag changes and expunges, local flag changes (renames), local deletions, new local files,
# local moves INBOX -> Archive.
workload ()
{
    local tag=$1 new_in=$2 new_ar=$3 nflags=$4 ndel=$5 nloc=$6 nmove=$7
    local f id p name letters k set half
    read_maps
    PICKED=()
    # The server.
    for f in INBOX Archive; do
        pick "$nflags" s "$f"
        if [ ${#PICK[@]} -gt 0 ]; then
            half=$(((${#PICK[@]} + 1) / 2))
            set=$(uidset "$f" "${PICK[@]:0:half}")
            dv flags add '\Flagged' mailbox "$f" uid "$set" || return 1
            if [ ${#PICK[@]} -gt "$half" ]; then
                set=$(uidset "$f" "${PICK[@]:half}")
                if ((RANDOM % 2)); then
                    dv flags remove '\Seen' mailbox "$f" uid "$set" || return 1
                else
                    dv flags add '\Seen \Answered' mailbox "$f" uid "$set" || return 1
                fi
            fi
        fi
        pick "$ndel" s "$f"
        if [ ${#PICK[@]} -gt 0 ]; then
            dv expunge mailbox "$f" uid "$(uidset "$f" "${PICK[@]}")" || return 1
            for id in "${PICK[@]}"; do
                unset "WANT[$id]" "STABLE[$id]"
                DELETED[$id]=1
            done
        fi
    done
    [ "$new_in" = 0 ] || dovecot_seed INBOX "$new_in" || return 1
    [ "$new_ar" = 0 ] || dovecot_seed --flags '\Seen' Archive "$new_ar" || return 1
    register_server_new
    # The local side.
    for f in INBOX Archive; do
        pick "$nflags" l "$f"
        for id in "${PICK[@]}"; do
            p=${LOCPATH[$id]}
            name=${p##*/}
            letters=""
            case $name in *:2,*) letters=${name##*:2,} ;; esac
            if ((RANDOM % 2)); then
                case $letters in *F*) letters=${letters//F/} ;; *) letters+=F ;; esac
            else
                case $letters in *S*) letters=${letters//S/} ;; *) letters+=S ;; esac
            fi
            letters=$(printf '%s' "$letters" | fold -w1 | LC_ALL=C sort | tr -d '\n')
            mv "$p" "${p%:2,*}:2,$letters" || return 1
        done
        pick "$ndel" l "$f"
        for id in "${PICK[@]}"; do
            rm "${LOCPATH[$id]}" || return 1
            unset "WANT[$id]" "STABLE[$id]"
            DELETED[$id]=1
        done
    done
    pick "$nmove" l INBOX
    for id in "${PICK[@]}"; do
        mv "${LOCPATH[$id]}" "$(local_dir Archive)/cur/" || return 1
        WANT[$id]=Archive
        unset "STABLE[$id]"
    done
    for ((k = 1; k <= nloc; k++)); do
        LOCAL_SEQ=$((LOCAL_SEQ + 1))
        id="t502-$tag-$k"
        if ((k % 3 == 0)); then f=Archive; else f=INBOX; fi
        mail_file "$(local_dir "$f")/cur/$((1704189600 + LOCAL_SEQ)).M${LOCAL_SEQ}P502.t502host:2,S" "$id"
        new_id "<$id@nmsync.test>" "$f"
    done
    return 0
}

# ---- the end state (as in t501) ----------------------------------------------------------

# Message-IDs seen more than once on a side (over all folders): "side id xN".
duplicates ()
{
    {
        [ -z "$SRV" ] || printf '%s\n' "$SRV" | awk '{ print "server", $5 }'
        [ -z "$LOC" ] || printf '%s\n' "$LOC" | awk '{ print "local", $5 }'
    } | LC_ALL=C sort | uniq -c | awk '$1 > 1 { print $2, $3, "x" $1 }'
}

# "folder id" of SIDE, sorted.
ids_of ()
{
    if [ "$1" = server ]; then printf '%s\n' "$SRV"; else printf '%s\n' "$LOC"; fi |
        awk 'NF { print $1, $5 }' | LC_ALL=C sort
}

# ---- the scenario ------------------------------------------------------------------------

started=$SECONDS
dovecot_start
dovecot_seed --flags '\Seen' INBOX 100 || bail_out "seeding INBOX"
dovecot_seed INBOX 40 || bail_out "seeding INBOX"
dovecot_seed --flags '\Seen' Archive 40 || bail_out "seeding Archive"
register_server_new
nmsync_setup_dovecot
t0=$(now_ms)
nmsync_run sync
base_ms=$(($(now_ms) - t0))
[ "$NMS_RC" = 0 ] || bail_out "the first sync exited $NMS_RC"
[ "$(local_count INBOX) $(local_count Archive)" = "140 40" ] ||
    bail_out "the first sync did not bring 140 + 40 messages"
mark_stable
[ ${#STABLE[@]} = 180 ] || bail_out "after the first sync ${#STABLE[@]} of 180 messages are synced"
diag "baseline: 180 messages downloaded in ${base_ms} ms"

# The big workload, for the first rounds: 220 + 20 new server messages, 50 flag changes and 20
# deletions per side (25 + 10 per folder), 6 new local files, 2 local moves.
workload big 220 20 25 10 6 2 || bail_out "the big workload"

# Delays: uniform in [5, MAX_DELAY] ms; MAX_DELAY from the measured baseline sync (which
# downloads 180 messages), so that most kills land while a sync still runs. Small rounds take
# less, so their delays are drawn from a shorter range.
MAX_DELAY=$((base_ms < 100 ? 100 : base_ms > 3000 ? 3000 : base_ms))
SMALL_DELAY=$((MAX_DELAY / 3 < 60 ? 60 : MAX_DELAY / 3))
diag "setup: $((SECONDS - started))s; delays up to ${MAX_DELAY} ms (big work), ${SMALL_DELAY} ms (small)"

# ---- the rounds --------------------------------------------------------------------------

killed=0
killed_rounds=""
clean_rc=""
loop_start=$SECONDS
for ((r = 1; r <= ROUNDS; r++)); do
    # A fresh small workload from round 2 on (round 1 has the big one).
    if [ "$r" -gt 1 ]; then
        workload "r$r" 8 2 3 1 3 1 || bail_out "round $r: the workload"
    fi
    # Big work is left while the killed rounds have not finished it.
    if [ "$r" -le 3 ] || [ -z "$clean_rc" ]; then range=$MAX_DELAY; else range=$SMALL_DELAY; fi
    delay=$((5 + RANDOM % range))
    out=$(mktemp "$TAP_ROOT/round$r.XXXXXX")
    t0=$(now_ms)
    "$NMSYNC" -c "$NMS_CONFIG" sync </dev/null >"$out.out" 2>"$out.err" &
    RK_PID=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -KILL "$RK_PID" 2>/dev/null
    { wait "$RK_PID"; } 2>/dev/null
    rc=$?
    RK_PID=""
    ms=$(($(now_ms) - t0))
    if [ "$rc" = 137 ]; then
        killed=$((killed + 1))
        killed_rounds+=" $r"
        diag "round $r: killed after ${delay} ms"
    else
        diag "round $r: finished before the kill (delay ${delay} ms, ${ms} ms), exit $rc"
        [ "$rc" = 0 ] || sed -n '1,10p' "$out.err" | while IFS= read -r l; do diag "  $l"; done
        check_eq "round $r: a sync that was not killed exits 0" 0 "$rc"
        clean_rc=$rc
        # Adapt to this machine: later small delays stay below what a small sync takes here.
        SMALL_DELAY=$((ms * 3 / 4 < 20 ? 20 : ms * 3 / 4))
        [ "$rc" != 0 ] || mark_stable
    fi
done
diag "rounds: $((SECONDS - loop_start))s; killed $killed of $ROUNDS (rounds:$killed_rounds)"
check "at least half of the $ROUNDS syncs were really killed ($killed)" test "$killed" -ge $((ROUNDS / 2))

# ---- the clean sync and the end state ----------------------------------------------------

clean_start=$(date +%s.%N)
nmsync_run sync
check_eq "the clean sync after the kills exits 0" 0 "$NMS_RC"
collect_sides
check_eq "every Message-ID exactly once per side" "" "$(duplicates)"
check_eq "server and local hold the same Message-IDs, folder by folder" \
    "$(ids_of server)" "$(ids_of local)"
want=$(for id in "${!WANT[@]}"; do printf '%s %s\n' "${WANT[$id]}" "$id"; done | LC_ALL=C sort)
check_eq "the server holds every message the workload made and did not delete (and no other)" \
    "$want" "$(ids_of server)"
check_eq "the local side holds every message the workload made and did not delete (and no other)" \
    "$want" "$(ids_of local)"
# tmp/: a download killed mid-write leaves its partial file in tmp/ by design (README, nmsync(1)
# SAFETY: the Maildir convention deletes stale tmp/ files; nmsync does not). So: nothing that
# the clean sync wrote (nothing newer than its start), and at most what one FETCH batch of each
# connection holds per killed sync: downloads are made durable a batch at a time (transfer.c),
# so a kill before the batch lands leaves up to 200 files per connection (default 4) in tmp/.
tmp_left=$(find "$NMS_MAILDIR" -type d -name tmp -exec find {} -type f -printf '%T@ %s %p\n' \; |
    sed "s|$NMS_MAILDIR/||")
[ -z "$tmp_left" ] || diag "left in tmp/ by the killed syncs (mtime size path):" "$tmp_left"
check_eq "nothing in tmp/ written by the clean sync" "" \
    "$(printf '%s\n' "$tmp_left" | awk -v t="$clean_start" 'NF && $1 >= t')"
tmp_n=$(printf '%s\n' "$tmp_left" | grep -c .)
check "at most one FETCH batch per connection in tmp/ per killed sync ($tmp_n, $killed kills)" \
    test "$tmp_n" -le $((killed * 200 * 4))
check "every local file uploaded (,U=)" all_uploaded
check "local and server agree UID by UID (bytes and flags)" agree_by_uid
for f in INBOX Archive; do
    check_eq "$f: no UID carried by two local files" "" "$(dup_uids "$f")"
done
if [ "$TAP_FAILED" -gt 0 ]; then
    cp -a "$DOVECOT_MAILDIR" "$TAP_ROOT/failed-server" 2>/dev/null
    cp -a "$NMS_HOME" "$TAP_ROOT/failed-home" 2>/dev/null
    diag "seed $SEED; state kept in $TAP_ROOT/failed-{server,home} with NMSYNC_KEEP_TMP=1"
fi
diag "messages expected: ${#WANT[@]}; deleted by the workload: ${#DELETED[@]}; whole test: ${SECONDS}s"

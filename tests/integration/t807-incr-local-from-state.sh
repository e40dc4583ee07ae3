#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A folder whose cur/ and new/ did not change since its last complete sync has its local side
# read from the state (issue 15): a server change there costs the change, not a read of every
# file name (no getdents64 of its cur/ or new/). The result is the same as with a scan. A
# folder is scanned as before when its directories changed: a local change in the second of
# the last sync (its mtime is not trusted), a file renamed or deleted by a mail client between
# runs (the server deletion then happens for that file alone); it is read once, the scan
# shared by the deletion guard's count, the move search and the sync. A file the state places where
# it no longer is (a client renamed it, and the directory's mtime came back: as after a rename
# during the run) loses its action for this run, nothing else, and the next run reads the
# whole folder and merges both sides' changes.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

command -v strace >/dev/null || skip_all "strace is not installed"

modseq () { sqlite3 "$NMS_STATE/test.db" "SELECT highestmodseq FROM folders WHERE name = '$1'"; }
state_rows () { # FOLDER: "uid:flags" of the state, by uid
    sqlite3 "$NMS_STATE/test.db" \
        "SELECT uid || ':' || flags FROM messages WHERE folder = '$1' ORDER BY uid" | paste -sd' ' -
}
local_rows () { # FOLDER: "uid:flags" of the files, by uid
    local uid out=""
    for uid in $(server_uids "$1"); do
        out+="$uid:$(local_flags "$1" "$uid") "
    done
    printf '%s\n' "${out% }"
}
# from_state FOLDER: the last run read FOLDER's local side from the state (its -vv line)
from_state () {
    grep -c "test: $1: local side from the state" "$NMS_ERR" "$NMS_OUT" | awk -F: '{ n += $NF } END { print n }'
}
# traced_sync: a sync at -vv under strace (TRACE: its log); getdents_of FOLDER: how many reads
# of FOLDER's cur/ and new/ it made
traced_sync () {
    local real=$NMSYNC
    TRACE=$NMS_HOME/strace.$((_NMS_RUNS + 1))
    # LeakSanitizer cannot work under ptrace: an ASan build's traced runs check no leaks
    printf '#!/bin/sh\nASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" exec strace -f -y -qq -e trace=getdents64 -o "%s" "%s" "$@"\n' \
        "$TRACE" "$real" >"$NMS_HOME/traced"
    chmod +x "$NMS_HOME/traced"
    NMSYNC=$NMS_HOME/traced
    nmsync_run -vv sync
    NMSYNC=$real
}
getdents_of () {
    local d
    d=$(local_dir "$1")
    grep -cE "getdents64\([0-9]+<$d/(cur|new)>" "$TRACE"
}

DOVECOT_RAWLOG=1
dovecot_start
incr_setup
dv flags add '\Flagged' mailbox A uid 5
incr_settle
incr_settle # the download of incr_setup and the flag of A: a complete sync records those mtimes

# ---- server-only changes: the local side comes from the state ------------------------------
sleep 1.1
dv flags add '\Answered' mailbox A uid 1     # a flag added
dv flags remove '\Flagged' mailbox A uid 5   # a flag removed
dovecot_seed --flags '\Seen' A 1             # a new message (UID 6)
dv expunge mailbox A uid 3                   # an expunge
dv flags add '\Seen' mailbox INBOX uid 2     # unseen -> seen: new/ -> cur/
traced_sync
check_eq "server changes: exit 0" 0 "$NMS_RC"
check_eq "A: local side from the state" 1 "$(from_state A)"
check_eq "INBOX: local side from the state" 1 "$(from_state INBOX)"
check_eq "A: cur/ and new/ not read" 0 "$(getdents_of A)"
check_eq "INBOX: cur/ and new/ not read" 0 "$(getdents_of INBOX)"
check_mirror A
check_mirror INBOX
check_eq "A: flags as the server has them" "1:RS 2:S 4:S 5:S 6:S" "$(local_rows A)"
check_eq "A: the expunged message is gone" "" "$(local_file A 3)"
check_eq "A: the state as the files" "1:RS 2:S 4:S 5:S 6:S" "$(state_rows A)"
check_eq "INBOX: the state as the files" "1: 2:S 3: 4: 5:" "$(state_rows INBOX)"
check_eq "A: recorded complete" 1 "$( [ "$(modseq A)" -gt 0 ] && echo 1)"
# Our own renames and downloads changed A's directories: the next run scans A once more
# (nothing to do there), and the run after trusts it again.
sleep 1.1
dv flags add '\Flagged' mailbox A uid 1
traced_sync
check_eq "after our own changes: A scanned once" 0 "$(from_state A)"
check_eq "after our own changes: the flag arrived" FRS "$(local_flags A 1)"
incr_settle
sleep 1.1
dv flags add '\Flagged' mailbox A uid 2
traced_sync
check_eq "settled: A from the state again" 1 "$(from_state A)"
check_eq "settled: the flag arrived" FS "$(local_flags A 2)"

# ---- a local change in the second of the sync: its mtime is not trusted ----------------------
d=$(local_dir D)
for attempt in 1 2 3; do
    f=$(local_file D 2)
    case $f in *F*) mv "$f" "${f%:2,*}:2,S" ;; *) mv "$f" "${f%:2,*}:2,FS" ;; esac
    nmsync_run sync
    [ "$(sqlite3 "$NMS_STATE/test.db" "SELECT cur_mtime FROM folders WHERE name = 'D'")" != 0 ] || break
    diag "attempt $attempt: the sync read cur/ more than a second after the change"
done
sleep 1.1
dv flags add '\Answered' mailbox D uid 3
if [ "$(sqlite3 "$NMS_STATE/test.db" "SELECT cur_mtime FROM folders WHERE name = 'D'")" = 0 ]; then
    traced_sync
    check_eq "same second: D scanned" 0 "$(from_state D)"
    check_eq "same second: D's cur/ read" 1 "$( [ "$(getdents_of D)" -gt 0 ] && echo 1)"
else
    # a machine this loaded never started the sync within the second: nothing to test
    skip "same second: D scanned" "no sync read D's cur/ within a second of the change"
    nmsync_run sync
fi
check_mirror D

# ---- a file renamed by a mail client between runs --------------------------------------------
incr_settle
sleep 1.1
f=$(local_file B 3)
mv "$f" "${f%:2,*}:2,FS"
dv flags add '\Answered' mailbox B uid 4
traced_sync
check_eq "client rename: B scanned" 0 "$(from_state B)"
# read once (each of cur/ and new/: one getdents64 with the names, one that returns 0): the
# deletion guard's file count, the move search and the sync share one scan (12 before: a
# count and two scans)
check_eq "client rename: B's directories read once" 4 "$(getdents_of B)"
check_eq "client rename: the server has the client's flag" '\Flagged \Seen' "$(server_flags B 3)"
check_eq "client rename: the server's flag arrived" RS "$(local_flags B 4)"
check_mirror B

# ---- a file deleted locally: scanned, and only that one is deleted on the server -------------
sleep 1.1
rm "$(local_file E 2)"
dv flags add '\Answered' mailbox E uid 3
traced_sync
check_eq "local deletion: E scanned" 0 "$(from_state E)"
check_eq "local deletion: only UID 2 deleted on the server" "1 3 4 5" "$(server_uids E | paste -sd' ' -)"
check_mirror E

# ---- the state places a file where it no longer is ------------------------------------------
# A client renames C's UID 4 (adds F) and the directory's mtime comes back to what the last
# sync recorded: nmsync takes C from the state, as it would when the rename comes during the
# run, after the snapshot. The server changes the same message and another one.
incr_settle
sleep 1.1
d=$(local_dir C)
stamp=$(stat -c '%.9Y' "$d/cur")
f=$(local_file C 4)
mv "$f" "${f%:2,*}:2,FS"
touch -m -d "@$stamp" "$d/cur"
dv flags add '\Answered' mailbox C uid 4
dv flags add '\Answered' mailbox C uid 5
server_before=$(server_uids C | paste -sd' ' -)
traced_sync
check_eq "stale path: exit 0" 0 "$NMS_RC"
check_eq "stale path: C from the state" 1 "$(from_state C)"
check_match "stale path: the message is named" "UID 4: no file" "$(cat "$NMS_ERR")"
check_eq "stale path: the other message's flag arrived" RS "$(local_flags C 5)"
check_eq "stale path: the client's file is untouched" FS "$(local_flags C 4)"
check_eq "stale path: nothing deleted on the server" "$server_before" "$(server_uids C | paste -sd' ' -)"
check_eq "stale path: state keeps the agreed flags" "S" \
    "$(sqlite3 "$NMS_STATE/test.db" "SELECT flags FROM messages WHERE folder = 'C' AND uid = 4")"
check_eq "stale path: C not recorded complete" 0 "$(modseq C)"
traced_sync
check_eq "next run: exit 0" 0 "$NMS_RC"
check_eq "next run: C scanned" 0 "$(from_state C)"
check_eq "next run: both sides' flags merged locally" FRS "$(local_flags C 4)"
check_eq "next run: and on the server" '\Answered \Flagged \Seen' "$(server_flags C 4)"
check_mirror C
for f in $INCR_FOLDERS; do
    check_eq "$f: no duplicate UID" "" "$(dup_uids "$f")"
done


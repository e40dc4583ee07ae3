#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A server whose hierarchy separator is "." (Dovecot's default for Maildir storage, and
# Courier's): the nested folder Archives.2012 is the local .Archives.2012 and nothing else. A
# pull, then six two-way syncs with a mixed workload in the nested folders (flag changes on
# both sides, local deletions, server expunges, new messages on both sides): no CREATE is ever
# sent, no folder is "created" or "gone from the server", each folder is synced once per run,
# no zero-byte or duplicate file appears, every run exits 0, and both sides hold the same
# messages (by Message-ID) with the same flags after each run.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

DOVECOT_SEPARATOR=.
DOVECOT_RAWLOG=1
dovecot_start
check_eq "set-up: the server's separator is '.'" "Archive" \
    "$(dv mailbox list | grep -x 'Archive')"
dovecot_seed --flags '\Seen' INBOX 3
dovecot_seed --flags '\Seen' Archives 4
dovecot_seed --flags '\Seen' Archives/2012 6
dovecot_seed Archives/2012/Q1 3
check_eq "set-up: doveadm names the nested folder with '.'" "Archives.2012" \
    "$(dv mailbox list | grep -x 'Archives\.2012')"

nmsync_setup_dovecot
nmsync_run pull
check_eq "pull: exit 0" 0 "$NMS_RC"
check_eq "pull: Archives/2012 is the local .Archives.2012" 6 "$(local_count Archives/2012)"
check_eq "pull: Archives/2012/Q1 is the local .Archives.2012.Q1" 3 \
    "$(local_count Archives/2012/Q1)"

# A state written before folder names were one: Archives/2012 recorded with the server's
# spelling only (a pull), Archives/2012/Q1 under both (a pull, then the phantom's sync). The
# next sync renames the first record and forgets the old duplicate of the second.
db=$NMS_STATE/test.db
sqlite3 "$db" "UPDATE folders SET name = 'Archives.2012' WHERE name = 'Archives/2012';
    UPDATE messages SET folder = 'Archives.2012' WHERE folder = 'Archives/2012';
    INSERT INTO folders SELECT 'Archives.2012.Q1', uidvalidity, uidnext, highestmodseq, messages,
        cur_mtime, new_mtime FROM folders WHERE name = 'Archives/2012/Q1';
    INSERT INTO messages SELECT 'Archives.2012.Q1', uid, flags, base FROM messages
        WHERE folder = 'Archives/2012/Q1';"
check_eq "set-up: the state spells the folders the old way" \
    "$(printf '%s\n' Archives.2012 Archives.2012.Q1 Archives/2012/Q1)" \
    "$(sqlite3 "$db" "SELECT name FROM folders WHERE name LIKE 'Archives%.%' OR name LIKE 'Archives/%' ORDER BY name")"
saved_2012=$(sqlite3 "$db" "SELECT uid, flags FROM messages WHERE folder = 'Archives.2012' ORDER BY uid")
state_before=$(sqlite3 "$db" .dump)
nmsync_run -n sync
check_eq "dry run over the old state: exit 0" 0 "$NMS_RC"
check_match "dry run: says the old record would be renamed" \
    "would record folder 'Archives.2012' as 'Archives/2012'" "$(cat "$NMS_ERR")"
check "dry run: no folder would be created or is gone" no_folder_events
check_eq "dry run: the state is unchanged" "$state_before" "$(sqlite3 "$db" .dump)"

# by_id SIDE: "folder message-id [letters]" per message of SIDE ($SRV or $LOC), sorted.
by_id () {
    printf '%s\n' "$1" | awk 'NF { print $1, $5, $4 }' | LC_ALL=C sort
}

# after_sync WHAT: the invariants after each two-way sync.
after_sync () {
    local what=$1 err
    err=$(cat "$NMS_ERR")
    check_eq "$what: exit 0" 0 "$NMS_RC"
    check_eq "$what: no CREATE sent" "" "$(rawlog_commands | grep -i '^CREATE ')"
    check_eq "$what: no folder created" "" "$(grep -o '[1-9][0-9]* folders created' "$NMS_OUT")"
    check_eq "$what: no folder said to be gone from the server" "" \
        "$(printf '%s\n' "$err" | grep 'gone from the server')"
    check_eq "$what: no file reported vanished under the run" "" \
        "$(printf '%s\n' "$err" | grep 'vanished')"
    check_eq "$what: each folder selected at most once" "" \
        "$(rawlog_commands | sed -n 's/^\(SELECT\|EXAMINE\) \("[^"]*"\|[^ ]*\).*/\2/p' | sort |
            uniq -d)"
    check_eq "$what: the server has the same folders as before" "$folders" "$(server_folders)"
    check_eq "$what: no zero-byte message file" "" \
        "$(find "$NMS_MAILDIR" -path '*/cur/*' -size 0 -o -path '*/new/*' -size 0)"
    check_eq "$what: only the expected local folders" \
        "$(printf '%s\n' . ./.Archive ./.Archives ./.Archives.2012 ./.Archives.2012.Q1 ./.Junk \
            ./.Sent ./.Trash)" \
        "$(cd "$NMS_MAILDIR" && find . -maxdepth 1 -type d ! -name tmp ! -name cur ! -name new |
            LC_ALL=C sort)"
    collect_sides
    check_eq "$what: server and local hold the same messages, flags included" \
        "$(by_id "$SRV")" "$(by_id "$LOC")"
    check_eq "$what: every Message-ID once" "" \
        "$(printf '%s\n' "$LOC" | awk 'NF { print $5 }' | sort | uniq -d)"
    check "$what: every local file uploaded" all_uploaded
    check "$what: local and server agree UID by UID" agree_by_uid
}

folders=$(server_folders)
nested=Archives/2012
deep=Archives/2012/Q1
flag_local () {
    local f
    f=$(local_file "$1" "$2")
    [ -n "$f" ] && mv "$f" "${f%:2,*}:2,$3"
}

for round in 1 2 3 4 5 6; do
    case $round in
    1) # the first two-way sync after the pull, where the phantom folder used to appear
        flag_local $nested 1 FS
        rm "$(local_file $nested 2)"
        dv flags add '\Answered' mailbox $nested uid 3
        dovecot_seed $nested 1
        mail_file "$(local_dir $nested)/cur/1712000002.M2P921.writer:2,S" t921-local-2
        ;;
    2)
        flag_local $nested 4 S
        flag_local $deep 1 F
        rm "$(local_file $deep 2)"
        dv expunge mailbox $nested uid 5
        mail_file "$(local_dir $deep)/new/1712000003.M3P921.writer" t921-local-3
        ;;
    3)
        flag_local $nested 6 FRS
        dv flags add '\Flagged' mailbox $deep uid 3
        dovecot_seed --flags '\Seen' $deep 2
        mail_file "$(local_dir Archives)/cur/1712000004.M4P921.writer:2,S" t921-local-4
        rm "$(local_file Archives 1)"
        ;;
    4)
        flag_local $nested 1 S
        dv flags remove '\Seen' mailbox $nested uid 3
        rm "$(local_file $nested 6)"
        ;;
    5 | 6) # settled: more syncs change nothing
        ;;
    esac
    rawlog_mark
    nmsync_run sync
    after_sync "sync $round"
    if [ "$round" = 1 ]; then
        check_eq "sync 1: the old record's messages now under Archives/2012" \
            "$(printf '%s\n' "$saved_2012" | grep -v '^2|' | sed 's/^3|S$/3|RS/; s/^1|S$/1|FS/')" \
            "$(sqlite3 "$db" "SELECT uid, flags FROM messages WHERE folder = 'Archives/2012' AND uid <= 6 ORDER BY uid")"
    fi
done

check_eq "the local deletions reached the server: $nested" "1 3 4 7 8" "$(server_uids $nested)"
check_eq "the local flag of round 4 reached the server" '\Seen' "$(server_flags $nested 1)"
check_eq "the server's flag change of round 4 arrived" R "$(local_flags $nested 3)"
check_eq "Archives lost its UID 1 on the server" 0 \
    "$(server_uids Archives | tr ' ' '\n' | grep -cx 1)"
check_eq "no state for a folder named with the other separator" "" \
    "$(sqlite3 "$db" "SELECT name FROM folders WHERE name LIKE '%.%'
        UNION SELECT folder FROM messages WHERE folder LIKE '%.%'")"

# The verbatim layout: the same server folders are the directories Archives/2012 and
# Archives/2012/Q1, and the two-way syncs after the pull find nothing new either.
nmsync_setup_dovecot "layout = verbatim"
nmsync_run pull
check_eq "verbatim: pull: exit 0" 0 "$NMS_RC"
for i in 1 2; do
    rawlog_mark
    nmsync_run sync
    check_eq "verbatim: sync $i: exit 0" 0 "$NMS_RC"
    check "verbatim: sync $i: no folder created or gone" no_folder_events
    check_eq "verbatim: sync $i: no CREATE sent" "" "$(rawlog_commands | grep -i '^CREATE ')"
done
check_eq "verbatim: Archives/2012 is the directory Archives/2012" \
    "$(server_uids Archives/2012 | wc -w)" \
    "$(find "$NMS_MAILDIR/Archives/2012/cur" "$NMS_MAILDIR/Archives/2012/new" -type f | wc -l)"
check_eq "verbatim: Archives/2012/Q1 is the directory Archives/2012/Q1" \
    "$(server_uids Archives/2012/Q1 | wc -w)" \
    "$(find "$NMS_MAILDIR/Archives/2012/Q1/cur" "$NMS_MAILDIR/Archives/2012/Q1/new" -type f | wc -l)"
check_eq "verbatim: no directory named with the server's separator" "" \
    "$(find "$NMS_MAILDIR" -name '*.*' -type d)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Local moves on servers without MOVE: (1) a bare IMAP4rev1 server (no MOVE, no UIDPLUS), (2) a
# server with UIDPLUS but no MOVE. Files moved between INBOX and Junk in both directions, with
# their ",U=" kept and dropped, then three more syncs: each Message-ID exactly once on each side
# (on the server not counting messages marked \Deleted awaiting an expunge: that is what other
# clients show struck through or hidden until someone expunges), the copy keeps the original's
# INTERNALDATE (COPY, nothing uploaded), notmuch holds each message once at its file's path, and
# every run exits 0. Also: a local deletion on the bare server is reported once (exit 1), not
# on every later run.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# ids FOLDER: the Message-IDs of FOLDER's messages on the server not marked \Deleted, sorted.
ids () { dv -f tab fetch 'hdr.message-id' mailbox "$1" undeleted | tail -n +2 | tr -d ' <>' | sort; }
# deleted_ids FOLDER: those marked \Deleted.
deleted_ids () { dv -f tab fetch 'hdr.message-id' mailbox "$1" deleted | tail -n +2 | tr -d ' <>' | sort; }
# local_ids FOLDER: the Message-IDs of FOLDER's files, sorted.
local_ids () {
    local d f
    d=$(local_dir "$1")
    find "$d/cur" "$d/new" -maxdepth 1 -type f | while IFS= read -r f; do id_of "$f"; done | sort
}
id_of () { sed -n '/^$/q; s/^Message-I[Dd]: *//p' "$1" | tr -d ' <>'; }
# received FOLDER ID: INTERNALDATE of the undeleted message ID in FOLDER.
received () {
    TZ=UTC dv -f tab fetch 'date.received hdr.message-id' mailbox "$1" undeleted |
        tr -d '<>' | awk -F'\t' -v id="$2" '$2 == id || $2 == " " id { print $1 }'
}

# one_case NAME CAPABILITY: the whole scenario against a fresh Dovecot offering CAPABILITY.
one_case () {
    local c=$1 cap=$2 junk inbox f base moved="" id n sync_no srv loc jdir
    local -A date_of where
    DOVECOT_CAPABILITY=$2
    dovecot_start
    dovecot_seed --flags '\Seen' INBOX 6
    dovecot_seed --flags '\Seen' Junk 4
    nmsync_setup_dovecot
    nmsync_notmuch
    nmsync_run sync
    check_eq "$c: initial sync: exit 0" 0 "$NMS_RC"
    junk=$(local_dir Junk)
    inbox=$(local_dir INBOX)

    # INBOX -> Junk keeping ",U=" (a plain mv), INBOX -> Junk dropping it (mbsync style), and
    # the same two the other way.
    # The files are chosen before any moves: a file moved keeping ",U=1" would be taken for
    # the destination's own UID 1.
    local -a files
    for spec in "INBOX 1" "INBOX 2" "Junk 1" "Junk 2"; do
        files+=("$(local_file $spec)")
    done
    for spec in "0 INBOX Junk keep" "1 INBOX Junk drop" "2 Junk INBOX keep" "3 Junk INBOX drop"; do
        set -- $spec
        f=${files[$1]}
        id=$(id_of "$f")
        date_of[$id]=$(received "$2" "$id")
        where[$id]=$3
        moved="$moved $id"
        base=$(basename "$f")
        base=${base%%[,:]*}
        if [ "$4" = keep ]; then
            mv "$f" "$(local_dir "$3")/cur/"
        else
            mv "$f" "$(local_dir "$3")/cur/$base:2,S"
        fi
    done
    all_before=$( (ids INBOX; ids Junk) | sort)
    # As a user's mail client (or `notmuch new` in its post-move hook) would: notmuch knows
    # the moved files at their new paths, and nmsync's renames must keep it so.
    notmuch new >/dev/null 2>&1

    srv=$(server_state)
    loc=$(local_state)
    nmsync_run -n sync
    check_eq "$c: dry run: exit 0" 0 "$NMS_RC"
    check_eq "$c: dry run: says the four moves" 4 "$(grep -c 'would move UID' "$NMS_ERR")"
    check_eq "$c: dry run: nothing to upload or download" "" \
        "$(grep -E 'would (upload|download)' "$NMS_ERR")"
    check_eq "$c: dry run: the server is unchanged" "$srv" "$(server_state)"
    check_eq "$c: dry run: the Maildir is unchanged" "$loc" "$(local_state)"

    for sync_no in 1 2 3 4; do
        nmsync_run sync
        check_eq "$c: sync $sync_no after the moves: exit 0" 0 "$NMS_RC"
        check_eq "$c: sync $sync_no: every Message-ID once on the server (not \\Deleted)" \
            "$all_before" "$( (ids INBOX; ids Junk) | sort)"
        check_eq "$c: sync $sync_no: every Message-ID once in the Maildir" \
            "$all_before" "$( (local_ids INBOX; local_ids Junk) | sort)"
        check_eq "$c: sync $sync_no: INBOX the same on both sides" "$(ids INBOX)" "$(local_ids INBOX)"
        check_eq "$c: sync $sync_no: Junk the same on both sides" "$(ids Junk)" "$(local_ids Junk)"
        check_eq "$c: sync $sync_no: INBOX: no UID carried by two files" "" "$(dup_uids INBOX)"
        check_eq "$c: sync $sync_no: Junk: no UID carried by two files" "" "$(dup_uids Junk)"
    done
    for id in $moved; do
        check_eq "$c: $id is in ${where[$id]} on the server" 1 \
            "$(ids "${where[$id]}" | grep -cx "$id")"
        check_eq "$c: $id kept its INTERNALDATE (copied, not uploaded)" "${date_of[$id]}" \
            "$(received "${where[$id]}" "$id")"
        f=$(notmuch search --output=files "id:$id" 2>/dev/null)
        check_eq "$c: notmuch holds $id once" 1 "$(printf '%s\n' "$f" | grep -c .)"
        check_match "$c: notmuch has $id at its file in ${where[$id]}" ",U=[0-9]+" "$f"
        check "$c: that file exists" test -f "$f"
    done
    case $cap in
        *UIDPLUS*)
            check_eq "$c: nothing left marked \\Deleted (UID EXPUNGE)" "" \
                "$( (deleted_ids INBOX; deleted_ids Junk) | sort)"
            ;;
        *)
            # Without UIDPLUS the originals stay marked \Deleted: a plain EXPUNGE could remove
            # other clients' \Deleted mail too.
            n=$( (deleted_ids INBOX; deleted_ids Junk) | sort | tr '\n' ' ')
            check_eq "$c: the four originals stay marked \\Deleted, nothing else" \
                "$(printf '%s\n' $moved | sort | tr '\n' ' ')" "$n"
            ;;
    esac
    check_eq "$c: notmuch count equals the files" "$(( $(local_count INBOX) + $(local_count Junk) ))" \
        "$(notmuch count --output=files '*')"
    notmuch new >/dev/null 2>&1
    check_eq "$c: notmuch new finds nothing to add or remove" \
        "$(( $(local_count INBOX) + $(local_count Junk) ))" "$(notmuch count --output=files '*')"

    # kill -9 after the move's intent (1) and after its COPY + STORE (2): the next run finishes
    # the move (the copy found in Junk by Message-ID) or does it, and nothing is doubled.
    for n in 1 2; do
        f=$(local_file INBOX $((n + 4)))
        id=$(id_of "$f")
        all_before=$( (ids INBOX; ids Junk) | sort)
        mv "$f" "$junk/cur/"
        NMSYNC_TEST_CRASH_AFTER=$n nmsync_run sync 2>/dev/null
        check_eq "$c: crash after step $n: killed" 137 "$NMS_RC"
        nmsync_run sync
        check_eq "$c: crash after step $n: the next sync exits 0" 0 "$NMS_RC"
        nmsync_run sync
        check_eq "$c: crash after step $n: one more sync exits 0" 0 "$NMS_RC"
        check_eq "$c: crash after step $n: every Message-ID once on the server (not \\Deleted)" \
            "$all_before" "$( (ids INBOX; ids Junk) | sort)"
        check_eq "$c: crash after step $n: $id in Junk on the server" 1 "$(ids Junk | grep -cx "$id")"
        check_eq "$c: crash after step $n: every Message-ID once in the Maildir" "$all_before" \
            "$( (local_ids INBOX; local_ids Junk) | sort)"
        check_eq "$c: crash after step $n: Junk the same on both sides" "$(ids Junk)" "$(local_ids Junk)"
        check_eq "$c: crash after step $n: Junk: no UID carried by two files" "" "$(dup_uids Junk)"
    done

    # A move the server refuses (its Junk not writable): nothing uploaded, downloaded or
    # deleted, the file stays in Junk; once the server takes it, the next run moves it.
    f=$(local_file INBOX 4)
    id=$(id_of "$f")
    all_before=$( (ids INBOX; ids Junk) | sort)
    mv "$f" "$junk/cur/"
    jdir=$(dv mailbox path Junk)
    chmod a-w "$jdir" "$jdir/cur" "$jdir/new" "$jdir/tmp"
    nmsync_run sync
    chmod u+w "$jdir" "$jdir/cur" "$jdir/new" "$jdir/tmp"
    check_eq "$c: refused move: exit 1" 1 "$NMS_RC"
    check_match "$c: refused move: named" "moving '.*' from 'INBOX' to 'Junk' on the server" \
        "$(cat "$NMS_ERR")"
    check_eq "$c: refused move: every Message-ID once on the server" "$all_before" \
        "$( (ids INBOX; ids Junk) | sort)"
    check_eq "$c: refused move: $id still in INBOX on the server" 1 "$(ids INBOX | grep -cx "$id")"
    check_eq "$c: refused move: every Message-ID once in the Maildir" "$all_before" \
        "$( (local_ids INBOX; local_ids Junk) | sort)"
    check_eq "$c: refused move: the file stays in Junk" 1 "$(local_ids Junk | grep -cx "$id")"
    nmsync_run sync
    check_eq "$c: retried move: exit 0" 0 "$NMS_RC"
    check_eq "$c: retried move: every Message-ID once on the server (not \\Deleted)" \
        "$all_before" "$( (ids INBOX; ids Junk) | sort)"
    check_eq "$c: retried move: $id in Junk on the server" 1 "$(ids Junk | grep -cx "$id")"
    check_eq "$c: retried move: Junk the same on both sides" "$(ids Junk)" "$(local_ids Junk)"
    check_eq "$c: retried move: INBOX the same on both sides" "$(ids INBOX)" "$(local_ids INBOX)"

    # A local deletion: marked \Deleted on the bare server (said once), never again after.
    f=$(local_file INBOX 3)
    id=$(id_of "$f")
    rm "$f"
    nmsync_run sync
    case $cap in
        *UIDPLUS*) check_eq "$c: local deletion: exit 0" 0 "$NMS_RC" ;;
        *) check_eq "$c: local deletion without UIDPLUS: exit 1 (marked, not expunged)" 1 "$NMS_RC" ;;
    esac
    for sync_no in 1 2; do
        nmsync_run sync
        check_eq "$c: sync $sync_no after the deletion: exit 0" 0 "$NMS_RC"
        check_eq "$c: sync $sync_no after the deletion: not downloaded again" "" \
            "$( (local_ids INBOX; local_ids Junk) | grep -x "$id")"
        check_eq "$c: sync $sync_no after the deletion: nothing on stderr" "" "$(cat "$NMS_ERR")"
    done
    dovecot_stop
}

one_case bare "IMAP4rev1 LITERAL+ ENABLE UNSELECT CHILDREN NAMESPACE"
one_case uidplus "IMAP4rev1 LITERAL+ ENABLE UNSELECT CHILDREN NAMESPACE UIDPLUS"

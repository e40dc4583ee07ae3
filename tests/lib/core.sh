# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# core.sh: the core integration scenarios, run against a server inspected through imapsrv.sh
# (Cyrus, Courier, a trimmed Dovecot). Source after tap.sh, nmsync.sh and the server's library.
# The test sets, before core_run:
#   SRV_PFX    the server's personal namespace prefix as listed ("INBOX." on Courier, else "")
#   SRV_SEP    its hierarchy separator ("/" or ".")
#   srv_setup  a function: nmsync_setup for the server, with its arguments as extra lines
#   srv_snapshot DIR / srv_restore DIR   copy the server's mail away and back (the crash loop)
#   SRV_KEEPS_DELETED=1 when the server lacks UIDPLUS: nmsync's deletions stay there as
#              \Deleted messages (never expunged, t306); the digest leaves them out, and a sync
#              that exits 1 only to say so counts as a clean one (sync_ok)
#   SRV_MOVE_SKIP="reason"  skip the scenarios that move messages (local move, rules, the
#              crash loop's move) with that reason
# Folders are named the user's way here ("Archive/2012", "Junk"); wire () gives the server's.
# Messages are <ID@nmsync.test>; assertions compare "folder id flag-letters" lines of both
# sides (side_digest), so they hold whatever UIDs each server gives.

if [ -n "${_CORE_SH_LOADED:-}" ]; then
    return 0
fi
_CORE_SH_LOADED=1

CORE_MSGS=$(tap_tmpdir)

wire () {
    case "$1" in
        INBOX) printf 'INBOX\n' ;;
        *) printf '%s%s\n' "$SRV_PFX" "${1//\//$SRV_SEP}" ;;
    esac
}

# The user's name of a server folder name.
unwire () {
    local n=$1
    [ "$n" = INBOX ] || { n=${n#"$SRV_PFX"}; n=${n//"$SRV_SEP"//}; }
    printf '%s\n' "$n"
}

core_msg () { mail_file "$CORE_MSGS/$1" "$1"; printf '%s\n' "$CORE_MSGS/$1"; }

# "folder id letters" for every message of the server, sorted.
server_digest () {
    local f uid id flags
    imapc all | while IFS=$'\t' read -r f uid id flags; do
        if [ -n "${SRV_KEEPS_DELETED:-}" ] && [[ " $flags " == *' \Deleted '* ]]; then
            continue
        fi
        # shellcheck disable=SC2086
        printf '%s %s %s\n' "$(unwire "$f")" "$id" "$(imap_letters $flags)"
    done
    true
}

# The same for the Maildir (every file in cur/ and new/).
local_digest () {
    local name dir file id
    while IFS=$'\t' read -r name dir; do
        for file in "$dir"/cur/* "$dir"/new/*; do
            [ -f "$file" ] || continue
            id=$(sed -n 's/^Message-I[Dd]: *\(<[^>]*>\).*/\1/p' "$file" | head -n 1)
            case "$file" in *:2,*) flags=${file##*:2,} ;; *) flags= ;; esac
            printf '%s %s %s\n' "$name" "$id" "$(printf '%s' "$flags" | grep -o '[A-Z]' | LC_ALL=C sort | tr -d '\n')"
        done
    done < <(local_folders)
    true
}

side_digest () { "$1"_digest | LC_ALL=C sort; }

# The ids of FOLDER on SIDE (server|local) as "id:letters" words, sorted.
ids_on () {
    side_digest "$1" | awk -v f="$2" '$1 == f { sub(/^</, "", $2); sub(/@nmsync\.test>$/, "", $2); print $2 ":" $3 }' |
        LC_ALL=C sort | paste -sd' ' -
}

sides_agree () {
    local s l
    s=$(side_digest server)
    l=$(side_digest local)
    [ "$s" = "$l" ] && return 0
    echo "- server, + local:"
    diff <(printf '%s\n' "$s") <(printf '%s\n' "$l") | sed -n 's/^</-/p; s/^>/+/p'
    return 1
}

# No Message-ID twice in one folder of one side.
no_duplicates () {
    local d
    d=$( { side_digest server | sed 's/^/server /'; side_digest local | sed 's/^/local /'; } |
        awk '{ print $1, $2, $3 }' | LC_ALL=C sort | uniq -d)
    [ -z "$d" ] && return 0
    printf 'more than one copy: %s\n' "$d"
    return 1
}

# The last nmsync_run exited 0, or (SRV_KEEPS_DELETED) 1 only to say that deletions stay
# \Deleted on a server without UIDPLUS.
sync_ok () {
    [ "$NMS_RC" = 0 ] && return 0
    [ -n "${SRV_KEEPS_DELETED:-}" ] && [ "$NMS_RC" = 1 ] &&
        ! grep -v 'are marked \\Deleted on the server but not expunged: it lacks UIDPLUS' "$NMS_ERR" | grep -q . &&
        return 0
    echo "exit $NMS_RC:"; cat "$NMS_ERR"
    return 1
}

quiet_sync () {
    nmsync_run sync
    # A run that changed nothing prints no summary line (nmsync(1) OUTPUT).
    sync_ok >/dev/null && [ ! -s "$NMS_OUT" ] && return 0
    cat "$NMS_OUT" "$NMS_ERR"
    return 1
}

# ---- the scenarios -----------------------------------------------------------------------------

core_seed () {
    srv_seed INBOX "$(core_msg i1)" "$(core_msg i2)" "$(core_msg i3)" "$(core_msg i4)" || bail_out "seeding INBOX"
    srv_seed "$(wire Archive)" >/dev/null || bail_out "seeding Archive"
    srv_seed "$(wire Archive/2012)" "$(core_msg a1)" "$(core_msg a2)" || bail_out "seeding Archive/2012"
    imapc store INBOX 1 +FLAGS '\Seen' '\Flagged' || bail_out "flags"
    imapc store "$(wire Archive/2012)" 1 +FLAGS '\Seen' '\Answered' || bail_out "flags"
}

core_pull () {
    local f
    nmsync_run pull
    check "pull: exit 0" sync_ok
    for f in INBOX Archive/2012; do
        check_eq "pull: $f byte for byte as the server serves it" "$(server_sum "$(wire "$f")")" "$(local_sum "$f")"
    done
    check_eq "pull: INBOX flags" "i1:FS i2: i3: i4:" "$(ids_on local INBOX)"
    check_eq "pull: Archive/2012 flags" "a1:RS a2:" "$(ids_on local Archive/2012)"
    check "pull: the nested folder is .Archive.2012 locally" test -d "$NMS_MAILDIR/.Archive.2012/cur"
    check_eq "pull: no local folder carries the server's prefix" "" \
        "$(if [ -n "$SRV_PFX" ]; then find "$NMS_MAILDIR" -maxdepth 1 -name ".${SRV_PFX//./?}*"; fi)"
    check "pull: both sides agree" sides_agree
    nmsync_run sync
    check "first sync: exit 0" sync_ok
    check "first sync: no folder created or gone" no_folder_events
    check "second sync: nothing to do" quiet_sync
    check "second sync: no folder created or gone" no_folder_events
}

core_twoway () {
    local f
    # The server: a flag added and one removed, a new message, a deletion.
    imapc store INBOX 2 +FLAGS '\Flagged'
    imapc store INBOX 1 -FLAGS '\Flagged'
    srv_seed INBOX "$(core_msg s1)"
    imapc expunge INBOX 3
    # Locally: flags, a new message in a nested folder, a deletion.
    f=$(local_file INBOX 4) && mv "$f" "${f%:2,*}:2,S"
    cp "$(core_msg l1)" "$NMS_MAILDIR/.Archive.2012/new/1704189600.M1P931.host"
    rm -f "$(local_file Archive/2012 2)"
    nmsync_run sync
    check "two-way: exit 0" sync_ok
    for s in server local; do
        check_eq "two-way: $s INBOX" "i1:S i2:F i4:S s1:" "$(ids_on $s INBOX)"
        check_eq "two-way: $s Archive/2012" "a1:RS l1:" "$(ids_on $s Archive/2012)"
    done
    check "two-way: both sides agree" sides_agree
    check "two-way, again: nothing to do" quiet_sync
    check "two-way: no folder created or gone" no_folder_events
}

core_move () {
    local f before
    if [ -n "${SRV_MOVE_SKIP:-}" ]; then
        skip "local move" "$SRV_MOVE_SKIP"
        return 0
    fi
    f=$(local_file INBOX 2)
    mv "$f" "$NMS_MAILDIR/.Archive.2012/cur/"
    nmsync_run sync
    check "local move: exit 0" sync_ok
    check_match "local move: moved on the server, nothing uploaded" "server: 0 uploaded \(0 B\), 0 flags changed, 0 deleted, 1 moved" "$(cat "$NMS_OUT")"
    for s in server local; do
        check_eq "local move: $s INBOX" "i1:S i4:S s1:" "$(ids_on $s INBOX)"
        check_eq "local move: $s Archive/2012" "a1:RS i2:F l1:" "$(ids_on $s Archive/2012)"
    done
    for n in 1 2 3; do
        check "local move, sync $n after: nothing to do" quiet_sync
    done
    check "local move: one copy each side" no_duplicates
    check "local move: both sides agree" sides_agree
}

core_rules () {
    local junk
    if [ -n "${SRV_MOVE_SKIP:-}" ]; then
        skip "rules + server move" "$SRV_MOVE_SKIP"
        return 0
    fi
    srv_seed INBOX "$(core_msg spam1)"
    nmsync_run sync
    nmsync_notmuch
    nmsync_rules default.rules spam.rules
    nmsync_run apply # the first apply only takes the tags the rules give (t603)
    notmuch tag +spam -- id:spam1@nmsync.test
    nmsync_run apply
    check_eq "rules: apply exits 0" 0 "$NMS_RC"
    junk=$(find "$NMS_MAILDIR/.Junk/cur" "$NMS_MAILDIR/.Junk/new" -type f 2>/dev/null | wc -l)
    check_eq "rules: the spam is in the local Junk folder" 1 "$junk"
    nmsync_run sync
    check "rules: the sync after exits 0" sync_ok
    check_match "rules: moved on the server, nothing uploaded" "server: 0 uploaded \(0 B\), [0-9]+ flags changed, 0 deleted, 1 moved" "$(cat "$NMS_OUT")"
    check_eq "rules: the server's Junk has it, read" "spam1:S" "$(ids_on server Junk)"
    check_match "rules: ... flagged \$Junk on the server" '\$Junk' "$(imapc ids "$(wire Junk)")"
    check_eq "rules: the server's INBOX does not" "i1:S i4:S s1:" "$(ids_on server INBOX)"
    check "rules: both sides agree" sides_agree
    check "rules, again: nothing to do" quiet_sync
}

# UIDVALIDITY: the folder deleted and made again on the server, with the same messages and one
# more. Nothing is lost or doubled on either side.
core_uidvalidity () {
    local before
    before=$(server_uidvalidity "$(wire Archive/2012)")
    imapc delete "$(wire Archive/2012)" || bail_out "delete Archive/2012"
    srv_seed "$(wire Archive/2012)" "$CORE_MSGS/a1" "$CORE_MSGS/i2" "$CORE_MSGS/l1" "$(core_msg u1)" ||
        bail_out "recreate Archive/2012"
    imapc store "$(wire Archive/2012)" 1 +FLAGS '\Seen' '\Answered'
    imapc store "$(wire Archive/2012)" 2 +FLAGS '\Flagged'
    if [ "$(server_uidvalidity "$(wire Archive/2012)")" = "$before" ]; then
        skip "UIDVALIDITY change" "the server gave the new folder the old UIDVALIDITY"
        return 0
    fi
    nmsync_run sync
    check "uidvalidity: exit 0" sync_ok
    for s in server local; do
        check_eq "uidvalidity: $s Archive/2012" "a1:RS i2:F l1: u1:" "$(ids_on $s Archive/2012)"
    done
    check "uidvalidity: one copy each side" no_duplicates
    check "uidvalidity: both sides agree" sides_agree
    check "uidvalidity, again: nothing to do" quiet_sync
}

core_run () {
    core_seed
    srv_setup "connections = 1"
    core_pull
    core_twoway
    core_move
    core_rules
    core_uidvalidity
}

# ---- kill at every step (t501, smaller) ----------------------------------------------------

_crash_scenario () {
    local f
    srv_seed INBOX "$(core_msg c1)" "$(core_msg c2)" "$(core_msg c3)" "$(core_msg c4)" "$(core_msg c5)"
    srv_seed "$(wire Box)" "$(core_msg b1)"
    srv_setup "connections = 1"
    nmsync_run sync
    [ "$NMS_RC" = 0 ] || bail_out "crash scenario: the first sync exited $NMS_RC"
    imapc store INBOX 1 +FLAGS '\Flagged'
    imapc expunge INBOX 2
    srv_seed "$(wire Box)" "$(core_msg b2)"
    f=$(local_file INBOX 3) && mv "$f" "${f%:2,*}:2,S"
    rm -f "$(local_file INBOX 4)"
    cp "$(core_msg k1)" "$NMS_MAILDIR/cur/1704189600.M1P931.host:2,S"
    [ -n "${SRV_MOVE_SKIP:-}" ] || { f=$(local_file INBOX 5) && mv "$f" "$NMS_MAILDIR/.Box/cur/"; }
}

core_crash_loop () {
    local snap n points=0 reference
    snap=$(tap_tmpdir)
    _crash_scenario
    srv_snapshot "$snap/server"
    cp -a "$NMS_HOME" "$snap/home"
    nmsync_run sync
    check "crash loop, uninterrupted: exit 0" sync_ok
    reference="$(side_digest server)"
    if [ -n "${SRV_MOVE_SKIP:-}" ]; then
        check_eq "crash loop, uninterrupted: INBOX" "c1:F c3:S c5: k1:S" "$(ids_on server INBOX)"
        check_eq "crash loop, uninterrupted: Box" "b1: b2:" "$(ids_on server Box)"
    else
        check_eq "crash loop, uninterrupted: INBOX" "c1:F c3:S k1:S" "$(ids_on server INBOX)"
        check_eq "crash loop, uninterrupted: Box" "b1: b2: c5:" "$(ids_on server Box)"
    fi
    check "crash loop, uninterrupted: both sides agree" sides_agree
    for ((n = 1; n <= 40; n++)); do
        srv_restore "$snap/server"
        rm -rf "$NMS_HOME" && cp -a "$snap/home" "$NMS_HOME"
        state_rebind_dirs
        NMSYNC_TEST_CRASH_AFTER=$n nmsync_run sync 2>/dev/null
        [ "$NMS_RC" = 137 ] || break
        points=$((points + 1))
        nmsync_run sync
        sync_ok >/dev/null || nmsync_run sync
        check "N=$n: the resume exits 0" sync_ok
        check_eq "N=$n: the server holds what the uninterrupted run left" "$reference" "$(side_digest server)"
        check "N=$n: both sides agree" sides_agree
        check "N=$n: no folder created or gone" no_folder_events
    done
    check "crash loop: past the last step the run exits 0" sync_ok
    check "crash loop: more than 5 crash points ($points)" test "$points" -gt 5
}

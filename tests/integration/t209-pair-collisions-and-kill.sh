#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Pairing by content where Message-ID and size do not decide: two different messages with one
# Message-ID and one size, and a message without Message-ID, in an mbsync-like spool whose
# ",U=" values point at the wrong messages: their bodies decide (digest), each file pairs
# with its own message, and the user's flag lands on the right one. Then server-side moves:
# `-n sync` says what the real run then does (taken along, nothing downloaded), and a kill
# at every step of the move converges with the same inodes, no download and no guard refusal
# (15 of 20 moved: more than half).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in 1 2; do
    {
        printf 'From: List <list@example.org>\nSubject: twin\nMessage-ID: <twin@nmsync.test>\n\n'
        printf 'Body %s%s%s%s\n' "$n" "$n" "$n" "$n"
    } >"$src/c$n"
done
printf 'From: Someone <a@example.org>\nSubject: no id\n\nNo Message-ID here.\n' >"$src/n1"
dovecot_seed INBOX "$src/c1" "$src/c2" "$src/n1"     # UIDs 1, 2, 3
check_eq "the twins have one size" "$(stat -c %s "$src/c1")" "$(stat -c %s "$src/c2")"

nmsync_setup_dovecot 'connections = 2'
d=$NMS_MAILDIR
mkdir -p "$d/cur" "$d/new" "$d/tmp"
cp "$src/c2" "$d/cur/1700000001.1_1.host,U=1:2,F"   # c2, flagged by the user, under c1's UID
cp "$src/c1" "$d/cur/1700000002.1_2.host,U=2:2,"    # c1 under c2's UID
cp "$src/n1" "$d/cur/1700000003.1_3.host,U=7:2,S"   # no Message-ID, read locally
ino1=$(stat -c %i "$d/cur/1700000001.1_1.host,U=1:2,F")
ino3=$(stat -c %i "$d/cur/1700000003.1_3.host,U=7:2,S")

nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "server: nothing uploaded, nothing deleted" "1 2 3" "$(server_uids INBOX)"
check_eq "local: 3 files, nothing downloaded" 3 "$(local_count INBOX)"
check_eq "c2's file paired with c2 (UID 2), by body" 2 "$(local_uid_of INBOX 1700000001.1_1.host)"
check_eq "c1's file paired with c1 (UID 1), by body" 1 "$(local_uid_of INBOX 1700000002.1_2.host)"
check_eq "the file without Message-ID paired with UID 3, by body" 3 "$(local_uid_of INBOX 1700000003.1_3.host)"
check_eq "paired in place (same inodes)" "$ino1 $ino3" \
    "$(stat -c %i "$(local_path_of INBOX 1700000001.1_1.host)") $(stat -c %i "$(local_path_of INBOX 1700000003.1_3.host)")"
check_eq "the user's flag landed on c2" '\Flagged' "$(server_flags INBOX 2)"
check_eq "c1 unflagged" '' "$(server_flags INBOX 1)"
check_eq "the local \\Seen landed on the message without Message-ID" '\Seen' "$(server_flags INBOX 3)"
collect_sides
check "both sides agree UID by UID (bytes and flags)" agree_by_uid

# Server-side moves: 20 messages in A, 15 of them moved to B by another client.
dovecot_seed A 20
dv mailbox create B
nmsync_run sync
check_eq "A synced: exit 0" 0 "$NMS_RC"
ids_inodes () {
    local dir f
    dir=$(local_dir "$1")
    find "$dir/cur" "$dir/new" -maxdepth 1 -type f | while IFS= read -r f; do
        printf '%s %s\n' "$(sed -n '/^$/q; s/^Message-ID:[[:space:]]*//p' "$f")" "$(stat -c %i "$f")"
    done | sort
}
before=$(ids_inodes A)
dv move B mailbox A uid 3:17
loc0=$(local_state)
nmsync_run -n sync
check_eq "-n sync: exit 0" 0 "$NMS_RC"
check_eq "-n sync: would take the 15 files along into B" 15 "$(grep -c "B: would take UID" "$NMS_ERR")"
check_eq "-n sync: would download nothing" 0 "$(grep -c "would download" "$NMS_ERR")"
check_eq "-n sync: would delete nothing in A" 0 "$(grep -c "would delete" "$NMS_ERR")"
check "-n sync: says the 15 were moved" \
    grep -q "15 messages moved on the server from 'A' to 'B' (would be taken along" "$NMS_ERR"
check "-n sync: no guard refusal" bash -c '! grep -q "not deleting" "$1"' _ "$NMS_ERR"
check_eq "-n sync: the Maildir is unchanged" "$loc0" "$(local_state)"

# The real run, killed after each step until one run finishes.
dovecot_mark
done_run=""
for n in $(seq 1 40); do
    NMSYNC_TEST_CRASH_AFTER=$n nmsync_run sync
    if [ "$NMS_RC" -ne 137 ]; then
        done_run=$n
        break
    fi
done
check "a run with the crash point past its last step finished (after $done_run)" test -n "$done_run"
nmsync_run sync
check_eq "sync after the kills: exit 0" 0 "$NMS_RC"
check "no guard refusal" bash -c '! grep -q "not deleting" "$1"' _ "$NMS_ERR"
check_eq "no body downloaded in all those runs" 0 "$(bodies_since_mark)"
check_eq "local A: 5 files" 5 "$(local_count A)"
check_eq "local B: 15 files" 15 "$(local_count B)"
check_eq "every message keeps its inode" "$before" "$( { ids_inodes A; ids_inodes B; } | sort)"
check_eq "no UID carried by two files in B" "" "$(dup_uids B)"
collect_sides
check "both sides agree UID by UID (bytes and flags)" agree_by_uid
srv=$(server_state)
loc=$(local_state)
nmsync_run sync
check_eq "another sync: exit 0" 0 "$NMS_RC"
check_eq "another sync: the server unchanged" "$srv" "$(server_state)"
check_eq "another sync: the Maildir unchanged" "$loc" "$(local_state)"

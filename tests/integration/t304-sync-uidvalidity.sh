#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# UIDVALIDITY change on the server (Dovecot rebuilds a folder's uidlist): the local files are
# re-paired with the server's messages by Message-ID and size and renamed to the new UIDs;
# nothing is downloaded again, nothing deleted on either side; a message new on the server at
# the same time is downloaded; flag changes made on either side meanwhile are not lost. The new
# UIDs differ from the old ones, and an old UID of a local
# file is a new, different message on the server.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
# Two messages with the same Message-ID but different sizes: size tells them apart.
twin=$(tap_tmpdir)
for n in 1 2; do
    {
        printf 'From: List <list@example.org>\nTo: test@example.org\nSubject: twin %s\n' "$n"
        printf 'Message-ID: <twin@nmsync.test>\n\n'
        head -c $((100 * n)) /dev/zero | tr '\0' "$n"
        printf '\n'
    } >"$twin/$n.eml"
done
dovecot_seed Work 2                     # UIDs 1, 2: expunged before the first sync
dovecot_seed --flags '\Seen' Work 6     # 3..8
dovecot_seed --flags '\Flagged' Work "$twin/1.eml" "$twin/2.eml"   # 9, 10
dovecot_seed Work 2                     # 11, 12
dv expunge mailbox Work uid 1:2
nmsync_setup_dovecot
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "first sync: Work complete" 10 "$(local_count Work)"
check_eq "first sync: the old UIDs are 3..12" "3 4 5 6 7 8 9 10 11 12" "$(server_uids Work)"
old_validity=$(server_uidvalidity Work)
key () { sha256sum <"$1" | cut -c1-16; }
# A local flag change not synced yet when the UIDVALIDITY changes (old UID 4: +F).
f4=$(local_file Work 4)
mv "$f4" "${f4%:2,*}:2,FS"
key4=$(key "$(local_file Work 4)")
key3=$(key "$(local_file Work 3)")
# Every local file: inode and content. Neither may change: re-pairing renames, nothing else.
wd=$(local_dir Work)
inodes_before=$(find "$wd/cur" "$wd/new" -type f -printf '%i\n' | sort -n)
sums_before=$(find "$wd/cur" "$wd/new" -type f -exec sha256sum {} + | cut -d' ' -f1 | sort)
flags_before=$(for u in $(server_uids Work); do printf '%s:%s ' "$(key "$(local_file Work "$u")")" "$(local_flags Work "$u")"; done | tr ' ' '\n' | sort)

# Dovecot forgets the folder's UIDs: a new UIDVALIDITY (time based: wait a second first) and
# UIDs from 1 again.
sleep 1.1
dovecot_stop
sdir=$DOVECOT_MAILDIR/.Work
rm -f "$sdir/dovecot-uidlist" "$sdir"/dovecot.index*
dovecot_restart
new_validity=$(server_uidvalidity Work)
check "UIDVALIDITY changed on the server ($old_validity -> $new_validity)" \
    test "$new_validity" != "$old_validity"
check_eq "the server renumbered the 10 messages from 1" "1 2 3 4 5 6 7 8 9 10" "$(server_uids Work)"
dovecot_seed Work 1                     # new on the server: UID 11 under the new UIDVALIDITY
check_eq "new server message is UID 11 (an old local UID of another message)" 11:11 "$DOVECOT_SEEDED_UIDS"
new_sum=$(server_sums Work | grep '^11 ')
# And a server flag change at the same time, on the message that was UID 3 and is now UID 1.
check_eq "old UID 3 is new UID 1 on the server" "$key3" "$(key "$(server_file Work 1)")"
dv flags add '\Answered' mailbox Work uid 1

dovecot_mark
nmsync_run sync
check_eq "sync after the UIDVALIDITY change: exit 0" 0 "$NMS_RC"
check_eq "only the new message's body was downloaded" 1 "$(bodies_since_mark)"
check_eq "server: nothing deleted, nothing uploaded" 11 "$(imap_count Work)"
check_eq "server: the same UIDs" "1 2 3 4 5 6 7 8 9 10 11" "$(server_uids Work)"
check_eq "local: nothing deleted (10 + 1 new)" 11 "$(local_count Work)"
check_eq "every local file carries a new UID with the same content on the server" \
    "$(server_sums Work)" "$(local_sum Work)"
check_eq "the new server message arrived" "$new_sum" "$(local_sum Work | grep '^11 ')"
check_eq "no UID carried by two files" "" "$(dup_uids Work)"
inodes_after=$(find "$wd/cur" "$wd/new" -type f -printf '%i\n' | sort -n)
check_eq "the 10 old files are still there (same inodes): renamed, not rewritten" "" \
    "$(comm -23 <(printf '%s\n' "$inodes_before") <(printf '%s\n' "$inodes_after"))"
check_eq "the 10 old files keep their content" "" \
    "$(comm -23 <(printf '%s\n' "$sums_before") \
        <(find "$wd/cur" "$wd/new" -type f -exec sha256sum {} + | cut -d' ' -f1 | sort))"
uid4=""
for u in $(server_uids Work); do
    f=$(local_file Work "$u")
    [ -n "$f" ] && [ "$(key "$f")" = "$key4" ] && uid4=$u
done
check_eq "the local +F made meanwhile reached the server (old UID 4, now ${uid4:-none})" \
    '\Flagged \Seen' "$(server_flags Work "${uid4:-0}")"
check_eq "the server's +\Answered made meanwhile arrived (old UID 3, now 1)" RS "$(local_flags Work 1)"
check_eq "the old files keep their flags, plus the server's R on old UID 3" \
    "$(printf '%s\n' "$flags_before" | sed "s/^$key3:S\$/$key3:RS/")" \
    "$(for u in $(seq 1 10); do printf '%s:%s ' "$(key "$(local_file Work "$u")")" "$(local_flags Work "$u")"; done | tr ' ' '\n' | sort)"
check_eq "the local change kept locally" "$key4:FS" \
    "$(printf '%s:%s' "$(key "$(local_file Work "${uid4:-0}")")" "$(local_flags Work "${uid4:-0}")")"
check_eq "the twins (same Message-ID) are told apart by size" \
    "$(server_sums Work | grep -E '^(7|8) ')" "$(local_sum Work | grep -E '^(7|8) ')"

# And everything is in step: another sync does nothing.
srv=$(server_state)
loc=$(local_state)
dovecot_mark
nmsync_run sync
check_eq "second sync: exit 0" 0 "$NMS_RC"
check_eq "second sync: no body downloaded" 0 "$(bodies_since_mark)"
check_eq "second sync: the server is unchanged" "$srv" "$(server_state)"
check_eq "second sync: the Maildir is unchanged" "$loc" "$(local_state)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A server restored from a backup keeps the UIDVALIDITY but gives UIDs the state already knows
# to new messages (its UIDNEXT went back): nmsync pairs by content instead of trusting UIDs, so
# new server mail is downloaded, mail the server lost is uploaded back, and a later local
# deletion removes the right message on the server.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# ids SIDE: the Message-IDs of INBOX on the server or locally, sorted.
ids () {
    case "$1" in
        server) dv fetch hdr.message-id mailbox INBOX | grep -o '<[^>]*>' | sort ;;
        local) cat "$NMS_MAILDIR"/cur/* "$NMS_MAILDIR"/new/* 2>/dev/null |
            grep -i '^message-id:' | grep -o '<[^>]*>' | sort ;;
    esac | tr '\n' ' '
}

dovecot_start
dovecot_seed --flags '\Seen' INBOX 8
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
dovecot_stop
cp -a "$DOVECOT_MAILDIR" "$NMS_HOME/server-backup"
dovecot_restart
dovecot_seed --flags '\Seen' INBOX 3
nmsync_run sync
check_eq "the day's mail: exit 0" 0 "$NMS_RC"
lost=$(ids server)

# The server is restored from last night's backup; 2 new messages arrive and get UIDs 9, 10,
# which the state knows as two of the day's 3 messages.
dovecot_stop
rm -rf "$DOVECOT_MAILDIR"
cp -a "$NMS_HOME/server-backup" "$DOVECOT_MAILDIR"
dovecot_restart
dovecot_seed --flags '\Seen' INBOX 2
nmsync_run sync
check_eq "after the restore: exit 0" 0 "$NMS_RC"
check_match "after the restore: says the UIDs are not trusted" "UIDNEXT went back" "$(cat "$NMS_ERR")"
check_eq "after the restore: the 2 new server messages are downloaded" 13 "$(local_count INBOX)"
check_eq "after the restore: both sides hold the same 13 Message-IDs" "$(ids local)" "$(ids server)"
check_eq "after the restore: every Message-ID once on the server" "" \
    "$(dv fetch hdr.message-id mailbox INBOX | grep -o '<[^>]*>' | sort | uniq -d)"
check_eq "after the restore: what the server lost is back there" "" \
    "$(comm -23 <(echo "$lost" | tr ' ' '\n' | grep . | sort) <(ids server | tr ' ' '\n' | grep . | sort))"
check_eq "after the restore: local and server agree UID by UID" "" "$(agree_by_uid >/dev/null || echo differ)"

# The user deletes one message: exactly that one goes on the server.
victim=$(grep -il '^message-id: <[^>]*>' "$NMS_MAILDIR"/cur/* | head -n 1)
victim_id=$(grep -i '^message-id:' "$victim" | grep -o '<[^>]*>')
rm -f "$victim"
nmsync_run sync
check_eq "a local deletion: exit 0" 0 "$NMS_RC"
check_eq "a local deletion: exactly that message is gone on the server" \
    "$(ids local)" "$(ids server)"
check "a local deletion: the victim is gone on the server" \
    test -z "$(ids server | tr ' ' '\n' | grep -xF "$victim_id")"

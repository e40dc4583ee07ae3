#!/bin/bash
# The account-wide deletion guard: many small folders emptied at once (each under the
# per-folder guard's 10 messages) delete nothing on the other side, in this run or the next,
# until --force; named per folder; `max-deletions` sets the limit (a count or a percentage);
# both directions; -n predicts the same refusal.
# SPDX-License-Identifier: GPL-3.0-or-later
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 40
for i in 1 2 3 4 5 6 7 8; do
    dovecot_seed --flags '\Seen' "Box$i" 5
done
nmsync_setup_dovecot 'max-deletions = 12'
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
srv=$(server_state)

# 1. The files of 6 small folders are deleted locally: 30 deletions > 12.
for i in 1 2 3 4 5 6; do
    find "$(local_dir "Box$i")"/cur "$(local_dir "Box$i")"/new -type f -delete
done
loc=$(local_state)
nmsync_run -n sync
check_eq "-n: exit 1" 1 "$NMS_RC"
check_match "-n: names a folder and max-deletions" "folder 'Box3': not deleting 5 messages on the server.*max-deletions .12 of" \
    "$(cat "$NMS_ERR")"
check_eq "-n: plans no server deletion" "" "$(grep 'would delete on the server' "$NMS_ERR")"
for run in 1 2; do
    nmsync_run sync
    check_eq "run $run: exit 1" 1 "$NMS_RC"
    check_eq "run $run: every emptied folder is named" 6 \
        "$(grep -c "not deleting 5 messages on the server" "$NMS_ERR")"
    check_eq "run $run: the server is unchanged" "$srv" "$(server_state)"
    check_eq "run $run: the Maildir is unchanged" "$loc" "$(local_state)"
done

# 2. A limit that allows them (a percentage of the 80 messages: 50 % = 40 > 30).
sed -i 's/^max-deletions = .*/max-deletions = 50%/' "$NMS_CONFIG"
nmsync_run sync
check_eq "max-deletions = 50%: exit 0" 0 "$NMS_RC"
check_eq "max-deletions = 50%: the 30 are deleted on the server" 50 \
    "$(( $(imap_count INBOX) + $(for i in 1 2 3 4 5 6 7 8; do imap_count "Box$i"; done | paste -sd+ | bc) ))"

# 3. The other direction: the server expunges 2 folders plus part of INBOX (default limit:
#    200 or 2 % is above; set 5).
sed -i 's/^max-deletions = .*/max-deletions = 5/' "$NMS_CONFIG"
dv expunge mailbox Box7 all
dv expunge mailbox Box8 all
srv=$(server_state)
loc=$(local_state)
nmsync_run sync
check_eq "server emptied 2 folders: exit 1" 1 "$NMS_RC"
check_match "server emptied 2 folders: named" "folder 'Box7': not deleting 5 messages locally" "$(cat "$NMS_ERR")"
check_eq "server emptied 2 folders: the Maildir is unchanged" "$loc" "$(local_state)"
check_eq "server emptied 2 folders: the server is unchanged" "$srv" "$(server_state)"
nmsync_run --force sync
check_eq "--force: exit 0" 0 "$NMS_RC"
check_eq "--force: Box7 and Box8 are empty locally" "0 0" "$(local_count Box7) $(local_count Box8)"
check_mirror INBOX

# 4. Guards hold: 12 of 20 files deleted by accident trip the per-folder guard; new server
#    mail arriving before each run (so that 12 becomes less than half) does not make the
#    deletions pass by themselves; undoing the deletion releases the hold.
sed -i 's/^max-deletions = .*/max-deletions = 100/' "$NMS_CONFIG"
dovecot_seed --flags '\Seen' Decay 20
nmsync_run sync
check_eq "decay: initial sync exit 0" 0 "$NMS_RC"
decay=$(local_dir Decay)
mkdir -p "$NMS_HOME/decay-backup"
find "$decay/cur" -type f | sort | head -n 12 | xargs -I{} mv {} "$NMS_HOME/decay-backup/"
for run in 1 2 3 4 5; do
    dovecot_seed --flags '\Seen' Decay 2
    nmsync_run sync
    check_eq "decay run $run: exit 1" 1 "$NMS_RC"
    check_eq "decay run $run: the 12 are still on the server" $((20 + 2 * run)) "$(imap_count Decay)"
done
check_match "decay: says the guard holds from an earlier run" "held deletions in this folder back on an earlier run" \
    "$(cat "$NMS_ERR")"
mv "$NMS_HOME/decay-backup/"* "$decay/cur/"
nmsync_run sync
check_eq "decay, files restored: exit 0" 0 "$NMS_RC"
check_mirror Decay
find "$decay/cur" -type f | sort | head -n 1 | xargs rm
nmsync_run sync
check_eq "decay, then one deliberate deletion: exit 0 (the hold is gone)" 0 "$NMS_RC"
check_eq "decay, then one deliberate deletion: deleted on the server" 29 "$(imap_count Decay)"

# 5. A bad value is a config error naming the line.
sed -i 's/^max-deletions = .*/max-deletions = 12 messages/' "$NMS_CONFIG"
nmsync_run sync
check_eq "bad max-deletions: exit 2" 2 "$NMS_RC"
check_match "bad max-deletions: names the key" "config:[0-9]*: key .max-deletions." "$(cat "$NMS_ERR")"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Incremental pulls: server flag changes, new messages and expunges arrive; local flag changes
# and local deletions are kept; the mass-deletion guard holds until --force; folders gone from
# the server are reported and kept; --dry-run changes nothing.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 8
dovecot_seed Bulk 20
dovecot_seed Old 2
nmsync_setup_dovecot
nmsync_run pull
check_eq "first pull: exit 0" 0 "$NMS_RC"
check_eq "first pull: INBOX complete" 8 "$(local_count INBOX)"

# Changes on the server, and a local flag change not pushed yet.
dv flags add '\Flagged' mailbox INBOX uid 1
dv flags remove '\Seen' mailbox INBOX uid 2
dv flags add '\Answered' mailbox INBOX uid 3
dv expunge mailbox INBOX uid 4
dv flags add '\Flagged' mailbox INBOX uid 5
f5=$(local_file INBOX 5)
mv "$f5" "${f5%:2,*}:2,PS"               # local: forwarded, not yet pushed
rm "$(local_file INBOX 6)"               # local deletion, not yet pushed
dovecot_seed INBOX 3                     # three new messages: UIDs 9..11

# --dry-run first: prints the plan, changes nothing.
before=$(find "$NMS_MAILDIR" -printf '%p %s\n' | sort)
nmsync_run -n pull
check_eq "dry run: exit 0" 0 "$NMS_RC"
check_match "dry run: says it would download UID 9" "would download UID 9" "$(cat "$NMS_ERR")"
check_match "dry run: says it would delete UID 4 locally" "would delete locally UID 4" "$(cat "$NMS_ERR")"
check_eq "dry run: the Maildir is unchanged" "$before" "$(find "$NMS_MAILDIR" -printf '%p %s\n' | sort)"

dovecot_mark
nmsync_run -v pull
check_eq "incremental pull: exit 0" 0 "$NMS_RC"
check_eq "only the 3 new bodies were sent" 3 "$(bodies_since_mark)"
check_eq "server flag added arrives (UID 1: F)" FS "$(local_flags INBOX 1)"
check_eq "server flag removed arrives (UID 2: no S)" "" "$(local_flags INBOX 2)"
check_eq "UID 3: R added" RS "$(local_flags INBOX 3)"
check_eq "expunged on the server: deleted locally" "" "$(local_file INBOX 4)"
check_eq "local change kept, server change merged (UID 5)" FPS "$(local_flags INBOX 5)"
check_eq "locally deleted message not downloaded again" "" "$(local_file INBOX 6)"
for uid in 9 10 11; do
    check "new server message UID $uid arrived unseen in new/" \
        test "$(basename "$(dirname "$(local_file INBOX $uid)")")" = new
done
check_eq "new messages are byte-identical" "$(server_sum INBOX | grep -E '^(9|10|11) ')" \
    "$(local_sum INBOX | grep -E '^(9|10|11) ')"
check_match "-v: a line for INBOX" "test: INBOX: 3 new, 4 flags changed, 1 deleted" "$(cat "$NMS_ERR")"

# A third pull does nothing at all.
before=$(find "$NMS_MAILDIR" -printf '%p %s\n' | sort)
nmsync_run pull
check_eq "third pull: exit 0" 0 "$NMS_RC"
check_eq "third pull: nothing changed" "$before" "$(find "$NMS_MAILDIR" -printf '%p %s\n' | sort)"

# The mass-deletion guard: 15 of 20 expunged on the server.
dv expunge mailbox Bulk uid 1:15
nmsync_run pull
check_eq "mass deletion held back: exit 1" 1 "$NMS_RC"
check_match "mass deletion: the folder and the way out are named" "folder 'Bulk'.*--force" "$(cat "$NMS_ERR")"
check_eq "mass deletion: all 20 local files kept" 20 "$(local_count Bulk)"
nmsync_run --force pull
check_eq "--force: exit 0" 0 "$NMS_RC"
check_eq "--force: the 15 are deleted locally" 5 "$(local_count Bulk)"
check_mirror Bulk

# A folder deleted on the server is reported, and kept locally.
dv mailbox delete Old
nmsync_run pull
check_eq "folder gone from the server: exit 0" 0 "$NMS_RC"
check_match "folder gone from the server: reported" "'Old' is gone from the server" "$(cat "$NMS_ERR")"
check_eq "folder gone from the server: local copy kept" 2 "$(local_count Old)"

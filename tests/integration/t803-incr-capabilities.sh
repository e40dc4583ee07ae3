#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The t80x workload against servers with less: CONDSTORE without QRESYNC or LIST-STATUS
# (pipelined STATUS with HIGHESTMODSEQ: unchanged folders are skipped, changed ones fetched in
# full), and a plain IMAP4rev1 server (nothing proves a folder unchanged: every folder is
# selected, every time). Both converge.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/incremental.sh"

DOVECOT_RAWLOG=1
ALL_FOLDERS="A Archive B C D E INBOX Junk Sent Trash Two Words"

# ---- CONDSTORE only ----
DOVECOT_CAPABILITY="IMAP4rev1 SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE MOVE SPECIAL-USE LITERAL+"
dovecot_start
incr_setup
rawlog_mark
nmsync_run sync
check_eq "condstore: no-change sync: exit 0" 0 "$NMS_RC"
check_eq "condstore: no ENABLE QRESYNC" 0 "$(rawlog_commands | grep -c '^ENABLE')"
check_eq "condstore: a plain LIST" 'LIST "" "*"' "$(rawlog_commands | grep '^LIST ')"
check_eq "condstore: one STATUS with HIGHESTMODSEQ per folder" 11 \
    "$(rawlog_commands | grep -cE '^STATUS .* \(UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ\)$')"
check_eq "condstore: no folder selected" "" "$(selected_folders)"
incr_change
rawlog_mark
nmsync_run sync
check_eq "condstore: sync after changes: exit 0" 0 "$NMS_RC"
check_eq "condstore: only the changed folders are selected" "A B C D" "$(selected_folders)"
check_eq "condstore: their flags are fetched in full" 4 "$(fetch_all_count)"
incr_check_converged
dovecot_stop

# ---- plain IMAP4rev1 ----
DOVECOT_CAPABILITY="IMAP4rev1 SASL-IR ID IDLE NAMESPACE UIDPLUS MOVE LITERAL+"
dovecot_start
incr_setup
srv_before=$(server_state)
loc_before=$(local_state)
rawlog_mark
nmsync_run sync
check_eq "plain: no-change sync: exit 0" 0 "$NMS_RC"
check_eq "plain: no STATUS at all (without CONDSTORE it could prove nothing)" 0 \
    "$(rawlog_commands | grep -cE '^STATUS ')"
check_eq "plain: every folder is selected (nothing proves it unchanged)" "$ALL_FOLDERS" \
    "$(selected_folders)"
check_eq "plain: the server is unchanged" "$srv_before" "$(server_state)"
check_eq "plain: the Maildir is unchanged" "$loc_before" "$(local_state)"
incr_change
rawlog_mark
nmsync_run sync
check_eq "plain: sync after changes: exit 0" 0 "$NMS_RC"
check_eq "plain: every folder is selected" "$ALL_FOLDERS" "$(selected_folders)"
incr_check_converged
incr_settle
rawlog_mark
nmsync_run sync
check_eq "plain: still every folder is selected" "$ALL_FOLDERS" "$(selected_folders)"

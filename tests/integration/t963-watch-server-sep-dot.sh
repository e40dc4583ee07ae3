#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The server event source of nmsync watch on a Dovecot whose hierarchy separator is "." (its
# default for Maildir storage): folder names in events are nmsync's ("Archive/2024", '/'
# between levels), on the NOTIFY path (pushed STATUS) and on the IDLE path (the watched folder
# and the sweep), also for a non-ASCII name (modified UTF-7 on the wire).
. "$NMSYNC_TESTLIB/tap.sh"
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/watch.sh"

DOVECOT_SEPARATOR=.
dovecot_start
dovecot_seed Archive/2024 1
dovecot_seed "Entwürfe/alt" 1
check "the server's own names use '.'" eval 'dv mailbox list | grep -qx "Archive.2024"'
nmsync_setup_dovecot 'watch-interval = 3600'

probe_start
check "NOTIFY path: connected" probe_wait_lines 10 '^UP$' '^SWEEP$'
dovecot_seed Archive/2024 1
check "NOTIFY path: FOLDER Archive/2024" probe_wait 10 probe_has 'FOLDER Archive/2024'
dovecot_seed "Entwürfe/alt" 1
check "NOTIFY path: FOLDER Entwürfe/alt (decoded)" probe_wait 10 probe_has 'FOLDER Entwürfe/alt'
check_eq "no name with the server's separator" "" "$(probe_lines | grep -F 'Archive.2024')"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"

# The IDLE path: another instance without NOTIFY.
DOVECOT_CAPABILITY="IMAP4rev1 SASL-IR ID ENABLE IDLE NAMESPACE UIDPLUS LIST-EXTENDED CONDSTORE LIST-STATUS MOVE SPECIAL-USE LITERAL+"
DOVECOT_RAWLOG=1
dovecot_start
dovecot_seed Archive/2024 1
dovecot_seed "Entwürfe/alt" 1
nmsync_setup_dovecot 'watch-interval = 2' 'watch-folders = Archive/*'
rawlog_mark
probe_start
check "IDLE path: connected" probe_wait_lines 10 '^UP$' '^SWEEP$'
check "IDLE path: INBOX and Archive.2024 examined (the server's name), no NOTIFY" probe_wait 10 \
    eval '[ "$(rawlog_commands | grep -Ec "^EXAMINE \"?(INBOX|Archive\.2024)\"?$")" = 2 ] && ! rawlog_commands | grep -q "^NOTIFY"'
probe_mark
dovecot_seed Archive/2024 1
check "IDLE path (watch-folders = Archive/*): FOLDER Archive/2024" \
    probe_wait 10 probe_has_since 'FOLDER Archive/2024'
dovecot_seed "Entwürfe/alt" 1
check "IDLE path, sweep: FOLDER Entwürfe/alt" probe_wait 10 probe_has_since 'FOLDER Entwürfe/alt'
check_eq "no DOWN" "" "$(probe_lines | grep '^DOWN')"
probe_stop
check_eq "SIGTERM: exit 0" "0" "$PROBE_RC"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync status`: per account the last successful sync, the last failure's message, the
# pending intents, and per folder the counts from the state. Shown after a sync, after a sync
# that failed (server down: its message shown, the last success kept), and with an intent a
# crash left (NMSYNC_TEST_CRASH_AFTER); no network and no lock (it answers while another
# process holds the account lock); --json is one valid object per account.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed INBOX 3
nmsync_setup_dovecot

nmsync_run status
check_eq "status before any sync: exit 0" 0 "$NMS_RC"
check_match "status before any sync: never synced" "never synced" "$(cat "$NMS_OUT")"

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
nmsync_run status
check_eq "status: exit 0" 0 "$NMS_RC"
out=$(cat "$NMS_OUT")
check_match "status: the last sync's time" "last-sync +20[0-9-]+T[0-9:]+Z" "$out"
check_eq "status: no error yet" "" "$(grep last-error "$NMS_OUT")"
check_match "status: INBOX 3 messages, no intent" "INBOX +3 +0" "$out"
check_match "status: no intents" "intents +0" "$out"
last_ok=$(awk '$1 == "last-sync" { print $2 }' "$NMS_OUT")

dovecot_stop
sleep 1
nmsync_run sync
check_eq "sync with the server down: exit 3" 3 "$NMS_RC"
nmsync_run status
check_eq "status after the failure: exit 0" 0 "$NMS_RC"
check_match "status: the failure's message" "last-error +20[0-9-]+T[0-9:]+Z .*(connect|refused)" "$(cat "$NMS_OUT")"
check_eq "status: the last success kept" "$last_ok" "$(awk '$1 == "last-sync" { print $2 }' "$NMS_OUT")"

dovecot_restart
mail_file "$NMS_MAILDIR/cur/1700000001.M1P1.host:2,S" up1
NMSYNC_TEST_CRASH_AFTER=1 nmsync_run sync
check "the crashed sync was killed" test "$NMS_RC" -ne 0
nmsync_run status
check_match "status: the pending intent" "INBOX +3 +1" "$(cat "$NMS_OUT")"
check_match "status: one intent in all" "intents +1" "$(cat "$NMS_OUT")"
nmsync_run --json status
check "status --json: valid JSON" python3 -m json.tool "$NMS_OUT"
check_eq "status --json: INBOX's intent" 1 \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([f["intents"] for f in d["folders"] if f["folder"]=="INBOX"][0])' "$NMS_OUT")"

# No lock: status answers while another process holds the account's lock.
exec {lockfd}>>"$NMS_STATE/test.lock"
flock "$lockfd"
NMSYNC_LOCK_WAIT=0 nmsync_run status
check_eq "status under another's lock: exit 0" 0 "$NMS_RC"
exec {lockfd}>&-

nmsync_run sync
check_eq "sync after the crash: exit 0" 0 "$NMS_RC"
nmsync_run status
check_match "status: the intent done, 4 messages" "INBOX +4 +0" "$(cat "$NMS_OUT")"
check "status: a newer last sync" test "$(awk '$1 == "last-sync" { print $2 }' "$NMS_OUT")" ">" "$last_ok" -o \
    "$(awk '$1 == "last-sync" { print $2 }' "$NMS_OUT")" = "$last_ok"
check_eq "server: up1 uploaded once" 1 "$(dv search mailbox INBOX header message-id up1@nmsync.test | wc -l)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# --trace (and -vvv): the IMAP conversation on stderr, one line per protocol line, each prefixed
# with the account and the connection number; the password (LOGIN) and literal bodies (APPEND
# data, FETCH BODY[] literals, shown as "{N bytes}") never appear. Without it, no trace.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

T=$(tap_tmpdir)
dovecot_start
mail_file "$T/down.eml" downbodymarker
dovecot_seed INBOX "$T/down.eml" 2
nmsync_setup_dovecot

nmsync_run --trace pull
check_eq "--trace pull: exit 0" 0 "$NMS_RC"
check_eq "--trace pull: the messages arrived" 3 "$(local_count INBOX)"
check_match "the greeting, from the server, on connection 1" "^test#1 S: \* (OK|PREAUTH)" "$(cat "$NMS_ERR")"
check_match "LOGIN is shown" "^test#1 C: [A-Za-z0-9]+ LOGIN " "$(cat "$NMS_ERR")"
check_match "the fetch is shown" "^test#[0-9]+ C: [A-Za-z0-9]+ UID FETCH " "$(cat "$NMS_ERR")"
check_match "a body literal is elided as {N bytes}" "\{[0-9]+ bytes\}" "$(cat "$NMS_ERR")"
check "the password never appears" bash -c "! grep -q -- '$DOVECOT_PASSWORD' '$NMS_ERR' '$NMS_OUT'"
check "no message body appears" bash -c "! grep -qi 'downbodymarker' '$NMS_ERR'"
check "every trace line carries account#connection" \
    bash -c "! grep -E ' [CS]: ' '$NMS_ERR' | grep -vqE '^test#[0-9]+ [CS]: '"
check "nothing of the trace on stdout" bash -c "! grep -qE '^test#' '$NMS_OUT'"

inbox=$(local_dir INBOX)
mail_file "$inbox/cur/1711000001.M1P1.writer:2,S" upbodymarker
nmsync_run -vvv push
check_eq "-vvv push: exit 0" 0 "$NMS_RC"
check_eq "-vvv push: uploaded" 4 "$(imap_count INBOX)"
check_match "-vvv: APPEND is shown" "^test#[0-9]+ C: [A-Za-z0-9]+ APPEND " "$(cat "$NMS_ERR")"
check_match "-vvv: its literal is elided" "^test#[0-9]+ C: \{[0-9]+ bytes\}" "$(cat "$NMS_ERR")"
check "-vvv: the uploaded body never appears" bash -c "! grep -qi 'upbodymarker' '$NMS_ERR'"
check "-vvv: the password never appears" bash -c "! grep -q -- '$DOVECOT_PASSWORD' '$NMS_ERR'"

dovecot_seed INBOX 1
nmsync_run -vv pull
check_eq "-vv pull: exit 0" 0 "$NMS_RC"
check "-vv: no trace" bash -c "! grep -qE '^test#[0-9]+ [CS]: ' '$NMS_ERR'"

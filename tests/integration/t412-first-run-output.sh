#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The rough edges a new user hits first. An empty config, or one without any [account], is a
# usage error (exit 2) for every command and creates nothing (no state directory). A first
# sync with a notmuch config but no database yet creates the database, says so at normal
# verbosity, and indexes what it downloaded (before: "not indexing", at -v only, and nothing
# indexed). A sync that changed nothing prints no summary line at normal verbosity (the line
# is back at -v); a one-folder run says "1 folder", not "1 folders".
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
T=$(tap_tmpdir)

# --- empty and account-less configs ---
: >"$T/empty"
printf '[general]\nstate = %s/state-b\n' "$T" >"$T/no-account"
for cfg in empty no-account; do
    for cmd in sync pull apply rules; do
        rc=0
        XDG_STATE_HOME=$T/xdg-state HOME=$T/home timeout 30 "$NMSYNC" -c "$T/$cfg" "$cmd" \
            </dev/null >"$T/out" 2>"$T/err" || rc=$?
        check_eq "$cfg config, $cmd: exit 2" 2 "$rc"
        check_match "$cfg config, $cmd: says there is no account" "no \[account NAME\] section" "$(cat "$T/err")"
    done
done
check "nothing was created (no state directory)" test ! -e "$T/xdg-state" -a ! -e "$T/state-b" -a ! -e "$T/home"

# --- first sync: notmuch config, no database ---
dovecot_start
mail_file "$T/f1.eml" first1
mail_file "$T/f2.eml" first2
dovecot_seed INBOX "$T/f1.eml" "$T/f2.eml"
nmsync_setup_dovecot
# The Maildir (the database's path) does not exist yet either: the sync makes both.
printf '[database]\npath=%s\n[new]\ntags=unread;inbox\nignore=maildirfolder;.nmsync-maildir\n' \
    "$NMS_MAILDIR" >"$NOTMUCH_CONFIG"
nmsync_run sync
check_eq "first sync without a notmuch database: exit 0" 0 "$NMS_RC"
check_match "it says it created the database" "created a new database" "$(cat "$NMS_ERR")"
check_eq "both messages are indexed" 2 "$(notmuch count 'id:first1@nmsync.test or id:first2@nmsync.test')"
check_match "notmuch new has nothing left to do" "No new mail" "$(notmuch new 2>&1)"

# --- quiet when nothing happened ---
nmsync_run sync
check_eq "no-change sync: exit 0" 0 "$NMS_RC"
check_eq "no-change sync: no summary line" "" "$(cat "$NMS_OUT")"
check_eq "no-change sync: nothing on stderr" "" "$(cat "$NMS_ERR")"
nmsync_run -v sync
check_match "no-change sync at -v: the summary line" "^test: 0 new" "$(cat "$NMS_OUT")"
mail_file "$T/f3.eml" first3
dovecot_seed INBOX "$T/f3.eml"
nmsync_run pull test/INBOX
check_match "one folder: '1 folder', and a summary since something arrived" "^test: 1 new .* 1 folder in" "$(cat "$NMS_OUT")"
check "nowhere '1 folders'" bash -c "! grep -h '1 folders' '$NMS_OUT' '$NMS_ERR'"

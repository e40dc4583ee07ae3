#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The spam round trip with no `nmsync apply` anywhere: only hooks/pre-new installed in
# notmuch's hook directory (its `nmsync sync` is the whole pipeline), `notmuch tag +spam` then
# `notmuch new` puts the message into the server's junk folder (same Dovecot GUID, nothing
# transferred), and "not spam" then `notmuch new` brings it back to INBOX. The same with the
# command systemd/nmsync.service runs (its ExecStart, taken from the unit file; the unit has
# no ExecStartPost), and `systemd-analyze verify` accepts the units when it is installed.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

SRCDIR=${NMSYNC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
mail_file "$T/a.eml" hookpipe-a
mail_file "$T/b.eml" hookpipe-b
dovecot_seed INBOX "$T/a.eml" "$T/b.eml"
nmsync_setup_dovecot
export NOTMUCH_CONFIG=$T/notmuch-config
sed -i "s|^\[general\]\$|[general]\nrules = $SRCDIR/rules/default.rules;$SRCDIR/rules/spam.rules\nnotmuch-config = $NOTMUCH_CONFIG|" "$NMS_CONFIG"
HOOKS=$T/hooks
mkdir -p "$HOOKS" "$NMS_MAILDIR"
ln -s "$SRCDIR/hooks/pre-new" "$HOOKS/pre-new"
cat >"$NOTMUCH_CONFIG" <<NMC
[database]
path=$NMS_MAILDIR
hook_dir=$HOOKS
[new]
tags=unread;inbox;
ignore=maildirfolder;.nmsync-maildir
[maildir]
synchronize_flags=true
NMC
BIN=$T/bin
mkdir -p "$BIN"
ln -s "$NMSYNC" "$BIN/nmsync"
export PATH="$BIN:$PATH"
export NMSYNC_HOOK_ARGS="-c $NMS_CONFIG"
export NMSYNC_HOOK_LOG=$T/hook.log
unset NMSYNC_IN_HOOK

guid_of () { dv fetch guid mailbox "$1" header message-id "<$2@nmsync.test>" | sed -n 's/^guid: //p'; }
server_has () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | grep -c .; }
tags_of () { notmuch search --output=tags "id:$1@nmsync.test" | LC_ALL=C sort | paste -sd' ' -; }
nm_new () {
    NEW_RC=0
    timeout 120 notmuch new </dev/null >"$T/new.out" 2>&1 || NEW_RC=$?
    [ "$NEW_RC" -eq 0 ] || diag "notmuch new exited $NEW_RC:" "$(cat "$T/new.out")"
}

check "an empty notmuch database (notmuch new --no-hooks)" notmuch new --no-hooks
nm_new
check_eq "notmuch new: exit 0" 0 "$NEW_RC"
check_eq "the server's mail is indexed" 2 "$(notmuch count 'id:hookpipe-a@nmsync.test or id:hookpipe-b@nmsync.test')"
guid=$(guid_of INBOX hookpipe-a)

notmuch tag +spam -- id:hookpipe-a@nmsync.test
dovecot_mark
nm_new
check_eq "spam: notmuch new: exit 0" 0 "$NEW_RC"
check_eq "spam: the server's Junk has it" 1 "$(server_has Junk hookpipe-a)"
check_eq "spam: the server's INBOX no longer has it" 0 "$(server_has INBOX hookpipe-a)"
check_eq "spam: the same message (GUID)" "$guid" "$(guid_of Junk hookpipe-a)"
check_eq "spam: no body was downloaded" 0 "$(bodies_since_mark)"
check_eq "spam: tags per spam.rules" "spam" "$(tags_of hookpipe-a)"

notmuch tag -spam +inbox -- id:hookpipe-a@nmsync.test
nm_new
check_eq "not spam: notmuch new: exit 0" 0 "$NEW_RC"
check_eq "not spam: back in the server's INBOX" 1 "$(server_has INBOX hookpipe-a)"
check_eq "not spam: the same message (GUID)" "$guid" "$(guid_of INBOX hookpipe-a)"
check_eq "no hook ran nmsync apply" 0 "$(grep -c ' apply' "$NMSYNC_HOOK_LOG")"

# The systemd unit's command, as systemd would run it (nmsync from PATH, config from the
# environment).
UNIT=$SRCDIR/systemd/nmsync.service
check_eq "the unit runs no apply (no ExecStartPost)" 0 "$(grep -c '^ExecStartPost' "$UNIT")"
exec_start=$(sed -n 's/^ExecStart=//p' "$UNIT")
check_match "the unit's ExecStart is nmsync sync" 'nmsync sync$' "$exec_start"
notmuch tag +spam -- id:hookpipe-b@nmsync.test
rc=0
# shellcheck disable=SC2086
NMSYNC_CONFIG=$NMS_CONFIG timeout 120 $exec_start </dev/null >"$T/unit.out" 2>&1 || rc=$?
check_eq "unit command: exit 0" 0 "$rc"
check_eq "unit command: the server's Junk has the message tagged spam" 1 "$(server_has Junk hookpipe-b)"

# A user manager may not run here (CI, containers): the system manager's check reads the same
# unit syntax.
if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze verify: no complaints" "systemd-analyze is not installed"
elif out=$(cd "$SRCDIR/systemd" && systemd-analyze verify --man=no ./nmsync.service ./nmsync.timer 2>&1) ||
    ! printf '%s' "$out" | grep -q 'Failed to initialize manager'; then
    check_eq "systemd-analyze verify: no complaints" "" "$out"
else
    skip "systemd-analyze verify: no complaints" "systemd-analyze cannot start a manager here"
fi

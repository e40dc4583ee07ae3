#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# hooks/pre-new and hooks/post-new, installed (symlinked) in notmuch's hook_dir, with a notmuch
# database whose path is the nmsync Maildir: `notmuch new` syncs first (pre-new: new server mail
# is on disk and indexed), then applies the rules (post-new: a message in the server's Junk
# gets +spam -inbox from spam.rules). Each hook runs once per `notmuch new`; a `notmuch new` run
# from inside a hook does not start the hooks again (NMSYNC_IN_HOOK). Offline (Dovecot stopped)
# or with the account locked, `notmuch new` still indexes local mail, with a warning; a config
# error aborts it, saying why.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

SRCDIR=${NMSYNC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
command -v flock >/dev/null 2>&1 || skip_all "flock (util-linux) is not installed"

# Does this nmsync have the apply command? (Checked before the config is read.)
if "$NMSYNC" -c /nonexistent/config apply 2>&1 </dev/null | grep -q "unknown command"; then
    have_apply=0
    no_apply="nmsync has no 'apply' command yet"
else
    have_apply=1
fi

T=$(tap_tmpdir)
dovecot_start
mail_file "$T/seed-inbox1" hook-inbox1
mail_file "$T/seed-junk1" hook-junk1
dovecot_seed INBOX "$T/seed-inbox1"
dovecot_seed Junk "$T/seed-junk1"
nmsync_setup_dovecot

RULES=$SRCDIR/rules/spam.rules
if [ ! -f "$RULES" ]; then
    RULES=$T/spam.rules
    printf '[folder \\Junk]\nmatch = tag:spam\ntags = +spam -inbox -unread\n' >"$RULES"
    diag "rules/spam.rules is not in the tree yet; using the contract's text"
fi
export NOTMUCH_CONFIG=$T/notmuch-config
sed -i "s|^\[general\]\$|[general]\nrules = $RULES\nnotmuch-config = $NOTMUCH_CONFIG|" "$NMS_CONFIG"

# The hooks as a user installs them: symlinks in the hook dir. post-new runs `nmsync apply`;
# without that command it would fail every `notmuch new`, so it is installed only with it.
HOOKS=$T/hooks
mkdir -p "$HOOKS" "$NMS_MAILDIR"
ln -s "$SRCDIR/hooks/pre-new" "$HOOKS/pre-new"
if [ "$have_apply" = 1 ]; then
    ln -s "$SRCDIR/hooks/post-new" "$HOOKS/post-new"
fi
cat >"$NOTMUCH_CONFIG" <<NMC
[database]
path=$NMS_MAILDIR
hook_dir=$HOOKS
[user]
name=Test User
primary_email=test@example.org
[new]
tags=unread;inbox;
ignore=
[search]
exclude_tags=
[maildir]
synchronize_flags=true
NMC

# `nmsync` on PATH is the binary under test; the hooks get the config through NMSYNC_HOOK_ARGS
# and log to NMSYNC_HOOK_LOG.
BIN=$T/bin
mkdir -p "$BIN"
ln -s "$NMSYNC" "$BIN/nmsync"
export PATH="$BIN:$PATH"
export NMSYNC_HOOK_ARGS="-c $NMS_CONFIG"
export NMSYNC_HOOK_LOG=$T/hook.log
unset NMSYNC_IN_HOOK
: >"$NMSYNC_HOOK_LOG"

# log_since MARK PATTERN: lines of the hook log after line MARK matching PATTERN (ERE), counted.
log_mark () { wc -l <"$NMSYNC_HOOK_LOG"; }
log_count () { tail -n +"$(($1 + 1))" "$NMSYNC_HOOK_LOG" | grep -Ec -- "$2"; }
count () { notmuch count -- "$@"; }
tags_of () { notmuch search --output=tags "id:$1@nmsync.test" | LC_ALL=C sort | paste -sd' ' -; }
# nm_new: `notmuch new`, stdout+stderr in $T/new.out, exit status in NEW_RC.
nm_new () {
    NEW_RC=0
    timeout 120 notmuch new </dev/null >"$T/new.out" 2>&1 || NEW_RC=$?
    [ "$NEW_RC" -eq 0 ] || diag "notmuch new exited $NEW_RC:" "$(cat "$T/new.out")"
}

check "an empty notmuch database (notmuch new --no-hooks)" notmuch new --no-hooks
check_eq "--no-hooks ran no hook" 0 "$(log_mark)"

# (1) notmuch new with the hooks: the server's mail arrives, is indexed, and the rules ran.
mark=$(log_mark)
nm_new
check_eq "notmuch new: exit 0" 0 "$NEW_RC"
check_eq "pre-new ran nmsync sync once" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync -c .* sync\$")"
check_eq "pre-new: nmsync sync exited 0" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync sync exited 0\$")"
check_match "the INBOX message is on disk" '/cur/|/new/' "$(local_file INBOX 1)"
check_match "the Junk message is on disk" '/cur/|/new/' "$(local_file Junk 1)"
check_eq "the INBOX message is indexed" 1 "$(count id:hook-inbox1@nmsync.test)"
check_eq "the Junk message is indexed" 1 "$(count id:hook-junk1@nmsync.test)"
check_eq "the INBOX message is tagged inbox unread" "inbox unread" "$(tags_of hook-inbox1)"
if [ "$have_apply" = 1 ]; then
    check_eq "post-new ran nmsync apply once" 1 "$(log_count "$mark" "post-new\[[0-9]+\]: nmsync -c .* apply\$")"
    check_eq "post-new: nmsync apply exited 0" 1 "$(log_count "$mark" "post-new\[[0-9]+\]: nmsync apply exited 0\$")"
    check_eq "the Junk message is tagged per spam.rules: +spam -inbox -unread" "spam" "$(tags_of hook-junk1)"
else
    for d in "post-new ran nmsync apply once" "post-new: nmsync apply exited 0" \
        "the Junk message is tagged per spam.rules: +spam -inbox -unread"; do
        skip "$d" "$no_apply"
    done
fi

# (2) a second notmuch new: the next server message arrives; each hook ran once, no recursion.
mail_file "$T/seed-inbox2" hook-inbox2
dovecot_seed INBOX "$T/seed-inbox2"
mark=$(log_mark)
nm_new
check_eq "second notmuch new: exit 0" 0 "$NEW_RC"
check_eq "second notmuch new: the new server message is indexed" 1 "$(count id:hook-inbox2@nmsync.test)"
check_eq "second notmuch new: pre-new ran once" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync -c .* sync\$")"
check_eq "second notmuch new: post-new ran $have_apply time(s)" "$have_apply" \
    "$(log_count "$mark" "post-new\[[0-9]+\]: nmsync -c .* apply\$")"
check_eq "second notmuch new: no hook was skipped (none nested)" 0 "$(log_count "$mark" "skipped")"

# (3) an nmsync that itself runs `notmuch new` (as a future one might): the nested notmuch new
# runs its hooks, and they find NMSYNC_IN_HOOK=1 and do nothing.
cat >"$T/nmsync-nesting" <<SH
#!/bin/sh
notmuch new >>"$T/nested.out" 2>&1
echo "nested notmuch new exited \$? NMSYNC_IN_HOOK=\$NMSYNC_IN_HOOK" >>"$T/nested.out"
exec "$NMSYNC" "\$@"
SH
chmod +x "$T/nmsync-nesting"
ln -sf "$T/nmsync-nesting" "$BIN/nmsync"
mark=$(log_mark)
nm_new
ln -sf "$NMSYNC" "$BIN/nmsync"
check_eq "nesting: notmuch new: exit 0" 0 "$NEW_RC"
check_eq "nesting: the nested notmuch new ran, with NMSYNC_IN_HOOK=1, and succeeded" \
    "$(printf 'nested notmuch new exited 0 NMSYNC_IN_HOOK=1\n%.0s' $(seq 1 $((1 + have_apply))))" \
    "$(grep '^nested' "$T/nested.out")"
check_eq "nesting: pre-new ran nmsync sync once" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync -c .* sync\$")"
check_eq "nesting: the nested pre-new was skipped" "$((1 + have_apply))" \
    "$(log_count "$mark" "pre-new\[[0-9]+\]: skipped: already inside an nmsync hook")"
if [ "$have_apply" = 1 ]; then
    check_eq "nesting: post-new ran nmsync apply once" 1 "$(log_count "$mark" "post-new\[[0-9]+\]: nmsync -c .* apply\$")"
    check_eq "nesting: the nested post-new was skipped" 2 \
        "$(log_count "$mark" "post-new\[[0-9]+\]: skipped: already inside an nmsync hook")"
else
    skip "nesting: post-new ran nmsync apply once" "$no_apply"
    skip "nesting: the nested post-new was skipped" "$no_apply"
fi

# (4) the account locked by another nmsync: a warning, local mail indexed.
# One process (a shell that becomes sleep) holds the flock: killing it releases the lock.
mkdir -p "$NMS_STATE"
# shellcheck disable=SC2016
tap_spawn sh -c 'exec 9>>"$1" && flock 9 && exec sleep 120' sh "$NMS_STATE/test.lock"
locker=$TAP_SPAWN_PID
wait_for "the lock to be held" 10 sh -c "! flock -n '$NMS_STATE/test.lock' true"
mail_file "$NMS_MAILDIR/new/1700000101.M1P1.local1" hook-local1
mark=$(log_mark)
nm_new
check_eq "locked: notmuch new: exit 0" 0 "$NEW_RC"
check_eq "locked: nmsync sync exited 4" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync sync exited 4\$")"
check_match "locked: a one-line warning" '^nmsync pre-new hook: another nmsync is syncing this account' \
    "$(cat "$T/new.out")"
check_eq "locked: the local message is indexed" 1 "$(count id:hook-local1@nmsync.test)"
tap_kill "$locker"
check "the lock is free again" flock -n "$NMS_STATE/test.lock" true

# (5) offline: Dovecot stopped. A warning, exit 0, local mail indexed.
dovecot_stop
mail_file "$NMS_MAILDIR/new/1700000102.M2P1.local2" hook-local2
mark=$(log_mark)
nm_new
check_eq "offline: notmuch new: exit 0" 0 "$NEW_RC"
check_eq "offline: nmsync sync exited 3" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync sync exited 3\$")"
check_match "offline: a one-line warning" '^nmsync pre-new hook: cannot reach the IMAP server' "$(cat "$T/new.out")"
check_eq "offline: the local message is indexed" 1 "$(count id:hook-local2@nmsync.test)"

# (6) a config error: notmuch new aborts, saying why; nothing is indexed.
mail_file "$NMS_MAILDIR/new/1700000103.M3P1.local3" hook-local3
mark=$(log_mark)
NMSYNC_HOOK_ARGS="-c $T/no-such-config" nm_new
check "config error: notmuch new fails" test "$NEW_RC" -ne 0
check_eq "config error: nmsync sync exited 2" 1 "$(log_count "$mark" "pre-new\[[0-9]+\]: nmsync sync exited 2\$")"
check_match "config error: the hook says why" '^nmsync pre-new hook: nmsync sync failed with a usage or config error' \
    "$(cat "$T/new.out")"
check_match "config error: notmuch names the failed hook" 'pre-new hook failed' "$(cat "$T/new.out")"
check_eq "config error: the local message is not indexed" 0 "$(count id:hook-local3@nmsync.test)"
check "config error: notmuch new --no-hooks indexes it" notmuch new --no-hooks
check_eq "config error: then it is indexed" 1 "$(count id:hook-local3@nmsync.test)"

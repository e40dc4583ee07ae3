#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The marker files nmsync writes (maildirfolder in each Maildir++ subfolder, .nmsync-maildir in
# the root) are not mail: with a notmuch config whose new.ignore lacks them, `notmuch new` says
# "Ignoring non-mail file" for each. The first sync (the one that creates the database) says
# so at normal verbosity with the exact command to fix it; after that command `notmuch new` is
# quiet. With new.ignore set, nothing is said.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
dovecot_start
dovecot_seed INBOX 2
dovecot_seed Archive 1
nmsync_setup_dovecot
# What `notmuch setup` writes: an empty ignore list.
printf '[database]\npath=%s\n[new]\ntags=unread;inbox\nignore=*.bak\n' "$NMS_MAILDIR" >"$NOTMUCH_CONFIG"
nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check "the subfolders carry maildirfolder" test -e "$(local_dir Archive)/maildirfolder"
check_match "it says what notmuch new would complain about" \
    "new.ignore .*maildirfolder" "$(cat "$NMS_ERR")"
cmd=$(sed -n "s/.*run: \(notmuch config set new.ignore .*\)$/\1/p" "$NMS_ERR" | head -n 1)
check_match "with the command that fixes it" "^notmuch config set new.ignore " "$cmd"
check_match "the command keeps what new.ignore held" "\*\.bak" "$cmd"
eval "$cmd"
check_eq "after it: notmuch new reports no non-mail file" "" \
    "$(touch "$(local_dir Archive)" "$NMS_MAILDIR"; notmuch new 2>&1 | grep -i 'non-mail')"
check_eq "the messages are indexed" 3 "$(notmuch count '*')"

dovecot_seed INBOX 1
nmsync_run sync
check_eq "next sync: exit 0" 0 "$NMS_RC"
check "new.ignore set: nothing said about it" bash -c "! grep -q 'new.ignore' '$NMS_ERR'"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# libnotmuch is loaded only when a run needs it, so a libnotmuch that cannot be loaded (here: a
# broken libnotmuch.so.5 first on LD_LIBRARY_PATH) is no error for a run without notmuch, and
# for one with notmuch a clear one naming the library: the sync still downloads (exit 1, the
# indexing skipped and said), the rules stage says it did not run, and nothing is lost: the
# files are in place, and once the library loads again the next `notmuch new` (or what the next
# sync indexes) has every message.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

broken=$(tap_tmpdir)
printf 'this is not a shared library\n' >"$broken/libnotmuch.so.5"

dovecot_start
dovecot_seed INBOX 2
nmsync_setup_dovecot

LD_LIBRARY_PATH=$broken nmsync_run sync
check_eq "without notmuch config, a broken libnotmuch is no error: exit 0" 0 "$NMS_RC"
check_eq "everything downloaded" 2 "$(local_count INBOX)"
check_eq "nothing said about libnotmuch" "" "$(grep -i 'libnotmuch' "$NMS_ERR")"

nmsync_notmuch
nmsync_rules default.rules
dovecot_seed INBOX 1
LD_LIBRARY_PATH=$broken nmsync_run sync
check_eq "with notmuch, a broken libnotmuch: exit 1 (skipped, not failed)" 1 "$NMS_RC"
check_eq "the new message is downloaded all the same" 3 "$(local_count INBOX)"
check_match "the error names the library" "cannot load libnotmuch\.so\.5" "$(cat "$NMS_ERR")"
check_match "and says the files are in place" "files are in place" "$(cat "$NMS_ERR")"
check_match "the rules stage says it did not run, naming the library" \
    "rules not run: cannot load libnotmuch\.so\.5" "$(cat "$NMS_ERR")"

LD_LIBRARY_PATH=$broken nmsync_run apply
check_eq "apply with a broken libnotmuch: exit status 2 or more" 1 "$((NMS_RC >= 2))"
check_match "apply names the library" "cannot load libnotmuch\.so\.5" "$(cat "$NMS_ERR")"

check_eq "before notmuch new: the message is not indexed yet" 2 "$(notmuch count '*')"
notmuch new >/dev/null
check_eq "nothing lost: notmuch new indexes it" 3 "$(notmuch count '*')"
nmsync_run sync
check_eq "with the library back: exit 0" 0 "$NMS_RC"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The whole spam workflow, end to end: a message synced from a private Dovecot, the spam key
# (J) pressed in a notmuch search buffer in Emacs (the ERT test t602-spam-search of
# tests/emacs/t602-nmsync-spam.el), `nmsync apply` run by nmsync.el in the background, then
# `nmsync sync`: the message is in the server's junk folder, the same message (Dovecot GUID
# unchanged), and nothing crossed the network again.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v emacs >/dev/null 2>&1 || skip_all "emacs is not installed (apt-get install emacs-nox)"
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
EHOME=$(tap_tmpdir)
HOME=$EHOME emacs --batch --eval "(progn (package-initialize) (require 'notmuch))" \
    </dev/null >/dev/null 2>&1 || skip_all "elpa-notmuch is not installed (apt-get install elpa-notmuch)"

dovecot_start
mail_file "$TAP_ROOT/spam1.eml" spam1
mail_file "$TAP_ROOT/ham.eml" ham
dovecot_seed INBOX "$TAP_ROOT/spam1.eml" "$TAP_ROOT/ham.eml"
nmsync_setup_dovecot
mkdir -p "$NMS_MAILDIR"
printf '[database]\npath=%s\n[user]\nname=Test User\nprimary_email=test@example.org\n[new]\ntags=unread;inbox\nignore=maildirfolder;.nmsync-maildir\n[search]\nexclude_tags=\n[maildir]\nsynchronize_flags=true\n' \
    "$NMS_MAILDIR" > "$NOTMUCH_CONFIG"
notmuch new >/dev/null
nmsync_rules default.rules spam.rules

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"
guid=$(dv fetch guid mailbox INBOX uid 1 | sed 's/^guid: //')

OUT=$(tap_tmpdir)
press_spam_key () {
    T602_OUT=$OUT T602_PROGRAM=$NMSYNC T602_ARGS="-c $NMS_CONFIG apply" HOME=$EHOME \
        timeout 120 emacs --batch --eval "(package-initialize)" -L "$NMSYNC_SRCDIR/emacs" \
        -l "$NMSYNC_SRCDIR/tests/emacs/t602-nmsync-spam.el" \
        --eval "(ert-run-tests-batch-and-exit \"^t602-spam-search\$\")" </dev/null
}
check "J in a notmuch search buffer tags spam and runs nmsync apply (ERT)" press_spam_key
check_eq "nmsync apply, run from Emacs, exited 0" 0 "$(cat "$OUT/apply-status" 2>/dev/null)"
junk=$(find "$NMS_MAILDIR/.Junk/cur" -type f 2>/dev/null)
check "the file is in the junk folder" test -n "$junk"
check_eq "without a ,U= field" "" "$(printf '%s' "$junk" | grep ',U=')"

dovecot_mark
nmsync_run sync
check_eq "the next sync: exit 0" 0 "$NMS_RC"
check_eq "the server's Junk has it" 1 "$(imap_count Junk)"
check_eq "the server's INBOX kept only the other message" 1 "$(imap_count INBOX)"
check_eq "the same message: Dovecot GUID unchanged" "$guid" \
    "$(dv fetch guid mailbox Junk all | sed 's/^guid: //')"
check_eq "no body was downloaded" 0 "$(bodies_since_mark)"
check_match "notmuch has nothing left to do" "No new mail\.$" "$(notmuch new)"

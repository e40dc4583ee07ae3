#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync import-mbsyncrc` where nmsync's folder directories would not be mbsync's: SubFolders
# Verbatim with Flatten . (mbsync keeps Archive/2024 as ~/Mail/Archive.2024, nmsync would use
# ~/Mail/Archive/2024), and Path ~/Mail/ with Inbox ~/Mail/Inbox (nmsync keeps INBOX in
# ~/Mail/INBOX), and SubFolders Legacy (Top/.Sub where nmsync has Top/Sub). adopt would not find those folders and sync would download them a second
# time, so the account is printed with maildir = FIXME-... (the config does not load) and a
# comment naming the mbsyncrc line, the reason and what to do. The same file without the
# offending line loads as before.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

key_of () {
    awk -v g="[account $2]" -v k="$3" '
        /^\[/ { in_g = ($0 == g); next }
        in_g && index($0, k " = ") == 1 { print substr($0, length(k) + 4) }' "$1"
}
nmsync_setup </dev/null
export HOME=$NMS_HOME XDG_STATE_HOME=$NMS_HOME/xdg-state

# mbsyncrc STORE-LINES...: a one-channel ~/.mbsyncrc whose MaildirStore has STORE-LINES.
mbsyncrc () {
    {
        printf 'IMAPAccount dv\nHost 127.0.0.1\nPort 143\nUser u\nPassCmd "echo p"\nSSLType None\n\n'
        printf 'IMAPStore dv-remote\nAccount dv\n\nMaildirStore dv-local\n'
        printf '%s\n' "$@"
        printf '\nChannel dv\nFar :dv-remote:\nNear :dv-local:\nPatterns *\nCreate Both\n'
    } > "$HOME/.mbsyncrc"
}
# loads FILE: nmsync rules with FILE as the config (exit status).
loads () {
    cp "$1" "$NMS_CONFIG"
    printf '\n[general]\nrules = %s\n' "$NMSYNC_SRCDIR/rules/default.rules" >> "$NMS_CONFIG"
    nmsync_run rules
    return "$NMS_RC"
}

out=$NMS_HOME/flatten.conf
mbsyncrc 'Path ~/Mail/' 'Inbox ~/Mail/INBOX' 'SubFolders Verbatim' 'Flatten .'
"$NMSYNC" import-mbsyncrc > "$out" 2> "$NMS_HOME/err"
check_eq "flatten: exit 0" 0 "$?"
check_eq "flatten: the account is printed" verbatim "$(key_of "$out" dv layout)"
check_eq "flatten: maildir is FIXME" "FIXME-~/Mail" "$(key_of "$out" dv maildir)"
check_match "flatten: the comment names Flatten, the duplicates and what to do" \
    "^# mbsyncrc:[0-9]+: NOT LOADABLE \(maildir = FIXME\): Flatten \..*download them again \(duplicates\)\. Rename the directories.*set maildir = ~/Mail, or keep mbsync" \
    "$(cat "$out")"
loads "$out"
check "flatten: the output does not load" test "$NMS_RC" -ne 0
check_match "flatten: the error names the maildir key" "maildir.*FIXME" "$(cat "$NMS_ERR")"

out=$NMS_HOME/inbox.conf
mbsyncrc 'Path ~/Mail/' 'Inbox ~/Mail/Inbox' 'SubFolders Verbatim'
"$NMSYNC" import-mbsyncrc > "$out" 2> "$NMS_HOME/err"
check_eq "inbox: exit 0" 0 "$?"
check_eq "inbox: maildir is FIXME" "FIXME-~/Mail" "$(key_of "$out" dv maildir)"
check_match "inbox: the comment names Inbox and where nmsync keeps it" \
    "^# mbsyncrc:[0-9]+: NOT LOADABLE \(maildir = FIXME\): Inbox ~/Mail/Inbox: with layout verbatim nmsync keeps INBOX in ~/Mail/INBOX; .*duplicates" \
    "$(cat "$out")"
loads "$out"
check "inbox: the output does not load" test "$NMS_RC" -ne 0

out=$NMS_HOME/legacy.conf
mbsyncrc 'Path ~/Mail/' 'Inbox ~/Mail/INBOX' 'SubFolders Legacy'
"$NMSYNC" import-mbsyncrc > "$out" 2> "$NMS_HOME/err"
check_eq "legacy: maildir is FIXME" "FIXME-~/Mail" "$(key_of "$out" dv maildir)"
check_match "legacy: the comment names SubFolders Legacy" \
    "^# mbsyncrc:[0-9]+: NOT LOADABLE \(maildir = FIXME\): SubFolders Legacy: .*duplicates" "$(cat "$out")"

out=$NMS_HOME/plain.conf
mbsyncrc 'Path ~/Mail/' 'Inbox ~/Mail/INBOX' 'SubFolders Verbatim'
"$NMSYNC" import-mbsyncrc > "$out" 2> "$NMS_HOME/err"
check_eq "plain: maildir" "~/Mail" "$(key_of "$out" dv maildir)"
check_eq "plain: no FIXME" "" "$(grep FIXME "$out")"
loads "$out"
check_eq "plain: the output loads" 0 "$NMS_RC"

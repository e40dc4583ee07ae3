#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# [keywords]: tags <-> IMAP keywords, both ways, through Maildir letters a-z. Tagging spam
# makes the server message carry $Junk after apply + sync; $NotJunk set on the server becomes
# the tag notspam after sync + apply; keywords no rule names are left alone; a letter keeps its
# keyword for good; nothing changes on a second round.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
for i in 1 2 3; do
    mail_file "$TAP_ROOT/kw$i.eml" "kw$i"
done
dovecot_seed --flags '\Seen' INBOX "$TAP_ROOT"/kw{1,2,3}.eml
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"
letters=$(sqlite3 "$NMS_STATE/test.db" "select keyword || '=' || letter from keywords order by letter" | paste -sd' ')
check_eq "the [keywords] of spam.rules got letters" '$Junk=a $NotJunk=b' "$letters"

# Local -> server: tag spam; apply moves the file and gives it $Junk's letter; sync sends it.
notmuch tag +spam -- id:kw1@nmsync.test
nmsync_run apply
junk=$(find "$NMS_MAILDIR/.Junk/cur" -type f)
check_match "the moved file carries \$Junk's letter" ':2,[A-Z]*a[a-z]*$' "$junk"
nmsync_run sync
check_eq "sync after apply: exit 0" 0 "$NMS_RC"
check_match "the server's message in Junk has the keyword \$Junk" '\$Junk' \
    "$(server_flags Junk "$(server_uids Junk)")"

# Server -> local: $NotJunk on the server becomes the tag notspam.
dv flags add '$NotJunk' mailbox INBOX uid 2
dv flags add '$Label1' mailbox INBOX uid 3
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_match "the local file of UID 2 got \$NotJunk's letter" ':2,[A-Z]*b$' "$(local_file INBOX 2)"
check_match "a keyword no rule names is left alone" ':2,S$' "$(local_file INBOX 3)"
nmsync_run apply
check_eq "apply: exit 0" 0 "$NMS_RC"
check_eq "the tag notspam follows" 1 "$(notmuch count 'id:kw2@nmsync.test and tag:notspam')"
check_match "the server keeps \$Label1 (never touched)" '\$Label1' "$(server_flags INBOX 3)"

# Removing the tag removes the keyword on the server.
notmuch tag -notspam -- id:kw2@nmsync.test
nmsync_run apply
nmsync_run sync
check "removing the tag removes \$NotJunk on the server" \
    bash -c "! printf '%s' \"$(server_flags INBOX 2)\" | grep -q NotJunk"

# A second round changes nothing.
before=$(find "$NMS_MAILDIR" -type f -name '*,U=*' | sort)
nmsync_run sync
nmsync_run apply
check_match "apply: nothing left to do" "0 moved, 0 flags changed, 0 tags changed" "$(cat "$NMS_OUT")"
check_eq "no file renamed" "$before" "$(find "$NMS_MAILDIR" -type f -name '*,U=*' | sort)"

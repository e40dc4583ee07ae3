#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync sync` alone is the whole pipeline (DESIGN.md section 1): rules -> IMAP both ways ->
# index in place -> rules. With rules/spam.rules configured and no `nmsync apply` anywhere:
# `notmuch tag +spam` then `nmsync sync` puts the message into the server's junk folder (the
# same message: Dovecot GUID unchanged, nothing uploaded or downloaded); "not spam" (`notmuch
# tag -spam +inbox`, what M-J in nmsync.el does) then `nmsync sync` brings it back to INBOX.
# Three-way: a message taken out of junk and filed by hand elsewhere (its file moved by
# another mail client) stays there. A message
# that arrives in the server's junk folder is tagged by the same sync. --no-rules skips the
# rule stages. The rule files are found the same way as by `nmsync apply`: notmuch's
# nmsync.rules when [general] has no rules ([keywords] then reach the sync too).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
for id in pipe-spam1 pipe-ham1 pipe-filed1; do
    mail_file "$T/$id.eml" "$id"
done
dovecot_seed INBOX "$T/pipe-spam1.eml" "$T/pipe-ham1.eml" "$T/pipe-filed1.eml"
dv mailbox create Lists
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules

tags_of () { notmuch search --output=tags "id:$1@nmsync.test" | LC_ALL=C sort | paste -sd' ' -; }
files_of () { notmuch search --output=files "id:$1@nmsync.test"; }
# guid_of FOLDER ID: the Dovecot GUID of message ID in FOLDER on the server.
guid_of () { dv fetch guid mailbox "$1" header message-id "<$2@nmsync.test>" | sed -n 's/^guid: //p'; }
server_has () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | grep -c .; }

nmsync_run sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "first sync: the three messages are indexed in process" 3 "$(notmuch count 'id:pipe-spam1@nmsync.test or id:pipe-ham1@nmsync.test or id:pipe-filed1@nmsync.test')"
guid=$(guid_of INBOX pipe-spam1)
check "the spam message has a GUID on the server" test -n "$guid"

# (1) tag +spam, one sync: in the server's junk folder, the same message, nothing transferred.
notmuch tag +spam -- id:pipe-spam1@nmsync.test
dovecot_mark
nmsync_run sync
check_eq "spam: sync exit 0" 0 "$NMS_RC"
check_eq "spam: the server's Junk has it" 1 "$(server_has Junk pipe-spam1)"
check_eq "spam: the server's INBOX no longer has it" 0 "$(server_has INBOX pipe-spam1)"
check_eq "spam: the same message (Dovecot GUID unchanged)" "$guid" "$(guid_of Junk pipe-spam1)"
check_eq "spam: no body was downloaded" 0 "$(bodies_since_mark)"
check_match "spam: nothing uploaded" "server: 0 uploaded" "$(cat "$NMS_OUT")"
check_match "spam: the summary says the rules moved it" "rules: 1 moved" "$(cat "$NMS_OUT")"
check_match "spam: notmuch has the file in .Junk" "/\.Junk/cur/" "$(files_of pipe-spam1)"
check_eq "spam: notmuch lists one file" 1 "$(files_of pipe-spam1 | wc -l)"
check_eq "spam: tags per spam.rules" "spam" "$(tags_of pipe-spam1)"

# (2) not spam: -spam +inbox, one sync: back in INBOX, the same message.
notmuch tag -spam +inbox -- id:pipe-spam1@nmsync.test
dovecot_mark
nmsync_run sync
check_eq "not spam: sync exit 0" 0 "$NMS_RC"
check_eq "not spam: the server's INBOX has it again" 1 "$(server_has INBOX pipe-spam1)"
check_eq "not spam: the server's Junk no longer has it" 0 "$(server_has Junk pipe-spam1)"
check_eq "not spam: the same message (Dovecot GUID unchanged)" "$guid" "$(guid_of INBOX pipe-spam1)"
check_eq "not spam: no body was downloaded" 0 "$(bodies_since_mark)"
check_match "not spam: nothing uploaded" "server: 0 uploaded" "$(cat "$NMS_OUT")"
check_match "not spam: notmuch has the file in INBOX" "/Maildir/cur/" "$(files_of pipe-spam1)"
check_eq "not spam: tags" "inbox" "$(tags_of pipe-spam1)"
nmsync_run sync
check_eq "not spam: the next sync leaves it in INBOX" 1 "$(server_has INBOX pipe-spam1)"

# (3) three-way: a message sent to junk, then taken out by hand into Lists (another mail
# client moves its file) while its spam tag is taken off: where the user put it wins.
notmuch tag +spam -- id:pipe-filed1@nmsync.test
nmsync_run sync
check_eq "filed: first in the server's Junk" 1 "$(server_has Junk pipe-filed1)"
filed=$(files_of pipe-filed1)
mv "$filed" "$NMS_MAILDIR/.Lists/cur/$(basename "$filed" | sed 's/,U=[0-9]*//')"
notmuch tag -spam +inbox -- id:pipe-filed1@nmsync.test
nmsync_run sync
check_eq "filed: sync exit 0" 0 "$NMS_RC"
nmsync_run sync
check_eq "filed: the next sync exit 0" 0 "$NMS_RC"
check_eq "filed: it is in Lists on the server" 1 "$(server_has Lists pipe-filed1)"
check_eq "filed: not in INBOX" 0 "$(server_has INBOX pipe-filed1)"
check_eq "filed: not in Junk" 0 "$(server_has Junk pipe-filed1)"
check_match "filed: notmuch has the file in .Lists" "/\.Lists/cur/" "$(files_of pipe-filed1)"
check_eq "filed: notmuch lists one file" 1 "$(files_of pipe-filed1 | wc -l)"

# (4) a message that arrives in the server's junk folder is tagged by the same sync.
mail_file "$T/pipe-junk2.eml" pipe-junk2
dovecot_seed Junk "$T/pipe-junk2.eml"
nmsync_run sync
check_eq "arrival in Junk: sync exit 0" 0 "$NMS_RC"
check_eq "arrival in Junk: tagged per spam.rules by the same sync" "spam" "$(tags_of pipe-junk2)"

# (5) --no-rules: the IMAP stage only; the next plain sync runs them.
notmuch tag +spam -- id:pipe-ham1@nmsync.test
nmsync_run --no-rules sync
check_eq "--no-rules: exit 0" 0 "$NMS_RC"
check_eq "--no-rules: the message stays in INBOX on the server" 1 "$(server_has INBOX pipe-ham1)"
nmsync_run sync
check_eq "then a plain sync moves it to Junk" 1 "$(server_has Junk pipe-ham1)"

# (6) the rule files from notmuch's nmsync.rules, [general] rules unset: the same pipeline,
# and [keywords] reach the sync (the server's $Junk keyword appears).
sed -i '/^rules = /d' "$NMS_CONFIG"
notmuch config set nmsync.rules "$NMSYNC_SRCDIR/rules/default.rules;$NMSYNC_SRCDIR/rules/spam.rules"
notmuch tag -spam +inbox -- id:pipe-ham1@nmsync.test
nmsync_run sync
check_eq "rules from notmuch's config: exit 0" 0 "$NMS_RC"
check_eq "rules from notmuch's config: not spam moved it back to INBOX" 1 "$(server_has INBOX pipe-ham1)"
notmuch tag +spam -- id:pipe-ham1@nmsync.test
nmsync_run sync
check_eq "rules from notmuch's config: spam moved it to Junk" 1 "$(server_has Junk pipe-ham1)"
check_match "rules from notmuch's config: [keywords] synced (\$Junk on the server)" '\$Junk' \
    "$(dv fetch flags mailbox Junk header message-id '<pipe-ham1@nmsync.test>')"

# (7) a rule whose folder the server does not have: the same sync creates it (CREATE) and the
# message is moved there (the same message).
printf '[folder Projects/nmsync]\nmatch = tag:work\n' >"$T/work.rules"
notmuch config set nmsync.rules "$NMSYNC_SRCDIR/rules/default.rules;$NMSYNC_SRCDIR/rules/spam.rules;$T/work.rules"
guid=$(guid_of INBOX pipe-spam1)
notmuch tag +work -- id:pipe-spam1@nmsync.test
nmsync_run sync
check_eq "new folder: exit 0" 0 "$NMS_RC"
check_eq "new folder: the server has Projects/nmsync with the message" 1 "$(server_has Projects/nmsync pipe-spam1)"
check_eq "new folder: the same message (GUID)" "$guid" "$(guid_of Projects/nmsync pipe-spam1)"
check_eq "new folder: not in INBOX any more" 0 "$(server_has INBOX pipe-spam1)"
check_eq "dovecot logged no errors" "" "$(dovecot_log_errors)"

# (8) -n sync: the first rule stage says what it would change, and nothing changes anywhere.
notmuch tag +spam -- id:pipe-filed1@nmsync.test
before=$(server_has Lists pipe-filed1)
nmsync_run -n sync
check_eq "-n sync: exit 0" 0 "$NMS_RC"
check_match "-n sync: says the rules would move it to Junk" "would change id:pipe-filed1@nmsync.test: folder 'Lists' -> 'Junk'" "$(cat "$NMS_ERR")"
check_eq "-n sync: the server still has it in Lists" "$before" "$(server_has Lists pipe-filed1)"
check_match "-n sync: the file is still in .Lists" "/\.Lists/cur/" "$(files_of pipe-filed1)"
nmsync_run sync
check_eq "then the real sync moves it" 1 "$(server_has Junk pipe-filed1)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Rules and notmuch: sync indexes what it downloads (a later `notmuch new` finds nothing);
# tagging spam and `nmsync apply` move the file to the junk folder (",U=" dropped, index
# updated in place, tags kept); a second apply changes nothing; the next sync moves the message
# on the server (same Dovecot GUID); an arrival in Junk gets the rule's tags; flags follow tags.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
for i in 1 2 3 4 5; do
    printf 'From: a%s@example.org\nTo: me@example.org\nSubject: message %s\nMessage-ID: <m%s@example.org>\n\nbody %s\n' \
        "$i" "$i" "$i" "$i" > "$TAP_ROOT/m$i.eml"
done
dovecot_seed INBOX "$TAP_ROOT"/m{1,2,3,4,5}.eml
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync indexed every message" 5 "$(notmuch count '*')"
check_eq "new messages carry new.tags" 5 "$(notmuch count tag:inbox and tag:unread)"
check_match "a following 'notmuch new' finds nothing to do" "No new mail\.$" "$(notmuch new)"

nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"
check_eq "first apply moves nothing" 5 "$(local_count INBOX)"

id=m2@example.org
guid=$(dv fetch guid mailbox INBOX uid 2 | sed 's/^guid: //')
notmuch tag +spam +mine -- "id:$id"
nmsync_run apply
check_eq "apply after tagging spam: exit 0" 0 "$NMS_RC"
junk=$(find "$NMS_MAILDIR/.Junk/cur" -type f 2>/dev/null)
check "the file moved to .Junk/cur" test -n "$junk"
check_eq "its ,U= field was dropped" "" "$(printf '%s' "$junk" | grep ',U=')"
check_eq "INBOX lost it" 4 "$(local_count INBOX)"
check_eq "notmuch finds it in the junk folder" 1 "$(notmuch count "id:$id and folder:.Junk")"
check_eq "the rule's tags: +spam -inbox -unread, custom tag kept" "mine spam" \
    "$(notmuch search --output=tags "id:$id" | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "unread removed means S; spam means \$Junk's letter a ([keywords])" Sa "${junk##*:2,}"
check_match "the index was updated in place: 'notmuch new' finds nothing" "No new mail\.$" "$(notmuch new)"

nmsync_run apply
check_match "a second apply changes nothing" "0 moved, 0 flags changed, 0 tags changed" "$(cat "$NMS_OUT")"

dovecot_mark
nmsync_run sync
check_eq "sync after apply: exit 0" 0 "$NMS_RC"
check_eq "the server moved it: INBOX has 4" 4 "$(imap_count INBOX)"
check_eq "the server moved it: Junk has 1" 1 "$(imap_count Junk)"
check_eq "same message on the server (Dovecot GUID unchanged)" "$guid" \
    "$(dv fetch guid mailbox Junk all | sed 's/^guid: //')"
check_eq "no body crossed the network" 0 "$(bodies_since_mark)"
check "the local file now carries Junk's UID" test -n "$(find "$NMS_MAILDIR/.Junk/cur" -name '*,U=*')"
check_match "notmuch still agrees: nothing new" "No new mail\.$" "$(notmuch new)"

# Flags follow tags: flagging in notmuch sets F, and the next sync tells the server.
notmuch tag +flagged -- id:m3@example.org
nmsync_run apply
check "tag flagged sets F on the file" test -n "$(find "$NMS_MAILDIR/cur" -name '*:2,F*')"
nmsync_run sync
check_match "the server gets \\Flagged" '\\Flagged' "$(server_flags INBOX 3)"

# An arrival in Junk from the server gets the rule's tags.
dv move Junk mailbox INBOX uid 4
nmsync_run sync
check_eq "server-side move arrives: exit 0" 0 "$NMS_RC"
nmsync_run apply
check_eq "arrival in Junk: tagged spam, not inbox, not unread" 1 \
    "$(notmuch count 'id:m4@example.org and tag:spam and not tag:inbox and not tag:unread')"
check_match "and nothing is left for notmuch new" "No new mail\.$" "$(notmuch new)"

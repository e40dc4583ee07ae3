#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync apply on a Maildir synced by the real mbsync (Debian's isync): the spam rule moves a
# file to the junk folder with its ",U=" dropped, and a following `mbsync -a` runs with no
# "duplicate UID" error and leaves the message in the server's Junk folder.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v mbsync >/dev/null || skip_all "mbsync (isync) is not installed"
command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
for i in 1 2 3 4; do
    printf 'From: a%s@example.org\nTo: me@example.org\nSubject: message %s\nMessage-ID: <m%s@example.org>\n\nbody %s\n' \
        "$i" "$i" "$i" "$i" > "$TAP_ROOT/m$i.eml"
done
dovecot_seed INBOX "$TAP_ROOT"/m{1,2,3,4}.eml

nmsync_setup <<EOF2
tunnel = $(dovecot_tunnel_cmd)
EOF2
mb="$NMS_MAILDIR"
mkdir -p "$mb"
cat > "$NMS_HOME/mbsyncrc" <<EOF2
IMAPAccount dv
Tunnel "$(dovecot_tunnel_cmd)"

IMAPStore dv-remote
Account dv

MaildirStore dv-local
Inbox $mb/
SubFolders Maildir++

Channel dv
Far :dv-remote:
Near :dv-local:
Patterns *
Create Both
Expunge Both
SyncState *
EOF2
mbsync_run () {
    timeout 60 mbsync -c "$NMS_HOME/mbsyncrc" -a >"$NMS_HOME/mbsync.out" 2>&1 || { cat "$NMS_HOME/mbsync.out" >&2; return 1; }
}
check "mbsync -a: first sync" mbsync_run
check_eq "mbsync wrote its ,U= names" 4 "$(find "$mb/cur" "$mb/new" -name '*,U=*' | wc -l)"

export NOTMUCH_CONFIG="$NMS_HOME/notmuch-config"
nmsync_notmuch ".uidvalidity;.mbsyncstate;.mbsyncstate.journal;.mbsyncstate.new;.mbsyncstate.lock"
nmsync_rules default.rules spam.rules

# The first apply records where every message is (all of them count as arrivals then).
nmsync_run apply
check_eq "first apply: exit 0" 0 "$NMS_RC"
check_eq "first apply moves nothing" 4 "$(find "$mb/cur" "$mb/new" -type f | wc -l)"

notmuch tag +spam -- id:m2@example.org
nmsync_run apply
check_eq "apply: exit 0" 0 "$NMS_RC"
moved=$(find "$mb/.Junk/cur" -type f 2>/dev/null)
check "the file is in .Junk/cur" test -n "$moved"
check_eq "without a ,U= field" "" "$(printf '%s' "$moved" | grep ',U=')"

check "mbsync -a after the move: exit 0" mbsync_run
check "no 'duplicate UID' or 'beyond highest assigned UID' error" \
    bash -c "! grep -Eiq 'duplicate UID|beyond highest' '$NMS_HOME/mbsync.out'"
check_eq "the server's Junk has the message" "hdr.subject: message 2" \
    "$(dv fetch 'hdr.subject' mailbox Junk all | grep -o 'hdr.subject: message 2')"
check_eq "the server's INBOX no longer has it" 3 "$(imap_count INBOX)"
check_eq "mbsync gave the moved file a Junk UID" 1 "$(find "$mb/.Junk/cur" -name '*,U=*' | wc -l)"
check "a second mbsync is quiet and clean" mbsync_run

# mbsync renamed the file; whatever it did with letters it does not know, the next apply must
# not undo the user's tag.
nmsync_run apply
check_eq "apply after mbsync: exit 0" 0 "$NMS_RC"
check_eq "the message is still tagged spam" 1 "$(notmuch count 'id:m2@example.org and tag:spam')"
check_eq "and is still in the junk folder" 1 "$(find "$mb/.Junk/cur" -type f | wc -l)"

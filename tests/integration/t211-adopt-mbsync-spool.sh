#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync adopt` on a spool the real mbsync (Debian's isync) made against the private Dovecot,
# after expunges left gaps in the server's UIDs: mbsync's own Maildir UIDs (the ",U=" in its
# names: 1, 2, 3, ...) differ from the server's (1, 4, 5, ...), and its .mbsyncstate maps one
# to the other. Every file pairs exactly with its own message (checked by Message-ID on both
# sides), none is downloaded again (same inode), only the message that came after mbsync's
# last run is; no message is on either side twice; mbsync's files are left as they were and
# notmuch keeps its tags. The next sync is an ordinary one.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v mbsync >/dev/null || skip_all "mbsync (isync) is not installed"
command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 m5 m6 m7 m8 m9 a1 a2 a3; do
    mail_file "$src/$n" "$n"
done
dovecot_seed INBOX "$src"/m{1,2,3,4,5,6,7,8}     # UIDs 1..8
dv expunge mailbox INBOX uid 2,3,6               # left: 1 4 5 7 8
dovecot_seed Archive "$src"/a{1,2,3}             # UIDs 1..3
dv expunge mailbox Archive uid 1                 # left: 2 3

nmsync_setup_dovecot
mb=$NMS_MAILDIR
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
check "mbsync -a" mbsync_run
check_eq "mbsync numbered INBOX 1..5" "1 2 3 4 5" \
    "$(find "$mb/cur" "$mb/new" -type f | sed 's/.*,U=\([0-9]*\).*/\1/' | sort -n | tr '\n' ' ' | sed 's/ $//')"
# After mbsync's last run: the server reads m4 and gets m9; the user flags m7 locally.
dv flags add '\Seen' mailbox INBOX uid 4
dovecot_seed INBOX "$src/m9"                      # UID 9
f7=$(grep -l '<m7@' "$mb"/cur/* "$mb"/new/*)
mv "$f7" "$mb/cur/$(basename "${f7%%:2,*}"):2,F"

nmsync_notmuch ".uidvalidity;.mbsyncstate;.mbsyncstate.journal;.mbsyncstate.new;.mbsyncstate.lock"
notmuch tag +important -- id:m5@nmsync.test
notmuch tag +work -- id:a3@nmsync.test
dump0=$(notmuch dump)
mbfiles0=$(cat "$mb/.mbsyncstate" "$mb/.uidvalidity" "$mb/.Archive/.mbsyncstate" "$mb/.Archive/.uidvalidity")
file_of () { grep -l "<$2@" "$(local_dir "$1")"/cur/* "$(local_dir "$1")"/new/* 2>/dev/null; }
declare -A ino
for k in INBOX:m1 INBOX:m4 INBOX:m5 INBOX:m7 INBOX:m8 Archive:a2 Archive:a3; do
    ino[$k]=$(stat -c %i "$(file_of "${k%%:*}" "${k##*:}")")
done
srv0=$(server_state)
cp -a "$mb" "$NMS_HOME/spool2"
# mbsync's sessions (through the tunnel) reach the log later and without a date: only the
# daemon's sessions, nmsync's, are counted.
dovecot_mark () { _MARK=$(dovecot_log | grep -c '^[A-Z][a-z][a-z] [0-9].*Logged out'); }
bodies_since_mark () {
    dovecot_log | grep '^[A-Z][a-z][a-z] [0-9].*Logged out' | tail -n +"$((_MARK + 1))" |
        sed -n 's/.* body_count=\([0-9]*\).*/\1/p' | awk '{n += $1} END {print n + 0}'
}

dovecot_mark
nmsync_run adopt
check_eq "adopt: exit 0" 0 "$NMS_RC"
check_eq "adopt: one body read (m9, newer than the spool)" 1 "$(bodies_since_mark)"
check_eq "adopt: the server unchanged" "$srv0" "$(server_state)"
check_match "adopt: INBOX summary" \
    "test: INBOX: 5 paired exactly, 0 by content, 1 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
check_match "adopt: Archive summary" \
    "test: Archive: 2 paired exactly, 0 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
collect_sides
# "folder message-id uid" on each side: equal means every file carries the UID of its own
# message, and no message is on either side twice.
by_id_srv () { printf '%s\n' "$SRV" | awk 'NF { print $1, $NF, $2 }' | sort; }
by_id_loc () {
    printf '%s\n' "$LOC" | awk 'NF { u = $2; if (u ~ /,U=/) { sub(/.*,U=/, "", u); sub(/[:,].*/, "", u) } else u = "-"; print $1, $NF, u }' | sort
}
check_eq "each file carries the server UID of its own message (by Message-ID)" "$(by_id_srv)" "$(by_id_loc)"
for k in "${!ino[@]}"; do
    check_eq "$k: same inode (renamed in place)" "${ino[$k]}" "$(stat -c %i "$(file_of "${k%%:*}" "${k##*:}")")"
done
check_eq "m4: the server's \\Seen pulled" S "$(local_flags INBOX 4)"
check_eq "m7: the local \\Flagged kept" F "$(local_flags INBOX 7)"
check_eq "mbsync's files left as they were" "$mbfiles0" \
    "$(cat "$mb/.mbsyncstate" "$mb/.uidvalidity" "$mb/.Archive/.mbsyncstate" "$mb/.Archive/.uidvalidity")"
check_eq "notmuch: dump the same but m4's -unread" \
    "$(printf '%s\n' "$dump0" | sed '/id:m4@nmsync.test/s/ +unread//')" "$(notmuch dump -- not id:m9@nmsync.test)"
check_eq "notmuch: m9 indexed once" 1 "$(notmuch count --output=files id:m9@nmsync.test)"
check_eq "notmuch: every file it knows exists" "" \
    "$(notmuch search --output=files '*' | while read -r p; do [ -e "$p" ] || echo "$p"; done)"
check_eq "notmuch: no mbsync file indexed" 0 "$(notmuch search --output=files '*' | grep -c 'mbsyncstate\|uidvalidity')"

dovecot_mark
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "sync: nothing uploaded (INBOX 1 4 5 7 8 9)" "1 4 5 7 8 9" "$(server_uids INBOX)"
check_eq "sync: m7's \\Flagged on the server" '\Flagged' "$(server_flags INBOX 7)"
collect_sides
# mbsync adds an X-TUID header to what it stores: the bytes differ, the flags must not.
flags_by_uid () { printf '%s\n' "$SRV" | awk 'NF { print $1, $2, $4 }' | sort; }
flags_by_uid_loc () {
    printf '%s\n' "$LOC" | awk 'NF { u = $2; sub(/.*,U=/, "", u); sub(/[:,].*/, "", u); print $1, u, $4 }' | sort
}
check_eq "both sides agree UID by UID (flags)" "$(flags_by_uid)" "$(flags_by_uid_loc)"
check_eq "still each file with its own message (by Message-ID)" "$(by_id_srv)" "$(by_id_loc)"
check_eq "no server folder or message named after an mbsync file" "" \
    "$(printf '%s\n' "$SRV" | grep -i 'mbsync\|uidvalidity')"

# The same spool without mbsync's state (as with SyncState naming a directory of its own):
# the files pair by content, although mbsync added an X-TUID field to each; only m9 is
# downloaded, nothing is on either side twice.
spool2=$NMS_HOME/spool2
nmsync_setup_dovecot
cp -a "$spool2" "$NMS_MAILDIR"
find "$NMS_MAILDIR" -name '.mbsyncstate*' -delete
mkdir -m 700 -p "$NMS_STATE"
dovecot_mark
nmsync_run adopt
check_eq "adopt without .mbsyncstate: exit 0" 0 "$NMS_RC"
check_eq "adopt without .mbsyncstate: one body read (m9)" 1 "$(bodies_since_mark)"
check_match "adopt without .mbsyncstate: INBOX summary" \
    "test: INBOX: 0 paired exactly, 5 by content, 1 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
collect_sides
check_eq "by content: each file carries its own message's UID (by Message-ID)" "$(by_id_srv)" "$(by_id_loc)"

# mbsync with its state in a directory of its own (a global "SyncState DIR/", state files
# named ":far-store:box_:near-store:box"): adopt --mbsync-state DIR pairs exactly again.
nmsync_setup_dovecot
mb=$NMS_MAILDIR
mkdir -p "$mb" "$NMS_HOME/mbstate"
{
    printf 'SyncState %s/mbstate/\n\n' "$NMS_HOME"
    sed '/^SyncState/d' "$spool2/../mbsyncrc" | sed "s|^Inbox .*|Inbox $mb/|"
} >"$NMS_HOME/mbsyncrc"
check "mbsync -a into a new Maildir, SyncState in a directory" mbsync_run
check "mbsync wrote no .mbsyncstate in the folders" test ! -e "$mb/.mbsyncstate"
check_match "mbsync wrote its state file for INBOX in the directory" ':INBOX_:.*:INBOX' \
    "$(ls "$NMS_HOME/mbstate")"
mkdir -m 700 -p "$NMS_STATE"
dovecot_mark
nmsync_run --mbsync-state "$NMS_HOME/mbstate" adopt
check_eq "adopt --mbsync-state: exit 0" 0 "$NMS_RC"
check_eq "adopt --mbsync-state: nothing downloaded" 0 "$(bodies_since_mark)"
check_match "adopt --mbsync-state: INBOX summary" \
    "test: INBOX: 6 paired exactly, 0 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
check_match "adopt --mbsync-state: Archive summary" \
    "test: Archive: 2 paired exactly, 0 by content, 0 downloaded, 0 local-only" "$(cat "$NMS_ERR")"
collect_sides
check_eq "--mbsync-state: each file carries its own message's UID (by Message-ID)" "$(by_id_srv)" "$(by_id_loc)"

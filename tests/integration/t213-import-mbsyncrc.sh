#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync import-mbsyncrc` on mbsync's own example (Debian's isync ships it) and on a typical
# long-time user's ~/.mbsyncrc: two accounts, one over IMAPS with PassCmd and CertificateFile,
# one through a Tunnel to Dovecot's imap; SyncState *, SubFolders Maildir++, Inbox ~/Maildir/,
# Patterns * !register !.register, Create/Expunge/Remove Both, the old Master/Slave spelling.
# The output loads (nmsync -c OUT rules, -n sync; the sample's o2o only once its FIXME
# maildir is decided), says the right things key by key, and
# names every option it cannot translate; the user's file is then synced for real, against the
# private Dovecot, by both accounts.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

# key_of FILE ACCOUNT KEY: the value of KEY in [account ACCOUNT] of FILE.
key_of () {
    awk -v g="[account $2]" -v k="$3" '
        /^\[/ { in_g = ($0 == g); next }
        in_g && index($0, k " = ") == 1 { print substr($0, length(k) + 4) }' "$1"
}
# ACCOUNT: the accounts of FILE, one per line.
accounts_of () { sed -n 's/^\[account \(.*\)\]$/\1/p' "$1"; }

nmsync_setup </dev/null
export HOME=$NMS_HOME XDG_STATE_HOME=$NMS_HOME/xdg-state
sample=/usr/share/doc/isync/examples/mbsyncrc.sample
if [ ! -e "$sample" ] && [ -e "$sample.gz" ]; then
    gzip -dc "$sample.gz" > "$NMS_HOME/mbsyncrc.sample"
    sample=$NMS_HOME/mbsyncrc.sample
fi

# ---- mbsync's own example -------------------------------------------------------------
if [ -e "$sample" ]; then
    out=$NMS_HOME/sample.conf
    "$NMSYNC" import-mbsyncrc "$sample" > "$out" 2> "$NMS_HOME/sample.err"
    check_eq "sample: exit 0" 0 "$?"
    check_eq "sample: nothing on stderr" "" "$(cat "$NMS_HOME/sample.err")"
    check_eq "sample: one account per IMAP<->Maildir Channel" "work personal remote o2o" \
        "$(accounts_of "$out" | tr '\n' ' ' | sed 's/ $//')"
    check_eq "work: host" work.host.com "$(key_of "$out" work host)"
    check_eq "work: user" tehuser "$(key_of "$out" work user)"
    check_eq "work: tls (mbsync's default)" starttls "$(key_of "$out" work tls)"
    check_eq "work: the Maildir (Path ~/Mail/ + work)" "~/Mail/work" "$(key_of "$out" work maildir)"
    check_eq "work: one folder, INBOX" INBOX "$(key_of "$out" work folders)"
    check_eq "work: Expunge Near -> delete = local" local "$(key_of "$out" work delete)"
    check_eq "work: the global Create Both" both "$(key_of "$out" work create)"
    check_eq "personal: port" 6789 "$(key_of "$out" personal port)"
    check_eq "personal: Expunge Both" both "$(key_of "$out" personal delete)"
    check_eq "remote: the tunnel" "ssh -q host.remote.com /usr/sbin/imapd" "$(key_of "$out" remote tunnel)"
    check_eq "remote: the global Expunge None" none "$(key_of "$out" remote delete)"
    check_eq "o2o: host without imaps:" foo.bar.com "$(key_of "$out" o2o host)"
    check_eq "o2o: imaps: -> tls = imaps" imaps "$(key_of "$out" o2o tls)"
    check_eq "o2o: CertificateFile" "~/.server-certificate.crt" "$(key_of "$out" o2o ca-file)"
    check_eq "o2o: SubFolders Verbatim" verbatim "$(key_of "$out" o2o layout)"
    check_eq "o2o: Patterns %" % "$(key_of "$out" o2o folders)"
    for what in "Sync PullNew Push" "MaxMessages 150" "MaxSize 200k" "RequireSSL no" \
        "Trash Trash" "MapInbox inbox" "TrashRemoteNew yes" "Channel rst" "Channel inbox" \
        "no User"; do
        check_match "sample: '$what' named as not translated" \
            "^# mbsyncrc:[0-9]+: not translated: .*$what" "$(cat "$out")"
    done
    check_match "sample: Group ignored, said" "^# mbsyncrc:52: Group boxes ignored" "$(cat "$out")"
    cp "$out" "$NMS_CONFIG"
    printf '\n[general]\nrules = %s\nstate = %s\n' "$NMSYNC_SRCDIR/rules/default.rules" "$NMS_STATE" >> "$NMS_CONFIG"
    # The sample's CertificateFile: a ca-file must be readable (a missing one is a config
    # error), and a user's own is there.
    : >"$HOME/.server-certificate.crt"
    # o2o: Path ~/Maildir/ and mbsync's default Inbox ~/Maildir: INBOX is the Maildir's
    # root with mbsync, ~/Maildir/INBOX with nmsync, so the output does not load until the
    # user decides (t217).
    check_eq "o2o: maildir FIXME (INBOX elsewhere with mbsync)" "FIXME-~/Maildir" "$(key_of "$out" o2o maildir)"
    check_match "o2o: the reason said" "^# mbsyncrc:[0-9]+: NOT LOADABLE \(maildir = FIXME\): Inbox ~/Maildir: " "$(cat "$out")"
    nmsync_run rules
    check_eq "sample: the output does not load as printed (exit 2)" 2 "$NMS_RC"
    sed -i 's|^maildir = FIXME-|maildir = |' "$NMS_CONFIG"   # the user's decision
    nmsync_run rules
    check_eq "sample: the output loads once decided (nmsync rules: exit 0)" 0 "$NMS_RC"
else
    skip "mbsync's example file is not installed" "no $sample"
fi

# ---- a long-time user's file, against the private Dovecot -----------------------------
dovecot_start
src=$(tap_tmpdir)
for n in i1 i2 s1 r1 x1; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src/i1" "$src/i2"
dovecot_seed Sent "$src/s1"
dovecot_seed register "$src/r1"
dovecot_seed Lists/x "$src/x1"
# mbsync reads a quoted value with '\' escaping the next character.
tunnel=$(dovecot_tunnel_cmd | sed 's/[\\"]/\\&/g')
cat > "$NMS_HOME/.mbsyncrc" <<EOF2
# ~/.mbsyncrc of someone who has used mbsync for years
SyncState *
Create Both
Expunge Both
Remove Both

IMAPAccount work
Host localhost
Port $DOVECOT_TLS_PORT
User $DOVECOT_USER
PassCmd "echo $DOVECOT_PASSWORD"
SSLType IMAPS
SSLVersions TLSv1.2 TLSv1.3
CertificateFile $DOVECOT_CA
AuthMechs LOGIN

IMAPStore work-remote
Account work

MaildirStore work-local
Inbox ~/Maildir/
SubFolders Maildir++

Channel work
Master :work-remote:
Slave :work-local:
Patterns * !register !.register
CopyArrivalDate yes

IMAPAccount home
Tunnel "$tunnel"

IMAPStore home-remote
Account home

MaildirStore home-local
Inbox ~/Mail/home/
SubFolders Maildir++

Channel home
Far :home-remote:
Near :home-local:
Patterns *
Sync All

Group all
Channel work
Channel home
EOF2
out=$NMS_HOME/user.conf
"$NMSYNC" import-mbsyncrc > "$out" 2> "$NMS_HOME/user.err"   # default: ~/.mbsyncrc
check_eq "user: exit 0" 0 "$?"
check_eq "user: two accounts" "work home" "$(accounts_of "$out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "work: host" localhost "$(key_of "$out" work host)"
check_eq "work: port" "$DOVECOT_TLS_PORT" "$(key_of "$out" work port)"
check_eq "work: tls" imaps "$(key_of "$out" work tls)"
check_eq "work: user" "$DOVECOT_USER" "$(key_of "$out" work user)"
check_eq "work: password-command" "echo $DOVECOT_PASSWORD" "$(key_of "$out" work password-command)"
check_eq "work: no password copied" "" "$(key_of "$out" work password)"
check_eq "work: ca-file" "$DOVECOT_CA" "$(key_of "$out" work ca-file)"
check_eq "work: maildir (Inbox ~/Maildir/)" "~/Maildir" "$(key_of "$out" work maildir)"
check_eq "work: layout (SubFolders Maildir++)" maildir++ "$(key_of "$out" work layout)"
check_eq "work: folders (Patterns)" "* !register !.register" "$(key_of "$out" work folders)"
check_eq "work: create (Create Both)" both "$(key_of "$out" work create)"
check_eq "work: delete (Expunge Both, Master/Slave spelling)" both "$(key_of "$out" work delete)"
check_eq "home: tunnel" "$(dovecot_tunnel_cmd)" "$(key_of "$out" home tunnel)"
check_eq "home: no host, user or password" "" \
    "$(key_of "$out" home host)$(key_of "$out" home user)$(key_of "$out" home password-command)"
check_eq "home: maildir" "~/Mail/home" "$(key_of "$out" home maildir)"
for what in "SSLVersions TLSv1.2" "AuthMechs LOGIN" "CopyArrivalDate yes" "Remove Both"; do
    check_match "user: '$what' named as not translated" \
        "^# mbsyncrc:[0-9]+: not translated: $what" "$(cat "$out")"
done
check_match "user: Group ignored" "^# mbsyncrc:[0-9]+: Group all ignored" "$(cat "$out")"
check_eq "user: no SyncState note (SyncState * is adopt's default)" "" "$(grep 'mbsync-state' "$out")"

cp "$out" "$NMS_CONFIG"
printf '\n[general]\nrules = %s\nstate = %s\n' "$NMSYNC_SRCDIR/rules/default.rules" "$NMS_STATE" >> "$NMS_CONFIG"
nmsync_run rules
check_eq "user: the output loads (nmsync rules: exit 0)" 0 "$NMS_RC"
srv0=$(server_state)
nmsync_run -n sync
check_eq "user: -n sync: exit 0" 0 "$NMS_RC"
check_eq "user: -n sync changed nothing on the server" "$srv0" "$(server_state)"
nmsync_run --no-rules sync
check_eq "user: sync: exit 0" 0 "$NMS_RC"
NMS_MAILDIR=$HOME/Maildir
check_eq "work: INBOX, 2 messages" 2 "$(local_count INBOX)"
check_eq "work: Sent" 1 "$(local_count Sent)"
check_eq "work: Lists/x (Maildir++ .Lists.x)" 1 "$(find "$HOME/Maildir/.Lists.x/cur" "$HOME/Maildir/.Lists.x/new" -type f | wc -l)"
check_eq "work: register left out (Patterns !register)" "" "$(ls -d "$HOME/Maildir/.register" 2>/dev/null)"
NMS_MAILDIR=$HOME/Mail/home
check_eq "home (tunnel): INBOX, 2 messages" 2 "$(local_count INBOX)"
check_eq "home (tunnel): register too (Patterns *)" 1 "$(local_count register)"

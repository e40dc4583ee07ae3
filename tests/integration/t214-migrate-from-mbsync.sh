#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The steps of nmsync(1) MIGRATING FROM MBSYNC, taken from the man page and run as written,
# from a running mbsync + notmuch setup (the real mbsync against the private Dovecot, tags
# added by hand, an mbsync timer) to nmsync: import-mbsyncrc, adopt --clean (after -n), sync,
# the systemd units turned off and on (checked with systemd-analyze verify; systemctl itself
# is a stand-in here). Nothing is downloaded again (Dovecot's log), nothing is on either side
# twice, mbsync's files are gone only after the adopt, and `notmuch dump` is the same after as
# before.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v mbsync >/dev/null || skip_all "mbsync (isync) is not installed"
command -v notmuch >/dev/null || skip_all "notmuch is not installed"

# The steps: the lines between the markers, roff requests dropped, escapes undone.
steps=$(sed -n '/^\.\\" migration-steps-begin/,/^\.\\" migration-steps-end/p' "$NMSYNC_SRCDIR/man/nmsync.1" |
    grep -v '^\.' | sed -e 's/\\-/-/g' -e 's/\\e/\\/g')
[ -n "$steps" ] || bail_out "no migration steps between the markers in man/nmsync.1"

dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 m5 m6 m7 a1 a2 r1 late; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src"/m{1,2,3,4,5,6}        # UIDs 1..6
dv expunge mailbox INBOX uid 2,4                # UID gaps: mbsync's own numbers differ
dovecot_seed Archive "$src"/a{1,2}
dovecot_seed register "$src/r1"
dv flags add '\Seen' mailbox INBOX uid 1

nmsync_setup </dev/null
export HOME=$NMS_HOME
unset XDG_CONFIG_HOME XDG_STATE_HOME NMSYNC_CONFIG
mkdir -p "$HOME/bin" "$HOME/.config/systemd/user"
ln -s "$NMSYNC" "$HOME/bin/nmsync"
export PATH=$HOME/bin:$PATH
NMS_MAILDIR=$HOME/Maildir
cat > "$HOME/.mbsyncrc" <<EOF2
IMAPAccount dv
Host 127.0.0.1
Port $DOVECOT_PORT
User $DOVECOT_USER
PassCmd "echo $DOVECOT_PASSWORD"
SSLType None
AuthMechs LOGIN

IMAPStore dv-remote
Account dv

MaildirStore dv-local
Inbox ~/Maildir/
SubFolders Maildir++

Channel dv
Far :dv-remote:
Near :dv-local:
Patterns * !register
Create Both
Expunge Both
SyncState *
EOF2
printf '[Unit]\nDescription=mbsync\n[Service]\nType=oneshot\nExecStart=/usr/bin/mbsync -a\n' \
    > "$HOME/.config/systemd/user/mbsync.service"
printf '[Unit]\nDescription=mbsync timer\n[Timer]\nOnUnitActiveSec=5min\n[Install]\nWantedBy=timers.target\n' \
    > "$HOME/.config/systemd/user/mbsync.timer"
# nmsync's units where a package puts them for the user manager to find
cp "$NMSYNC_SRCDIR/systemd/nmsync.service" "$NMSYNC_SRCDIR/systemd/nmsync.timer" "$HOME/.config/systemd/user/"

# The running setup: mbsync has synced, notmuch has indexed, the user has tagged.
check "mbsync -a (the setup before)" timeout 60 mbsync -a
nmsync_notmuch ".uidvalidity;.mbsyncstate;.mbsyncstate.journal;.mbsyncstate.new;.mbsyncstate.lock"
notmuch tag +important -- id:m5@nmsync.test
notmuch tag +work -inbox -- id:a2@nmsync.test
notmuch tag +todo -- id:m3@nmsync.test
dovecot_seed INBOX "$src/late"                  # arrives after mbsync's last timer run
mbfiles=$(find "$NMS_MAILDIR" -name '.mbsyncstate' -o -name '.uidvalidity' | sort)
check_eq "mbsync's state in each folder it synced (all but register)" \
    "$(($(server_folders | grep -vc '^register$') * 2))" "$(printf '%s\n' "$mbfiles" | grep -c .)"

# systemctl: no user manager runs here; the stand-in logs the call and verifies the unit.
systemctl () {
    local unit=${*: -1} dir=$HOME/.config/systemd/user out
    printf '%s\n' "$*" >> "$HOME/systemctl.log"
    [ -f "$dir/$unit" ] || { echo "systemctl: no unit $unit" >&2; return 1; }
    command -v systemd-analyze >/dev/null || return 0
    out=$(cd "$dir" && systemd-analyze verify --man=no "./$unit" "./${unit%.*}.service" 2>&1) && return 0
    printf '%s' "$out" | grep -q 'Failed to initialize manager' && return 0
    printf '%s: %s\n' "$unit" "$out" >> "$HOME/verify.log"
}
dovecot_mark () { _MARK=$(dovecot_log | grep -c 'Logged out'); }
bodies_since_mark () {
    dovecot_log | grep 'Logged out' | tail -n +"$((_MARK + 1))" |
        sed -n 's/.* body_count=\([0-9]*\).*/\1/p' | awk '{n += $1} END {print n + 0}'
}

i=0
while IFS= read -r line; do
    [ -n "$line" ] || continue
    i=$((i + 1))
    case $line in
        "nmsync import-mbsyncrc"*) srv_before=$(server_state) ;;
        "nmsync sync"*) dump_before=$(cat "$HOME/notmuch-before-nmsync.dump") ;;
    esac
    dovecot_mark
    # a step is one shell command line, as a user pastes it
    ( eval "$line" ) </dev/null >"$HOME/step.$i.out" 2>"$HOME/step.$i.err"
    rc=$?
    check_eq "step $i: '$line': exit 0" 0 "$rc"
    [ "$rc" -eq 0 ] || sed 's/^/#   /' "$HOME/step.$i.err"
    case $line in
        "nmsync -n adopt"*)
            check_eq "step $i: -n names each of mbsync's files it would remove" "$mbfiles" \
                "$(sed -n "s/.*would remove mbsync's '\(.*\)'/\1/p" "$HOME/step.$i.err" | sort)"
            check_eq "step $i: -n removed none" "$mbfiles" \
                "$(find "$NMS_MAILDIR" -name '.mbsyncstate' -o -name '.uidvalidity' | sort)"
            check_eq "step $i: -n read no body" 0 "$(bodies_since_mark)" ;;
        "nmsync adopt"*)
            check_eq "step $i: adopt read no body" 0 "$(bodies_since_mark)"
            check_match "step $i: INBOX paired exactly" "INBOX: 5 paired exactly, 0 by content, 0 downloaded, 0 local-only" "$(cat "$HOME/step.$i.err")"
            check_eq "step $i: mbsync's files removed (--clean)" "" \
                "$(find "$NMS_MAILDIR" -name '.mbsyncstate*' -o -name '.uidvalidity')" ;;
        "nmsync sync"*)
            check_eq "step $i: sync read no body" 0 "$(bodies_since_mark)"
            check_eq "step $i: the server as before the migration" "$srv_before" "$(server_state)"
            # The late message mbsync fetched in step 2 was never indexed (no notmuch new
            # since): nmsync's sync indexes it, with notmuch's new.tags.
            check_eq "step $i: notmuch dump as before the migration (but the late message)" \
                "$dump_before" "$(notmuch dump -- not id:late@nmsync.test)" ;;
    esac
done <<<"$steps"

check_eq "systemctl: mbsync's timer off, nmsync's on" \
    "--user disable --now mbsync.timer
--user enable --now nmsync.timer" "$(cat "$HOME/systemctl.log")"
check_eq "systemd-analyze verify: no complaints" "" "$(cat "$HOME/verify.log" 2>/dev/null)"
check "the config was written where nmsync looks" test -s "$HOME/.config/nmsync/config"
collect_sides
check_eq "no Message-ID twice on the server" "" "$(printf '%s\n' "$SRV" | awk 'NF {print $NF}' | sort | uniq -d)"
check_eq "no Message-ID twice locally" "" "$(printf '%s\n' "$LOC" | awk 'NF {print $NF}' | sort | uniq -d)"
check_eq "every server message but register's is local" \
    "$(printf '%s\n' "$SRV" | awk 'NF && $1 != "register" {print $1, $NF}' | sort)" \
    "$(printf '%s\n' "$LOC" | awk 'NF {print $1, $NF}' | sort)"
check_eq "notmuch: one file per message" "" \
    "$(notmuch search --output=files '*' | xargs -r -n1 basename | sed 's/,.*//' | sort | uniq -d)"
check_eq "notmuch: every file it knows exists" "" \
    "$(notmuch search --output=files '*' | while read -r p; do [ -e "$p" ] || echo "$p"; done)"
check_eq "notmuch: the late message indexed once, as new mail" "1 +inbox +unread -- id:late@nmsync.test" \
    "$(notmuch count --output=files id:late@nmsync.test) $(notmuch dump -- id:late@nmsync.test | grep -v '^#')"
check_eq "notmuch: the hand-made tags kept" "+important +inbox +unread -- id:m5@nmsync.test" \
    "$(notmuch dump -- id:m5@nmsync.test | grep -v '^#')"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync adopt` of a copy of the server's Dovecot Maildir whose messages carry keywords:
# Dovecot writes them as letters a-z in file names, numbered by each folder's
# dovecot-keywords in the order the keywords were first used, while nmsync gives its own
# letters to the keywords of its [keywords] rules. Here Dovecot's 'a' is $NotJunk and 'b' is
# $Junk, nmsync's the other way round: adopt must read Dovecot's letters by dovecot-keywords,
# so no keyword on the server is taken as removed or added locally. After adopt and a sync,
# the server holds exactly the keywords it held, and each file carries nmsync's letters (a
# custom keyword nmsync does not sync keeps no letter).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 m3 m4 m5; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src"/m{1,2,3,4,5}         # UIDs 1..5
dv flags add '$NotJunk' mailbox INBOX uid 1     # Dovecot's letter a
dv flags add '$Junk' mailbox INBOX uid 2        # b
dv flags add 'custom1' mailbox INBOX uid 3      # c
dv flags add '$Junk \Seen' mailbox INBOX uid 4
dv flags add '$NotJunk $Junk' mailbox INBOX uid 5

nmsync_setup_dovecot
rules=$NMS_HOME/keywords.rules
printf '[keywords]\nspam = $Junk\nnotspam = $NotJunk\n' > "$rules"
sed -i "/^\[general\]/a rules = $rules" "$NMS_CONFIG"
mkdir -p "$NMS_MAILDIR"
# Dovecot writes the letters into the names only when asked for the files: force it.
dv force-resync mailbox INBOX >/dev/null 2>&1 || true
cp -a "$DOVECOT_MAILDIR/." "$NMS_MAILDIR/"
check "the copy carries dovecot-keywords" test -f "$NMS_MAILDIR/dovecot-keywords"
check_eq "Dovecot's letters: a = \$NotJunk, b = \$Junk, c = custom1" '0 $NotJunk
1 $Junk
2 custom1' "$(cat "$NMS_MAILDIR/dovecot-keywords")"
letters_of () { # the keyword letters in the name of the file of message $1
    local f
    f=$(grep -l "<$1@" "$NMS_MAILDIR"/cur/* "$NMS_MAILDIR"/new/* 2>/dev/null | head -n1)
    f=${f##*:2,}
    printf '%s\n' "${f//[A-Z]/}"
}
check_eq "the copy: m2's name carries Dovecot's b for \$Junk" b "$(letters_of m2)"
nmsync_notmuch "/dovecot[-.]/"
srv0=$(server_state)

nmsync_run adopt
check_eq "adopt: exit 0" 0 "$NMS_RC"
check_match "adopt: all paired exactly" "test: INBOX: 5 paired exactly" "$(cat "$NMS_ERR")"
check_eq "adopt: the server unchanged" "$srv0" "$(server_state)"
# nmsync's letters: a = $Junk, b = $NotJunk (its [keywords] order); custom1 has none.
check_eq "m1 (\$NotJunk): nmsync's b" b "$(letters_of m1)"
check_eq "m2 (\$Junk): nmsync's a" a "$(letters_of m2)"
check_eq "m3 (custom1, not synced by nmsync): no letter" "" "$(letters_of m3)"
check_eq "m4 (\$Junk): nmsync's a" a "$(letters_of m4)"
check_eq "m5 (both): ab" ab "$(letters_of m5)"

nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: the server's keywords and flags as before" "$srv0" "$(server_state)"
check_eq "m1: \$NotJunk on the server" '$NotJunk' "$(server_flags INBOX 1)"
check_eq "m2: \$Junk on the server" '$Junk' "$(server_flags INBOX 2)"
check_eq "m3: custom1 on the server" 'custom1' "$(server_flags INBOX 3)"
check_eq "notmuch: m2 tagged spam" 1 "$(notmuch count id:m2@nmsync.test and tag:spam)"
check_eq "notmuch: m1 not tagged spam" 0 "$(notmuch count id:m1@nmsync.test and tag:spam)"
nmsync_run sync
check_eq "a second sync: nothing to do" "" "$(cat "$NMS_OUT")"
check_eq "a second sync: the server as before" "$srv0" "$(server_state)"

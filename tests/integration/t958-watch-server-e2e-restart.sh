#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync watch` across a server restart, end to end: the Dovecot is stopped by PID while watch
# runs; watch logs the outage once (however many reconnect attempts fail), stays up, and
# connects again when the server is back. A message delivered into the server's Maildir while
# Dovecot was down (written there directly, as an MDA would) and one saved right after the
# restart are not lost: the sweep after the reconnect brings both into the Maildir and notmuch;
# one saved after the reconnect arrives on NOTIFY. Nothing duplicated on either side;
# SIGTERM: exit 0.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
dovecot_seed INBOX 1
nmsync_setup_dovecot 'watch-interval = 3600'
nmsync_notmuch

uid_of () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | awk '{ print $2 }'; }
indexed () { [ "$(notmuch count "id:$1@nmsync.test")" -ge 1 ]; }
local_has () { [ -n "$(local_file "$1" "$(uid_of "$1" "$2")")" ]; }
outage_lines () { grep 'server: ' "$T/watch.err" | grep -vc 'connected again'; }

"$NMSYNC" -c "$NMS_CONFIG" watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
check "the first pass downloads INBOX (bounded: 20 s)" \
    wait_for "first pass" 20 eval '[ "$(local_count INBOX)" = 1 ]'
sleep 1

archive=$(dv mailbox path Archive)
dovecot_stop
check "the outage is logged (bounded: 10 s)" wait_for "outage" 10 eval '[ "$(outage_lines)" -ge 1 ]'
# Delivered while the server is down: straight into the server's Maildir (tmp/, then new/).
mail_file "$DOVECOT_MAILDIR/tmp/1800000000.M1P1.mda" r-down1
[ "$(id -u)" = 0 ] && chown 65534:65534 "$DOVECOT_MAILDIR/tmp/1800000000.M1P1.mda"
mv "$DOVECOT_MAILDIR/tmp/1800000000.M1P1.mda" "$DOVECOT_MAILDIR/new/"
# ... and into a folder nothing else touches, so only the sweep after the reconnect finds it.
mail_file "$archive/tmp/1800000000.M2P1.mda" r-down2
[ "$(id -u)" = 0 ] && chown 65534:65534 "$archive/tmp/1800000000.M2P1.mda"
mv "$archive/tmp/1800000000.M2P1.mda" "$archive/new/"
sleep 4 # reconnect attempts after 1, 2 and 4 s fail meanwhile
check_eq "the outage is logged once" 1 "$(outage_lines)"
check "watch stays up while the server is down" _tap_alive "$watch"

dovecot_restart
mail_file "$T/r-up1.eml" r-up1
dovecot_seed INBOX "$T/r-up1.eml" # most likely before watch reconnects (backoff)
check "after the reconnect: the message delivered while down is searchable (bounded: 30 s)" \
    wait_for "indexed" 30 indexed r-down1
check "after the reconnect: the message saved right after the restart is searchable" \
    wait_for "indexed" 5 indexed r-up1
check "after the reconnect: the Archive message delivered while down is searchable" \
    wait_for "indexed" 10 indexed r-down2
check "it is in the local Archive with its UID" local_has Archive r-down2
check "both are in the local INBOX with their UIDs" eval 'local_has INBOX r-down1 && local_has INBOX r-up1'
check_match "the reconnect is logged" 'connected again' "$(cat "$T/watch.err")"
check_eq "the outage is still logged once" 1 "$(outage_lines)"
mail_file "$T/r-up3.eml" r-up3
dovecot_seed Archive "$T/r-up3.eml"
check "after the reconnect NOTIFY works again: an Archive message arrives (bounded: 10 s)" \
    wait_for "indexed" 10 indexed r-up3

sleep 1
collect_sides
check_eq "no duplicate on the server" "" "$(printf '%s\n' "$SRV" | awk '{ print $NF }' | sort | uniq -d)"
check_eq "no duplicate locally" "" "$(printf '%s\n' "$LOC" | awk '{ print $NF }' | sort | uniq -d)"
check "both sides agree" agree_by_uid
check_eq "notmuch: one file per message" "" \
    "$(notmuch search --output=files --duplicate=2 '*' 2>/dev/null)"

check "watch is still running" _tap_alive "$watch"
kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
diag "watch stderr:" "$(cat "$T/watch.err")"
diag "watch stdout:" "$(cat "$T/watch.out")"

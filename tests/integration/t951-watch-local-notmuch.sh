#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync watch` wakes up on local changes, with no timer and no signal: a message a mail client
# writes into Sent/cur is on the server (by Message-ID) within seconds; `notmuch tag +spam` puts
# the message into the server's Junk (the same message: Dovecot GUID unchanged). A
# `nmsync sync` from a terminal while watch runs waits for the lock if it must and then finds
# the account in step: exit 0, nothing duplicated on either side. Runs that change nothing
# print nothing; the watch stays up throughout and exits 0 on SIGTERM.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"

T=$(tap_tmpdir)
dovecot_start
for id in w-spam1 w-ham1; do
    mail_file "$T/$id.eml" "$id"
done
dovecot_seed INBOX "$T/w-spam1.eml" "$T/w-ham1.eml"
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules

guid_of () { dv fetch guid mailbox "$1" header message-id "<$2@nmsync.test>" | sed -n 's/^guid: //p'; }
server_has () { dv search mailbox "$1" header message-id "<$2@nmsync.test>" | grep -c .; }
has_on_server () { [ "$(server_has "$1" "$2")" -ge 1 ]; }
indexed () { [ "$(notmuch count "id:$1@nmsync.test")" -ge 1 ]; }

"$NMSYNC" -c "$NMS_CONFIG" ${WATCH_V:-} watch >"$T/watch.out" 2>"$T/watch.err" &
watch=$!
at_exit tap_kill "$watch"
check "the first pass downloads and indexes INBOX (bounded: 20 s)" \
    wait_for "first pass" 20 indexed w-ham1
guid=$(guid_of INBOX w-spam1)

# (1) a mail client saves a sent message straight into Sent/cur.
sent=$(local_dir Sent)
check "Sent exists locally after the first pass" test -d "$sent/cur"
mail_file "$sent/cur/1700000001.M1P1.client:2,S" w-sent1
t0=$EPOCHREALTIME
check "local wake-up: the sent message is on the server (bounded: 10 s)" \
    wait_for "Sent on the server" 10 has_on_server Sent w-sent1
t1=$EPOCHREALTIME
diag "local wake-up took $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
check_eq "local wake-up: exactly one copy on the server" 1 "$(server_has Sent w-sent1)"

# (2) notmuch tag +spam: a rules run, then the push of the folders it moved mail into.
notmuch tag +spam -- id:w-spam1@nmsync.test
check "notmuch wake-up: the message is in the server's Junk (bounded: 10 s)" \
    wait_for "Junk on the server" 10 has_on_server Junk w-spam1
check_eq "notmuch wake-up: gone from the server's INBOX" 0 "$(server_has INBOX w-spam1)"
check_eq "notmuch wake-up: the same message (GUID unchanged)" "$guid" "$(guid_of Junk w-spam1)"

# (3) nothing happens: no run line for runs that change nothing.
sleep 2
lines=$(wc -l <"$T/watch.out")
f=$(find "$sent/cur" -type f | head -n 1)
mv "$f" "$f.x" && mv "$f.x" "$f" # events with no change behind them
sleep 2
check_eq "a run that changes nothing prints nothing" "$lines" "$(wc -l <"$T/watch.out")"

# (4) `nmsync sync` from a terminal while watch runs: no error, no duplicate.
nmsync_run sync
check_eq "sync while watch runs: exit 0" 0 "$NMS_RC"
check_eq "sync while watch runs: no error" "" "$(cat "$NMS_ERR")"
sleep 1
collect_sides
check_eq "no duplicate on the server" "" "$(printf '%s\n' "$SRV" | awk '{ print $NF }' | sort | uniq -d)"
check_eq "no duplicate locally" "" "$(printf '%s\n' "$LOC" | awk '{ print $NF }' | sort | uniq -d)"
check "all local messages are on the server" all_uploaded
check_match "the spam message carries \$Junk on the server" '\$Junk' "$(dv fetch flags mailbox Junk header message-id '<w-spam1@nmsync.test>')"
# Keyword letters (a-z) are the account's own; collect_sides knows only the system flags.
LOC=$(printf '%s\n' "$LOC" | sed 's/\[\([A-Z]*\)[a-z]*\]/[\1]/')
check "both sides agree (system flags)" agree_by_uid

check "watch is still running" _tap_alive "$watch"
kill -TERM "$watch"
rc=0
wait "$watch" || rc=$?
check_eq "SIGTERM: exit 0" 0 "$rc"
check_eq "watch wrote no error" "" "$(grep -v '^$' "$T/watch.err")"
diag "watch stdout:" "$(cat "$T/watch.out")"

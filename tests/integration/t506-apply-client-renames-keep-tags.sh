#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# The rules stage (apply) meets files another program renamed: a message must never leave the
# notmuch database (and with it every tag the user gave it) because its file has a name apply
# cannot find. Part 1, deterministic, no server: a mail client rewrote 3 of 20 files under a
# new unique part (copy, then unlink: the old name is gone, no file has its unique part) and
# the user tags 5 messages +spam, one of them rewritten. After `nmsync apply`: all 20 still in
# notmuch with tag:keep, the 4 others in Junk; after `notmuch new` (which pairs the new names
# with the messages) and apply again, all 5 in Junk, tags kept. Before the fix apply removed
# the stale filename, the message's last one: notmuch deleted the 3 messages with their tags,
# and `notmuch new` added them back as new mail without +keep.
# Part 2, a bounded storm against Dovecot: a client re-flags every file (new/ -> cur/, within
# cur/, same unique part) every 50 ms for 6 s while `nmsync sync` runs in a loop and the user
# tags 30 of 200 messages +spam: no message ever missing from notmuch, tag:keep on all 200,
# each spam message exactly once on the server, in Junk (the hostile-tester script
# 11-watch-notmuch-tags-lost.sh with MODE=sync, smaller).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"

# --- part 1: files rewritten under a new unique part -------------------------------------
nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = nobody
password = unused
EOF2
mkdir -p "$NMS_MAILDIR"/{cur,new,tmp} "$NMS_MAILDIR"/.Junk/{cur,new,tmp}
for ((i = 1; i <= 20; i++)); do
    printf 'From: a@example.org\nSubject: %s\nMessage-ID: <k%s@nmsync.test>\n\nbody %s\n' \
        "$i" "$i" "$i" >"$NMS_MAILDIR/cur/$((1700000000 + i)).M${i}P1.host,U=$i:2,S"
done
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run apply
[ "$NMS_RC" = 0 ] || bail_out "the first apply exited $NMS_RC"
notmuch tag +keep -- '*'
for i in 1 2 3; do   # the client rewrites k1..k3 under new unique parts
    f=$(find "$NMS_MAILDIR/cur" -name "$((1700000000 + i)).M${i}P1.*")
    cp "$f" "$NMS_MAILDIR/cur/1800000000.M${i}P2.client:2,S" && rm "$f"
done
notmuch tag +spam -- id:k3@nmsync.test id:k4@nmsync.test id:k5@nmsync.test \
    id:k6@nmsync.test id:k7@nmsync.test
nmsync_run apply
check_eq "apply: exit 0" 0 "$NMS_RC"
check_eq "apply: all 20 messages still in notmuch" 20 "$(notmuch count '*')"
check_eq "apply: tag:keep on all 20" 20 "$(notmuch count tag:keep)"
check_eq "apply: the 4 spam messages it could find are in Junk" 4 "$(local_count Junk)"
check_eq "apply: the rewritten spam message is left in INBOX" 1 \
    "$(grep -l '^Message-ID: <k3@' "$NMS_MAILDIR"/cur/* | grep -c .)"
notmuch new >/dev/null 2>&1
check_eq "notmuch new: still 20 messages" 20 "$(notmuch count '*')"
check_eq "notmuch new: no message came back as new mail (tag:keep on all 20)" 20 \
    "$(notmuch count tag:keep)"
nmsync_run apply
check_eq "apply again: exit 0" 0 "$NMS_RC"
check_eq "apply again: the 5 spam messages in Junk" 5 "$(local_count Junk)"
check_eq "apply again: 15 in INBOX" 15 "$(local_count INBOX)"
check_eq "apply again: tag:keep on all 20" 20 "$(notmuch count tag:keep)"

# --- part 2: a re-flagging client while sync runs in a loop ------------------------------
N=200
dovecot_start
dovecot_seed INBOX $N >/dev/null || bail_out "seeding"
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules
nmsync_run sync
[ "$NMS_RC" = 0 ] || bail_out "the first sync exited $NMS_RC"
notmuch tag +keep -- '*'
[ "$(notmuch count tag:keep)" = $N ] || bail_out "not all $N messages indexed"
python3 - "$NMS_MAILDIR" 6 <<'PY' &
import os, sys, time, random
root, dur = sys.argv[1], float(sys.argv[2])
cur = os.path.join(root, "cur")
end = time.time() + dur
while time.time() < end:
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(root, sub)):
            base = name.split(":2,")[0]
            try:
                os.rename(os.path.join(root, sub, name),
                          os.path.join(cur, base + ":2," + random.choice(["S", "FS", "RS", ""])))
            except FileNotFoundError:
                pass
    time.sleep(0.05)
PY
renamer=$!
at_exit tap_kill "$renamer"
sleep 1
SPAM=$(notmuch search --output=messages '*' | head -30)
printf '%s\n' "$SPAM" | sed 's/^/+spam -- /' | notmuch tag --batch
min=$N
for ((round = 0; round < 40; round++)); do
    _tap_alive "$renamer" || break
    nmsync_run sync
    c=$(notmuch count '*' 2>/dev/null) && [ -n "$c" ] && [ "$c" -lt "$min" ] && min=$c
done
tap_kill "$renamer"
nmsync_run sync
nmsync_run sync
check_eq "storm: no message ever missing from notmuch (fewest seen)" $N "$min"
check_eq "storm: $N messages in notmuch at the end" $N "$(notmuch count '*')"
check_eq "storm: tag:keep on all $N" $N "$(notmuch count tag:keep)"
for id in $(comm -13 <(notmuch search --output=messages '*' | sed 's/^id://' | sort) \
    <(seq -f 'seed-%g@nmsync.test' 1 $N | sort)); do
    diag "$id: missing from notmuch; what the runs said of it:"
    grep -h "$id" "$NMS_HOME"/err.* "$NMS_HOME"/out.* | head -5 | while IFS= read -r l; do diag "  $l"; done
done
check_eq "storm: server INBOX+Junk still $N" $N \
    "$(($(dv search mailbox INBOX all | grep -c .) + $(dv search mailbox Junk all | grep -c .)))"
bad=0
for id in $SPAM; do
    id=${id#id:}
    n=$(dv search mailbox Junk header message-id "<$id>" | grep -c .)
    [ "$n" = 1 ] || { bad=$((bad + 1)); diag "$id: $n times in Junk on the server"; }
done
check_eq "storm: every spam message exactly once in Junk on the server" 0 "$bad"

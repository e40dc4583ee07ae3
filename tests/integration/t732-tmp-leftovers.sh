#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync's own leftovers in tmp/: a pull killed with SIGKILL in the middle of a download (the
# scripted server stops in the middle of the literal, so the kill lands there every time)
# leaves its partial file in tmp/. The next run removes it, and only it: a tmp/ file of
# another program (the Maildir convention gives those 36 hours), an nmsync-named tmp/ file of
# a process that still runs and one written on another host all stay.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dir=$(tap_tmpdir)

# body UID: the FETCH reply lines that deliver message UID whole.
body () {
    local text="Subject: message $1"$'\r\n\r\nbody\r\n'
    echo "  * 1 FETCH (UID $1 BODY[] {${#text}}"
    echo "  raw:Subject: message $1\\r\\n\\r\\nbody\\r\\n"
    echo '  )'
}

# script HANG: INBOX with UID 5; with HANG=1 its literal stops after a few bytes and the
# server waits (bounded: 20 s).
script () {
    echo 'greeting * PREAUTH fake ready'
    echo 'on LIST'
    echo '  * LIST () "/" "INBOX"'
    echo '  $TAG OK done'
    echo 'on EXAMINE'
    echo '  * 1 EXISTS'
    echo '  * OK [UIDVALIDITY 7] x'
    echo '  * OK [UIDNEXT 6] x'
    echo '  $TAG OK [READ-ONLY] done'
    echo 'on UID FETCH 1:*'
    echo '  * 1 FETCH (UID 5 FLAGS (\Seen) RFC822.SIZE 300000)'
    echo '  $TAG OK done'
    echo 'on UID FETCH 5 ('
    if [ "$1" = 1 ]; then
        # More than libetpan's 64 KiB chunk, so that the first chunk reaches nmsync.
        echo '  raw:* 1 FETCH (UID 5 BODY[] {300000}\r\nSubject: message 5\r\n\r\n'
        echo "  repeat 1000 $(printf '%098d' 0)\\r\\n"
        echo '  sleep 20'
    else
        body 5
        echo '  $TAG OK done'
    fi
    echo 'on *'
    echo '  $TAG OK done'
}
script 1 >"$dir/hang"
script 0 >"$dir/good"

nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/hang")
timeout = 60
EOF2
T=$NMS_MAILDIR/tmp

# Every process below @1, deepest last.
descendants () {
    local p
    for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        echo "$p"
        descendants "$p"
    done
}
tmp_files () { find "$T" -maxdepth 1 -type f -printf '%f\n' 2>/dev/null | LC_ALL=C sort; }
has_tmp () { [ -n "$(tmp_files)" ]; }

# ---- a pull killed in the middle of the download --------------------------------------
"$NMSYNC" -c "$NMS_CONFIG" pull </dev/null >"$dir/killed.out" 2>"$dir/killed.err" &
pid=$!
at_exit tap_kill "$pid"
check "the pull starts writing the message into tmp/ (bounded: 15 s)" \
    wait_for "a file in tmp/" 15 has_tmp
kids=$(descendants "$pid")
kill -KILL "$pid"
{ wait "$pid"; } 2>/dev/null
rc=$?
check_eq "the pull was killed by SIGKILL" 137 "$rc"
for k in $kids; do tap_kill "$k"; done
left=$(tmp_files)
check_match "the killed pull left its partial file in tmp/, named for nmsync and its pid" \
    "^[0-9]+\.M[0-9]+P${pid}Q[0-9]+\..+,nmsync-tmp\$" "$left"
check_eq "nothing in cur/ or new/ from the killed pull" 0 "$(local_count INBOX)"

# ---- files that are not nmsync's leftovers --------------------------------------------
host=$(hostname)
host=${host//\//\\057} host=${host//:/\\072} host=${host//,/\\054}
# Another program's delivery in progress (Dovecot's name form).
foreign=1700000000.M1P1.mailhost,S=30
mail_file "$T/$foreign" foreign-delivery
# An nmsync-named file of a process that runs (a process called nmsync, here a sleep).
bash -c 'exec -a nmsync sleep 60' </dev/null >/dev/null 2>&1 &
live=$!
at_exit tap_kill "$live"
livefile="1700000001.M2P${live}Q0.$host,nmsync-tmp"
mail_file "$T/$livefile" live-nmsync
# An nmsync-named file from another host sharing the Maildir (its pid is not ours to judge).
otherhost="1700000002.M3P${pid}Q0.$host.other,nmsync-tmp"
mail_file "$T/$otherhost" other-host

# ---- the next run -----------------------------------------------------------------------
sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/good")|" "$NMS_CONFIG"
nmsync_run pull
check_eq "the next pull: exit 0" 0 "$NMS_RC"
check_eq "the next pull: the message arrived whole" "Subject: message 5" \
    "$(head -n 1 "$(local_file INBOX 5)")"
check_eq "the next pull: the killed run's leftover is gone, the others stay" \
    "$(printf '%s\n' "$foreign" "$livefile" "$otherhost" | LC_ALL=C sort)" "$(tmp_files)"
check "the live process still runs" _tap_alive "$live"
check_eq "the foreign file is unchanged" "Subject: local message foreign-delivery" \
    "$(sed -n 3p "$T/$foreign")"
nmsync_run pull
check_eq "a third pull: exit 0, tmp/ unchanged" "0 $(printf '%s\n' "$foreign" "$livefile" "$otherhost" | LC_ALL=C sort | paste -sd' ')" \
    "$NMS_RC $(tmp_files | paste -sd' ')"

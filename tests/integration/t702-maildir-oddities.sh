#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A Maildir as people really have it: next to a synced folder's messages lie a file left in
# tmp/, an empty file in cur/, a file misfiled in the folder directory itself, a stray
# subdirectory in cur/, two files with the same ,U=, flag letters unsorted (:2,SF) and
# repeated (:2,SS), and a file name that is not UTF-8. `nmsync sync` deletes and overwrites
# none of them, names on stderr each one it cannot sync, keeps their messages on the server,
# and syncs the rest. Then: at -vvv the password (from password-command) is never printed.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed INBOX 2
dovecot_seed Work 4
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check_eq "initial sync: Work complete" 4 "$(local_count Work)"

W=$(local_dir Work)
f1=$(local_file Work 1) f2=$(local_file Work 2) f3=$(local_file Work 3) f4=$(local_file Work 4)

# The oddities.
tmpfile=$W/tmp/1700000000.M1P1.elsewhere
mail_file "$tmpfile" left-in-tmp
empty=$W/cur/1700000001.M2P2.elsewhere:2,S
: >"$empty"
misfiled=$W/1700000002.M3P3.elsewhere:2,S
mail_file "$misfiled" misfiled
mkdir "$W/cur/stray"
strayfile=$W/cur/stray/1700000003.M4P4.elsewhere:2,S
mail_file "$strayfile" in-a-stray-dir
dupcopy=$W/cur/1700000004.M5P5.elsewhere,U=2:2,S      # a copy of UID 2's file, same ,U=
cp "$f2" "$dupcopy"
unsorted=${f3%:2,*}:2,SF
mv "$f3" "$unsorted"
repeated=${f4%:2,*}:2,SS
mv "$f4" "$repeated"
badbase=$'\xff'1700000005.M6P6.elsewhere
badname=$W/cur/$badbase:2,S
mail_file "$badname" not-utf8-name

odd=("$tmpfile" "$empty" "$misfiled" "$strayfile" "$f2" "$dupcopy" "$unsorted" "$repeated")
snapshot () {
    local f
    for f in "$@"; do
        printf '%s %s\n' "$(sha256sum <"$f" 2>/dev/null | cut -d' ' -f1)" "$f"
    done
}
before=$(snapshot "${odd[@]}")
bad_sum=$(sha256sum <"$badname" | cut -d' ' -f1)

# Normal changes to sync: a local flag change, a new server message (UID 5).
mv "$f1" "${f1%:2,*}:2,FS"
dovecot_seed Work 1

nmsync_run sync
err=$(cat "$NMS_ERR")
diag "exit status of the sync with the oddities: $NMS_RC"
check_eq "oddities: exit 1 (the empty file cannot be uploaded: skipped)" 1 "$NMS_RC"

check_eq "oddities: none deleted, renamed or changed" "$before" "$(snapshot "${odd[@]}")"
check "oddities: the stray subdirectory is still there" test -d "$W/cur/stray"
badnow=$(local_path_of Work "$badbase")
check "oddities: the file with the non-UTF-8 name is still there" test -n "$badnow"
check_eq "oddities: ... with the same content" "$bad_sum" "$(sha256sum <"$badnow" | cut -d' ' -f1)"

# What "reports" means: each file in cur/ or new/ that nmsync cannot sync is named (full
# path) on stderr with the reason. Files outside cur/ and new/ (tmp/, the folder dir, a
# subdir of cur/) are not messages to nmsync: kept, not reported.
names () { grep -aqF -- "$1" "$NMS_ERR"; }
check "reported: the empty file, not uploaded" names "'$empty' not uploaded"
check "reported: unsorted flag letters" names "'$unsorted' left alone"
check_match "reported: ... with the reason" "flags are not sorted unique letters" "$err"
check "reported: repeated flag letters" names "'$repeated' left alone"
check_match "reported: the repeated ,U=2" "file '($f2|$dupcopy)' repeats UID 2; left alone" "$err"
check "not reported: the file in tmp/" bash -c '! grep -aqF -- "$1" "$2"' _ "$tmpfile" "$NMS_ERR"

# The messages of files left alone stay on the server: left alone is not deleted.
check_match "server keeps UID 3 (its local file has :2,SF)" "(^| )3( |$)" "$(server_uids Work)"
check_match "server keeps UID 4 (its local file has :2,SS)" "(^| )4( |$)" "$(server_uids Work)"

# The rest is synced.
check "new server message UID 5 arrived" test -n "$(local_file Work 5)"
check_eq "UID 5 is byte-identical" "$(server_sum Work | grep '^5 ')" "$(local_sum Work | grep '^5 ')"
check_eq "local flag change reached the server (UID 1)" '\Flagged \Seen' "$(server_flags Work 1)"
check_eq "INBOX untouched by the oddities" "$(server_sum INBOX)" "$(local_sum INBOX)"
check "no new file in tmp/ besides the one left there" \
    test "$(find "$W/tmp" -type f)" = "$tmpfile"

# A second sync changes nothing and reports the same.
server_before=$(server_state)
nmsync_run sync
check_eq "second sync: exit 1 again" 1 "$NMS_RC"
check_eq "second sync: oddities still unchanged" "$before" "$(snapshot "${odd[@]}")"
check_eq "second sync: the server unchanged" "$server_before" "$(server_state)"

# The password never shows, even at -vvv. The harness password is "secret"; it comes from a
# password-command here.
nmsync_setup < <(printf 'host = 127.0.0.1\nport = %s\ntls = none\nuser = %s\npassword-command = printf %s\n' \
    "$DOVECOT_PORT" "$DOVECOT_USER" "$DOVECOT_PASSWORD")
check "the config does not hold the password itself" bash -c '! grep -q "^password =" "$1"' _ "$NMS_CONFIG"
nmsync_run -vvv sync
check_eq "-vvv with password-command: exit 0 (logged in)" 0 "$NMS_RC"
check "-vvv: something was logged" test -s "$NMS_ERR"
check "-vvv: '$DOVECOT_PASSWORD' appears nowhere in stdout or stderr" \
    bash -c '! cat "$1" "$2" | grep -aqF -- "$3"' _ "$NMS_OUT" "$NMS_ERR" "$DOVECOT_PASSWORD"

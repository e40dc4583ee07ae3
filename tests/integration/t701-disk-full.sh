#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A full disk during download: the Maildir lives on a small tmpfs, the server holds more than
# fits. The pull stops with an error that says so (exit 1), leaves no file in tmp/ and no
# partial file in cur/ or new/; after the tmpfs grows, a second pull completes the folder,
# every message exactly once. Needs root (mount); skipped otherwise.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to mount a tmpfs"
command -v mount >/dev/null && command -v umount >/dev/null || skip_all "no mount/umount"

# 30 messages of about 20 KiB each (~600 KiB), distinct bodies.
msgs=$(tap_tmpdir)
files=()
for i in $(seq 1 30); do
    f=$msgs/m$i.eml
    {
        printf 'From: Sender %d <sender%d@example.org>\r\n' "$i" "$i"
        printf 'To: Test User <test@example.org>\r\n'
        printf 'Subject: big message %d\r\n' "$i"
        printf 'Date: Tue, 2 Jan 2024 10:%02d:00 +0100\r\n' "$i"
        printf 'Message-ID: <big-%d@nmsync.test>\r\n' "$i"
        printf 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n'
        for l in $(seq 1 270); do
            printf 'message %03d line %03d %s\r\n' "$i" "$l" \
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
        done
    } >"$f"
    files+=("$f")
done

dovecot_start
dovecot_seed INBOX "${files[@]}"
nmsync_setup_dovecot

# Only the Maildir is on the tmpfs; the state dir stays outside it.
mkdir -p "$NMS_MAILDIR"
mount -t tmpfs -o size=300k,mode=0700 tmpfs "$NMS_MAILDIR" 2>/dev/null ||
    skip_all "cannot mount a tmpfs (no privilege in this container?)"
at_exit umount -l "$NMS_MAILDIR"
case $NMS_STATE in "$NMS_MAILDIR"/*) bail_out "the state dir is inside the Maildir" ;; esac

total=$(cat "${files[@]}" | wc -c)
check "the messages ($total bytes) do not fit into 300 KiB" test "$total" -gt $((300 * 1024 * 3 / 2))

nmsync_run pull
err=$(cat "$NMS_ERR")
check_eq "disk full: exit 1" 1 "$NMS_RC"
check_match "disk full: the error says so" "No space left on device" "$err"
check_match "disk full: the error names the account, the folder and the file" \
    "^nmsync: test: folder 'INBOX': cannot write '$NMS_MAILDIR/tmp/[^'/]+': No space left on device\$" "$err"
check "disk full: no file left in any tmp/" no_tmp_leftovers
got=$(local_sum INBOX)
n_named=$(printf '%s' "$got" | grep -c . || true)
diag "after the failed pull: $(local_count INBOX) files in cur/ and new/"
check_eq "disk full: every file in cur/ and new/ carries a UID" "$(local_count INBOX)" "$n_named"
check_eq "disk full: every file in cur/ and new/ is complete and byte-identical" "" \
    "$(comm -23 <(printf '%s\n' "$got" | sed '/^$/d' | sort) <(server_sum INBOX | sort))"
check_eq "disk full: no UID twice" "" "$(dup_uids INBOX)"
check "disk full: nothing downloaded outside cur/ new/ tmp/" \
    test -z "$(find "$NMS_MAILDIR" -type f ! -path '*/cur/*' ! -path '*/new/*' ! -path '*/tmp/*')"

# More room: the second pull finishes the job.
check "the tmpfs grows to 4 MiB" mount -o remount,size=4m "$NMS_MAILDIR"
nmsync_run pull
check_eq "after growing: exit 0" 0 "$NMS_RC"
check_eq "after growing: every message, byte for byte" "$(server_sum INBOX)" "$(local_sum INBOX)"
check_eq "after growing: each exactly once" "$(imap_count INBOX)" "$(local_count INBOX)"
check_eq "after growing: no UID twice" "" "$(dup_uids INBOX)"
check "after growing: no file left in any tmp/" no_tmp_leftovers
nmsync_run pull
check_eq "a third pull: exit 0" 0 "$NMS_RC"
check_eq "a third pull: still exactly once" "$(imap_count INBOX)" "$(local_count INBOX)"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# pull over plain TCP to a private Dovecot on 127.0.0.1: every message of the seeded corpus
# arrives byte-identical, in the right folder, with the right flags; a second pull transfers
# no message body.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed_corpus
nmsync_setup_dovecot

dovecot_mark
nmsync_run pull
check_eq "first pull: exit status 0" 0 "$NMS_RC"
total=0
while IFS= read -r folder; do
    check_mirror "$folder"
    total=$((total + $(imap_count "$folder")))
done < <(server_folders)
check "corpus is not trivial (more than 15 messages)" test "$total" -gt 15
check_eq "every body was sent once" "$total" "$(bodies_since_mark)"
check "nested folder Archive/2024 is .Archive.2024" test -d "$NMS_MAILDIR/.Archive.2024/cur"
check "non-ASCII folder decoded from modified UTF-7" test -d "$NMS_MAILDIR/.Entwürfe/cur"
check "5 MB message arrived whole" \
    test "$(wc -c < "$(local_file INBOX "$(server_uids INBOX | awk '{print $NF}')")")" -gt 5000000
check "no file left in tmp/" no_tmp_leftovers
check "summary line names the account" grep -q "^test: $total new" "$NMS_OUT"
check "state is private (0600)" test "$(stat -c %a "$NMS_STATE/test.db")" = 600

before=$(find "$NMS_MAILDIR" -type f -printf '%p %i %s\n' | sort)
dovecot_mark
nmsync_run pull
check_eq "second pull: exit status 0" 0 "$NMS_RC"
check_eq "second pull: no message body transferred (server log)" 0 "$(bodies_since_mark)"
check_eq "second pull: every file untouched (names, inodes, sizes)" "$before" \
    "$(find "$NMS_MAILDIR" -type f -printf '%p %i %s\n' | sort)"

nmsync_run -v pull test/Sent
check_eq "ACCOUNT/FOLDER argument: exit status 0" 0 "$NMS_RC"
check_match "ACCOUNT/FOLDER: one folder synced" "1 folder in" "$(cat "$NMS_OUT")"
nmsync_run pull test/NoSuchFolder
check_eq "unknown folder argument: exit status 1" 1 "$NMS_RC"
check_match "unknown folder is named" "'NoSuchFolder' does not exist" "$(cat "$NMS_ERR")"

# On a terminal: one status line redrawn in place (carriage return + erase line), then the
# summary. `script` gives nmsync a pseudo-terminal.
rm -rf "$NMS_MAILDIR" "$NMS_STATE"
script -qec "'$NMSYNC' -c '$NMS_CONFIG' pull" /dev/null > "$NMS_HOME/tty.out" 2>&1
check_eq "on a terminal: exit 0" 0 "$?"
check "on a terminal: the status line is redrawn in place" grep -q $'\r\033\[K' "$NMS_HOME/tty.out"
check_match "on a terminal: the status line shows folders, messages, bytes and rate" \
    "folders [0-9]+/[0-9]+, [0-9]+ messages, [0-9.]+ [KMG]?i?B, [0-9.]+ [KMG]?i?B/s" \
    "$(tr '\r' '\n' < "$NMS_HOME/tty.out")"
check "not on a terminal: no control sequences" bash -c "! grep -q $'\033' '$NMS_OUT' '$NMS_ERR'"

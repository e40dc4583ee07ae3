#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# File names near NAME_MAX: new local files whose names are 200, 230, 240, 244, 250 and 255
# bytes long, in INBOX and in a folder with a long name, then three syncs with indexing (a
# notmuch config present). Each message is uploaded exactly once (a name that cannot take
# ",U=<uid>" is renamed to a fresh nmsync name before the upload, instead of failing the rename
# after it and uploading again next run); no local name is longer than 255 bytes; every run
# prints its summary and exits 0 (or 1 naming a file it could not index: libnotmuch must never
# get a name its Xapian term cannot hold, since its INTERNAL_ERROR ends the process); notmuch
# then holds every file, and `notmuch new` afterwards runs cleanly too.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

LONG=Projects/A-folder-with-a-rather-long-name-to-make-the-paths-long-as-well-0123456789-abcdefghijklmnopqrstuvwxyz
LENGTHS="200 230 240 244 250 255"

# name_of LEN TAG: a file name of LEN bytes: "TAG-LEN-" padded with 'x', then ":2,S".
name_of () {
    local head="$2-$1-" pad
    pad=$(head -c $(($1 - ${#head} - 4)) /dev/zero | tr '\0' x)
    printf '%s%s:2,S\n' "$head" "$pad"
}
# server_ids FOLDER: the Message-IDs of FOLDER's messages on the server, sorted.
server_ids () { dv -f tab fetch 'hdr.message-id' mailbox "$1" all | tail -n +2 | tr -d ' <>' | sort; }
longest_name () {
    find "$NMS_MAILDIR" -type f -printf '%f\n' | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }'
}

dovecot_start
dovecot_seed INBOX 2
dovecot_seed "$LONG" 1
nmsync_setup_dovecot
nmsync_notmuch
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check_eq "initial sync: the long folder is there" 1 "$(local_count "$LONG")"

expected_inbox=$(server_ids INBOX)
expected_long=$(server_ids "$LONG")
for n in $LENGTHS; do
    name=$(name_of "$n" in)
    check_eq "set-up: INBOX name of $n bytes" "$n" "${#name}"
    mail_file "$(local_dir INBOX)/cur/$name" "in-$n"
    mail_file "$(local_dir "$LONG")/cur/$(name_of "$n" lf)" "lf-$n"
    expected_inbox=$(printf '%s\nin-%s@nmsync.test\n' "$expected_inbox" "$n" | sort)
    expected_long=$(printf '%s\nlf-%s@nmsync.test\n' "$expected_long" "$n" | sort)
done
files=$(( $(local_count INBOX) + $(local_count "$LONG") ))

for run in 1 2 3; do
    # -v: the summary line also for a run that changes nothing
    nmsync_run -v sync
    case $NMS_RC in
        0) check "sync $run: exit 0" true ;;
        1) check_match "sync $run: exit 1 names a file notmuch cannot index" \
               "cannot index|too long" "$(cat "$NMS_ERR")" ;;
        *) check_eq "sync $run: exit 0 or 1" 0 "$NMS_RC" ;;
    esac
    check_match "sync $run: the summary is printed" "^test: .*uploaded" "$(cat "$NMS_OUT")"
    check_eq "sync $run: INBOX: every message exactly once on the server" "$expected_inbox" \
        "$(server_ids INBOX)"
    check_eq "sync $run: long folder: every message exactly once on the server" "$expected_long" \
        "$(server_ids "$LONG")"
    check_eq "sync $run: no file lost or added locally" "$files" \
        "$(( $(local_count INBOX) + $(local_count "$LONG") ))"
    check "sync $run: no local name longer than 255 bytes ($(longest_name))" \
        test "$(longest_name)" -le 255
done
collect_sides
check "every local file carries its UID" all_uploaded
check "both sides agree UID by UID" agree_by_uid
check_eq "sync 1 uploaded them all (12)" 12 "$(grep -o '[0-9]* uploaded' "$NMS_HOME/out.2" | head -n 1 | cut -d' ' -f1)"
check_eq "notmuch holds every file" "$files" "$(notmuch count --output=files '*')"
for n in $LENGTHS; do
    check_eq "notmuch finds in-$n once" 1 "$(notmuch count --output=files "id:in-$n@nmsync.test")"
    check_eq "notmuch finds lf-$n once" 1 "$(notmuch count --output=files "id:lf-$n@nmsync.test")"
done
check "notmuch new afterwards exits 0" notmuch new
check_eq "notmuch new changes nothing" "$files" "$(notmuch count --output=files '*')"

# apply: a 230-byte file `notmuch new` indexed (its directory id is short), tagged spam and
# moved to Junk by the rules: the move gives it a fresh name that can take a ",U=" and that
# notmuch can always index; the index follows in place (tags kept); the next sync uploads it
# once, to Junk.
nmsync_rules spam.rules
mail_file "$(local_dir INBOX)/cur/$(name_of 230 ap)" ap-230
notmuch new >/dev/null 2>&1
check_eq "apply set-up: notmuch new indexed the 230-byte name" 1 "$(notmuch count id:ap-230@nmsync.test)"
nmsync_run apply
check_eq "apply set-up: the first apply (the arrival in INBOX): exit 0" 0 "$NMS_RC"
notmuch tag +spam -- id:ap-230@nmsync.test
nmsync_run apply
check_eq "apply: exit 0" 0 "$NMS_RC"
f=$(notmuch search --output=files id:ap-230@nmsync.test)
check_eq "apply: notmuch has the message once" 1 "$(printf '%s\n' "$f" | grep -c .)"
check_match "apply: in Junk" "/\.Junk/cur/" "$f"
check "apply: that file exists" test -f "$f"
check "apply: its name is at most 224 bytes" test "$(basename "$f" | wc -c)" -le 225
check_eq "apply: the tag is kept" 1 "$(notmuch count id:ap-230@nmsync.test and tag:spam)"
nmsync_run sync
check_eq "sync after apply: exit 0" 0 "$NMS_RC"
check_eq "sync after apply: uploaded once, to Junk" "ap-230@nmsync.test" \
    "$(server_ids Junk | grep -x 'ap-230@nmsync.test')"
check_eq "sync after apply: not in INBOX on the server" "" \
    "$(server_ids INBOX | grep -x 'ap-230@nmsync.test')"
check "sync after apply: no local name longer than 255 bytes" test "$(longest_name)" -le 255
check_eq "sync after apply: notmuch has it once, in Junk, with its tag" 1 \
    "$(notmuch count --output=files 'id:ap-230@nmsync.test and tag:spam and folder:.Junk')"
check "notmuch new at the end exits 0" notmuch new

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Absence of evidence is never a deletion: the Maildir root unmounted (an empty mount point),
# missing, pointed elsewhere by an edited `maildir =`, or laid out differently stops the
# account before any server change (exit 2, one sentence naming the directory), also under -n,
# and creates nothing; the same Maildir moved to another path (same marker) goes on; a state
# written before the marker existed gets one on the next run. The server is checked whole
# (messages, bytes, flags, UIDNEXT) and nothing is uploaded or downloaded again afterwards.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed --flags '\Seen' INBOX 6
dovecot_seed Small 3
dovecot_seed Tiny 1
dovecot_seed --flags '\Seen' Big 12
nmsync_setup_dovecot
nmsync_run sync
check_eq "initial sync: exit 0" 0 "$NMS_RC"
check "initial sync: the root carries nmsync's marker" test -s "$NMS_MAILDIR/.nmsync-maildir"
srv=$(server_state)
check_eq "initial sync: all 22 messages local" 22 \
    "$(find "$NMS_MAILDIR" -path '*/cur/*' -o -path '*/new/*' -type f | grep -c .)"

# refused RUN DESCRIPTION PATTERN: a dry run and a real run both stop with exit 2 and a
# sentence matching PATTERN; the server and the directory $2 stay as they were.
refused () {
    local what=$1 dir=$2 pattern=$3 before
    before=$(find "$dir" 2>/dev/null | sort)
    nmsync_run -n sync
    check_eq "$what: -n sync exits 2" 2 "$NMS_RC"
    check_match "$what: -n says why" "$pattern" "$(cat "$NMS_ERR")"
    nmsync_run sync
    check_eq "$what: sync exits 2" 2 "$NMS_RC"
    check_match "$what: sync says why" "$pattern" "$(cat "$NMS_ERR")"
    check_eq "$what: the server is unchanged" "$srv" "$(server_state)"
    check_eq "$what: nothing created in '$dir'" "$before" "$(find "$dir" 2>/dev/null | sort)"
    nmsync_run pull
    check_eq "$what: pull exits 2 too" 2 "$NMS_RC"
    nmsync_run push
    check_eq "$what: push exits 2 too" 2 "$NMS_RC"
    check_eq "$what: the server is unchanged after pull and push" "$srv" "$(server_state)"
    check_eq "$what: still nothing created" "$before" "$(find "$dir" 2>/dev/null | sort)"
}

# 1. The disk is not mounted: the mount point is an empty directory.
mv "$NMS_MAILDIR" "$NMS_HOME/disk"
mkdir "$NMS_MAILDIR"
refused "unmounted disk" "$NMS_MAILDIR" "maildir '$NMS_MAILDIR'.*mounted"
rmdir "$NMS_MAILDIR"

# 2. The mount point itself is missing.
refused "missing root" "$NMS_MAILDIR" "maildir '$NMS_MAILDIR' does not exist"

# 3. maildir = edited to another, empty directory.
mkdir "$NMS_HOME/other"
sed -i "s|^maildir = .*|maildir = $NMS_HOME/other|" "$NMS_CONFIG"
refused "maildir = edited" "$NMS_HOME/other" "maildir '$NMS_HOME/other'"

# 4. maildir = pointing into another nmsync's Maildir (another marker).
mkdir -p "$NMS_HOME/foreign/cur" "$NMS_HOME/foreign/new" "$NMS_HOME/foreign/tmp"
printf 'nmsync maildir 00000000-0000-0000-0000-000000000000\n' > "$NMS_HOME/foreign/.nmsync-maildir"
sed -i "s|^maildir = .*|maildir = $NMS_HOME/foreign|" "$NMS_CONFIG"
refused "another nmsync's Maildir" "$NMS_HOME/foreign" "another"

# 5. The disk is back, at a new path (the user moved the Maildir and fixed maildir =): the
#    marker proves it is the same Maildir; nothing moves on either side.
sed -i "s|^maildir = .*|maildir = $NMS_HOME/disk|" "$NMS_CONFIG"
dovecot_mark
nmsync_run sync
check_eq "moved Maildir: exit 0" 0 "$NMS_RC"
check_eq "moved Maildir: the server is unchanged" "$srv" "$(server_state)"
check_eq "moved Maildir: nothing downloaded" 0 "$(bodies_since_mark)"
check_eq "moved Maildir: no file deleted or added" 22 \
    "$(find "$NMS_HOME/disk" -path '*/cur/*' -o -path '*/new/*' -type f | grep -c .)"
NMS_MAILDIR="$NMS_HOME/disk"

# 6. layout = changed with the same Maildir: refused, not turned into deletions.
printf 'layout = verbatim\n' >> "$NMS_CONFIG"
refused "layout changed" "$NMS_MAILDIR" "layout"
sed -i '/^layout = verbatim$/d' "$NMS_CONFIG"

# 7. A state written by an nmsync before the marker existed: the next run adds the marker
#    (the root holds the folders the state knows) and changes nothing else.
rm "$NMS_MAILDIR/.nmsync-maildir"
sqlite3 "$NMS_STATE/test.db" "DELETE FROM meta WHERE key LIKE 'maildir.%'"
nmsync_run sync
check_eq "state from before the marker: exit 0" 0 "$NMS_RC"
check "state from before the marker: the marker is written" test -s "$NMS_MAILDIR/.nmsync-maildir"
check_eq "state from before the marker: the server is unchanged" "$srv" "$(server_state)"

# ... but not when the root it would mark is empty (an unmounted disk at upgrade time).
rm "$NMS_MAILDIR/.nmsync-maildir"
sqlite3 "$NMS_STATE/test.db" "DELETE FROM meta WHERE key LIKE 'maildir.%'"
mv "$NMS_MAILDIR" "$NMS_HOME/disk2"
mkdir "$NMS_MAILDIR"
refused "state from before the marker, empty root" "$NMS_MAILDIR" "mounted"
rmdir "$NMS_MAILDIR"
mv "$NMS_HOME/disk2" "$NMS_MAILDIR"
nmsync_run sync
check_eq "state from before the marker, disk back: exit 0" 0 "$NMS_RC"
check_eq "state from before the marker, disk back: the server is unchanged" "$srv" "$(server_state)"

# 8. A second account copied from the first, with the same maildir =: refused, nothing
#    paired, nothing uploaded or deleted.
cp "$NMS_CONFIG" "$NMS_HOME/config.orig"
sed -n '/^\[account test\]/,$p' "$NMS_CONFIG" | sed 's/^\[account test\]/[account copy]/' >> "$NMS_CONFIG"
srv=$(server_state)
loc=$(local_state)
nmsync_run sync copy
check_eq "second account on the same Maildir: exit 2" 2 "$NMS_RC"
check_match "second account on the same Maildir: says whose it is" "belongs to account 'test'" "$(cat "$NMS_ERR")"
check_eq "second account on the same Maildir: the server is unchanged" "$srv" "$(server_state)"
check_eq "second account on the same Maildir: the Maildir is unchanged" "$loc" "$(local_state)"
cp "$NMS_HOME/config.orig" "$NMS_CONFIG"

# 9. A fresh account: -n creates nothing at all (no Maildir, no state, no lock file).
sed -i "s|^maildir = .*|maildir = $NMS_HOME/fresh|; s|^state = .*|state = $NMS_HOME/fresh-state|" "$NMS_CONFIG"
nmsync_run -n sync
check_eq "fresh account, -n: exit 0" 0 "$NMS_RC"
check "fresh account, -n: no Maildir created" test ! -e "$NMS_HOME/fresh"
check "fresh account, -n: no state directory created" test ! -e "$NMS_HOME/fresh-state"
check_match "fresh account, -n: says it would download the folders" \
    "Big: would create the folder locally and download 12 messages" "$(cat "$NMS_ERR")"
nmsync_run sync
check_eq "fresh account: exit 0" 0 "$NMS_RC"
check "fresh account: marker written" test -s "$NMS_HOME/fresh/.nmsync-maildir"
check_eq "fresh account: the server is unchanged" "$srv" "$(server_state)"


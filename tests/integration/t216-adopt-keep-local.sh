#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync adopt --local-only=keep`: files that pair with no server message (mail the user
# keeps only locally: an old archive, drafts of another machine) are recorded as kept. No
# later sync uploads them, deleting one locally deletes nothing on the server, and a kept file
# given a new unique name is a new local message again (uploaded once). `-n` says what it
# would keep and records nothing; the default stays "upload on the next sync" (t212).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
src=$(tap_tmpdir)
for n in m1 m2 x1 x2; do mail_file "$src/$n" "$n"; done
dovecot_seed INBOX "$src"/m{1,2}                  # UIDs 1, 2
dv flags add '\Seen' mailbox INBOX uid 1        # as the local copy of m1

nmsync_setup_dovecot
d=$NMS_MAILDIR
mkdir -p "$d"/{cur,new,tmp}
cp "$src/m1" "$d/cur/1700000001_0.100.host:2,S"
cp "$src/m2" "$d/cur/1700000002_0.100.host:2,"
cp "$src/x1" "$d/cur/1700000008_0.100.host:2,S"  # only local
cp "$src/x2" "$d/cur/1700000009_0.100.host:2,"   # only local
srv0=$(server_state)

nmsync_run -n adopt --local-only=keep
check_eq "-n adopt: exit 0" 0 "$NMS_RC"
check_match "-n adopt: the summary says kept" \
    "test: INBOX: 0 paired exactly, 2 by content, 0 to download, 2 local-only \(kept, never uploaded\)" \
    "$(cat "$NMS_ERR")"
nmsync_run adopt --local-only=bogus
check_eq "adopt --local-only=bogus: usage error" 2 "$NMS_RC"

nmsync_run -v adopt --local-only=keep
check_eq "adopt: exit 0" 0 "$NMS_RC"
check_match "adopt: the summary says kept" "2 local-only \(kept, never uploaded\)" "$(cat "$NMS_ERR")"
check_match "adopt -v: names each kept file" "keeps local-only '.*1700000008_0.100.host:2,S'" "$(cat "$NMS_ERR")"
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"
check_eq "sync: nothing uploaded" "$srv0" "$(server_state)"
check "sync: the kept files stay as they are" \
    test -f "$d/cur/1700000008_0.100.host:2,S" -a -f "$d/cur/1700000009_0.100.host:2,"
rm "$d/cur/1700000009_0.100.host:2,"
nmsync_run sync
check_eq "a kept file deleted: sync exit 0" 0 "$NMS_RC"
check_eq "a kept file deleted: nothing on the server changes" "$srv0" "$(server_state)"
# A new unique name: a new local message, uploaded once.
mv "$d/cur/1700000008_0.100.host:2,S" "$d/cur/1700000010_0.100.host:2,S"
nmsync_run sync
check_eq "renamed kept file: sync exit 0" 0 "$NMS_RC"
check_eq "renamed kept file: uploaded once" "1 2 3" "$(server_uids INBOX)"
nmsync_run sync
check_eq "then: nothing more" "1 2 3" "$(server_uids INBOX)"

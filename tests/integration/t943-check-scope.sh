#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `nmsync check`'s edges: a clean account exits 0 with one row per folder and nothing else;
# ACCOUNT/FOLDER checks that folder only; --json is one valid object per account carrying the
# same rows; the server is only read (its state unchanged, and a new message keeps \Recent,
# which a read-write SELECT would clear: EXAMINE only); check without --fix takes no lock, --fix waits for it (exit 4
# when another nmsync holds it); a server that is down is exit 3.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed INBOX 3
dovecot_seed Archive 2
nmsync_setup_dovecot
nmsync_notmuch
nmsync_run sync
check_eq "sync: exit 0" 0 "$NMS_RC"

srv0=$(server_state)
nmsync_run check
check_eq "clean: exit 0" 0 "$NMS_RC"
check_match "clean: INBOX row" "^test/INBOX +3 +3 +3 +0$" "$(cat "$NMS_OUT")"
check_match "clean: Archive row" "^test/Archive +2 +2 +2 +0$" "$(cat "$NMS_OUT")"
check_eq "clean: only the header and folder rows" "" "$(awk 'NR > 1 && $2 !~ /^[0-9-]+$/' "$NMS_OUT")"
check_eq "check: the server unchanged" "$srv0" "$(server_state)"

mail_file "$(local_dir Archive)/cur/1700000001.M1P1.host:2,S" loc1
nmsync_run check test/Archive
check_eq "test/Archive: exit 1 (a local-only message)" 1 "$NMS_RC"
check_eq "test/Archive: no INBOX row" "" "$(grep '^test/INBOX' "$NMS_OUT")"
check_match "test/Archive: the local-only row" "^test/Archive +local-only +loc1@nmsync.test$" "$(cat "$NMS_OUT")"

nmsync_run --json check
check_eq "--json: exit 1" 1 "$NMS_RC"
check "--json: valid JSON" python3 -m json.tool "$NMS_OUT"
check_eq "--json: the issue" "Archive local-only loc1@nmsync.test" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
print(*[" ".join((i["folder"], i["kind"], i["object"])) for i in d["issues"]], sep="\n")' "$NMS_OUT")"
check_eq "--json: INBOX counts" "3 3 3 0" "$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
f = [f for f in d["folders"] if f["folder"] == "INBOX"][0]
print(f["server"], f["local"], f["notmuch"], f["issues"])' "$NMS_OUT")"

dovecot_seed INBOX 1
nmsync_run check
check_eq "check: a new message's \\Recent kept (EXAMINE, never SELECT)" '\Recent' \
    "$(dv fetch flags mailbox INBOX uid 4 | sed -n 's/^flags: *//p')"
nmsync_run sync
check_eq "sync: the same message's \\Recent cleared (the test can tell)" '' \
    "$(dv fetch flags mailbox INBOX uid 4 | sed -n 's/^flags: *//p')"

exec {lockfd}>>"$NMS_STATE/test.lock"
flock "$lockfd"
NMSYNC_LOCK_WAIT=0 nmsync_run check
check_eq "check under another's lock: it runs (exit 0, all in step)" 0 "$NMS_RC"
NMSYNC_LOCK_WAIT=0 nmsync_run check --fix
check_eq "check --fix under another's lock: exit 4" 4 "$NMS_RC"
exec {lockfd}>&-

dovecot_stop
sleep 1
nmsync_run check
check_eq "server down: exit 3" 3 "$NMS_RC"

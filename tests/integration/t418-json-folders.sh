#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# --json: the per-account object carries per-folder counts ("per_folder": name -> new, bytes,
# flags_changed, deleted, server {uploaded, bytes, flags_changed, deleted, moved}, skipped),
# only for folders where something happened; the folder counts add up to the account's.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (to parse the JSON)"
dovecot_start
dovecot_seed INBOX 2
dovecot_seed Archive 1
nmsync_setup_dovecot

# field EXPR: the Python expression EXPR over the object o of account test in $NMS_OUT.
field () {
    python3 - "$NMS_OUT" "$1" <<'PY'
import json, sys
objs = []
for line in open(sys.argv[1]):
    try:
        objs.append(json.loads(line))
    except ValueError:
        print("NOT JSON: " + line.strip()); sys.exit(0)
o = next((x for x in objs if x.get("account") == "test"), None)
print(eval(sys.argv[2]) if o is not None else "NO OBJECT")
PY
}

nmsync_run --json sync
check_eq "first sync: exit 0" 0 "$NMS_RC"
check_eq "INBOX: 2 new" 2 "$(field 'o["per_folder"]["INBOX"]["new"]')"
check_eq "Archive: 1 new" 1 "$(field 'o["per_folder"]["Archive"]["new"]')"
check_eq "INBOX: its bytes" True "$(field 'o["per_folder"]["INBOX"]["bytes"] > 0')"
check_eq "folders where nothing happened are left out" "['Archive', 'INBOX']" \
    "$(field 'sorted(o["per_folder"])')"
check_eq "the folder counts add up to the account's" True \
    "$(field 'sum(f["new"] for f in o["per_folder"].values()) == o["new"]')"
check_eq "the server part per folder (sync)" 0 "$(field 'o["per_folder"]["INBOX"]["server"]["uploaded"]')"

mail_file "$(local_dir Sent)/cur/1711000001.M1P1.writer:2,S" jsonsent
dv flags add '\Flagged' mailbox Archive uid 1
nmsync_run --json sync
check_eq "second sync: exit 0" 0 "$NMS_RC"
check_eq "the upload reached the server" 1 "$(imap_count Sent)"
check_eq "Sent: 1 uploaded" 1 "$(field 'o["per_folder"]["Sent"]["server"]["uploaded"]')"
check_eq "Archive: 1 flag changed locally" 1 "$(field 'o["per_folder"]["Archive"]["flags_changed"]')"
check_eq "INBOX left out (nothing happened there)" False "$(field '"INBOX" in o["per_folder"]')"

nmsync_run --json pull
check_eq "nothing to do: exit 0" 0 "$NMS_RC"
check_eq "nothing to do: per_folder is empty" "{}" "$(field 'o["per_folder"]')"
check_eq "pull: no server part" False "$(field '"server" in o')"

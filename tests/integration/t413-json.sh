#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# --json: one JSON object per account on stdout at the end, instead of the summary line, also
# for a run that changed nothing and under -q: counts (local, server, rules), skipped, folders,
# errors, failure, duration. An account that cannot connect has "ok": false and its failure;
# the objects parse (python3's json) whatever the error text holds (quotes, a backslash).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed (to parse the JSON)"
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
T=$(tap_tmpdir)
dovecot_start
mail_file "$T/j1.eml" json1
mail_file "$T/j2.eml" json2
dovecot_seed INBOX "$T/j1.eml" "$T/j2.eml"
nmsync_setup_dovecot
nmsync_notmuch
nmsync_rules default.rules spam.rules
# A second account whose server is not there: a port nothing listens on.
cat >>"$NMS_CONFIG" <<EOF2

[account off\\line"q]
host = 127.0.0.1
port = 1
tls = none
user = nobody
password = x
maildir = $NMS_HOME/Off
EOF2

# field FILE ACCOUNT EXPR: the Python expression EXPR over the object o of ACCOUNT in FILE
# (one object per line), printed; "NOT JSON" when a line does not parse.
field () {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
objs = []
for line in open(sys.argv[1]):
    try:
        objs.append(json.loads(line))
    except ValueError:
        print("NOT JSON: " + line.strip()); sys.exit(0)
o = next((x for x in objs if x.get("account") == sys.argv[2]), None)
print(eval(sys.argv[3]) if o is not None else "NO OBJECT")
PY
}

nmsync_run --json sync
check_eq "--json sync: exit 3 (one account cannot connect)" 3 "$NMS_RC"
check_eq "two lines, one object per account" 2 "$(wc -l <"$NMS_OUT")"
check_eq "test: ok" True "$(field "$NMS_OUT" test 'o["ok"]')"
check_eq "test: 2 new" 2 "$(field "$NMS_OUT" test 'o["new"]')"
check_eq "test: server counts" "0 0" "$(field "$NMS_OUT" test '"%d %d" % (o["server"]["uploaded"], o["server"]["moved"])')"
check_eq "test: rules counts present" True "$(field "$NMS_OUT" test '"tags_changed" in o["rules"]')"
check_eq "test: folders counted" True "$(field "$NMS_OUT" test 'o["folders"] >= 1')"
check_eq "test: a duration" True "$(field "$NMS_OUT" test 'isinstance(o["seconds"], float)')"
check_eq "test: no failure, no errors" "None []" "$(field "$NMS_OUT" test '"%s %s" % (o["failure"], o["errors"])')"
check_eq "off\\line\"q: the name round-trips" 'off\line"q' "$(field "$NMS_OUT" 'off\line"q' 'o["account"]')"
check_eq "off\\line\"q: not ok" False "$(field "$NMS_OUT" 'off\line"q' 'o["ok"]')"
check_match "off\\line\"q: its failure" "connect|refused" "$(field "$NMS_OUT" 'off\line"q' 'o["failure"]')"
check "no summary line" bash -c "! grep -q ' new (' '$NMS_OUT'"

notmuch tag +spam -- id:json1@nmsync.test
nmsync_run -q --json sync test
check_eq "-q --json, spam: one object" 1 "$(wc -l <"$NMS_OUT")"
check_eq "-q --json, spam: the rules moved one, the server moved one" "1 1" \
    "$(field "$NMS_OUT" test '"%d %d" % (o["rules"]["moved"], o["server"]["moved"])')"
nmsync_run --json sync test
check_eq "--json, nothing to do: still one object" 1 "$(wc -l <"$NMS_OUT")"
check_eq "--json, nothing to do: all zero" "0 0 0" \
    "$(field "$NMS_OUT" test '"%d %d %d" % (o["new"], o["server"]["moved"], o["rules"]["moved"])')"

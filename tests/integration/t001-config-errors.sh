#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Config errors: exit status 2 and a message naming file, line and key; nothing touched.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = test
pasword = secret
EOF2
nmsync_run pull
check_eq "unknown key: exit status 2" 2 "$NMS_RC"
check_match "unknown key: file, line and key named" "^nmsync: $NMS_CONFIG:9: key 'pasword'" "$(cat "$NMS_ERR")"
check "unknown key: no Maildir created" test ! -e "$NMS_MAILDIR"
check "unknown key: no state created" test ! -e "$NMS_STATE"

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
port = 99999
user = test
EOF2
nmsync_run pull
check_eq "bad port: exit status 2" 2 "$NMS_RC"
check_match "bad port: line and key named" "$NMS_CONFIG:8: key 'port'" "$(cat "$NMS_ERR")"

nmsync_setup <<EOF2
host = imap.example.org
tls = none
user = test
EOF2
nmsync_run pull
check_eq "plain text to a remote host refused: exit 2" 2 "$NMS_RC"
check_match "plain text refusal names the key" "key 'tls'" "$(cat "$NMS_ERR")"

nmsync_setup <<EOF2
host = 127.0.0.1
tls = none
user = test
password = hunter2-secret
EOF2
chmod 644 "$NMS_CONFIG"
nmsync_run -n pull nosuchaccount
check_eq "unknown account argument: exit 2" 2 "$NMS_RC"
check_match "unknown account named" "no account 'nosuchaccount'" "$(cat "$NMS_ERR")"
check_match "readable config with a password: warning names the file" \
    "warning: $NMS_CONFIG: contains a password" "$(cat "$NMS_ERR")"
check "the password never appears in the output" \
    bash -c "! grep -q hunter2 '$NMS_ERR' '$NMS_OUT'"

NMS_CONFIG="$NMS_HOME/does-not-exist"
nmsync_run pull
check_eq "missing config file: exit 2" 2 "$NMS_RC"
check_match "missing config file named" "does-not-exist" "$(cat "$NMS_ERR")"

out=$(NMSYNC_CONFIG="$NMS_HOME/from-env" XDG_CONFIG_HOME="$NMS_HOME/xdg" "$NMSYNC" pull 2>&1)
check_match "\$NMSYNC_CONFIG is read when -c is absent" "from-env" "$out"
out=$(env -u NMSYNC_CONFIG XDG_CONFIG_HOME="$NMS_HOME/xdg" "$NMSYNC" pull 2>&1)
check_match "then \$XDG_CONFIG_HOME/nmsync/config" "$NMS_HOME/xdg/nmsync/config" "$out"
check_eq "usage error: unknown command" 2 "$( "$NMSYNC" frobnicate >/dev/null 2>&1; echo $? )"
check_eq "usage error: unknown option" 2 "$( "$NMSYNC" --frobnicate >/dev/null 2>&1; echo $? )"
check_match "--help lists pull" "pull" "$("$NMSYNC" --help)"

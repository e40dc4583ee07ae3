#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# pull over TLS (IMAPS and STARTTLS): a certificate checked against ca-file and the host name
# is accepted; a self-signed one without ca-file, or a host name mismatch, is refused with
# exit status 3 before any login, and nothing is written.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed_corpus

account () {  # tls host port [extra line]
    nmsync_setup <<EOF2
host = $2
port = $3
tls = $1
user = $DOVECOT_USER
password = $DOVECOT_PASSWORD
$4
EOF2
}

account imaps localhost "$DOVECOT_TLS_PORT" "ca-file = $DOVECOT_CA"
nmsync_run pull
check_eq "IMAPS with ca-file and matching host: exit 0" 0 "$NMS_RC"
while IFS= read -r folder; do
    check_mirror "$folder"
done < <(server_folders)

dovecot_mark
account imaps localhost "$DOVECOT_TLS_PORT"
nmsync_run pull
check_eq "self-signed certificate without ca-file: exit 3" 3 "$NMS_RC"
check_match "self-signed: says the certificate is not trusted" "not trusted" "$(cat "$NMS_ERR")"
check "self-signed: no message written" test "$(find "$NMS_HOME" -type f -path '*Maildir*' | wc -l)" -eq 0
check_eq "self-signed: no login reached the server" "" \
    "$(dovecot_log | grep 'Logged out' | tail -n +"$((_NMS_MARK + 1))")"

account imaps 127.0.0.1 "$DOVECOT_TLS_PORT" "ca-file = $DOVECOT_CA"
nmsync_run pull
check_eq "host name mismatch: exit 3" 3 "$NMS_RC"
check_match "host name mismatch: says so" "does not match host name '127.0.0.1'" "$(cat "$NMS_ERR")"

account starttls localhost "$DOVECOT_PORT" "ca-file = $DOVECOT_CA"
nmsync_run pull
check_eq "STARTTLS with ca-file: exit 0" 0 "$NMS_RC"
check_mirror INBOX

account starttls localhost "$DOVECOT_PORT"
nmsync_run pull
check_eq "STARTTLS with an untrusted certificate: exit 3" 3 "$NMS_RC"

account imaps localhost "$DOVECOT_TLS_PORT" "ca-file = $DOVECOT_CA"
sed -i "s/^password = .*/password = wrong-password-123/" "$NMS_CONFIG"
nmsync_run -vv pull
check_eq "wrong password: exit 3" 3 "$NMS_RC"
check "wrong password: never printed" bash -c "! grep -q wrong-password-123 '$NMS_ERR' '$NMS_OUT'"

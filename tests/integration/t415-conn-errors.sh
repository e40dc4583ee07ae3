#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Connection errors a new user meets, each said once and in words: a self-signed certificate
# names ca-file; `tls = starttls` against the IMAPS port fails at once with "set tls = imaps"
# (not after the timeout); a ca-file that does not exist is a config error (exit 2) naming the
# file, and creates nothing. A tunnel account opens one connection unless told otherwise.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

T=$(tap_tmpdir)
dovecot_start
dovecot_seed_corpus

account () {  # tls host port [extra line]
    nmsync_setup <<EOF2
host = $2
port = $3
tls = $1
user = $DOVECOT_USER
password = $DOVECOT_PASSWORD
timeout = 60
$4
EOF2
}

# said_once TEXT: TEXT occurs on exactly one line of stdout and stderr together
said_once () { test "$(cat "$NMS_OUT" "$NMS_ERR" | grep -c -- "$1")" -eq 1; }

account imaps localhost "$DOVECOT_TLS_PORT" "ca-file = $T/nowhere/ca.pem"
nmsync_run pull
check_eq "missing ca-file: exit 2 (config error)" 2 "$NMS_RC"
check_match "missing ca-file: file and key named" "$NMS_CONFIG:[0-9]+: key 'ca-file': .*$T/nowhere/ca.pem" "$(cat "$NMS_ERR")"
check "missing ca-file: no Maildir created" test ! -e "$NMS_MAILDIR"
check "missing ca-file: no state created" test ! -e "$NMS_STATE"

account imaps localhost "$DOVECOT_TLS_PORT"
nmsync_run pull
check_eq "self-signed: exit 3" 3 "$NMS_RC"
check_match "self-signed: says so" "self-signed" "$(cat "$NMS_ERR")"
check_match "self-signed: names ca-file" "set ca-file = " "$(cat "$NMS_ERR")"
check "self-signed: said once (not again in the summary)" said_once "not trusted"
check "self-signed: no GnuTLS jargon or status code" bash -c "! grep -qi 'status 0x\|GNUTLS' '$NMS_ERR'"

account starttls localhost "$DOVECOT_TLS_PORT" "ca-file = $DOVECOT_CA"
start=$(date +%s)
nmsync_run pull
took=$(( $(date +%s) - start ))
check_eq "starttls against the IMAPS port: exit 3" 3 "$NMS_RC"
check "starttls against the IMAPS port: fails fast (${took}s, timeout is 60s)" test "$took" -lt 15
check_match "starttls against the IMAPS port: says what to set" \
    "port $DOVECOT_TLS_PORT talks IMAPS.*set tls = imaps" "$(cat "$NMS_ERR")"
check "starttls against the IMAPS port: said once" said_once "talks IMAPS"
check "starttls against the IMAPS port: no Maildir written" \
    test "$(find "$NMS_HOME" -type f -path '*Maildir*' | wc -l)" -eq 0

# A port nothing listens on: the failure said once, still with its cause.
account none 127.0.0.1 1
nmsync_run pull
check_eq "refused: exit 3" 3 "$NMS_RC"
check "refused: said once" said_once "cannot connect"

# Tunnel: each connection is one more login (ssh), so one connection unless configured.
tunnel_counting () { printf 'echo x >>%q; %s' "$T/tunnels" "$(dovecot_tunnel_cmd)"; }
nmsync_setup <<EOF2
tunnel = $(tunnel_counting)
EOF2
: >"$T/tunnels"
nmsync_run pull
check_eq "tunnel: exit 0" 0 "$NMS_RC"
check_eq "tunnel: one connection by default" 1 "$(wc -l <"$T/tunnels")"
nmsync_setup <<EOF2
tunnel = $(tunnel_counting)
connections = 3
EOF2
: >"$T/tunnels"
nmsync_run pull
check_eq "tunnel, connections = 3: exit 0" 0 "$NMS_RC"
check "tunnel, connections = 3: the explicit value wins" test "$(wc -l <"$T/tunnels")" -gt 1


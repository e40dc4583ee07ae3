#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# TLS faults t202 does not cover (it has a self-signed certificate and one for another host):
# an expired certificate over IMAPS, and STARTTLS advertised but then refused (NO, BAD), the
# connection dropped at STARTTLS or right after its OK, plain text after its OK, and a server
# that stops advertising it. Every case: exit 3, the reason named, no LOGIN and no password
# ever sent, nothing written.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/faults.sh"

dir=$(tap_tmpdir)
FAULT_SCRIPTS=$dir
password=secret-pw-4711

account () {  # tls host port [extra line]
    nmsync_setup <<EOF2
host = $2
port = $3
tls = $1
user = test
password = $password
timeout = 5
$4
EOF2
}

# --- an expired certificate (IMAPS) ------------------------------------------------------------
if command -v certtool >/dev/null && command -v openssl >/dev/null; then
    cat >"$dir/expired.tmpl" <<'EOF2'
cn = "localhost"
dns_name = "localhost"
ca
cert_signing_key
tls_www_server
activation_date = "2020-01-01 00:00:00"
expiration_date = "2021-01-01 00:00:00"
EOF2
    certtool --generate-privkey --key-type=ecdsa --outfile "$dir/key.pem" >/dev/null 2>&1
    certtool --generate-self-signed --load-privkey "$dir/key.pem" --template "$dir/expired.tmpl" \
        --outfile "$dir/cert.pem" >/dev/null 2>&1 || bail_out "certtool failed"
    # openssl s_server: TLS on an ephemeral port, our greeting from stdin, what the client
    # sends (decrypted) on its stdout; one connection, and never longer than 30 s.
    tap_spawn bash -c "exec timeout 30 openssl s_server -accept 127.0.0.1:0 -naccept 1 \
        -cert '$dir/cert.pem' -key '$dir/key.pem' -crlf \
        < <(printf '* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\n'; sleep 15) >'$dir/s_server.out' 2>&1"
    wait_for "s_server listens" 10 grep -q '^ACCEPT' "$dir/s_server.out" || bail_out "s_server did not start"
    port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$dir/s_server.out")
    account imaps localhost "$port" "ca-file = $dir/cert.pem"
    fault_run pull
    check_fault "expired certificate" "certificate for 'localhost' has expired" 10
    check_eq "expired certificate: exit 3" 3 "$NMS_RC"
    sleep 0.5
    check "expired certificate: no LOGIN, no password sent" \
        bash -c "! grep -Eqi 'LOGIN|AUTHENTICATE|$password' '$dir/s_server.out'"
    check "expired certificate: the password is never printed" \
        bash -c "! grep -q '$password' '$NMS_ERR' '$NMS_OUT'"
else
    skip "expired certificate" "certtool (gnutls-bin) or openssl missing"
fi

# --- STARTTLS refused or broken ----------------------------------------------------------------
starttls_case () {  # NAME DESC ERE: the script is on stdin (rules after the greeting)
    {
        echo 'greeting * OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] fake ready'
        echo 'on CAPABILITY'
        echo '  * CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN'
        echo '  $TAG OK done'
        cat
        echo 'on *'
        echo '  $TAG OK done'
    } >"$dir/$1"
    fakeimap_start "$dir/$1"
    account starttls 127.0.0.1 "$FAKEIMAP_PORT"
    fault_run pull
    check_fault "$2" "$3" 10
    check_eq "$2: exit 3" 3 "$NMS_RC"
    fakeimap_wait 10
    check "$2: no LOGIN or AUTHENTICATE sent" bash -c "! grep -Eqi 'LOGIN|AUTHENTICATE' '$dir/$1.log'"
    check "$2: the password never left nmsync" bash -c "! grep -q '$password' '$dir/$1.log'"
    check_eq "$2: no Maildir written" "" "$(find "$NMS_MAILDIR" -type f 2>/dev/null)"
}

starttls_case no "STARTTLS answered NO" "STARTTLS.*not now" <<'EOF2'
on STARTTLS
  $TAG NO not now
EOF2
starttls_case bad "STARTTLS answered BAD" "STARTTLS" <<'EOF2'
on STARTTLS
  $TAG BAD no such command
EOF2
starttls_case drop "connection dropped at STARTTLS" "STARTTLS" <<'EOF2'
on STARTTLS
  close
EOF2
starttls_case ok-drop "connection dropped after STARTTLS OK" "STARTTLS.*TLS" <<'EOF2'
on STARTTLS
  $TAG OK begin TLS now
  close
EOF2
starttls_case ok-plain "plain text after STARTTLS OK" "STARTTLS.*TLS" <<'EOF2'
on STARTTLS
  $TAG OK begin TLS now
  * OK still plain text
  sleep 2
EOF2
{
    echo 'greeting * OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready'
    echo 'on CAPABILITY'
    echo '  * CAPABILITY IMAP4rev1 AUTH=PLAIN'
    echo '  $TAG OK done'
    echo 'on *'
    echo '  $TAG OK done'
} >"$dir/absent"
fakeimap_start "$dir/absent"
account starttls 127.0.0.1 "$FAKEIMAP_PORT"
fault_run pull
check_fault "STARTTLS not offered" "does not offer STARTTLS" 10
check_eq "STARTTLS not offered: exit 3" 3 "$NMS_RC"
fakeimap_wait 10
check "STARTTLS not offered: no LOGIN sent (no downgrade)" bash -c "! grep -Eqi 'LOGIN|AUTHENTICATE' '$dir/absent.log'"

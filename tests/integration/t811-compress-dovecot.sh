#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# COMPRESS=DEFLATE (RFC 4978) against Dovecot with imap_zlib. With compress = yes, over plain
# TCP and over TLS (IMAPS): a full pull of the corpus (5 MB attachment included) is byte for
# byte, then a push (APPEND, a flag change, a deletion) and a folder move work over the
# compressed session; a STARTTLS pull too. Dovecot's raw log shows COMPRESS DEFLATE and its
# OK, and -v says the session is compressed. compress = no, and auto to 127.0.0.1 or through
# a tunnel, send no COMPRESS; yes through a tunnel does.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

DOVECOT_COMPRESS=1 dovecot_start
dovecot_seed_corpus

# Dovecot's raw log: one .in (client) and one .out (server) file per session, each line
# prefixed with a timestamp; after COMPRESS both hold deflate data.
RAWLOG=$DOVECOT_DIR/rawlog
mkdir -p "$RAWLOG"
[ "$(id -u)" != 0 ] || chown 65534:65534 "$RAWLOG"
echo "rawlog_dir = $RAWLOG" >>"$DOVECOT_CONF"
dovecot_restart

# wire: the rawlog files of the sessions since the last call (removed afterwards) into
# $WIRE_IN / $WIRE_OUT: the client's and the server's bytes, timestamps stripped.
wire () {
    local f
    WIRE_IN=$(for f in "$RAWLOG"/*.in; do [ -f "$f" ] && cut -d' ' -f2- <"$f"; done | tr -d '\r' | strings -n 3)
    WIRE_OUT=$(for f in "$RAWLOG"/*.out; do [ -f "$f" ] && cat "$f"; done | tr -d '\r' | strings -n 3)
    rm -f "$RAWLOG"/*
}

# compressed WHAT: the session(s) since the last wire call asked for COMPRESS and got OK.
compressed () {
    wire
    check_match "$1: the client sent COMPRESS DEFLATE" '^[0-9]+ COMPRESS DEFLATE$' "$WIRE_IN"
    check_match "$1: the server accepted it" '[0-9]+ OK Begin compression' "$WIRE_OUT"
    check_match "$1: -v says the session is compressed" "session compressed \\(COMPRESS=DEFLATE\\)" \
        "$(cat "$NMS_OUT" "$NMS_ERR")"
}

uncompressed () {
    wire
    check_eq "$1: no COMPRESS on the wire" "" "$(grep -i compress <<<"$WIRE_IN")"
    check_match "$1: the session did run (LOGOUT seen)" 'LOGOUT' "$WIRE_IN"
    check_eq "$1: -v says nothing about compression" "" \
        "$(grep -h 'compressed' "$NMS_OUT" "$NMS_ERR")"
}

# push_and_move WHAT: after a complete pull, a local new message (APPEND), a flag change, a
# deletion and a move INBOX -> Archive, all pushed in one sync over a compressed session.
push_and_move () {
    local what=$1 inbox new_f flag_uid del_uid move_uid move_f base sum
    inbox=$(local_dir INBOX)
    read -r flag_uid del_uid move_uid _ <<<"$(server_uids INBOX)"
    mail_file "$inbox/cur/1712000001.M1P1.$what:2,S" "compress-$what" "2023-03-04 05:06:07 UTC"
    new_f=$(local_path_of INBOX "1712000001.M1P1.$what")
    sum=$(sha256sum <"$new_f" | cut -d' ' -f1)
    f=$(local_file INBOX "$flag_uid")
    mv "$f" "${f%:2,*}:2,FS"
    rm "$(local_file INBOX "$del_uid")"
    move_f=$(local_file INBOX "$move_uid")
    base=$(basename "${move_f%%,U=*}")
    mv "$move_f" "$(local_dir Archive)/cur/$base:2,${move_f##*:2,}"
    local archive_before
    archive_before=$(imap_count Archive)

    nmsync_run -v sync
    check_eq "$what: sync exit 0" 0 "$NMS_RC"
    compressed "$what: sync"
    uid=$(local_uid_of INBOX "1712000001.M1P1.$what")
    check_match "$what: the new message got a UID" '^[0-9]+$' "$uid"
    check_eq "$what: APPEND: on the server byte for byte" "${uid:-0} $sum" \
        "$(server_sum INBOX | grep "^${uid:-0} ")"
    check_eq "$what: flag change reached the server" '\Flagged \Seen' "$(server_flags INBOX "$flag_uid")"
    check_eq "$what: deletion reached the server" "" \
        "$(server_uids INBOX | tr ' ' '\n' | grep -x "$del_uid")"
    check_eq "$what: moved message left INBOX on the server" "" \
        "$(server_uids INBOX | tr ' ' '\n' | grep -x "$move_uid")"
    check_eq "$what: and is in Archive" "$((archive_before + 1))" "$(imap_count Archive)"
    check_match "$what: the moved file carries its Archive UID" '^[0-9]+$' "$(local_uid_of Archive "$base")"
    check_eq "$what: INBOX the same on both sides" "$(server_sums INBOX)" "$(local_sum INBOX)"
    check_eq "$what: Archive the same on both sides" "$(server_sums Archive)" "$(local_sum Archive)"
}

full_pull () {
    local what=$1 folder
    nmsync_run -vv pull
    check_eq "$what: pull exit 0" 0 "$NMS_RC"
    while IFS= read -r folder; do
        check_mirror "$folder"
    done < <(server_folders)
    compressed "$what: pull"
    check_match "$what: -vv counts the compressed bytes" \
        'compressed session: received [0-9]+ bytes \([0-9]+ inflated\)' "$(cat "$NMS_OUT" "$NMS_ERR")"
}

# --- plain TCP ----------------------------------------------------------------------------
wire
nmsync_setup_dovecot "compress = yes"
full_pull "TCP"
push_and_move tcp

# --- TLS (IMAPS) --------------------------------------------------------------------------
nmsync_setup <<EOF2
host = localhost
port = $DOVECOT_TLS_PORT
tls = imaps
ca-file = $DOVECOT_CA
user = $DOVECOT_USER
password = $DOVECOT_PASSWORD
compress = yes
EOF2
full_pull "IMAPS"
push_and_move tls

# --- STARTTLS: the EOF guard is put back over TLS, the layer goes under it -----------------
nmsync_setup <<EOF2
host = localhost
port = $DOVECOT_PORT
tls = starttls
ca-file = $DOVECOT_CA
user = $DOVECOT_USER
password = $DOVECOT_PASSWORD
compress = yes
EOF2
nmsync_run -v pull
check_eq "STARTTLS: pull exit 0" 0 "$NMS_RC"
compressed "STARTTLS: pull"
check_mirror INBOX

# --- when not to compress -----------------------------------------------------------------
nmsync_setup_dovecot "compress = no"
nmsync_run -v pull
check_eq "compress = no: exit 0" 0 "$NMS_RC"
uncompressed "compress = no"
check_mirror INBOX

nmsync_setup_dovecot
nmsync_run -v pull
check_eq "compress = auto (default) to 127.0.0.1: exit 0" 0 "$NMS_RC"
uncompressed "compress = auto to 127.0.0.1"

nmsync_setup <<EOF2
tunnel = $(dovecot_tunnel_cmd)
compress = auto
EOF2
nmsync_run -v pull
check_eq "compress = auto through a tunnel: exit 0" 0 "$NMS_RC"
uncompressed "compress = auto through a tunnel"

sed -i 's/^compress = auto$/compress = yes/' "$NMS_CONFIG"
nmsync_run -v pull
check_eq "compress = yes through a tunnel: exit 0" 0 "$NMS_RC"
compressed "compress = yes through a tunnel"
check_mirror INBOX
check_eq "Dovecot logged no error" "" "$(dovecot_log_errors)"

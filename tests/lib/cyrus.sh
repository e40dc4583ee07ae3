# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# cyrus.sh: a private Cyrus IMAP 3.6 for nmsync integration tests. Source after tap.sh.
# Its imapd comes unpacked (dpkg-deb -x, scripts/deps.sh: cyrus-imapd conflicts with
# dovecot-imapd) under $NMSYNC_SERVERS; master and ctl_cyrusdb from the installed cyrus-common;
# users from sasl2-bin's saslpasswd2 (a private sasldb). Runs as the `cyrus` user, so only when
# the test runs as root (CI does).
# Configuration: unixhierarchysep (separator "/"), altnamespace (personal folders at the top,
# NAMESPACE (("" "/"))), Sent Drafts Trash Junk created at first login with their special-use.
# Every session of user test is logged under $CYRUS_DIR/conf/log/test (cyrus_log prints them).
#
#   cyrus_available       exit 0 when the instance can be started (else prints why not)
#   cyrus_start           start; exports CYRUS_DIR CYRUS_PORT and IMAPC_* for imapsrv.sh;
#                         stopped at exit (by master's pid). Bails out on failure.
#   cyrus_stop            stop it now.
#   cyrus_snapshot DIR / cyrus_restore DIR   copy the whole instance away and back (stopped
#                         meanwhile, started again on the same port).
#   cyrus_log             print the protocol logs of the sessions so far.
#   nmsync_setup_cyrus [LINE...]  nmsync_setup for it (plain TCP, user test, password secret).
# Inspection and seeding: imapsrv.sh (sourced here).

if [ -n "${_CYRUS_SH_LOADED:-}" ]; then
    return 0
fi
_CYRUS_SH_LOADED=1
. "$(dirname "${BASH_SOURCE[0]}")/imapsrv.sh"

_CY_LIBEXEC=/usr/lib/cyrus/bin

cyrus_available () {
    if [ -z "${NMSYNC_SERVERS:-}" ] || [ ! -x "$NMSYNC_SERVERS/usr/lib/cyrus/bin/imapd" ]; then
        echo "cyrus-imapd not unpacked in \$NMSYNC_SERVERS (scripts/deps.sh nmsync_fetch_servers)"
        return 1
    fi
    if [ ! -x "$_CY_LIBEXEC/master" ] || ! command -v saslpasswd2 >/dev/null || ! id cyrus >/dev/null 2>&1; then
        echo "cyrus-common or sasl2-bin not installed"
        return 1
    fi
    [ "$(id -u)" -eq 0 ] || { echo "Cyrus runs as the cyrus user: the test must run as root"; return 1; }
    command -v python3 >/dev/null || { echo "python3 not installed"; return 1; }
}

_cy_stop_dir () {
    local D=$1 pid i
    [ -s "$D/run/master.pid" ] || return 0
    pid=$(cat "$D/run/master.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$D/run/master.pid"
}

# Starts master for the instance in D (listening on PORT), waits until it answers.
_cy_launch () {
    local D=$1 port=$2 i
    setsid su -s /bin/sh cyrus -c "$_CY_LIBEXEC/master -C $D/imapd.conf -M $D/cyrus.conf -p $D/run/master.pid -D" \
        </dev/null >>"$D/master.log" 2>&1 &
    for ((i = 0; i < 100; i++)); do
        if [ -s "$D/run/master.pid" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    bail_out "Cyrus did not start on port $port: $(cat "$D/master.log")"
}

cyrus_start () {
    local why D port i
    why=$(cyrus_available) || bail_out "$why"
    # Under /tmp, not TAP_ROOT (mode 700, root's): the cyrus user must reach it.
    D=$(mktemp -d /tmp/nmsync-cyrus.XXXXXX) || bail_out "mktemp"
    at_exit rm -rf "$D"
    for ((i = 0; i < 50; i++)); do
        port=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    done
    mkdir -p "$D"/conf/{db,socket,proc,lock,log/test,sync,user,quota,msg,ptclient,sieve} "$D/spool" "$D/run"
    cat > "$D/imapd.conf" <<EOC
configdirectory: $D/conf
defaultpartition: default
partition-default: $D/spool
admins: cyrus
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $D/sasldb2
sasl_mech_list: PLAIN LOGIN
allowplaintext: yes
unixhierarchysep: yes
altnamespace: yes
autocreate_quota: 0
autocreate_inbox_folders: Sent | Drafts | Trash | Junk
xlist-sent: Sent
xlist-drafts: Drafts
xlist-trash: Trash
xlist-junk: Junk
specialusealways: yes
idlesocket: $D/conf/socket/idle
lmtpsocket: $D/conf/socket/lmtp
notifysocket: $D/conf/socket/notify
servername: localhost
virtdomains: no
EOC
    cat > "$D/cyrus.conf" <<EOC
START {
  recover cmd="$_CY_LIBEXEC/ctl_cyrusdb -C $D/imapd.conf -r"
}
SERVICES {
  imap cmd="$NMSYNC_SERVERS/usr/lib/cyrus/bin/imapd -C $D/imapd.conf" listen="127.0.0.1:$port" prefork=0
}
EVENTS {
  checkpoint cmd="$_CY_LIBEXEC/ctl_cyrusdb -C $D/imapd.conf -c" period=30
}
EOC
    printf secret | saslpasswd2 -p -f "$D/sasldb2" -c -u localhost test || bail_out "saslpasswd2"
    chown -R cyrus:mail "$D"
    at_exit _cy_stop_dir "$D"
    _cy_launch "$D" "$port"
    export CYRUS_DIR=$D CYRUS_PORT=$port
    export IMAPC_HOST=127.0.0.1 IMAPC_PORT=$port IMAPC_USER=test IMAPC_PASSWORD=secret
    unset IMAPC_TUNNEL
    # The first login creates INBOX and the special-use folders.
    imapc list >/dev/null || bail_out "Cyrus: cannot log in as test"
}

cyrus_stop () { _cy_stop_dir "$CYRUS_DIR"; }

cyrus_snapshot () {
    _cy_stop_dir "$CYRUS_DIR"
    cp -a "$CYRUS_DIR" "$1" || bail_out "cannot copy $CYRUS_DIR"
    _cy_launch "$CYRUS_DIR" "$CYRUS_PORT"
}

cyrus_restore () {
    _cy_stop_dir "$CYRUS_DIR"
    rm -rf "$CYRUS_DIR" && cp -a "$1" "$CYRUS_DIR" || bail_out "cannot restore $CYRUS_DIR"
    _cy_launch "$CYRUS_DIR" "$CYRUS_PORT"
}

cyrus_log () { cat "$CYRUS_DIR"/conf/log/test/* 2>/dev/null; }

nmsync_setup_cyrus () {
    nmsync_setup < <(
        printf 'host = 127.0.0.1\nport = %s\ntls = none\nuser = test\npassword = secret\n' "$CYRUS_PORT"
        [ $# -eq 0 ] || printf '%s\n' "$@"
    )
}

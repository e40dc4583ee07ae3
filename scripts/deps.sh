# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by scripts/demo and scripts/test: installs the Debian packages nmsync needs to build
# and test when any is missing, then configures and builds into ${NMSYNC_BUILD:-build}.

NMSYNC_PACKAGES="build-essential libdpkg-perl meson ninja-build pkg-config
  libetpan-dev libnotmuch-dev libglib2.0-dev libgmime-3.0-dev libsqlite3-dev libgnutls28-dev zlib1g-dev
  dovecot-imapd dovecot-core notmuch openssl gnutls-bin sqlite3 emacs-nox elpa-notmuch isync
  clang libclang-rt-14-dev cyrus-common sasl2-bin gamin python3"

nmsync_install_deps () {
    local missing=() p
    for p in $NMSYNC_PACKAGES ${NMSYNC_EXTRA_PACKAGES:-}; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "nmsync: installing ${missing[*]}" >&2
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null || return 1
    # policy-rc.d keeps the packaged Dovecot from starting a system service: tests and the
    # demo run private instances only.
    $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

nmsync_build () {
    local dir="${NMSYNC_BUILD:-build}"
    if [ ! -f "$dir/build.ninja" ]; then
        # shellcheck disable=SC2086
        meson setup "$dir" ${NMSYNC_MESON_ARGS:-} >/dev/null || { meson setup "$dir" ${NMSYNC_MESON_ARGS:-}; return 1; }
    fi
    ninja -C "$dir" >/dev/null || { ninja -C "$dir"; return 1; }
}

# Cyrus's imapd and Courier both conflict with dovecot-imapd as Debian packages (all provide
# imap-server): their .debs are downloaded and unpacked with dpkg-deb -x into a private root,
# ${NMSYNC_BUILD:-build}/servers (tests get it as NMSYNC_SERVERS), only when it is missing.
# The servers' libraries and users (cyrus-common, sasl2-bin, gamin) come from the packages above.
NMSYNC_SERVER_DEBS="cyrus-imapd courier-imap courier-base courier-authlib libcourier-unicode4"

nmsync_fetch_servers () {
    local root="${NMSYNC_BUILD:-build}/servers"
    [ -x "$root/usr/lib/cyrus/bin/imapd" ] && [ -x "$root/usr/bin/imapd" ] && return 0
    local dl deb
    dl=$(mktemp -d) || return 1
    echo "nmsync: unpacking $NMSYNC_SERVER_DEBS into $root" >&2
    # apt-get download runs as the _apt user when it can: the directory must be writable by it.
    chmod 0777 "$dl"
    # Package lists may be missing or stale (a fresh container): update once and retry.
    if ! ( cd "$dl" && apt-get download -q $NMSYNC_SERVER_DEBS >/dev/null 2>&1 ); then
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null &&
            ( cd "$dl" && apt-get download -q $NMSYNC_SERVER_DEBS >/dev/null ) || { rm -rf "$dl"; return 1; }
    fi
    mkdir -p "$root.tmp" || { rm -rf "$dl"; return 1; }
    for deb in "$dl"/*.deb; do
        dpkg-deb -x "$deb" "$root.tmp" || { rm -rf "$dl" "$root.tmp"; return 1; }
    done
    rm -rf "$dl" "$root"
    mv "$root.tmp" "$root"
}

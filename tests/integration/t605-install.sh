#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# `meson install` installs everything a user runs: the binary, the man pages, rules/ (to
# share/nmsync/rules), the notmuch hooks (executable), emacs/nmsync.el (site-lisp), the
# systemd user units (ExecStart with the installed binary's absolute path, no apply, no
# settings that have no effect; nmsync-watch.service Type=notify) and bash and zsh completion. Installed into a DESTDIR of the
# build directory the tests run from; `systemd-analyze verify` on the installed units (their
# ExecStart pointed into the DESTDIR, where the binary is).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1

command -v meson >/dev/null 2>&1 || skip_all "meson is not on PATH"
BUILD=$(cd "$(dirname "$NMSYNC")/../.." && pwd)
[ -f "$BUILD/build.ninja" ] || skip_all "no build directory above $NMSYNC"
D=$(tap_tmpdir)
check "meson install --destdir" meson install -C "$BUILD" --destdir "$D" --no-rebuild --quiet
prefix=$(meson introspect --buildoptions "$BUILD" | python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
P=$D$prefix

want="bin/nmsync
lib/systemd/user/nmsync-watch.service
lib/systemd/user/nmsync.service
lib/systemd/user/nmsync.timer
share/bash-completion/completions/nmsync
share/emacs/site-lisp/nmsync.el
share/man/man1/nmsync.1
share/man/man5/nmsync-rules.5
share/man/man5/nmsync.conf.5
share/nmsync/hooks/post-new
share/nmsync/hooks/pre-new
share/nmsync/rules/archive.rules
share/nmsync/rules/default.rules
share/nmsync/rules/sent.rules
share/nmsync/rules/spam.rules
share/zsh/site-functions/_nmsync"
check_eq "the installed files" "$want" "$(cd "$P" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)"
check "the binary runs" "$P/bin/nmsync" --version
check "the hooks are executable" test -x "$P/share/nmsync/hooks/pre-new" -a -x "$P/share/nmsync/hooks/post-new"
unit=$P/lib/systemd/user/nmsync.service
check_eq "the service runs the installed binary by its absolute path" "ExecStart=$prefix/bin/nmsync sync" \
    "$(grep '^ExecStart=' "$unit")"
check_eq "the service runs no apply" "" "$(grep -E '^ExecStart(Pre|Post)=' "$unit")"
wunit=$P/lib/systemd/user/nmsync-watch.service
check_eq "the watch service runs the installed binary by its absolute path" \
    "ExecStart=$prefix/bin/nmsync watch" "$(grep '^ExecStart=' "$wunit")"
check_eq "the watch service: Type=notify, restarted on failure" "Type=notify Restart=on-failure" \
    "$(grep -E '^(Type|Restart)=' "$wunit" | paste -sd' ' -)"
check_eq "no RestartPreventExitStatus= without Restart=" "" \
    "$(grep -q '^Restart=' "$unit" || grep '^RestartPreventExitStatus=' "$unit")"
check_eq "no Persistent= without OnCalendar=" "" \
    "$(grep -q '^OnCalendar=' "$P/lib/systemd/user/nmsync.timer" || grep '^Persistent=' "$P/lib/systemd/user/nmsync.timer")"
check "bash completion loads and offers the commands" bash -c \
    ". '$P/share/bash-completion/completions/nmsync' && COMP_WORDS=(nmsync s) COMP_CWORD=1 && _nmsync && [ \"\${COMPREPLY[*]}\" = sync ]"
cfg=$(tap_tmpdir)/config
printf '[account work]\nhost = x\nmaildir = /nonexistent\n[account home]\nhost = y\nmaildir = /nonexistent\n' >"$cfg"
check "bash completion offers the config's accounts" bash -c \
    ". '$P/share/bash-completion/completions/nmsync' && COMP_WORDS=(nmsync -c '$cfg' sync h) COMP_CWORD=4 && _nmsync && [ \"\${COMPREPLY[*]}\" = home ]"

if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze verify: no complaints" "systemd-analyze is not installed"
else
    V=$(tap_tmpdir)
    sed "s|^ExecStart=$prefix/|ExecStart=$P/|" "$unit" >"$V/nmsync.service"
    sed "s|^ExecStart=$prefix/|ExecStart=$P/|" "$wunit" >"$V/nmsync-watch.service"
    cp "$P/lib/systemd/user/nmsync.timer" "$V/"
    if out=$(cd "$V" && systemd-analyze verify --man=no ./nmsync.service ./nmsync.timer \
        ./nmsync-watch.service 2>&1) ||
        ! printf '%s' "$out" | grep -q 'Failed to initialize manager'; then
        check_eq "systemd-analyze verify: no complaints" "" "$out"
    else
        skip "systemd-analyze verify: no complaints" "systemd-analyze cannot start a manager here"
    fi
fi

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Folder names a filesystem cannot hold and LIST replies of absurd size, from a scripted
# server: a name of 10,000 bytes is refused and named (shortened) while the other folders are
# pulled; a LIST of 100,000 folders is read in bounded time and memory and only the requested
# folder is synced (the time and peak memory are printed as diagnostics).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/faults.sh"

dir=$(tap_tmpdir)
FAULT_SCRIPTS=$dir
good_script "$dir/good" 1

# server NAME LIST-LINES-FILE: INBOX with message 1, LIST answered from the file.
server () {
    {
        echo 'greeting * PREAUTH fake ready'
        echo 'on LIST'
        echo '  * LIST () "/" "INBOX"'
        sed 's/^/  /' "$2"
        echo '  $TAG OK done'
        tail -n +2 "$dir/good"
    } >"$dir/$1"
}

# --- a name of 10,000 bytes ------------------------------------------------------------------
long=$(head -c 10000 /dev/zero | tr '\0' n)
printf '* LIST () "/" "%s"\n* LIST () "/" "%s/sub"\n' "$long" "$long" >"$dir/long.list"
server long "$dir/long.list"
for layout in maildir++ verbatim; do
    nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/long")
timeout = 10
layout = $layout
EOF2
    fault_run pull
    check_fault "$layout: a 10,000-byte folder name" "folder 'nnnnnnnnnn.*"
    check "$layout: the error line stays short (the name is shortened)" \
        test "$(wc -L <"$NMS_ERR")" -lt 1000
    check_eq "$layout: INBOX arrived all the same" 1 \
        "$(find "$NMS_MAILDIR" -path '*/cur/*,U=1:2,S' | wc -l)"
    check_eq "$layout: no directory for it" "" "$(find "$NMS_MAILDIR" -name 'nnnnnnnnnn*')"
    [ "$layout" = verbatim ] || check_recovers "$layout: a 10,000-byte folder name" "$dir/good" 1
done

# --- 100,000 folders in one LIST -------------------------------------------------------------
seq -f '* LIST () "/" "folder%06g"' 1 100000 >"$dir/many.list"
server many "$dir/many.list"
nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/many")
timeout = 30
folders = INBOX
EOF2
start=$(date +%s%N)
/usr/bin/time -f '%M' -o "$dir/rss" timeout 120 "$NMSYNC" -c "$NMS_CONFIG" pull \
    </dev/null >"$NMS_HOME/out.many" 2>"$NMS_HOME/err.many"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
rss=$(tail -n 1 "$dir/rss")
diag "100,000 folders in one LIST: ${ms} ms, peak RSS ${rss} KiB"
check_eq "100,000 folders: exit 0" 0 "$rc"
check "100,000 folders: bounded time (under 60 s)" test "$ms" -lt 60000
check "100,000 folders: bounded memory (peak RSS under 512 MiB)" test "$rss" -lt 524288
check "100,000 folders: INBOX arrived" test -n "$(local_file INBOX 1)"
check_eq "100,000 folders: only INBOX was selected" "EXAMINE INBOX" \
    "$(grep -Eo '(SELECT|EXAMINE) .*' "$dir/many.log" | sort -u)"
check_eq "100,000 folders: no other folder made locally" "" \
    "$(find "$NMS_MAILDIR" -mindepth 1 -maxdepth 1 -name '.*' -type d)"

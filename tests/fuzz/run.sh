#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run.sh TARGET SEEDS [libFuzzer options...]: runs a fuzz target over its seed corpus without
# writing into the source tree. libFuzzer adds new inputs to the FIRST corpus directory, so a
# scratch directory goes first and is removed afterwards. A crash, leak or sanitizer report
# leaves TARGET-crash-* (or -leak-, -timeout-, -oom-) in the working directory.
set -u
[ $# -ge 2 ] || { echo "usage: $0 TARGET SEEDS [libFuzzer options...]" >&2; exit 2; }
target=$1
seeds=$2
shift 2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/nmsync-fuzz.XXXXXX") || exit 2
trap 'rm -rf "$scratch"' EXIT
# libFuzzer exits 77 on a finding by default, which meson reads as "skipped".
"$target" -artifact_prefix="$PWD/$(basename "$target")-" -error_exitcode=1 -timeout_exitcode=1 \
    "$@" "$scratch" "$seeds"
rc=$?
[ $rc -eq 0 ] || echo "run.sh: $(basename "$target") failed with status $rc; any reproducer is in $PWD" >&2
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Writes a deterministic message with a ~5 MB base64 attachment (same bytes on every run and
# every machine: the attachment is AES-128-CTR keystream over zeros with a fixed key and IV).
#   gen-large.sh [OUT [RAW_BYTES]]   OUT default: stdout; RAW_BYTES default 3932160, which
#                                    is 5 MiB (5242880 chars) of base64, in 76-char lines.
set -eu
out=${1:--}
raw=${2:-3932160}
case $raw in '' | *[!0-9]*) echo "gen-large.sh: RAW_BYTES must be a number" >&2; exit 2 ;; esac

gen ()
{
    cat <<HDR
From: Scanner Robot <scanner@office.example>
To: Test User <test@example.net>
Subject: Scanned document (large attachment, $raw bytes)
Date: Fri, 22 Mar 2024 10:15:00 +0100
Message-ID: <large-$raw@office.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="large_boundary_5mb"

--large_boundary_5mb
Content-Type: text/plain; charset=us-ascii

The scanned document is attached.

--large_boundary_5mb
Content-Type: application/octet-stream; name="scan-0001.bin"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="scan-0001.bin"

HDR
    # head closes the pipe early; openssl then dies of SIGPIPE, which is expected.
    { openssl enc -aes-128-ctr -nosalt -K 6e6d73796e632d746573742d6c617267 \
        -iv 00000000000000000000000000000000 </dev/zero 2>/dev/null || true; } |
        head -c "$raw" | base64 -w 76
    printf '\n--large_boundary_5mb--\n'
}

if [ "$out" = - ]; then
    gen
else
    gen >"$out.tmp.$$"
    mv "$out.tmp.$$" "$out"
fi

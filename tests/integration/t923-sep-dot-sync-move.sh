#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# t303-sync-move.sh against a server whose hierarchy separator is "." (Dovecot's default for
# Maildir storage), with part (d) moving from a nested folder (Lists/Bulk) to Junk: the same
# assertions, among them that no run creates a folder or finds one gone.
export DOVECOT_SEPARATOR=.
export T303_BULK=Lists/Bulk
exec bash "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/../integration/t303-sync-move.sh"

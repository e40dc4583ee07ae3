#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# t302-sync-merge.sh against a server whose hierarchy separator is "." (Dovecot's default for
# Maildir storage), with the mass-deletion folder nested (Lists/Bulk): the same assertions,
# among them that no run creates a folder or finds one gone.
export DOVECOT_SEPARATOR=.
export T302_BULK=Lists/Bulk
exec bash "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/../integration/t302-sync-merge.sh"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# t501-crash-every-step.sh against a server whose hierarchy separator is "." (Dovecot's default
# for Maildir storage), with the second folder nested (Archive/2024): the same assertions, among
# them that no run creates a folder or finds one gone.
export DOVECOT_SEPARATOR=.
export T501_ARCHIVE=Archive/2024
exec bash "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/../integration/t501-crash-every-step.sh"

#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# pull through a preauthenticated tunnel (Dovecot's imap binary on stdin/stdout, as with
# `ssh host /usr/lib/dovecot/imap`), and a tunnel command that fails.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

dovecot_start
dovecot_seed_corpus
nmsync_setup <<EOF2
tunnel = $(dovecot_tunnel_cmd)
EOF2
nmsync_run pull
check_eq "tunnel: exit status 0" 0 "$NMS_RC"
while IFS= read -r folder; do
    check_mirror "$folder"
done < <(server_folders)
check "tunnel: no file left in tmp/" no_tmp_leftovers
nmsync_run pull
check_eq "tunnel, second pull: exit 0" 0 "$NMS_RC"
check_eq "tunnel, second pull: nothing new, so no summary line" "" "$(cat "$NMS_OUT")"
check "tunnel: no nmsync or imap process left behind" \
    bash -c "! pgrep -f -- '$DOVECOT_CONF' | xargs -r ps -o args= -p | grep -q '^/usr/lib/dovecot/imap'"

nmsync_setup <<EOF2
tunnel = echo 'tunnel broken' >&2; exit 7
EOF2
nmsync_run pull
check_eq "failing tunnel: exit 3" 3 "$NMS_RC"
check_match "failing tunnel: the account is named" "^nmsync: test:" "$(cat "$NMS_ERR")"

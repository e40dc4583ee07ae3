#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Several connections per account ("connections", sync/workers.c): 12 folders of different
# sizes pulled with connections = 4 arrive byte-identical with the server's flags, over several
# logins (at most 4) in one run; connections = 1 gives the same Maildir over one login. A
# folder the server refuses to open is skipped and named while the other workers finish theirs. A two-way sync with changes on both sides in
# several folders (uploads, flags, deletions) converges, and a second sync changes nothing; its
# dry run keeps each folder's lines together.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/dovecot.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"

FOLDERS="INBOX Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda"

logins () { dovecot_log | grep -c 'imap-login: .*Login: user=<test>'; }

# sums_of_all [server]: every folder's "uid sha256" lines, prefixed with the folder, of the
# local side (or of the server).
sums_of_all () {
    local f
    for f in $FOLDERS; do
        if [ "${1:-}" = server ]; then server_sum "$f"; else local_sum "$f"; fi | sed "s|^|$f |"
    done
}

dovecot_start
n=2
for f in $FOLDERS; do
    if [ $((n % 2)) = 0 ]; then
        dovecot_seed --flags '\Seen' "$f" "$n" || bail_out "seeding $f"
    else
        dovecot_seed "$f" "$n" || bail_out "seeding $f"
    fi
    n=$((n * 5 / 4 + 1))
done
dv flags add '\Flagged' mailbox Gamma uid 1:2
diag "server: $(for f in $FOLDERS; do printf '%s=%s ' "$f" "$(imap_count "$f")"; done)"

# ---- connections = 4 ---------------------------------------------------------------------
nmsync_setup_dovecot "connections = 4"
before=$(logins)
nmsync_run pull
check_eq "4 connections: exit 0" 0 "$NMS_RC"
n_logins=$(($(logins) - before))
check "4 connections: several logins in the one run ($n_logins)" test "$n_logins" -gt 1
check "4 connections: no more than 4 logins ($n_logins)" test "$n_logins" -le 4
check_eq "4 connections: every folder complete, byte for byte" "$(sums_of_all server)" \
    "$(sums_of_all)"
# Flags and new/ vs cur/ too (check_mirror asks the server message by message: three folders).
for f in Gamma Delta Lambda; do
    check_mirror "$f"
done
check "4 connections: nothing left in tmp/" no_tmp_leftovers
sums4=$(sums_of_all)
nmsync_run pull
check_eq "4 connections, second pull: exit 0" 0 "$NMS_RC"
check_eq "4 connections, second pull: nothing changes" "$sums4" "$(sums_of_all)"

# ---- connections = 1 ---------------------------------------------------------------------
nmsync_setup_dovecot "connections = 1"
before=$(logins)
nmsync_run pull
check_eq "1 connection: exit 0" 0 "$NMS_RC"
check_eq "1 connection: one login" 1 "$(($(logins) - before))"
check_eq "1 connection: the same messages as with 4" "$sums4" "$(sums_of_all)"
check_mirror Lambda

# ---- a folder that fails -------------------------------------------------------------------
# Dovecot cannot open a folder whose directory it may not read: LIST still shows it, SELECT
# fails. The other folders, on the other connections, finish.
dovecot_seed Broken 5 || bail_out "seeding Broken"
dovecot_seed Lambda 3 || bail_out "seeding Lambda"
dovecot_seed Alpha 2 || bail_out "seeding Alpha"
broken_dir=$(find "$DOVECOT_MAILDIR" -type d -name '.Broken' | head -n 1)
[ -n "$broken_dir" ] || bail_out "no server directory for Broken"
chmod 000 "$broken_dir"
nmsync_setup_dovecot "connections = 4"
nmsync_run pull
chmod 700 "$broken_dir"
check_eq "failing folder: exit 1 (something was skipped)" 1 "$NMS_RC"
check_match "failing folder: it is named" "folder 'Broken' skipped" "$(cat "$NMS_ERR")"
check_eq "failing folder: reported once" 1 "$(grep -c "folder 'Broken'" "$NMS_ERR")"
check_eq "failing folder: nothing of it arrived" 0 "$(local_count Broken)"
check_eq "failing folder: every other folder complete, byte for byte" "$(sums_of_all server)" \
    "$(sums_of_all)"
nmsync_run pull
check_eq "failing folder, readable again: exit 0" 0 "$NMS_RC"
check_mirror Broken

# ---- two-way sync with 4 connections ------------------------------------------------------
i=0
for f in Alpha Gamma Eta Kappa; do
    i=$((i + 1))
    mail_file "$(local_dir "$f")/new/local-$i" "t821-local-$i"
    mail_file "$(local_dir "$f")/cur/local-$i-seen:2,S" "t821-local-$i-seen"
done
for f in Beta Delta Theta; do
    file=$(local_file "$f" 1)
    mv "$file" "${file%:2,*}:2,FS"                    # local flag change
    rm "$(local_file "$f" 2)"                          # local deletion
done
for f in Epsilon Zeta Iota; do
    dv flags add '\Answered' mailbox "$f" uid 1        # server flag change
    dv expunge mailbox "$f" uid 2                      # server deletion
    dovecot_seed "$f" 2 || bail_out "seeding $f"        # new on the server
done
# A dry run first: the workers plan in parallel, but each folder's lines come out together.
loc=$(local_state)
nmsync_run -n sync
check_eq "dry run: exit 0" 0 "$NMS_RC"
order=$(sed -n 's/^\(nmsync: \)\{0,1\}test: \([^:]*\): would .*/\2/p' "$NMS_ERR" | uniq)
check_eq "dry run: each folder's lines stay together" "" "$(printf '%s\n' "$order" | sort | uniq -d)"
check_eq "dry run: every changed folder planned" \
    "Alpha Beta Delta Epsilon Eta Gamma Iota Kappa Theta Zeta" "$(printf '%s\n' "$order" | sort | xargs)"
check_eq "dry run: the Maildir is unchanged" "$loc" "$(local_state)"
before=$(logins)
nmsync_run sync
check_eq "two-way sync: exit 0" 0 "$NMS_RC"
check "two-way sync: several logins" test "$(($(logins) - before))" -gt 1
collect_sides
check "two-way sync: every local file uploaded" all_uploaded
check "two-way sync: both sides agree UID by UID (bytes and flags)" agree_by_uid
check_eq "two-way sync: the 8 local messages reached the server" 8 \
    "$(printf '%s\n' "$SRV" | grep -c 't821-local-')"
check_eq "two-way sync: local deletions reached the server (Beta)" "" "$(server_uids Beta | grep -x 2)"
check_eq "two-way sync: local flags reached the server (Delta UID 1)" FS \
    "$(imap_letters $(server_flags Delta 1))"
check_eq "two-way sync: server deletions arrived (Zeta UID 2)" "" "$(local_file Zeta 2)"
check_eq "two-way sync: server flags arrived (Iota UID 1)" R "$(local_flags Iota 1)"
check "two-way sync: nothing left in tmp/" no_tmp_leftovers
srv=$(server_state)
loc=$(local_state)
nmsync_run sync
check_eq "second sync: exit 0" 0 "$NMS_RC"
check_eq "second sync: the server is unchanged" "$srv" "$(server_state)"
check_eq "second sync: the Maildir is unchanged" "$loc" "$(local_state)"
check_eq "no errors in the Dovecot log" "" "$(dovecot_log_errors | grep -v Broken)"

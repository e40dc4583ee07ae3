# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# incremental.sh: the workload of the t80x tests (skipping unchanged folders, QRESYNC). Source
# after tap.sh, dovecot.sh (started with DOVECOT_RAWLOG=1) and nmsync.sh.
#
#   incr_setup             seeds folders A B C D E (5 seen messages each), INBOX (5 unseen) and
#                          "Two Words" (2 seen: a name the server sends quoted),
#                          configures nmsync, runs a first sync and a settling one.
#   incr_settle            waits until the Maildir's last changes are more than a second old
#                          (younger directory mtimes are not trusted), then syncs.
#   incr_change            one change per folder: a server flag change in A (UID 2 +\Flagged),
#                          a new server message in B (UID 6), an expunge in C (UID 3), a local
#                          flag change in D (UID 1 gets F); E and INBOX stay as they are.
#   incr_check_converged   both sides agree in every folder, and the changes above arrived.
#   selected_folders       the folders SELECTed or EXAMINEd since rawlog_mark, sorted, on one
#                          line.
#   fetch_all_count        how many "UID FETCH 1:*" (every message's flags) were sent since.

INCR_FOLDERS="A B C D E INBOX"

incr_setup () {
    local f
    for f in A B C D E; do
        dovecot_seed --flags '\Seen' "$f" 5 || bail_out "seeding $f"
    done
    dovecot_seed INBOX 5 || bail_out "seeding INBOX"
    dovecot_seed --flags '\Seen' "Two Words" 2 || bail_out "seeding Two Words"
    nmsync_setup_dovecot
    nmsync_run sync
    check_eq "first sync: exit 0" 0 "$NMS_RC"
    incr_settle
    check_eq "settling sync: exit 0" 0 "$NMS_RC"
}

incr_settle () {
    sleep 1.1
    nmsync_run sync
}

incr_change () {
    local f
    dv flags add '\Flagged' mailbox A uid 2
    dovecot_seed --flags '\Seen' B 1
    dv expunge mailbox C uid 3
    f=$(local_file D 1)
    mv "$f" "${f%:2,*}:2,FS"
}

incr_check_converged () {
    local f
    for f in $INCR_FOLDERS; do
        check_mirror "$f"
    done
    check_mirror "Two Words"
    check_eq "A: the server's new flag arrived" FS "$(local_flags A 2)"
    check_eq "B: the new message arrived" S "$(local_flags B 6)"
    check_eq "C: the expunged message is gone locally" "" "$(local_file C 3)"
    check_eq "D: the local flag reached the server" '\Flagged \Seen' "$(server_flags D 1)"
}

selected_folders () {
    rawlog_commands | sed -n 's/^\(SELECT\|EXAMINE\) \("[^"]*"\|[^ ]*\).*/\2/p' | tr -d '"' |
        LC_ALL=C sort -u | paste -sd' ' -
}

fetch_all_count () {
    rawlog_commands | grep -c '^UID FETCH 1:\* '
}

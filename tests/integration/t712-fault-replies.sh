#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Hostile or broken replies from a scripted server while pulling: UIDVALIDITY 0, a body for a
# UID never requested, FLAGS with garbage, unsolicited EXPUNGE and VANISHED between the bodies
# of one FETCH, BYE in the middle of a FETCH. Each ends cleanly (exit 0 where the reply can be
# used, else 1 with the folder named), writes nothing partial, and the next run against a good
# server completes.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/faults.sh"

dir=$(tap_tmpdir)
FAULT_SCRIPTS=$dir
good_script "$dir/good" 1 2

# body UID: the FETCH lines that deliver message UID whole (as in good_script).
body () {
    local text="Subject: message $1"$'\r\n\r\nbody\r\n'
    echo "  * $1 FETCH (UID $1 BODY[] {${#text}}"
    echo "  raw:Subject: message $1\\r\\n\\r\\nbody\\r\\n"
    echo '  )'
}

# --- UIDVALIDITY 0 --------------------------------------------------------------------------
fault_hostile uidvalidity0 <<'EOF2'
on EXAMINE
  * 2 EXISTS
  * OK [UIDVALIDITY 0] x
  * OK [UIDNEXT 3] x
  $TAG OK done
EOF2
fault_setup uidvalidity0
fault_run pull
check_fault "UIDVALIDITY 0" "folder 'INBOX'.*no UIDVALIDITY"
check_eq "UIDVALIDITY 0: nothing downloaded" 0 "$(local_count INBOX)"
check_recovers "UIDVALIDITY 0" "$dir/good" 1 2

# --- a body for a UID never requested --------------------------------------------------------
fault_hostile unrequested <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30)
  \$TAG OK done
on UID FETCH
$(body 1)
$(body 7)
  \$TAG OK done
EOF2
fault_setup unrequested
fault_run pull
check_fault "FETCH of a UID never requested" "folder 'INBOX'.*UID 7 that was not requested"
check_eq "FETCH of a UID never requested: no file for it" "" "$(local_file INBOX 7)"
check_recovers "FETCH of a UID never requested" "$dir/good" 1 2

# --- FLAGS with garbage ------------------------------------------------------------------------
long_flag=$(head -c 10240 /dev/zero | tr '\0' k)
n=0
while IFS= read -r flags; do
    n=$((n + 1))
    fault_hostile "flags$n" <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS $flags RFC822.SIZE 30)
  * 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 30)
  \$TAG OK done
EOF2
    fault_setup "flags$n"
    fault_run pull
    shown=${flags:0:40}
    if [ "$NMS_RC" = 0 ]; then
        # usable: both messages arrived, the garbage did not become a flag letter
        check_eq "FLAGS $shown: both messages arrived" 2 "$(local_count INBOX)"
        check_match "FLAGS $shown: only sane letters" '^[A-Za-z]*$' "$(local_flags INBOX 1)"
        check "FLAGS $shown: nothing left in tmp/" no_tmp_leftovers
    else
        check_fault "FLAGS $shown" "folder 'INBOX'"
    fi
    check_recovers "FLAGS $shown" "$dir/good" 1 2
done <<EOF2
(\\Seen (\\Flagged)
(\\Seen))
((\\Seen))
(\\Seen $long_flag)
(\\Seen caf$(printf '\xc3\xa9') $(printf '\xff\xfe') \\Fl$(printf '\x01')agged)
(\\Seen
EOF2

# --- unsolicited EXPUNGE and VANISHED between the bodies of one FETCH ----------------------
fault_hostile expunge <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30)
  * 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 30)
  \$TAG OK done
on UID FETCH
$(body 1)
  * 1 EXPUNGE
  * 1 EXISTS
$(body 2)
  \$TAG OK done
EOF2
fault_setup expunge
fault_run pull
check_eq "EXPUNGE during the download: exit 0" 0 "$NMS_RC"
check_eq "EXPUNGE during the download: both bodies stored" 2 "$(local_count INBOX)"
check "EXPUNGE during the download: nothing left in tmp/" no_tmp_leftovers
good_script "$dir/good-after-expunge" 2
check_recovers "EXPUNGE during the download (the next run sees UID 1 gone)" "$dir/good-after-expunge" 2

fault_hostile vanished <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30)
  * 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 30)
  \$TAG OK done
on UID FETCH
$(body 1)
  * VANISHED 1
$(body 2)
  \$TAG OK done
EOF2
fault_setup vanished
fault_run pull
check_eq "VANISHED during the download: exit 0" 0 "$NMS_RC"
check_eq "VANISHED during the download: both bodies stored" 2 "$(local_count INBOX)"
check "VANISHED during the download: nothing left in tmp/" no_tmp_leftovers
check_recovers "VANISHED during the download" "$dir/good" 1 2

# --- BYE in the middle of a FETCH ------------------------------------------------------------
fault_hostile bye <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 30)
  * 2 FETCH (UID 2 FLAGS (\\Seen) RFC822.SIZE 30)
  \$TAG OK done
on UID FETCH
$(body 1)
  * BYE server shutting down
  close
EOF2
fault_setup bye
fault_run pull
# The connection is gone: nmsync fetches the messages that did not arrive one by one over a new
# one (transfer.c, isolate()); this script then answers with the wrong message, so UID 2 is
# named as not fetched.
check_fault "BYE in the middle of a FETCH" \
    "folder 'INBOX'.*(closed the connection during UID FETCH.*: server shutting down|message UID 2 could not be fetched)"
check_eq "BYE in the middle of a FETCH: the message before it is kept" \
    "Subject: message 1" "$(head -n 1 "$(local_file INBOX 1)" 2>/dev/null)"
check_recovers "BYE in the middle of a FETCH" "$dir/good" 1 2

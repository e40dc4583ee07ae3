#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# A server that names the wrong UID for a message nmsync just stored (mbsync's CVE-2021-3578
# was an unexpected APPENDUID): APPENDUID with UID 0, below the folder's UIDNEXT, under
# another UIDVALIDITY or as a set; COPYUID mapping another source UID. nmsync must not record
# such a UID: it finds the message by Message-ID (or leaves it for the next run), and a next
# run against a good server neither uploads nor downloads it again. (A UID at or above
# UIDNEXT that the state does not know is legal, RFC 4315 §3, and trusted.)
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/faults.sh"

dir=$(tap_tmpdir)
FAULT_SCRIPTS=$dir

# append_script FILE APPENDUID-CODE: INBOX empty at UIDNEXT 10; after the APPEND the message
# is UID 10 (what a Message-ID search finds).
append_script () {
    local idline=$'Message-ID: <local1@nmsync.test>\r\n\r\n'
    cat >"$1" <<EOF2
greeting * PREAUTH fake ready
on CAPABILITY
  * CAPABILITY IMAP4rev1 UIDPLUS
  \$TAG OK done
on LIST
  * LIST () "/" "INBOX"
  \$TAG OK done
on SELECT
  * 0 EXISTS
  * OK [UIDVALIDITY 7] x
  * OK [UIDNEXT 10] x
  \$TAG OK [READ-WRITE] done
on UID FETCH 10:* (UID RFC822.SIZE BODY.PEEK
  * 1 FETCH (UID 10 RFC822.SIZE $size BODY[HEADER.FIELDS (MESSAGE-ID)] {${#idline}}
  raw:Message-ID: <local1@nmsync.test>\r\n\r\n
  )
  \$TAG OK done
on UID FETCH 1:*
  \$TAG OK done
on APPEND
  \$TAG OK $2 done
on *
  \$TAG OK done
EOF2
}

# after_script FILE: the server after the upload: INBOX holds it as UID 10.
after_script () {
    cat >"$1" <<EOF2
greeting * PREAUTH fake ready
on CAPABILITY
  * CAPABILITY IMAP4rev1 UIDPLUS
  \$TAG OK done
on LIST
  * LIST () "/" "INBOX"
  \$TAG OK done
on SELECT
  * 1 EXISTS
  * OK [UIDVALIDITY 7] x
  * OK [UIDNEXT 11] x
  \$TAG OK [READ-WRITE] done
on UID FETCH 1:*
  * 1 FETCH (UID 10 FLAGS (\\Seen) RFC822.SIZE $size)
  \$TAG OK done
on *
  \$TAG OK done
EOF2
}

n=0
for code in '[APPENDUID 7 3]' '[APPENDUID 7 0]' '[APPENDUID 8 12]' '[APPENDUID 7 10:11]'; do
    n=$((n + 1))
    nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/append$n")
timeout = 10
EOF2
    mail_file "$NMS_MAILDIR/cur/1700000000.P1.host:2,S" local1
    mkdir -p "$NMS_MAILDIR/new" "$NMS_MAILDIR/tmp"
    size=$(($(wc -c <"$NMS_MAILDIR/cur/1700000000.P1.host:2,S") + $(wc -l <"$NMS_MAILDIR/cur/1700000000.P1.host:2,S")))
    append_script "$dir/append$n" "$code"
    after_script "$dir/after$n"
    fault_run sync
    check_match "$code: exit 0, or 1 leaving it for the next run" '^(0|1)$' "$NMS_RC"
    check_eq "$code: the file does not carry the server's wrong UID" "" \
        "$(find "$NMS_MAILDIR" -name "*,U=*" ! -name "*,U=10:2,*")"
    check_eq "$code: one file, not lost" 1 "$(local_count INBOX)"
    check "$code: nothing left in tmp/" no_tmp_leftovers
    sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/after$n")|" "$NMS_CONFIG"
    nmsync_run sync
    check_eq "$code: the next run exits 0" 0 "$NMS_RC"
    check_eq "$code: the next run uploads nothing again" 0 "$(grep -c '^C: [^ ]* APPEND' "$dir/after$n.log")"
    check_eq "$code: the next run downloads nothing" 0 "$(grep -c 'BODY.PEEK\[\]' "$dir/after$n.log")"
    check "$code: the message is UID 10 locally" test -n "$(local_file INBOX 10)"
    check_eq "$code: still one file" 1 "$(local_count INBOX)"
done

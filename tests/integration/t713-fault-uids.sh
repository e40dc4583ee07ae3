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

# --- COPYUID: another source UID, or a destination UID below Junk's UIDNEXT -----------------
# Run 1 pulls INBOX UID 1 (Junk is empty at UIDNEXT 5); the file is then moved to Junk
# locally; run 2 moves it on the server, which answers with the COPYUID under test while the
# message really is Junk UID 5; run 3 (a good server) must find nothing to do.
msg=$'From: a@b\r\nSubject: m1\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n'
size=${#msg}
idline=$'Message-ID: <m1@x>\r\n\r\n'
move_server () {  # FILE INBOX-FLAGS-LINES JUNK-FLAGS-LINES MOVE-REPLY JUNK-EXISTS JUNK-UIDNEXT
    cat >"$1" <<EOF2
greeting * PREAUTH fake ready
on CAPABILITY
  * CAPABILITY IMAP4rev1 UIDPLUS MOVE
  \$TAG OK done
on LIST
  * LIST () "/" "INBOX"
  * LIST () "/" "Junk"
  \$TAG OK done
on SELECT INBOX
  * 1 EXISTS
  * OK [UIDVALIDITY 7] x
  * OK [UIDNEXT 2] x
  \$TAG OK [READ-WRITE] done
on SELECT Junk
  * $5 EXISTS
  * OK [UIDVALIDITY 9] x
  * OK [UIDNEXT $6] x
  \$TAG OK [READ-WRITE] done
on UID MOVE 1 Junk
  \$TAG OK $4 done
on UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK
  * 1 FETCH (UID 5 RFC822.SIZE $size BODY[HEADER.FIELDS (MESSAGE-ID)] {${#idline}}
  raw:Message-ID: <m1@x>\r\n\r\n
  )
  \$TAG OK done
on once UID FETCH 1:* (UID FLAGS
$2
  \$TAG OK done
on UID FETCH 1:* (UID FLAGS
$3
  \$TAG OK done
on UID FETCH 1 (
  * 1 FETCH (UID 1 BODY[] {$size}
  raw:From: a@b\r\nSubject: m1\r\nMessage-ID: <m1@x>\r\n\r\nbody\r\n
  )
  \$TAG OK done
on *
  \$TAG OK done
EOF2
}
flags1="  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE $size)"
flags5="  * 1 FETCH (UID 5 FLAGS (\\Seen) RFC822.SIZE $size)"
n=0
for code in '[COPYUID 9 99 5]' '[COPYUID 9 1 3]' '[COPYUID 9 1:2 5:6]'; do
    n=$((n + 1))
    move_server "$dir/move$n-1" "$flags1" "" "" 0 5
    move_server "$dir/move$n-2" "" "$flags5" "$code" 1 6
    move_server "$dir/move$n-3" "" "$flags5" "" 1 6
    nmsync_setup <<EOF2
tunnel = $(fakeimap_tunnel_cmd "$dir/move$n-1")
connections = 1
timeout = 10
EOF2
    nmsync_run sync
    check_eq "$code: run 1 pulls the message" 1 "$(local_count INBOX)"
    file=$(local_file INBOX 1)
    local_mkfolder Junk
    base=${file##*/}
    mv "$file" "$(local_dir Junk)/cur/${base/,U=1/}"
    sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/move$n-2")|" "$NMS_CONFIG"
    nmsync_run sync
    check_match "$code: exit 0, or 1 leaving it for the next run" '^(0|1)$' "$NMS_RC"
    check "$code: the move went to the server" grep -q 'UID MOVE 1 Junk' "$dir/move$n-2.log"
    check_eq "$code: no file carries a wrong UID" "" \
        "$(find "$NMS_MAILDIR" -name "*,U=*" ! -name "*,U=5:2,*")"
    sed -i "s|^tunnel = .*|tunnel = $(fakeimap_tunnel_cmd "$dir/move$n-3")|" "$NMS_CONFIG"
    nmsync_run sync
    check_eq "$code: the next run exits 0" 0 "$NMS_RC"
    check_eq "$code: the next run transfers nothing" 0 \
        "$(grep -Ec 'BODY.PEEK\[\]|APPEND|MOVE' "$dir/move$n-3.log")"
    check "$code: the message is Junk UID 5 locally" test -n "$(local_file Junk 5)"
    check_eq "$code: one file in all" "0 1" "$(local_count INBOX) $(local_count Junk)"
done

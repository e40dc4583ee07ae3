#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Hostile literal sizes and lines from a scripted server: a LIST or FETCH announcing a 4 GiB
# literal, a non-body literal over 64 MiB, a 100 MB reply line. Each is refused at once by the
# framing guard (src/imap/frame.c) with a clear error, nothing is allocated or written, and a
# following run against a good server completes. A body that does not match its RFC822.SIZE is
# stored as received (the literal is the message; RFC822.SIZE is only the server's count), and a
# 100 MB message body streams to disk as before: the caps are for what libetpan holds in memory.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/fakeimap.sh"
. "$NMSYNC_TESTLIB/nmsync.sh"
. "$NMSYNC_TESTLIB/faults.sh"

dir=$(tap_tmpdir)
FAULT_SCRIPTS=$dir
good_script "$dir/good" 1

# --- LIST announcing 4 GiB (libetpan's uint32 wraps it to 0) and 4 GiB - 1 (allocated) ----
for size in 4294967296 4294967295 99999999999; do
    fault_hostile "list-$size" <<EOF2
on LIST
  * LIST () "/" "INBOX"
  * LIST () "/" {$size}
  raw:abc
  close
EOF2
    fault_setup "list-$size"
    fault_run pull
    check_fault "LIST literal {$size}" "LIST.*literal (of $size bytes|whose size has 11 digits)"
    check_recovers "LIST literal {$size}" "$dir/good" 1
done

# --- FETCH announcing 4 GiB: in the flags fetch (nothing streams it) and as a body ---------
fault_hostile fetch-flags <<'EOF2'
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 30 BODY[] {4294967296}
  raw:abc
  close
EOF2
fault_setup fetch-flags
fault_run pull
check_fault "flags FETCH with a 4 GiB literal" \
    "folder 'INBOX'.*literal of 4294967296 bytes"
check_recovers "flags FETCH with a 4 GiB literal" "$dir/good" 1

fault_hostile fetch-body <<'EOF2'
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 30)
  $TAG OK done
on UID FETCH
  * 1 FETCH (UID 1 BODY[] {4294967296}
  raw:Subject: message 1\r\n\r\n
  sleep 5
  close
EOF2
fault_setup fetch-body
fault_run pull
check_fault "body literal of 4 GiB" "folder 'INBOX'.*literal of 4294967296 bytes" 5
check_recovers "body literal of 4 GiB" "$dir/good" 1

# A header-fields literal of 100 MB (not a body: libetpan would hold it in memory).
fault_hostile fetch-header <<'EOF2'
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 30 BODY[HEADER.FIELDS (MESSAGE-ID)] {104857600}
  repeat 1048576 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
  raw:)\r\n
  $TAG OK done
EOF2
fault_setup fetch-header
fault_run pull
check_fault "a 100 MB header literal" "folder 'INBOX'.*literal of 104857600 bytes outside a message body"
check_recovers "a 100 MB header literal" "$dir/good" 1

# --- a 100 MB reply line -------------------------------------------------------------------
fault_hostile long-line <<'EOF2'
on UID FETCH 1:*
  raw:* 1 FETCH (UID 1 RFC822.SIZE 30 FLAGS (\Seen 
  repeat 1048576 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
  raw:))\r\n
  $TAG OK done
EOF2
fault_setup long-line
fault_run pull
check_fault "a 100 MB reply line" "folder 'INBOX'.*reply line grew past 64 MiB"
check_recovers "a 100 MB reply line" "$dir/good" 1

# --- a body shorter and one longer than its RFC822.SIZE: stored as received ----------------
fault_hostile size-mismatch <<'EOF2'
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\Seen) RFC822.SIZE 100000)
  * 2 FETCH (UID 2 FLAGS (\Seen) RFC822.SIZE 3)
  $TAG OK done
on UID FETCH
  * 1 FETCH (UID 1 BODY[] {19}
  raw:Subject: short\r\n\r\nx
  )
  * 2 FETCH (UID 2 BODY[] {19}
  raw:Subject: long\r\n\r\nxy
  )
  $TAG OK done
EOF2
fault_setup size-mismatch
fault_run pull
check_eq "RFC822.SIZE mismatch: exit 0 (the body is what the literal holds)" 0 "$NMS_RC"
check_eq "RFC822.SIZE mismatch: the short body stored as received" \
    "$(printf 'Subject: short\n\nx')" "$(cat "$(local_file INBOX 1)")"
check_eq "RFC822.SIZE mismatch: the long body stored as received" \
    "$(printf 'Subject: long\n\nxy')" "$(cat "$(local_file INBOX 2)")"
check "RFC822.SIZE mismatch: bounded time" test "$FAULT_SECS" -lt 20
check "RFC822.SIZE mismatch: nothing left in tmp/" no_tmp_leftovers
nmsync_run pull
check_eq "RFC822.SIZE mismatch: a second run exits 0" 0 "$NMS_RC"
check_eq "RFC822.SIZE mismatch: nothing fetched twice" 1 "$(grep -c 'BODY.PEEK' "$dir/size-mismatch.log")"

# --- a message body of 100 MB is no hostile literal: it streams to disk ----------------------
line=$(printf '%098d' 0 | tr 0 x)
fault_hostile big-body <<EOF2
on UID FETCH 1:*
  * 1 FETCH (UID 1 FLAGS (\\Seen) RFC822.SIZE 104857616)
  \$TAG OK done
on UID FETCH
  * 1 FETCH (UID 1 BODY[] {104857616}
  raw:Subject: big\\r\\n\\r\\n
  repeat 1048576 $line\\r\\n
  )
  \$TAG OK done
EOF2
fault_setup big-body
fault_run pull
check_eq "a 100 MB body: exit 0" 0 "$NMS_RC"
check_eq "a 100 MB body: stored whole (CRLF as LF)" $((104857616 - 1048578)) \
    "$(stat -c %s "$(local_file INBOX 1)" 2>/dev/null)"
check "a 100 MB body: nothing left in tmp/" no_tmp_leftovers
rm -f "$(local_file INBOX 1)"

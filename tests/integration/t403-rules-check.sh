#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# nmsync rules: the shipped rule set is clean (exit 0); an unknown folder, overlapping matches
# (counted in a real notmuch database), a rule that undoes itself and a notmuch
# synchronize_flags that would fight [flags] are each reported with file and line (exit 1);
# a broken rule file is a usage error naming file and line (exit 2).
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

command -v notmuch >/dev/null || skip_all "notmuch is not installed"
nmsync_setup <<EOF2
tunnel = true
EOF2
for f in "" .Junk .Sent .Archive .Drafts .Trash; do
    mkdir -p "$NMS_MAILDIR/$f/cur" "$NMS_MAILDIR/$f/new" "$NMS_MAILDIR/$f/tmp"
done
for i in 1 2 3; do
    printf 'From: a@example.org\nSubject: s%s\nMessage-ID: <r%s@example.org>\n\nx\n' "$i" "$i" \
        > "$NMS_MAILDIR/cur/1700000000.M${i}P1.host:2,S"
done
nmsync_notmuch
notmuch tag +spam +work -- id:r1@example.org
nmsync_rules default.rules spam.rules sent.rules

nmsync_run rules
check_eq "the shipped rules: exit 0" 0 "$NMS_RC"
check_match "the shipped rules: no problems" "no problems" "$(cat "$NMS_OUT")"

bad="$NMS_HOME/bad.rules"
cat > "$bad" <<'EOF2'
[flags]
unread = !S
flagged = F

[folder Projects]
match = tag:work

[folder junk-loop]
match = tag:spam
tags = -spam

[folder \Junk]
match = tag:spam
EOF2
sed -i "s|^rules = .*|rules = $bad|" "$NMS_CONFIG"
nmsync_run rules
check_eq "problems: exit 1" 1 "$NMS_RC"
out=$(cat "$NMS_OUT")
check_match "unknown folder named with file and line" "$bad:5: \[folder Projects\]: no account has this folder" "$out"
check_match "a rule that undoes itself is named" "$bad:8: \[folder junk-loop\]:.*move back and forth" "$out"
check_match "overlap counted in the database" "\[folder Projects\] and .*\[folder junk-loop\]: 1 message matches both" "$out"
check_match "synchronize_flags conflict, with the fix" "synchronize_flags.*notmuch config set maildir.synchronize_flags false" "$out"

printf '[folder Junk]\nmatch = tag:spam  # trailing comment\n' > "$bad"
nmsync_run rules
check_eq "a broken rule file: exit 2" 2 "$NMS_RC"
check_match "a broken rule file: file and line named" "$bad:2:" "$(cat "$NMS_ERR")"

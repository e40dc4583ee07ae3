#!/bin/bash
# SPDX-License-Identifier: GPL-3.0-or-later
# emacs/nmsync.el against a scratch notmuch database, in `emacs --batch` with ERT
# (tests/emacs/t602-nmsync-spam.el, one Emacs per ERT test): J in a search buffer tags the
# thread spam (-inbox -unread) and runs `nmsync apply` in the background, which moves the file
# to .Junk/cur without ",U="; J with a region tags every thread in it; J in a show buffer passes
# nmsync-apply-args; M-J in a tree buffer untags, and a failing nmsync's stderr ("boom") is
# shown in the echo area. No IMAP server: `apply` works locally.
. "${NMSYNC_TESTLIB:?run the tests through meson, or set NMSYNC_TESTLIB to tests/lib}/tap.sh" || exit 1
. "$NMSYNC_TESTLIB/nmsync.sh"

SRCDIR=${NMSYNC_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

command -v emacs >/dev/null 2>&1 || skip_all "emacs is not installed (apt-get install emacs-nox)"
command -v notmuch >/dev/null 2>&1 || skip_all "notmuch is not installed"
EHOME=$(tap_tmpdir)
HOME=$EHOME emacs --batch --eval "(progn (package-initialize) (require 'notmuch))" \
    </dev/null >/dev/null 2>&1 || skip_all "elpa-notmuch is not installed (apt-get install elpa-notmuch)"

# Does this nmsync have the apply command? (Checked before the config is read.)
if "$NMSYNC" -c /nonexistent/config apply 2>&1 </dev/null | grep -q "unknown command"; then
    have_apply=0
    no_apply="nmsync has no 'apply' command yet"
else
    have_apply=1
fi

# A Maildir++ tree (INBOX at the root, .Junk) that is also the notmuch database path.
T=$(tap_tmpdir)
MD=$T/Maildir
mkdir -p "$MD"/{cur,new,tmp} "$MD"/.Junk/{cur,new,tmp}
export NOTMUCH_CONFIG=$T/notmuch-config
cat >"$NOTMUCH_CONFIG" <<NMC
[database]
path=$MD
[user]
name=Test User
primary_email=test@example.org
[new]
tags=unread;inbox;
ignore=
[search]
exclude_tags=
[maildir]
synchronize_flags=true
NMC
export HOME=$EHOME
mail_file "$MD/cur/1700000001.M1P1.t602,U=1:2,S" spam1
mail_file "$MD/cur/1700000002.M2P1.t602,U=2:2,S" spam2
mail_file "$MD/cur/1700000003.M3P1.t602,U=3:2,S" region1
mail_file "$MD/cur/1700000004.M4P1.t602,U=4:2,S" region2
mail_file "$MD/.Junk/cur/1700000005.M5P1.t602,U=1:2,S" ham1

check "notmuch new indexes the scratch Maildir" notmuch new
check "ham1 starts as spam (as the junk rule tags it)" notmuch tag +spam -inbox -- id:ham1@nmsync.test
tags_of () { notmuch search --output=tags "id:$1@nmsync.test" | LC_ALL=C sort | paste -sd' ' -; }
check_eq "spam1 starts in the inbox" "inbox" "$(tags_of spam1)"

# nmsync's config: the shipped spam rule set (the contract's text when it is not there yet).
RULES=$SRCDIR/rules/spam.rules
if [ ! -f "$RULES" ]; then
    RULES=$T/spam.rules
    printf '[folder \\Junk]\nmatch = tag:spam\ntags = +spam -inbox -unread\n' >"$RULES"
    diag "rules/spam.rules is not in the tree yet; using the contract's text"
fi
CFG=$T/nmsync.conf
cat >"$CFG" <<CFG
[general]
rules = $RULES
notmuch-config = $NOTMUCH_CONFIG
state = $T/state

[account test]
host = 127.0.0.1
port = 9
tls = none
user = test
password = unused
maildir = $MD
CFG
chmod 600 "$CFG"

# A first apply, as the user's earlier runs would have done: nmsync records where each
# message is, so the tag change below is a change (not a first sighting, where the folder wins).
if [ "$have_apply" = 1 ]; then
    check "a first nmsync apply: exit 0" "$NMSYNC" -c "$CFG" apply
else
    skip "a first nmsync apply: exit 0" "$no_apply"
fi

OUT=$T/out
# run_ert NAME PROGRAM ARGS: runs one ERT test in its own Emacs with nmsync-program PROGRAM
# and nmsync-apply-args ARGS; its output (in batch mode the echo area goes to stderr too) is
# left in $T/NAME.out, and printed when the test fails.
run_ert () {
    local name=$1 rc=0
    rm -rf "$OUT" && mkdir -p "$OUT"
    T602_OUT=$OUT T602_PROGRAM=$2 T602_ARGS=$3 \
        timeout 120 emacs --batch --eval "(package-initialize)" -L "$SRCDIR/emacs" \
        -l "$SRCDIR/tests/emacs/t602-nmsync-spam.el" \
        --eval "(ert-run-tests-batch-and-exit \"^$name\$\")" </dev/null >"$T/$name.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || cat "$T/$name.out"
    return "$rc"
}
ert () {
    local desc=$1
    shift
    check "$desc" run_ert "$@"
}

# (1) J in a search buffer, the real nmsync.
ert "search buffer: J tags the thread and runs nmsync apply (ERT)" t602-spam-search \
    "$NMSYNC" "-c $CFG apply"
tags=$(tags_of spam1)
check_match "spam1 is tagged spam" '(^| )spam( |$)' "$tags"
check_eq "spam1 lost inbox and unread" "" "$(printf '%s\n' "$tags" | tr ' ' '\n' | grep -x -e inbox -e unread)"
if [ "$have_apply" = 1 ]; then
    check_eq "nmsync apply exited 0" 0 "$(cat "$OUT/apply-status" 2>/dev/null)"
    f=$(find "$MD/.Junk/cur" -maxdepth 1 -type f -name '1700000001.M1P1.t602*')
    check_match "spam1's file moved to .Junk/cur" '/\.Junk/cur/1700000001\.M1P1\.t602' "$f"
    # S kept; "a" is $Junk's letter: spam.rules' [keywords] spam = $Junk.
    check_eq "its name lost ,U= and kept the flags" "1700000001.M1P1.t602:2,Sa" "${f##*/}"
    check_eq "it is gone from INBOX" "" "$(find "$MD/cur" "$MD/new" -name '1700000001.M1P1.t602*')"
    check_eq "notmuch knows the new path" "$f" "$(notmuch search --output=files id:spam1@nmsync.test)"
    check_eq "the tags survived the move" "$tags" "$(tags_of spam1)"
else
    for d in "nmsync apply exited 0" "spam1's file moved to .Junk/cur" \
        "its name lost ,U= and kept the flags" "it is gone from INBOX" \
        "notmuch knows the new path" "the tags survived the move"; do
        skip "$d" "$no_apply"
    done
fi

# A stand-in nmsync that records its arguments.
REC=$T/record-nmsync
printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>"%s"\nexit 0\n' "$T/record.log" >"$REC"
chmod +x "$REC"

# (2) J with a region over two threads.
ert "search buffer: J with a region tags both threads (ERT)" t602-spam-search-region "$REC" apply
check_match "region1 is tagged spam" '(^| )spam( |$)' "$(tags_of region1)"
check_match "region2 is tagged spam" '(^| )spam( |$)' "$(tags_of region2)"
check_eq "one apply for the region" "apply" "$(cat "$T/record.log" 2>/dev/null)"

# (3) J in a show buffer; nmsync-apply-args reach the program.
rm -f "$T/record.log"
ert "show buffer: J tags the message (ERT)" t602-spam-show "$REC" "-c $CFG apply"
check_eq "spam2 is tagged spam only" "spam" "$(tags_of spam2)"
check_eq "the program got nmsync-apply-args" "-c $CFG apply" "$(cat "$T/record.log" 2>/dev/null)"

# (4) M-J in a tree buffer with an nmsync that fails.
FAIL=$T/failing-nmsync
printf '#!/bin/sh\necho boom >&2\nexit 2\n' >"$FAIL"
chmod +x "$FAIL"
ert "tree buffer: M-J untags; a failing nmsync is reported (ERT)" t602-not-spam-tree-failing "$FAIL" apply
tags=$(tags_of ham1)
check_match "ham1 is back in the inbox" '(^| )inbox( |$)' "$tags"
check_eq "ham1 is no longer spam" "" "$(printf '%s\n' "$tags" | tr ' ' '\n' | grep -x spam)"
check_eq "the exit status reached the hook" 2 "$(cat "$OUT/apply-status" 2>/dev/null)"
check_match "the echo area showed the stderr" '^nmsync apply failed \(exit 2\): boom$' \
    "$(cat "$T/t602-not-spam-tree-failing.out")"
check_match "*Messages* kept it" 'nmsync apply failed \(exit 2\): boom' "$(cat "$OUT/messages" 2>/dev/null)"

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# imapc.py: a small IMAP client for the tests against servers without doveadm (Cyrus, Courier).
# The server: IMAPC_TUNNEL (a shell command speaking preauthenticated IMAP on stdin/stdout), or
# IMAPC_HOST IMAPC_PORT IMAPC_USER IMAPC_PASSWORD (plain TCP, LOGIN).
# FOLDER is the server's own name (Courier: INBOX.Sent; Cyrus here: Sent, Archive/2012); ASCII.
#
#   list                      folder names, one per line, sorted
#   status FOLDER ITEM        MESSAGES / UIDNEXT / UIDVALIDITY of FOLDER
#   uids FOLDER               UIDs ascending, space separated
#   flags FOLDER UID          flags and keywords, sorted, space separated (no \Recent)
#   ids FOLDER                "uid<TAB>message-id<TAB>flags" per message (ascending uid)
#   all                       "folder<TAB>uid<TAB>message-id<TAB>flags" for every folder, in one
#                             session
#   sum FOLDER                "uid sha256" per message (ascending uid) of what the server serves,
#                             CRLF read as LF (as nmsync stores it in the Maildir)
#   append FOLDER FILE [FLAG...]   APPEND the file's bytes (CRLF line ends, as IMAP requires)
#   create FOLDER / delete FOLDER
#   store FOLDER UID +FLAGS|-FLAGS FLAG...
#   expunge FOLDER UID        \Deleted, then UID EXPUNGE (or EXPUNGE without UIDPLUS)
#   caps                      the capabilities after login, space separated
import hashlib
import imaplib
import os
import re
import sys


def connect():
    tunnel = os.environ.get("IMAPC_TUNNEL")
    if tunnel:
        return imaplib.IMAP4_stream(tunnel)
    m = imaplib.IMAP4(os.environ.get("IMAPC_HOST", "127.0.0.1"), int(os.environ["IMAPC_PORT"]))
    m.login(os.environ["IMAPC_USER"], os.environ["IMAPC_PASSWORD"])
    return m


def q(name):
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ok(res):
    typ, data = res
    if typ != "OK":
        raise SystemExit("imapc: %s %r" % (typ, data))
    return data


def select(m, folder, readonly=True):
    ok(m.select(q(folder), readonly=readonly))


def fetch_items(m, what):
    """UID FETCH 1:* what -> list of (uid, flags list, literal bytes or None)."""
    typ, data = m.uid("FETCH", "1:*", what)
    if typ != "OK":
        raise SystemExit("imapc: FETCH %r" % data)
    out = []
    for item in data:
        if item is None or item == b")":
            continue
        head, lit = (item[0], item[1]) if isinstance(item, tuple) else (item, None)
        mu = re.search(rb"UID (\d+)", head)
        if not mu:
            continue
        mf = re.search(rb"FLAGS \(([^)]*)\)", head)
        flags = mf.group(1).decode().split() if mf else []
        flags = sorted(f for f in flags if f != "\\Recent")
        out.append((int(mu.group(1)), flags, lit))
    return sorted(out, key=lambda t: t[0])


def folders(m):
    names = []
    for line in ok(m.list('""', "*")):
        mm = re.match(rb'\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
        if not mm or b"\\noselect" in mm.group(1).lower():
            continue
        n = mm.group(3).decode()
        if n.startswith('"'):
            n = n[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        names.append(n)
    return sorted(names)


def main(argv):
    cmd, args = argv[1], argv[2:]
    m = connect()
    try:
        if cmd == "list":
            print("\n".join(folders(m)))
        elif cmd == "all":
            for folder in folders(m):
                select(m, folder)
                for uid, flags, lit in fetch_items(m, "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
                    mid = re.search(rb"<[^>]*>", lit or b"")
                    print("%s\t%d\t%s\t%s" % (folder, uid, mid.group(0).decode() if mid else "", " ".join(flags)))
        elif cmd == "caps":
            print(" ".join(m.capabilities))
        elif cmd == "status":
            data = ok(m.status(q(args[0]), "(%s)" % args[1].upper()))
            print(re.search(rb"%s (\d+)" % args[1].upper().encode(), data[0]).group(1).decode())
        elif cmd == "uids":
            select(m, args[0])
            print(" ".join(str(u) for u, _, _ in fetch_items(m, "(UID)")))
        elif cmd == "flags":
            select(m, args[0])
            data = ok(m.uid("FETCH", args[1], "(UID FLAGS)"))
            for item in data:
                mf = re.search(rb"FLAGS \(([^)]*)\)", item if isinstance(item, bytes) else item[0])
                if mf:
                    print(" ".join(sorted(f for f in mf.group(1).decode().split() if f != "\\Recent")))
        elif cmd == "ids":
            select(m, args[0])
            for uid, flags, lit in fetch_items(m, "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])"):
                mid = re.search(rb"<[^>]*>", lit or b"")
                print("%d\t%s\t%s" % (uid, mid.group(0).decode() if mid else "", " ".join(flags)))
        elif cmd == "sum":
            select(m, args[0])
            for uid, _, lit in fetch_items(m, "(UID BODY.PEEK[])"):
                print("%d %s" % (uid, hashlib.sha256((lit or b"").replace(b"\r\n", b"\n")).hexdigest()))
        elif cmd == "append":
            with open(args[1], "rb") as f:
                body = re.sub(rb"\r?\n", b"\r\n", f.read())
            flags = "(%s)" % " ".join(args[2:]) if len(args) > 2 else None
            ok(m.append(q(args[0]), flags, None, body))
        elif cmd == "create":
            ok(m.create(q(args[0])))
        elif cmd == "delete":
            ok(m.delete(q(args[0])))
        elif cmd == "store":
            select(m, args[0], readonly=False)
            ok(m.uid("STORE", args[1], args[2], "(%s)" % " ".join(args[3:])))
        elif cmd == "expunge":
            select(m, args[0], readonly=False)
            ok(m.uid("STORE", args[1], "+FLAGS", "(\\Deleted)"))
            if "UIDPLUS" in m.capabilities:
                ok(m.uid("EXPUNGE", args[1]))
            else:
                ok(m.expunge())
        else:
            raise SystemExit("imapc: unknown command " + cmd)
    finally:
        try:
            m.logout()
        except Exception:
            pass
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:  # `imapc list | grep -q`
        sys.exit(0)

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pairing by content: local files nmsync holds no state for (a first sync, a new state, a
 * folder not seen before, a UIDVALIDITY change, another folder's file after a server-side
 * move) against server messages the state does not know, by Message-ID and CRLF size, a body
 * digest only where those collide or are missing. Never by a ",U=" nmsync did not write.
 * Pure data: no I/O, so plain tests cover every decision (tests/unit/test-pair.c). */
#pragma once

#include <glib.h>

/* What identifies one message's content on either side. */
typedef struct {
    const char *message_id; /* as notmuch parses it; NULL: the message has none */
    guint64 size;           /* CRLF size: the server's RFC822.SIZE; for a file, its size with
                             * each LF counted as CRLF (nms_maildir_crlf_size) */
    const char *digest;     /* a digest of the body without CR bytes; NULL: not computed */
} NmsPairKey;

typedef struct {
    guint local;  /* index into the local keys */
    guint server; /* index into the server keys */
} NmsPair;

/* Pairs @local with @server keys, each at most once. Message-ID and size equal on exactly
 * one local and one server key: a pair. Where several keys of a side share a Message-ID and
 * size, or the Message-ID is missing, keys pair only by an equal digest (in index order);
 * the keys of such groups that carry no digest yet and could still pair are appended to
 * @need_local_out and @need_server_out (GArray of guint, may be NULL): compute their digests
 * and call again. (transfer full: GArray of NmsPair, sorted by local index) */
GArray *nms_pair_match (const NmsPairKey *local, gsize n_local, const NmsPairKey *server,
                        gsize n_server, GArray *need_local_out, GArray *need_server_out);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared by the files of src/imap/: the session struct, the one place that translates libetpan
 * result codes into NmsImapError, TLS verification, and cleanups for libetpan types. */
#pragma once

#include "imap/imap.h"

#include <gio/gio.h>
#include <libetpan/libetpan.h>
#include <sys/socket.h>

typedef struct _NmsImapTrace NmsImapTrace;
typedef struct _NmsImapTunnelStderr NmsImapTunnelStderr;

struct _NmsImapSession {
    mailimap *imap;
    NmsImapLog *log;     /* (transfer none) or NULL */
    NmsImapTrace *trace; /* the conversation, reported to @log (log.c); NULL when off */
    NmsImapTunnelStderr *tunnel_stderr; /* the tunnel's stderr, read into @log; or NULL */
    char *host;          /* for messages: the account's host, or "NAME (tunnel)" */
    GSubprocess *tunnel; /* NULL unless the account has a tunnel command */
    gboolean dead;       /* set after STREAM or PROTOCOL: every later call fails at once */
    char delimiter;      /* first non-zero hierarchy delimiter LIST gave, 0 before */
    char *prefix;        /* personal namespace prefix (wire form), NULL until known */
    gboolean no_move;    /* tests only: behave as if the server lacked MOVE */
    char *keywords[26];  /* keyword for the letters a-z (nms_imap_session_set_keywords), or NULL */
    gboolean qresync;    /* ENABLE QRESYNC succeeded (qresync.c) */
    gboolean qresync_tried; /* nms_imap_qresync_enable() ran once (it acts only once) */
};

/* The letter of IMAP keyword @name in @s, 0 when it has none. */
char nms_imap_keyword_letter (const NmsImapSession *s, const char *name);
/* The keyword of letter @c (a-z) in @s, NULL when none. (transfer none) */
const char *nms_imap_letter_keyword (const NmsImapSession *s, char c);

/* Only typedef'd libetpan types can have autoptr cleanups; structs are freed explicitly. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (mailimap, mailimap_free)

/* Translates libetpan result @r of command @what (e.g. "SELECT 'Junk'") into @error:
 * MAILIMAP_ERROR_STREAM -> STREAM, PARSE/PROTOCOL -> PROTOCOL, FATAL (BYE) -> STREAM (all three
 * mark the session dead), the command-specific codes -> NO with the server's response text.
 * Always returns FALSE. @r must be an error code. */
gboolean nms_imap_session_fail (NmsImapSession *s, int r, const char *what, GError **error);

/* Like nms_imap_session_fail(), but quotes the server's refusal from @raw, the bytes read
 * during the command (a capture), when its last line is the tagged NO or BAD: whole, response
 * code included ("[OVERQUOTA] Quota exceeded"), where libetpan keeps only the text after the
 * code. Falls back to libetpan's text. */
gboolean nms_imap_session_fail_reply (NmsImapSession *s, int r, const char *what,
                                      const GByteArray *raw, GError **error);

/* A command libetpan has no call for, sent raw with libetpan's next tag (LIBRARIES.md 1.4):
 * tag, @command, CRLF, flush. Returns the libetpan code. The tag is then
 * "%d" of imap->imap_tag. */
int nms_imap_raw_send (mailimap *imap, const char *command);
/* nms_imap_raw_send(), then reads the reply and lets libetpan store it in the session as its
 * own commands do (mailimap_parse_response: repeated items collapse, LIBRARIES.md 1.4).
 * *@state_out: the tagged reply's MAILIMAP_RESP_COND_STATE_*. A reply without a tagged
 * status is MAILIMAP_ERROR_PROTOCOL. */
int nms_imap_raw_command (mailimap *imap, const char *command, int *state_out);

/* FALSE with STREAM when the session is already dead. */
gboolean nms_imap_session_check_alive (NmsImapSession *s, GError **error);

/* Replaces the low driver of @imap's stream with one that turns a read of 0 (EOF) into -1, so
 * libetpan 1.9.4 reports MAILIMAP_ERROR_STREAM instead of spinning (LIBRARIES.md 1.3.1). */
void nms_imap_install_eof_guard (mailimap *imap);

/* The driver under the EOF guard of @imap's stream (transfer none), NULL when there is no
 * guard. */
mailstream_low *nms_imap_eof_guard_get_inner (mailimap *imap);
/* Replaces the driver under the guard with @inner, which must own the old one: a layer
 * stacked there (COMPRESS) sits below the guard, so EOF is still caught and captures record
 * what libetpan parses, not the bytes on the wire. */
void nms_imap_eof_guard_set_inner (mailimap *imap, mailstream_low *inner);
/* Why the framing guard (frame.h) stopped @imap's stream, or NULL when it did not: a read the
 * guard fails makes libetpan report MAILIMAP_ERROR_STREAM. (transfer none) */
const char *nms_imap_guard_reason (mailimap *imap);
/* The text of the last untagged BYE read on @imap's stream, or NULL. (transfer none) */
const char *nms_imap_guard_bye (mailimap *imap);

/* Records the bytes read from now on, to find what libetpan hides: it turns every string into
 * a C string, so a NUL byte inside a folder name silently cuts the name short. */
void nms_imap_capture_start (mailimap *imap);
/* Ends the capture. (transfer full, NULL when there was none.) @nul_seen_out: a NUL byte was
 * read; @complete_out: the capture holds every byte (it stops growing at 64 MiB). */
GByteArray *nms_imap_capture_stop (mailimap *imap, gboolean *nul_seen_out,
                                   gboolean *complete_out);

/* Verifies the certificate chain of @imap's (TLS) stream for @host against the system trust
 * store, or only against @ca_file when it is not NULL. Fails with NMS_IMAP_ERROR_TLS naming
 * the check that failed. */
gboolean nms_imap_tls_verify (mailimap *imap, const char *host, const char *ca_file,
                              GError **error);

/* ---- log.c ---- */

/* Numbers a new connection of @log and reports @imap's conversation to it, one line per
 * protocol line: private data (LOGIN) shows only its tag and command, and each literal only
 * as "{N bytes}". NULL (nothing attached) unless log->trace. Call before connecting. */
NmsImapTrace *nms_imap_trace_attach (mailimap *imap, NmsImapLog *log);
/* Accepts NULL. Call after mailimap_free(). */
void nms_imap_trace_free (NmsImapTrace *trace);
/* The parts of nms_imap_trace_attach() without libetpan, for tests: a trace of the next
 * connection of @log (log->line must be set), and the bytes @data of one direction (@side 0:
 * received, 1: sent; @private: sent as private) as libetpan's logger hands them over, in
 * chunks of any size. (transfer full) */
NmsImapTrace *nms_imap_trace_new (NmsImapLog *log);
void nms_imap_trace_feed (NmsImapTrace *t, int side, const char *data, gsize len,
                          gboolean private);
/* Reads @tunnel's stderr pipe (it must have one) in a thread, each line to @log as
 * "ACCOUNT: tunnel: TEXT". NULL when @tunnel has no stderr pipe or @log no sink. */
NmsImapTunnelStderr *nms_imap_tunnel_stderr_start (GSubprocess *tunnel, NmsImapLog *log);
/* After the tunnel exited: reads what is left (at most a second more), then stops and frees
 * @e. Returns the last non-empty line it read, as shown, or NULL. NULL @e is fine.
 * (transfer full) */
char *nms_imap_tunnel_stderr_stop (NmsImapTunnelStderr *e);

/* ---- COMPRESS=DEFLATE (compress.c) ---- */

/* A low driver that raw-deflates (RFC 1951, RFC 4978) every write to @inner, flushed at once,
 * and inflates what it reads from @inner. @pending (@pending_len bytes, may be 0) were read
 * from @inner already and are inflated first. Takes ownership of @inner. NULL when zlib
 * cannot set up or @pending_len is too long. (transfer full) */
mailstream_low *nms_imap_compress_low_new (mailstream_low *inner, const void *pending,
                                           gsize pending_len);
/* The byte counts of @low, a driver made by nms_imap_compress_low_new(); FALSE when @low is
 * NULL or another driver. */
gboolean nms_imap_compress_low_stats (mailstream_low *low, NmsImapCompressStats *stats_out);
/* Why the compressed stream of @low broke (corrupt data, ended, endless empty blocks), or
 * NULL: it did not, or @low is no compress driver. (transfer none: lives as long as @low) */
const char *nms_imap_compress_low_failure (mailstream_low *low);
/* The same for @imap's stream. */
const char *nms_imap_compress_failure (mailimap *imap);
/* TRUE when the compress layer of @imap's stream holds data that a read would return at once:
 * compressed bytes not inflated yet, or output zlib held back. Like mailstream's read_buffer_len,
 * such data does not make the socket readable, so check both before polling it (IDLE). */
gboolean nms_imap_compress_buffered (mailimap *imap);
/* The same for @low, a driver made by nms_imap_compress_low_new(). */
gboolean nms_imap_compress_low_buffered (mailstream_low *low);

/* Whether to ask for COMPRESS DEFLATE: never with @setting no or when the server did not
 * offer it; with auto, not through a @tunnel nor to a @loopback peer. */
gboolean nms_imap_compress_wanted (NmsCompress setting, gboolean offered, gboolean tunnel,
                                   gboolean loopback);
/* TRUE for 127.0.0.0/8, ::1, ::ffff:127.0.0.0/104 and AF_UNIX (a socketpair). */
gboolean nms_imap_compress_peer_is_loopback (const struct sockaddr_storage *ss);

/* After login: asks for COMPRESS DEFLATE when @account->compress and the server allow it
 * (auto: not through a tunnel nor to a loopback peer) and on OK puts the layer under the EOF
 * guard. A NO, or a BAD after which NOOP still works, leaves the session uncompressed. FALSE
 * with @error only when the session broke. */
gboolean nms_imap_compress_start (NmsImapSession *s, const NmsAccount *account, GError **error);

/* ---- shared by commands.c and write.c ---- */
/* ---- shared by commands.c, status.c, qresync.c and write.c ---- */

/* The folder of one LIST reply: the name decoded, or its problem named (invalid modified
 * UTF-7; a NUL byte, seen in @raw, the bytes of the reply, when @nul_seen). The first
 * hierarchy delimiter a reply names becomes @session's. (transfer full) */
/* After a LIST: learns the personal namespace prefix when the names hint at one and none is
 * known (NAMESPACE), and names @folders with it. */
void nms_imap_list_names_finish (NmsImapSession *session, GPtrArray *folders);
NmsImapFolder *nms_imap_folder_from_list (NmsImapSession *session,
                                          struct mailimap_mailbox_list *mb, gboolean nul_seen,
                                          const GByteArray *raw);

/* The static attribute of @type in a FETCH response, or NULL. (transfer none) */
struct mailimap_msg_att_static *nms_imap_msg_att_static (struct mailimap_msg_att *att, int type);
/* The UID of a FETCH response, 0 when it has none. */
guint32 nms_imap_msg_att_uid (struct mailimap_msg_att *att);
/* The FLAGS of a FETCH response as sorted Maildir letters (keywords the session maps as
 * their letters); FALSE when the response has no FLAGS. */
gboolean nms_imap_msg_att_letters (const NmsImapSession *session, struct mailimap_msg_att *att,
                                   char letters[NMS_MAILDIR_FLAGS_SIZE]);
/* The folder name of a STATUS reply as LIST gives it: libetpan 1.9.4 hands over a quoted name
 * with its quotes and backslashes, and INBOX in the case the server chose. (transfer full) */
char *nms_imap_status_name (const char *raw);
/* Reads one complete response (untagged data up to the tagged line, or a BYE) from @imap's
 * stream. Returns the libetpan code; *@resp_out is set on success. (status.c; idle.c too) */
int nms_imap_read_response (mailimap *imap, struct mailimap_response **resp_out);
/* @wire_name as an IMAP quoted string, or NULL when it holds 8-bit or control characters.
 * (transfer full) */
char *nms_imap_quote_name (const char *wire_name);
/* A set of sorted, unique @uids (n > 0), with runs coalesced into ranges ("1:5,9").
 * (transfer full) */
struct mailimap_set *nms_imap_set_from_sorted (const guint32 *uids, guint n);
/* GCompareFunc for guint32. */
gint nms_imap_cmp_uid (gconstpointer a, gconstpointer b);
/* @uids sorted, without duplicates and without 0. (transfer full: GArray of guint32) */
GArray *nms_imap_sorted_unique (const guint32 *uids, guint n);
/* UID FETCH @set @type, calling @att_fn for each FETCH response as it completes (it is freed
 * afterwards, so memory stays bounded) and @body_fn (may be NULL) for each body chunk.
 * Returns the libetpan code. */
int nms_imap_uid_fetch_streaming (NmsImapSession *s, struct mailimap_set *set,
                                  struct mailimap_fetch_type *type,
                                  mailimap_msg_att_handler *att_fn,
                                  mailimap_msg_body_handler *body_fn, void *ctx);

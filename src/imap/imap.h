/* SPDX-License-Identifier: GPL-3.0-or-later
 * One IMAP session over libetpan: connect (IMAPS, STARTTLS, plain to loopback, tunnel), TLS
 * verification with GnuTLS, login, capabilities, LIST, SELECT, flag and body fetches, and the
 * commands that change the server (APPEND, STORE, EXPUNGE, MOVE, CREATE).
 * The only code that includes libetpan. Calls block until the server answers. */
#pragma once

#include <glib.h>

#include "config/config.h"

#define NMS_IMAP_ERROR (nms_imap_error_quark ())
GQuark nms_imap_error_quark (void);

typedef enum {
    NMS_IMAP_ERROR_CONNECT,  /* cannot reach the server, or the tunnel failed: exit 3 */
    NMS_IMAP_ERROR_TLS,      /* certificate refused, or STARTTLS missing: exit 3 */
    NMS_IMAP_ERROR_AUTH,     /* login refused: exit 3 */
    NMS_IMAP_ERROR_STREAM,   /* connection lost or timed out mid-session: the session is dead */
    NMS_IMAP_ERROR_PROTOCOL, /* unparsable or hostile reply, or BAD: the session is dead */
    NMS_IMAP_ERROR_NO,       /* the server said NO to one command: the session lives on */
    NMS_IMAP_ERROR_ABORTED,  /* a callback returned FALSE: its error is prefixed in */
} NmsImapError;

typedef struct _NmsImapSession NmsImapSession;

/* Process-wide setup: ignores SIGPIPE, initialises GnuTLS. Call once before any thread. */
void nms_imap_global_init (void);

/* Connects and logs in for @account with @password (for a tunnel only used when the server
 * does not send PREAUTH). Verifies the TLS chain, before LOGIN, against the system store or,
 * when account->ca_file is set, against that file only; and the host name; the error says
 * which check failed. A libetpan socket fd >= FD_SETSIZE is refused. Every read is guarded
 * against EOF mid-literal (LIBRARIES.md 1.3.1) and times out after account->timeout seconds.
 * (transfer full) */
NmsImapSession *nms_imap_session_connect (const NmsAccount *account, const char *password,
                                          GError **error);
/* Where the sessions of one account's run report what is not an error: the IMAP conversation
 * (--trace) and what a tunnel command writes on its stderr. @line gets one whole line, already
 * prefixed with the account (and for the trace the connection number: "work#2 C: ..."); it
 * may be called from any thread, also concurrently. The caller owns the struct and keeps it
 * until every session that uses it is freed. */
typedef struct {
    const char *account;
    gboolean trace;   /* report the conversation: passwords and literal bodies elided */
    void (*line) (const char *text, gpointer user_data);
    gpointer user_data;
    gint connections; /* the sessions opened so far: numbers them (atomic; start at 0) */
} NmsImapLog;

/* nms_imap_session_connect() reporting to @log (NULL: no trace, and a tunnel's stderr is
 * nmsync's own). */
NmsImapSession *nms_imap_session_connect_logged (const NmsAccount *account, const char *password,
                                                 NmsImapLog *log, GError **error);
/* Logs out (best effort), closes, stops a tunnel process. Accepts NULL. */
void nms_imap_session_free (NmsImapSession *session);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsImapSession, nms_imap_session_free)

/* The IMAP keywords this session maps to Maildir letters (a-z): @letters maps a keyword
 * ("$Junk") to a one-letter string ("a"); copied. FETCH FLAGS then reports those keywords as
 * their letters, and STORE/APPEND send the letters as those keywords. Other keywords are
 * ignored, as before. */
void nms_imap_session_set_keywords (NmsImapSession *session, GHashTable *letters);

/* Bytes through a COMPRESS=DEFLATE session (RFC 4978): on the wire and as libetpan sees them. */
typedef struct {
    guint64 wire_in;  /* compressed bytes received */
    guint64 data_in;  /* the same, inflated */
    guint64 data_out; /* bytes libetpan sent */
    guint64 wire_out; /* the same, deflated */
} NmsImapCompressStats;

/* TRUE when @session is compressed (the account's "compress" setting and the server agreed);
 * then *@stats_out holds the byte counts so far. */
gboolean nms_imap_session_compress_stats (NmsImapSession *session,
                                          NmsImapCompressStats *stats_out);

/* The hierarchy delimiter the session learned from LIST, 0 before (or when the server has
 * none). A second session to the same server can be told it instead of sending LIST again. */
char nms_imap_session_get_delimiter (NmsImapSession *session);
void nms_imap_session_set_delimiter (NmsImapSession *session, char delimiter);

/* TRUE when the server announced capability @name (e.g. "UIDPLUS"), case-insensitively. */
gboolean nms_imap_session_has_capability (NmsImapSession *session, const char *name);

typedef struct {
    char *name;      /* nmsync's name: decoded UTF-8, '/' between levels whatever the server's
                      * delimiter (names.c); NULL when the wire name is invalid (see @problem) */
    char *wire_name; /* the name as the server sent it (modified UTF-7), used to SELECT */
    char delimiter;  /* hierarchy delimiter, 0 for none */
    gboolean noselect;
    char *problem;   /* NULL, or why this folder cannot be used (invalid UTF-7, NUL ...) */
    gboolean nul_cut; /* libetpan cut the wire name at a NUL byte: never usable */
    char *special_use; /* RFC 6154 attribute with its backslash ("\\Junk"), or NULL */
    /* STATUS, from nms_imap_list_status() only; all 0 when has_status is FALSE */
    gboolean has_status;
    guint32 uidvalidity;
    guint32 uidnext;
    guint32 messages;
    guint64 highestmodseq; /* 0 when the server has no CONDSTORE (or did not say) */
} NmsImapFolder;

void nms_imap_folder_free (NmsImapFolder *folder);

/* LIST "" "*". (transfer full: GPtrArray of NmsImapFolder with free func) */
GPtrArray *nms_imap_list (NmsImapSession *session, GError **error);

typedef struct {
    guint32 uidvalidity;
    guint32 uidnext;  /* 0 when the server did not say */
    guint32 exists;
} NmsImapFolderState;

/* SELECT (or EXAMINE when @read_only) @wire_name. UIDVALIDITY 0 or missing is a PROTOCOL
 * error. */
gboolean nms_imap_select (NmsImapSession *session, const char *wire_name, gboolean read_only,
                          NmsImapFolderState *state_out, GError **error);

typedef struct {
    guint32 uid;
    char flags[NMS_MAILDIR_FLAGS_SIZE]; /* sorted Maildir letters, keywords as their letters */
    guint32 size;    /* RFC822.SIZE when the server sent it, else 0 (it is not asked for) */
} NmsImapMessageInfo;

/* UID FETCH @first:* (UID FLAGS) in the selected folder. Entries with uid <
 * @first (the "n:*" quirk when n > highest uid) are dropped. (transfer full: GArray of
 * NmsImapMessageInfo, sorted by uid) */
GArray *nms_imap_fetch_infos (NmsImapSession *session, guint32 first, GError **error);

/* Receives bodies during nms_imap_fetch_bodies(). Chunks of one message arrive in order and
 * are never interleaved with another message's; then done() names the message. A message
 * with an empty body gets done() without chunk(). Return FALSE with @error set to stop the
 * fetch (the session is then dead: reconnect). */
typedef struct {
    gboolean (*chunk) (const char *data, gsize len, gpointer user_data, GError **error);
    gboolean (*done) (guint32 uid, gpointer user_data, GError **error);
} NmsImapBodySink;

/* UID FETCH <uids> (UID BODY.PEEK[]) streaming each body to @sink, never holding a whole
 * message in memory. A sink callback returning FALSE fails with ABORTED, its message
 * included; a body for a uid not asked for fails with PROTOCOL; both leave the session dead.
 * A server NO (some messages could not be fetched) returns FALSE with
 * NMS_IMAP_ERROR_NO after the messages it did deliver were handed to the sink; the caller
 * names those that did not arrive. */
gboolean nms_imap_fetch_bodies (NmsImapSession *session, const guint32 *uids, guint n_uids,
                                const NmsImapBodySink *sink, gpointer user_data, GError **error);

/* ---- writing to the server (push, sync) ------------------------------------------------ */

/* APPENDs the message in file @path to folder @wire_name with Maildir @flags (letters, may be
 * empty) and internal date @date (seconds since the epoch, from the file's mtime). The file's
 * LF line ends go out as CRLF, and the literal size is the CRLF size (libetpan turns a bare CR
 * into CRLF as well). The file is mapped, not read into a buffer; a file that cannot be
 * mapped fails with its G_FILE_ERROR before anything is sent. With UIDPLUS, *uidvalidity_out
 * and *uid_out get APPENDUID's values; otherwise, or when APPENDUID names no single nonzero
 * uid, both are 0 (the caller finds the UID by Message-ID). NO from the server is
 * NMS_IMAP_ERROR_NO with its text (Dovecot refuses an empty file so). */
gboolean nms_imap_append (NmsImapSession *session, const char *wire_name, const char *path,
                          const char *flags, gint64 date, guint32 *uidvalidity_out,
                          guint32 *uid_out, GError **error);

/* UID STORE <uids> +FLAGS.SILENT (@add) and/or -FLAGS.SILENT (@remove), Maildir letters mapped
 * to IMAP flags (letters without an IMAP meaning are ignored; an empty or NULL string sends
 * nothing). UIDs are coalesced into ranges. The folder must be selected read-write. */
gboolean nms_imap_store_flags (NmsImapSession *session, const guint32 *uids, guint n_uids,
                               const char *add, const char *remove, GError **error);

/* UID EXPUNGE <uids> (RFC 4315): removes exactly these messages, which must already carry
 * \Deleted. Fails with NMS_IMAP_ERROR_NO "server lacks UIDPLUS" without sending anything when
 * the server has no UIDPLUS (a plain EXPUNGE could remove other clients' \Deleted mail). */
gboolean nms_imap_expunge_uids (NmsImapSession *session, const guint32 *uids, guint n_uids,
                                GError **error);

/* Moves message @uid of the selected folder to @dest_wire_name: UID MOVE (RFC 6851) where the
 * server has MOVE, else UID COPY + UID STORE +FLAGS.SILENT (\Deleted) + UID EXPUNGE of that
 * UID (needs UIDPLUS). Without UIDPLUS the original stays marked \Deleted (never a plain
 * EXPUNGE, which would remove other clients' \Deleted mail): TRUE, with *expunged_out FALSE.
 * With COPYUID (UIDPLUS), *dest_uidvalidity_out and *dest_uid_out get the new UID; else, and
 * when COPYUID does not map exactly @uid to one nonzero uid, both are 0 (the caller finds the
 * copy by Message-ID). On failure the message may have been copied already. */
gboolean nms_imap_move (NmsImapSession *session, guint32 uid, const char *dest_wire_name,
                        guint32 *dest_uidvalidity_out, guint32 *dest_uid_out,
                        gboolean *expunged_out, GError **error);

/* CREATE @wire_name (already modified UTF-7). A folder that exists already is not an error. */
gboolean nms_imap_create (NmsImapSession *session, const char *wire_name, GError **error);

/* Folder names (names.c). Above imap/ a folder is named one way whatever the server's
 * hierarchy delimiter: decoded UTF-8 with '/' between levels ("Archives/2012" for the wire's
 * "Archives.2012" under '.'); NmsImapFolder.name is that name.
 *
 * A personal namespace prefix (@prefix, the wire's "INBOX." on Courier; NULL or "" when none,
 * ignored unless it ends with @delim) is not part of the name: "INBOX.Sent" is "Sent".
 *
 * @name for the wire: '/' replaced by @delim ('/' kept when @delim is '/' or 0), then
 * modified UTF-7, then @prefix in front (not for INBOX). (transfer full) */
char *nms_imap_folder_name_to_wire (const char *name, char delim, const char *prefix);
/* The inverse: @prefix removed, @wire_name decoded, @delim replaced by '/'. NULL with @error
 * (naming the folder) when it is not valid modified UTF-7, when @delim is not '/' and a level
 * holds a '/' (it would read back as two levels), or when a @prefix is in use and the folder
 * is not INBOX and not under it (or is "INBOX.INBOX"): it would not come back to itself.
 * (transfer full) */
char *nms_imap_folder_name_from_wire (const char *wire_name, char delim, const char *prefix,
                                      GError **error);
/* nms_imap_folder_name_to_wire() with the delimiter @session learned from LIST ('/' when
 * unknown) and its personal namespace prefix. (transfer full) */
char *nms_imap_folder_wire_name (NmsImapSession *session, const char *name);
/* The personal namespace prefix @session strips from names, "" for none. The first LIST asks
 * NAMESPACE only when a listed folder starts with "INBOX" and the delimiter (Courier's
 * "INBOX.Sent"): elsewhere a no-change sync stays one LIST. (transfer none) */
const char *nms_imap_session_get_prefix (NmsImapSession *session);
/* Makes @session use @prefix (a worker's session learns it from the run's first one; "" turns
 * stripping off) and not ask NAMESPACE itself. */
void nms_imap_session_set_prefix (NmsImapSession *session, const char *prefix);
/* Names the NmsImapFolder @folders again with @session's current prefix (after
 * nms_imap_session_set_prefix()). */
void nms_imap_folders_rename (NmsImapSession *session, GPtrArray *folders);

typedef struct {
    guint32 uid;
    guint32 size;      /* RFC822.SIZE */
    char *message_id;  /* without <>, NULL when the message has none */
} NmsImapMessageIdent;

void nms_imap_message_ident_free (NmsImapMessageIdent *ident);

/* UID FETCH @first:* (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]) in the selected
 * folder: what re-pairing after a UIDVALIDITY change and crash recovery after an APPEND need.
 * Message-IDs are parsed as notmuch does (first <...>, unfolded; else the trimmed value;
 * NULL when empty or not UTF-8). (transfer full: GPtrArray of
 * NmsImapMessageIdent, with free func, sorted by uid) */
GPtrArray *nms_imap_fetch_idents (NmsImapSession *session, guint32 first, GError **error);

/* ---- one round trip per run, and only the changes per folder ------------------------------ */

/* The folder list as nms_imap_list() gives it, with each selectable folder's STATUS
 * (UIDVALIDITY UIDNEXT MESSAGES, and HIGHESTMODSEQ when the server has CONDSTORE): one
 * LIST-STATUS command (RFC 5819) where the server has it, else LIST and, with CONDSTORE, one
 * STATUS per folder, pipelined (also when the server refuses LIST-STATUS); without CONDSTORE no
 * STATUS proves anything, so none is sent. A folder the server gives no status
 * for (deleted meanwhile, a name that cannot be quoted) has has_status FALSE.
 * (transfer full: GPtrArray of NmsImapFolder with free func) */
GPtrArray *nms_imap_list_status (NmsImapSession *session, GError **error);

/* ENABLE QRESYNC (RFC 7162) when the server offers it; afterwards expunges are reported as
 * VANISHED. Acts once per session and only before any SELECT (RFC 5161; later calls do
 * nothing); a refusal only leaves QRESYNC off. */
void nms_imap_qresync_enable (NmsImapSession *session);
/* TRUE once ENABLE QRESYNC succeeded on this session. */
gboolean nms_imap_qresync_enabled (NmsImapSession *session);

/* SELECT (EXAMINE when @read_only) @wire_name (QRESYNC (@uidvalidity @modseq)): besides the
 * folder state, the server reports only what changed since @modseq: the FLAGS of changed or
 * new messages (*changed_out: GArray of NmsImapMessageInfo, size 0, sorted by uid) and the
 * UIDs expunged since, of which *vanished_out gets those in @known (sorted uids; GArray of
 * guint32, sorted). When the server's UIDVALIDITY is not @uidvalidity (it then reports
 * nothing), or the name cannot be sent quoted (a plain SELECT is sent), both are NULL: the
 * caller must fetch every message's flags. Needs nms_imap_qresync_enabled(). (transfer full) */
gboolean nms_imap_select_qresync (NmsImapSession *session, const char *wire_name,
                                  gboolean read_only, guint32 uidvalidity, guint64 modseq,
                                  const guint32 *known, guint n_known,
                                  NmsImapFolderState *state_out, GArray **changed_out,
                                  GArray **vanished_out, GError **error);

/* ---- waiting for changes (nmsync watch; idle.c) ---------------------------------------------- */

/* What the server pushed while a session waited. */
typedef struct {
    GPtrArray *folders;   /* char*: nmsync names of the folders a pushed STATUS named (NOTIFY),
                           * each once; names that do not decode are left out */
    gboolean selected;    /* EXISTS, EXPUNGE, FETCH or VANISHED: the selected folder changed */
    gboolean folder_list; /* a pushed LIST (NOTIFY MailboxName): a folder was created, deleted
                           * or renamed */
    gboolean unknown;     /* a pushed STATUS whose folder name does not decode (or came as a
                           * literal, which libetpan 1.9.4 mangles): some folder changed */
} NmsImapPush;

void nms_imap_push_init (NmsImapPush *push);
void nms_imap_push_clear (NmsImapPush *push);

/* Parses @data, the bytes of one server response (untagged lines, then a tagged line), as the
 * responses pushed during IDLE, and adds what they report to @push. Pushed STATUS names are
 * decoded with @delim ('/' when 0) and @prefix (nms_imap_folder_name_from_wire()); 8-bit
 * UTF-8 names (Dovecot's NOTIFY sends them) are taken as meant. PROTOCOL
 * when the bytes do not parse. For tests and fuzzing; sessions use nms_imap_idle_done(). */
gboolean nms_imap_push_parse (const char *data, gsize len, char delim, const char *prefix,
                              NmsImapPush *push, GError **error);

/* ENABLE CONDSTORE (when offered: flag changes elsewhere then come with HIGHESTMODSEQ), then
 * NOTIFY SET (personal (MessageNew MessageExpunge FlagChange MailboxName)) (RFC 5465): while
 * the session idles, changes in every personal folder are pushed as STATUS, folders created,
 * deleted or renamed as LIST. NO when the server lacks NOTIFY or refuses it (the session
 * lives on). Send it with no folder selected. */
gboolean nms_imap_notify_set (NmsImapSession *session, GError **error);

/* Sets SO_KEEPALIVE on the socket, sends IDLE (RFC 2177) and reads up to the server's "+".
 * Untagged data that arrives first is added to @push. NO when the server refuses IDLE; a
 * literal or a BYE before the "+" kills the session. While idling, poll nms_imap_idle_fd()
 * and nms_imap_idle_buffered(); only nms_imap_idle_done() or nms_imap_idle_abandon() may
 * follow. */
gboolean nms_imap_idle_start (NmsImapSession *session, NmsImapPush *push, GError **error);
/* The socket to poll for readability while idling, -1 when there is none. */
int nms_imap_idle_fd (NmsImapSession *session);
/* TRUE when bytes are already read (buffered by libetpan or the COMPRESS layer): they will not
 * make the socket readable, so treat the session as readable. */
gboolean nms_imap_idle_buffered (NmsImapSession *session);
/* Sends DONE and reads the rest of the IDLE reply, adding what was pushed to @push. A BYE
 * (server shutdown) or a lost connection fail with STREAM; the session is then dead. Blocks
 * up to the account's timeout while the server does not answer. */
gboolean nms_imap_idle_done (NmsImapSession *session, NmsImapPush *push, GError **error);
/* Ends an idling session without waiting: writes DONE and LOGOUT, reads nothing, and marks the
 * session dead (nms_imap_session_free() then only closes it). */
void nms_imap_idle_abandon (NmsImapSession *session);

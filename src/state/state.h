/* SPDX-License-Identifier: GPL-3.0-or-later
 * The per-account sync state in SQLite: per folder the UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ and
 * message count last seen and its local directory mtimes, per message the UID and the flags
 * both sides last agreed on. Also the account lock.
 * Files are private (0600) in a private directory (0700). */
#pragma once

#include <glib.h>

#define NMS_STATE_ERROR (nms_state_error_quark ())
GQuark nms_state_error_quark (void);

typedef enum {
    NMS_STATE_ERROR_DB,     /* SQLite failed: the message names the file */
    NMS_STATE_ERROR_LOCKED, /* another process holds the account lock */
    NMS_STATE_ERROR_IO,
} NmsStateError;

typedef struct _NmsState NmsState;

/* The state file of @account: <@dir>/<@account>.db. (transfer full) */
char *nms_state_path (const char *dir, const char *account);
/* Opens (creating) <@dir>/<@account>.db. (transfer full) */
NmsState *nms_state_open (const char *dir, const char *account, GError **error);
/* For --dry-run: a private in-memory copy of <@dir>/<@account>.db (an empty state when there
 * is none), read without writing anything: no directory, file, WAL or lock is created or
 * changed, and whatever the run writes to the copy is lost when it is freed. (transfer full) */
NmsState *nms_state_open_copy (const char *dir, const char *account, GError **error);
void nms_state_free (NmsState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsState, nms_state_free)

/* Takes the exclusive lock <@dir>/<@account>.lock (flock, released when the process ends, so a
 * killed nmsync never leaves a stale lock), waiting up to @wait_ms while another process holds
 * it. Held until nms_state_unlock. Every command that changes the account's Maildir or server
 * takes it (sync, pull, push, apply). On contention fails with LOCKED: "account 'a' is in use
 * by another nmsync (pid N); gave up after S s". Returns the lock fd. */
int nms_state_lock (const char *dir, const char *account, guint wait_ms, GError **error);
void nms_state_unlock (int fd);

/* Transactions: everything between begin and commit is atomic. Commit is durable up to the last
 * commit before a power loss (WAL, synchronous=NORMAL): every writer of state must therefore
 * keep the disk ahead of the state, so that a lost commit is recovered by the next run (a
 * local file carrying a UID the state does not know is adopted, not downloaded again). */
gboolean nms_state_begin (NmsState *state, GError **error);
gboolean nms_state_commit (NmsState *state, GError **error);
void nms_state_rollback (NmsState *state);

/* What the last complete sync of a folder saw, so that the next run can skip the folder when
 * neither side changed. highestmodseq 0 means "not known to be complete": no skip, no QRESYNC.
 * The mtimes (nanoseconds) are those of cur/ and new/ before the scan; 0 means unknown. */
typedef struct {
    guint32 uidvalidity;
    guint32 uidnext;
    guint64 highestmodseq;
    guint32 messages;
    gint64 cur_mtime_ns;
    gint64 new_mtime_ns;
} NmsStateFolder;

/* Looks up @folder (decoded name). *found_out is FALSE when the state has no record of it. */
gboolean nms_state_folder_get (NmsState *state, const char *folder, NmsStateFolder *folder_out,
                               gboolean *found_out, GError **error);
gboolean nms_state_folder_set (NmsState *state, const char *folder, const NmsStateFolder *value,
                               GError **error);
/* Sets every folder's highestmodseq to 0: no folder is then known complete, so the next run
 * looks at each one in full (after a change that the server would not report as one). */
gboolean nms_state_folders_reset_modseq (NmsState *state, GError **error);
/* A value of the account's own key-value store; *value_out NULL when @key has none.
 * (transfer full) */
gboolean nms_state_meta_get (NmsState *state, const char *key, char **value_out, GError **error);
gboolean nms_state_meta_set (NmsState *state, const char *key, const char *value, GError **error);
gboolean nms_state_meta_delete (NmsState *state, const char *key, GError **error);
/* How many messages the state records in all folders of the account (a full count: use
 * nms_state_has_messages where that is all the question). */
gboolean nms_state_message_count (NmsState *state, guint64 *count_out, GError **error);
/* How many messages the state records in @folder. */
gboolean nms_state_folder_message_count (NmsState *state, const char *folder, guint64 *count_out,
                                         GError **error);
/* *@any_out: the state records at least one message (one index probe). */
gboolean nms_state_has_messages (NmsState *state, gboolean *any_out, GError **error);
/* Forgets @folder and all its messages. */
gboolean nms_state_folder_forget (NmsState *state, const char *folder, GError **error);
/* Renames @folder's record, its messages, intents and role to @to, in one transaction.
 * @to must have no record (the caller checks). */
gboolean nms_state_folder_rename (NmsState *state, const char *from, const char *to,
                                  GError **error);
/* All folder names the state knows, sorted. (transfer full: GPtrArray of char*) */
GPtrArray *nms_state_folder_names (NmsState *state, GError **error);

typedef struct {
    guint32 uid;
    char flags[40]; /* sorted Maildir letters agreed at the last sync (NMS_MAILDIR_FLAGS_SIZE) */
    char *base;    /* the local file's unique part (name without ",U=" and info); "" unknown */
} NmsStateMessage;

/* The messages recorded for @folder, sorted by uid. (transfer full: GArray of NmsStateMessage,
 * with a clear func for the base strings) */
GArray *nms_state_messages (NmsState *state, const char *folder, GError **error);
/* Records message @uid of @folder as agreed with @flags, its local file's unique part @base. */
gboolean nms_state_message_put (NmsState *state, const char *folder, guint32 uid,
                                const char *flags, const char *base, GError **error);
/* Finds the message whose local file has unique part @base (a file moved between folders keeps
 * it). *found_out FALSE when none; else @folder_out (transfer full) and the message. */
gboolean nms_state_message_find_base (NmsState *state, const char *base, char **folder_out,
                                      NmsStateMessage *message_out, gboolean *found_out,
                                      GError **error);
gboolean nms_state_message_delete (NmsState *state, const char *folder, guint32 uid,
                                   GError **error);
/* Records the Message-ID (NULL: none) and CRLF size of the server message @uid of @folder, so
 * that a server-side move of it to another folder can take the local file along. */
gboolean nms_state_message_set_content (NmsState *state, const char *folder, guint32 uid,
                                        const char *message_id, guint64 size, GError **error);
/* The messages of folders other than @not_folder with Message-ID @message_id and CRLF size
 * @size (and a known file unique part), by folder and uid; @folders_out gets each one's
 * folder name (transfer full strings). (transfer full: GArray of NmsStateMessage, with a clear
 * func; NULL with @error set) */
GArray *nms_state_message_find_content (NmsState *state, const char *message_id, guint64 size,
                                        const char *not_folder, GPtrArray *folders_out,
                                        GError **error);
/* *@folder_out: a folder other than @not_folder holding a message whose file has unique part
 * @base, or NULL. (transfer full) */
gboolean nms_state_message_base_elsewhere (NmsState *state, const char *base,
                                           const char *not_folder, char **folder_out,
                                           GError **error);
/* *@found_out: the state records message @uid of @folder. */
gboolean nms_state_message_exists (NmsState *state, const char *folder, guint32 uid,
                                   gboolean *found_out, GError **error);

/* ---- special-use roles --------------------------------------------------------------------
 * What the server's LIST said at the last sync: role ("\\Junk") -> folder name. Rules resolve
 * roles from it without the network (nmsync apply). */

/* Replaces the stored roles with @roles (role -> folder; NULL or empty clears them). */
gboolean nms_state_roles_set (NmsState *state, GHashTable *roles, GError **error);
/* The stored roles. (transfer full: role -> folder, both strings owned by the table) */
GHashTable *nms_state_roles (NmsState *state, GError **error);

/* ---- keyword letters ----------------------------------------------------------------------
 * IMAP keywords named in [keywords] rules travel in file names as the Maildir letters a-z
 * (as Dovecot does). A keyword gets its letter once and keeps it: a letter never changes
 * meaning, whatever the rule files say later. */

/* The letters of @keywords (NULL-terminated), assigning the first free letter to each keyword
 * that has none yet. Fails when more than 26 keywords would need letters.
 * (transfer full: keyword -> one-letter string, for nms_imap_session_set_keywords) */
GHashTable *nms_state_keyword_letters (NmsState *state, char *const *keywords, GError **error);

/* ---- intents ------------------------------------------------------------------------------
 * Before an action touches the server or the disk, its intent is recorded and committed
 * (durably: synchronous=FULL); after the action and its state changes, the intent is removed in
 * the same transaction as those changes. An intent left over names an action a crash may have
 * cut in half; the executor recovers it before planning that folder again. */

typedef enum {
    NMS_INTENT_APPEND = 1, /* uploading local file @path to @folder; @uidnext: the folder's
                            * UIDNEXT before, @message_id and @size to recognise the copy */
    NMS_INTENT_MOVE,       /* moving @uid of @folder to @dest on the server, for local @path */
    NMS_INTENT_STORE,      /* changing flags of @uid on the server (idempotent: replanned) */
    NMS_INTENT_EXPUNGE,    /* deleting @uid on the server (idempotent: replanned) */
    NMS_INTENT_LOCAL,      /* renaming or deleting local @path (idempotent: replanned) */
} NmsIntentKind;

typedef struct {
    gint64 id;
    NmsIntentKind kind;
    char *folder;
    guint32 uid;
    char *path;
    char *dest;
    guint32 uidnext;
    char *message_id;
    guint64 size;
} NmsStateIntent;

void nms_state_intent_clear (NmsStateIntent *intent);

/* Records @intent (its id is ignored) in its own committed transaction; returns the new id, or
 * 0 with @error set. Must not be called inside nms_state_begin/commit. */
gint64 nms_state_intent_add (NmsState *state, const NmsStateIntent *intent, GError **error);
/* Removes intent @id; call it inside the transaction that records the action's effects. */
gboolean nms_state_intent_remove (NmsState *state, gint64 id, GError **error);
/* The intents left for @folder, oldest first. (transfer full: GArray of NmsStateIntent, with a
 * clear func) */
GArray *nms_state_intents (NmsState *state, const char *folder, GError **error);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The notmuch database: the only code that includes notmuch.h. Opening it through notmuch's
 * own config lookup, indexing what a sync changed (added, renamed, removed files) exactly as
 * `notmuch new` would, and the queries, tags, properties and revisions the rules need. */
#pragma once

#include <glib.h>

#include "util/context.h"
#include "util/file-event.h"

#define NMS_DB_ERROR (nms_db_error_quark ())
GQuark nms_db_error_quark (void);

typedef enum {
    NMS_DB_ERROR_OPEN,   /* no config or database, or it cannot be opened */
    NMS_DB_ERROR_NO_CONFIG, /* nms_db_ensure: no notmuch config at all (notmuch not set up) */
    NMS_DB_ERROR_LOCKED, /* another process kept the write lock longer than we waited */
    NMS_DB_ERROR_WRITE,  /* a write or the final commit failed (Xapian's message included) */
    NMS_DB_ERROR_QUERY,  /* a query did not parse */
    NMS_DB_ERROR_LOAD,   /* libnotmuch itself cannot be loaded (nmsync loads it only when a
                          * run needs the database) */
} NmsDbError;

typedef struct _NmsDb NmsDb;

/* Opens the database. @config_path: NULL for notmuch's own lookup ($NOTMUCH_CONFIG, then
 * $XDG_CONFIG_HOME/notmuch/default/config, then ~/.notmuch-config). Read-write when @writable:
 * when another process (notmuch new, a hook) holds the write lock, waits up to
 * @lock_timeout_ms, then fails with LOCKED ("notmuch database 'P' is locked by another
 * process (notmuch new?); gave up after N s"). Messages name the database path and carry
 * notmuch's own error text. (transfer full) */
NmsDb *nms_db_open (const char *config_path, gboolean writable, guint lock_timeout_ms,
                    GError **error);
/* Closes and frees @db; a failed final commit is reported (the database then keeps what was
 * committed before). Accepts NULL (returns TRUE). */
gboolean nms_db_close (NmsDb *db, GError **error);
/* Creates the database notmuch's config names (@config_path, else notmuch's own lookup) when
 * that config exists and the database does not, as a first `notmuch new` would; *@created_out
 * says whether this call made it. FALSE with NMS_DB_ERROR_NO_CONFIG when there is no notmuch
 * config at all, NMS_DB_ERROR_OPEN when the database cannot be opened or made. */
gboolean nms_db_ensure (const char *config_path, gboolean *created_out, GError **error);

/* The Xapian directory of the database notmuch's lookup finds for @config_path, when the
 * config file alone tells it (an absolute [database] path whose database exists, no
 * $NOTMUCH_DATABASE), without loading libnotmuch; else NULL: then open the database and ask
 * nms_db_xapian_dir(). (transfer full) */
char *nms_db_find_xapian_dir (const char *config_path);
/* The directory notmuch writes the database into (Xapian's: <path>/xapian in the split
 * layout, else <path>/.notmuch/xapian), for write confinement. (transfer full) */
char *nms_db_xapian_dir (NmsDb *db);
/* The mail root (absolute; files outside it cannot be indexed). (transfer none) */
const char *nms_db_mail_root (NmsDb *db);
/* maildir.synchronize_flags from notmuch's config. */
gboolean nms_db_synchronize_flags (NmsDb *db);
/* new.tags from notmuch's config. (transfer none: NULL-terminated, lives as long as @db) */
char *const *nms_db_new_tags (NmsDb *db);
/* A string value from notmuch's config ("nmsync.rules" etc.), NULL when unset or empty; a
 * list comes back as written ("a;b"). (transfer full) */
char *nms_db_config_get (NmsDb *db, const char *key);
/* new.ignore as notmuch sees it (config file and database), ';'-separated, NULL when empty.
 * (transfer full) */
char *nms_db_new_ignore (NmsDb *db);
/* Stores a string in the database's own config (notmuch_database_set_config). */
gboolean nms_db_config_set (NmsDb *db, const char *key, const char *value, GError **error);

/* ---- indexing what a sync did --------------------------------------------------------- */

typedef struct {
    guint added;    /* new messages (another file of a known message is not counted) */
    guint renamed;  /* files updated in place (tags kept) */
    guint removed;  /* filenames removed (a message goes with its last file) */
    guint outside;  /* files outside the mail root: not indexed */
    guint not_mail; /* files notmuch refused as not mail */
    guint vanished; /* files gone or unreadable again (FILE_ERROR): skipped, as notmuch new does;
                     * for RENAMED the old filename then stays */
    GPtrArray *too_long; /* NULL, or the paths not indexed because their file name (or one of
                          * their directories) is longer than NMS_DB_NAME_MAX (owned; for
                          * RENAMED the old filename stays) */
} NmsDbStats;

/* Frees what @stats owns (too_long) and sets it to NULL. */
void nms_db_stats_clear (NmsDbStats *stats);

/* The longest file name handed to libnotmuch. Its Xapian term for a file,
 * "XFDIRENTRY<directory id>:<name>", holds at most 245 bytes; a longer one is an INTERNAL_ERROR
 * that ends the process from inside the library (LIBRARIES.md 6b). With a directory id of up
 * to 10 digits, 224 bytes are always safe. */
#define NMS_DB_NAME_MAX 224

/* Applies @events in atomic batches (begin/end_atomic every @batch events), as `notmuch new`
 * does per file (LIBRARIES.md 2b, 2c):
 * - ADDED: index_file; on SUCCESS new.tags (except "unread" when the file has S), then
 *   maildir_flags_to_tags when synchronize_flags; on DUPLICATE_MESSAGE_ID (another copy) only
 *   maildir_flags_to_tags.
 * - RENAMED: index the new path first (DUPLICATE: the message and its tags persist), then
 *   remove the old filename, then maildir_flags_to_tags (the other order would delete the
 *   message and its tags).
 * - REMOVED: remove the filename; when the message keeps other files, maildir_flags_to_tags.
 * A RENAMED whose new path is outside the mail root is a removal, one from outside an ADDED.
 * A file whose name (or a directory's under the mail root) is longer than NMS_DB_NAME_MAX is
 * never given to libnotmuch: it goes
 * into @stats_out->too_long (or is dropped when @stats_out is NULL) and the rest goes on.
 * A `notmuch new` afterwards finds nothing to do. Stops at the first write error; what came
 * before it stays applied, and @stats_out (may be NULL) counts it, on error too. */
gboolean nms_db_apply_events (NmsDb *db, const NmsFileEvent *events, gsize n_events, guint batch,
                              NmsDbStats *stats_out, GError **error);

/* A RENAMED @event (as nms_db_apply_events) and then nms_db_message_update() of message @id,
 * in one atomic section, with the tags from the flags of the message's filenames
 * (maildir_flags_to_tags) set on the document the update writes: Xapian loads every document
 * it changes in full, with positions, and a rename and an update each loaded it apart (a fifth
 * of an apply moving messages). The update comes after maildir_flags_to_tags, as before. */
gboolean nms_db_rename_message (NmsDb *db, const NmsFileEvent *event, const char *id,
                                char *const *add_tags, char *const *remove_tags,
                                const char *agreed_folder, const char *agreed_flags,
                                NmsDbStats *stats_out, GError **error);

/* ---- indexer.c: the writer thread of a sync ------------------------------------------- */

typedef struct _NmsIndexer NmsIndexer;

/* Starts the writer thread for one account's run: it opens the database (@notmuch_config, or
 * notmuch's own lookup when NULL) at the first event, waiting a bounded time for the write
 * lock, and applies the events in atomic batches as they arrive. (transfer full: end it with
 * nms_indexer_finish) */
NmsIndexer *nms_indexer_start (const char *notmuch_config);
/* An NmsSyncFileFunc (sync/sync.h): @user_data is the NmsIndexer. Safe to call from any
 * thread; queues the event and returns at once. */
void nms_indexer_on_file (NmsFileEventKind kind, const char *path, const char *old_path,
                          gpointer user_data);
/* Waits until the writer applied every queued event and closed the database, reports through
 * @ctx (from the calling thread) and frees @indexer. Without any notmuch setup nothing is
 * indexed (said at -v). A failure (lock, write, commit) is reported once, counted as skipped,
 * and returns FALSE: the files are in place either way, and `notmuch new` indexes them. */
gboolean nms_indexer_finish (NmsIndexer *indexer, NmsContext *ctx);

/* ---- what the rules read and write ------------------------------------------------------ */

/* The database revision (lastmod) and its UUID (transfer full). */
guint64 nms_db_revision (NmsDb *db, char **uuid_out);

typedef struct {
    char *id;            /* Message-ID as notmuch stores it */
    char **tags;         /* sorted, NULL-terminated */
    char **paths;        /* absolute filenames, NULL-terminated, notmuch's order */
    char *agreed_folder; /* property "nmsync.folder", or NULL */
    char *agreed_flags;  /* property "nmsync.flags", or NULL */
} NmsDbMessage;

void nms_db_message_free (NmsDbMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsDbMessage, nms_db_message_free)

/* The messages matching @query (notmuch's query syntax; search.exclude_tags NOT applied),
 * copied out of libnotmuch. (transfer full: GPtrArray of NmsDbMessage, with free func) */
GPtrArray *nms_db_query (NmsDb *db, const char *query, GError **error);
/* The ids of the messages matching @query. (transfer full: set of id strings) */
GHashTable *nms_db_query_ids (NmsDb *db, const char *query, GError **error);
/* How many messages match. */
gboolean nms_db_count (NmsDb *db, const char *query, guint *count_out, GError **error);

/* Changes message @id: adds and removes tags (NULL-terminated lists, either may be NULL) and
 * sets the properties "nmsync.folder" / "nmsync.flags" (NULL: leave as is), atomically. */
gboolean nms_db_message_update (NmsDb *db, const char *id, char *const *add_tags,
                                char *const *remove_tags, const char *agreed_folder,
                                const char *agreed_flags, GError **error);

/* One atomic section around many changes (nms_db_apply_events, nms_db_message_update: their
 * own sections nest inside it): Xapian then writes the batch's changes once instead of once per
 * message. Atomicity only: nothing is committed before the database is closed (or notmuch's
 * autocommit count is reached), so a crash loses the whole batch, never half a message. */
gboolean nms_db_begin_batch (NmsDb *db, GError **error);
gboolean nms_db_end_batch (NmsDb *db, GError **error);

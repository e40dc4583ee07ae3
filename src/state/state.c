/* SPDX-License-Identifier: GPL-3.0-or-later
 * Sync state in SQLite. One database per account, prepared statements kept for the run:
 * opening and the schema, folders, messages and intents. The account lock is in lock.c, the
 * small tables (roles, keyword letters, key-value meta, counts) in meta.c. */
#include "nms-build.h"

#include "state/state.h"
#include "state/state-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

G_DEFINE_QUARK (nms-state-error-quark, nms_state_error)

#define SCHEMA_VERSION 4


static const char *const stmt_sql[N_STMTS] = {
    [STMT_FOLDER_GET] = "SELECT uidvalidity, uidnext, highestmodseq, messages, cur_mtime,"
                        " new_mtime FROM folders WHERE name = ?1",
    [STMT_FOLDER_SET] = "INSERT INTO folders (name, uidvalidity, uidnext, highestmodseq, messages,"
                        " cur_mtime, new_mtime) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) "
                        "ON CONFLICT (name) DO UPDATE SET uidvalidity = ?2, uidnext = ?3,"
                        " highestmodseq = ?4, messages = ?5, cur_mtime = ?6, new_mtime = ?7",
    [STMT_FOLDER_DELETE] = "DELETE FROM folders WHERE name = ?1",
    [STMT_FOLDER_MESSAGES_DELETE] = "DELETE FROM messages WHERE folder = ?1",
    [STMT_FOLDER_NAMES] = "SELECT name FROM folders ORDER BY name",
    [STMT_MESSAGES] = "SELECT uid, flags, base FROM messages WHERE folder = ?1 ORDER BY uid",
    /* An update keeps message_id and size: they describe the server message (folder, uid). */
    [STMT_MESSAGE_PUT] = "INSERT INTO messages (folder, uid, flags, base) VALUES (?1, ?2, ?3, ?4) "
                         "ON CONFLICT (folder, uid) DO UPDATE SET flags = ?3, base = ?4",
    [STMT_MESSAGE_DELETE] = "DELETE FROM messages WHERE folder = ?1 AND uid = ?2",
    [STMT_MESSAGE_EXISTS] = "SELECT 1 FROM messages WHERE folder = ?1 AND uid = ?2",
    [STMT_MESSAGE_FIND_BASE] = "SELECT folder, uid, flags, base FROM messages WHERE base = ?1 "
                               "AND base != '' LIMIT 1",
    [STMT_MESSAGE_SET_CONTENT] = "UPDATE messages SET message_id = ?3, size = ?4 "
                                 "WHERE folder = ?1 AND uid = ?2",
    [STMT_MESSAGE_FIND_CONTENT] = "SELECT folder, uid, flags, base FROM messages WHERE "
                                  "message_id = ?1 AND size = ?2 AND folder != ?3 AND base != '' "
                                  "ORDER BY folder, uid",
    [STMT_MESSAGE_BASE_ELSEWHERE] = "SELECT folder FROM messages WHERE base = ?1 AND base != '' "
                                    "AND folder != ?2 LIMIT 1",
    [STMT_INTENT_ADD] = "INSERT INTO intents (kind, folder, uid, path, dest, uidnext, message_id,"
                        " size) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [STMT_INTENT_REMOVE] = "DELETE FROM intents WHERE id = ?1",
    [STMT_INTENTS] = "SELECT id, kind, folder, uid, path, dest, uidnext, message_id, size "
                     "FROM intents WHERE folder = ?1 ORDER BY id",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS folders (name TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL,"
    "  uidnext INTEGER NOT NULL DEFAULT 0, highestmodseq INTEGER NOT NULL DEFAULT 0,"
    "  messages INTEGER NOT NULL DEFAULT 0, cur_mtime INTEGER NOT NULL DEFAULT 0,"
    "  new_mtime INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS messages (folder TEXT NOT NULL, uid INTEGER NOT NULL,"
    "  flags TEXT NOT NULL, base TEXT NOT NULL DEFAULT '', message_id TEXT,"
    "  size INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (folder, uid)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS messages_base ON messages (base);"
    "CREATE INDEX IF NOT EXISTS messages_content ON messages (message_id, size);"
    "CREATE TABLE IF NOT EXISTS roles (role TEXT PRIMARY KEY, folder TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS keywords (keyword TEXT PRIMARY KEY, letter TEXT NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS intents (id INTEGER PRIMARY KEY, kind INTEGER NOT NULL,"
    "  folder TEXT NOT NULL, uid INTEGER NOT NULL DEFAULT 0, path TEXT, dest TEXT,"
    "  uidnext INTEGER NOT NULL DEFAULT 0, message_id TEXT, size INTEGER NOT NULL DEFAULT 0);";

/* Version 1 (pull only) had no base names: add the column before the schema above runs. */
static const char migrate_1_sql[] = "ALTER TABLE messages ADD COLUMN base TEXT NOT NULL DEFAULT '';";

/* Version 2 had no skip data per folder. The new columns start at 0, which means "unknown":
 * the first run of this version looks at every folder once. */
static const char migrate_2_sql[] =
    "ALTER TABLE folders ADD COLUMN highestmodseq INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folders ADD COLUMN messages INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folders ADD COLUMN cur_mtime INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE folders ADD COLUMN new_mtime INTEGER NOT NULL DEFAULT 0;";

/* Version 3 did not know the server message's Message-ID and size (pairing a server-side move
 * with the local file of the message it moved): NULL until the message is next downloaded,
 * paired or uploaded; such messages are just downloaded again when moved. */
static const char migrate_3_sql[] =
    "ALTER TABLE messages ADD COLUMN message_id TEXT;"
    "ALTER TABLE messages ADD COLUMN size INTEGER NOT NULL DEFAULT 0;";


gboolean
nms_state_db_error (NmsState *state, GError **error, const char *what)
{
    g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB, "state '%s': %s: %s", state->path,
                 what, sqlite3_errmsg (state->db));
    return FALSE;
}

gboolean
nms_state_exec (NmsState *state, const char *sql, GError **error)
{
    if (sqlite3_exec (state->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, sql);
    return TRUE;
}

/* Creates the file 0600 before SQLite does, so it is never world-readable even for a moment. */
static gboolean
create_private (const char *path, GError **error)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return nms_fs_set_error (error, errno, "cannot create state file", path);
    if (fchmod (fd, 0600) != 0) {
        int err = errno;
        nms_fd_clear (&fd);
        return nms_fs_set_error (error, err, "cannot make state file private", path);
    }
    nms_fd_clear (&fd);
    return TRUE;
}

static gboolean
prepare_all (NmsState *state, GError **error)
{
    for (int i = 0; i < N_STMTS; i++) {
        if (sqlite3_prepare_v3 (state->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                &state->stmts[i], NULL) != SQLITE_OK)
            return nms_state_db_error (state, error, "cannot prepare statement");
    }
    return TRUE;
}

static gboolean
check_version (NmsState *state, GError **error)
{
    sqlite3_stmt *st = NULL;
    int version = 0;

    if (sqlite3_prepare_v2 (state->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, "cannot read schema version");
    if (sqlite3_step (st) == SQLITE_ROW)
        version = sqlite3_column_int (st, 0);
    sqlite3_finalize (st);
    /* One transaction: a crash in the middle leaves the old version, migrated again later. */
    if (version >= 1 && version < 4) {
        if (!nms_state_exec (state, "BEGIN IMMEDIATE", error))
            return FALSE;
        if ((version == 1 && !nms_state_exec (state, migrate_1_sql, error)) ||
            (version <= 2 && !nms_state_exec (state, migrate_2_sql, error)) ||
            !nms_state_exec (state, migrate_3_sql, error) ||
            !nms_state_exec (state, "PRAGMA user_version = 4; COMMIT", error)) {
            nms_state_rollback (state);
            return FALSE;
        }
    }
    if (version > SCHEMA_VERSION) {
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB,
                     "state '%s': written by a newer nmsync (schema %d, this one knows %d)",
                     state->path, version, SCHEMA_VERSION);
        return FALSE;
    }
    /* Writing it when it is already right would cost a commit (an fdatasync) on every open. */
    if (version == SCHEMA_VERSION)
        return TRUE;
    return nms_state_exec (state, "PRAGMA user_version = " G_STRINGIFY (SCHEMA_VERSION), error);
}

/* SQLite's own busy timeout sleeps 1, 2, 5, 10 ... 100 ms between tries, so a worker waiting
 * for another's short transaction idles for milliseconds after the lock is free. Tries every
 * 0.2 ms for the first 10 ms, then every 2 ms, for up to 60 s in all. */
static int
busy_wait (void *data, int count)
{
    (void) data;
    if (count < 50) {
        g_usleep (200);
        return 1;
    }
    if (count < 50 + 30000) {
        g_usleep (2000);
        return 1;
    }
    return 0;
}

char *
nms_state_path (const char *dir, const char *account)
{
    g_autofree char *name = g_strconcat (account, ".db", NULL);

    return g_build_filename (dir, name, NULL);
}

NmsState *
nms_state_open (const char *dir, const char *account, GError **error)
{
    NmsState *state;

    if (!nms_fs_mkdir_p (dir, 0700, error))
        return NULL;
    state = g_new0 (NmsState, 1);
    state->path = nms_state_path (dir, account);
    if (!create_private (state->path, error)) {
        nms_state_free (state);
        return NULL;
    }
    if (sqlite3_open_v2 (state->path, &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK) {
        nms_state_db_error (state, error, "cannot open");
        nms_state_free (state);
        return NULL;
    }
    /* Folder workers (sync/workers.c) each hold a handle on this database and take turns at
     * writing (BEGIN IMMEDIATE waits for the lock); a folder's local renames are one
     * transaction that may take a while on a large folder, so wait generously. */
    sqlite3_busy_handler (state->db, busy_wait, NULL);
    /* synchronous=FULL: a committed intent must survive a power loss, or the next run could
     * upload a message a second time. Downloads commit in batches, so this costs little. */
    if (!nms_state_exec (state, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", error) ||
        !check_version (state, error) || !nms_state_exec (state, schema_sql, error) ||
        !prepare_all (state, error)) {
        nms_state_free (state);
        return NULL;
    }
    return state;
}

/* Copies the database at @path (if any) into @state's in-memory database, reading it
 * read-only: the file, its WAL and its lock are left as they were. */
static gboolean
copy_into_memory (NmsState *state, const char *path, GError **error)
{
    g_autofree char *uri = NULL;
    sqlite3 *src = NULL;
    sqlite3_backup *bk;
    int rc;

    g_autofree char *wal = g_strconcat (path, "-wal", NULL);

    if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    /* Without a WAL file every commit is in the database file, and "immutable" reads it
     * without creating a WAL or shared-memory file; with one (an nmsync running or killed),
     * a read-only open uses the files that are already there. */
    uri = g_strconcat ("file:", path, g_file_test (wal, G_FILE_TEST_EXISTS) ? "?mode=ro"
                                                                             : "?immutable=1",
                       NULL);
    if (sqlite3_open_v2 (uri, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK) {
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB, "state '%s': cannot open: %s",
                     path, sqlite3_errmsg (src));
        sqlite3_close (src);
        return FALSE;
    }
    sqlite3_busy_handler (src, busy_wait, NULL);
    bk = sqlite3_backup_init (state->db, "main", src, "main");
    rc = bk != NULL ? sqlite3_backup_step (bk, -1) : SQLITE_ERROR;
    if (bk != NULL)
        sqlite3_backup_finish (bk);
    if (rc != SQLITE_DONE) {
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB, "state '%s': cannot read: %s",
                     path, sqlite3_errmsg (bk != NULL ? state->db : src));
        sqlite3_close (src);
        return FALSE;
    }
    sqlite3_close (src);
    return TRUE;
}

NmsState *
nms_state_open_copy (const char *dir, const char *account, GError **error)
{
    NmsState *state = g_new0 (NmsState, 1);

    state->path = nms_state_path (dir, account);
    if (sqlite3_open_v2 (":memory:", &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK) {
        nms_state_db_error (state, error, "cannot open a copy");
        nms_state_free (state);
        return NULL;
    }
    if (!copy_into_memory (state, state->path, error) || !check_version (state, error) ||
        !nms_state_exec (state, schema_sql, error) || !prepare_all (state, error)) {
        nms_state_free (state);
        return NULL;
    }
    return state;
}

void
nms_state_free (NmsState *state)
{
    if (state == NULL)
        return;
    for (int i = 0; i < N_STMTS; i++)
        sqlite3_finalize (state->stmts[i]);
    if (state->db != NULL)
        sqlite3_close (state->db);
    g_free (state->path);
    g_free (state);
}

/* The PID in the lock file at @fd, as the holder wrote it ("unknown" when it has not yet).
 * (transfer full) */
gboolean
nms_state_begin (NmsState *state, GError **error)
{
    return nms_state_exec (state, "BEGIN IMMEDIATE", error);
}

gboolean
nms_state_commit (NmsState *state, GError **error)
{
    return nms_state_exec (state, "COMMIT", error);
}

void
nms_state_rollback (NmsState *state)
{
    if (!sqlite3_get_autocommit (state->db))
        sqlite3_exec (state->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *
stmt (NmsState *state, int which)
{
    sqlite3_stmt *st = state->stmts[which];

    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    return st;
}

/* Runs a statement that returns no rows. */
gboolean
nms_state_step_done (NmsState *state, sqlite3_stmt *st, GError **error)
{
    int rc = sqlite3_step (st);

    sqlite3_reset (st);
    if (rc != SQLITE_DONE)
        return nms_state_db_error (state, error, "cannot write");
    return TRUE;
}

gboolean
nms_state_folder_get (NmsState *state, const char *folder, NmsStateFolder *folder_out,
                      gboolean *found_out, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_FOLDER_GET);
    int rc;

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    *found_out = rc == SQLITE_ROW;
    memset (folder_out, 0, sizeof *folder_out);
    if (rc == SQLITE_ROW) {
        folder_out->uidvalidity = (guint32) sqlite3_column_int64 (st, 0);
        folder_out->uidnext = (guint32) sqlite3_column_int64 (st, 1);
        folder_out->highestmodseq = (guint64) sqlite3_column_int64 (st, 2);
        folder_out->messages = (guint32) sqlite3_column_int64 (st, 3);
        folder_out->cur_mtime_ns = sqlite3_column_int64 (st, 4);
        folder_out->new_mtime_ns = sqlite3_column_int64 (st, 5);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nms_state_db_error (state, error, "cannot read folder");
    return TRUE;
}

gboolean
nms_state_folder_set (NmsState *state, const char *folder, const NmsStateFolder *value,
                      GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_FOLDER_SET);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, value->uidvalidity);
    sqlite3_bind_int64 (st, 3, value->uidnext);
    sqlite3_bind_int64 (st, 4, (sqlite3_int64) value->highestmodseq);
    sqlite3_bind_int64 (st, 5, value->messages);
    sqlite3_bind_int64 (st, 6, value->cur_mtime_ns);
    sqlite3_bind_int64 (st, 7, value->new_mtime_ns);
    return nms_state_step_done (state, st, error);
}

gboolean
nms_state_folder_forget (NmsState *state, const char *folder, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_FOLDER_MESSAGES_DELETE);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    if (!nms_state_step_done (state, st, error))
        return FALSE;
    st = stmt (state, STMT_FOLDER_DELETE);
    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    return nms_state_step_done (state, st, error);
}

/* One UPDATE of the rename, @from and @to bound as ?1 and ?2. */
static gboolean
rename_in (NmsState *state, const char *sql, const char *from, const char *to, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2 (state->db, sql, -1, &st, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, "cannot prepare a folder rename");
    sqlite3_bind_text (st, 1, from, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, to, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    sqlite3_finalize (st);
    return rc == SQLITE_DONE || nms_state_db_error (state, error, "cannot rename a folder");
}

gboolean
nms_state_folder_rename (NmsState *state, const char *from, const char *to, GError **error)
{
    static const char *const sql[] = {
        "UPDATE folders SET name = ?2 WHERE name = ?1",
        "UPDATE messages SET folder = ?2 WHERE folder = ?1",
        "UPDATE intents SET folder = ?2 WHERE folder = ?1",
        "UPDATE intents SET dest = ?2 WHERE dest = ?1",
        "UPDATE roles SET folder = ?2 WHERE folder = ?1",
        /* what sync/root.c and sync/guard.c keep per folder */
        "UPDATE meta SET key = 'folder-dir:' || ?2 WHERE key = 'folder-dir:' || ?1",
        "UPDATE meta SET key = 'guard-held:local:' || ?2 WHERE key = 'guard-held:local:' || ?1",
        "UPDATE meta SET key = 'guard-held:server:' || ?2 WHERE key = 'guard-held:server:' || ?1",
    };

    /* One transaction: a crash leaves the folder under one name or the other, never split. */
    if (!nms_state_begin (state, error))
        return FALSE;
    for (gsize i = 0; i < G_N_ELEMENTS (sql); i++) {
        if (!rename_in (state, sql[i], from, to, error)) {
            nms_state_rollback (state);
            return FALSE;
        }
    }
    return nms_state_commit (state, error);
}

GPtrArray *
nms_state_folder_names (NmsState *state, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_FOLDER_NAMES);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    int rc;

    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
        g_ptr_array_add (names, g_strdup ((const char *) sqlite3_column_text (st, 0)));
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        nms_state_db_error (state, error, "cannot list folders");
        return NULL;
    }
    return g_steal_pointer (&names);
}

static void
message_clear (gpointer data)
{
    NmsStateMessage *m = data;
    g_free (m->base);
}

static void
message_from_row (sqlite3_stmt *st, int first, NmsStateMessage *m)
{
    const char *flags = (const char *) sqlite3_column_text (st, first + 1);
    const char *base = (const char *) sqlite3_column_text (st, first + 2);

    m->uid = (guint32) sqlite3_column_int64 (st, first);
    g_strlcpy (m->flags, flags != NULL ? flags : "", sizeof m->flags);
    m->base = g_strdup (base != NULL ? base : "");
}

GArray *
nms_state_messages (NmsState *state, const char *folder, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGES);
    g_autoptr (GArray) messages = g_array_new (FALSE, TRUE, sizeof (NmsStateMessage));
    int rc;

    g_array_set_clear_func (messages, message_clear);
    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        NmsStateMessage m = { 0 };

        message_from_row (st, 0, &m);
        g_array_append_val (messages, m);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        nms_state_db_error (state, error, "cannot read messages");
        return NULL;
    }
    return g_steal_pointer (&messages);
}

gboolean
nms_state_message_put (NmsState *state, const char *folder, guint32 uid, const char *flags,
                       const char *base, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_PUT);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    sqlite3_bind_text (st, 3, flags, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 4, base != NULL ? base : "", -1, SQLITE_STATIC);
    return nms_state_step_done (state, st, error);
}

gboolean
nms_state_message_find_base (NmsState *state, const char *base, char **folder_out,
                             NmsStateMessage *message_out, gboolean *found_out, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_FIND_BASE);
    int rc;

    sqlite3_bind_text (st, 1, base, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    *found_out = rc == SQLITE_ROW;
    if (rc == SQLITE_ROW) {
        *folder_out = g_strdup ((const char *) sqlite3_column_text (st, 0));
        message_from_row (st, 1, message_out);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nms_state_db_error (state, error, "cannot look up a file name");
    return TRUE;
}

gboolean
nms_state_message_set_content (NmsState *state, const char *folder, guint32 uid,
                               const char *message_id, guint64 size, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_SET_CONTENT);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    sqlite3_bind_text (st, 3, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 4, (sqlite3_int64) size);
    return nms_state_step_done (state, st, error);
}

GArray *
nms_state_message_find_content (NmsState *state, const char *message_id, guint64 size,
                                const char *not_folder, GPtrArray *folders_out, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_FIND_CONTENT);
    g_autoptr (GArray) messages = g_array_new (FALSE, TRUE, sizeof (NmsStateMessage));
    int rc;

    g_array_set_clear_func (messages, message_clear);
    sqlite3_bind_text (st, 1, message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) size);
    sqlite3_bind_text (st, 3, not_folder, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        NmsStateMessage m = { 0 };

        g_ptr_array_add (folders_out, g_strdup ((const char *) sqlite3_column_text (st, 0)));
        message_from_row (st, 1, &m);
        g_array_append_val (messages, m);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        nms_state_db_error (state, error, "cannot look up a Message-ID");
        return NULL;
    }
    return g_steal_pointer (&messages);
}

gboolean
nms_state_message_base_elsewhere (NmsState *state, const char *base, const char *not_folder,
                                  char **folder_out, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_BASE_ELSEWHERE);
    int rc;

    *folder_out = NULL;
    sqlite3_bind_text (st, 1, base, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, not_folder, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        *folder_out = g_strdup ((const char *) sqlite3_column_text (st, 0));
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nms_state_db_error (state, error, "cannot look up a file name");
    return TRUE;
}

gboolean
nms_state_message_delete (NmsState *state, const char *folder, guint32 uid, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_DELETE);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    return nms_state_step_done (state, st, error);
}

gboolean
nms_state_message_exists (NmsState *state, const char *folder, guint32 uid, gboolean *found_out,
                          GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_EXISTS);
    int rc;

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    rc = sqlite3_step (st);
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return nms_state_db_error (state, error, "cannot read");
    *found_out = rc == SQLITE_ROW;
    return TRUE;
}

void
nms_state_intent_clear (NmsStateIntent *intent)
{
    g_clear_pointer (&intent->folder, g_free);
    g_clear_pointer (&intent->path, g_free);
    g_clear_pointer (&intent->dest, g_free);
    g_clear_pointer (&intent->message_id, g_free);
}

static void
bind_text_or_null (sqlite3_stmt *st, int index, const char *text)
{
    if (text != NULL)
        sqlite3_bind_text (st, index, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null (st, index);
}

gint64
nms_state_intent_add (NmsState *state, const NmsStateIntent *intent, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_INTENT_ADD);

    g_return_val_if_fail (sqlite3_get_autocommit (state->db), 0);
    sqlite3_bind_int (st, 1, intent->kind);
    sqlite3_bind_text (st, 2, intent->folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 3, intent->uid);
    bind_text_or_null (st, 4, intent->path);
    bind_text_or_null (st, 5, intent->dest);
    sqlite3_bind_int64 (st, 6, intent->uidnext);
    bind_text_or_null (st, 7, intent->message_id);
    sqlite3_bind_int64 (st, 8, (sqlite3_int64) intent->size);
    if (!nms_state_step_done (state, st, error))
        return 0;
    return sqlite3_last_insert_rowid (state->db);
}

gboolean
nms_state_intent_remove (NmsState *state, gint64 id, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_INTENT_REMOVE);

    sqlite3_bind_int64 (st, 1, id);
    return nms_state_step_done (state, st, error);
}

char *
nms_state_column_strdup (sqlite3_stmt *st, int column)
{
    const char *text = (const char *) sqlite3_column_text (st, column);
    return text != NULL ? g_strdup (text) : NULL;
}

GArray *
nms_state_intents (NmsState *state, const char *folder, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_INTENTS);
    g_autoptr (GArray) intents = g_array_new (FALSE, TRUE, sizeof (NmsStateIntent));
    int rc;

    g_array_set_clear_func (intents, (GDestroyNotify) nms_state_intent_clear);
    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        NmsStateIntent in = {
            .id = sqlite3_column_int64 (st, 0),
            .kind = (NmsIntentKind) sqlite3_column_int (st, 1),
            .folder = nms_state_column_strdup (st, 2),
            .uid = (guint32) sqlite3_column_int64 (st, 3),
            .path = nms_state_column_strdup (st, 4),
            .dest = nms_state_column_strdup (st, 5),
            .uidnext = (guint32) sqlite3_column_int64 (st, 6),
            .message_id = nms_state_column_strdup (st, 7),
            .size = (guint64) sqlite3_column_int64 (st, 8),
        };
        g_array_append_val (intents, in);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        nms_state_db_error (state, error, "cannot read intents");
        return NULL;
    }
    return g_steal_pointer (&intents);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Sync state in SQLite. One database per account, prepared statements kept for the run. */
#include "config.h"

#include "state/state.h"

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

#define SCHEMA_VERSION 1

enum {
    STMT_FOLDER_GET,
    STMT_FOLDER_SET,
    STMT_FOLDER_DELETE,
    STMT_FOLDER_MESSAGES_DELETE,
    STMT_FOLDER_NAMES,
    STMT_MESSAGES,
    STMT_MESSAGE_PUT,
    STMT_MESSAGE_DELETE,
    N_STMTS
};

static const char *const stmt_sql[N_STMTS] = {
    [STMT_FOLDER_GET] = "SELECT uidvalidity, uidnext FROM folders WHERE name = ?1",
    [STMT_FOLDER_SET] = "INSERT INTO folders (name, uidvalidity, uidnext) VALUES (?1, ?2, ?3) "
                        "ON CONFLICT (name) DO UPDATE SET uidvalidity = ?2, uidnext = ?3",
    [STMT_FOLDER_DELETE] = "DELETE FROM folders WHERE name = ?1",
    [STMT_FOLDER_MESSAGES_DELETE] = "DELETE FROM messages WHERE folder = ?1",
    [STMT_FOLDER_NAMES] = "SELECT name FROM folders ORDER BY name",
    [STMT_MESSAGES] = "SELECT uid, flags FROM messages WHERE folder = ?1 ORDER BY uid",
    [STMT_MESSAGE_PUT] = "INSERT OR REPLACE INTO messages (folder, uid, flags) VALUES (?1, ?2, ?3)",
    [STMT_MESSAGE_DELETE] = "DELETE FROM messages WHERE folder = ?1 AND uid = ?2",
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS folders (name TEXT PRIMARY KEY, uidvalidity INTEGER NOT NULL,"
    "  uidnext INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS messages (folder TEXT NOT NULL, uid INTEGER NOT NULL,"
    "  flags TEXT NOT NULL, PRIMARY KEY (folder, uid)) WITHOUT ROWID;";

struct _NmsState {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmts[N_STMTS];
};

static gboolean
db_error (NmsState *state, GError **error, const char *what)
{
    g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB, "state '%s': %s: %s", state->path,
                 what, sqlite3_errmsg (state->db));
    return FALSE;
}

static gboolean
exec (NmsState *state, const char *sql, GError **error)
{
    if (sqlite3_exec (state->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_error (state, error, sql);
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
            return db_error (state, error, "cannot prepare statement");
    }
    return TRUE;
}

static gboolean
check_version (NmsState *state, GError **error)
{
    sqlite3_stmt *st = NULL;
    int version = 0;

    if (sqlite3_prepare_v2 (state->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return db_error (state, error, "cannot read schema version");
    if (sqlite3_step (st) == SQLITE_ROW)
        version = sqlite3_column_int (st, 0);
    sqlite3_finalize (st);
    if (version > SCHEMA_VERSION) {
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB,
                     "state '%s': written by a newer nmsync (schema %d, this one knows %d)",
                     state->path, version, SCHEMA_VERSION);
        return FALSE;
    }
    return exec (state, "PRAGMA user_version = " G_STRINGIFY (SCHEMA_VERSION), error);
}

NmsState *
nms_state_open (const char *dir, const char *account, GError **error)
{
    g_autofree char *name = g_strconcat (account, ".db", NULL);
    NmsState *state;

    if (!nms_fs_mkdir_p (dir, 0700, error))
        return NULL;
    state = g_new0 (NmsState, 1);
    state->path = g_build_filename (dir, name, NULL);
    if (!create_private (state->path, error)) {
        nms_state_free (state);
        return NULL;
    }
    if (sqlite3_open_v2 (state->path, &state->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                         NULL) != SQLITE_OK) {
        db_error (state, error, "cannot open");
        nms_state_free (state);
        return NULL;
    }
    sqlite3_busy_timeout (state->db, 5000);
    if (!exec (state, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;", error) ||
        !exec (state, schema_sql, error) || !check_version (state, error) ||
        !prepare_all (state, error)) {
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

int
nms_state_lock (const char *dir, const char *account, GError **error)
{
    g_autofree char *name = g_strconcat (account, ".lock", NULL);
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autofree char *pid = NULL;
    int fd;

    if (!nms_fs_mkdir_p (dir, 0700, error))
        return -1;
    fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        nms_fs_set_error (error, errno, "cannot open lock file", path);
        return -1;
    }
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = "";
        ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

        buf[n > 0 ? n : 0] = '\0';
        g_strstrip (buf);
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED,
                     "account '%s' is already being synced by nmsync (pid %s)", account,
                     buf[0] ? buf : "unknown");
        nms_fd_clear (&fd);
        return -1;
    }
    pid = g_strdup_printf ("%d\n", (int) getpid ());
    if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) < 0) {
        nms_fs_set_error (error, errno, "cannot write lock file", path);
        nms_fd_clear (&fd);
        return -1;
    }
    return fd;
}

void
nms_state_unlock (int fd)
{
    nms_fd_clear (&fd);
}

gboolean
nms_state_begin (NmsState *state, GError **error)
{
    return exec (state, "BEGIN IMMEDIATE", error);
}

gboolean
nms_state_commit (NmsState *state, GError **error)
{
    return exec (state, "COMMIT", error);
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
static gboolean
step_done (NmsState *state, sqlite3_stmt *st, GError **error)
{
    int rc = sqlite3_step (st);

    sqlite3_reset (st);
    if (rc != SQLITE_DONE)
        return db_error (state, error, "cannot write");
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
    }
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return db_error (state, error, "cannot read folder");
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
    return step_done (state, st, error);
}

gboolean
nms_state_folder_forget (NmsState *state, const char *folder, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_FOLDER_MESSAGES_DELETE);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    if (!step_done (state, st, error))
        return FALSE;
    st = stmt (state, STMT_FOLDER_DELETE);
    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    return step_done (state, st, error);
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
        db_error (state, error, "cannot list folders");
        return NULL;
    }
    return g_steal_pointer (&names);
}

GArray *
nms_state_messages (NmsState *state, const char *folder, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGES);
    g_autoptr (GArray) messages = g_array_new (FALSE, TRUE, sizeof (NmsStateMessage));
    int rc;

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        NmsStateMessage m = { 0 };
        const char *flags = (const char *) sqlite3_column_text (st, 1);

        m.uid = (guint32) sqlite3_column_int64 (st, 0);
        g_strlcpy (m.flags, flags != NULL ? flags : "", sizeof m.flags);
        g_array_append_val (messages, m);
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        db_error (state, error, "cannot read messages");
        return NULL;
    }
    return g_steal_pointer (&messages);
}

gboolean
nms_state_message_put (NmsState *state, const char *folder, guint32 uid, const char *flags,
                       GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_PUT);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    sqlite3_bind_text (st, 3, flags, -1, SQLITE_STATIC);
    return step_done (state, st, error);
}

gboolean
nms_state_message_delete (NmsState *state, const char *folder, guint32 uid, GError **error)
{
    sqlite3_stmt *st = stmt (state, STMT_MESSAGE_DELETE);

    sqlite3_bind_text (st, 1, folder, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 2, uid);
    return step_done (state, st, error);
}

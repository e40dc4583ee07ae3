/* SPDX-License-Identifier: GPL-3.0-or-later
 * The account's small tables: special-use roles, keyword letters, the key-value meta table,
 * and message counts. */
#include "nms-build.h"

#include "state/state.h"
#include "state/state-private.h"

#include <string.h>

gboolean
nms_state_roles_set (NmsState *state, GHashTable *roles, GError **error)
{
    GHashTableIter it;
    gpointer role, folder;
    sqlite3_stmt *st = NULL;

    g_autoptr (GHashTable) stored = nms_state_roles (state, NULL);

    /* Unchanged (the usual case): no write, so a run with nothing to do commits nothing. */
    if (stored != NULL && g_hash_table_size (stored) == (roles != NULL ? g_hash_table_size (roles) : 0)) {
        gboolean same = TRUE;

        if (roles != NULL)
            g_hash_table_iter_init (&it, roles);
        while (same && roles != NULL && g_hash_table_iter_next (&it, &role, &folder))
            same = g_strcmp0 (g_hash_table_lookup (stored, role), folder) == 0;
        if (same)
            return TRUE;
    }
    if (!nms_state_exec (state, "SAVEPOINT roles; DELETE FROM roles;", error))
        return FALSE;
    if (sqlite3_prepare_v2 (state->db, "INSERT OR REPLACE INTO roles (role, folder) VALUES (?1, ?2)",
                            -1, &st, NULL) != SQLITE_OK) {
        nms_state_exec (state, "ROLLBACK TO roles; RELEASE roles;", NULL);
        return nms_state_db_error (state, error, "cannot prepare statement");
    }
    if (roles != NULL)
        g_hash_table_iter_init (&it, roles);
    while (roles != NULL && g_hash_table_iter_next (&it, &role, &folder)) {
        sqlite3_bind_text (st, 1, role, -1, SQLITE_STATIC);
        sqlite3_bind_text (st, 2, folder, -1, SQLITE_STATIC);
        if (!nms_state_step_done (state, st, error)) {
            sqlite3_finalize (st);
            nms_state_exec (state, "ROLLBACK TO roles; RELEASE roles;", NULL);
            return FALSE;
        }
    }
    sqlite3_finalize (st);
    return nms_state_exec (state, "RELEASE roles;", error);
}

GHashTable *
nms_state_roles (NmsState *state, GError **error)
{
    g_autoptr (GHashTable) roles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2 (state->db, "SELECT role, folder FROM roles", -1, &st, NULL) != SQLITE_OK) {
        nms_state_db_error (state, error, "cannot read roles");
        return NULL;
    }
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
        g_hash_table_insert (roles, g_strdup ((const char *) sqlite3_column_text (st, 0)),
                             g_strdup ((const char *) sqlite3_column_text (st, 1)));
    sqlite3_finalize (st);
    if (rc != SQLITE_DONE) {
        nms_state_db_error (state, error, "cannot read roles");
        return NULL;
    }
    return g_steal_pointer (&roles);
}

static gboolean
load_keywords (NmsState *state, GHashTable *letters, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2 (state->db, "SELECT keyword, letter FROM keywords", -1, &st, NULL) !=
        SQLITE_OK)
        return nms_state_db_error (state, error, "cannot read keywords");
    while ((rc = sqlite3_step (st)) == SQLITE_ROW)
        g_hash_table_insert (letters, g_strdup ((const char *) sqlite3_column_text (st, 0)),
                             g_strdup ((const char *) sqlite3_column_text (st, 1)));
    sqlite3_finalize (st);
    return rc == SQLITE_DONE || nms_state_db_error (state, error, "cannot read keywords");
}

static gboolean
letter_taken (GHashTable *letters, char c)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init (&it, letters);
    while (g_hash_table_iter_next (&it, NULL, &value)) {
        if (((const char *) value)[0] == c)
            return TRUE;
    }
    return FALSE;
}

static gboolean
add_keyword (NmsState *state, GHashTable *letters, const char *keyword, GError **error)
{
    sqlite3_stmt *st = NULL;
    char letter[2] = { 0, 0 };
    gboolean ok;

    for (char c = 'a'; c <= 'z' && letter[0] == 0; c++) {
        if (!letter_taken (letters, c))
            letter[0] = c;
    }
    if (letter[0] == 0) {
        g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB,
                     "state '%s': no Maildir letter left for keyword '%s' (26 at most)",
                     state->path, keyword);
        return FALSE;
    }
    if (sqlite3_prepare_v2 (state->db, "INSERT INTO keywords (keyword, letter) VALUES (?1, ?2)", -1,
                            &st, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, "cannot prepare statement");
    sqlite3_bind_text (st, 1, keyword, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, letter, -1, SQLITE_STATIC);
    ok = nms_state_step_done (state, st, error);
    sqlite3_finalize (st);
    if (ok)
        g_hash_table_insert (letters, g_strdup (keyword), g_strdup (letter));
    return ok;
}

GHashTable *
nms_state_keyword_letters (NmsState *state, char *const *keywords, GError **error)
{
    g_autoptr (GHashTable) letters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

    if (!load_keywords (state, letters, error))
        return NULL;
    for (char *const *k = keywords; k != NULL && *k != NULL; k++) {
        if (!g_hash_table_contains (letters, *k) && !add_keyword (state, letters, *k, error))
            return NULL;
    }
    return g_steal_pointer (&letters);
}

gboolean
nms_state_folders_reset_modseq (NmsState *state, GError **error)
{
    return nms_state_exec (state, "UPDATE folders SET highestmodseq = 0", error);
}

gboolean
nms_state_meta_get (NmsState *state, const char *key, char **value_out, GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *value_out = NULL;
    if (sqlite3_prepare_v2 (state->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) !=
        SQLITE_OK)
        return nms_state_db_error (state, error, "cannot read meta data");
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        *value_out = nms_state_column_strdup (st, 0);
    sqlite3_finalize (st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ||
           nms_state_db_error (state, error, "cannot read meta data");
}

/* Runs @sql, a count with one optional text parameter @arg. */
static gboolean
count_query (NmsState *state, const char *sql, const char *arg, guint64 *count_out,
             GError **error)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *count_out = 0;
    if (sqlite3_prepare_v2 (state->db, sql, -1, &st, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, "cannot count messages");
    if (arg != NULL)
        sqlite3_bind_text (st, 1, arg, -1, SQLITE_STATIC);
    rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        *count_out = (guint64) sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    return rc == SQLITE_ROW || nms_state_db_error (state, error, "cannot count messages");
}

gboolean
nms_state_message_count (NmsState *state, guint64 *count_out, GError **error)
{
    return count_query (state, "SELECT count(*) FROM messages", NULL, count_out, error);
}

gboolean
nms_state_folder_message_count (NmsState *state, const char *folder, guint64 *count_out,
                                GError **error)
{
    return count_query (state, "SELECT count(*) FROM messages WHERE folder = ?1", folder,
                        count_out, error);
}

gboolean
nms_state_has_messages (NmsState *state, gboolean *any_out, GError **error)
{
    guint64 n = 0;
    gboolean ok = count_query (state, "SELECT count(*) FROM (SELECT 1 FROM messages LIMIT 1)",
                               NULL, &n, error);

    *any_out = n > 0;
    return ok;
}

/* Runs @sql, a write to the meta table with the key as ?1 and @value (if any) as ?2. */
static gboolean
meta_write (NmsState *state, const char *sql, const char *key, const char *value,
            GError **error)
{
    sqlite3_stmt *st = NULL;
    gboolean ok;

    if (sqlite3_prepare_v2 (state->db, sql, -1, &st, NULL) != SQLITE_OK)
        return nms_state_db_error (state, error, "cannot prepare statement");
    sqlite3_bind_text (st, 1, key, -1, SQLITE_STATIC);
    if (value != NULL)
        sqlite3_bind_text (st, 2, value, -1, SQLITE_STATIC);
    ok = nms_state_step_done (state, st, error);
    sqlite3_finalize (st);
    return ok;
}

gboolean
nms_state_meta_delete (NmsState *state, const char *key, GError **error)
{
    return meta_write (state, "DELETE FROM meta WHERE key = ?1", key, NULL, error);
}

gboolean
nms_state_meta_set (NmsState *state, const char *key, const char *value, GError **error)
{
    return meta_write (state, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", key,
                       value, error);
}

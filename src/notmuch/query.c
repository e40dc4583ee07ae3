/* SPDX-License-Identifier: GPL-3.0-or-later
 * Queries copied out of libnotmuch into GLib types, and the tag and property changes the
 * rules make to one message. */
#include "nms-build.h"

#include "notmuch/notmuch.h"

#include <string.h>

#include "notmuch/notmuch-private.h"

#define PROP_FOLDER "nmsync.folder"
#define PROP_FLAGS "nmsync.flags"

void
nms_db_message_free (NmsDbMessage *message)
{
    if (message == NULL)
        return;
    g_free (message->id);
    g_strfreev (message->tags);
    g_strfreev (message->paths);
    g_free (message->agreed_folder);
    g_free (message->agreed_flags);
    g_free (message);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
get_property (notmuch_message_t *msg, const char *key)
{
    const char *value = NULL;

    if (notmuch_message_get_property (msg, key, &value) != NOTMUCH_STATUS_SUCCESS)
        return NULL;
    return g_strdup (value);
}

/* Everything about @msg, copied: libnotmuch's strings die with the message. */
static NmsDbMessage *
copy_message (notmuch_message_t *msg)
{
    NmsDbMessage *m = g_new0 (NmsDbMessage, 1);
    GPtrArray *tags = g_ptr_array_new ();
    GPtrArray *paths = g_ptr_array_new ();
    notmuch_tags_t *t;
    notmuch_filenames_t *f;

    m->id = g_strdup (notmuch_message_get_message_id (msg));
    for (t = notmuch_message_get_tags (msg); notmuch_tags_valid (t); notmuch_tags_move_to_next (t))
        g_ptr_array_add (tags, g_strdup (notmuch_tags_get (t)));
    notmuch_tags_destroy (t);
    g_ptr_array_sort (tags, compare_strings);
    g_ptr_array_add (tags, NULL);
    m->tags = (char **) g_ptr_array_free (tags, FALSE);

    for (f = notmuch_message_get_filenames (msg); notmuch_filenames_valid (f);
         notmuch_filenames_move_to_next (f))
        g_ptr_array_add (paths, g_strdup (notmuch_filenames_get (f)));
    notmuch_filenames_destroy (f);
    g_ptr_array_add (paths, NULL);
    m->paths = (char **) g_ptr_array_free (paths, FALSE);

    m->agreed_folder = get_property (msg, PROP_FOLDER);
    m->agreed_flags = get_property (msg, PROP_FLAGS);
    return m;
}

static notmuch_query_t *
create_query (NmsDb *db, const char *query, GError **error)
{
    notmuch_query_t *q = notmuch_query_create (db->nm, query);

    if (q == NULL)
        g_set_error (error, NMS_DB_ERROR, NMS_DB_ERROR_QUERY,
                     "cannot create query '%s' on notmuch database '%s': out of memory", query,
                     db->path);
    return q;
}

static gboolean
query_failed (NmsDb *db, const char *query, notmuch_status_t st, GError **error)
{
    /* notmuch reports a query that does not parse as XAPIAN_EXCEPTION (or
     * BAD_QUERY_SYNTAX for s-expressions), with the parser's message logged */
    return nms_db_set_error (db, error, NMS_DB_ERROR_QUERY, st,
                             "cannot run query '%s' on notmuch database '%s'", query, db->path);
}

/* Calls @each for every message matching @query; each message is destroyed right after, so
 * that a long result does not pile up in the query's memory. */
static gboolean
for_each_message (NmsDb *db, const char *query, void (*each) (notmuch_message_t *, gpointer),
                  gpointer data, GError **error)
{
    g_autoptr (notmuch_query_t) q = create_query (db, query, error);
    g_autoptr (notmuch_messages_t) msgs = NULL;
    notmuch_status_t st;

    if (q == NULL)
        return FALSE;
    st = notmuch_query_search_messages (q, &msgs);
    if (st != NOTMUCH_STATUS_SUCCESS)
        return query_failed (db, query, st, error);
    for (; notmuch_messages_valid (msgs); notmuch_messages_move_to_next (msgs)) {
        notmuch_message_t *msg = notmuch_messages_get (msgs);
        each (msg, data);
        notmuch_message_destroy (msg);
    }
    return TRUE;
}

static void
add_message (notmuch_message_t *msg, gpointer data)
{
    g_ptr_array_add (data, copy_message (msg));
}

GPtrArray *
nms_db_query (NmsDb *db, const char *query, GError **error)
{
    g_autoptr (GPtrArray) out
        = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_db_message_free);

    if (!for_each_message (db, query, add_message, out, error))
        return NULL;
    return g_steal_pointer (&out);
}

static void
add_id (notmuch_message_t *msg, gpointer data)
{
    g_hash_table_add (data, g_strdup (notmuch_message_get_message_id (msg)));
}

GHashTable *
nms_db_query_ids (NmsDb *db, const char *query, GError **error)
{
    g_autoptr (GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    if (!for_each_message (db, query, add_id, ids, error))
        return NULL;
    return g_steal_pointer (&ids);
}

gboolean
nms_db_count (NmsDb *db, const char *query, guint *count_out, GError **error)
{
    g_autoptr (notmuch_query_t) q = create_query (db, query, error);
    unsigned count = 0;
    notmuch_status_t st;

    if (q == NULL)
        return FALSE;
    st = notmuch_query_count_messages (q, &count);
    if (st != NOTMUCH_STATUS_SUCCESS)
        return query_failed (db, query, st, error);
    *count_out = count;
    return TRUE;
}

static notmuch_status_t
set_property (notmuch_message_t *msg, const char *key, const char *value)
{
    notmuch_status_t st;

    const char *now = NULL;

    if (value == NULL)
        return NOTMUCH_STATUS_SUCCESS;
    /* Unchanged (the common case for the folder): no term to rewrite. */
    if (notmuch_message_get_property (msg, key, &now) == NOTMUCH_STATUS_SUCCESS &&
        g_strcmp0 (now, value) == 0)
        return NOTMUCH_STATUS_SUCCESS;
    st = notmuch_message_remove_all_properties (msg, key);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = notmuch_message_add_property (msg, key, value);
    return st;
}

/* The tag changes, under freeze/thaw: notmuch writes the document once, at thaw, so an
 * invalid tag (empty, too long) changes nothing. */
static notmuch_status_t
change_tags (notmuch_message_t *msg, char *const *add_tags, char *const *remove_tags)
{
    notmuch_status_t st = notmuch_message_freeze (msg);

    if (st != NOTMUCH_STATUS_SUCCESS)
        return st;
    for (char *const *t = remove_tags; st == NOTMUCH_STATUS_SUCCESS && t != NULL && *t != NULL; t++)
        st = notmuch_message_remove_tag (msg, *t);
    for (char *const *t = add_tags; st == NOTMUCH_STATUS_SUCCESS && t != NULL && *t != NULL; t++)
        st = notmuch_message_add_tag (msg, *t);
    /* On failure the message stays frozen: destroying it drops the changes, none is written */
    if (st != NOTMUCH_STATUS_SUCCESS)
        return st;
    return notmuch_message_thaw (msg);
}

gboolean
nms_db_message_update (NmsDb *db, const char *id, char *const *add_tags, char *const *remove_tags,
                       const char *agreed_folder, const char *agreed_flags, GError **error)
{
    return nms_db_message_update_full (db, id, add_tags, remove_tags, agreed_folder, agreed_flags,
                                       FALSE, error);
}

gboolean
nms_db_message_update_full (NmsDb *db, const char *id, char *const *add_tags,
                            char *const *remove_tags, const char *agreed_folder,
                            const char *agreed_flags, gboolean flags_to_tags, GError **error)
{
    g_autoptr (notmuch_message_t) msg = NULL;
    notmuch_status_t st = notmuch_database_find_message (db->nm, id, &msg);
    notmuch_status_t end;

    if (st == NOTMUCH_STATUS_SUCCESS && msg == NULL) {
        g_set_error (error, NMS_DB_ERROR, NMS_DB_ERROR_WRITE,
                     "cannot update message '%s' in notmuch database '%s': no such message", id,
                     db->path);
        return FALSE;
    }
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = notmuch_database_begin_atomic (db->nm);
    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot update message '%s' in notmuch database '%s'", id,
                                 db->path);
    /* Frozen across tags and properties: Xapian rewrites the document once, at the thaw,
     * instead of once per property change (a third of an apply's time before). */
    st = notmuch_message_freeze (msg);
    /* The flags first: the rules' tag changes are what the user asked for and win. */
    if (st == NOTMUCH_STATUS_SUCCESS && flags_to_tags)
        st = notmuch_message_maildir_flags_to_tags (msg);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = change_tags (msg, add_tags, remove_tags);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = set_property (msg, PROP_FOLDER, agreed_folder);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = set_property (msg, PROP_FLAGS, agreed_flags);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = notmuch_message_thaw (msg);
    end = notmuch_database_end_atomic (db->nm);
    if (st == NOTMUCH_STATUS_SUCCESS)
        st = end;
    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot update message '%s' in notmuch database '%s'", id,
                                 db->path);
    return TRUE;
}

gboolean
nms_db_begin_batch (NmsDb *db, GError **error)
{
    notmuch_status_t st = notmuch_database_begin_atomic (db->nm);

    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot begin a batch of changes in notmuch database '%s'",
                                 db->path);
    return TRUE;
}

gboolean
nms_db_end_batch (NmsDb *db, GError **error)
{
    notmuch_status_t st = notmuch_database_end_atomic (db->nm);

    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot end a batch of changes in notmuch database '%s'",
                                 db->path);
    return TRUE;
}

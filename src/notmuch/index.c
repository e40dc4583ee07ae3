/* SPDX-License-Identifier: GPL-3.0-or-later
 * Indexing what a sync did to the files (added, renamed, removed) the way `notmuch new` does
 * it, so that a `notmuch new` afterwards has nothing left to do and no tag is lost. */
#include "nms-build.h"

#include "notmuch/notmuch.h"

#include <string.h>

#include "notmuch/notmuch-private.h"

/* Recomputes draft/flagged/passed/replied/unread from all the filenames the database now
 * holds for the message with @path. It looks the message up again: a message object from
 * before a filename was added or removed may still carry the old filename list. */
static gboolean
flags_to_tags (NmsDb *db, const char *path, GError **error)
{
    g_autoptr (notmuch_message_t) msg = NULL;
    notmuch_status_t st;

    if (!db->synchronize_flags)
        return TRUE;
    st = notmuch_database_find_message_by_filename (db->nm, path, &msg);
    if (st == NOTMUCH_STATUS_SUCCESS && msg != NULL)
        st = notmuch_message_maildir_flags_to_tags (msg);
    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot update tags from flags of '%s' in notmuch database '%s'",
                                 path, db->path);
    return TRUE;
}

/* A message indexed for the first time gets new.tags, except "unread" when the file has S
 * (notmuch-new.c add_file()). The flags follow in flags_to_tags(). */
static notmuch_status_t
add_new_tags (NmsDb *db, notmuch_message_t *msg)
{
    notmuch_bool_t seen = FALSE;
    notmuch_status_t st = notmuch_message_has_maildir_flag_st (msg, 'S', &seen);

    for (char *const *tag = db->new_tags; st == NOTMUCH_STATUS_SUCCESS && *tag != NULL; tag++)
        if (!(seen && strcmp (*tag, "unread") == 0))
            st = notmuch_message_add_tag (msg, *tag);
    return st;
}

typedef enum {
    INDEXED_NEW,       /* a new message */
    INDEXED_DUPLICATE, /* another filename of a known message */
    INDEXED_NOT_MAIL,
    INDEXED_VANISHED, /* FILE_ERROR: gone or unreadable again; notmuch new skips it too */
    INDEXED_FAILED,   /* @error is set */
} IndexResult;

/* @dup_id_out NULL: on DUPLICATE, the flags decide the tags again here. Else a rename, which
 * removes the old filename next and then does that once (each flags_to_tags loads the whole
 * document, terms and positions, into Xapian: most of an apply's time), gets the message's
 * id there instead. */
static IndexResult
index_file (NmsDb *db, const char *path, notmuch_indexopts_t *opts, char **dup_id_out,
            GError **error)
{
    g_autoptr (notmuch_message_t) msg = NULL;
    notmuch_status_t st = notmuch_database_index_file (db->nm, path, opts, &msg);

    switch (st) {
    case NOTMUCH_STATUS_SUCCESS:
        st = notmuch_message_freeze (msg);
        if (st == NOTMUCH_STATUS_SUCCESS)
            st = add_new_tags (db, msg);
        if (st == NOTMUCH_STATUS_SUCCESS)
            st = notmuch_message_thaw (msg);
        if (st != NOTMUCH_STATUS_SUCCESS)
            break;
        return flags_to_tags (db, path, error) ? INDEXED_NEW : INDEXED_FAILED;
    case NOTMUCH_STATUS_DUPLICATE_MESSAGE_ID:
        if (dup_id_out != NULL) {
            *dup_id_out = g_strdup (notmuch_message_get_message_id (msg));
            return INDEXED_DUPLICATE;
        }
        return flags_to_tags (db, path, error) ? INDEXED_DUPLICATE : INDEXED_FAILED;
    case NOTMUCH_STATUS_FILE_NOT_EMAIL:
        return INDEXED_NOT_MAIL;
    case NOTMUCH_STATUS_FILE_ERROR:
        return INDEXED_VANISHED;
    default:
        break;
    }
    nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                      "cannot index '%s' in notmuch database '%s'", path, db->path);
    return INDEXED_FAILED;
}

/* Removes the filename @path. When the message keeps other files, their flags decide its tags
 * again (notmuch-new.c remove_filename()), unless it is message @then_id (may be NULL), whose
 * caller does that next. Sets *@found_out when the database had @path. */
static gboolean
remove_file (NmsDb *db, const char *path, gboolean *found_out, const char *then_id,
             GError **error)
{
    g_autoptr (notmuch_message_t) msg = NULL;
    g_autofree char *id = NULL;
    notmuch_status_t st = notmuch_database_find_message_by_filename (db->nm, path, &msg);

    *found_out = FALSE;
    if (st == NOTMUCH_STATUS_SUCCESS && msg == NULL)
        return TRUE;
    if (st == NOTMUCH_STATUS_SUCCESS) {
        *found_out = TRUE;
        id = g_strdup (notmuch_message_get_message_id (msg));
        g_clear_pointer (&msg, notmuch_message_destroy);
        st = notmuch_database_remove_message (db->nm, path);
    }
    if (st == NOTMUCH_STATUS_DUPLICATE_MESSAGE_ID && db->synchronize_flags &&
        g_strcmp0 (id, then_id) != 0) {
        st = notmuch_database_find_message (db->nm, id, &msg);
        if (st == NOTMUCH_STATUS_SUCCESS && msg != NULL)
            st = notmuch_message_maildir_flags_to_tags (msg);
    }
    if (st != NOTMUCH_STATUS_SUCCESS && st != NOTMUCH_STATUS_DUPLICATE_MESSAGE_ID)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot remove '%s' from notmuch database '%s'", path, db->path);
    return TRUE;
}

static gboolean
count_index (IndexResult r, NmsDbStats *stats)
{
    switch (r) {
    case INDEXED_NEW:
        stats->added++;
        break;
    case INDEXED_NOT_MAIL:
        stats->not_mail++;
        break;
    case INDEXED_VANISHED:
        stats->vanished++;
        break;
    case INDEXED_DUPLICATE:
    case INDEXED_FAILED:
        break;
    }
    return r != INDEXED_FAILED;
}

/* A file that changed its name: the new name is indexed first, so the message (and its tags)
 * still has a file when the old name goes. When the new name cannot be read, the old name
 * stays: `notmuch new` will sort it out, and the tags are not lost meanwhile. */
static gboolean
apply_rename (NmsDb *db, const char *old_path, const char *path, notmuch_indexopts_t *opts,
              NmsDbStats *stats, gboolean *flags_owed_out, GError **error)
{
    g_autofree char *id = NULL;
    IndexResult r = index_file (db, path, opts, &id, error);
    g_autofree char *older = NULL, *key = NULL, *key2 = NULL;
    gboolean found;

    /* Renamed twice before the first was indexed (a pairing, then a flag): the next event
     * renames @path on, and that one removes @old_path too. */
    if (r == INDEXED_VANISHED) {
        if (db->stale == NULL)
            db->stale = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
        if (!g_hash_table_steal_extended (db->stale, old_path, (gpointer *) &key,
                                          (gpointer *) &older))
            older = g_strdup (old_path);
        g_hash_table_replace (db->stale, g_strdup (path), g_steal_pointer (&older));
    }
    /* Not indexed under the new name (or not as mail): the old one is the message's file
     * in notmuch still, kept with its tags until `notmuch new` or the next event. */
    if (r == INDEXED_FAILED || r == INDEXED_VANISHED || r == INDEXED_NOT_MAIL)
        return count_index (r, stats);
    /* A name may come back: a mail client toggling a flag renames "x:2,S" -> "x:2,FS" ->
     * "x:2,S". The old name that is the new one is the message's file, now maybe its only
     * one: removing it would delete the message and its tags. */
    found = FALSE;
    if (db->stale != NULL &&
        g_hash_table_steal_extended (db->stale, old_path, (gpointer *) &key2,
                                     (gpointer *) &older) &&
        strcmp (older, path) != 0 && !remove_file (db, older, &found, id, error))
        return FALSE;
    if (strcmp (old_path, path) != 0 && !remove_file (db, old_path, &found, id, error))
        return FALSE;
    /* One flags_to_tags for the index and the removals: the message's filenames are final. */
    if (r == INDEXED_DUPLICATE) {
        stats->renamed++;
        if (flags_owed_out != NULL) {
            *flags_owed_out = TRUE; /* the caller's next write to the message does it */
            return TRUE;
        }
        return flags_to_tags (db, path, error);
    }
    if (found)
        stats->removed++;
    return count_index (r, stats);
}

void
nms_db_stats_clear (NmsDbStats *stats)
{
    g_clear_pointer (&stats->too_long, g_ptr_array_unref);
}

/* FALSE (and @path noted in @stats) when libnotmuch must not see @path (absolute, in the mail
 * root): adding the term of a file name that is too long is an INTERNAL_ERROR, which exits the
 * process; that of a directory (XDDIRENTRY, the same limit) fails the write, and with it the
 * rest of the run's indexing. */
static gboolean
indexable (NmsDb *db, const char *path, NmsDbStats *stats)
{
    g_auto (GStrv) parts = g_strsplit (path + strlen (nms_db_mail_root (db)), "/", -1);
    gboolean ok = TRUE;

    for (guint i = 0; ok && parts[i] != NULL; i++)
        ok = strlen (parts[i]) <= NMS_DB_NAME_MAX;
    if (ok)
        return TRUE;
    if (stats->too_long == NULL)
        stats->too_long = g_ptr_array_new_with_free_func (g_free);
    g_ptr_array_add (stats->too_long, g_strdup (path));
    return FALSE;
}

/* TRUE when the message that has the filename @path has another one too. FALSE also when
 * it cannot tell: the name stays then, which loses nothing. */
static gboolean
has_other_filename (NmsDb *db, const char *path)
{
    g_autoptr (notmuch_message_t) msg = NULL;
    notmuch_filenames_t *names;
    guint n = 0;

    if (notmuch_database_find_message_by_filename (db->nm, path, &msg) !=
            NOTMUCH_STATUS_SUCCESS || msg == NULL)
        return FALSE;
    names = notmuch_message_get_filenames (msg);
    for (; names != NULL && notmuch_filenames_valid (names) && n < 2;
         notmuch_filenames_move_to_next (names))
        n++;
    if (names != NULL)
        notmuch_filenames_destroy (names);
    return n >= 2;
}

static gboolean
apply_event (NmsDb *db, const NmsFileEvent *ev, notmuch_indexopts_t *opts, NmsDbStats *stats,
             GError **error)
{
    g_autofree char *path = nms_db_path_in_root (db, ev->path);
    g_autofree char *old_path = NULL;
    gboolean found;

    if (path != NULL && ev->kind != NMS_FILE_REMOVED && ev->kind != NMS_FILE_STALE &&
        !indexable (db, path, stats))
        return TRUE; /* a RENAMED keeps its old filename: the message and its tags stay */

    if (ev->kind == NMS_FILE_RENAMED)
        old_path = nms_db_path_in_root (db, ev->old_path);
    if (path == NULL)
        stats->outside++;
    if (ev->kind == NMS_FILE_RENAMED && path != NULL && old_path != NULL)
        return apply_rename (db, old_path, path, opts, stats, NULL, error);
    if (ev->kind == NMS_FILE_RENAMED && path == NULL && old_path != NULL) {
        /* moved out of the mail root: as far as notmuch knows, removed */
        if (!remove_file (db, old_path, &found, NULL, error))
            return FALSE;
        stats->removed += found;
        return TRUE;
    }
    if (path == NULL)
        return TRUE;
    /* a stale name goes only while the message keeps another one */
    if (ev->kind == NMS_FILE_STALE && !has_other_filename (db, path))
        return TRUE;
    if (ev->kind == NMS_FILE_REMOVED || ev->kind == NMS_FILE_STALE) {
        if (!remove_file (db, path, &found, NULL, error))
            return FALSE;
        stats->removed += found;
        return TRUE;
    }
    /* ADDED, or RENAMED from outside the mail root */
    return count_index (index_file (db, path, opts, NULL, error), stats);
}

gboolean
nms_db_apply_events (NmsDb *db, const NmsFileEvent *events, gsize n_events, guint batch,
                     NmsDbStats *stats_out, GError **error)
{
    g_autoptr (notmuch_indexopts_t) opts = notmuch_database_get_default_indexopts (db->nm);
    NmsDbStats stats = { 0 };
    gboolean ok = TRUE;
    gsize i = 0;

    g_return_val_if_fail (db->writable, FALSE);
    if (batch == 0)
        batch = G_MAXUINT;
    while (ok && i < n_events) {
        notmuch_status_t st = notmuch_database_begin_atomic (db->nm);
        if (st != NOTMUCH_STATUS_SUCCESS) {
            ok = nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                   "cannot begin a transaction in notmuch database '%s'", db->path);
            break;
        }
        for (guint n = 0; ok && n < batch && i < n_events; n++, i++)
            ok = apply_event (db, &events[i], opts, &stats, error);
        /* Also after a failed event: what the batch did before it is consistent, and the
         * stats report it as done. */
        st = notmuch_database_end_atomic (db->nm);
        if (ok && st != NOTMUCH_STATUS_SUCCESS)
            ok = nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                   "cannot end a transaction in notmuch database '%s'", db->path);
    }
    if (stats_out != NULL)
        *stats_out = stats;
    else
        nms_db_stats_clear (&stats);
    return ok;
}

gboolean
nms_db_rename_message (NmsDb *db, const NmsFileEvent *event, const char *id,
                       char *const *add_tags, char *const *remove_tags, const char *agreed_folder,
                       const char *agreed_flags, NmsDbStats *stats_out, GError **error)
{
    g_autoptr (notmuch_indexopts_t) opts = notmuch_database_get_default_indexopts (db->nm);
    g_autofree char *path = nms_db_path_in_root (db, event->path);
    g_autofree char *old_path = event->old_path != NULL ? nms_db_path_in_root (db, event->old_path)
                                                        : NULL;
    NmsDbStats stats = { 0 };
    gboolean owed = FALSE, ok;
    notmuch_status_t st;

    g_return_val_if_fail (db->writable && event->kind == NMS_FILE_RENAMED, FALSE);
    /* Anything but a rename inside the mail root to a name notmuch can take: the two steps. */
    if (path == NULL || old_path == NULL || !indexable (db, path, &stats)) {
        nms_db_stats_clear (&stats);
        return nms_db_apply_events (db, event, 1, 1, stats_out, error) &&
               nms_db_message_update (db, id, add_tags, remove_tags, agreed_folder,
                                      agreed_flags, error);
    }
    st = notmuch_database_begin_atomic (db->nm);
    if (st != NOTMUCH_STATUS_SUCCESS) {
        nms_db_stats_clear (&stats);
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot begin a transaction in notmuch database '%s'", db->path);
    }
    ok = apply_rename (db, old_path, path, opts, &stats, &owed, error) &&
         nms_db_message_update_full (db, id, add_tags, remove_tags, agreed_folder, agreed_flags,
                                     owed && db->synchronize_flags, error);
    st = notmuch_database_end_atomic (db->nm);
    if (ok && st != NOTMUCH_STATUS_SUCCESS)
        ok = nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                               "cannot end a transaction in notmuch database '%s'", db->path);
    if (stats_out != NULL)
        *stats_out = stats;
    else
        nms_db_stats_clear (&stats);
    return ok;
}

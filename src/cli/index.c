/* SPDX-License-Identifier: GPL-3.0-or-later
 * The bridge from a sync to the notmuch index: the sync reports what it did to local files
 * (src/sync/ never calls notmuch); after each account the changes go into the database in
 * atomic batches, renames in place, so no `notmuch new` rescan is needed. */
#include "config.h"

#include "cli/cli.h"

#include "notmuch/notmuch.h"

#define INDEX_BATCH 500
#define LOCK_WAIT_MS 10000

void
nms_indexer_init (NmsIndexer *indexer)
{
    indexer->events = g_array_new (FALSE, TRUE, sizeof (NmsFileEvent));
    g_array_set_clear_func (indexer->events, (GDestroyNotify) nms_file_event_clear);
}

void
nms_indexer_clear (NmsIndexer *indexer)
{
    g_clear_pointer (&indexer->events, g_array_unref);
}

void
nms_indexer_on_file (NmsSyncFileKind kind, const char *path, const char *old_path,
                     gpointer user_data)
{
    NmsIndexer *indexer = user_data;
    NmsFileEvent e = {
        .kind = kind == NMS_SYNC_FILE_ADDED     ? NMS_FILE_ADDED
                : kind == NMS_SYNC_FILE_RENAMED ? NMS_FILE_RENAMED
                                                : NMS_FILE_REMOVED,
        .path = g_strdup (path),
        .old_path = g_strdup (old_path),
    };

    g_array_append_val (indexer->events, e);
}

gboolean
nms_indexer_flush (NmsContext *ctx, const NmsConfig *config, NmsIndexer *indexer)
{
    g_autoptr (GError) error = NULL;
    NmsDbStats stats = { 0 };
    NmsDb *db;
    gboolean ok;

    if (indexer->events->len == 0)
        return TRUE;
    db = nms_db_open (config->notmuch_config, TRUE, LOCK_WAIT_MS, &error);
    if (db == NULL && config->notmuch_config == NULL &&
        g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN)) {
        /* No notmuch set up at all: nmsync is a plain sync tool then. */
        nms_context_log (ctx, NMS_LEVEL_INFO, "not indexing: %s", error->message);
        g_array_set_size (indexer->events, 0);
        return TRUE;
    }
    ok = db != NULL &&
         nms_db_apply_events (db, (NmsFileEvent *) indexer->events->data, indexer->events->len,
                              INDEX_BATCH, &stats, &error);
    ok = nms_db_close (db, ok ? &error : NULL) && ok;
    g_array_set_size (indexer->events, 0);
    if (!ok) {
        nms_context_skip (ctx, "notmuch: %s; the files are in place, 'notmuch new' will index "
                          "them", error->message);
        return FALSE;
    }
    nms_context_log (ctx, NMS_LEVEL_INFO,
                     "notmuch: %u added, %u updated in place, %u removed", stats.added,
                     stats.renamed, stats.removed);
    if (stats.outside > 0)
        nms_context_log (ctx, NMS_LEVEL_WARNING,
                         "notmuch: %u files are outside the database's mail root and were not "
                         "indexed", stats.outside);
    return TRUE;
}

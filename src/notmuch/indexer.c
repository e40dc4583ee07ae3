/* SPDX-License-Identifier: GPL-3.0-or-later
 * The indexer: the bridge from a sync to the notmuch index, overlapped with downloading. The
 * sync reports what it did to local files (src/sync/ never calls notmuch) from any of its
 * threads; one writer thread applies the changes to the database as they come, in atomic
 * batches, renames in place, so no `notmuch new` rescan is needed and the first messages are
 * searchable while the rest still download. */
#include "nms-build.h"

#include "notmuch/notmuch.h"

#include "maildir/maildir.h"

/* The names nmsync gives files are the names the indexer accepts. */
G_STATIC_ASSERT (NMS_MAILDIR_NAME_MAX <= NMS_DB_NAME_MAX);

#define INDEX_BATCH 500
#define LOCK_WAIT_MS 10000
/* A batch ends when it is full or no event came for this long: the sync is busy elsewhere, so
 * what arrived is applied now (and committed with its group, see writer_run()). */
#define GATHER_US (50 * G_TIME_SPAN_MILLISECOND)
#define COMMIT_IDLE_US (500 * G_TIME_SPAN_MILLISECOND)
#define COMMIT_EVERY 10000

struct _NmsIndexer {
    GAsyncQueue *queue; /* NmsFileEvent * (owned), then &end_of_events */
    GThread *thread;
    char *notmuch_config;
    /* Written by the writer thread only, read after it was joined. */
    NmsDbStats stats;
    GError *error;      /* the open, a write or the final commit failed */
    GError *no_notmuch; /* no notmuch set up at all: nmsync is a plain sync tool then */
    guint events;       /* events taken from the queue */
};

/* The marker that ends the queue (its address only). */
static const NmsFileEvent end_of_events;

static void
file_event_free (NmsFileEvent *e)
{
    nms_file_event_clear (e);
    g_free (e);
}

/* The database, opened on the first batch (a run that changes no file never touches notmuch),
 * or NULL once opening failed (the reason is in @ix). */
static NmsDb *
writer_open (NmsIndexer *ix)
{
    g_autoptr (GError) error = NULL;
    NmsDb *db = nms_db_open (ix->notmuch_config, TRUE, LOCK_WAIT_MS, &error);

    if (db != NULL)
        return db;
    if (ix->notmuch_config == NULL && g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN))
        ix->no_notmuch = g_steal_pointer (&error);
    else
        ix->error = g_steal_pointer (&error);
    return NULL;
}

static void
stats_add (NmsDbStats *sum, const NmsDbStats *s)
{
    sum->added += s->added;
    sum->renamed += s->renamed;
    sum->removed += s->removed;
    sum->outside += s->outside;
    sum->not_mail += s->not_mail;
    sum->vanished += s->vanished;
    for (guint i = 0; s->too_long != NULL && i < s->too_long->len; i++) {
        if (sum->too_long == NULL)
            sum->too_long = g_ptr_array_new_with_free_func (g_free);
        g_ptr_array_add (sum->too_long, g_strdup (g_ptr_array_index (s->too_long, i)));
    }
}

/* Applies @batch in atomic sections (committed when the writer closes the database).
 * After a failure the rest is only counted: the files are in place for `notmuch new`. */
static void
writer_apply (NmsIndexer *ix, NmsDb **db, GArray *batch)
{
    NmsDbStats stats = { 0 };

    if (ix->error == NULL && ix->no_notmuch == NULL && *db == NULL)
        *db = writer_open (ix);
    ix->events += batch->len;
    if (*db == NULL || ix->error != NULL)
        return;
    nms_db_apply_events (*db, (NmsFileEvent *) batch->data, batch->len, INDEX_BATCH, &stats,
                         &ix->error);
    stats_add (&ix->stats, &stats);
    nms_db_stats_clear (&stats);
}

/* Closes the database, which commits it: what it holds is searchable now. */
static void
writer_close (NmsIndexer *ix, NmsDb **db, guint *pending)
{
    if (*db != NULL)
        nms_db_close (*db, ix->error == NULL ? &ix->error : NULL);
    *db = NULL;
    *pending = 0;
}

/* Batches are applied as they come; the database is committed (closed, and opened again at the
 * next event) when no event came for COMMIT_IDLE_US, after COMMIT_EVERY events, and at the
 * end: progress is searchable within a second of a pause, and a fast download is not slowed
 * by a commit per batch. libnotmuch 0.37 has no commit call; its end_atomic commits only every
 * database.autocommit (8000) sections, or at every one with XAPIAN_FLUSH_THRESHOLD=1, but that
 * variable also makes Xapian merge its postings into the tables after every document, which
 * made indexing twice as slow (bench/RESULTS.md). */
static gpointer
writer_run (gpointer data)
{
    NmsIndexer *ix = data;
    g_autoptr (GArray) batch = g_array_sized_new (FALSE, TRUE, sizeof (NmsFileEvent), INDEX_BATCH);
    NmsDb *db = NULL;
    NmsFileEvent *e;
    guint pending = 0;

    g_array_set_clear_func (batch, (GDestroyNotify) nms_file_event_clear);
    do {
        e = db != NULL ? g_async_queue_timeout_pop (ix->queue, COMMIT_IDLE_US)
                       : g_async_queue_pop (ix->queue);
        if (e == NULL) {
            writer_close (ix, &db, &pending);
            continue;
        }
        while (e != NULL && e != &end_of_events) {
            g_array_append_val (batch, *e); /* the batch takes over the strings */
            g_free (e);
            e = batch->len < INDEX_BATCH ? g_async_queue_timeout_pop (ix->queue, GATHER_US)
                                         : NULL;
        }
        if (batch->len > 0)
            writer_apply (ix, &db, batch);
        pending += batch->len;
        g_array_set_size (batch, 0);
        if (pending >= COMMIT_EVERY)
            writer_close (ix, &db, &pending);
    } while (e != &end_of_events);
    writer_close (ix, &db, &pending);
    return NULL;
}

NmsIndexer *
nms_indexer_start (const char *notmuch_config)
{
    NmsIndexer *ix = g_new0 (NmsIndexer, 1);

    ix->queue = g_async_queue_new_full ((GDestroyNotify) file_event_free);
    ix->notmuch_config = g_strdup (notmuch_config);
    ix->thread = g_thread_new ("nms-index", writer_run, ix);
    return ix;
}

void
nms_indexer_on_file (NmsFileEventKind kind, const char *path, const char *old_path,
                     gpointer user_data)
{
    NmsIndexer *ix = user_data;
    NmsFileEvent *e = g_new (NmsFileEvent, 1);

    *e = (NmsFileEvent) {
        .kind = kind,
        .path = g_strdup (path),
        .old_path = g_strdup (old_path),
    };
    /* One FIFO for every sync thread: a file's rename is reported after its add (the rename
     * happens after the add returned), so the writer sees them in that order. */
    g_async_queue_push (ix->queue, e);
}

gboolean
nms_indexer_finish (NmsIndexer *ix, NmsContext *ctx)
{
    gboolean ok;

    g_async_queue_push (ix->queue, (gpointer) &end_of_events);
    g_thread_join (ix->thread);
    ok = ix->error == NULL;
    if (ix->no_notmuch != NULL)
        nms_context_log (ctx, NMS_LEVEL_INFO, "not indexing: %s", ix->no_notmuch->message);
    else if (!ok)
        nms_context_skip (ctx, "notmuch: %s; the files are in place, 'notmuch new' will index "
                          "them", ix->error->message);
    else if (ix->events > 0)
        nms_context_log (ctx, NMS_LEVEL_INFO, "notmuch: %u added, %u updated in place, %u removed",
                         ix->stats.added, ix->stats.renamed, ix->stats.removed);
    for (guint i = 0; ix->stats.too_long != NULL && i < ix->stats.too_long->len; i++)
        nms_context_skip (ctx, "notmuch: '%s' not indexed: its name or its folder's is longer "
                          "than the %d bytes notmuch can index; rename it",
                          (const char *) g_ptr_array_index (ix->stats.too_long, i),
                          NMS_DB_NAME_MAX);
    nms_db_stats_clear (&ix->stats);
    if (ix->stats.outside > 0)
        nms_context_log (ctx, NMS_LEVEL_WARNING,
                         "notmuch: %u files are outside the database's mail root and were not "
                         "indexed", ix->stats.outside);
    g_async_queue_unref (ix->queue);
    g_clear_error (&ix->error);
    g_clear_error (&ix->no_notmuch);
    g_free (ix->notmuch_config);
    g_free (ix);
    return ok;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The folder loop of a run. With "connections = 1", or a single folder, the folders go one
 * after another over the run's connection. Otherwise a pool of workers takes folders from one
 * queue, heaviest first, each worker with its own connection (opened when it takes its first
 * folder), its own state handle on the same database and its own context, so that the only
 * things the workers share are read-only (config, options, keyword letters, password, the
 * dry-run moves) or guarded here: the step counter with the crash hook, the file callback and
 * the error that stops the whole run.
 *
 * libetpan (LIBRARIES.md 1.6): one mailimap per thread, never shared; its process-wide setup
 * (nms_imap_global_init, the first TLS handshake) has happened before the pool starts, on the
 * connection that listed the folders. SQLite: every worker opens its own connection; WAL lets
 * them read while one writes, and "BEGIN IMMEDIATE" with the busy handler of nms_state_open
 * (polling for up to 60 s) makes writers wait for each other instead of failing, which holds
 * because no worker keeps a write transaction open across network I/O (transfer.c commits
 * downloads after the FETCH). */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <signal.h>
#include <unistd.h>

struct _NmsSyncPool {
    GMutex lock;      /* next, fatal */
    GMutex file_lock; /* one options->on_file call at a time: the notmuch index is not shared */
    GPtrArray *queue; /* Folder (transfer none), heaviest first */
    guint next;
    gint steps;       /* nms_sync_step, atomic */
    GError *fatal;    /* the first error that stops the run (a full disk) */
};

typedef struct {
    Run run;          /* a copy of the run with its own context, session and state */
    gboolean own_state;
    GThread *thread;  /* NULL for the worker that runs in the calling thread */
} Worker;

void
nms_sync_step (Run *run)
{
    guint n = run->pool != NULL ? (guint) g_atomic_int_add (&run->pool->steps, 1) + 1
                                : ++run->steps;

    if (run->options->crash_after != 0 && n == run->options->crash_after)
        kill (getpid (), SIGKILL);
}

void
nms_sync_file_event (Run *run, NmsFileEventKind kind, const char *path, const char *old_path)
{
    if (run->options->on_file == NULL || (old_path != NULL && g_strcmp0 (path, old_path) == 0))
        return;
    if (run->pool != NULL)
        g_mutex_lock (&run->pool->file_lock);
    run->options->on_file (kind, path, old_path, run->options->on_file_data);
    if (run->pool != NULL)
        g_mutex_unlock (&run->pool->file_lock);
}

/* Syncs @folder and counts it done. A failed folder is skipped and named; FALSE with @fatal
 * only for an error that stops the run (a full disk). */
static gboolean
sync_one (Run *run, Folder *folder, GError **fatal)
{
    g_autoptr (GError) error = NULL;
    NmsProgress before = run->ctx->progress, delta;

    if (!nms_sync_connect (run, &error) || !nms_sync_folder (run, folder, &error)) {
        nms_state_rollback (run->state);
        if (g_error_matches (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_NOSPACE)) {
            g_propagate_prefixed_error (fatal, g_steal_pointer (&error), "folder '%s': ",
                                        folder->name);
            return FALSE;
        }
        nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                          folder->name, error->message);
        if (nms_sync_session_lost (error))
            g_clear_pointer (&run->session, nms_imap_session_free);
    }
    run->ctx->progress.folders_done++;
    nms_progress_diff (&run->ctx->progress, &before, &delta);
    nms_context_folder_done (run->ctx, folder->name, &delta);
    nms_context_progress (run->ctx);
    return TRUE;
}

static void
sync_serially (Run *run, GPtrArray *folders, GError **fatal)
{
    for (guint i = 0; i < folders->len; i++) {
        if (!sync_one (run, g_ptr_array_index (folders, i), fatal))
            return;
    }
}

/* The next folder, or NULL when the queue is empty or the run must stop; the other workers
 * stop after their current folder. */
static Folder *
take (NmsSyncPool *pool)
{
    Folder *folder = NULL;

    g_mutex_lock (&pool->lock);
    if (pool->fatal == NULL && pool->next < pool->queue->len)
        folder = g_ptr_array_index (pool->queue, pool->next++);
    g_mutex_unlock (&pool->lock);
    return folder;
}

static gpointer
worker_main (gpointer data)
{
    Worker *w = data;
    Run *run = &w->run;
    NmsSyncPool *pool = run->pool;
    Folder *folder;

    while ((folder = take (pool)) != NULL) {
        g_autoptr (GError) error = NULL;

        if (run->state == NULL &&
            (run->state = nms_state_open (run->config->state_dir, run->account->name, &error)) ==
                NULL) {
            nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                              folder->name, error->message);
            nms_context_flush (run->ctx);
            continue;
        }
        if (!sync_one (run, folder, &error)) {
            g_mutex_lock (&pool->lock);
            if (pool->fatal == NULL)
                pool->fatal = g_steal_pointer (&error);
            g_mutex_unlock (&pool->lock);
        }
        nms_context_flush (run->ctx); /* this folder's lines, together */
    }
    return NULL;
}

static gint
cmp_weight (gconstpointer a, gconstpointer b)
{
    guint64 x = (*(Folder *const *) a)->weight, y = (*(Folder *const *) b)->weight;
    return x > y ? -1 : x < y;
}

/* Worker 0 borrows the run's connection and state and works in the calling thread; the others
 * get their own, in threads of their own. */
static void
worker_init (Worker *w, Run *run, NmsSyncPool *pool, gboolean first)
{
    w->run = *run;
    w->run.pool = pool;
    w->run.ctx = nms_context_new_child (run->ctx);
    w->run.session = first ? g_steal_pointer (&run->session) : NULL;
    w->run.state = first ? run->state : NULL;
    w->own_state = !first;
}

static void
worker_clear (Worker *w, Run *run)
{
    if (w->own_state) {
        nms_imap_session_free (w->run.session);
        nms_state_free (w->run.state);
    } else {
        run->session = w->run.session;
    }
    nms_context_free_child (w->run.ctx);
}

void
nms_sync_workers_run (Run *run, GPtrArray *folders, GError **fatal)
{
    /* Every folder may have work until the server's STATUS says otherwise, so the pool is as
     * large as the folders allow; a worker that finds the queue empty never connects. */
    guint n = MIN ((guint) MAX (run->account->connections, 1), folders->len);
    NmsSyncPool pool = { .steps = (gint) run->steps };
    g_autofree Worker *workers = NULL;

    /* A dry run reads a private in-memory copy of the state, which other connections could
     * not share: one connection. */
    if (n <= 1 || run->ctx->dry_run) {
        sync_serially (run, folders, fatal);
        return;
    }
    g_mutex_init (&pool.lock);
    g_mutex_init (&pool.file_lock);
    pool.queue = g_ptr_array_new ();
    for (guint i = 0; i < folders->len; i++)
        g_ptr_array_add (pool.queue, g_ptr_array_index (folders, i));
    g_ptr_array_sort (pool.queue, cmp_weight); /* stable: equal weights keep their order */
    workers = g_new0 (Worker, n);
    for (guint i = 0; i < n; i++)
        worker_init (&workers[i], run, &pool, i == 0);
    for (guint i = 1; i < n; i++) {
        g_autoptr (GError) error = NULL;

        workers[i].thread = g_thread_try_new ("nmsync-worker", worker_main, &workers[i], &error);
        if (workers[i].thread == NULL)
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: %u connections instead of %u: cannot start a thread: %s",
                             run->account->name, i, n, error->message);
        if (workers[i].thread == NULL)
            break;
    }
    worker_main (&workers[0]);
    for (guint i = 1; i < n; i++) {
        if (workers[i].thread != NULL)
            g_thread_join (workers[i].thread);
    }
    for (guint i = 0; i < n; i++)
        worker_clear (&workers[i], run);
    run->steps = (guint) pool.steps;
    if (pool.fatal != NULL)
        g_propagate_error (fatal, pool.fatal);
    g_ptr_array_unref (pool.queue);
    g_mutex_clear (&pool.lock);
    g_mutex_clear (&pool.file_lock);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Messages another client moved on the server (gone from folder A, new in folder B in the same
 * run) move locally too: the file is taken along, not downloaded again in B and deleted in A.
 * Folders are synced in parallel (workers.c), so B may plan its downloads before A learns of
 * the expunges, or after A has planned them; the two halves meet through the state, which
 * records each message's Message-ID and CRLF size:
 * - B, before downloading: a new server message whose Message-ID and size the state records in
 *   another folder gets that folder's file as a hard link under B's name (same inode, same
 *   unique part; no body fetched). Which files are taken is planned from a snapshot
 *   (nms_plan_take_moved, plan-moves.c); this file gathers the snapshot and links.
 * - A: its local deletions (server expunges) wait for the end of the run (nms_sync_later_*).
 *   A file whose inode lives on under a unique part the state records in another folder was
 *   moved: it is unlinked from A and never counts for the deletion guard; the other
 *   deletions face the guard as before. One line per folder pair tells the user.
 * A message copied on the server (still in A) keeps both names: one inode in two folders,
 * which Maildir readers and notmuch take as one message in both.
 *
 * Crash story. Link, fsync of B's directories, then B's state (UID, flags, unique part,
 * content) in one transaction. A kill after the link leaves a file in B whose UID the state
 * does not know: the next run pairs it by content with that UID (content.c), no download.
 * A's deferred deletions are only in memory, and the folder is not recorded as completely
 * synced: a kill before the end of the run leaves A's files, which the next run plans to
 * delete again and finds linked (a move) then. The unlink and A's state row go together as in
 * folder.c step 1. When A's sync was complete but for these deletions, A's complete record
 * (its STATUS and mtimes, nms_sync_later_complete) is written in the transaction of the last
 * of them, after the unlinks and the fsync of A's directories: a kill before that commit
 * leaves A "not known complete" (full path next run), never complete with a file left over.
 * Without it every folder with a server expunge lost QRESYNC and its skip for the next run,
 * which then fetched the flags of all its messages: work in the size of the spool. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *folder;
    char *dir;     /* the folder's directory */
    guint32 uid;
    char *path;
    char *base;
    guint known;   /* messages the state knew in the folder when it was planned */
} Deferred;

struct _NmsSyncLater {
    GMutex lock;
    GArray *items;         /* Deferred, folder by folder */
    GHashTable *dry_taken; /* dry run: "<folder>\n<base>" of a file another folder would take
                            * along -> that folder's name */
    gboolean possible;     /* some folder may have lost messages (nms_sync_later_watch) */
    GHashTable *complete;  /* folder name -> NmsStateFolder: its record once its deferred
                            * deletions are all done (nms_sync_later_complete) */
};

static void
deferred_clear (gpointer p)
{
    Deferred *d = p;

    g_free (d->folder);
    g_free (d->dir);
    g_free (d->path);
    g_free (d->base);
}

NmsSyncLater *
nms_sync_later_new (void)
{
    NmsSyncLater *later = g_new0 (NmsSyncLater, 1);

    g_mutex_init (&later->lock);
    later->items = g_array_new (FALSE, TRUE, sizeof (Deferred));
    g_array_set_clear_func (later->items, deferred_clear);
    later->dry_taken = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    later->complete = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    return later;
}

void
nms_sync_later_free (NmsSyncLater *later)
{
    if (later == NULL)
        return;
    g_array_unref (later->items);
    g_hash_table_unref (later->dry_taken);
    g_hash_table_unref (later->complete);
    g_mutex_clear (&later->lock);
    g_free (later);
}

guint
nms_sync_later_defer (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries,
                      guint known)
{
    guint n = 0;

    if (run->later == NULL)
        return 0;
    g_mutex_lock (&run->later->lock);
    for (guint i = plan->len; i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        NmsMaildirEntry *e;
        Deferred d;

        if (a->kind != NMS_ACTION_DELETE_LOCAL)
            continue;
        e = g_ptr_array_index (entries, a->local_index);
        d = (Deferred) { .folder = g_strdup (folder->name), .dir = g_strdup (folder->dir),
                         .uid = a->uid, .path = g_strdup (e->path),
                         .base = g_strdup (e->name->base), .known = known };
        g_array_append_val (run->later->items, d);
        g_array_remove_index (plan, i);
        n++;
    }
    g_mutex_unlock (&run->later->lock);
    return n;
}

void
nms_sync_later_complete (Run *run, const Folder *folder, const NmsStateFolder *value)
{
    if (run->later == NULL)
        return;
    g_mutex_lock (&run->later->lock);
    g_hash_table_replace (run->later->complete, g_strdup (folder->name),
                          g_memdup2 (value, sizeof *value));
    g_mutex_unlock (&run->later->lock);
}

/* ---- B: taking the file along --------------------------------------------------------- */

/* The files of another folder by unique part, scanned once per run and folder. */
static GHashTable *
files_of (Run *run, GHashTable *cache, const char *folder)
{
    GHashTable *files = g_hash_table_lookup (cache, folder);
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) scan = NULL;
    g_autofree char *relpath = NULL, *dir = NULL;

    if (files != NULL)
        return files;
    files = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert (cache, g_strdup (folder), files);
    relpath = nms_maildir_folder_to_path (folder, '/', run->account->layout, &error);
    if (relpath == NULL)
        return files;
    dir = g_build_filename (run->account->maildir, relpath, NULL);
    scan = nms_maildir_scan (dir, NULL);
    for (guint i = 0; scan != NULL && i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name != NULL && e->name->base[0] != '\0')
            g_hash_table_replace (files, g_strdup (e->name->base), g_strdup (e->path));
    }
    return files;
}

typedef struct {
    const NmsAction *action;
    char *path;     /* the link in this folder */
    char *base;
    const NmsImapMessageIdent *ident;
} Taken;

static void
taken_clear (gpointer p)
{
    Taken *t = p;

    g_free (t->path);
    g_free (t->base);
}

/* Links the file @source into @folder as @a's message (in new/ while unseen, as downloads
 * land). Returns the new path, or NULL when the link cannot be made (then it is downloaded). */
static char *
link_into (const Folder *folder, const char *source, const char *base, const NmsAction *a)
{
    g_autoptr (NmsMaildirName) name = nms_maildir_name_new (a->uid, a->state_flags);
    g_autofree char *filename = NULL;
    char *target;

    g_free (name->base);
    name->base = g_strdup (base);
    filename = nms_maildir_name_format (name);
    target = g_build_filename (folder->dir, nms_maildir_flags_has (a->state_flags, 'S') ? "cur"
                                                                                       : "new",
                               filename, NULL);
    if (link (source, target) != 0) {
        g_free (target);
        return NULL;
    }
    return target;
}

/* --dry-run: says what would be taken along, and remembers it for the deferred deletions. */
static void
dry_take (Run *run, const Folder *folder, const char *from, const char *base,
          const char *source, const NmsAction *a)
{
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: %s: would take UID %u from folder '%s' ('%s'; moved or copied on the "
                     "server)", run->account->name, folder->name, a->uid, from, source);
    g_mutex_lock (&run->later->lock);
    g_hash_table_replace (run->later->dry_taken, g_strdup_printf ("%s\n%s", from, base),
                          g_strdup (folder->name));
    g_mutex_unlock (&run->later->lock);
}

/* A new server message the take plan is about. */
typedef struct {
    const NmsImapMessageIdent *ident;
    const NmsAction *action; /* its DOWNLOAD */
} Arrival;

/* What the take plan is made from and refers to (the plan's strings point into it). */
typedef struct {
    GArray *sources;   /* NmsTakeSource */
    GPtrArray *paths;  /* the file of each source, or NULL (transfer none: the cache's) */
    GArray *arrivals;  /* Arrival, by NmsTakeSource.message */
    GPtrArray *rows;   /* the state's GArray of NmsStateMessage per arrival (owns the bases) */
    GPtrArray *names;  /* the GPtrArray of folder names per arrival (owns the folders) */
} TakeSnapshot;

static void
take_snapshot_clear (TakeSnapshot *ts)
{
    g_clear_pointer (&ts->sources, g_array_unref);
    g_clear_pointer (&ts->paths, g_ptr_array_unref);
    g_clear_pointer (&ts->arrivals, g_array_unref);
    g_clear_pointer (&ts->rows, g_ptr_array_unref);
    g_clear_pointer (&ts->names, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TakeSnapshot, take_snapshot_clear)

/* The snapshot of the take plan: for each message of @idents that @wanted downloads, every
 * file of another folder that the state records with its Message-ID and size. */
static gboolean
take_snapshot (Run *run, const Folder *folder, GHashTable *cache, GHashTable *wanted,
               GPtrArray *idents, TakeSnapshot *ts, GError **error)
{
    ts->sources = g_array_new (FALSE, TRUE, sizeof (NmsTakeSource));
    ts->paths = g_ptr_array_new ();
    ts->arrivals = g_array_new (FALSE, TRUE, sizeof (Arrival));
    ts->rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
    ts->names = g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
    for (guint i = 0; i < idents->len; i++) {
        Arrival arrival = { .ident = g_ptr_array_index (idents, i) };
        GPtrArray *folders;
        GArray *rows;

        arrival.action = g_hash_table_lookup (wanted, GUINT_TO_POINTER (arrival.ident->uid));
        if (arrival.action == NULL || arrival.ident->message_id == NULL)
            continue;
        folders = g_ptr_array_new_with_free_func (g_free);
        g_ptr_array_add (ts->names, folders);
        rows = nms_state_message_find_content (run->state, arrival.ident->message_id,
                                               arrival.ident->size, folder->name, folders,
                                               error);
        if (rows == NULL)
            return FALSE;
        g_ptr_array_add (ts->rows, rows);
        for (guint j = 0; j < rows->len; j++) {
            NmsStateMessage *m = &g_array_index (rows, NmsStateMessage, j);
            const char *from = g_ptr_array_index (folders, j);
            const char *path = g_hash_table_lookup (files_of (run, cache, from), m->base);
            NmsTakeSource src = { .message = ts->arrivals->len, .folder = from, .base = m->base,
                                  .has_file = path != NULL };

            g_array_append_val (ts->sources, src);
            g_ptr_array_add (ts->paths, (gpointer) path);
        }
        g_array_append_val (ts->arrivals, arrival);
    }
    return TRUE;
}

/* Carries out the take plan @take: each message takes the first of its files that it can
 * link (a dry run: the first), else it stays a download. */
static void
take_planned (Run *run, const Folder *folder, GArray *take, const TakeSnapshot *ts,
              GArray *taken)
{
    gint done = -1; /* the last message that took a file */

    for (guint i = 0; i < take->len; i++) {
        guint k = g_array_index (take, guint, i);
        const NmsTakeSource *src = &g_array_index (ts->sources, NmsTakeSource, k);
        const Arrival *arrival = &g_array_index (ts->arrivals, Arrival, src->message);
        const char *source = g_ptr_array_index (ts->paths, k);
        Taken t = { .action = arrival->action, .ident = arrival->ident };

        if ((gint) src->message == done)
            continue;
        if (run->ctx->dry_run)
            dry_take (run, folder, src->folder, src->base, source, arrival->action);
        else if ((t.path = link_into (folder, source, src->base, arrival->action)) == NULL)
            continue; /* gone meanwhile, or another file system: its next file, or download */
        t.base = g_strdup (src->base);
        g_array_append_val (taken, t);
        done = (gint) src->message;
    }
}

/* Step 2 and 3 for the taken files: directories fsynced, then the state. */
static gboolean
record_taken (Run *run, const Folder *folder, GArray *taken, GError **error)
{
    if (!nms_maildir_folder_sync_dirs (folder->dir, error))
        return FALSE;
    nms_sync_step (run); /* a kill here: links the state does not know, paired next run */
    if (!nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = 0; i < taken->len; i++) {
        Taken *t = &g_array_index (taken, Taken, i);

        if (!nms_state_message_put (run->state, folder->name, t->action->uid,
                                    t->action->state_flags, t->base, error) ||
            !nms_state_message_set_content (run->state, folder->name, t->action->uid,
                                            t->ident->message_id, t->ident->size, error)) {
            nms_state_rollback (run->state);
            return FALSE;
        }
    }
    if (!nms_state_commit (run->state, error))
        return FALSE;
    for (guint i = 0; i < taken->len; i++)
        nms_sync_file_event (run, NMS_FILE_ADDED, g_array_index (taken, Taken, i).path, NULL);
    return TRUE;
}

static void
drop_taken (GArray *plan, GArray *taken)
{
    g_autoptr (GHashTable) uids = g_hash_table_new (NULL, NULL);

    for (guint i = 0; i < taken->len; i++)
        g_hash_table_add (uids, GUINT_TO_POINTER (g_array_index (taken, Taken, i).action->uid));
    for (guint i = plan->len; i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        if (a->kind == NMS_ACTION_DOWNLOAD && g_hash_table_contains (uids, GUINT_TO_POINTER (a->uid)))
            g_array_remove_index (plan, i);
    }
}

/* The DOWNLOAD actions of @plan by uid, and the lowest uid (0: none). */
static GHashTable *
downloads_of (GArray *plan, guint32 *first_out)
{
    GHashTable *by_uid = g_hash_table_new (NULL, NULL);

    *first_out = 0;
    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);

        if (a->kind != NMS_ACTION_DOWNLOAD)
            continue;
        g_hash_table_insert (by_uid, GUINT_TO_POINTER (a->uid), a);
        if (*first_out == 0 || a->uid < *first_out)
            *first_out = a->uid;
    }
    return by_uid;
}

/* TRUE when @f, which the state knows, may have lost messages since its last complete sync:
 * fewer messages now than then plus those that arrived since (UIDNEXT), or no STATUS to
 * tell. A folder the state does not know had nothing to lose. */
static gboolean
may_have_lost (Run *run, const Folder *f)
{
    NmsStateFolder saved;
    gboolean known = FALSE;

    if (!nms_state_folder_get (run->state, f->name, &saved, &known, NULL))
        return TRUE;
    if (!known)
        return FALSE;
    if (!f->has_status || saved.highestmodseq == 0 || f->uidvalidity != saved.uidvalidity ||
        f->uidnext < saved.uidnext)
        return TRUE;
    return (guint64) f->messages < (guint64) saved.messages + (f->uidnext - saved.uidnext);
}

void
nms_sync_later_watch (Run *run, GPtrArray *folders)
{
    if (run->later == NULL)
        return;
    for (guint i = 0; i < folders->len && !run->later->possible; i++)
        run->later->possible = may_have_lost (run, g_ptr_array_index (folders, i));
}

gboolean
nms_sync_take_moved (Run *run, const Folder *folder, guint32 uidvalidity, GArray *plan,
                     GError **error)
{
    g_autoptr (GHashTable) wanted = NULL;
    g_autoptr (GHashTable) cache = NULL;
    g_autoptr (GPtrArray) idents = NULL;
    g_autoptr (GArray) taken = NULL;
    g_autoptr (GArray) take = NULL;
    g_auto (TakeSnapshot) ts = { 0 };
    guint32 first;

    g_autoptr (GError) fetch_error = NULL;

    if (run->later == NULL || !run->later->possible)
        return TRUE;
    wanted = downloads_of (plan, &first);
    if (first == 0)
        return TRUE;
    if ((idents = nms_imap_fetch_idents (run->session, first, &fetch_error)) == NULL) {
        /* A message the server cannot read fails the whole FETCH: download them all, as
         * before, and let the download name the one that fails. */
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: folder '%s': cannot look for messages moved on the server: %s",
                         run->account->name, folder->name, fetch_error->message);
        return !nms_sync_session_lost (fetch_error) ||
               nms_sync_reselect (run, folder, uidvalidity, error);
    }
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                   (GDestroyNotify) g_hash_table_unref);
    taken = g_array_new (FALSE, TRUE, sizeof (Taken));
    g_array_set_clear_func (taken, taken_clear);
    if (!take_snapshot (run, folder, cache, wanted, idents, &ts, error))
        return FALSE;
    take = nms_plan_take_moved ((NmsTakeSource *) ts.sources->data, ts.sources->len);
    take_planned (run, folder, take, &ts, taken);
    if (taken->len == 0)
        return TRUE;
    if (!run->ctx->dry_run && !record_taken (run, folder, taken, error))
        return FALSE;
    if (!run->ctx->dry_run)
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: %s: %u new messages taken from the files of other folders (moved "
                         "or copied on the server; nothing downloaded)", run->account->name,
                         folder->name, taken->len);
    drop_taken (plan, taken);
    return TRUE;
}

/* ---- A: the deferred deletions -------------------------------------------------------- */

/* The folder holding @d's message under another name, when its file was taken along (same
 * inode: more than one link, and the state records the unique part elsewhere); else NULL.
 * (transfer full) */
static char *
moved_to (Run *run, const Deferred *d)
{
    struct stat st;
    char *folder = NULL;

    if (run->ctx->dry_run) {
        g_autofree char *key = g_strdup_printf ("%s\n%s", d->folder, d->base);
        return g_strdup (g_hash_table_lookup (run->later->dry_taken, key));
    }
    if (lstat (d->path, &st) != 0 || st.st_nlink < 2 ||
        !nms_state_message_base_elsewhere (run->state, d->base, d->folder, &folder, NULL))
        return NULL;
    return folder;
}

static void
count_move (GHashTable *moves, const char *from, const char *to)
{
    g_autofree char *key = g_strdup_printf ("%s\n%s", from, to);
    guint n = GPOINTER_TO_UINT (g_hash_table_lookup (moves, key));

    g_hash_table_replace (moves, g_steal_pointer (&key), GUINT_TO_POINTER (n + 1));
}

/* Deletes the deferred files of one folder, @items[@from..@to), as folder.c step 1 would have:
 * files removed, directories fsynced, then the state in one transaction. */
static gboolean
finish_folder (Run *run, GArray *items, guint from, guint to, GHashTable *moves, GError **error)
{
    const Deferred *first = &g_array_index (items, Deferred, from);
    g_autoptr (GPtrArray) dest = g_ptr_array_new_with_free_func (g_free);
    const NmsStateFolder *complete = g_hash_table_lookup (run->later->complete, first->folder);
    guint real = 0;
    gboolean refuse, touched = FALSE, all_done = TRUE;

    for (guint i = from; i < to; i++) {
        char *to_folder = moved_to (run, &g_array_index (items, Deferred, i));

        real += to_folder == NULL;
        g_ptr_array_add (dest, to_folder);
    }
    refuse = !run->policy.force && nms_plan_too_many (real, first->known);
    if (refuse)
        nms_sync_guard_report_local (run, first->folder, real, first->known);
    refuse = nms_sync_guard_later (run, first->folder, real, refuse);
    if (!run->ctx->dry_run && !nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = from; i < to; i++) {
        const Deferred *d = &g_array_index (items, Deferred, i);
        const char *to_folder = g_ptr_array_index (dest, i - from);
        g_autoptr (GError) local = NULL;

        if (to_folder == NULL && refuse) {
            all_done = FALSE;
            continue;
        }
        if (run->ctx->dry_run) {
            /* at the end of the run, as the real run does it: an account's line */
            if (to_folder == NULL)
                nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                                 "%s: would delete locally UID %u of folder '%s' ('%s')",
                                 run->account->name, d->uid, d->folder, d->path);
            else
                count_move (moves, d->folder, to_folder);
            continue;
        }
        if (!nms_maildir_remove_full (d->path, FALSE, &local)) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s': message UID %u: %s; retried next run",
                             run->account->name, d->folder, d->uid, local->message);
            all_done = FALSE;
            continue;
        }
        touched = TRUE;
        if (!nms_state_message_delete (run->state, d->folder, d->uid, error)) {
            nms_state_rollback (run->state);
            return FALSE;
        }
        nms_sync_file_event (run, NMS_FILE_REMOVED, d->path, NULL);
        nms_sync_step (run); /* a kill here: removed, still in the state: forgotten next run */
        if (to_folder != NULL) {
            count_move (moves, d->folder, to_folder);
            run->ctx->progress.moved++;
        } else {
            run->ctx->progress.messages_deleted++;
        }
    }
    if (run->ctx->dry_run)
        return TRUE;
    if (touched && !nms_maildir_folder_sync_dirs (first->dir, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    /* after the fsync: the record says the directory holds no file of these messages */
    if (all_done && complete != NULL &&
        !nms_state_folder_set (run->state, first->folder, complete, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    return nms_state_commit (run->state, error);
}

static void
report_moves (Run *run, GHashTable *moves)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init (&it, moves);
    while (g_hash_table_iter_next (&it, &key, &value)) {
        g_auto (GStrv) names = g_strsplit (key, "\n", 2);

        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %u messages moved on the server from '%s' to '%s' (%s locally, "
                         "nothing downloaded)", run->account->name, GPOINTER_TO_UINT (value),
                         names[0], names[1], run->ctx->dry_run ? "would be taken along"
                                                               : "taken along");
    }
}

void
nms_sync_later_finish (Run *run)
{
    g_autoptr (GHashTable) moves = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    GArray *items;

    if (run->later == NULL || run->later->items->len == 0)
        return;
    items = run->later->items;
    for (guint from = 0, to; from < items->len; from = to) {
        g_autoptr (GError) error = NULL;
        const char *folder = g_array_index (items, Deferred, from).folder;

        for (to = from + 1;
             to < items->len && strcmp (g_array_index (items, Deferred, to).folder, folder) == 0;
             to++)
            ;
        if (!finish_folder (run, items, from, to, moves, &error))
            nms_context_skip (run->ctx, "%s: folder '%s': local deletions not done: %s",
                              run->account->name, folder, error->message);
    }
    g_array_set_size (items, 0);
    g_hash_table_remove_all (run->later->complete);
    report_moves (run, moves);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * One folder: snapshot (server flags, saved state, local files), plan (sync/plan.c), execute.
 *
 * Execution order and what a crash between the steps leaves:
 * 1. local renames and deletions, with the state of every action that has no server part, in
 *    one transaction (their directory fsyncs are done once, for cur/ and new/, before it
 *    commits). A crash before the commit leaves renamed or deleted files the state does
 *    not know about yet; the next plan computes the same result from them (the merge is
 *    idempotent) and finishes the job. A file a mail client renamed since the scan drops its
 *    whole action (vanished.c).
 * 2. server flag changes (intent, UID STORE, then state + intent removal in one transaction).
 *    A crash after the STORE leaves the server ahead of the state: the next merge finds both
 *    sides agreeing and only records it.
 * 3. server deletions (intent, STORE \Deleted, UID EXPUNGE, then state), only for messages
 *    whose file a second look confirms gone (vanished.c). A crash in between leaves a
 *    \Deleted message the next plan deletes again.
 * 4. uploads (transfer.c) and 5. downloads (transfer.c), each with its own crash story. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

/* The state keeps flag strings of the same size as the planner (state/ cannot include maildir/). */
G_STATIC_ASSERT (sizeof (((NmsStateMessage *) NULL)->flags) == NMS_MAILDIR_FLAGS_SIZE);

static int
cmp_entry_uid (gconstpointer a, gconstpointer b)
{
    guint32 x = (*(NmsMaildirEntry *const *) a)->name->uid;
    guint32 y = (*(NmsMaildirEntry *const *) b)->name->uid;
    return x < y ? -1 : x > y;
}

static const char *
entry_flags (const NmsMaildirEntry *e)
{
    return e->name->flags != NULL ? e->name->flags : "";
}

GArray *
nms_sync_local_snapshot (Run *run, const Folder *folder, GPtrArray *scan, GPtrArray **entries_out,
                         GPtrArray **fresh_out)
{
    GArray *local = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    g_autoptr (GPtrArray) order = g_ptr_array_new ();
    g_autoptr (GPtrArray) entries = g_ptr_array_new ();
    g_autoptr (GPtrArray) fresh = g_ptr_array_new ();

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        if (e->problem != NULL)
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s': file '%s' left alone: %s", run->account->name,
                             folder->name, e->path, e->problem);
        else if (e->name->uid != 0)
            g_ptr_array_add (order, e);
        else
            g_ptr_array_add (fresh, e);
    }
    g_ptr_array_sort (order, cmp_entry_uid);
    for (guint i = 0; i < order->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (order, i);
        NmsPlanMessage m = { .uid = e->name->uid };

        if (local->len > 0 && g_array_index (local, NmsPlanMessage, local->len - 1).uid == m.uid) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s': file '%s' repeats UID %u; left alone",
                             run->account->name, folder->name, e->path, m.uid);
            continue;
        }
        g_strlcpy (m.flags, entry_flags (e), sizeof m.flags);
        g_array_append_val (local, m);
        g_ptr_array_add (entries, e);
    }
    *entries_out = g_steal_pointer (&entries);
    if (fresh_out != NULL)
        *fresh_out = g_steal_pointer (&fresh);
    return local;
}

/* Planner input from an array of NmsImapMessageInfo or NmsStateMessage: both start with the
 * uid and carry the flags at @flags_offset. */
static GArray *
plan_messages (GArray *src, gsize flags_offset, gsize size)
{
    GArray *out = g_array_sized_new (FALSE, TRUE, sizeof (NmsPlanMessage), src->len);

    for (guint i = 0; i < src->len; i++) {
        const char *item = src->data + (gsize) i * size;
        NmsPlanMessage m = { .uid = *(const guint32 *) item };

        g_strlcpy (m.flags, item + flags_offset, sizeof m.flags);
        g_array_append_val (out, m);
    }
    return out;
}

/* ---- steps ------------------------------------------------------------------------------ */

static NmsMaildirEntry *
entry_of (GPtrArray *entries, const NmsAction *a)
{
    return a->local_index >= 0 ? g_ptr_array_index (entries, a->local_index) : NULL;
}

static gboolean
has_server_part (const NmsAction *a)
{
    return a->add[0] != '\0' || a->remove[0] != '\0';
}

/* A file a mail client renamed (or deleted) after the scan: its whole action is dropped, the
 * server part included, and the state keeps what was agreed before, so the next run merges
 * the client's change with the server's from the same base. Recording the planned flags
 * instead would make the next run take the server's change for one the client undid. */
static gboolean
vanished_under_us (Run *run, const Folder *folder, GArray *plan, guint i, const char *path)
{
    if (!nms_sync_vanished (path))
        return FALSE;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: folder '%s': message UID %u: file '%s' vanished (renamed or deleted "
                     "by another program); retried next run", run->account->name, folder->name,
                     g_array_index (plan, NmsAction, i).uid, path);
    g_array_remove_index (plan, i);
    return TRUE;
}

/* Step 1. */
static gboolean
apply_local (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries, GError **error)
{
    gboolean touched = FALSE; /* a file renamed or removed: cur/ and new/ need their fsync */

    if (!nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        NmsMaildirEntry *e = entry_of (entries, a);
        g_autoptr (GError) local = NULL;
        gboolean ok = TRUE;

        if (a->kind == NMS_ACTION_UPDATE || a->kind == NMS_ACTION_ADOPT) {
            if (strcmp (a->local_flags, entry_flags (e)) != 0) {
                char *renamed = nms_maildir_set_flags_full (e->path, a->local_flags, FALSE,
                                                            &local);

                if (renamed == NULL && vanished_under_us (run, folder, plan, i, e->path)) {
                    i--; /* the next action moved into slot i (unsigned wrap, then ++) */
                    continue;
                }
                ok = renamed != NULL;
                touched |= ok;
                if (ok) {
                    nms_sync_file_event (run, NMS_FILE_RENAMED, renamed, e->path);
                    g_free (e->path);
                    e->path = renamed;
                    g_free (e->name->flags);
                    e->name->flags = g_strdup (a->local_flags);
                    run->ctx->progress.flags_changed++;
                    nms_sync_step (run);
                }
            }
            if (ok && !has_server_part (a))
                ok = nms_state_message_put (run->state, folder->name, a->uid, a->state_flags,
                                            e->name->base, &local);
        } else if (a->kind == NMS_ACTION_DELETE_LOCAL) {
            ok = nms_maildir_remove_full (e->path, FALSE, &local) &&
                 nms_state_message_delete (run->state, folder->name, a->uid, &local);
            if (ok)
                nms_sync_file_event (run, NMS_FILE_REMOVED, e->path, NULL);
            run->ctx->progress.messages_deleted += ok;
            touched |= ok;
            if (ok)
                nms_sync_step (run);
        } else if (a->kind == NMS_ACTION_FORGET) {
            ok = nms_state_message_delete (run->state, folder->name, a->uid, &local);
        }
        if (!ok && local->domain == NMS_STATE_ERROR) {
            g_propagate_error (error, g_steal_pointer (&local));
            nms_state_rollback (run->state);
            return FALSE;
        }
        if (!ok)
            nms_context_skip (run->ctx, "%s: folder '%s': message UID %u: %s",
                              run->account->name, folder->name, a->uid, local->message);
    }
    /* The renames and removals above skipped their directory fsyncs: one fsync of cur/ and
     * new/ makes them all durable before the state records them. */
    if (touched && !nms_maildir_folder_sync_dirs (folder->dir, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    return nms_state_commit (run->state, error);
}

/* Step 2: one UID STORE per distinct (add, remove) pair. */
static gboolean
push_flags (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries, GError **error)
{
    g_autoptr (GHashTable) groups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                          (GDestroyNotify) g_ptr_array_unref);
    GHashTableIter it;
    gpointer key, value;

    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        g_autofree char *k = NULL;
        GPtrArray *group;

        if ((a->kind != NMS_ACTION_UPDATE && a->kind != NMS_ACTION_ADOPT) || !has_server_part (a))
            continue;
        k = g_strdup_printf ("%s/%s", a->add, a->remove);
        if ((group = g_hash_table_lookup (groups, k)) == NULL) {
            group = g_ptr_array_new ();
            g_hash_table_insert (groups, g_steal_pointer (&k), group);
        }
        g_ptr_array_add (group, a);
    }
    g_hash_table_iter_init (&it, groups);
    while (g_hash_table_iter_next (&it, &key, &value)) {
        GPtrArray *group = value;
        NmsAction *first = g_ptr_array_index (group, 0);
        g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
        NmsStateIntent in = { .kind = NMS_INTENT_STORE, .folder = folder->name, .uid = first->uid };
        gint64 id;

        for (guint i = 0; i < group->len; i++)
            g_array_append_val (uids, ((NmsAction *) g_ptr_array_index (group, i))->uid);
        if ((id = nms_sync_intent (run, &in, error)) == 0 ||
            !nms_imap_store_flags (run->session, (guint32 *) uids->data, uids->len, first->add,
                                   first->remove, error))
            return FALSE;
        nms_sync_step (run); /* a crash here: the server is ahead of the state */
        if (!nms_state_begin (run->state, error))
            return FALSE;
        for (guint i = 0; i < group->len; i++) {
            NmsAction *a = g_ptr_array_index (group, i);
            if (!nms_state_message_put (run->state, folder->name, a->uid, a->state_flags,
                                        entry_of (entries, a)->name->base, error))
                return FALSE;
        }
        if (!nms_state_intent_remove (run->state, id, error) || !nms_state_commit (run->state, error))
            return FALSE;
        run->ctx->progress.flags_pushed += group->len;
    }
    return TRUE;
}

/* The state forgets @uids of @folder, in one transaction. */
static gboolean
forget_uids (Run *run, const Folder *folder, GArray *uids, GError **error)
{
    if (!nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = 0; i < uids->len; i++) {
        if (!nms_state_message_delete (run->state, folder->name, g_array_index (uids, guint32, i),
                                       error)) {
            nms_state_rollback (run->state);
            return FALSE;
        }
    }
    if (!nms_state_commit (run->state, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    return TRUE;
}

/* Step 3. */
static gboolean
delete_on_server (Run *run, const Folder *folder, GArray *plan, GError **error)
{
    g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
    NmsStateIntent in = { .kind = NMS_INTENT_EXPUNGE, .folder = folder->name };
    gint64 id;

    nms_sync_confirm_deletions (run, folder, plan);
    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        if (a->kind == NMS_ACTION_DELETE_SERVER)
            g_array_append_val (uids, a->uid);
    }
    if (uids->len == 0)
        return TRUE;
    if (!nms_imap_session_has_capability (run->session, "UIDPLUS")) {
        /* RFC 4315: only UID EXPUNGE removes exactly our messages; a plain EXPUNGE would also
         * remove what other clients marked. Mark ours, forget them (the planner does not
         * download a message marked \Deleted it does not know), and say so this once; the
         * expunge is left to the user's client. A crash between the STORE and the commit
         * leaves them in the state: the next run marks them again and forgets them. */
        if (!nms_imap_store_flags (run->session, (guint32 *) uids->data, uids->len, "T", NULL,
                                   error))
            return FALSE;
        nms_sync_step (run);
        if (!forget_uids (run, folder, uids, error))
            return FALSE;
        nms_context_skip (run->ctx,
                          "%s: folder '%s': %u messages deleted locally are marked \\Deleted on "
                          "the server but not expunged: it lacks UIDPLUS, and a plain EXPUNGE "
                          "could remove other clients' mail",
                          run->account->name, folder->name, uids->len);
        return TRUE;
    }
    in.uid = g_array_index (uids, guint32, 0);
    if ((id = nms_sync_intent (run, &in, error)) == 0 ||
        !nms_imap_store_flags (run->session, (guint32 *) uids->data, uids->len, "T", NULL, error))
        return FALSE;
    nms_sync_step (run); /* a crash here: marked, not expunged; the next plan deletes again */
    if (!nms_imap_expunge_uids (run->session, (guint32 *) uids->data, uids->len, error))
        return FALSE;
    nms_sync_step (run); /* a crash here: gone from the server, the next plan forgets it */
    if (!nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = 0; i < uids->len; i++) {
        if (!nms_state_message_delete (run->state, folder->name, g_array_index (uids, guint32, i),
                                       error))
            return FALSE;
    }
    if (!nms_state_intent_remove (run->state, id, error) || !nms_state_commit (run->state, error))
        return FALSE;
    run->ctx->progress.deleted_server += uids->len;
    return TRUE;
}

/* Step 4: new local files and files whose UID nobody knows. */
static gboolean
upload_all (Run *run, const Folder *folder, guint32 uidnext, GArray *plan, GPtrArray *entries,
            GPtrArray *fresh, GError **error)
{
    g_autoptr (GPtrArray) todo = g_ptr_array_copy (fresh, NULL, NULL);

    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        if (a->kind == NMS_ACTION_UPLOAD)
            g_ptr_array_add (todo, entry_of (entries, a));
    }
    for (guint i = 0; i < todo->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (todo, i);
        g_autoptr (GError) local = NULL;

        if (nms_sync_upload (run, folder, uidnext, e, &local))
            continue;
        if (local->domain == NMS_STATE_ERROR || nms_sync_session_lost (local)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return FALSE;
        }
        if (nms_sync_vanished (e->path))
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s': file '%s' vanished (renamed or deleted by another "
                             "program) before its upload was done; retried next run",
                             run->account->name, folder->name, e->path);
        else
            nms_context_skip (run->ctx, "%s: folder '%s': file '%s' not uploaded: %s",
                              run->account->name, folder->name, e->path, local->message);
    }
    return TRUE;
}

/* ---- the folder ---------------------------------------------------------------------- */

static const char *const action_names[] = {
    [NMS_ACTION_DOWNLOAD] = "download",        [NMS_ACTION_ADOPT] = "adopt",
    [NMS_ACTION_UPDATE] = "update flags of",   [NMS_ACTION_DELETE_LOCAL] = "delete locally",
    [NMS_ACTION_DELETE_SERVER] = "delete on the server", [NMS_ACTION_FORGET] = "forget",
    [NMS_ACTION_UPLOAD] = "upload",
};

static void
print_plan (Run *run, const Folder *folder, GArray *plan, GPtrArray *fresh)
{
    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %s: would %s UID %u (local '%s', server +'%s' -'%s')",
                         run->account->name, folder->name, action_names[a->kind], a->uid,
                         a->local_flags, a->add, a->remove);
    }
    for (guint i = 0; fresh != NULL && i < fresh->len; i++)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s: would upload '%s'",
                         run->account->name, folder->name,
                         ((NmsMaildirEntry *) g_ptr_array_index (fresh, i))->path);
}

static void
report_guards (Run *run, const Folder *folder, const NmsPlanSummary *sum)
{
    if (sum->guard_local)
        nms_sync_guard_report_local (run, folder->name, sum->deletions_local, sum->known);
    if (sum->guard_server)
        nms_context_skip (run->ctx,
                          "%s: folder '%s': %u of %u messages were deleted locally; not deleting "
                          "them on the server (run with --force if that is intended)",
                          run->account->name, folder->name, sum->deletions_server, sum->known);
}

typedef struct {
    GArray *plan;
    GPtrArray *scan;    /* owns the entries */
    GPtrArray *entries; /* entries with a UID, matching the plan's local indexes */
    GPtrArray *fresh;   /* entries without a UID */
    guint known;        /* messages the state knew (for the deferred local guard) */
    guint local_only;   /* files without a UID, also where this run does not upload them */
    gboolean derived;   /* @scan was made from the state, not read from the disk: its paths
                         * are found only for the files an action touches (find_derived) */
} Snapshot;

static void
snapshot_clear (Snapshot *s)
{
    g_clear_pointer (&s->plan, g_array_unref);
    g_clear_pointer (&s->entries, g_ptr_array_unref);
    g_clear_pointer (&s->fresh, g_ptr_array_unref);
    g_clear_pointer (&s->scan, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Snapshot, snapshot_clear)

/* The UID in a file name nmsync cannot parse safely (unsorted or repeated flag letters ...),
 * read leniently: the digits after the last ",U=" before the info. 0 when there is none. */
static guint32
frozen_uid (const char *path)
{
    g_autofree char *name = g_path_get_basename (path);
    char *info = g_strrstr (name, ":2,");
    const char *u;
    guint64 uid;
    char *end = NULL;

    if (info != NULL)
        *info = '\0';
    if ((u = g_strrstr (name, ",U=")) == NULL)
        return 0;
    uid = g_ascii_strtoull (u + 3, &end, 10);
    return end != u + 3 && uid <= G_MAXUINT32 ? (guint32) uid : 0;
}

/* A file left alone still stands for its message: no action of any kind may touch that UID
 * (without this, the message looked deleted locally and was expunged on the server). */
static void
drop_frozen (Run *run, const Folder *folder, GPtrArray *scan, GArray *plan)
{
    g_autoptr (GHashTable) frozen = g_hash_table_new (NULL, NULL);

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        guint32 uid = e->problem != NULL ? frozen_uid (e->path) : 0;

        if (uid != 0)
            g_hash_table_add (frozen, GUINT_TO_POINTER (uid));
    }
    for (guint i = plan->len; g_hash_table_size (frozen) > 0 && i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);

        if (g_hash_table_contains (frozen, GUINT_TO_POINTER (a->uid))) {
            nms_context_log (run->ctx, NMS_LEVEL_INFO,
                             "%s: %s: UID %u untouched: its file is left alone",
                             run->account->name, folder->name, a->uid);
            g_array_remove_index (plan, i);
        }
    }
}

void
nms_sync_plan_drop_uid (GArray *messages, guint32 uid)
{
    for (guint i = messages->len; i-- > 0;) {
        if (g_array_index (messages, NmsPlanMessage, i).uid == uid)
            g_array_remove_index (messages, i);
    }
}

/* The moves found but not done (a dry run's, or those that failed): the moved messages leave
 * their old folder on the server and in the state, and their files leave the new folder's
 * scan. A dry run's plan then shows what a real run would do after its moves; a real run
 * leaves both alone, instead of uploading the file again (and downloading the copy a COPY
 * without its UID already made) and deleting the original. TRUE when anything was left out:
 * the folder is not completely synced then. */
static gboolean
forget_pending_moves (Run *run, const Folder *folder, GArray *server, GArray *agreed, GPtrArray *scan)
{
    gboolean dropped = FALSE;

    for (guint i = agreed->len; i-- > 0;) {
        guint32 uid = g_array_index (agreed, NmsPlanMessage, i).uid;
        g_autofree char *key = nms_sync_pending_move_key ('U', folder->name, NULL, uid);

        if (g_hash_table_contains (run->pending_moves, key)) {
            nms_sync_plan_drop_uid (agreed, uid);
            nms_sync_plan_drop_uid (server, uid);
            dropped = TRUE;
        }
    }
    for (guint i = scan->len; i-- > 0;) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        g_autofree char *key = NULL;

        if (e->name == NULL)
            continue;
        key = nms_sync_pending_move_key ('F', folder->name, e->name->base, 0);
        if (g_hash_table_contains (run->pending_moves, key)) {
            g_ptr_array_remove_index (scan, i);
            dropped = TRUE;
        }
    }
    return dropped;
}

/* A replaced directory (root.c) is no evidence of deletions: the agreed messages whose files
 * it lacks are forgotten for this plan, so they are downloaded again instead of being deleted
 * on the server. Both arrays are sorted by uid. */
static void
keep_local_only (GArray *agreed, GArray *local)
{
    guint j = 0;

    for (guint i = 0; i < agreed->len;) {
        guint32 uid = g_array_index (agreed, NmsPlanMessage, i).uid;

        while (j < local->len && g_array_index (local, NmsPlanMessage, j).uid < uid)
            j++;
        if (j < local->len && g_array_index (local, NmsPlanMessage, j).uid == uid)
            i++;
        else
            g_array_remove_index (agreed, i);
    }
}

/* TRUE when the local snapshot left files out (unparsable names, repeated UIDs): the state
 * then does not mirror the folder, so the folder must not be recorded as completely synced. */
static gboolean
scan_incomplete (GPtrArray *scan, GArray *local, GPtrArray *fresh)
{
    return local->len + fresh->len != scan->len;
}

/* ---- the local side from the state ------------------------------------------------------
 * A folder whose cur/ and new/ did not change since its last complete sync holds exactly the
 * files that sync left, one per state row, named "<base>,U=<uid>:2,<flags>" with the row's
 * agreed flags (incremental.c says when). Its scan is then made from the rows instead of
 * reading and parsing every name in cur/ and new/. Which of the two directories holds a file
 * the row does not say (new/ keeps a message until it is seen, or until a mail client moves
 * it, whatever its flags), nor whether a name from another program has an info part at all:
 * the file of a message an action touches is found by a stat of each candidate name, and
 * only for that message. The rows are no evidence of a file: a message whose file is not
 * where the row says is dropped from this run's plan (as a file a client renamed meanwhile,
 * vanished.c), and the folder is looked at in full by the next run. That is also the case of
 * a row kept for a file deleted while deletions do not reach the server: the scan's plan
 * leaves such a message alone. Nothing is ever deleted on the server from this path: a
 * local file that is missing is noticed only by a scan. */

/* The scan a folder's rows @saved describe, each entry at its likeliest path (new/ for a
 * message without S, where downloads put it; cur/ otherwise). NULL when a row does not name
 * its file's unique part (the file cannot be found by name): the folder is scanned. */
static GPtrArray *
scan_from_state (const Folder *folder, GArray *saved)
{
    g_autoptr (GPtrArray) scan = g_ptr_array_new_full (saved->len,
                                                       (GDestroyNotify) nms_maildir_entry_free);

    for (guint i = 0; i < saved->len; i++) {
        const NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);
        NmsMaildirEntry *e;
        g_autofree char *filename = NULL;

        if (m->base == NULL || m->base[0] == '\0')
            return NULL;
        e = g_new0 (NmsMaildirEntry, 1);
        e->name = g_new0 (NmsMaildirName, 1);
        e->name->base = g_strdup (m->base);
        e->name->uid = m->uid;
        e->name->flags = g_strdup (m->flags);
        e->subdir = g_strdup (nms_maildir_flags_has (m->flags, 'S') ? "cur" : "new");
        filename = nms_maildir_name_format (e->name);
        e->path = g_build_filename (folder->dir, e->subdir, filename, NULL);
        g_ptr_array_add (scan, e);
    }
    return g_steal_pointer (&scan);
}

/* Finds the file of the derived entry @e: its name with the info in either directory, or,
 * without flags, also without info (a name from another program). TRUE and @e follows it;
 * FALSE when none is a regular file. */
static gboolean
locate_derived (const Folder *folder, NmsMaildirEntry *e)
{
    g_autofree char *with_info = nms_maildir_name_format (e->name);
    g_autofree char *bare = NULL;
    const char *names[2] = { with_info, NULL };

    if (e->name->flags[0] == '\0') {
        NmsMaildirName n = { .base = e->name->base, .uid = e->name->uid, .flags = NULL };
        names[1] = bare = nms_maildir_name_format (&n);
    }
    for (guint d = 0; d < 2; d++) {
        /* the entry's own directory first: the likeliest one (literals: e->subdir is
         * replaced below) */
        gboolean in_cur = strcmp (e->subdir, "cur") == 0;
        const char *sub = (d == 0) == in_cur ? "cur" : "new";

        for (guint k = 0; k < G_N_ELEMENTS (names) && names[k] != NULL; k++) {
            g_autofree char *path = g_build_filename (folder->dir, sub, names[k], NULL);
            GStatBuf st;

            if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode)) {
                g_free (e->path);
                e->path = g_steal_pointer (&path);
                g_free (e->subdir);
                e->subdir = g_strdup (sub);
                if (k == 1)
                    g_clear_pointer (&e->name->flags, g_free); /* as a scan parses it */
                return TRUE;
            }
        }
    }
    return FALSE;
}

/* The plan's actions on files of a derived scan get their file's real path; an action whose
 * file is nowhere to be found is dropped (the state keeps the agreed value). TRUE when one
 * was: the folder is then not recorded as completely synced. */
static gboolean
find_derived (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries)
{
    gboolean dropped = FALSE;

    for (guint i = plan->len; i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        NmsMaildirEntry *e = entry_of (entries, a);
        gboolean touches = e != NULL && (a->kind == NMS_ACTION_DELETE_LOCAL ||
                                         ((a->kind == NMS_ACTION_UPDATE ||
                                           a->kind == NMS_ACTION_ADOPT) &&
                                          strcmp (a->local_flags, entry_flags (e)) != 0));

        if (!touches || locate_derived (folder, e))
            continue;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': message UID %u: no file '%s' (renamed or deleted by "
                         "another program?); retried next run, which reads the whole folder",
                         run->account->name, folder->name, a->uid, e->path);
        g_array_remove_index (plan, i);
        dropped = TRUE;
    }
    return dropped;
}

/* The server side comes from @qresync (the changes since the last complete sync, applied to
 * the agreed messages) when it is not NULL, else from UID FETCH 1:* of every message's flags.
 * @agreed_read: the folder's state messages when select_folder read them already (nothing
 * writes the folder's state in between), else NULL: they are read here. */
static gboolean
snapshot_take (Run *run, Folder *folder, const NmsImapFolderState *fs, GArray *qresync,
               GArray *agreed_read, gboolean from_state, Snapshot *s, gboolean *incomplete_out,
               GError **error)
{
    g_autoptr (GArray) infos = NULL, saved = NULL, server = NULL, agreed = NULL, local = NULL;
    NmsPlanSummary sum;
    gboolean held = FALSE;

    if (qresync != NULL)
        infos = g_array_ref (qresync);
    else
        infos = fs->exists > 0 ? nms_imap_fetch_infos (run->session, 1, error)
                               : g_array_new (FALSE, TRUE, sizeof (NmsImapMessageInfo));
    if (agreed_read != NULL)
        saved = g_array_ref (agreed_read);
    if (infos == NULL ||
        (saved == NULL && (saved = nms_state_messages (run->state, folder->name, error)) == NULL))
        return FALSE;
    if (from_state && (s->scan = scan_from_state (folder, saved)) != NULL) {
        s->derived = TRUE;
        nms_context_log (run->ctx, NMS_LEVEL_DEBUG,
                         "%s: %s: local side from the state (%u messages; cur/ and new/ "
                         "unchanged since its last complete sync)",
                         run->account->name, folder->name, saved->len);
    } else if (folder->prescan != NULL) {
        s->scan = g_steal_pointer (&folder->prescan);
        nms_context_log (run->ctx, NMS_LEVEL_DEBUG, "%s: %s: local side from the move search's scan",
                         run->account->name, folder->name);
    } else if ((s->scan = nms_maildir_scan (folder->dir, error)) == NULL) {
        return FALSE;
    }
    /* Files nmsync holds no state for pair by content before anything is planned for them
     * (content.c): never by a ",U=" that another tool or another server wrote. */
    if (!nms_sync_pair_folder (run, folder, fs->uidvalidity, infos, saved, s->scan, &held,
                               error))
        return FALSE;
    server = plan_messages (infos, G_STRUCT_OFFSET (NmsImapMessageInfo, flags),
                            sizeof (NmsImapMessageInfo));
    g_clear_pointer (&infos, g_array_unref); /* not needed any more: not held while planning */
    agreed = plan_messages (saved, G_STRUCT_OFFSET (NmsStateMessage, flags),
                            sizeof (NmsStateMessage));
    if (g_hash_table_size (run->pending_moves) > 0)
        held |= forget_pending_moves (run, folder, server, agreed, s->scan);
    held |= nms_sync_hold_moves (run, folder, saved, s->scan, server, agreed);
    local = nms_sync_local_snapshot (run, folder, s->scan, &s->entries, &s->fresh);
    if (folder->replaced)
        keep_local_only (agreed, local);
    *incomplete_out = held || scan_incomplete (s->scan, local, s->fresh);
    if (!nms_sync_adopt_local_only (run, folder, s->fresh, error))
        return FALSE;
    s->local_only = s->fresh->len;
    if (!(run->policy.direction & NMS_PLAN_PUSH))
        g_ptr_array_set_size (s->fresh, 0);
    s->plan = nms_plan_folder ((NmsPlanMessage *) server->data, server->len,
                               (NmsPlanMessage *) agreed->data, agreed->len,
                               (NmsPlanMessage *) local->data, local->len, &run->policy, &sum);
    s->known = sum.known;
    if (s->derived)
        *incomplete_out |= find_derived (run, folder, s->plan, s->entries);
    drop_frozen (run, folder, s->scan, s->plan);
    report_guards (run, folder, &sum);
    nms_sync_guard_plan (run, folder, s->plan, &sum);
    return TRUE;
}

/* The local side of a folder that so far exists only on the server. */
static gboolean
ensure_local (Run *run, Folder *folder, GError **error)
{
    g_autofree char *dir = NULL;

    if (folder->local)
        return TRUE;
    if (!(run->policy.direction & NMS_PLAN_PULL) || !NMS_SIDES_ALLOW_LOCAL (run->account->create)
        || run->ctx->dry_run)
        return TRUE;
    if ((dir = nms_maildir_folder_ensure (run->account->maildir, folder->relpath, error)) == NULL)
        return FALSE;
    folder->local = TRUE;
    return TRUE;
}

/* @deferred: local deletions done at the end of the run (counted here, where they belong,
 * unless a server-side move or the guard turns them into something else: said then). */
static void
report_folder (Run *run, const Folder *folder, const NmsProgress *before, guint deferred)
{
    const NmsProgress *p = &run->ctx->progress;
    g_autofree char *server = NULL;

    if (run->policy.direction & NMS_PLAN_PUSH)
        server = g_strdup_printf ("; server: %" G_GUINT64_FORMAT " uploaded, %" G_GUINT64_FORMAT
                                  " flags changed, %" G_GUINT64_FORMAT " deleted",
                                  p->uploaded - before->uploaded,
                                  p->flags_pushed - before->flags_pushed,
                                  p->deleted_server - before->deleted_server);
    nms_context_log (run->ctx, NMS_LEVEL_INFO,
                     "%s: %s: %" G_GUINT64_FORMAT " new, %" G_GUINT64_FORMAT
                     " flags changed, %" G_GUINT64_FORMAT " deleted%s",
                     run->account->name, folder->name, p->messages_added - before->messages_added,
                     p->flags_changed - before->flags_changed,
                     p->messages_deleted - before->messages_deleted + deferred,
                     server ? server : "");
}

/* --dry-run of a folder that exists only on the server: a real run creates it and downloads
 * every message. */
static void
report_dry_new_folder (Run *run, const Folder *folder)
{
    if (folder->has_status)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %s: would create the folder locally and download %u messages",
                         run->account->name, folder->name, folder->messages);
    else
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %s: would create the folder locally and download its messages",
                         run->account->name, folder->name);
}

/* Files of killed nmsync runs in tmp/ go before anything new is written there; a failure
 * only costs the leftovers their place, so it is a warning. */
static void
clean_tmp (Run *run, const Folder *folder)
{
    g_autoptr (GError) local = NULL;
    guint removed = 0;

    if (run->ctx->dry_run)
        return;
    if (!nms_maildir_tmp_cleanup (folder->dir, &removed, &local))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: folder '%s': %s", run->account->name,
                         folder->name, local->message);
    if (removed > 0)
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: folder '%s': removed %u partial downloads left in tmp/ by an "
                         "nmsync that was killed", run->account->name, folder->name, removed);
}

/* SELECT with QRESYNC when the last sync of the folder was complete (a nonzero modseq: the
 * agreed state then equals the server for every message the server does not report), else a
 * plain SELECT. *qresync_out gets the server snapshot QRESYNC yields, or NULL: fetch it all.
 * *agreed_out gets the folder's state messages when they were read for QRESYNC, else NULL
 * (snapshot_take reads them then: one read of a folder's rows per run, not two). */
static gboolean
select_folder (Run *run, const Folder *folder, const NmsStateFolder *saved, gboolean known,
               NmsImapFolderState *fs, GArray **qresync_out, GArray **agreed_out, GError **error)
{
    gboolean read_only = !(run->policy.direction & NMS_PLAN_PUSH);
    g_autoptr (GArray) agreed = NULL, known_uids = NULL, changed = NULL, vanished = NULL;

    *qresync_out = NULL;
    *agreed_out = NULL;
    if (!known || saved->highestmodseq == 0 || !nms_imap_qresync_enabled (run->session) ||
        !folder->has_status || folder->uidvalidity != saved->uidvalidity ||
        g_hash_table_size (run->pending_moves) > 0)
        return nms_imap_select (run->session, folder->wire_name, read_only, fs, error);
    if ((agreed = nms_state_messages (run->state, folder->name, error)) == NULL)
        return FALSE;
    known_uids = g_array_sized_new (FALSE, FALSE, sizeof (guint32), agreed->len);
    for (guint i = 0; i < agreed->len; i++)
        g_array_append_val (known_uids, g_array_index (agreed, NmsStateMessage, i).uid);
    if (!nms_imap_select_qresync (run->session, folder->wire_name, read_only, saved->uidvalidity,
                                  saved->highestmodseq, (guint32 *) known_uids->data,
                                  known_uids->len, fs, &changed, &vanished, error))
        return FALSE;
    if (changed == NULL || vanished == NULL)
        return TRUE; /* UIDVALIDITY changed since the STATUS: the server reported nothing */
    nms_context_log (run->ctx, NMS_LEVEL_DEBUG, "%s: %s: QRESYNC: %u changed, %u vanished",
                     run->account->name, folder->name, changed->len, vanished->len);
    *qresync_out = nms_sync_server_from_changes (agreed, changed, vanished);
    *agreed_out = g_steal_pointer (&agreed);
    return TRUE;
}

/* A server restored from a backup keeps the UIDVALIDITY but hands out UIDs again that the
 * state already gave to other messages: its UIDNEXT is below what the state saw (RFC 3501
 * §2.3.1.1 says it never decreases). Treated like a UIDVALIDITY change: the local files are
 * paired with the server's messages by content. */
static gboolean
went_back (Run *run, const Folder *folder, const NmsStateFolder *saved,
           const NmsImapFolderState *fs)
{
    if (saved->uidnext == 0 || fs->uidnext == 0 || fs->uidnext >= saved->uidnext)
        return FALSE;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: folder '%s': the server's UIDNEXT went back from %u to %u under the "
                     "same UIDVALIDITY (restored from a backup?); its UIDs are not trusted",
                     run->account->name, folder->name, saved->uidnext, fs->uidnext);
    return TRUE;
}

gboolean
nms_sync_folder (Run *run, Folder *folder, GError **error)
{
    g_auto (Snapshot) snap = { 0 };
    g_autoptr (GArray) qresync = NULL, agreed = NULL;
    NmsImapFolderState fs;
    NmsStateFolder saved;
    gboolean known, ok, complete, incomplete = FALSE, repaired = FALSE, from_state;
    guint deferred;
    NmsProgress before = run->ctx->progress;

    if (folder->clean) {
        nms_context_log (run->ctx, NMS_LEVEL_DEBUG, "%s: %s: unchanged on both sides",
                         run->account->name, folder->name);
        return TRUE;
    }
    if (!ensure_local (run, folder, error))
        return FALSE;
    if (!folder->local) {
        if (run->ctx->dry_run && (run->policy.direction & NMS_PLAN_PULL) &&
            NMS_SIDES_ALLOW_LOCAL (run->account->create))
            report_dry_new_folder (run, folder);
        return TRUE; /* nothing on this side, and not allowed or asked to create it */
    }
    clean_tmp (run, folder);
    if (!nms_state_folder_get (run->state, folder->name, &saved, &known, error) ||
        !select_folder (run, folder, &saved, known, &fs, &qresync, &agreed, error))
        return FALSE;
    if (known && (saved.uidvalidity != fs.uidvalidity || went_back (run, folder, &saved, &fs))) {
        if (run->ctx->dry_run) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: %s: UIDVALIDITY changed; would re-pair local files",
                             run->account->name, folder->name);
            return TRUE;
        }
        g_clear_pointer (&qresync, g_array_unref); /* from before the repair: fetch anew */
        g_clear_pointer (&agreed, g_array_unref);
        if (!nms_sync_repair (run, folder, saved.uidvalidity, fs.uidvalidity, error))
            return FALSE;
        repaired = TRUE;
        g_clear_pointer (&folder->prescan, g_ptr_array_unref); /* the repair renamed files */
    }
    run->adopt_exact = run->adopt_content = 0;
    /* The state describes the files only as the last complete sync left them: not after a
     * repair renamed them, not for an adopt (which starts from no state). */
    from_state = folder->local_from_state && known && !repaired && !run->options->adopt &&
                 saved.uidvalidity == fs.uidvalidity && saved.highestmodseq != 0 &&
                 g_hash_table_size (run->pending_moves) == 0;
    if (!snapshot_take (run, folder, &fs, qresync, agreed, from_state, &snap, &incomplete,
                        error))
        return FALSE;
    if (run->options->adopt)
        nms_sync_adopt_report (run, folder, snap.plan, snap.local_only);
    if (run->ctx->dry_run) {
        if (run->options->adopt && run->options->adopt_clean)
            nms_sync_adopt_clean (run, folder);
        /* as the real run below: deletions said at the end of the run (server-moves.c) */
        nms_sync_later_defer (run, folder, snap.plan, snap.entries, snap.known);
        if (!nms_sync_take_moved (run, folder, fs.uidvalidity, snap.plan, error))
            return FALSE;
        print_plan (run, folder, snap.plan, snap.fresh);
        return TRUE;
    }
    /* Local deletions wait for the end of the run: a server-side move into a folder synced
     * later (or by another worker) takes the file along instead (server-moves.c). */
    deferred = nms_sync_later_defer (run, folder, snap.plan, snap.entries, snap.known);
    ok = nms_sync_folder_mark_dirty (run, folder, fs.uidvalidity, known ? saved.uidnext : 0,
                                     error) &&
         apply_local (run, folder, snap.plan, snap.entries, error) &&
         push_flags (run, folder, snap.plan, snap.entries, error) &&
         delete_on_server (run, folder, snap.plan, error) &&
         upload_all (run, folder, fs.uidnext, snap.plan, snap.entries, snap.fresh, error) &&
         nms_sync_take_moved (run, folder, fs.uidvalidity, snap.plan, error) &&
         nms_sync_download (run, folder, fs.uidvalidity, snap.plan, error);
    if (!ok)
        return FALSE;
    /* complete: every message of both sides is in the state as both agree (nothing skipped,
     * no deletion deferred: until it is done the folder is not known complete) */
    complete = !incomplete && deferred == 0 && run->ctx->progress.skipped == before.skipped;
    if (!nms_sync_folder_mark_synced (run, folder, fs.uidvalidity, fs.uidnext, complete, error))
        return FALSE;
    if (!complete && deferred > 0 && !incomplete &&
        run->ctx->progress.skipped == before.skipped) {
        NmsStateFolder value;

        /* complete once the deferred deletions are done (server-moves.c) */
        nms_sync_folder_synced_value (run, folder, fs.uidvalidity, fs.uidnext, TRUE, &value);
        nms_sync_later_complete (run, folder, &value);
    }
    /* Only now: until the state is committed a crash must leave mbsync's records, from which
     * a new adopt pairs exactly again. */
    if (run->options->adopt && run->options->adopt_clean && complete)
        nms_sync_adopt_clean (run, folder);
    /* A replaced directory becomes the one the state describes only once every message it
     * lacked is back: after a pull with nothing skipped. Before that, what it lacks must not
     * read as deleted by the user. */
    if ((!folder->replaced || (complete && (run->policy.direction & NMS_PLAN_PULL))) &&
        !nms_sync_root_record_folder (run, folder, error))
        return FALSE;
    report_folder (run, folder, &before, deferred);
    return TRUE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pull: server -> Maildir for one account. Per folder: snapshot (server flags, saved state,
 * local files), plan (sync/plan.c), execute. The disk always runs ahead of the state: a file is
 * durable in cur/ or new/ before its UID is recorded, so a crash between the two leaves a file
 * that the next run adopts (ADOPT) instead of downloading it again. */
#include "config.h"

#include "sync/sync.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap.h"
#include "maildir/maildir.h"
#include "state/state.h"
#include "sync/plan.h"

G_DEFINE_QUARK (nms-sync-error-quark, nms_sync_error)

#define FETCH_BATCH 200

/* A folder chosen for this run. */
typedef struct {
    char *name;      /* decoded */
    char *wire_name; /* for SELECT */
    char *relpath;   /* under the Maildir root */
} Folder;

static void
folder_free (Folder *f)
{
    g_free (f->name);
    g_free (f->wire_name);
    g_free (f->relpath);
    g_free (f);
}

typedef struct {
    NmsContext *ctx;
    const NmsAccount *account;
    const NmsSyncOptions *options;
    char *password;
    NmsImapSession *session; /* NULL after a lost connection, until reconnected */
    NmsState *state;
} Run;

/* ---- choosing folders ---------------------------------------------------------------- */

static gboolean
requested (const Run *run, const char *name)
{
    if (run->options == NULL || run->options->folders == NULL)
        return nms_config_folder_selected (run->account->folders, name, '/');
    return g_strv_contains ((const char *const *) run->options->folders, name);
}

/* Turns the server's LIST into the folders to pull, naming every one refused. */
static GPtrArray *
choose_folders (Run *run, GPtrArray *list)
{
    GPtrArray *chosen = g_ptr_array_new_with_free_func ((GDestroyNotify) folder_free);
    g_autoptr (GHashTable) paths = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < list->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (list, i);
        g_autoptr (GError) error = NULL;
        g_autofree char *relpath = NULL;
        Folder *folder;

        if (f->name == NULL) {
            /* The wire name is hostile by definition here: escape it before it reaches a
             * terminal (an ESC byte could drive the terminal). */
            g_autofree char *shown = g_strescape (f->wire_name, NULL);

            nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                              shown, f->problem ? f->problem : "invalid name");
            continue;
        }
        if (f->noselect || !requested (run, f->name))
            continue;
        relpath = nms_maildir_folder_to_path (f->name, f->delimiter, run->account->layout, &error);
        if (relpath == NULL) {
            nms_context_skip (run->ctx, "%s: %s; folder skipped", run->account->name,
                              error->message);
            continue;
        }
        if (g_hash_table_contains (paths, relpath)) {
            nms_context_skip (run->ctx,
                              "%s: folder '%s' skipped: another folder already maps to '%s'",
                              run->account->name, f->name, relpath);
            continue;
        }
        folder = g_new0 (Folder, 1);
        folder->name = g_strdup (f->name);
        folder->wire_name = g_strdup (f->wire_name);
        folder->relpath = g_steal_pointer (&relpath);
        g_hash_table_add (paths, folder->relpath);
        g_ptr_array_add (chosen, folder);
    }
    return chosen;
}

/* Folders asked for on the command line that the server does not have, and folders the state
 * knows that are gone from the server (reported, never deleted locally by a pull). */
static void
report_missing (Run *run, GPtrArray *list)
{
    g_autoptr (GHashTable) on_server = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GPtrArray) known = NULL;
    g_autoptr (GError) error = NULL;

    for (guint i = 0; i < list->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (list, i);
        if (f->name != NULL)
            g_hash_table_add (on_server, f->name);
    }
    if (run->options != NULL && run->options->folders != NULL) {
        for (char **n = run->options->folders; *n != NULL; n++) {
            if (!g_hash_table_contains (on_server, *n))
                nms_context_skip (run->ctx, "%s: folder '%s' does not exist on the server",
                                  run->account->name, *n);
        }
    }
    known = nms_state_folder_names (run->state, &error);
    for (guint i = 0; known != NULL && i < known->len; i++) {
        const char *name = g_ptr_array_index (known, i);
        if (!g_hash_table_contains (on_server, name))
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s' is gone from the server; the local copy is kept",
                             run->account->name, name);
    }
}

/* ---- local snapshot ---------------------------------------------------------------- */

static int
cmp_plan_uid (const void *a, const void *b)
{
    guint32 x = ((const NmsPlanMessage *) a)->uid, y = ((const NmsPlanMessage *) b)->uid;
    return x < y ? -1 : x > y;
}

static int
cmp_entry_uid (gconstpointer a, gconstpointer b)
{
    guint32 x = (*(NmsMaildirEntry *const *) a)->name->uid;
    guint32 y = (*(NmsMaildirEntry *const *) b)->name->uid;
    return x < y ? -1 : x > y;
}

/* Local files that carry a UID, as plan input, sorted; @entries_out[i] matches element i. */
static GArray *
local_snapshot (Run *run, const Folder *folder, GPtrArray *scan, GPtrArray **entries_out)
{
    GArray *local = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    g_autoptr (GPtrArray) order = g_ptr_array_new ();
    g_autoptr (GPtrArray) entries = g_ptr_array_new ();

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        if (e->problem != NULL)
            nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: folder '%s': file '%s' left alone: %s",
                             run->account->name, folder->name, e->path, e->problem);
        else if (e->name->uid != 0)
            g_ptr_array_add (order, e);
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
        g_strlcpy (m.flags, e->name->flags != NULL ? e->name->flags : "", sizeof m.flags);
        g_array_append_val (local, m);
        g_ptr_array_add (entries, e);
    }
    *entries_out = g_steal_pointer (&entries);
    return local;
}

/* ---- executing the plan -------------------------------------------------------------- */

/* Applies the non-download actions. Order per message: change the file first, then the state,
 * so the state never claims what the disk does not hold. A crash after the file change and
 * before the commit replays the action next run and finds it already done. */
static void
apply_local_actions (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries)
{
    for (guint i = 0; i < plan->len; i++) {
        NmsPullAction *a = &g_array_index (plan, NmsPullAction, i);
        NmsMaildirEntry *e = a->local_index >= 0 ? g_ptr_array_index (entries, a->local_index) : NULL;
        g_autoptr (GError) error = NULL;
        g_autofree char *renamed = NULL;
        gboolean ok = TRUE;

        switch (a->kind) {
        case NMS_PULL_ACTION_DOWNLOAD:
            continue;
        case NMS_PULL_ACTION_ADOPT:
        case NMS_PULL_ACTION_SET_FLAGS:
            renamed = nms_maildir_set_flags (e->path, a->local_flags, &error);
            ok = renamed != NULL &&
                 nms_state_message_put (run->state, folder->name, a->uid, a->server_flags, &error);
            run->ctx->progress.flags_changed += ok && strcmp (renamed, e->path) != 0;
            break;
        case NMS_PULL_ACTION_RECORD:
            ok = nms_state_message_put (run->state, folder->name, a->uid, a->server_flags, &error);
            break;
        case NMS_PULL_ACTION_DELETE_LOCAL:
            ok = nms_maildir_remove (e->path, &error) &&
                 nms_state_message_delete (run->state, folder->name, a->uid, &error);
            run->ctx->progress.messages_deleted += ok;
            break;
        case NMS_PULL_ACTION_FORGET:
            ok = nms_state_message_delete (run->state, folder->name, a->uid, &error);
            break;
        }
        if (!ok)
            nms_context_skip (run->ctx, "%s: folder '%s': message UID %u: %s", run->account->name,
                              folder->name, a->uid, error->message);
    }
}

/* Receives streamed bodies for one folder. */
typedef struct {
    Run *run;
    const Folder *folder;
    const char *dir;
    const NmsPlanMessage *wanted; /* the server's view of the UIDs asked for, sorted */
    gsize n_wanted;
    GHashTable *arrived;          /* uids delivered */
    NmsMaildirDelivery *current;
    GError *disk_error;           /* a full disk: stops the run, not just the folder */
} Download;

/* Keeps a copy of a local disk failure: the imap layer reports only ABORTED, and a full disk
 * must stop the run rather than just this folder. */
static gboolean
remember_disk_error (Download *d, GError **error)
{
    if (error != NULL && *error != NULL && d->disk_error == NULL &&
        g_error_matches (*error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_NOSPACE))
        d->disk_error = g_error_copy (*error);
    return FALSE;
}

static gboolean
download_chunk (const char *data, gsize len, gpointer user_data, GError **error)
{
    Download *d = user_data;

    if (d->current == NULL) {
        d->current = nms_maildir_delivery_begin (d->dir, error);
        if (d->current == NULL)
            return remember_disk_error (d, error);
    }
    if (!nms_maildir_delivery_write (d->current, data, len, error))
        return remember_disk_error (d, error);
    d->run->ctx->progress.bytes_added += len;
    nms_context_progress (d->run->ctx);
    return TRUE;
}

/* One message is complete: make the file durable under its final name, then record it.
 * A crash between the rename and the state commit leaves a file with ",U=<uid>" that the
 * next run adopts (plan: ADOPT), so the message is never fetched twice. */
static gboolean
download_done (guint32 uid, gpointer user_data, GError **error)
{
    Download *d = user_data;
    NmsPlanMessage key = { .uid = uid };
    const NmsPlanMessage *m = bsearch (&key, d->wanted, d->n_wanted, sizeof key, cmp_plan_uid);
    g_autoptr (NmsMaildirName) name = NULL;
    g_autofree char *path = NULL;

    if (m == NULL || g_hash_table_contains (d->arrived, GUINT_TO_POINTER (uid))) {
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_FOLDER,
                     "server sent message UID %u, which was not asked for", uid);
        return FALSE;
    }
    if (d->current == NULL && (d->current = nms_maildir_delivery_begin (d->dir, error)) == NULL)
        return remember_disk_error (d, error);
    name = nms_maildir_name_new (uid, m->flags);
    path = nms_maildir_delivery_commit (g_steal_pointer (&d->current), name,
                                        !nms_maildir_flags_has (m->flags, 'S'), error);
    if (path == NULL)
        return remember_disk_error (d, error);
    g_hash_table_add (d->arrived, GUINT_TO_POINTER (uid));
    d->run->ctx->progress.messages_added++;
    nms_context_progress (d->run->ctx);
    return nms_state_message_put (d->run->state, d->folder->name, uid, m->flags, error);
}

static const NmsImapBodySink download_sink = { download_chunk, download_done };

/* After these, the connection cannot be used again: reconnect before the next folder. */
static gboolean
session_lost (const GError *error)
{
    return error->domain == NMS_IMAP_ERROR &&
           (error->code == NMS_IMAP_ERROR_STREAM || error->code == NMS_IMAP_ERROR_PROTOCOL ||
            error->code == NMS_IMAP_ERROR_ABORTED);
}

/* Names every message of a batch the server did not deliver; they stay out of the state, so
 * the next run asks for them again. */
static void
report_undelivered (Download *d, const guint32 *uids, guint n, const char *why)
{
    for (guint i = 0; i < n; i++) {
        if (!g_hash_table_contains (d->arrived, GUINT_TO_POINTER (uids[i])))
            nms_context_skip (d->run->ctx, "%s: folder '%s': message UID %u could not be fetched: %s",
                              d->run->account->name, d->folder->name, uids[i], why);
    }
}

static gboolean
download_all (Run *run, const Folder *folder, const char *dir, GArray *plan, GError **error)
{
    g_autoptr (GArray) wanted = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
    g_autoptr (GHashTable) arrived = g_hash_table_new (NULL, NULL);
    Download d = { .run = run, .folder = folder, .dir = dir, .arrived = arrived };

    for (guint i = 0; i < plan->len; i++) {
        NmsPullAction *a = &g_array_index (plan, NmsPullAction, i);
        NmsPlanMessage m = { .uid = a->uid };

        if (a->kind != NMS_PULL_ACTION_DOWNLOAD)
            continue;
        g_strlcpy (m.flags, a->server_flags, sizeof m.flags);
        g_array_append_val (wanted, m);
        g_array_append_val (uids, a->uid);
    }
    d.wanted = (const NmsPlanMessage *) wanted->data;
    d.n_wanted = wanted->len;

    for (guint start = 0; start < uids->len; start += FETCH_BATCH) {
        const guint32 *batch = &g_array_index (uids, guint32, start);
        guint n = MIN (FETCH_BATCH, uids->len - start);
        g_autoptr (GError) fetch_error = NULL;
        gboolean ok;

        if (!nms_state_begin (run->state, error))
            return FALSE;
        ok = nms_imap_fetch_bodies (run->session, batch, n, &download_sink, &d, &fetch_error);
        nms_maildir_delivery_abort (g_steal_pointer (&d.current));
        /* Commit what arrived even when the batch failed: those files are already durable. */
        if (!nms_state_commit (run->state, error)) {
            nms_state_rollback (run->state);
            return FALSE;
        }
        if (d.disk_error != NULL) {
            g_propagate_error (error, g_steal_pointer (&d.disk_error));
            return FALSE;
        }
        if (!ok && g_error_matches (fetch_error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO)) {
            report_undelivered (&d, batch, n, fetch_error->message);
        } else if (!ok) {
            g_propagate_error (error, g_steal_pointer (&fetch_error));
            return FALSE;
        } else {
            report_undelivered (&d, batch, n, "the server did not send it");
        }
    }
    return TRUE;
}

static GArray *
server_snapshot (GArray *infos)
{
    GArray *server = g_array_sized_new (FALSE, TRUE, sizeof (NmsPlanMessage), infos->len);

    for (guint i = 0; i < infos->len; i++) {
        NmsImapMessageInfo *info = &g_array_index (infos, NmsImapMessageInfo, i);
        NmsPlanMessage m = { .uid = info->uid };

        g_strlcpy (m.flags, info->flags, sizeof m.flags);
        g_array_append_val (server, m);
    }
    return server;
}

static const char *const action_names[] = {
    [NMS_PULL_ACTION_DOWNLOAD] = "download",     [NMS_PULL_ACTION_ADOPT] = "adopt",
    [NMS_PULL_ACTION_SET_FLAGS] = "set flags",   [NMS_PULL_ACTION_RECORD] = "record flags",
    [NMS_PULL_ACTION_DELETE_LOCAL] = "delete",   [NMS_PULL_ACTION_FORGET] = "forget",
};

static void
print_plan (Run *run, const Folder *folder, GArray *plan)
{
    for (guint i = 0; i < plan->len; i++) {
        NmsPullAction *a = &g_array_index (plan, NmsPullAction, i);
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s: would %s UID %u (flags '%s')",
                         run->account->name, folder->name, action_names[a->kind], a->uid,
                         a->kind == NMS_PULL_ACTION_SET_FLAGS ? a->local_flags : a->server_flags);
    }
}

/* The snapshot and plan for one selected folder. */
static GArray *
plan_folder (Run *run, const Folder *folder, const char *dir, const NmsImapFolderState *fs,
             GPtrArray **scan_out, GPtrArray **entries_out, GError **error)
{
    g_autoptr (GArray) infos = NULL, server = NULL, saved = NULL, local = NULL;
    NmsPullPlanSummary sum;
    GArray *plan;

    infos = fs->exists > 0 ? nms_imap_fetch_infos (run->session, 1, error)
                           : g_array_new (FALSE, TRUE, sizeof (NmsImapMessageInfo));
    if (infos == NULL)
        return NULL;
    if ((saved = nms_state_messages (run->state, folder->name, error)) == NULL)
        return NULL;
    if ((*scan_out = nms_maildir_scan (dir, error)) == NULL)
        return NULL;
    server = server_snapshot (infos);
    local = local_snapshot (run, folder, *scan_out, entries_out);
    plan = nms_plan_pull ((NmsPlanMessage *) server->data, server->len,
                          (NmsPlanMessage *) saved->data, saved->len,
                          (NmsPlanMessage *) local->data, local->len,
                          run->options != NULL && run->options->force, &sum);
    if (sum.guard_tripped)
        nms_context_skip (run->ctx,
                          "%s: folder '%s': the server removed %u of %u messages; not deleting "
                          "them locally (run with --force if that is intended)",
                          run->account->name, folder->name, sum.deletions, sum.known);
    return plan;
}

static gboolean
pull_folder (Run *run, const Folder *folder, GError **error)
{
    g_autofree char *dir = NULL;
    g_autoptr (GArray) plan = NULL;
    g_autoptr (GPtrArray) scan = NULL, entries = NULL;
    NmsImapFolderState fs;
    NmsStateFolder saved;
    gboolean known;
    NmsProgress before = run->ctx->progress;

    if (!nms_imap_select (run->session, folder->wire_name, TRUE, &fs, error) ||
        !nms_state_folder_get (run->state, folder->name, &saved, &known, error))
        return FALSE;
    if (known && saved.uidvalidity != fs.uidvalidity) {
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_FOLDER,
                     "UIDVALIDITY changed from %u to %u; folder left alone (re-pairing comes "
                     "with 'nmsync sync')", saved.uidvalidity, fs.uidvalidity);
        return FALSE;
    }
    if (!(dir = nms_maildir_folder_ensure (run->account->maildir, folder->relpath, error)))
        return FALSE;
    plan = plan_folder (run, folder, dir, &fs, &scan, &entries, error);
    if (plan == NULL)
        return FALSE;
    if (run->ctx->dry_run) {
        print_plan (run, folder, plan);
        return TRUE;
    }
    saved = (NmsStateFolder) { .uidvalidity = fs.uidvalidity, .uidnext = saved.uidnext };
    if (!nms_state_begin (run->state, error))
        return FALSE;
    if (!nms_state_folder_set (run->state, folder->name, &saved, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    apply_local_actions (run, folder, plan, entries);
    if (!nms_state_commit (run->state, error) || !download_all (run, folder, dir, plan, error))
        return FALSE;
    saved.uidnext = fs.uidnext;
    if (!nms_state_folder_set (run->state, folder->name, &saved, error))
        return FALSE;
    nms_context_log (run->ctx, NMS_LEVEL_INFO,
                     "%s: %s: %" G_GUINT64_FORMAT " new, %" G_GUINT64_FORMAT
                     " flags changed, %" G_GUINT64_FORMAT " deleted",
                     run->account->name, folder->name,
                     run->ctx->progress.messages_added - before.messages_added,
                     run->ctx->progress.flags_changed - before.flags_changed,
                     run->ctx->progress.messages_deleted - before.messages_deleted);
    return TRUE;
}

/* ---- the account -------------------------------------------------------------------- */

static gboolean
connect_session (Run *run, GError **error)
{
    run->session = nms_imap_session_connect (run->account, run->password, error);
    return run->session != NULL;
}

static void
pull_folders (Run *run, GPtrArray *folders, GError **fatal)
{
    for (guint i = 0; i < folders->len; i++) {
        Folder *folder = g_ptr_array_index (folders, i);
        g_autoptr (GError) error = NULL;

        if (run->session == NULL && !connect_session (run, &error)) {
            nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                              folder->name, error->message);
            continue;
        }
        if (!pull_folder (run, folder, &error)) {
            nms_state_rollback (run->state);
            if (g_error_matches (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_NOSPACE)) {
                g_propagate_prefixed_error (fatal, g_steal_pointer (&error), "folder '%s': ",
                                            folder->name);
                return;
            }
            nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                              folder->name, error->message);
            if (session_lost (error))
                g_clear_pointer (&run->session, nms_imap_session_free);
        }
        run->ctx->progress.folders_done++;
        nms_context_progress (run->ctx);
    }
}

gboolean
nms_sync_pull_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                       const NmsSyncOptions *options, GError **error)
{
    Run run = { .ctx = ctx, .account = account, .options = options };
    g_autoptr (GPtrArray) list = NULL, folders = NULL;
    GError *fatal = NULL;
    gboolean ok = FALSE;
    int lock;

    if ((lock = nms_state_lock (config->state_dir, account->name, error)) < 0)
        return FALSE;
    if ((run.state = nms_state_open (config->state_dir, account->name, error)) == NULL ||
        (run.password = nms_account_get_password (account, error)) == NULL ||
        !connect_session (&run, error) || (list = nms_imap_list (run.session, error)) == NULL)
        goto out;
    folders = choose_folders (&run, list);
    report_missing (&run, list);
    ctx->progress.folders_total += folders->len;
    nms_context_progress (ctx);
    pull_folders (&run, folders, &fatal);
    ok = fatal == NULL;
    if (!ok)
        g_propagate_error (error, fatal);
out:
    nms_imap_session_free (run.session);
    if (run.password != NULL)
        memset (run.password, 0, strlen (run.password));
    g_free (run.password);
    nms_state_free (run.state);
    nms_state_unlock (lock);
    return ok;
}

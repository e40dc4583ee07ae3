/* SPDX-License-Identifier: GPL-3.0-or-later
 * One account's run: lock, state, connection, the folders of both sides, crash recovery, moves
 * between folders, then the folders (workers.c, folder.c). */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <string.h>

G_DEFINE_QUARK (nms-sync-error-quark, nms_sync_error)

void
nms_sync_folder_free (Folder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    g_free (folder->wire_name);
    g_free (folder->relpath);
    g_free (folder->dir);
    g_clear_pointer (&folder->prescan, g_ptr_array_unref);
    g_free (folder);
}

gint64
nms_sync_intent (Run *run, const NmsStateIntent *intent, GError **error)
{
    gint64 id = nms_state_intent_add (run->state, intent, error);

    if (id != 0)
        nms_sync_step (run);
    return id;
}

gboolean
nms_sync_session_lost (const GError *error)
{
    return error->domain == NMS_IMAP_ERROR &&
           (error->code == NMS_IMAP_ERROR_STREAM || error->code == NMS_IMAP_ERROR_PROTOCOL ||
            error->code == NMS_IMAP_ERROR_ABORTED);
}

/* -v says that a new session is compressed (RFC 4978); -vv gives its byte counts when the
 * run ends. */
static void
report_compression (Run *run, gboolean closing)
{
    NmsImapCompressStats st;

    if (run->session == NULL || !nms_imap_session_compress_stats (run->session, &st))
        return;
    if (!closing)
        nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: session compressed (COMPRESS=DEFLATE)",
                         run->account->name);
    else
        nms_context_log (run->ctx, NMS_LEVEL_DEBUG,
                         "%s: compressed session: received %" G_GUINT64_FORMAT " bytes (%"
                         G_GUINT64_FORMAT " inflated), sent %" G_GUINT64_FORMAT " bytes (%"
                         G_GUINT64_FORMAT " before deflate)",
                         run->account->name, st.wire_in, st.data_in, st.wire_out, st.data_out);
}

gboolean
nms_sync_connect (Run *run, GError **error)
{
    g_autoptr (GPtrArray) list = NULL;

    if (run->session != NULL)
        return TRUE;
    run->session = nms_imap_session_connect_logged (run->account, run->password,
                                                    run->options->imap_log, error);
    report_compression (run, FALSE);
    if (run->session != NULL)
        nms_imap_session_set_keywords (run->session, run->keyword_letters);
    /* Wire names need the hierarchy delimiter: known from the run's first LIST, or taught by
     * one now. */
    /* A worker's connection exists only for folders with work: QRESYNC at once. */
    if (run->session != NULL)
        nms_imap_qresync_enable (run->session);
    if (run->session != NULL && run->prefix != NULL)
        nms_imap_session_set_prefix (run->session, run->prefix);
    if (run->session != NULL && run->delimiter != 0)
        nms_imap_session_set_delimiter (run->session, run->delimiter);
    else if (run->session != NULL && (list = nms_imap_list (run->session, error)) == NULL)
        g_clear_pointer (&run->session, nms_imap_session_free);
    return run->session != NULL;
}

/* ---- choosing folders ---------------------------------------------------------------- */

static gboolean
requested (const Run *run, const char *name)
{
    if (run->options->folders == NULL)
        return nms_config_folder_selected (run->patterns != NULL ? run->patterns
                                                                 : run->account->folders,
                                           name, '/');
    return g_strv_contains ((const char *const *) run->options->folders, name);
}

static Folder *
folder_new (Run *run, const char *name, const char *wire_name, const char *relpath)
{
    Folder *folder = g_new0 (Folder, 1);
    g_autofree char *cur = NULL;

    folder->name = g_strdup (name);
    folder->wire_name = g_strdup (wire_name);
    folder->relpath = g_strdup (relpath);
    folder->dir = g_build_filename (run->account->maildir, relpath, NULL);
    cur = g_build_filename (folder->dir, "cur", NULL);
    folder->local = g_file_test (cur, G_FILE_TEST_IS_DIR);
    return folder;
}

/* The server's folders from LIST, each one refused named. */
static void
add_server_folders (Run *run, GPtrArray *list, GPtrArray *chosen, GHashTable *by_name,
                    GHashTable *paths)
{
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
        relpath = nms_maildir_folder_to_path (f->name, '/', run->account->layout, &error);
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
        folder = folder_new (run, f->name, f->wire_name, relpath);
        nms_sync_folder_take_status (folder, f);
        g_hash_table_add (paths, folder->relpath);
        g_hash_table_insert (by_name, folder->name, folder);
        g_ptr_array_add (chosen, folder);
    }
}

/* --dry-run of a folder that exists only locally: a real run creates it on the server and
 * uploads every message file in it. */
static void
report_dry_new_server_folder (Run *run, const NmsMaildirFolder *lf)
{
    g_autofree char *dir = g_build_filename (run->account->maildir, lf->relpath, NULL);
    g_autoptr (GPtrArray) scan = nms_maildir_scan (dir, NULL);
    guint n = 0;

    for (guint i = 0; scan != NULL && i < scan->len; i++)
        n += ((NmsMaildirEntry *) g_ptr_array_index (scan, i))->problem == NULL;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: would create folder '%s' on the server and upload %u messages",
                     run->account->name, lf->name, n);
}

/* Local folders the server does not have: created there when "create" allows it (and the
 * state has no record of them: a folder the state knows was deleted on the server). A
 * directory a server folder maps to (@paths) is that folder, whatever name it reads back as:
 * never a second folder. */
static void
add_local_folders (Run *run, GPtrArray *chosen, GHashTable *by_name, GHashTable *paths)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) local = nms_maildir_list_folders (run->account->maildir,
                                                            run->account->layout, &error);

    if (local == NULL) {
        nms_context_skip (run->ctx, "%s: cannot list local folders: %s", run->account->name,
                          error->message);
        return;
    }
    for (guint i = 0; i < local->len; i++) {
        NmsMaildirFolder *lf = g_ptr_array_index (local, i);
        NmsStateFolder saved;
        gboolean known = FALSE;
        g_autofree char *wire = NULL;

        if (g_hash_table_contains (by_name, lf->name) ||
            g_hash_table_contains (paths, lf->relpath) || !requested (run, lf->name))
            continue;
        if (!nms_state_folder_get (run->state, lf->name, &saved, &known, &error))
            return;
        if (known) /* deleted on the server: report_missing says so */
            continue;
        if (!(run->policy.direction & NMS_PLAN_PUSH) ||
            !NMS_SIDES_ALLOW_SERVER (run->account->create))
            continue;
        wire = nms_imap_folder_wire_name (run->session, lf->name);
        if (run->ctx->dry_run) {
            report_dry_new_server_folder (run, lf);
            continue;
        }
        if (!nms_imap_create (run->session, wire, &error)) {
            nms_context_skip (run->ctx, "%s: folder '%s' skipped: %s", run->account->name,
                              lf->name, error->message);
            g_clear_error (&error);
            continue;
        }
        run->ctx->progress.folders_created++;
        g_ptr_array_add (chosen, folder_new (run, lf->name, wire, lf->relpath));
    }
}

/* Versions before names.c recorded a folder of a server whose delimiter is not '/' under the
 * server's spelling ("Archives.2012"), and its directory a second time as "Archives/2012".
 * Returns the name the server folder has now when @recorded is such an old spelling, else
 * NULL. No level of a server's folder can hold its delimiter, so no other folder has such a
 * name. (transfer full) */
static char *
old_spelling_of (const Run *run, const char *recorded, GHashTable *on_server)
{
    const char delim[2] = { run->delimiter, '\0' };
    g_autofree char *name = NULL;

    if (run->delimiter == '\0' || run->delimiter == '/' || strchr (recorded, '/') != NULL ||
        strchr (recorded, run->delimiter) == NULL || g_hash_table_contains (on_server, recorded))
        return NULL;
    name = g_strdelimit (g_strdup (recorded), delim, '/');
    return g_hash_table_contains (on_server, name) ? g_steal_pointer (&name) : NULL;
}

static GHashTable *
server_names (GPtrArray *list)
{
    GHashTable *on_server = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < list->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (list, i);
        if (f->name != NULL)
            g_hash_table_add (on_server, f->name);
    }
    return on_server;
}

/* Folders asked for on the command line that neither side has, and folders the state knows
 * that are gone from the server (reported, never deleted locally). */
static void
report_missing (Run *run, GHashTable *by_name, GPtrArray *list)
{
    g_autoptr (GHashTable) on_server = server_names (list);
    g_autoptr (GPtrArray) known = NULL;
    g_autoptr (GError) error = NULL;

    if (run->options->folders != NULL) {
        for (char **n = run->options->folders; *n != NULL; n++) {
            if (!g_hash_table_contains (by_name, *n) && !g_hash_table_contains (on_server, *n))
                nms_context_skip (run->ctx, "%s: folder '%s' does not exist on the server",
                                  run->account->name, *n);
        }
    }
    known = nms_state_folder_names (run->state, &error);
    for (guint i = 0; known != NULL && i < known->len; i++) {
        const char *name = g_ptr_array_index (known, i);
        g_autofree char *now = old_spelling_of (run, name, on_server);

        if (now == NULL && !g_hash_table_contains (on_server, name) &&
            !g_hash_table_contains (by_name, name) && requested (run, name))
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s' is gone from the server; the local copy is kept",
                             run->account->name, name);
    }
}

/* A record under an old spelling takes the folder's one name; where the state holds both
 * already (the phantom folder was synced beside the real one), the old one is forgotten:
 * forgetting records never turns into deletions. A dry run does the same to its private copy
 * of the state, so that it plans what the real run will. */
static void
adopt_old_names (Run *run, GPtrArray *list)
{
    g_autoptr (GHashTable) on_server = server_names (list);
    g_autoptr (GPtrArray) known = nms_state_folder_names (run->state, NULL);
    g_autoptr (GError) error = NULL;

    for (guint i = 0; known != NULL && i < known->len && error == NULL; i++) {
        const char *old = g_ptr_array_index (known, i);
        g_autofree char *name = old_spelling_of (run, old, on_server);
        NmsStateFolder saved;
        gboolean both = FALSE;

        if (name == NULL || !nms_state_folder_get (run->state, name, &saved, &both, &error))
            continue;
        if (!(both ? nms_state_folder_forget (run->state, old, &error)
                   : nms_state_folder_rename (run->state, old, name, &error)))
            continue;
        if (run->ctx->dry_run)
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             both ? "%s: would forget the record of folder '%s' (kept as '%s')"
                                  : "%s: would record folder '%s' as '%s'",
                             run->account->name, old, name);
        else
            nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: folder '%s' is now recorded as '%s'",
                             run->account->name, old, name);
    }
    if (error != NULL)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: cannot rename old folder records: %s",
                         run->account->name, error->message);
}

static GPtrArray *
choose_folders (Run *run, GPtrArray *list)
{
    GPtrArray *chosen = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_sync_folder_free);
    g_autoptr (GHashTable) by_name = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) paths = g_hash_table_new (g_str_hash, g_str_equal);

    add_server_folders (run, list, chosen, by_name, paths);
    add_local_folders (run, chosen, by_name, paths);
    report_missing (run, by_name, list);
    return chosen;
}

/* Remembers which folder the server marks with which special-use role, so that rules can name
 * "\\Junk" and nmsync apply can resolve it without the network. */
static void
store_roles (Run *run, GPtrArray *list)
{
    g_autoptr (GHashTable) roles = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GError) error = NULL;

    for (guint i = 0; i < list->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (list, i);
        if (f->special_use != NULL && f->name != NULL && !f->noselect &&
            !g_hash_table_contains (roles, f->special_use))
            g_hash_table_insert (roles, f->special_use, f->name);
    }
    if (!run->ctx->dry_run && !nms_state_roles_set (run->state, roles, &error))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: special-use folders not recorded: %s",
                         run->account->name, error->message);
}

/* ---- recovery and the folder loop ----------------------------------------------------- */

/* Moves and appends cut short by a crash are finished (or dropped) before anything is planned,
 * so the plans see the server and the disk as they really are. */
static void
recover (Run *run, GPtrArray *folders)
{
    for (guint i = 0; i < folders->len; i++) {
        Folder *folder = g_ptr_array_index (folders, i);
        g_autoptr (GError) error = NULL;
        g_autoptr (GArray) intents = nms_state_intents (run->state, folder->name, &error);

        for (guint j = 0; intents != NULL && j < intents->len && error == NULL; j++) {
            NmsStateIntent *in = &g_array_index (intents, NmsStateIntent, j);

            if (!nms_sync_connect (run, &error))
                break;
            if (in->kind == NMS_INTENT_APPEND)
                nms_sync_recover_append (run, folder, in, &error);
            else if (in->kind == NMS_INTENT_MOVE)
                nms_sync_recover_move (run, folders, in, &error);
            else
                nms_state_intent_remove (run->state, in->id, &error); /* replanned */
        }
        if (error != NULL) {
            nms_context_skip (run->ctx, "%s: folder '%s': cannot finish an interrupted action: %s",
                              run->account->name, folder->name, error->message);
            if (nms_sync_session_lost (error))
                g_clear_pointer (&run->session, nms_imap_session_free);
        }
    }
}

/* What the pool sorts on: the server's message count from STATUS, else the messages the state
 * knows. */
static void
weigh (Run *run, Folder *folder)
{
    g_autoptr (GArray) saved = NULL;

    if (folder->has_status) {
        folder->weight = folder->messages;
        return;
    }
    saved = nms_state_messages (run->state, folder->name, NULL);
    folder->weight = saved != NULL ? saved->len : 0;
}

/* Folders unchanged on both sides are done at once; only the others go to the pool, so a run
 * with nothing to do opens no connection beyond the first. */
static void
sync_folders (Run *run, GPtrArray *folders, GError **fatal)
{
    g_autoptr (GPtrArray) work = g_ptr_array_new ();

    for (guint i = 0; i < folders->len; i++) {
        Folder *folder = g_ptr_array_index (folders, i);

        if (folder->clean) {
            nms_context_log (run->ctx, NMS_LEVEL_DEBUG, "%s: %s: unchanged on both sides",
                             run->account->name, folder->name);
            run->ctx->progress.folders_done++;
            continue;
        }
        weigh (run, folder);
        g_ptr_array_add (work, folder);
    }
    nms_context_progress (run->ctx);
    nms_sync_workers_run (run, work, fatal);
}

static void
run_clear (Run *run)
{
    report_compression (run, TRUE);
    nms_imap_session_free (run->session);
    if (run->password != NULL)
        memset (run->password, 0, strlen (run->password));
    g_free (run->password);
    nms_state_free (run->state);
    g_clear_pointer (&run->pending_moves, g_hash_table_unref);
    g_clear_pointer (&run->budget, nms_sync_budget_free);
    g_clear_pointer (&run->root_id, g_free);
    g_clear_pointer (&run->later, nms_sync_later_free);
    g_clear_pointer (&run->keyword_letters, g_hash_table_unref);
    g_clear_pointer (&run->prefix, g_free);
    g_clear_pointer (&run->patterns, g_strfreev);
}

/* The account's folder patterns as they read once @prefix is left out of names: a pattern
 * written with it, the server's way ("INBOX.Sent") or nmsync's ("INBOX/Sent"), loses it, so
 * that a config written for the names before still selects the same folders. (transfer full) */
static char **
patterns_without_prefix (char *const *patterns, const char *prefix, const char *root)
{
    GPtrArray *out = g_ptr_array_new ();
    gsize len = strlen (prefix);
    char delim[2] = { prefix[len - 1], '\0' };

    for (char *const *p = patterns; p != NULL && *p != NULL; p++) {
        const char *neg = **p == '!' ? "!" : "";
        const char *body = *p + strlen (neg);
        g_autofree char *rest = NULL;

        if (root != NULL && g_str_has_prefix (body, root) && body[strlen (root)] != '\0')
            rest = g_strdup (body + strlen (root));
        else if (g_str_has_prefix (body, prefix) && body[len] != '\0')
            rest = g_strdelimit (g_strdup (body + len), delim, '/');
        g_ptr_array_add (out, rest != NULL ? g_strconcat (neg, rest, NULL) : g_strdup (*p));
    }
    g_ptr_array_add (out, NULL);
    return (char **) g_ptr_array_free (out, FALSE);
}

/* The personal namespace prefix ("INBOX." on Courier) is stripped from folder names, unless
 * the state recorded folders with it (a version before the stripping, or the prefix spelt the
 * server's way): those folders keep their names and directories, rather than each becoming a
 * second folder beside its old self. @list, named by the first LIST, is named again then. */
static void
choose_prefix (Run *run, GPtrArray *list)
{
    const char *prefix = nms_imap_session_get_prefix (run->session);
    gsize len = strlen (prefix);
    g_autoptr (GPtrArray) known = NULL;
    g_autofree char *root = NULL;

    if (len > 1) {
        g_autofree char *bare = g_strndup (prefix, len - 1);
        g_autofree char *name = nms_imap_folder_name_from_wire (bare, prefix[len - 1], NULL, NULL);

        root = name != NULL ? g_strconcat (name, "/", NULL) : NULL;
        known = nms_state_folder_names (run->state, NULL);
    }
    for (guint i = 0; known != NULL && i < known->len; i++) {
        const char *name = g_ptr_array_index (known, i);

        if (g_str_has_prefix (name, prefix) || (root != NULL && g_str_has_prefix (name, root))) {
            nms_context_log (run->ctx, NMS_LEVEL_INFO,
                             "%s: folder names keep the server's prefix '%s' (the state "
                             "recorded '%s' so)",
                             run->account->name, prefix, name);
            nms_imap_session_set_prefix (run->session, "");
            nms_imap_folders_rename (run->session, list);
            break;
        }
    }
    run->prefix = g_strdup (nms_imap_session_get_prefix (run->session));
    if (*run->prefix != '\0')
        run->patterns = patterns_without_prefix (run->account->folders, run->prefix, root);
}

/* The account lock; while another nmsync (an apply, a sync the timer started) holds it, waits
 * for options->lock_wait_ms, saying so at -v. */
static int
take_lock (Run *run, GError **error)
{
    g_autoptr (GError) busy = NULL;
    const char *dir = run->config->state_dir, *name = run->account->name;
    int fd = nms_state_lock (dir, name, 0, &busy);

    if (fd >= 0 || run->options->lock_wait_ms == 0 ||
        !g_error_matches (busy, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED)) {
        if (fd < 0)
            g_propagate_error (error, g_steal_pointer (&busy));
        return fd;
    }
    nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s; waiting up to %u s", busy->message,
                     (run->options->lock_wait_ms + 999) / 1000);
    return nms_state_lock (dir, name, run->options->lock_wait_ms, error);
}

gboolean
nms_sync_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                  const NmsSyncOptions *options, GError **error)
{
    Run run = { .ctx = ctx, .config = config, .account = account, .options = options };
    g_autoptr (GPtrArray) list = NULL, folders = NULL;
    GError *fatal = NULL;
    gboolean ok = FALSE;
    int lock = -1;

    /* A dry run writes nothing at all: no lock file, no state directory; it reads a private
     * copy of the state. */
    if (!ctx->dry_run && !options->lock_held && (lock = take_lock (&run, error)) < 0)
        return FALSE;
    run.pending_moves = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    run.budget = nms_sync_budget_new ();
    run.policy = (NmsPlanPolicy) {
        .direction = options->direction,
        .delete_local = NMS_SIDES_ALLOW_LOCAL (account->delete_sides),
        .delete_server = NMS_SIDES_ALLOW_SERVER (account->delete_sides),
        .force = options->force,
    };
    /* Server-side moves (server-moves.c): local deletions wait for the end of the run. */
    if (options->direction & NMS_PLAN_PULL) {
        run.later = nms_sync_later_new ();
        run.policy.local_guard_later = TRUE;
    }
    run.state = ctx->dry_run ? nms_state_open_copy (config->state_dir, account->name, error)
                             : nms_state_open (config->state_dir, account->name, error);
    if (run.state == NULL || (options->adopt && !nms_sync_adopt_check (&run, error)) ||
        !nms_sync_root_check (&run, error) ||
        (run.keyword_letters = nms_state_keyword_letters (run.state, options->keywords, error)) ==
            NULL ||
        (run.password = nms_account_get_password (account, error)) == NULL ||
        (run.session = nms_imap_session_connect_logged (account, run.password,
                                                        options->imap_log, error)) == NULL)
        goto out;
    report_compression (&run, FALSE);
    nms_imap_session_set_keywords (run.session, run.keyword_letters);
    if ((list = nms_imap_list_status (run.session, error)) == NULL ||
        !nms_sync_root_bind (&run, error))
        goto out;
    choose_prefix (&run, list);
    run.delimiter = nms_imap_session_get_delimiter (run.session);
    adopt_old_names (&run, list);
    store_roles (&run, list);
    folders = choose_folders (&run, list);
    nms_sync_root_check_folders (&run, folders);
    run.folders = folders;
    ctx->progress.folders_total += folders->len;
    nms_context_progress (ctx);
    if (!ctx->dry_run)
        recover (&run, folders);
    nms_sync_find_clean (&run, folders);
    nms_sync_guard_estimate (&run, folders);
    nms_sync_later_watch (&run, folders);
    /* ENABLE QRESYNC only when some folder will be selected (a run with nothing to do saves
     * the round trip), and before any SELECT (RFC 5161). */
    for (guint i = 0; i < folders->len; i++) {
        if (!((Folder *) g_ptr_array_index (folders, i))->clean && run.session != NULL) {
            nms_imap_qresync_enable (run.session);
            break;
        }
    }
    if (options->direction & NMS_PLAN_PUSH)
        nms_sync_moves (&run, folders);
    sync_folders (&run, folders, &fatal);
    nms_sync_later_finish (&run);
    ok = fatal == NULL;
    if (!ok)
        g_propagate_error (error, fatal);
out:
    run_clear (&run);
    nms_state_unlock (lock);
    return ok;
}

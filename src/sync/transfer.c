/* SPDX-License-Identifier: GPL-3.0-or-later
 * Message bodies crossing the network: downloads (streamed into tmp/, then cur/ or new/) and
 * uploads (APPEND), each ordered so that a crash at any point is recovered without a message
 * crossing twice. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FETCH_BATCH 200

/* ---- downloads ------------------------------------------------------------------------
 * The disk runs ahead of the state, one FETCH batch at a time:
 * 1. each message is streamed into tmp/ and closed there, not fsynced (download_done);
 * 2. when the FETCH is over, the batch is made durable together: one syncfs, the renames into
 *    cur/ or new/, one fsync of cur/ and of new/ (nms_maildir_batch_commit, delivery.c);
 * 3. only then are the UIDs recorded, in one transaction (land_batch).
 * A crash during 1 or 2 before the renames leaves files in tmp/ only, which nothing reads; the
 * next run fetches them again. A crash after the renames leaves complete files with
 * ",U=<uid>" that the state does not know: the next plan adopts them (NMS_ACTION_ADOPT)
 * instead of fetching them again. The state's write transaction is never open during the
 * FETCH, so the other workers' writes do not wait for the network. */

static int
cmp_action_uid (const void *a, const void *b)
{
    guint32 x = (*(const NmsAction *const *) a)->uid, y = (*(const NmsAction *const *) b)->uid;
    return x < y ? -1 : x > y;
}

typedef struct {
    Run *run;
    const Folder *folder;
    GPtrArray *wanted;       /* this batch's DOWNLOAD actions (transfer none: the plan's),
                              * sorted by uid; one batch at a time, so that what a download
                              * holds does not grow with the folder */
    GHashTable *arrived;     /* uids of this batch delivered */
    NmsMaildirDelivery *current;
    NmsMaildirBatch *batch;  /* this FETCH's complete messages, still in tmp/ */
    GPtrArray *landing;      /* the NmsMaildirName of each, in batch order */
    GPtrArray *landing_actions; /* and its action (transfer none) */
    GArray *landing_sizes;   /* and its size as the server sent it (CRLF), guint64 */
    guint64 current_size;    /* bytes of the message arriving */
    GError *disk_error;      /* a full disk: stops the run, not just the folder */
    guint32 uidvalidity;     /* the folder's, for a reconnect in the middle (isolate()) */
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

    if (d->current == NULL && (d->current = nms_maildir_delivery_begin (d->folder->dir, error)) == NULL)
        return remember_disk_error (d, error);
    if (!nms_maildir_delivery_write (d->current, data, len, error))
        return remember_disk_error (d, error);
    d->current_size += len;
    d->run->ctx->progress.bytes_added += len;
    nms_context_progress (d->run->ctx);
    return TRUE;
}

/* One message is complete: it joins the batch, still in tmp/ (step 1). */
static gboolean
download_done (guint32 uid, gpointer user_data, GError **error)
{
    Download *d = user_data;
    NmsAction key = { .uid = uid };
    const NmsAction *keyp = &key, **found = NULL, *a = NULL;
    g_autoptr (NmsMaildirName) name = NULL;

    if (d->wanted->len > 0)
        found = bsearch (&keyp, d->wanted->pdata, d->wanted->len, sizeof keyp, cmp_action_uid);
    if (found != NULL)
        a = *found;
    if (a == NULL || g_hash_table_contains (d->arrived, GUINT_TO_POINTER (uid))) {
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_FOLDER,
                     "server sent message UID %u, which was not asked for", uid);
        return FALSE;
    }
    if (d->current == NULL && (d->current = nms_maildir_delivery_begin (d->folder->dir, error)) == NULL)
        return remember_disk_error (d, error);
    name = nms_maildir_name_new (uid, a->state_flags);
    if (!nms_maildir_batch_add (d->batch, g_steal_pointer (&d->current), name,
                                !nms_maildir_flags_has (a->state_flags, 'S'), error))
        return remember_disk_error (d, error);
    g_hash_table_add (d->arrived, GUINT_TO_POINTER (uid));
    g_ptr_array_add (d->landing, g_steal_pointer (&name));
    g_ptr_array_add (d->landing_actions, (gpointer) a);
    g_array_append_val (d->landing_sizes, d->current_size);
    d->current_size = 0;
    return TRUE;
}

/* The Message-ID and size of a landed message, for a later server-side move to find its file
 * (server-moves.c). A file whose header cannot be read just gets no Message-ID. */
static gboolean
record_content (Download *d, guint i, const char *path, GError **error)
{
    const NmsAction *a = g_ptr_array_index (d->landing_actions, i);
    g_autofree char *message_id = NULL;

    if (!nms_maildir_message_id (path, &message_id, NULL) || message_id == NULL)
        return TRUE;
    return nms_state_message_set_content (d->run->state, d->folder->name, a->uid, message_id,
                                          g_array_index (d->landing_sizes, guint64, i), error);
}

/* Steps 2 and 3 for the messages of the batch, also when the FETCH failed half-way. */
static gboolean
land_batch (Download *d, GError **error)
{
    g_autoptr (GPtrArray) paths = NULL;
    g_autoptr (GError) land_error = NULL;
    gboolean ok = TRUE;

    nms_maildir_batch_commit (d->batch, &paths, &land_error);
    for (guint i = 0; i < paths->len; i++) {
        nms_sync_file_event (d->run, NMS_FILE_ADDED, g_ptr_array_index (paths, i), NULL);
        d->run->ctx->progress.messages_added++;
        nms_sync_step (d->run); /* a crash here: files in place the state does not know yet */
    }
    nms_context_progress (d->run->ctx);
    if (paths->len > 0) {
        ok = nms_state_begin (d->run->state, error);
        for (guint i = 0; ok && i < paths->len; i++) {
            const NmsAction *a = g_ptr_array_index (d->landing_actions, i);
            const NmsMaildirName *name = g_ptr_array_index (d->landing, i);

            ok = nms_state_message_put (d->run->state, d->folder->name, a->uid, a->state_flags,
                                        name->base, error) &&
                 record_content (d, i, g_ptr_array_index (paths, i), error);
        }
        if (!ok || !nms_state_commit (d->run->state, ok ? error : NULL)) {
            nms_state_rollback (d->run->state);
            ok = FALSE;
        }
    }
    g_ptr_array_set_size (d->landing, 0);
    g_ptr_array_set_size (d->landing_actions, 0);
    g_array_set_size (d->landing_sizes, 0);
    if (ok && land_error != NULL) {
        remember_disk_error (d, &land_error);
        g_propagate_error (error, g_steal_pointer (&land_error));
        ok = FALSE;
    }
    return ok;
}

static const NmsImapBodySink download_sink = { download_chunk, download_done };

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

/* Fetches @uids and lands what arrived, also when the FETCH failed half-way: those messages
 * are complete. The FETCH's own failure goes to @fetch_error; FALSE with @error only for a
 * local one (the state, a full disk), which ends the folder (a full disk: the run). */
static gboolean
fetch_and_land (Download *d, const guint32 *uids, guint n, GError **fetch_error, GError **error)
{
    nms_imap_fetch_bodies (d->run->session, uids, n, &download_sink, d, fetch_error);
    nms_maildir_delivery_abort (g_steal_pointer (&d->current));
    if (!land_batch (d, error)) {
        g_clear_error (&d->disk_error);
        return FALSE;
    }
    if (d->disk_error != NULL) {
        g_propagate_error (error, g_steal_pointer (&d->disk_error));
        return FALSE;
    }
    return TRUE;
}

gboolean
nms_sync_reselect (Run *run, const Folder *folder, guint32 uidvalidity, GError **error)
{
    NmsImapFolderState fs;

    g_clear_pointer (&run->session, nms_imap_session_free);
    if (!nms_sync_connect (run, error) ||
        !nms_imap_select (run->session, folder->wire_name,
                          !(run->policy.direction & NMS_PLAN_PUSH), &fs, error))
        return FALSE;
    if (fs.uidvalidity != uidvalidity) {
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_FOLDER,
                     "UIDVALIDITY changed during the sync (%u, now %u)", uidvalidity,
                     fs.uidvalidity);
        return FALSE;
    }
    return TRUE;
}

/* A new connection with the folder selected again, for isolate(). */
static gboolean
reselect (Download *d, GError **error)
{
    return nms_sync_reselect (d->run, d->folder, d->uidvalidity, error);
}

/* The server dropped the connection in the middle of a batch (@first): Dovecot does so when
 * it cannot read a message's file (t716). The messages of the batch that did not arrive are
 * fetched one at a time, over a fresh connection after each lost one, so only the message the
 * server cannot deliver is skipped and named; the rest of the folder arrives. */
static gboolean
isolate (Download *d, const guint32 *batch, guint n, const GError *first, GError **error)
{
    g_autoptr (GError) last = g_error_copy (first); /* the previous FETCH's failure, or NULL */

    for (guint i = 0; i < n; i++) {
        if (g_hash_table_contains (d->arrived, GUINT_TO_POINTER (batch[i])))
            continue;
        if (last != NULL && nms_sync_session_lost (last)) {
            g_autoptr (GError) again = NULL;

            if (!g_error_matches (last, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM)) {
                g_propagate_error (error, g_steal_pointer (&last));
                return FALSE; /* a hostile reply: the folder fails, as without isolation */
            }
            if (!reselect (d, &again)) {
                /* What broke the connection says more than the failed reconnect. */
                g_set_error (error, last->domain, last->code, "%s; reconnecting failed: %s",
                             last->message, again->message);
                return FALSE;
            }
        }
        g_clear_error (&last);
        if (!fetch_and_land (d, &batch[i], 1, &last, error))
            return FALSE;
        report_undelivered (d, &batch[i], 1,
                            last != NULL ? last->message : "the server did not send it");
    }
    /* The next folder must not find a dead connection. */
    if (last != NULL && nms_sync_session_lost (last))
        g_clear_pointer (&d->run->session, nms_imap_session_free);
    return TRUE;
}

static gboolean
download_batch (Download *d, const guint32 *batch, guint n, GError **error)
{
    g_autoptr (GError) fetch_error = NULL;

    g_hash_table_remove_all (d->arrived);
    g_ptr_array_sort (d->wanted, cmp_action_uid);
    if (!fetch_and_land (d, batch, n, &fetch_error, error))
        return FALSE;
    /* Only a lost connection (or a BYE): a hostile reply (PROTOCOL) fails the folder. */
    if (g_error_matches (fetch_error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM))
        return isolate (d, batch, n, fetch_error, error);
    if (fetch_error != NULL && !g_error_matches (fetch_error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO)) {
        g_propagate_error (error, g_steal_pointer (&fetch_error));
        return FALSE;
    }
    report_undelivered (d, batch, n,
                        fetch_error != NULL ? fetch_error->message : "the server did not send it");
    return TRUE;
}

gboolean
nms_sync_download (Run *run, const Folder *folder, guint32 uidvalidity, GArray *plan,
                   GError **error)
{
    g_autoptr (GPtrArray) wanted = g_ptr_array_sized_new (FETCH_BATCH);
    g_autoptr (GArray) uids = g_array_sized_new (FALSE, FALSE, sizeof (guint32), FETCH_BATCH);
    g_autoptr (GHashTable) arrived = g_hash_table_new (NULL, NULL);
    g_autoptr (NmsMaildirBatch) batch = nms_maildir_batch_new (folder->dir);
    g_autoptr (GPtrArray) landing = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_maildir_name_free);
    g_autoptr (GPtrArray) landing_actions = g_ptr_array_new ();
    g_autoptr (GArray) landing_sizes = g_array_new (FALSE, FALSE, sizeof (guint64));
    Download d = { .run = run, .folder = folder, .wanted = wanted, .arrived = arrived,
                   .batch = batch, .landing = landing, .landing_actions = landing_actions,
                   .landing_sizes = landing_sizes,
                   .uidvalidity = uidvalidity };

    /* Batches in plan order, as the plan lists them; the plan is not changed meanwhile. */
    for (guint i = 0; i < plan->len; i++) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);

        if (a->kind != NMS_ACTION_DOWNLOAD)
            continue;
        g_ptr_array_add (wanted, a);
        g_array_append_val (uids, a->uid);
        if (uids->len == FETCH_BATCH) {
            if (!download_batch (&d, (const guint32 *) uids->data, uids->len, error))
                return FALSE;
            g_ptr_array_set_size (wanted, 0);
            g_array_set_size (uids, 0);
        }
    }
    if (uids->len > 0 && !download_batch (&d, (const guint32 *) uids->data, uids->len, error))
        return FALSE;
    return TRUE;
}

/* ---- uploads ----------------------------------------------------------------------------
 * 1. intent APPEND (folder, the file's unique part, the folder's UIDNEXT before, the
 *    Message-ID and the CRLF size), committed durably;
 * 2. APPEND;
 * 3. the file is renamed to carry ",U=<new uid>";
 * 4. state + intent removal in one transaction.
 * A crash before 2 leaves an intent whose message is not on the server: recovery drops it and
 * the file is uploaded again. A crash after 2 leaves the message on the server: recovery finds
 * it among the UIDs from UIDNEXT on by Message-ID and size, and finishes 3 and 4 instead of
 * uploading a second copy. A crash after 3 leaves a file with the new UID: recovery finds that
 * too (the state does not know the UID yet), and the plan adopts the file. */

static char *
give_uid_once (const char *path, guint32 uid, gboolean durable, GError **error)
{
    g_autofree char *base = g_path_get_basename (path);
    g_autoptr (NmsMaildirName) name = nms_maildir_name_parse (base, error);

    g_autofree char *renamed = NULL;

    if (name == NULL)
        return NULL;
    renamed = name->uid == uid ? g_strdup (path)
                               : nms_maildir_set_uid_full (path, uid, durable, error);
    /* A file a mail client wrote without info ("...:2,") gets it, so that every file nmsync
     * has synced reads "<unique>,U=<uid>:2,<flags>" (DESIGN section 6), in new/ too. */
    if (renamed != NULL && name->flags == NULL && uid != 0) {
        char *with_info = nms_maildir_set_flags_full (renamed, "", durable, error);
        g_free (renamed);
        renamed = with_info;
    }
    return g_steal_pointer (&renamed);
}

/* Attempts at renaming a file that a mail client keeps renaming under us. */
#define GIVE_UID_ATTEMPTS 5

char *
nms_sync_give_uid (const char *path, guint32 uid, GError **error)
{
    return nms_sync_give_uid_full (path, uid, TRUE, error);
}

char *
nms_sync_give_uid_full (const char *path, guint32 uid, gboolean durable, GError **error)
{
    g_autofree char *folder_dir = NULL;
    g_autofree char *current = g_strdup (path);
    g_autoptr (NmsMaildirName) name = NULL;
    g_autofree char *filename = g_path_get_basename (path);

    for (int attempt = 1;; attempt++) {
        g_autoptr (GError) local = NULL;
        g_autofree char *found = NULL;
        char *renamed = give_uid_once (current, uid, durable, &local);

        if (renamed != NULL)
            return renamed;
        /* Renamed by a mail client since we looked (a flag change, new/ to cur/): the file
         * keeps its unique part, so look it up by that and try again. */
        if (attempt == GIVE_UID_ATTEMPTS || !nms_sync_vanished (current) ||
            (name == NULL && (name = nms_maildir_name_parse (filename, NULL)) == NULL)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
        if (folder_dir == NULL) {
            g_autofree char *dir = g_path_get_dirname (path);
            folder_dir = g_path_get_dirname (dir);
        }
        found = nms_sync_find_local (&(Folder) { .dir = folder_dir }, name->base, NULL);
        if (found == NULL) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
        g_free (current);
        current = g_steal_pointer (&found);
    }
}

guint32
nms_sync_find_ident (Run *run, const char *folder, GPtrArray *idents, const char *message_id,
                     guint64 size)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) saved = nms_state_messages (run->state, folder, &error);
    g_autoptr (GHashTable) known = g_hash_table_new (NULL, NULL);

    for (guint i = 0; saved != NULL && i < saved->len; i++)
        g_hash_table_add (known, GUINT_TO_POINTER (g_array_index (saved, NmsStateMessage, i).uid));
    for (guint i = idents->len; i-- > 0;) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);

        if (g_hash_table_contains (known, GUINT_TO_POINTER (id->uid)) || id->size != size)
            continue;
        if (g_strcmp0 (id->message_id, message_id) == 0)
            return id->uid;
    }
    return 0;
}

static gboolean
uid_known (Run *run, const char *folder, guint32 uid, GError **error)
{
    gboolean found = FALSE;

    if (!nms_state_message_exists (run->state, folder, uid, &found, error))
        return TRUE; /* cannot tell: not new */
    return found;
}

/* RFC 4315 §3 gives a stored message a UID of its own, at or above the UIDNEXT before the
 * command. A server naming another one (mbsync's CVE-2021-3578 was an unexpected APPENDUID)
 * would pair the file with a different message: lost on one side, twice on the other. */
gboolean
nms_sync_uid_is_new (Run *run, const char *folder, guint32 uidvalidity, guint32 uidnext,
                     guint32 uid)
{
    g_autoptr (GError) error = NULL;
    NmsStateFolder saved = { 0 };
    gboolean found = FALSE;
    const char *why = NULL;

    if (!nms_state_folder_get (run->state, folder, &saved, &found, &error))
        why = error->message;
    else if (uid == 0)
        why = "no UID";
    else if (found && uidvalidity != 0 && uidvalidity != saved.uidvalidity)
        why = "another UIDVALIDITY";
    else if (uid < (uidnext != 0 ? uidnext : saved.uidnext))
        why = "below the folder's UIDNEXT";
    else if (uid_known (run, folder, uid, &error))
        why = error != NULL ? error->message : "the UID of another message";
    if (why == NULL)
        return TRUE;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: folder '%s': the server named UID %u (UIDVALIDITY %u) for the message "
                     "just stored, which cannot be its UID (%s); looking it up by Message-ID",
                     run->account->name, folder, uid, uidvalidity, why);
    return FALSE;
}

gboolean
nms_sync_fit_name (Run *run, const Folder *folder, NmsMaildirEntry *e, GError **error)
{
    g_autoptr (NmsMaildirName) name = NULL;
    g_autofree char *filename = NULL, *old_name = NULL;
    char *renamed;

    if (nms_maildir_name_fits (e->name))
        return TRUE;
    old_name = g_path_get_basename (e->path);
    if ((renamed = nms_maildir_rename_fresh (e->path, error)) == NULL) {
        g_prefix_error (error, "name too long to carry a UID: ");
        return FALSE;
    }
    filename = g_path_get_basename (renamed);
    if ((name = nms_maildir_name_parse (filename, error)) == NULL) {
        g_free (renamed);
        return FALSE;
    }
    nms_context_log (run->ctx, NMS_LEVEL_INFO,
                     "%s: folder '%s': '%s' renamed to '%s': its name (%zu bytes) was too long "
                     "to carry a UID", run->account->name, folder->name, e->path, filename,
                     strlen (old_name));
    g_free (e->path);
    e->path = renamed;
    nms_maildir_name_free (e->name);
    e->name = g_steal_pointer (&name);
    return TRUE;
}

/* Step 3 and 4 of an upload (also of its recovery): the file gets the UID, the state the
 * message. The index hears of the rename from @indexed_path (see nms_sync_upload). */
static gboolean
finish_upload (Run *run, const Folder *folder, const char *path, const char *indexed_path,
               guint32 uid, gint64 intent, const char *message_id, guint64 size, GError **error)
{
    g_autofree char *renamed = nms_sync_give_uid (path, uid, error);
    g_autoptr (NmsMaildirName) name = NULL;
    g_autofree char *base = NULL;

    if (renamed == NULL)
        return FALSE;
    nms_sync_file_event (run, NMS_FILE_RENAMED, renamed, indexed_path);
    base = g_path_get_basename (renamed);
    if ((name = nms_maildir_name_parse (base, error)) == NULL)
        return FALSE;
    if (!nms_state_begin (run->state, error) ||
        !nms_state_message_put (run->state, folder->name, uid, name->flags ? name->flags : "",
                                name->base, error) ||
        (message_id != NULL &&
         !nms_state_message_set_content (run->state, folder->name, uid, message_id, size,
                                         error)) ||
        !nms_state_intent_remove (run->state, intent, error) ||
        !nms_state_commit (run->state, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    return TRUE;
}

static gboolean
upload (Run *run, const Folder *folder, guint32 uidnext, NmsMaildirEntry *entry,
        const char *indexed_path, GError **error)
{
    g_autofree char *message_id = NULL;
    guint64 size = 0;
    guint32 uidvalidity = 0, uid = 0;
    struct stat st;
    NmsStateIntent in = { .kind = NMS_INTENT_APPEND, .folder = folder->name, .uidnext = uidnext };
    gint64 id;

    if (stat (entry->path, &st) != 0) {
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MESSAGE, "file vanished before upload");
        return FALSE;
    }
    if (!nms_maildir_message_id (entry->path, &message_id, error) ||
        !nms_maildir_crlf_size (entry->path, &size, error))
        return FALSE;
    in.path = entry->name->base;
    in.message_id = message_id;
    in.size = size;
    if ((id = nms_sync_intent (run, &in, error)) == 0)
        return FALSE;
    if (!nms_imap_append (run->session, folder->wire_name, entry->path,
                          entry->name->flags ? entry->name->flags : "", st.st_mtime, &uidvalidity,
                          &uid, error))
        return FALSE;
    nms_sync_step (run);
    if (uid != 0 && !nms_sync_uid_is_new (run, folder->name, uidvalidity, uidnext, uid))
        uid = 0;
    if (uid == 0) {
        /* No APPENDUID (no UIDPLUS), or one that cannot be right: find the copy by
         * Message-ID and size. */
        g_autoptr (GPtrArray) idents = NULL;

        if (!nms_imap_select (run->session, folder->wire_name, FALSE, &(NmsImapFolderState) { 0 },
                              error) ||
            (idents = nms_imap_fetch_idents (run->session, uidnext, error)) == NULL)
            return FALSE;
        uid = nms_sync_find_ident (run, folder->name, idents, message_id, size);
        if (uid == 0) {
            g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MESSAGE,
                         "uploaded, but the server did not say its UID and it cannot be found");
            return FALSE;
        }
    }
    run->ctx->progress.uploaded++;
    run->ctx->progress.bytes_uploaded += size;
    nms_context_progress (run->ctx);
    return finish_upload (run, folder, entry->path, indexed_path, uid, id, message_id, size,
                          error);
}

/* A name too long for ",U=" is replaced before the intent and the APPEND: a crash after that
 * rename leaves a new local file under a fresh name, uploaded by the next run. The index is
 * told of both renames at once: its writer runs behind, and by the time it would look at the
 * intermediate name that file is gone already, so the old name would stay. */
gboolean
nms_sync_upload (Run *run, const Folder *folder, guint32 uidnext, NmsMaildirEntry *entry,
                 GError **error)
{
    g_autofree char *indexed_path = g_strdup (entry->path);

    if (!nms_sync_fit_name (run, folder, entry, error))
        return FALSE;
    if (upload (run, folder, uidnext, entry, indexed_path, error))
        return TRUE;
    nms_sync_file_event (run, NMS_FILE_RENAMED, entry->path, indexed_path);
    return FALSE;
}

char *
nms_sync_find_local (const Folder *folder, const char *base, GError **error)
{
    g_autoptr (GPtrArray) scan = nms_maildir_scan (folder->dir, error);

    for (guint i = 0; scan != NULL && i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        if (e->name != NULL && strcmp (e->name->base, base) == 0)
            return g_strdup (e->path);
    }
    return NULL;
}

gboolean
nms_sync_recover_append (Run *run, const Folder *folder, const NmsStateIntent *intent,
                         GError **error)
{
    g_autoptr (GPtrArray) idents = NULL;
    g_autofree char *path = NULL;
    NmsImapFolderState fs;
    guint32 uid;

    if (!nms_imap_select (run->session, folder->wire_name, FALSE, &fs, error) ||
        (idents = nms_imap_fetch_idents (run->session, MAX (intent->uidnext, 1), error)) == NULL)
        return FALSE;
    uid = nms_sync_find_ident (run, folder->name, idents, intent->message_id, intent->size);
    path = nms_sync_find_local (folder, intent->path, error);
    if (uid == 0 || path == NULL) {
        /* The APPEND never happened (or the file is gone): the plan starts over. */
        nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: %s: interrupted upload of '%s' %s",
                         run->account->name, folder->name, intent->path,
                         uid == 0 ? "had not reached the server" : "has no local file left");
        return nms_state_intent_remove (run->state, intent->id, error);
    }
    nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: %s: interrupted upload of '%s' completed as UID %u",
                     run->account->name, folder->name, intent->path, uid);
    return finish_upload (run, folder, path, path, uid, intent->id, intent->message_id,
                          intent->size, error);
}

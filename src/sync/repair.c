/* SPDX-License-Identifier: GPL-3.0-or-later
 * A folder's UIDVALIDITY changed: every UID the state and the file names hold is void. Local
 * files are paired with server messages by Message-ID and CRLF size and renamed to the new
 * UIDs; nothing is deleted and nothing that pairs is downloaded again. Files that do not pair
 * lose their stale ",U=" and count as new local messages (a sync uploads them).
 *
 * The renames happen inside one open state transaction that rewrites the folder's records and
 * its UIDVALIDITY. A crash before the commit leaves the old UIDVALIDITY in the state, so the
 * next run repairs again; files already renamed pair again to the same UIDs (the rename is then
 * a no-op), so the repair is idempotent. */
#include "config.h"

#include "sync/sync-private.h"

#include <string.h>

/* Server messages by "size/Message-ID", each key a queue of uids in ascending order. */
static GHashTable *
server_index (GPtrArray *idents)
{
    GHashTable *ix = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_queue_free);

    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);
        char *key = g_strdup_printf ("%u/%s", id->size, id->message_id ? id->message_id : "");
        GQueue *q = g_hash_table_lookup (ix, key);

        if (q == NULL) {
            q = g_queue_new ();
            g_hash_table_insert (ix, key, q);
        } else {
            g_free (key);
        }
        g_queue_push_tail (q, GUINT_TO_POINTER (id->uid));
    }
    return ix;
}

/* The flags agreed for the old UID, when the state knew it; else the file's own. */
static const char *
agreed_flags (GArray *saved, const NmsMaildirEntry *e)
{
    for (guint i = 0; e->name->uid != 0 && i < saved->len; i++) {
        NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);
        if (m->uid == e->name->uid)
            return m->flags;
    }
    return e->name->flags != NULL ? e->name->flags : "";
}

/* Pairs one file: renames it and records it, or drops its stale UID. */
static gboolean
repair_file (Run *run, const Folder *folder, GHashTable *ix, GArray *saved, NmsMaildirEntry *e,
             guint *paired, GError **error)
{
    g_autofree char *message_id = NULL, *key = NULL, *renamed = NULL, *indexed_path = NULL;
    guint64 size = 0;
    GQueue *q;
    guint32 uid = 0;

    if (!nms_maildir_message_id (e->path, &message_id, error) ||
        !nms_maildir_crlf_size (e->path, &size, error))
        return FALSE;
    key = g_strdup_printf ("%" G_GUINT64_FORMAT "/%s", size, message_id ? message_id : "");
    if ((q = g_hash_table_lookup (ix, key)) != NULL && !g_queue_is_empty (q))
        uid = GPOINTER_TO_UINT (g_queue_pop_head (q));
    if (uid == 0 && e->name->uid == 0)
        return TRUE; /* a new local message already */
    indexed_path = g_strdup (e->path);
    if ((uid != 0 && !nms_sync_fit_name (run, folder, e, error)) ||
        (renamed = nms_sync_give_uid (e->path, uid, error)) == NULL) {
        nms_sync_file_event (run, NMS_SYNC_FILE_RENAMED, e->path, indexed_path);
        return FALSE;
    }
    nms_sync_file_event (run, NMS_SYNC_FILE_RENAMED, renamed, indexed_path);
    if (uid == 0)
        return TRUE;
    (*paired)++;
    return nms_state_message_put (run->state, folder->name, uid, agreed_flags (saved, e),
                                  e->name->base, error);
}

gboolean
nms_sync_repair (Run *run, const Folder *folder, guint32 old, guint32 uidvalidity, GError **error)
{
    g_autoptr (GPtrArray) idents = NULL, scan = NULL;
    g_autoptr (GArray) saved = NULL;
    g_autoptr (GHashTable) ix = NULL;
    NmsStateFolder fresh = { .uidvalidity = uidvalidity };
    guint paired = 0, files = 0;

    if (old != uidvalidity)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': UIDVALIDITY changed from %u to %u; pairing local "
                         "files with the server's messages by Message-ID and size",
                         run->account->name, folder->name, old, uidvalidity);
    if ((idents = nms_imap_fetch_idents (run->session, 1, error)) == NULL ||
        (saved = nms_state_messages (run->state, folder->name, error)) == NULL ||
        (scan = nms_maildir_scan (folder->dir, error)) == NULL)
        return FALSE;
    ix = server_index (idents);
    if (!nms_state_begin (run->state, error))
        return FALSE;
    if (!nms_state_folder_forget (run->state, folder->name, error) ||
        !nms_state_folder_set (run->state, folder->name, &fresh, error))
        goto fail;
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name == NULL)
            continue;
        files++;
        if (!repair_file (run, folder, ix, saved, e, &paired, error))
            goto fail;
    }
    if (!nms_state_commit (run->state, error))
        goto fail;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: folder '%s': %u of %u local files paired with server messages",
                     run->account->name, folder->name, paired, files);
    return TRUE;
fail:
    nms_state_rollback (run->state);
    return FALSE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * A folder's UIDVALIDITY changed: every UID the state and the file names hold is void. Local
 * files are paired with server messages by Message-ID and CRLF size and renamed to the new
 * UIDs (the pairing of content.c, as for files nmsync meets without state); nothing is
 * deleted and nothing that pairs is downloaded again. Files that do not pair
 * lose their stale ",U=" and count as new local messages (a sync uploads them).
 *
 * The renames happen inside one open state transaction that rewrites the folder's records and
 * its UIDVALIDITY. A crash before the commit leaves the old UIDVALIDITY in the state, so the
 * next run repairs again; files already renamed pair again to the same UIDs (the rename is then
 * a no-op), so the repair is idempotent. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <string.h>

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

/* Gives one file the server UID it paired with (@uid), or drops its stale one (@uid 0). */
static gboolean
repair_file (Run *run, const Folder *folder, GArray *saved, NmsMaildirEntry *e, guint32 uid,
             GError **error)
{
    g_autofree char *renamed = NULL, *indexed_path = NULL;

    if (uid == 0 && e->name->uid == 0)
        return TRUE; /* a new local message already */
    indexed_path = g_strdup (e->path);
    if ((uid != 0 && !nms_sync_fit_name (run, folder, e, error)) ||
        (renamed = nms_sync_give_uid (e->path, uid, error)) == NULL) {
        nms_sync_file_event (run, NMS_FILE_RENAMED, e->path, indexed_path);
        return FALSE;
    }
    nms_sync_file_event (run, NMS_FILE_RENAMED, renamed, indexed_path);
    if (uid == 0)
        return TRUE;
    return nms_state_message_put (run->state, folder->name, uid, agreed_flags (saved, e),
                                  e->name->base, error);
}

gboolean
nms_sync_repair (Run *run, const Folder *folder, guint32 old, guint32 uidvalidity, GError **error)
{
    g_autoptr (GPtrArray) idents = NULL, scan = NULL, files = g_ptr_array_new ();
    g_autoptr (GArray) saved = NULL, pairs = NULL;
    g_autofree guint32 *uid_of = NULL;
    NmsStateFolder fresh = { .uidvalidity = uidvalidity };

    if (old != uidvalidity)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': UIDVALIDITY changed from %u to %u; pairing local "
                         "files with the server's messages by Message-ID and size",
                         run->account->name, folder->name, old, uidvalidity);
    if ((idents = nms_imap_fetch_idents (run->session, 1, error)) == NULL ||
        (saved = nms_state_messages (run->state, folder->name, error)) == NULL ||
        (scan = nms_maildir_scan (folder->dir, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        if (e->name != NULL)
            g_ptr_array_add (files, e); /* every UID is void: every file is a candidate */
    }
    /* The one pairing of content.c; it may fetch bodies (collisions), so before the
     * transaction opens. */
    if ((pairs = nms_sync_pair_match (run, folder, files, idents, error)) == NULL)
        return FALSE;
    uid_of = g_new0 (guint32, files->len + 1);
    for (guint i = 0; i < pairs->len; i++) {
        const NmsPair *p = &g_array_index (pairs, NmsPair, i);
        uid_of[p->local] = ((NmsImapMessageIdent *) g_ptr_array_index (idents, p->server))->uid;
    }
    if (!nms_state_begin (run->state, error))
        return FALSE;
    if (!nms_state_folder_forget (run->state, folder->name, error) ||
        !nms_state_folder_set (run->state, folder->name, &fresh, error))
        goto fail;
    for (guint i = 0; i < files->len; i++) {
        if (!repair_file (run, folder, saved, g_ptr_array_index (files, i), uid_of[i], error))
            goto fail;
    }
    if (!nms_state_commit (run->state, error))
        goto fail;
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: folder '%s': %u of %u local files paired with server messages",
                     run->account->name, folder->name, pairs->len, files->len);
    return TRUE;
fail:
    nms_state_rollback (run->state);
    return FALSE;
}

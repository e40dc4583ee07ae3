/* SPDX-License-Identifier: GPL-3.0-or-later
 * The server's side of `nmsync check`: per folder its message count and Message-IDs, read
 * with EXAMINE and the same UID FETCH of Message-IDs that pairing by content uses
 * (nms_imap_fetch_idents): nothing on the server changes. */
#include "nms-build.h"

#include "sync/sync.h"

#include <string.h>

#include "imap/imap.h"
#include "sync/sync-private.h"

void
nms_sync_server_folder_free (NmsSyncServerFolder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    if (folder->message_ids != NULL)
        g_ptr_array_unref (folder->message_ids);
    g_free (folder);
}

static gboolean
wanted (const NmsAccount *account, char **folders, const NmsImapFolder *f)
{
    if (f->name == NULL || f->noselect)
        return FALSE;
    if (folders != NULL)
        return g_strv_contains ((const char *const *) folders, f->name);
    return nms_config_folder_selected (account->folders, f->name, '/');
}

/* EXAMINE and fetch the Message-IDs of @f. */
static NmsSyncServerFolder *
examine (NmsImapSession *session, const NmsImapFolder *f, GError **error)
{
    g_autoptr (GPtrArray) idents = NULL;
    NmsImapFolderState st;
    NmsSyncServerFolder *out;

    if (!nms_imap_select (session, f->wire_name, TRUE, &st, error))
        return NULL;
    if (st.exists == 0)
        idents = g_ptr_array_new ();
    else if ((idents = nms_imap_fetch_idents (session, 1, error)) == NULL)
        return NULL;
    out = g_new0 (NmsSyncServerFolder, 1);
    out->name = g_strdup (f->name);
    out->messages = idents->len;
    out->message_ids = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);

        if (id->message_id != NULL)
            g_ptr_array_add (out->message_ids, g_ascii_strdown (id->message_id, -1));
    }
    return out;
}

static int
by_name (gconstpointer a, gconstpointer b)
{
    return strcmp ((*(NmsSyncServerFolder *const *) a)->name,
                   (*(NmsSyncServerFolder *const *) b)->name);
}

GPtrArray *
nms_sync_check_server (NmsContext *ctx, const NmsAccount *account, char **folders,
                       GError **error)
{
    g_autoptr (GPtrArray) out =
        g_ptr_array_new_with_free_func ((GDestroyNotify) nms_sync_server_folder_free);
    g_autoptr (GPtrArray) list = NULL;
    g_autoptr (NmsImapSession) session = NULL;
    char *password = nms_account_get_password (account, error);

    if (password == NULL)
        return NULL;
    session = nms_imap_session_connect (account, password, error);
    memset (password, 0, strlen (password));
    g_free (password);
    if (session == NULL || (list = nms_imap_list (session, error)) == NULL)
        return NULL;
    for (guint i = 0; i < list->len; i++) {
        const NmsImapFolder *f = g_ptr_array_index (list, i);
        g_autoptr (GError) local = NULL;
        NmsSyncServerFolder *sf;

        if (!wanted (account, folders, f))
            continue;
        if ((sf = examine (session, f, &local)) == NULL) {
            nms_context_skip (ctx, "%s: cannot examine server folder '%s': %s", account->name,
                              f->name, local->message);
            if (nms_sync_session_lost (local))
                break;
            continue;
        }
        g_ptr_array_add (out, sf);
    }
    g_ptr_array_sort (out, by_name);
    return g_steal_pointer (&out);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * A mail client (mutt, notmuch, a script) renames, moves and deletes files while nmsync runs.
 * Between a folder's scan and an action on one of its files, that file may have changed its
 * name: the action is then skipped for that message and retried by the next run, which sees
 * the new name. And a scan may miss a file that was being renamed during the walk (readdir
 * gives no guarantee about entries renamed meanwhile): such a file must not be taken for a
 * message deleted locally, or its message would be expunged on the server. */
#include "config.h"

#include "sync/sync-private.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Rescans of a folder to confirm local deletions; another one only while the directories keep
 * changing under the scan. */
#define CONFIRM_SCANS 3

gboolean
nms_sync_vanished (const char *path)
{
    struct stat st;

    return lstat (path, &st) != 0 && errno == ENOENT;
}

/* The modification times of cur/ and new/: any rename into, out of or inside them changes one.
 * FALSE when one cannot be read. */
static gboolean
dirs_stamp (const char *folder_dir, gint64 stamp_out[2])
{
    stamp_out[0] = nms_maildir_subdir_mtime_ns (folder_dir, "cur");
    stamp_out[1] = nms_maildir_subdir_mtime_ns (folder_dir, "new");
    return stamp_out[0] != 0 && stamp_out[1] != 0;
}

/* Drops from @plan the DELETE_SERVER actions of messages whose file @scan holds after all
 * (its UID in the name, or the unique part the state records for that UID). */
static void
drop_found (Run *run, const Folder *folder, GArray *plan, GPtrArray *scan, GHashTable *bases)
{
    g_autoptr (GHashTable) uids = g_hash_table_new (NULL, NULL);
    g_autoptr (GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name == NULL)
            continue;
        g_hash_table_add (uids, GUINT_TO_POINTER (e->name->uid));
        g_hash_table_add (names, e->name->base);
    }
    for (guint i = plan->len; i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        const char *base = g_hash_table_lookup (bases, GUINT_TO_POINTER (a->uid));

        if (a->kind != NMS_ACTION_DELETE_SERVER)
            continue;
        if (!g_hash_table_contains (uids, GUINT_TO_POINTER (a->uid)) &&
            (base == NULL || *base == '\0' || !g_hash_table_contains (names, base)))
            continue;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': message UID %u: its file was renamed by another "
                         "program while nmsync read the folder; not deleted on the server, "
                         "retried next run", run->account->name, folder->name, a->uid);
        g_array_remove_index (plan, i);
    }
}

void
nms_sync_confirm_deletions (Run *run, const Folder *folder, GArray *plan)
{
    g_autoptr (GArray) saved = NULL;
    g_autoptr (GHashTable) bases = g_hash_table_new (NULL, NULL);
    gboolean any = FALSE;

    for (guint i = 0; i < plan->len && !any; i++)
        any = g_array_index (plan, NmsAction, i).kind == NMS_ACTION_DELETE_SERVER;
    if (!any)
        return;
    if ((saved = nms_state_messages (run->state, folder->name, NULL)) != NULL) {
        for (guint i = 0; i < saved->len; i++) {
            NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);
            g_hash_table_insert (bases, GUINT_TO_POINTER (m->uid), m->base);
        }
    }
    for (int attempt = 0; attempt < CONFIRM_SCANS; attempt++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (GPtrArray) scan = NULL;
        gint64 before[2], after[2];
        gboolean stamped = dirs_stamp (folder->dir, before);

        if ((scan = nms_maildir_scan (folder->dir, &error)) == NULL) {
            /* Without a second look nothing is confirmed: keep every message this time. */
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: folder '%s': not deleting on the server: %s",
                             run->account->name, folder->name, error->message);
            for (guint i = plan->len; i-- > 0;) {
                if (g_array_index (plan, NmsAction, i).kind == NMS_ACTION_DELETE_SERVER)
                    g_array_remove_index (plan, i);
            }
            return;
        }
        drop_found (run, folder, plan, scan, bases);
        if (stamped && dirs_stamp (folder->dir, after) && before[0] == after[0] &&
            before[1] == after[1])
            return;
    }
}

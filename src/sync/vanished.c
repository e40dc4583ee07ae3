/* SPDX-License-Identifier: GPL-3.0-or-later
 * A mail client (mutt, notmuch, a script) renames, moves and deletes files while nmsync runs.
 * Between a folder's scan and an action on one of its files, that file may have changed its
 * name: the action is then skipped for that message and retried by the next run, which sees
 * the new name. And a scan may miss a file that was being renamed during the walk (readdir
 * gives no guarantee about entries renamed meanwhile): such a file must not be taken for a
 * message deleted locally, or its message would be expunged on the server.
 * A file moved to another folder after the run's move detection (nms_sync_moves) is neither a
 * local deletion in its old folder nor a new message in its new one: both folders leave it
 * alone, and the next run's move detection moves it on the server (UID MOVE: same message,
 * same INTERNALDATE). Those folders are not recorded as completely synced, so the next run
 * looks at them again whatever their directory times say. */
#include "nms-build.h"

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

/* ---- files moved between folders during the run ------------------------------------------ */

/* Where the files of the run's other folders are. */
typedef struct {
    gboolean built;
    GHashTable *at;    /* "folder\nbase" of every file */
    GHashTable *where; /* base -> folder name (transfer none), of the files whose folder's state
                        * does not know them: what the next run's move detection looks at (a
                        * file the state knows there is a copy made earlier, and a message
                        * deleted here while such a copy exists is deleted) */
} Elsewhere;

static void
elsewhere_clear (Elsewhere *ew)
{
    g_clear_pointer (&ew->at, g_hash_table_unref);
    g_clear_pointer (&ew->where, g_hash_table_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Elsewhere, elsewhere_clear)

/* Scans every folder of the run but @folder that has a server side (move detection looks at no
 * other), each again while its directories change under the scan (bounded); the last scan
 * counts. */
static void
elsewhere_build (Run *run, const Folder *folder, Elsewhere *ew)
{
    ew->built = TRUE;
    ew->at = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    ew->where = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (guint i = 0; run->folders != NULL && i < run->folders->len; i++) {
        const Folder *f = g_ptr_array_index (run->folders, i);
        g_autoptr (GPtrArray) scan = NULL;
        g_autoptr (GArray) known = NULL;
        g_autoptr (GHashTable) bases = NULL;

        if (f == folder || f->wire_name == NULL || strcmp (f->name, folder->name) == 0)
            continue;
        for (int attempt = 0; attempt < CONFIRM_SCANS; attempt++) {
            gint64 before[2], after[2];
            gboolean stamped = dirs_stamp (f->dir, before);

            g_clear_pointer (&scan, g_ptr_array_unref);
            if ((scan = nms_maildir_scan (f->dir, NULL)) == NULL ||
                (stamped && dirs_stamp (f->dir, after) && before[0] == after[0] &&
                 before[1] == after[1]))
                break;
        }
        known = nms_state_messages (run->state, f->name, NULL);
        bases = g_hash_table_new (g_str_hash, g_str_equal);
        for (guint j = 0; known != NULL && j < known->len; j++)
            g_hash_table_add (bases, g_array_index (known, NmsStateMessage, j).base);
        for (guint j = 0; scan != NULL && j < scan->len; j++) {
            NmsMaildirEntry *e = g_ptr_array_index (scan, j);

            if (e->name == NULL || e->name->base[0] == '\0')
                continue;
            g_hash_table_add (ew->at, g_strdup_printf ("%s\n%s", f->name, e->name->base));
            if (!g_hash_table_contains (bases, e->name->base))
                g_hash_table_insert (ew->where, g_strdup (e->name->base), f->name);
        }
    }
}

/* The other folder of the run that holds a file with unique part @base its state does not know
 * (a file moved there, which the next run's move detection will move), or NULL. */
static const char *
moved_to (Run *run, const Folder *folder, Elsewhere *ew, const char *base)
{
    if (base == NULL || *base == '\0')
        return NULL;
    if (!ew->built)
        elsewhere_build (run, folder, ew);
    return g_hash_table_lookup (ew->where, base);
}

static const Folder *
run_folder (Run *run, const char *name)
{
    for (guint i = 0; run->folders != NULL && i < run->folders->len; i++) {
        const Folder *f = g_ptr_array_index (run->folders, i);
        if (strcmp (f->name, name) == 0)
            return f;
    }
    return NULL;
}

/* Messages of @saved whose file left for another folder. */
static gboolean
hold_departures (Run *run, const Folder *folder, GArray *saved, GPtrArray *scan, GArray *server,
                 GArray *agreed, Elsewhere *ew)
{
    g_autoptr (GHashTable) uids = g_hash_table_new (NULL, NULL);
    g_autoptr (GHashTable) bases = g_hash_table_new (g_str_hash, g_str_equal);
    gboolean held = FALSE;

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name != NULL) {
            g_hash_table_add (uids, GUINT_TO_POINTER (e->name->uid));
            g_hash_table_add (bases, e->name->base);
        }
    }
    for (guint i = 0; i < saved->len; i++) {
        NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);
        const char *to;

        if (g_hash_table_contains (uids, GUINT_TO_POINTER (m->uid)) ||
            g_hash_table_contains (bases, m->base) ||
            (to = moved_to (run, folder, ew, m->base)) == NULL)
            continue;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': message UID %u: its file was moved to '%s' by another "
                         "program during this run; not deleted on the server, moved there by "
                         "the next run", run->account->name, folder->name, m->uid, to);
        nms_sync_plan_drop_uid (server, m->uid);
        nms_sync_plan_drop_uid (agreed, m->uid);
        held = TRUE;
    }
    return held;
}

/* Files of @scan that the state places in another folder of the run, which no longer holds
 * them (one it still holds is a copy: uploaded as a new message, as moves.c decides). */
static gboolean
hold_arrivals (Run *run, const Folder *folder, GArray *saved, GPtrArray *scan, Elsewhere *ew)
{
    g_autoptr (GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
    gboolean held = FALSE;

    for (guint i = 0; i < saved->len; i++)
        g_hash_table_add (known, g_array_index (saved, NmsStateMessage, i).base);
    for (guint i = scan->len; i-- > 0;) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        g_autofree char *from = NULL, *key = NULL;
        NmsStateMessage msg = { 0 };
        gboolean found = FALSE;
        const Folder *source;

        if (e->name == NULL || e->name->base[0] == '\0' ||
            g_hash_table_contains (known, e->name->base) ||
            !nms_state_message_find_base (run->state, e->name->base, &from, &msg, &found, NULL))
            continue;
        g_free (msg.base);
        if (!found || strcmp (from, folder->name) == 0 || (source = run_folder (run, from)) == NULL ||
            source->wire_name == NULL)
            continue;
        if (!ew->built)
            elsewhere_build (run, folder, ew);
        key = g_strdup_printf ("%s\n%s", from, e->name->base);
        if (g_hash_table_contains (ew->at, key))
            continue;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': file '%s' was moved here from '%s' by another program "
                         "during this run; not uploaded, moved on the server by the next run",
                         run->account->name, folder->name, e->path, from);
        g_ptr_array_remove_index (scan, i);
        held = TRUE;
    }
    return held;
}

gboolean
nms_sync_hold_moves (Run *run, const Folder *folder, GArray *saved, GPtrArray *scan,
                     GArray *server, GArray *agreed)
{
    g_auto (Elsewhere) ew = { 0 };
    gboolean departed = hold_departures (run, folder, saved, scan, server, agreed, &ew);

    return hold_arrivals (run, folder, saved, scan, &ew) || departed;
}

/* The DELETE_SERVER actions of @plan whose file a second look finds in another folder. */
static void
drop_moved_away (Run *run, const Folder *folder, GArray *plan, GHashTable *bases)
{
    g_auto (Elsewhere) ew = { 0 };

    for (guint i = plan->len; i-- > 0;) {
        NmsAction *a = &g_array_index (plan, NmsAction, i);
        const char *to;

        if (a->kind != NMS_ACTION_DELETE_SERVER ||
            (to = moved_to (run, folder, &ew,
                            g_hash_table_lookup (bases, GUINT_TO_POINTER (a->uid)))) == NULL)
            continue;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': message UID %u: its file was moved to '%s' by another "
                         "program during this run; not deleted on the server, moved there by "
                         "the next run", run->account->name, folder->name, a->uid, to);
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
            break;
    }
    drop_moved_away (run, folder, plan, bases);
}

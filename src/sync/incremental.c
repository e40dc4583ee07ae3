/* SPDX-License-Identifier: GPL-3.0-or-later
 * Skipping what did not change. A folder is clean when the server's STATUS (UIDVALIDITY,
 * UIDNEXT, MESSAGES, HIGHESTMODSEQ) equals what the last complete sync of it recorded, the
 * mtimes of its cur/ and new/ equal the recorded ones, and no intent is pending for it: then
 * nothing can have changed on either side, and it is neither selected nor scanned.
 *
 * Why each part is needed:
 * - HIGHESTMODSEQ (RFC 7162) changes with every flag change, arrival and expunge; without
 *   CONDSTORE a flag change leaves UIDNEXT and MESSAGES alone, so such a folder is never clean.
 * - Every file added to, removed from or renamed in a directory changes its mtime; a file moved
 *   by another tool changes both directories'. Linux stamps mtimes from a clock that ticks
 *   every few milliseconds, so two changes within a tick may leave the same mtime: an mtime
 *   less than a second old at the time of the stat is not trusted (0 is recorded, and the next
 *   run scans). notmuch new does the same with the current second (LIBRARIES.md 2h).
 * - The recorded HIGHESTMODSEQ is set to 0 before a folder's actions start and written back
 *   only after they all succeeded with nothing skipped, so a crash, a skipped message or a
 *   push leaves it 0 and the next run takes the full path. A pull records the STATUS but not
 *   the mtimes, and skips on the server side alone (it never acts on local changes).
 * - The STATUS recorded is the one from the start of the run: our own changes (uploads,
 *   STOREs, downloads, renames) make the next run look at the folder once more, and that run
 *   records values that the run after finds unchanged. */
#include "nms-build.h"

#include "sync/sync-private.h"

#define NS_PER_SEC G_GINT64_CONSTANT (1000000000)

void
nms_sync_folder_take_status (Folder *folder, const NmsImapFolder *status)
{
    folder->has_status = status->has_status;
    folder->uidvalidity = status->uidvalidity;
    folder->uidnext = status->uidnext;
    folder->messages = status->messages;
    folder->highestmodseq = status->highestmodseq;
}

/* The mtime of @dir/@sub in nanoseconds; 0 when it cannot be read or is too recent to trust. */
static gint64
dir_mtime_ns (const char *dir, const char *sub)
{
    gint64 ns = nms_maildir_subdir_mtime_ns (dir, sub);
    gint64 now = g_get_real_time () * 1000; /* after the stat */

    return ns > now - NS_PER_SEC ? 0 : ns;
}

static gboolean
server_unchanged (const Folder *folder, const NmsStateFolder *saved)
{
    return folder->has_status && folder->highestmodseq != 0 &&
           saved->highestmodseq == folder->highestmodseq &&
           saved->uidvalidity == folder->uidvalidity && saved->uidnext == folder->uidnext &&
           saved->messages == folder->messages;
}

static gboolean
local_unchanged (const Folder *folder, const NmsStateFolder *saved)
{
    return folder->cur_mtime_ns != 0 && folder->new_mtime_ns != 0 &&
           saved->cur_mtime_ns == folder->cur_mtime_ns &&
           saved->new_mtime_ns == folder->new_mtime_ns;
}

static gboolean
intents_pending (Run *run, const Folder *folder)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) intents = nms_state_intents (run->state, folder->name, &error);

    return intents == NULL || intents->len > 0;
}

/* g_ptr_array_sort() hands the comparison pointers to the elements, not the elements: a bare
 * g_strcmp0 there compared the pointers' bytes, so the order (and the stored signature)
 * changed from run to run and every run reset every folder's HIGHESTMODSEQ. */
static gint
compare_strings (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

char *
nms_sync_keywords_signature (GHashTable *letters)
{
    g_autoptr (GPtrArray) pairs = g_ptr_array_new_with_free_func (g_free);
    GHashTableIter it;
    gpointer keyword, letter;

    g_hash_table_iter_init (&it, letters);
    while (g_hash_table_iter_next (&it, &keyword, &letter))
        g_ptr_array_add (pairs, g_strdup_printf ("%s=%s", (char *) letter, (char *) keyword));
    g_ptr_array_sort (pairs, compare_strings);
    g_ptr_array_add (pairs, NULL);
    return g_strjoinv (" ", (char **) pairs->pdata);
}

/* A keyword newly mapped to a letter changes what every message's flags read as, and the
 * server reports none of that as a change: then every folder is looked at in full once. */
static gboolean
keywords_unchanged (Run *run)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *now = nms_sync_keywords_signature (run->keyword_letters);
    g_autofree char *before = NULL;

    if (!nms_state_meta_get (run->state, "keyword-letters", &before, &error))
        return FALSE;
    if (g_strcmp0 (before, now) == 0)
        return TRUE;
    if (!run->ctx->dry_run && (!nms_state_folders_reset_modseq (run->state, &error) ||
                               !nms_state_meta_set (run->state, "keyword-letters", now, &error)))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s", run->account->name,
                         error->message);
    return FALSE;
}

void
nms_sync_find_clean (Run *run, GPtrArray *folders)
{
    gboolean keywords_same = keywords_unchanged (run);
    guint clean = 0, from_state = 0;

    for (guint i = 0; i < folders->len; i++) {
        Folder *folder = g_ptr_array_index (folders, i);
        g_autoptr (GError) error = NULL;
        NmsStateFolder saved;
        gboolean known = FALSE;

        folder->local_changed = TRUE;
        folder->clean = FALSE;
        folder->local_from_state = FALSE;
        if (folder->local) {
            folder->cur_mtime_ns = dir_mtime_ns (folder->dir, "cur");
            folder->new_mtime_ns = dir_mtime_ns (folder->dir, "new");
        }
        if (folder->wire_name == NULL || !folder->local ||
            !nms_state_folder_get (run->state, folder->name, &saved, &known, &error) || !known)
            continue;
        folder->local_changed = !local_unchanged (folder, &saved);
        /* A pull acts only on server changes: local ones wait for a push or sync, and a pull
         * never records local mtimes, so they cannot hide from that later run. */
        folder->clean = keywords_same && !folder->replaced &&
                        (run->policy.direction == NMS_PLAN_PULL || !folder->local_changed) &&
                        server_unchanged (folder, &saved) &&
                        !intents_pending (run, folder);
        clean += folder->clean;
        /* Nonzero mtimes are recorded only by a complete sync, which left the state equal to
         * the files it scanned (every file with its UID and flags, nothing else planned): with
         * the mtimes unchanged since, no file was added, removed or renamed, and the state
         * still describes cur/ and new/ exactly. A nonzero HIGHESTMODSEQ says no later run
         * (a pull, a push, a crashed or incomplete sync) wrote the record since. */
        folder->local_from_state = !folder->clean && keywords_same && !folder->replaced &&
                                   !folder->local_changed && saved.highestmodseq != 0 &&
                                   !intents_pending (run, folder);
        from_state += folder->local_from_state;
    }
    nms_context_log (run->ctx, NMS_LEVEL_DEBUG,
                     "%s: %u of %u folders unchanged on both sides, %u more locally",
                     run->account->name, clean, folders->len, from_state);
}

gboolean
nms_sync_folder_mark_dirty (Run *run, const Folder *folder, guint32 uidvalidity, guint32 uidnext,
                            GError **error)
{
    NmsStateFolder value = { .uidvalidity = uidvalidity, .uidnext = uidnext };

    return nms_state_folder_set (run->state, folder->name, &value, error);
}

/* @start_ns, the mtime of @dir/@sub read at the start of the run, when the directory still has
 * it; else 0. A directory this run changed (a download, a deleted file, a flag rename) no
 * longer matches the state's rows under its old mtime, and a restore from a backup that keeps
 * directory mtimes (cp -a, rsync -a) would bring that mtime back: recorded, it would make the
 * next runs trust the state for files it does not describe (t808). The next run reads such a
 * folder anyway, its mtime having changed. */
static gint64
still_same (const char *dir, const char *sub, gint64 start_ns)
{
    if (start_ns == 0 || dir == NULL)
        return 0;
    return nms_maildir_subdir_mtime_ns (dir, sub) == start_ns ? start_ns : 0;
}

void
nms_sync_folder_synced_value (Run *run, const Folder *folder, guint32 uidvalidity,
                              guint32 uidnext, gboolean complete, NmsStateFolder *value_out)
{
    *value_out = (NmsStateFolder) { .uidvalidity = uidvalidity, .uidnext = uidnext };
    /* A pull leaves the agreed flags equal to the server's (plan.c), so its STATUS may be
     * recorded; not its mtimes: local changes it did not push must be seen by the next sync.
     * A push leaves server changes unpulled, so it records neither. */
    if (complete && (run->policy.direction & NMS_PLAN_PULL) && folder->has_status &&
        folder->uidvalidity == uidvalidity) {
        value_out->uidnext = folder->uidnext;
        value_out->messages = folder->messages;
        value_out->highestmodseq = folder->highestmodseq;
        if (run->policy.direction == NMS_PLAN_SYNC) {
            value_out->cur_mtime_ns = still_same (folder->dir, "cur", folder->cur_mtime_ns);
            value_out->new_mtime_ns = still_same (folder->dir, "new", folder->new_mtime_ns);
        }
    }
}

gboolean
nms_sync_folder_mark_synced (Run *run, const Folder *folder, guint32 uidvalidity,
                             guint32 uidnext, gboolean complete, GError **error)
{
    NmsStateFolder value;

    nms_sync_folder_synced_value (run, folder, uidvalidity, uidnext, complete, &value);
    return nms_state_folder_set (run->state, folder->name, &value, error);
}

static gboolean
contains_uid (GArray *sorted, guint *pos, guint32 uid)
{
    while (*pos < sorted->len && g_array_index (sorted, guint32, *pos) < uid)
        (*pos)++;
    return *pos < sorted->len && g_array_index (sorted, guint32, *pos) == uid;
}

GArray *
nms_sync_server_from_changes (GArray *saved, GArray *changed, GArray *vanished)
{
    GArray *out = g_array_sized_new (FALSE, TRUE, sizeof (NmsImapMessageInfo),
                                     saved->len + changed->len);
    guint i = 0, j = 0, v = 0;

    while (i < saved->len || j < changed->len) {
        const NmsStateMessage *s = i < saved->len ? &g_array_index (saved, NmsStateMessage, i)
                                                  : NULL;
        const NmsImapMessageInfo *c =
            j < changed->len ? &g_array_index (changed, NmsImapMessageInfo, j) : NULL;
        NmsImapMessageInfo m = { 0 };

        if (c != NULL && (s == NULL || c->uid <= s->uid)) {
            m = *c;
            if (s != NULL && s->uid == c->uid)
                i++;
            j++;
        } else {
            m.uid = s->uid;
            g_strlcpy (m.flags, s->flags, sizeof m.flags);
            i++;
        }
        if (!contains_uid (vanished, &v, m.uid))
            g_array_append_val (out, m);
    }
    return out;
}

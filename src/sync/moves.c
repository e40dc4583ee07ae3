/* SPDX-License-Identifier: GPL-3.0-or-later
 * Moves between folders done locally by another tool (a mail client, a script, notmuch rules):
 * a file now in folder B whose unique part the state records for a message of folder A, and
 * which A no longer holds, was moved, not copied. nmsync moves the message on the server (UID
 * MOVE, or COPY + \Deleted + UID EXPUNGE) and gives the file the new UID: no body crosses the
 * network, and no tool sees a duplicate UID. This works whether the mover kept ",U=" (mbsync
 * would then see a duplicate) or dropped it. This file takes the snapshot (the changed folders'
 * files the state does not place there, and where the state records them), the planner
 * (nms_plan_moves, plan-moves.c) decides which are moves, and this file carries them out.
 *
 * Order: intent MOVE (A, uid, B, the file's unique part, Message-ID, size) -> server move ->
 * file renamed to the new UID -> state (forget A/uid, record B/new uid) + intent removal in one
 * transaction. After a crash, recovery looks for the copy in B by Message-ID and size: none ->
 * nothing happened, drop the intent and detect again; found -> mark (and, with UIDPLUS, expunge)
 * the original in A if it is still there, and finish the rename and the state.
 *
 * A server without MOVE and UIDPLUS: COPY + STORE \Deleted, and no expunge at all (only a
 * plain EXPUNGE exists there, which would also remove what other clients marked). The original
 * stays in A marked \Deleted; the state forgets it, and the planner never downloads a message
 * marked \Deleted that the state does not know, so it is neither fetched again nor reported
 * on later runs. The copy is found in B by Message-ID and size and paired with the moved file:
 * never uploaded again. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <string.h>

/* What the local side holds: for each folder the set of unique parts of its files. */
typedef struct {
    GHashTable *bases;   /* folder name -> GHashTable of base strings */
    GHashTable *scans;   /* folder name -> GPtrArray of NmsMaildirEntry (owns the bases) */
} LocalIndex;

static void
index_clear (LocalIndex *ix)
{
    g_clear_pointer (&ix->bases, g_hash_table_unref);
    g_clear_pointer (&ix->scans, g_hash_table_unref);
}

/* A folder's scan: the one the deletion guard took this run (guard.c), else a new one. */
static void
index_scan (LocalIndex *ix, Folder *f)
{
    g_autoptr (GError) error = NULL;
    GPtrArray *scan;
    GHashTable *set;

    if (!f->local)
        return;
    if ((scan = g_steal_pointer (&f->prescan)) == NULL &&
        (scan = nms_maildir_scan (f->dir, &error)) == NULL)
        return;
    set = g_hash_table_new (g_str_hash, g_str_equal);
    for (guint j = 0; j < scan->len; j++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, j);
        if (e->name != NULL)
            g_hash_table_add (set, e->name->base);
    }
    g_hash_table_insert (ix->scans, f->name, scan);
    g_hash_table_insert (ix->bases, f->name, set);
}

/* Only folders whose local side changed can have received a moved file (a move changes the
 * mtimes of both directories); the others are scanned only when asked about (bases_of). */
static void
index_build (Run *run, GPtrArray *folders, LocalIndex *ix)
{
    ix->bases = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) g_hash_table_unref);
    ix->scans = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                       (GDestroyNotify) g_ptr_array_unref);
    for (guint i = 0; i < folders->len; i++) {
        Folder *f = g_ptr_array_index (folders, i);

        if (f->local_changed)
            index_scan (ix, f);
    }
}

/* The unique parts of @f's files, scanning @f now if it was not scanned yet: a file copied
 * (not moved) out of an unchanged folder is still there. NULL when @f has no local side. */
static GHashTable *
bases_of (LocalIndex *ix, Folder *f)
{
    if (!g_hash_table_contains (ix->bases, f->name))
        index_scan (ix, f);
    return g_hash_table_lookup (ix->bases, f->name);
}

static Folder *
folder_named (GPtrArray *folders, const char *name)
{
    for (guint i = 0; i < folders->len; i++) {
        Folder *f = g_ptr_array_index (folders, i);
        if (strcmp (f->name, name) == 0)
            return f;
    }
    return NULL;
}

/* The new UID of a message moved into @dest, when the server did not say (no COPYUID): the
 * newest message from UID @first on that the state does not know, with that Message-ID and
 * size (the original may still be there too, marked \Deleted, after a move back). */
static guint32
find_moved (Run *run, const Folder *dest, guint32 first, const char *message_id, guint64 size,
            GError **error)
{
    g_autoptr (GPtrArray) idents = NULL;
    NmsImapFolderState fs;

    if (!nms_imap_select (run->session, dest->wire_name, FALSE, &fs, error) ||
        (idents = nms_imap_fetch_idents (run->session, MAX (first, 1), error)) == NULL)
        return 0;
    return nms_sync_find_ident (run, dest->name, idents, message_id, size);
}

/* The file and the state follow the server: the file at @path in @dest gets @new_uid. The
 * index learns of the rename from @indexed_path (the name it may know the file by: the one
 * before drop_carried_uid, whose own rename it was not told, since its writer runs behind and
 * would find neither name). */
static gboolean
finish_move (Run *run, const char *source, guint32 uid, const Folder *dest, const char *path,
             const char *indexed_path, guint32 new_uid, const char *flags, const char *base,
             gint64 intent, GError **error)
{
    g_autofree char *renamed = nms_sync_give_uid (path, new_uid, error);

    if (renamed == NULL)
        return FALSE;
    nms_sync_file_event (run, NMS_FILE_RENAMED, renamed, indexed_path);
    if (!nms_state_begin (run->state, error) ||
        !nms_state_message_delete (run->state, source, uid, error) ||
        !nms_state_message_put (run->state, dest->name, new_uid, flags, base, error) ||
        !nms_state_intent_remove (run->state, intent, error) ||
        !nms_state_commit (run->state, error)) {
        nms_state_rollback (run->state);
        return FALSE;
    }
    run->ctx->progress.moved++;
    nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: moved UID %u from '%s' to '%s' (UID %u)",
                     run->account->name, uid, source, dest->name, new_uid);
    return TRUE;
}

/* The ",U=" a moved file kept names a message of its old folder, not of @dest: it goes before
 * anything else, so that whatever fails later, @dest's own sync never pairs the file with the
 * message that has that UID in @dest (nor counts it as a new message there twice). A crash
 * after the rename leaves a file without ",U=" whose unique part the state still records for
 * the source: detected as the same move by the next run. */
static gboolean
drop_carried_uid (NmsMaildirEntry *e, GError **error)
{
    char *renamed;

    if (e->name->uid == 0)
        return TRUE;
    if ((renamed = nms_sync_give_uid (e->path, 0, error)) == NULL)
        return FALSE;
    g_free (e->path);
    e->path = renamed;
    e->name->uid = 0;
    return TRUE;
}

static gboolean
move_server (Run *run, const Folder *source, const NmsStateMessage *msg, const Folder *dest,
             NmsMaildirEntry *e, const NmsMove *move, const char *indexed_path, GError **error)
{
    g_autofree char *message_id = NULL;
    guint64 size = 0;
    guint32 uidvalidity = 0, new_uid = 0;
    gboolean expunged = FALSE;
    NmsImapFolderState fs;
    NmsStateIntent in = { .kind = NMS_INTENT_MOVE, .folder = source->name, .uid = msg->uid,
                          .dest = dest->name, .path = e->name->base };
    gint64 id;

    if (!nms_maildir_message_id (e->path, &message_id, error) ||
        !nms_maildir_crlf_size (e->path, &size, error) ||
        !nms_imap_select (run->session, source->wire_name, FALSE, &fs, error))
        return FALSE;
    in.message_id = message_id;
    in.size = size;
    if ((id = nms_sync_intent (run, &in, error)) == 0 ||
        !nms_imap_move (run->session, msg->uid, dest->wire_name, &uidvalidity, &new_uid,
                        &expunged, error))
        return FALSE;
    nms_sync_step (run);
    if (new_uid != 0 && !nms_sync_uid_is_new (run, dest->name, uidvalidity, 0, new_uid))
        new_uid = 0;
    /* Without COPYUID the copy is where the plan says: every copy of this run lands at or
     * above the UIDNEXT @dest had at the start of the run; or, when another client moved the
     * same message the same way before this run, the copy is older. */
    if (new_uid == 0)
        new_uid = find_moved (run, dest, move->search_from, message_id, size, error);
    if (new_uid == 0 && move->search_older && (error == NULL || *error == NULL))
        new_uid = find_moved (run, dest, 1, message_id, size, error);
    if (new_uid == 0) {
        if (error != NULL && *error == NULL)
            g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MESSAGE,
                         "moved on the server, but its new UID cannot be found yet");
        return FALSE; /* the intent stays: the next run looks again */
    }
    if (!expunged)
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: UID %u stays in '%s' marked \\Deleted: the server lacks UIDPLUS, "
                         "so only a client's EXPUNGE removes it", run->account->name, msg->uid,
                         source->name);
    return finish_move (run, source->name, msg->uid, dest, e->path, indexed_path, new_uid,
                        msg->flags, e->name->base, id, error);
}

static gboolean
move_one (Run *run, const Folder *source, const NmsStateMessage *msg, const Folder *dest,
          NmsMaildirEntry *e, const NmsMove *move, GError **error)
{
    g_autofree char *indexed_path = g_strdup (e->path);

    if (!drop_carried_uid (e, error) || !nms_sync_fit_name (run, dest, e, error)) {
        nms_sync_file_event (run, NMS_FILE_RENAMED, e->path, indexed_path);
        return FALSE;
    }
    if (move_server (run, source, msg, dest, e, move, indexed_path, error))
        return TRUE;
    /* the file keeps the name without ",U=": the index must know it by that one */
    nms_sync_file_event (run, NMS_FILE_RENAMED, e->path, indexed_path);
    return FALSE;
}

char *
nms_sync_pending_move_key (char kind, const char *folder, const char *base, guint32 uid)
{
    if (kind == 'F')
        return g_strdup_printf ("F\n%s\n%s", folder, base);
    return g_strdup_printf ("U\n%s\n%u", folder, uid);
}

/* Remembers a move found but not done, for the folder plans (see forget_pending_moves). */
static void
hold_move (Run *run, const Folder *source, const NmsStateMessage *msg, const Folder *dest,
           const NmsMaildirEntry *e)
{
    g_hash_table_add (run->pending_moves,
                      nms_sync_pending_move_key ('F', dest->name, e->name->base, 0));
    g_hash_table_add (run->pending_moves,
                      nms_sync_pending_move_key ('U', source->name, NULL, msg->uid));
}

/* --dry-run: says what would move, and remembers it for the folder plans. */
static void
dry_move (Run *run, const Folder *source, const NmsStateMessage *msg, const Folder *dest,
          const NmsMaildirEntry *e)
{
    nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: would move UID %u from '%s' to '%s' ('%s')",
                     run->account->name, msg->uid, source->name, dest->name, e->path);
    hold_move (run, source, msg, dest, e);
}

/* ---- snapshot, plan, execute ------------------------------------------------------------ */

/* What the executor needs of one candidate beyond the planner's data. */
typedef struct {
    Folder *dest;
    Folder *source;      /* NULL unless the state places the file's message in another folder */
    NmsMaildirEntry *e;  /* in the index's scan of @dest (transfer none) */
    NmsStateMessage msg; /* the state's record of the message (owns msg.base) */
    char *from;          /* the folder the state records it in */
} Found;

static void
found_clear (gpointer p)
{
    Found *f = p;

    g_free (f->msg.base);
    g_free (f->from);
}

/* The snapshot of one destination: every file of @dest that the state does not place there,
 * with where the state records its message and whether that folder still holds the file. */
static void
find_candidates (Run *run, GPtrArray *folders, LocalIndex *ix, Folder *dest, GArray *found,
                 GArray *candidates)
{
    GPtrArray *scan = g_hash_table_lookup (ix->scans, dest->name);
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) saved = nms_state_messages (run->state, dest->name, &error);
    g_autoptr (GHashTable) here = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; saved != NULL && i < saved->len; i++)
        g_hash_table_add (here, g_array_index (saved, NmsStateMessage, i).base);
    for (guint i = 0; scan != NULL && saved != NULL && i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        Found f = { .dest = dest, .e = e };
        gboolean known = FALSE;
        GHashTable *source_bases;

        if (e->name == NULL || e->name->base[0] == '\0' ||
            g_hash_table_contains (here, e->name->base))
            continue;
        if (!nms_state_message_find_base (run->state, e->name->base, &f.from, &f.msg, &known,
                                          &error) || !known) {
            found_clear (&f);
            g_clear_error (&error);
            continue;
        }
        f.source = folder_named (folders, f.from);
        source_bases = f.source != NULL ? bases_of (ix, f.source) : NULL;
        g_array_append_val (found, f);
        g_array_append_val (candidates, ((NmsMoveCandidate) {
            .dest = dest->name,
            .base = e->name->base,
            .source = f.from,
            .uid = f.msg.uid,
            .source_on_server = f.source != NULL && f.source->wire_name != NULL,
            .source_has_file = source_bases != NULL &&
                               g_hash_table_contains (source_bases, e->name->base),
            .dest_has_status = dest->has_status,
            .dest_uidnext = dest->uidnext,
        }));
    }
}

/* Carries out one planned move. FALSE when the run cannot go on (no connection). */
static gboolean
execute_move (Run *run, LocalIndex *ix, const NmsMove *move, Found *f)
{
    GHashTable *dest_bases = g_hash_table_lookup (ix->bases, f->dest->name);
    NmsMaildirEntry *e = f->e;
    g_autoptr (GError) error = NULL;
    gboolean ok;

    if (run->ctx->dry_run) {
        dry_move (run, f->source, &f->msg, f->dest, e);
        return TRUE;
    }
    /* move_one may give the file a fresh name (nms_sync_fit_name frees the old one) */
    if (dest_bases != NULL)
        g_hash_table_remove (dest_bases, e->name->base);
    ok = move_one (run, f->source, &f->msg, f->dest, e, move, &error);
    if (dest_bases != NULL)
        g_hash_table_add (dest_bases, e->name->base);
    if (ok)
        return TRUE;
    /* Neither the file nor the message may be touched by the folder syncs this run: the file
     * would be uploaded again (and after a COPY whose UID was not found, the copy downloaded
     * too) and the original deleted. The next run retries. */
    hold_move (run, f->source, &f->msg, f->dest, e);
    if (nms_sync_vanished (e->path) && !nms_sync_session_lost (error))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: moving '%s' from '%s' to '%s' on the server: the file vanished "
                         "(renamed or deleted by another program); retried next run",
                         run->account->name, e->path, f->from, f->dest->name);
    else
        nms_context_skip (run->ctx, "%s: moving '%s' from '%s' to '%s' on the server: %s",
                          run->account->name, e->path, f->from, f->dest->name, error->message);
    if (nms_sync_session_lost (error))
        g_clear_pointer (&run->session, nms_imap_session_free);
    g_clear_error (&error);
    return nms_sync_connect (run, &error);
}

/* The scans of the changed folders are what their syncs would read again a moment later: each
 * is handed to its folder (->prescan), except where a file of the folder was a candidate (a
 * move renames it, a failed or dry-run one holds it back: that folder is read anew). The
 * scan was taken after the folder's mtimes were read, as the folder sync's own would be. */
static void
hand_over_scans (LocalIndex *ix, GPtrArray *folders, GArray *found)
{
    g_autoptr (GHashTable) concerned = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < found->len; i++)
        g_hash_table_add (concerned, g_array_index (found, Found, i).dest->name);
    for (guint i = 0; i < folders->len; i++) {
        Folder *f = g_ptr_array_index (folders, i);
        gpointer scan = NULL;

        if (!f->local_changed || f->prescan != NULL ||
            g_hash_table_contains (concerned, f->name))
            continue;
        /* the bases set points into the scan's entries: it goes first */
        g_hash_table_remove (ix->bases, f->name);
        if (g_hash_table_steal_extended (ix->scans, f->name, NULL, &scan))
            f->prescan = scan;
    }
}

void
nms_sync_moves (Run *run, GPtrArray *folders)
{
    LocalIndex ix = { 0 };
    g_autoptr (GArray) found = g_array_new (FALSE, TRUE, sizeof (Found));
    g_autoptr (GArray) candidates = g_array_new (FALSE, TRUE, sizeof (NmsMoveCandidate));
    g_autoptr (GArray) moves = NULL;
    NmsMoveServer server = { 0 };

    if (run->session == NULL)
        return;
    server.has_move = nms_imap_session_has_capability (run->session, "MOVE");
    server.has_uidplus = nms_imap_session_has_capability (run->session, "UIDPLUS");
    g_array_set_clear_func (found, found_clear);
    index_build (run, folders, &ix);
    for (guint i = 0; i < folders->len; i++) {
        Folder *f = g_ptr_array_index (folders, i);

        if (f->local && f->wire_name != NULL && f->local_changed)
            find_candidates (run, folders, &ix, f, found, candidates);
    }
    moves = nms_plan_moves ((NmsMoveCandidate *) candidates->data, candidates->len, &server);
    for (guint i = 0; i < moves->len && run->session != NULL; i++) {
        const NmsMove *move = &g_array_index (moves, NmsMove, i);

        if (!execute_move (run, &ix, move, &g_array_index (found, Found, move->candidate)))
            break;
    }
    hand_over_scans (&ix, folders, found);
    index_clear (&ix);
}

/* The recovery of a move whose copy is in the destination: the original must not stay
 * there unmarked (a crash between COPY and STORE), or the next sync of the source would see
 * the message again and download it. */
static gboolean
finish_source (Run *run, const Folder *source, guint32 uid, GError **error)
{
    g_autoptr (GArray) infos = NULL;
    NmsImapFolderState fs;
    const NmsImapMessageInfo *info;

    if (!nms_imap_select (run->session, source->wire_name, FALSE, &fs, error) ||
        (infos = nms_imap_fetch_infos (run->session, uid, error)) == NULL)
        return FALSE;
    info = infos->len > 0 ? &g_array_index (infos, NmsImapMessageInfo, 0) : NULL;
    if (info == NULL || info->uid != uid)
        return TRUE; /* moved or expunged */
    if (strchr (info->flags, 'T') == NULL && !nms_imap_store_flags (run->session, &uid, 1, "T",
                                                                   NULL, error))
        return FALSE;
    return !nms_imap_session_has_capability (run->session, "UIDPLUS") ||
           nms_imap_expunge_uids (run->session, &uid, 1, error);
}

/* After a crash between the intent and the state: the copy in the destination decides. Found
 * (by Message-ID and size, unknown to the state): the COPY or MOVE happened, so the source is
 * finished and the file renamed; not found: nothing happened, the intent goes and the move is
 * detected again. The source's UID alone cannot tell: without UIDPLUS a moved message stays
 * there, marked \Deleted, and a crash between COPY and STORE leaves it unmarked. */
gboolean
nms_sync_recover_move (Run *run, GPtrArray *folders, const NmsStateIntent *intent, GError **error)
{
    Folder *dest = folder_named (folders, intent->dest);
    Folder *source = folder_named (folders, intent->folder);
    g_autofree char *path = NULL, *from = NULL;
    NmsStateMessage msg = { 0 };
    gboolean found = FALSE, ok;
    guint32 new_uid;

    if (dest == NULL || source == NULL || source->wire_name == NULL || dest->wire_name == NULL)
        return nms_state_intent_remove (run->state, intent->id, error);
    new_uid = find_moved (run, dest, 1, intent->message_id, intent->size, error);
    if (new_uid == 0)
        return (error == NULL || *error == NULL) &&
               nms_state_intent_remove (run->state, intent->id, error);
    path = nms_sync_find_local (dest, intent->path, error);
    if (path == NULL ||
        !nms_state_message_find_base (run->state, intent->path, &from, &msg, &found, error))
        return (error == NULL || *error == NULL) &&
               nms_state_intent_remove (run->state, intent->id, error);
    ok = finish_source (run, source, intent->uid, error) &&
         finish_move (run, intent->folder, intent->uid, dest, path, path, new_uid,
                      found ? msg.flags : "", intent->path, intent->id, error);
    g_free (msg.base);
    return ok;
}

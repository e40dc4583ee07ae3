/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pairing by content, the I/O around the pure match of pair.c: which local files nmsync holds
 * no state for, their keys (Message-ID, CRLF size), the server's keys (one UID FETCH of
 * RFC822.SIZE and the Message-ID header), digests for the few collisions, and the renames.
 * One pairing for every place that meets files it cannot trust: a first sync, a new state, a
 * folder not seen before (folder.c), a UIDVALIDITY change (repair.c).
 *
 * A ",U=" is nmsync's only when the state records that UID with the same unique part: an
 * mbsync spool carries mbsync's own Maildir UIDs there, and a Maildir pointed at another
 * server carries the old server's. Pairing such a file by its ",U=" put flags and deletions
 * on a different message and never downloaded the one it stood for. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <stdio.h>
#include <string.h>

#include "util/fs.h"

/* TRUE when the ",U=" of @e is one nmsync gave: @saved (sorted NmsStateMessage) records the
 * UID with the file's unique part ("" in a state older than the unique parts: trusted). */
static gboolean
uid_is_ours (GArray *saved, const NmsMaildirEntry *e)
{
    guint lo = 0, hi = saved->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, mid);

        if (m->uid == e->name->uid)
            return m->base[0] == '\0' || strcmp (m->base, e->name->base) == 0;
        if (m->uid < e->name->uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return FALSE;
}

GPtrArray *
nms_sync_pair_candidates (GArray *saved, GPtrArray *scan)
{
    GPtrArray *out = g_ptr_array_new ();
    g_autoptr (GHashTable) ours = g_hash_table_new (NULL, NULL);

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name != NULL && e->name->uid != 0 && uid_is_ours (saved, e))
            g_hash_table_add (ours, GUINT_TO_POINTER (e->name->uid));
    }
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        /* A copy beside nmsync's own file of that UID (made by another tool) is left to the
         * snapshot, which reports the repeated UID and leaves the copy alone. */
        if (e->name != NULL &&
            (e->name->uid == 0 ||
             (!uid_is_ours (saved, e) &&
              !g_hash_table_contains (ours, GUINT_TO_POINTER (e->name->uid)))))
            g_ptr_array_add (out, e);
    }
    return out;
}

/* ---- digests: only for collisions and messages without a Message-ID ---------------------- */

/* SHA-256 of @len bytes without CR: the file stores LF where the server sends CRLF. */
static void
digest_update (GChecksum *sum, const char *data, gsize len)
{
    while (len > 0) {
        const char *cr = memchr (data, '\r', len);
        gsize n = cr != NULL ? (gsize) (cr - data) : len;

        g_checksum_update (sum, (const guchar *) data, n);
        if (cr == NULL)
            break;
        data += n + 1;
        len -= n + 1;
    }
}

/* Where mbsync's "X-TUID: " line starts in the header at the start of @buf, and its length
 * with its line end (*@len_out 0: none): the server's copy has no such line. */
static gsize
tuid_line (const char *buf, gsize n, gsize *len_out)
{
    gsize i = 0;

    *len_out = 0;
    while (i < n && buf[i] != '\n' && !(buf[i] == '\r' && i + 1 < n && buf[i + 1] == '\n')) {
        const char *nl = memchr (buf + i, '\n', n - i);
        gsize end = nl != NULL ? (gsize) (nl - buf) + 1 : n;

        if (end - i >= 8 && memcmp (buf + i, "X-TUID: ", 8) == 0) {
            *len_out = end - i;
            return i;
        }
        i = end;
    }
    return 0;
}

static char *
file_digest (const char *path)
{
    g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
    char buf[65536];
    FILE *f = fopen (path, "rb");
    gboolean first = TRUE;
    gsize n;

    if (f == NULL)
        return NULL; /* unreadable: it cannot pair, so it is uploaded (and fails there, named) */
    while ((n = fread (buf, 1, sizeof buf, f)) > 0) {
        gsize len, at = first ? tuid_line (buf, n, &len) : 0;

        if (first && len > 0) {
            digest_update (sum, buf, at);
            digest_update (sum, buf + at + len, n - at - len);
        } else {
            digest_update (sum, buf, n);
        }
        first = FALSE;
    }
    if (ferror (f)) {
        fclose (f);
        return NULL;
    }
    fclose (f);
    return g_strdup (g_checksum_get_string (sum));
}

typedef struct {
    GChecksum *sum;
    GHashTable *digests; /* uid -> digest string (owned) */
} ServerDigests;

static gboolean
digest_chunk (const char *data, gsize len, gpointer user_data, GError **error)
{
    ServerDigests *d = user_data;

    (void) error;
    if (d->sum == NULL)
        d->sum = g_checksum_new (G_CHECKSUM_SHA256);
    digest_update (d->sum, data, len);
    return TRUE;
}

static gboolean
digest_done (guint32 uid, gpointer user_data, GError **error)
{
    ServerDigests *d = user_data;

    (void) error;
    if (d->sum == NULL)
        d->sum = g_checksum_new (G_CHECKSUM_SHA256);
    g_hash_table_replace (d->digests, GUINT_TO_POINTER (uid),
                         g_strdup (g_checksum_get_string (d->sum)));
    g_clear_pointer (&d->sum, g_checksum_free);
    return TRUE;
}

/* What both sides' keys point into: every string they use is owned here. */
typedef struct {
    GArray *local;     /* NmsPairKey, one per candidate file */
    GArray *server;    /* NmsPairKey, one per ident */
    GPtrArray *owned;  /* strings the keys point to */
} Keys;

static void
keys_clear (Keys *k)
{
    g_clear_pointer (&k->local, g_array_unref);
    g_clear_pointer (&k->server, g_array_unref);
    g_clear_pointer (&k->owned, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Keys, keys_clear)

static const char *
keep (Keys *k, char *s)
{
    if (s != NULL)
        g_ptr_array_add (k->owned, s);
    return s;
}

/* Fetches the bodies of the server messages @need asks for and digests them. */
static gboolean
server_digests (Run *run, GPtrArray *idents, GArray *need, Keys *k, GError **error)
{
    static const NmsImapBodySink sink = { digest_chunk, digest_done };
    g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
    g_autoptr (GHashTable) digests = g_hash_table_new_full (NULL, NULL, NULL, g_free);
    ServerDigests d = { .digests = digests };
    gboolean ok;

    for (guint i = 0; i < need->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, g_array_index (need, guint, i));
        g_array_append_val (uids, id->uid);
    }
    ok = nms_imap_fetch_bodies (run->session, (guint32 *) uids->data, uids->len, &sink, &d, error);
    g_clear_pointer (&d.sum, g_checksum_free);
    for (guint i = 0; i < need->len; i++) {
        guint s = g_array_index (need, guint, i);
        NmsImapMessageIdent *id = g_ptr_array_index (idents, s);
        char *digest = g_hash_table_lookup (digests, GUINT_TO_POINTER (id->uid));

        if (digest != NULL && g_hash_table_steal (digests, GUINT_TO_POINTER (id->uid)))
            g_array_index (k->server, NmsPairKey, s).digest = keep (k, digest);
    }
    return ok;
}

/* The local keys: Message-ID and CRLF size of each candidate file (without the X-TUID field
 * mbsync adds to what it stores, which the server's copy lacks). The size needs the whole
 * file read, so only files whose Message-ID a server message has (or that have none, when a
 * server message has none) get one; the others cannot pair. A file that cannot be read gets
 * a key no server message has (it is then uploaded, and that names the problem). */
static void
local_keys (Run *run, const Folder *folder, GPtrArray *candidates, GPtrArray *idents, Keys *k)
{
    g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
    gboolean server_without_id = FALSE;

    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);

        if (id->message_id != NULL)
            g_hash_table_add (ids, id->message_id);
        else
            server_without_id = TRUE;
    }
    for (guint i = 0; i < candidates->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (candidates, i);
        g_autoptr (GError) error = NULL;
        char *message_id = NULL;
        NmsPairKey key = { .size = G_MAXUINT64 };
        gsize tuid = 0;
        gboolean wanted;

        if (!nms_maildir_message_id (e->path, &message_id, &error)) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: folder '%s': %s",
                             run->account->name, folder->name, error->message);
            g_array_append_val (k->local, key);
            continue;
        }
        wanted = message_id != NULL ? g_hash_table_contains (ids, message_id) : server_without_id;
        if (wanted && (!nms_maildir_crlf_size (e->path, &key.size, &error) ||
                       !nms_maildir_message_tuid_size (e->path, &tuid, &error))) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: folder '%s': %s",
                             run->account->name, folder->name, error->message);
            key.size = G_MAXUINT64;
        } else if (wanted) {
            key.size -= tuid; /* an mbsync spool's copy: the server's has no X-TUID field */
        }
        key.message_id = keep (k, message_id);
        g_array_append_val (k->local, key);
    }
}

GArray *
nms_sync_pair_match (Run *run, const Folder *folder, GPtrArray *candidates, GPtrArray *idents,
                     GError **error)
{
    g_auto (Keys) k = { .local = g_array_new (FALSE, TRUE, sizeof (NmsPairKey)),
                        .server = g_array_new (FALSE, TRUE, sizeof (NmsPairKey)),
                        .owned = g_ptr_array_new_with_free_func (g_free) };
    g_autoptr (GArray) need_l = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) need_s = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) pairs = NULL;

    local_keys (run, folder, candidates, idents, &k);
    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);
        NmsPairKey key = { .message_id = id->message_id, .size = id->size };

        g_array_append_val (k.server, key);
    }
    pairs = nms_pair_match ((NmsPairKey *) k.local->data, k.local->len,
                            (NmsPairKey *) k.server->data, k.server->len, need_l, need_s);
    if (need_l->len == 0 || need_s->len == 0)
        return g_steal_pointer (&pairs);
    nms_context_log (run->ctx, NMS_LEVEL_INFO,
                     "%s: folder '%s': %u local and %u server messages share a Message-ID and "
                     "size or have none; comparing their bodies", run->account->name,
                     folder->name, need_l->len, need_s->len);
    for (guint i = 0; i < need_l->len; i++) {
        guint l = g_array_index (need_l, guint, i);
        NmsMaildirEntry *e = g_ptr_array_index (candidates, l);

        g_array_index (k.local, NmsPairKey, l).digest = keep (&k, file_digest (e->path));
    }
    if (!server_digests (run, idents, need_s, &k, error))
        return NULL;
    g_array_unref (pairs);
    return nms_pair_match ((NmsPairKey *) k.local->data, k.local->len,
                           (NmsPairKey *) k.server->data, k.server->len, NULL, NULL);
}

/* Flags both sides have: what a first sync takes as agreed, so that the plan's three-way
 * merge keeps every flag either side carries (a flag the user set on either side is kept,
 * none is removed). */
static void
shared_flags (const char *a, const char *b, char *out)
{
    int n = 0;

    for (; *a != '\0' && n < NMS_MAILDIR_FLAGS_SIZE - 1; a++) {
        if (strchr (b, *a) != NULL)
            out[n++] = *a;
    }
    out[n] = '\0';
}

static const NmsImapMessageInfo *
info_of (GArray *server, guint32 uid)
{
    guint lo = 0, hi = server->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        const NmsImapMessageInfo *m = &g_array_index (server, NmsImapMessageInfo, mid);

        if (m->uid == uid)
            return m;
        if (m->uid < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int
cmp_state_uid (gconstpointer a, gconstpointer b)
{
    guint32 x = ((const NmsStateMessage *) a)->uid, y = ((const NmsStateMessage *) b)->uid;
    return x < y ? -1 : x > y;
}

/* The server messages of @server (sorted NmsImapMessageInfo) that @saved does not hold, as
 * idents: one UID FETCH from the lowest of them on. (transfer full: NULL with @error set) */
static GPtrArray *
unknown_idents (Run *run, GArray *server, GArray *saved, GError **error)
{
    g_autoptr (GHashTable) unknown = g_hash_table_new (NULL, NULL);
    g_autoptr (GPtrArray) idents = NULL;
    GPtrArray *out;
    guint32 first = 0;
    guint j = 0;

    for (guint i = 0; i < server->len; i++) {
        guint32 uid = g_array_index (server, NmsImapMessageInfo, i).uid;

        while (j < saved->len && g_array_index (saved, NmsStateMessage, j).uid < uid)
            j++;
        if (j < saved->len && g_array_index (saved, NmsStateMessage, j).uid == uid)
            continue;
        g_hash_table_add (unknown, GUINT_TO_POINTER (uid));
        if (first == 0)
            first = uid;
    }
    out = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_imap_message_ident_free);
    if (first == 0)
        return out;
    if ((idents = nms_imap_fetch_idents (run->session, first, error)) == NULL) {
        g_ptr_array_unref (out);
        return NULL;
    }
    /* The idents move to @out in uid order; the others are freed here. */
    g_ptr_array_set_free_func (idents, NULL);
    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *id = g_ptr_array_index (idents, i);

        if (g_hash_table_contains (unknown, GUINT_TO_POINTER (id->uid)))
            g_ptr_array_add (out, id);
        else
            nms_imap_message_ident_free (id);
    }
    return out;
}

/* Renames the file of @e to carry @uid, and the flags of @e->name where adopt rewrote its
 * keyword letters (adopt.c): one rename, so the name never has nmsync's letters without
 * nmsync's ",U=". A name without ",U=" (Dovecot's, most clients') is "<base>[:2,<flags>]"
 * exactly (nms_maildir_name_parse), so the new name is made from @e->name without reading
 * the old one again, with an empty info when it had none: one rename, where a name without
 * info took two (the UID, then the info), a fifth of adopt's renames with 50,000 files. When
 * that rename fails (a client renamed the file meanwhile), a file whose letters adopt did not
 * rewrite takes the path that finds it by its unique part. Not durable yet: record_pairs()
 * fsyncs the directories once for all. (transfer full) */
static char *
give_uid_and_letters (NmsMaildirEntry *e, guint32 uid, GError **error)
{
    g_autofree char *disk = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *name = NULL;
    g_autofree char *target = NULL;
    NmsMaildirName wanted = { e->name->base, uid, e->name->flags != NULL ? e->name->flags : "" };
    g_autoptr (GError) rename_error = NULL;

    if (e->name->uid != 0)
        return nms_sync_give_uid_full (e->path, uid, FALSE, error);
    dir = g_path_get_dirname (e->path);
    name = nms_maildir_name_format (&wanted);
    target = g_build_filename (dir, name, NULL);
    if (nms_fs_rename_noreplace (e->path, target, &rename_error))
        return g_steal_pointer (&target);
    disk = nms_sync_adopt_flags_on_disk (e->path);
    if (e->name->flags == NULL || g_strcmp0 (disk, e->name->flags) == 0)
        return nms_sync_give_uid_full (e->path, uid, FALSE, error);
    g_propagate_error (error, g_steal_pointer (&rename_error));
    return NULL;
}

/* Gives the file of @e the UID @uid (renamed in place: same inode). The rename is not durable
 * yet: it is added to @renames (new path, old path) for record_pairs() to make durable and
 * announce. */
static gboolean
take_uid (Run *run, const Folder *folder, NmsMaildirEntry *e, guint32 uid, GPtrArray *renames,
          GError **error)
{
    g_autofree char *indexed_path = g_strdup (e->path);
    char *renamed = NULL;

    /* A foreign name too long to carry ",U=" gets a fresh one first (transfer.c). */
    if (!nms_sync_fit_name (run, folder, e, error) ||
        (renamed = give_uid_and_letters (e, uid, error)) == NULL) {
        if (strcmp (e->path, indexed_path) != 0)
            nms_sync_file_event (run, NMS_FILE_RENAMED, e->path, indexed_path);
        g_prefix_error (error, "folder '%s': cannot pair '%s' with UID %u: ", folder->name,
                        e->path, uid);
        return FALSE;
    }
    if (strcmp (renamed, indexed_path) != 0) {
        g_ptr_array_add (renames, g_strdup (renamed));
        g_ptr_array_add (renames, g_steal_pointer (&indexed_path));
    }
    g_free (e->path);
    e->path = renamed;
    return TRUE;
}

/* Makes the renames of @renames (new path, old path) durable with one fsync of the folder's
 * cur/ and new/, then tells the indexer of each (it hears of a file once it is durable). */
static gboolean
renames_done (Run *run, const Folder *folder, GPtrArray *renames, GError **error)
{
    gboolean ok = renames->len == 0 || nms_maildir_folder_sync_dirs (folder->dir, error);

    for (guint i = 0; i + 1 < renames->len; i += 2)
        nms_sync_file_event (run, NMS_FILE_RENAMED, renames->pdata[i],
                             renames->pdata[i + 1]);
    return ok;
}

static int
cmp_pair_uid (gconstpointer a, gconstpointer b, gpointer user_data)
{
    GArray *saved = user_data;
    guint32 x = g_array_index (saved, NmsStateMessage, *(const guint *) a).uid;
    guint32 y = g_array_index (saved, NmsStateMessage, *(const guint *) b).uid;

    return x < y ? -1 : x > y;
}

/* The state rows of @pairs (their files renamed already; row i of @pairs is row
 * @first_saved + i of @saved), in one transaction. Written in UID order, the order of the
 * table's key: in the scan's order, every row landed on another page of a 50,000-row table,
 * and each commit wrote most of them to the WAL again. */
static gboolean
put_pairs (Run *run, const Folder *folder, GPtrArray *idents, GArray *pairs, GArray *saved,
           guint first_saved, GError **error)
{
    g_autofree guint *order = g_new (guint, pairs->len);

    for (guint i = 0; i < pairs->len; i++)
        order[i] = first_saved + i;
    g_qsort_with_data (order, pairs->len, sizeof (guint), cmp_pair_uid, saved);
    if (!nms_state_begin (run->state, error))
        return FALSE;
    for (guint i = 0; i < pairs->len; i++) {
        const NmsPair *p = &g_array_index (pairs, NmsPair, order[i] - first_saved);
        const NmsImapMessageIdent *id = g_ptr_array_index (idents, p->server);
        const NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, order[i]);

        if (!nms_state_message_put (run->state, folder->name, m->uid, m->flags, m->base, error) ||
            (id->message_id != NULL &&
             !nms_state_message_set_content (run->state, folder->name, m->uid, id->message_id,
                                             id->size, error))) {
            nms_state_rollback (run->state);
            return FALSE;
        }
    }
    return nms_state_commit (run->state, error);
}

/* Records @pairs: files renamed, then state rows written in one transaction (dry run: said,
 * with @how, and only applied to the snapshot in memory). The renames are made durable
 * together, by one fsync of the folder's directories, before the transaction begins: one
 * fsync per file made adopt of a large folder slow, and a name the state records must never
 * be one a power loss can take back. The renames run outside the transaction, so the folder
 * workers do not wait for each other's renames to write their own state. */
static gboolean
record_pairs (Run *run, const Folder *folder, GArray *server, GArray *saved,
              GPtrArray *candidates, GPtrArray *idents, GArray *pairs, const char *how,
              GError **error)
{
    g_autoptr (GPtrArray) renames = g_ptr_array_new_with_free_func (g_free);
    guint first_saved = saved->len;
    gboolean ok;

    if (pairs->len == 0)
        return TRUE;
    for (guint i = 0; i < pairs->len; i++) {
        const NmsPair *p = &g_array_index (pairs, NmsPair, i);
        NmsMaildirEntry *e = g_ptr_array_index (candidates, p->local);
        const NmsImapMessageIdent *id = g_ptr_array_index (idents, p->server);
        guint32 uid = id->uid;
        const NmsImapMessageInfo *srv = info_of (server, uid);
        NmsStateMessage m = { .uid = uid };

        shared_flags (e->name->flags != NULL ? e->name->flags : "", srv ? srv->flags : "",
                      m.flags);
        if (run->ctx->dry_run)
            nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                             "%s: %s: would pair '%s' with UID %u (%s)",
                             run->account->name, folder->name, e->path, uid, how);
        else if (!take_uid (run, folder, e, uid, renames, error)) {
            renames_done (run, folder, renames, NULL);
            g_array_set_size (saved, first_saved);
            return FALSE;
        }
        e->name->uid = uid;
        m.base = g_strdup (e->name->base);
        g_array_append_val (saved, m);
    }
    /* A crash before the commit leaves renamed files the state does not know: the next run
     * pairs them again, by content or by the other program's records, with the same UIDs
     * (the renames are then no-ops). */
    ok = run->ctx->dry_run || (renames_done (run, folder, renames, error) &&
                               put_pairs (run, folder, idents, pairs, saved, first_saved, error));
    g_array_sort (saved, cmp_state_uid);
    return ok;
}

/* A file that did not pair loses the ",U=" nmsync did not write: it is a new local message
 * (a sync uploads it and gives it the server's UID), and a foreign UID left in its name would
 * repeat one nmsync gives another file. No state changes, so a crash leaves nothing to undo. */
static void
drop_foreign_uid (Run *run, const Folder *folder, NmsMaildirEntry *e)
{
    g_autoptr (GError) error = NULL;
    char *renamed;

    if (e->name->uid == 0)
        return;
    if (run->ctx->dry_run) {
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %s: would drop ',U=%u' (not nmsync's) from '%s'",
                         run->account->name, folder->name, e->name->uid, e->path);
    } else if ((renamed = nms_sync_give_uid (e->path, 0, &error)) == NULL) {
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: folder '%s': %s", run->account->name,
                         folder->name, error->message);
    } else {
        nms_sync_file_event (run, NMS_FILE_RENAMED, renamed, e->path);
        g_free (e->path);
        e->path = renamed;
    }
    e->name->uid = 0;
}

/* The server could not say what the candidates would pair with: they sit this run out (out
 * of the scan), rather than being uploaded as new messages they may not be. A lost connection
 * is opened again, with the folder selected, for the rest of the folder's sync. */
static gboolean
hold (Run *run, const Folder *folder, guint32 uidvalidity, GPtrArray *scan,
      GPtrArray *candidates, GError *why, GError **error)
{
    g_autoptr (GHashTable) held = g_hash_table_new (NULL, NULL);

    nms_context_skip (run->ctx,
                      "%s: folder '%s': %u local files not paired with the server's messages "
                      "this run (nothing uploaded or renamed for them): %s",
                      run->account->name, folder->name, candidates->len, why->message);
    if (nms_sync_session_lost (why) && !nms_sync_reselect (run, folder, uidvalidity, error))
        return FALSE;
    for (guint i = 0; i < candidates->len; i++)
        g_hash_table_add (held, g_ptr_array_index (candidates, i));
    for (guint i = scan->len; i-- > 0;) {
        if (g_hash_table_contains (held, g_ptr_array_index (scan, i)))
            g_ptr_array_remove_index (scan, i);
    }
    return TRUE;
}

/* adopt: the candidates another program's records pair exactly (adopt.c) take their UIDs
 * first, with nothing read from the server, and leave @candidates; the rest pair by content. */
static gboolean
pair_exactly (Run *run, const Folder *folder, guint32 uidvalidity, GArray *server,
              GArray *saved, GPtrArray *candidates, GError **error)
{
    g_autoptr (GArray) exact = nms_sync_adopt_exact (run, folder, uidvalidity, server, candidates);
    g_autoptr (GPtrArray) idents =
        g_ptr_array_new_with_free_func ((GDestroyNotify) nms_imap_message_ident_free);
    g_autoptr (GArray) pairs = g_array_new (FALSE, FALSE, sizeof (NmsPair));

    for (guint i = 0; i < exact->len; i++) {
        const NmsAdoptPair *a = &g_array_index (exact, NmsAdoptPair, i);
        NmsImapMessageIdent *id = g_new0 (NmsImapMessageIdent, 1);
        NmsPair p = { .local = a->local, .server = idents->len };

        id->uid = a->uid;
        g_ptr_array_add (idents, id);
        g_array_append_val (pairs, p);
    }
    if (!record_pairs (run, folder, server, saved, candidates, idents, pairs,
                       "exactly, by the records of the program that wrote the Maildir", error))
        return FALSE;
    run->adopt_exact = pairs->len;
    for (guint i = exact->len; i-- > 0;)
        g_ptr_array_remove_index (candidates, g_array_index (exact, NmsAdoptPair, i).local);
    return TRUE;
}

gboolean
nms_sync_pair_folder (Run *run, const Folder *folder, guint32 uidvalidity, GArray *server,
                      GArray *saved, GPtrArray *scan, gboolean *held_out, GError **error)
{
    g_autoptr (GPtrArray) candidates = nms_sync_pair_candidates (saved, scan);
    g_autoptr (GPtrArray) idents = NULL;
    g_autoptr (GArray) pairs = NULL;
    g_autoptr (GError) fetch_error = NULL;
    g_autofree gboolean *paired = NULL;

    *held_out = FALSE;
    if (candidates->len > 0 && run->options->adopt)
        nms_sync_adopt_keywords (run, folder, candidates);
    if (candidates->len > 0 && run->options->adopt &&
        !pair_exactly (run, folder, uidvalidity, server, saved, candidates, error))
        return FALSE;
    if (candidates->len == 0)
        return TRUE;
    if ((idents = unknown_idents (run, server, saved, &fetch_error)) != NULL && idents->len > 0)
        pairs = nms_sync_pair_match (run, folder, candidates, idents, &fetch_error);
    else if (idents != NULL)
        pairs = g_array_new (FALSE, FALSE, sizeof (NmsPair));
    if (pairs == NULL) {
        if (fetch_error->domain != NMS_IMAP_ERROR) {
            g_propagate_error (error, g_steal_pointer (&fetch_error));
            return FALSE;
        }
        *held_out = TRUE;
        return hold (run, folder, uidvalidity, scan, candidates, fetch_error, error);
    }
    if (!record_pairs (run, folder, server, saved, candidates, idents, pairs,
                       "same Message-ID and size", error))
        return FALSE;
    run->adopt_content = pairs->len;
    paired = g_new0 (gboolean, candidates->len);
    for (guint i = 0; i < pairs->len; i++)
        paired[g_array_index (pairs, NmsPair, i).local] = TRUE;
    for (guint i = 0; i < candidates->len; i++) {
        if (!paired[i])
            drop_foreign_uid (run, folder, g_ptr_array_index (candidates, i));
    }
    if (pairs->len > 0)
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: %s: %u of %u local files without nmsync's UID paired with server "
                         "messages by Message-ID and size (nothing downloaded for them)",
                         run->account->name, folder->name, pairs->len, candidates->len);
    return TRUE;
}

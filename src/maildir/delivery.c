/* SPDX-License-Identifier: GPL-3.0-or-later
 * Delivery of messages: each written into tmp/ through a buffer (CRLF from the wire becomes
 * LF), made durable, then moved into cur/ or new/ under its final name without replacing any
 * file. One message at a time (nms_maildir_delivery_commit: fsync, rename, directory fsync),
 * or a batch at a time (NmsMaildirBatch: one syncfs, the renames, one fsync of cur/ and of
 * new/), which costs one flush for a FETCH instead of two per message. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

#define BUFFER_SIZE (64 * 1024)
#define CREATE_ATTEMPTS 8

struct _NmsMaildirDelivery {
    char *folder_dir;
    char *tmp_path;      /* NULL once the file has left tmp/ */
    int fd;              /* -1 once closed */
    char *buf;           /* BUFFER_SIZE bytes, buf_len of them pending */
    gsize buf_len;
    gboolean pending_cr; /* the last chunk ended in CR: LF or not decides what it was */
    gboolean failed;     /* a write failed: the file is incomplete */
    guint64 size;
};

/* Creates a fresh file in tmp/; the unique name makes EEXIST a stale leftover at worst. */
static int
create_tmp_file (const char *tmp_dir, char **path_out, GError **error)
{
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        g_autofree char *base = nms_maildir_tmp_name ();
        g_autofree char *path = g_build_filename (tmp_dir, base, NULL);
        int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd >= 0) {
            *path_out = g_steal_pointer (&path);
            return fd;
        }
        if (errno != EEXIST) {
            nms_fs_set_error (error, errno, "cannot create", path);
            return -1;
        }
    }
    nms_fs_set_error (error, EEXIST, "cannot create a unique file in", tmp_dir);
    return -1;
}

NmsMaildirDelivery *
nms_maildir_delivery_begin (const char *folder_dir, GError **error)
{
    g_autofree char *tmp_dir = NULL;
    NmsMaildirDelivery *d;
    GError *fs_error = NULL;
    char *path = NULL;
    int fd;

    g_return_val_if_fail (folder_dir != NULL, NULL);

    tmp_dir = g_build_filename (folder_dir, "tmp", NULL);
    fd = create_tmp_file (tmp_dir, &path, &fs_error);
    if (fd < 0) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    d = g_new0 (NmsMaildirDelivery, 1);
    d->folder_dir = g_strdup (folder_dir);
    d->tmp_path = path;
    d->fd = fd;
    d->buf = g_malloc (BUFFER_SIZE);
    return d;
}

static gboolean
flush_buffer (NmsMaildirDelivery *d, GError **error)
{
    GError *fs_error = NULL;

    if (d->buf_len == 0)
        return TRUE;
    if (!nms_fs_write_all (d->fd, d->buf, d->buf_len, d->tmp_path, &fs_error)) {
        d->failed = TRUE;
        return nms_maildir_propagate_fs_error (error, fs_error);
    }
    d->buf_len = 0;
    return TRUE;
}

/* Appends converted bytes to the buffer, writing it out whenever it is full. */
static gboolean
put (NmsMaildirDelivery *d, const char *data, gsize len, GError **error)
{
    d->size += len;
    while (len > 0) {
        gsize n = MIN (len, BUFFER_SIZE - d->buf_len);

        memcpy (d->buf + d->buf_len, data, n);
        d->buf_len += n;
        data += n;
        len -= n;
        if (d->buf_len == BUFFER_SIZE && !flush_buffer (d, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
earlier_failure (NmsMaildirDelivery *d, GError **error)
{
    g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO,
                 "cannot write '%s': an earlier write failed", d->tmp_path);
    return FALSE;
}

gboolean
nms_maildir_delivery_write (NmsMaildirDelivery *d, const char *buf, gsize len, GError **error)
{
    const char *p = buf;
    const char *end = buf + len;

    g_return_val_if_fail (d != NULL && d->fd >= 0 && (buf != NULL || len == 0), FALSE);

    if (d->failed)
        return earlier_failure (d, error);
    if (len == 0)
        return TRUE;
    /* A CR that ended the previous chunk is dropped when this one starts with its LF. */
    if (d->pending_cr && *p != '\n' && !put (d, "\r", 1, error))
        return FALSE;
    d->pending_cr = FALSE;
    while (p < end) {
        const char *cr = memchr (p, '\r', (gsize) (end - p));

        if (cr == NULL)
            return put (d, p, (gsize) (end - p), error);
        if (!put (d, p, (gsize) (cr - p), error))
            return FALSE;
        if (cr + 1 == end) {
            d->pending_cr = TRUE;
            return TRUE;
        }
        /* A lone CR is kept; the CR of a CRLF is dropped and its LF copied next round. */
        if (cr[1] != '\n' && !put (d, "\r", 1, error))
            return FALSE;
        p = cr + 1;
    }
    return TRUE;
}

guint64
nms_maildir_delivery_size (const NmsMaildirDelivery *d)
{
    g_return_val_if_fail (d != NULL, 0);

    return d->size;
}

/* Writes what is pending (a final lone CR is part of the message), fsyncs (when @durable) and
 * closes the tmp file. ENOSPC and EDQUOT may first show at fsync or close (delayed allocation,
 * NFS), so their errors are checked like those of write. */
static gboolean
finish_file (NmsMaildirDelivery *d, gboolean durable, GError **error)
{
    GError *fs_error = NULL;
    int fd = d->fd;

    if (d->pending_cr && !put (d, "\r", 1, error))
        return FALSE;
    d->pending_cr = FALSE;
    if (!flush_buffer (d, error))
        return FALSE;
    if (durable && fsync (fd) != 0) {
        nms_fs_set_error (&fs_error, errno, "cannot fsync", d->tmp_path);
        return nms_maildir_propagate_fs_error (error, fs_error);
    }
    d->fd = -1; /* Linux releases the descriptor even when close() fails */
    if (close (fd) != 0) {
        nms_fs_set_error (&fs_error, errno, "cannot close", d->tmp_path);
        return nms_maildir_propagate_fs_error (error, fs_error);
    }
    return TRUE;
}

/* Moves the finished tmp file to @target and makes the move durable.
 *
 * Crash safety, step by step:
 * - before this point only tmp/ holds the file, complete or not: scans ignore tmp/, and the
 *   next run removes it (nms_maildir_tmp_cleanup(): the name says whose it is), so nothing is
 *   half-delivered;
 * - the data was fsynced before the rename, so after a crash between the rename and the
 *   directory fsync the file is either still in tmp/ (rename lost) or complete in cur/ or new/;
 * - after the directory fsync the file is durable; the caller records it only after we return,
 *   so a crash before that leaves a complete file whose ",U=" lets the next run recognise it.
 * rename(2) is atomic, so a crash never leaves the file under both names or under neither. */
static gboolean
move_into_place (NmsMaildirDelivery *d, const char *target, GError **error)
{
    g_autofree char *target_dir = g_path_get_dirname (target);
    GError *fs_error = NULL;

    if (!nms_fs_rename_noreplace (d->tmp_path, target, &fs_error))
        return nms_maildir_propagate_fs_error (error, fs_error);
    g_clear_pointer (&d->tmp_path, g_free);
    if (!nms_fs_fsync_dir (target_dir, &fs_error)) {
        /* The contract says nothing is delivered on failure: take the file back out rather
         * than leave one that may or may not survive a crash. */
        unlink (target);
        return nms_maildir_propagate_fs_error (error, fs_error);
    }
    return TRUE;
}

char *
nms_maildir_delivery_commit (NmsMaildirDelivery *d, const NmsMaildirName *name,
                             gboolean into_new, GError **error)
{
    g_autoptr (NmsMaildirDelivery) owned = d;
    g_autofree char *filename = NULL;
    g_autofree char *target = NULL;

    g_return_val_if_fail (owned != NULL && owned->fd >= 0, NULL);
    g_return_val_if_fail (name != NULL && name->base != NULL && *name->base != '\0', NULL);
    g_return_val_if_fail (strchr (name->base, '/') == NULL, NULL);
    g_return_val_if_fail (name->flags == NULL || strchr (name->flags, '/') == NULL, NULL);

    if (d->failed) {
        earlier_failure (d, error);
        return NULL;
    }
    if (!finish_file (d, TRUE, error))
        return NULL;
    filename = nms_maildir_name_format (name);
    target = g_build_filename (d->folder_dir, into_new ? "new" : "cur", filename, NULL);
    if (!move_into_place (d, target, error))
        return NULL;
    return g_steal_pointer (&target);
}

void
nms_maildir_delivery_abort (NmsMaildirDelivery *d)
{
    if (d == NULL)
        return;
    nms_fd_clear (&d->fd);
    if (d->tmp_path != NULL)
        unlink (d->tmp_path);
    g_free (d->tmp_path);
    g_free (d->folder_dir);
    g_free (d->buf);
    g_free (d);
}

/* ---- batches -------------------------------------------------------------------------
 * The order, and what a crash (kill -9 or power loss) between the steps leaves:
 * 1. nms_maildir_batch_add: each file is written into tmp/ and closed, not fsynced. A crash
 *    leaves files in tmp/ only, complete or not, which scans ignore and stale-tmp cleaning
 *    removes: nothing is half-delivered.
 * 2. nms_maildir_batch_commit: one syncfs() makes every file's data durable. (Measured on
 *    ext4 here: 1,000 5 KB files took 0.45 s with fsync + rename + directory fsync per file,
 *    0.34 s with one fsync per file and 0.18 s with one syncfs, in batches of 200.)
 * 3. the renames into cur/ or new/. rename(2) is atomic and the data is durable already, so
 *    after a crash a file is either still in tmp/ or complete under its final name.
 * 4. one fsync of cur/ and one of new/: now the names are durable too.
 * 5. the caller records the files in its state only after the commit returned, so a crash
 *    before that leaves complete files whose ",U=" lets the next run adopt them. */

typedef struct {
    char *tmp_path; /* NULL once renamed */
    char *target;
} Pending;

struct _NmsMaildirBatch {
    char *folder_dir;
    GArray *files; /* Pending, in the order added */
};

static void
pending_clear (gpointer p)
{
    Pending *f = p;

    if (f->tmp_path != NULL)
        unlink (f->tmp_path);
    g_free (f->tmp_path);
    g_free (f->target);
}

NmsMaildirBatch *
nms_maildir_batch_new (const char *folder_dir)
{
    NmsMaildirBatch *b = g_new0 (NmsMaildirBatch, 1);

    g_return_val_if_fail (folder_dir != NULL, NULL);
    b->folder_dir = g_strdup (folder_dir);
    b->files = g_array_new (FALSE, FALSE, sizeof (Pending));
    g_array_set_clear_func (b->files, pending_clear);
    return b;
}

void
nms_maildir_batch_free (NmsMaildirBatch *b)
{
    if (b == NULL)
        return;
    g_array_unref (b->files);
    g_free (b->folder_dir);
    g_free (b);
}

guint
nms_maildir_batch_size (const NmsMaildirBatch *b)
{
    return b->files->len;
}

gboolean
nms_maildir_batch_add (NmsMaildirBatch *b, NmsMaildirDelivery *d, const NmsMaildirName *name,
                       gboolean into_new, GError **error)
{
    g_autoptr (NmsMaildirDelivery) owned = d;
    g_autofree char *filename = NULL;
    Pending f;

    g_return_val_if_fail (b != NULL && owned != NULL && owned->fd >= 0, FALSE);
    g_return_val_if_fail (strcmp (b->folder_dir, owned->folder_dir) == 0, FALSE);
    g_return_val_if_fail (name != NULL && name->base != NULL && *name->base != '\0', FALSE);
    g_return_val_if_fail (strchr (name->base, '/') == NULL, FALSE);
    g_return_val_if_fail (name->flags == NULL || strchr (name->flags, '/') == NULL, FALSE);

    if (d->failed)
        return earlier_failure (d, error);
    if (!finish_file (d, FALSE, error))
        return FALSE;
    filename = nms_maildir_name_format (name);
    f.target = g_build_filename (d->folder_dir, into_new ? "new" : "cur", filename, NULL);
    f.tmp_path = g_steal_pointer (&d->tmp_path);
    g_array_append_val (b->files, f);
    return TRUE;
}

/* Step 2: the data of every file in tmp/ reaches the disk. */
static gboolean
sync_data (NmsMaildirBatch *b, GError **error)
{
    g_autofree char *tmp_dir = g_build_filename (b->folder_dir, "tmp", NULL);
    int fd = open (tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err;

    if (fd < 0)
        return nms_maildir_io_error (error, errno, "cannot open", tmp_dir);
    /* Since Linux 5.8 syncfs reports writeback errors (ENOSPC, EIO) of the filesystem. */
    err = syncfs (fd) == 0 ? 0 : errno;
    nms_fd_clear (&fd);
    if (err != 0)
        return nms_maildir_io_error (error, err, "cannot sync the files in", tmp_dir);
    return TRUE;
}

/* Step 4, for the directories that received files. */
static gboolean
sync_dirs (NmsMaildirBatch *b, guint moved, GError **error)
{
    gboolean cur = FALSE, new = FALSE;
    GError *fs_error = NULL;

    for (guint i = 0; i < moved; i++) {
        const char *target = g_array_index (b->files, Pending, i).target;
        g_autofree char *dir = g_path_get_dirname (target);

        if (g_str_has_suffix (dir, "/new"))
            new = TRUE;
        else
            cur = TRUE;
    }
    for (int i = 0; i < 2; i++) {
        g_autofree char *dir = g_build_filename (b->folder_dir, i == 0 ? "cur" : "new", NULL);

        if ((i == 0 ? cur : new) && !nms_fs_fsync_dir (dir, &fs_error))
            return nms_maildir_propagate_fs_error (error, fs_error);
    }
    return TRUE;
}

gboolean
nms_maildir_batch_commit (NmsMaildirBatch *b, GPtrArray **delivered_out, GError **error)
{
    GError *rename_error = NULL;
    guint moved = 0;

    g_return_val_if_fail (b != NULL && delivered_out != NULL, FALSE);

    *delivered_out = g_ptr_array_new_with_free_func (g_free);
    if (b->files->len == 0)
        return TRUE;
    if (!sync_data (b, error)) {
        g_array_set_size (b->files, 0); /* unlinks the tmp files */
        return FALSE;
    }
    for (; moved < b->files->len; moved++) {
        Pending *f = &g_array_index (b->files, Pending, moved);
        GError *fs_error = NULL;

        if (!nms_fs_rename_noreplace (f->tmp_path, f->target, &fs_error)) {
            nms_maildir_propagate_fs_error (&rename_error, fs_error);
            break;
        }
        g_clear_pointer (&f->tmp_path, g_free);
    }
    if (!sync_dirs (b, moved, error)) {
        /* As for one message: nothing counts as delivered unless it is durable, so the files
         * go rather than stay in a state that may or may not survive a crash. */
        for (guint i = 0; i < moved; i++)
            unlink (g_array_index (b->files, Pending, i).target);
        g_array_set_size (b->files, 0);
        g_clear_error (&rename_error);
        return FALSE;
    }
    for (guint i = 0; i < moved; i++)
        g_ptr_array_add (*delivered_out, g_steal_pointer (&g_array_index (b->files, Pending, i).target));
    g_array_set_size (b->files, 0);
    if (rename_error != NULL) {
        g_propagate_error (error, rename_error);
        return FALSE;
    }
    return TRUE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * File-system helpers: every failure becomes a GError naming the path. */
#include "nms-build.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK (nms-fs-error-quark, nms_fs_error)

void
nms_fd_clear (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

gboolean
nms_fs_set_error (GError **error, int err, const char *what, const char *path)
{
    int code = (err == ENOSPC || err == EDQUOT) ? NMS_FS_ERROR_NOSPACE : NMS_FS_ERROR_IO;

    g_set_error (error, NMS_FS_ERROR, code, "%s '%s': %s", what, path, g_strerror (err));
    return FALSE;
}

gboolean
nms_fs_fsync_dir (const char *dir, GError **error)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    gboolean ok;

    if (fd < 0)
        return nms_fs_set_error (error, errno, "cannot open directory", dir);
    ok = fsync (fd) == 0 || nms_fs_set_error (error, errno, "cannot fsync directory", dir);
    nms_fd_clear (&fd);
    return ok;
}

gboolean
nms_fs_rename_durable (const char *from, const char *to, GError **error)
{
    g_autofree char *from_dir = g_path_get_dirname (from);
    g_autofree char *to_dir = g_path_get_dirname (to);

    if (rename (from, to) != 0)
        return nms_fs_set_error (error, errno, "cannot rename", from);
    /* A crash before the fsync below may lose the rename, leaving the file under its old
     * name: the caller has not recorded the new name yet, so the next run finds the old one. */
    if (!nms_fs_fsync_dir (to_dir, error))
        return FALSE;
    if (strcmp (from_dir, to_dir) != 0)
        return nms_fs_fsync_dir (from_dir, error);
    return TRUE;
}

gboolean
nms_fs_mkdir_p (const char *path, int mode, GError **error)
{
    if (g_mkdir_with_parents (path, mode) != 0)
        return nms_fs_set_error (error, errno, "cannot create directory", path);
    return TRUE;
}

gboolean
nms_fs_write_all (int fd, const char *buf, gsize len, const char *path, GError **error)
{
    while (len > 0) {
        ssize_t n = write (fd, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return nms_fs_set_error (error, errno, "cannot write", path);
        buf += n;
        len -= (gsize) n;
    }
    return TRUE;
}

static gboolean
set_rename_error (GError **error, int err, const char *from, const char *to)
{
    int code = (err == ENOSPC || err == EDQUOT) ? NMS_FS_ERROR_NOSPACE : NMS_FS_ERROR_IO;

    g_set_error (error, NMS_FS_ERROR, code, "cannot rename '%s' to '%s': %s", from, to,
                 g_strerror (err));
    return FALSE;
}

gboolean
nms_fs_rename_noreplace (const char *from, const char *to, GError **error)
{
    struct stat st;

    if (renameat2 (AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return TRUE;
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return set_rename_error (error, errno, from, to);
    if (lstat (to, &st) == 0)
        return set_rename_error (error, EEXIST, from, to);
    if (errno != ENOENT)
        return set_rename_error (error, errno, from, to);
    if (rename (from, to) != 0)
        return set_rename_error (error, errno, from, to);
    return TRUE;
}

gboolean
nms_fs_rename_durable_noreplace (const char *from, const char *to, GError **error)
{
    g_autofree char *from_dir = g_path_get_dirname (from);
    g_autofree char *to_dir = g_path_get_dirname (to);

    if (!nms_fs_rename_noreplace (from, to, error))
        return FALSE;
    /* As in nms_fs_rename_durable(): until both fsyncs are done a crash may undo the rename,
     * never duplicate or lose the file. */
    if (!nms_fs_fsync_dir (to_dir, error))
        return FALSE;
    if (strcmp (from_dir, to_dir) != 0)
        return nms_fs_fsync_dir (from_dir, error);
    return TRUE;
}

char *
nms_fs_read_bounded (const char *path, gsize max, const char *what, gsize *len_out,
                     struct stat *st_out, GError **error)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    g_autoptr (GString) buf = g_string_new (NULL);
    char chunk[8192];
    ssize_t n;

    if (fd < 0 || (st_out != NULL && fstat (fd, st_out) < 0)) {
        int err = errno;

        nms_fd_clear (&fd);
        g_set_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO, "cannot open %s '%s': %s", what, path,
                     g_strerror (err));
        return NULL;
    }
    while ((n = read (fd, chunk, sizeof chunk)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || buf->len + n > max) {
            int err = n < 0 ? errno : EFBIG;

            nms_fd_clear (&fd);
            g_set_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO, "cannot read %s '%s': %s", what,
                         path, g_strerror (err));
            return NULL;
        }
        g_string_append_len (buf, chunk, n);
    }
    nms_fd_clear (&fd);
    *len_out = buf->len;
    return g_string_free (g_steal_pointer (&buf), FALSE);
}

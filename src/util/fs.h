/* SPDX-License-Identifier: GPL-3.0-or-later
 * File-system helpers with no nmsync knowledge: durable renames, directory fsync, mkdir -p. */
#pragma once

#include <glib.h>
#include <sys/stat.h>

#define NMS_FS_ERROR (nms_fs_error_quark ())
GQuark nms_fs_error_quark (void);

typedef enum {
    NMS_FS_ERROR_IO,      /* the message carries strerror(errno) */
    NMS_FS_ERROR_NOSPACE, /* ENOSPC or EDQUOT: the caller may stop the whole run */
} NmsFsError;

/* Closes *fd if it is >= 0 and sets it to -1 (GLib 2.74 has no g_autofd). */
void nms_fd_clear (int *fd);

/* Sets @error from errno @err: "@what 'path': strerror". Always returns FALSE. */
gboolean nms_fs_set_error (GError **error, int err, const char *what, const char *path);

/* fsync()s the directory @dir so that renames and creations inside it are durable. */
gboolean nms_fs_fsync_dir (const char *dir, GError **error);

/* rename(@from, @to), then fsync of the target directory (and of the source directory when it
 * differs). After a crash the file is under exactly one of the two names: rename(2) is atomic. */
gboolean nms_fs_rename_durable (const char *from, const char *to, GError **error);

/* Creates @path and its parents with @mode (like mkdir -p). Existing directories are fine. */
gboolean nms_fs_mkdir_p (const char *path, int mode, GError **error);

/* Writes all of @len bytes, retrying on EINTR and short writes. */
gboolean nms_fs_write_all (int fd, const char *buf, gsize len, const char *path, GError **error);

/* rename(@from, @to) that fails with "File exists" instead of replacing an existing @to:
 * renameat2(RENAME_NOREPLACE), atomic. Where the file system lacks it (EINVAL, ENOSYS,
 * EOPNOTSUPP, e.g. NFS), an lstat() check followed by rename(): that fallback can only lose a
 * race against another process creating the very same name in between. No fsync. */
gboolean nms_fs_rename_noreplace (const char *from, const char *to, GError **error);

/* nms_fs_rename_noreplace(), then fsync of the target directory (and of the source directory
 * when it differs), like nms_fs_rename_durable(). When only an fsync failed, the file has
 * moved and the message names the directory that could not be synced. */
gboolean nms_fs_rename_durable_noreplace (const char *from, const char *to, GError **error);

/* Reads all of @path, at most @max bytes (a mistyped "/dev/zero" must not eat memory), into a
 * NUL-terminated buffer (transfer full) and its length; when @st_out is not NULL, fstat()s the
 * same descriptor, so that a permission check looks at the file that was read. NULL with
 * NMS_FS_ERROR_IO: "cannot open @what 'path': why" or "cannot read @what 'path': why" (a
 * file over @max: "File too large"). */
char *nms_fs_read_bounded (const char *path, gsize max, const char *what, gsize *len_out,
                           struct stat *st_out, GError **error);

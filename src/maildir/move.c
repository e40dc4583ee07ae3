/* SPDX-License-Identifier: GPL-3.0-or-later
 * Renames that change what a file means to mbsync and to the sync state: giving it a UID (or
 * taking it away) in place, and moving it into another folder, where the old UID would be
 * a lie (mbsync refuses a ",U=" it did not assign, see LIBRARIES.md 5). */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

#define INFO_SEPARATOR ":2,"

/* @prefix (a file name without its ":2," info, already accepted by nms_maildir_name_parse)
 * with its ",U=" field set to @uid, or removed when @uid is 0. An existing field keeps its
 * place among the others; a new one goes last, where mbsync writes it. */
static char *
prefix_with_uid (const char *prefix, guint32 uid)
{
    g_auto (GStrv) parts = g_strsplit (prefix, ",", -1);
    GString *s = g_string_new (parts[0]);
    gboolean placed = FALSE;

    for (guint i = 1; parts[i] != NULL; i++) {
        if (!g_str_has_prefix (parts[i], "U=")) {
            g_string_append_printf (s, ",%s", parts[i]);
            continue;
        }
        if (uid != 0)
            g_string_append_printf (s, ",U=%" G_GUINT32_FORMAT, uid);
        placed = TRUE;
    }
    if (!placed && uid != 0)
        g_string_append_printf (s, ",U=%" G_GUINT32_FORMAT, uid);
    return g_string_free (s, FALSE);
}

char *
nms_maildir_set_uid (const char *path, guint32 uid, GError **error)
{
    return nms_maildir_set_uid_full (path, uid, TRUE, error);
}

char *
nms_maildir_set_uid_full (const char *path, guint32 uid, gboolean durable, GError **error)
{
    g_autofree char *dir = NULL;
    g_autofree char *filename = NULL;
    g_autofree char *prefix = NULL;
    g_autofree char *new_prefix = NULL;
    g_autofree char *new_filename = NULL;
    g_autofree char *target = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    const char *info;
    GError *fs_error = NULL;

    g_return_val_if_fail (path != NULL, NULL);

    dir = g_path_get_dirname (path);
    filename = g_path_get_basename (path);
    /* Parsing first guarantees at most one valid ",U=" field: the split below then cannot
     * mistake anything else for it. */
    name = nms_maildir_name_parse (filename, error);
    if (name == NULL) {
        g_prefix_error (error, "cannot set uid: ");
        return NULL;
    }
    info = g_strrstr (filename, INFO_SEPARATOR);
    prefix = info != NULL ? g_strndup (filename, (gsize) (info - filename)) : g_strdup (filename);
    new_prefix = prefix_with_uid (prefix, uid);
    new_filename = g_strconcat (new_prefix, info != NULL ? info : "", NULL);
    if (strcmp (new_filename, filename) == 0)
        return g_strdup (path);
    target = g_build_filename (dir, new_filename, NULL);
    /* Never replace: a file already carrying the target name is another message. A crash
     * before the directory fsync leaves the old name, which the caller has not replaced in
     * its records yet (without @durable the caller fsyncs the directory before it does). */
    if (!(durable ? nms_fs_rename_durable_noreplace (path, target, &fs_error)
                  : nms_fs_rename_noreplace (path, target, &fs_error))) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    return g_steal_pointer (&target);
}

char *
nms_maildir_rename_fresh (const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *filename = g_path_get_basename (path);
    g_autofree char *new_filename = NULL, *target = NULL;
    g_autoptr (NmsMaildirName) name = nms_maildir_name_parse (filename, error);
    g_autoptr (NmsMaildirName) fresh = NULL;
    GError *fs_error = NULL;

    if (name == NULL) {
        g_prefix_error (error, "cannot rename: ");
        return NULL;
    }
    fresh = nms_maildir_name_new (0, name->flags);
    new_filename = nms_maildir_name_format (fresh);
    target = g_build_filename (dir, new_filename, NULL);
    if (!nms_fs_rename_durable_noreplace (path, target, &fs_error)) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    return g_steal_pointer (&target);
}

/* fsyncs the data of @path. A file that another program wrote may not be on disk yet; after
 * a crash that loses unsynced data but keeps the rename, the destination would hold an empty
 * or truncated message while the source folder no longer has it. */
static gboolean
sync_file (const char *path, GError **error)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    gboolean ok;

    if (fd < 0)
        return nms_maildir_io_error (error, errno, "cannot open", path);
    ok = fsync (fd) == 0 || nms_maildir_io_error (error, errno, "cannot fsync", path);
    nms_fd_clear (&fd);
    return ok;
}

char *
nms_maildir_move (const char *path, const char *dest_folder_dir, GError **error)
{
    return nms_maildir_move_full (path, dest_folder_dir, NULL, TRUE, error);
}

char *
nms_maildir_move_full (const char *path, const char *dest_folder_dir, const char *flags,
                       gboolean durable, GError **error)
{
    g_autofree char *filename = NULL;
    g_autofree char *new_filename = NULL;
    g_autofree char *target = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    GError *fs_error = NULL;

    g_return_val_if_fail (path != NULL && dest_folder_dir != NULL, NULL);
    g_return_val_if_fail (flags == NULL || nms_maildir_flags_valid (flags), NULL);

    filename = g_path_get_basename (path);
    name = nms_maildir_name_parse (filename, error);
    if (name == NULL) {
        g_prefix_error (error, "cannot move to '%s': ", dest_folder_dir);
        return NULL;
    }
    /* The base keeps every other ",X=" field in its order; only ",U=" goes. A file in cur/
     * must have an info (Maildir spec), so a name without one gets an empty ":2,". */
    name->uid = 0;
    if (flags != NULL) {
        g_free (name->flags);
        name->flags = g_strdup (flags);
    } else if (name->flags == NULL) {
        name->flags = g_strdup ("");
    }
    /* A foreign name near NAME_MAX could not take the ",U=" of the next sync, nor be indexed
     * by notmuch: the move is the moment to give it a name that can. */
    if (!nms_maildir_name_fits (name)) {
        g_free (name->base);
        name->base = nms_maildir_unique_base ();
    }
    new_filename = nms_maildir_name_format (name);
    target = g_build_filename (dest_folder_dir, "cur", new_filename, NULL);
    if (strcmp (target, path) == 0)
        return g_steal_pointer (&target);
    /* Order: file data, then the rename, then the target and the source directory
     * (nms_fs_rename_durable_noreplace). A crash before the rename leaves the file where it
     * was; between the rename and the directory fsyncs the rename may be undone, never
     * doubled (rename(2) is atomic); the caller records the new path only after we return,
     * and its next run finds the file under whichever name survived. Not @durable: the
     * caller made the data durable before (nms_maildir_sync_data) and fsyncs both folders'
     * directories after its batch, before it records any new path. */
    if (durable && !sync_file (path, &fs_error)) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    if (!(durable ? nms_fs_rename_durable_noreplace (path, target, &fs_error)
                  : nms_fs_rename_noreplace (path, target, &fs_error))) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    return g_steal_pointer (&target);
}

gboolean
nms_maildir_sync_data (const char *dir, GError **error)
{
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err;

    if (fd < 0)
        return nms_maildir_io_error (error, errno, "cannot open", dir);
    /* Since Linux 5.8 syncfs reports writeback errors (ENOSPC, EIO) of the filesystem. */
    err = syncfs (fd) == 0 ? 0 : errno;
    nms_fd_clear (&fd);
    if (err != 0)
        return nms_maildir_io_error (error, err, "cannot sync the files in", dir);
    return TRUE;
}

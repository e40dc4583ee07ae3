/* SPDX-License-Identifier: GPL-3.0-or-later
 * Listing a folder's messages (cur/ and new/) and changing existing files: new flags through a
 * durable rename, removal. Files whose names we cannot parse are listed but never touched. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

typedef enum {
    FILE_KIND_REGULAR,
    FILE_KIND_SYMLINK,
    FILE_KIND_OTHER, /* directories, fifos, sockets, devices, files gone since readdir */
} FileKind;

void
nms_maildir_entry_free (NmsMaildirEntry *e)
{
    if (e == NULL)
        return;
    g_free (e->path);
    g_free (e->subdir);
    nms_maildir_name_free (e->name);
    g_free (e->problem);
    g_free (e);
}

/* d_type when the file system fills it in, lstat() otherwise (DT_UNKNOWN on some file
 * systems); never follows a symbolic link. */
static FileKind
file_kind (const char *path, const struct dirent *de)
{
    struct stat st;

    switch (de->d_type) {
    case DT_REG:
        return FILE_KIND_REGULAR;
    case DT_LNK:
        return FILE_KIND_SYMLINK;
    case DT_UNKNOWN:
        break;
    default:
        return FILE_KIND_OTHER;
    }
    if (lstat (path, &st) != 0)
        return FILE_KIND_OTHER;
    if (S_ISREG (st.st_mode))
        return FILE_KIND_REGULAR;
    return S_ISLNK (st.st_mode) ? FILE_KIND_SYMLINK : FILE_KIND_OTHER;
}

static NmsMaildirEntry *
entry_new (const char *dir_path, const char *subdir, const char *filename, FileKind kind)
{
    NmsMaildirEntry *e = g_new0 (NmsMaildirEntry, 1);
    g_autoptr (GError) error = NULL;

    e->path = g_build_filename (dir_path, filename, NULL);
    e->subdir = g_strdup (subdir);
    if (kind == FILE_KIND_SYMLINK) {
        /* A link could point anywhere: renaming or deleting it would act on the wrong file. */
        e->problem = g_strdup ("symbolic link, not followed");
        return e;
    }
    e->name = nms_maildir_name_parse (filename, &error);
    if (e->name == NULL)
        e->problem = g_strdup (error->message);
    return e;
}

static gboolean
scan_subdir (const char *folder_dir, const char *subdir, GPtrArray *entries, GError **error)
{
    g_autofree char *dir_path = g_build_filename (folder_dir, subdir, NULL);
    DIR *dir = opendir (dir_path);
    struct dirent *de;
    int err;

    /* A missing cur/ or new/ is not an empty one: the disk under the Maildir may have gone
     * away during the run (an unmount), and an empty scan would read as every message
     * deleted. The folder fails instead. */
    if (dir == NULL)
        return nms_maildir_io_error (error, errno, "cannot open directory", dir_path);
    for (errno = 0; (de = readdir (dir)) != NULL; errno = 0) {
        g_autofree char *path = NULL;
        FileKind kind;

        /* Dot files are not messages (Maildir spec); this also skips "." and "..". */
        if (de->d_name[0] == '.')
            continue;
        path = g_build_filename (dir_path, de->d_name, NULL);
        kind = file_kind (path, de);
        if (kind != FILE_KIND_OTHER)
            g_ptr_array_add (entries, entry_new (dir_path, subdir, de->d_name, kind));
    }
    err = errno;
    closedir (dir);
    return err == 0 || nms_maildir_io_error (error, err, "cannot read directory", dir_path);
}

static gint
compare_entries (gconstpointer a, gconstpointer b)
{
    const NmsMaildirEntry *ea = *(const NmsMaildirEntry *const *) a;
    const NmsMaildirEntry *eb = *(const NmsMaildirEntry *const *) b;

    return strcmp (ea->path, eb->path);
}

/* readdir() while another program renames a file in the same directory may return the file
 * under its old and its new name (POSIX leaves it open whether an entry added or removed
 * during the walk shows up). Two entries with one unique part, one of which is gone by now,
 * are that: the one still there is the file. Real copies (both present) stay. */
static void
drop_renamed_twice (GPtrArray *entries)
{
    g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
    /* owns copies: the entries it was built from are freed as they are dropped below */
    g_autoptr (GHashTable) twice = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < entries->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (entries, i);

        if (e->name != NULL && !g_hash_table_add (seen, e->name->base))
            g_hash_table_add (twice, g_strdup (e->name->base));
    }
    for (guint i = entries->len; g_hash_table_size (twice) > 0 && i-- > 0;) {
        NmsMaildirEntry *e = g_ptr_array_index (entries, i);
        struct stat st;

        if (e->name != NULL && g_hash_table_contains (twice, e->name->base) &&
            lstat (e->path, &st) != 0 && errno == ENOENT)
            g_ptr_array_remove_index (entries, i);
    }
}

GPtrArray *
nms_maildir_scan (const char *folder_dir, GError **error)
{
    g_autoptr (GPtrArray) entries = NULL;

    g_return_val_if_fail (folder_dir != NULL, NULL);

    entries = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_maildir_entry_free);
    /* new/ first: mail clients move files from new/ to cur/, never back, so a file moving
     * while we read is seen in one of the two; read the other way round, it could be in
     * neither, and its message would look deleted. */
    if (!scan_subdir (folder_dir, "new", entries, error)
        || !scan_subdir (folder_dir, "cur", entries, error))
        return NULL;
    drop_renamed_twice (entries);
    /* readdir order depends on the file system; callers and tests want the same order. */
    g_ptr_array_sort (entries, compare_entries);
    return g_steal_pointer (&entries);
}

/* @filename with its info replaced by ":2,@flags". The part before the info is kept byte for
 * byte, so ",U=" and other fields stay where they were (as notmuch does when it renames). */
static char *
filename_with_flags (const char *filename, const char *flags)
{
    const char *info = g_strrstr (filename, ":2,");
    int prefix_len = (int) (info != NULL ? (gsize) (info - filename) : strlen (filename));

    return g_strdup_printf ("%.*s:2,%s", prefix_len, filename, flags);
}

char *
nms_maildir_set_flags (const char *path, const char *flags, GError **error)
{
    return nms_maildir_set_flags_full (path, flags, TRUE, error);
}

char *
nms_maildir_set_flags_full (const char *path, const char *flags, gboolean durable,
                            GError **error)
{
    g_autofree char *dir = NULL;
    g_autofree char *subdir = NULL;
    g_autofree char *filename = NULL;
    g_autofree char *new_filename = NULL;
    g_autofree char *folder_dir = NULL;
    g_autofree char *target = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    const char *new_subdir;
    GError *fs_error = NULL;

    g_return_val_if_fail (path != NULL && flags != NULL, NULL);
    g_return_val_if_fail (nms_maildir_flags_valid (flags), NULL);

    dir = g_path_get_dirname (path);
    subdir = g_path_get_basename (dir);
    filename = g_path_get_basename (path);
    if (strcmp (subdir, "cur") != 0 && strcmp (subdir, "new") != 0) {
        g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME,
                     "cannot set flags on '%s': not in cur/ or new/", path);
        return NULL;
    }
    name = nms_maildir_name_parse (filename, error);
    if (name == NULL) {
        g_prefix_error (error, "cannot set flags: ");
        return NULL;
    }
    /* Maildir spec: a message that has been seen no longer belongs in new/. */
    new_subdir = strcmp (subdir, "new") == 0 && nms_maildir_flags_has (flags, 'S') ? "cur" : subdir;
    new_filename = filename_with_flags (filename, flags);
    if (new_subdir == subdir && strcmp (new_filename, filename) == 0)
        return g_strdup (path);
    folder_dir = g_path_get_dirname (dir);
    target = g_build_filename (folder_dir, new_subdir, new_filename, NULL);
    /* Never replace: an existing target is another message (or a copy of this one). */
    if (!(durable ? nms_fs_rename_durable_noreplace (path, target, &fs_error)
                  : nms_fs_rename_noreplace (path, target, &fs_error))) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    return g_steal_pointer (&target);
}

gboolean
nms_maildir_remove (const char *path, GError **error)
{
    return nms_maildir_remove_full (path, TRUE, error);
}

gboolean
nms_maildir_remove_full (const char *path, gboolean durable, GError **error)
{
    g_autofree char *dir = NULL;
    GError *fs_error = NULL;

    g_return_val_if_fail (path != NULL, FALSE);

    if (unlink (path) != 0)
        return errno == ENOENT || nms_maildir_io_error (error, errno, "cannot remove", path);
    /* Without the fsync a crash could bring the file back after we recorded its removal. */
    if (!durable)
        return TRUE;
    dir = g_path_get_dirname (path);
    if (!nms_fs_fsync_dir (dir, &fs_error))
        return nms_maildir_propagate_fs_error (error, fs_error);
    return TRUE;
}

gboolean
nms_maildir_folder_sync_dirs (const char *folder_dir, GError **error)
{
    static const char *const subdirs[] = { "cur", "new" };

    for (guint i = 0; i < G_N_ELEMENTS (subdirs); i++) {
        g_autofree char *dir = g_build_filename (folder_dir, subdirs[i], NULL);
        GError *fs_error = NULL;

        if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
            continue;
        if (!nms_fs_fsync_dir (dir, &fs_error))
            return nms_maildir_propagate_fs_error (error, fs_error);
    }
    return TRUE;
}

gint64
nms_maildir_subdir_mtime_ns (const char *folder_dir, const char *sub)
{
    g_autofree char *path = g_build_filename (folder_dir, sub, NULL);
    struct stat st;

    if (stat (path, &st) != 0)
        return 0;
    return (gint64) st.st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st.st_mtim.tv_nsec;
}

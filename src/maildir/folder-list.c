/* SPDX-License-Identifier: GPL-3.0-or-later
 * Listing the folders under a Maildir root: the inverse of nms_maildir_folder_to_path(). A
 * directory is listed only when its name maps back to exactly the same path, so every listed
 * folder is one the pull side would have created there, and junk is left alone. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "maildir/maildir-private.h"

/* Folders nested deeper than this in the verbatim layout are not listed; the bound keeps a
 * deep or looping tree (bind mounts) from exhausting the stack. */
#define MAX_DEPTH 32

void
nms_maildir_folder_free (NmsMaildirFolder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    g_free (folder->relpath);
    g_free (folder);
}

/* A directory itself, not a symbolic link to one. */
static gboolean
is_real_dir (const char *path)
{
    struct stat st;

    return lstat (path, &st) == 0 && S_ISDIR (st.st_mode);
}

static gboolean
has_cur_and_new (const char *dir)
{
    g_autofree char *cur = g_build_filename (dir, "cur", NULL);
    g_autofree char *new = g_build_filename (dir, "new", NULL);

    return is_real_dir (cur) && is_real_dir (new);
}

/* The entry names in @dir, without "." and "..". A missing @dir gives an empty array; one we
 * may not read gives an empty array when @skip_unreadable. */
static GPtrArray *
read_names (const char *dir, gboolean skip_unreadable, GError **error)
{
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    DIR *d = opendir (dir);
    struct dirent *de;
    int err;

    if (d == NULL) {
        if (errno == ENOENT || (errno == EACCES && skip_unreadable))
            return g_steal_pointer (&names);
        nms_maildir_io_error (error, errno, "cannot open directory", dir);
        return NULL;
    }
    for (errno = 0; (de = readdir (d)) != NULL; errno = 0) {
        if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
            g_ptr_array_add (names, g_strdup (de->d_name));
    }
    err = errno;
    closedir (d);
    if (err != 0) {
        nms_maildir_io_error (error, err, "cannot read directory", dir);
        return NULL;
    }
    return g_steal_pointer (&names);
}

/* Adds the folder @name at @relpath when nms_maildir_folder_to_path() maps @name back to
 * exactly @relpath; anything else (not UTF-8, empty or reserved components, control
 * characters, a case variant of INBOX) is not a directory nmsync would have made. */
static void
add_if_round_trip (GPtrArray *folders, const char *name, const char *relpath,
                   NmsMaildirLayout layout)
{
    g_autofree char *back = nms_maildir_folder_to_path (name, '/', layout, NULL);
    NmsMaildirFolder *folder;

    if (back == NULL || strcmp (back, relpath) != 0)
        return;
    folder = g_new0 (NmsMaildirFolder, 1);
    folder->name = g_strdup (name);
    folder->relpath = g_strdup (relpath);
    g_ptr_array_add (folders, folder);
}

/* maildir++: the root is INBOX when it has cur/ (mbsync creates cur/, new/ and tmp/ together;
 * a root without cur/ only holds subfolders), and each ".a.b" directory with cur/ and new/
 * is "a/b". notmuch's own ".notmuch" is never a folder. */
static gboolean
list_maildirpp (const char *root, GPtrArray *folders, GError **error)
{
    g_autofree char *cur = g_build_filename (root, "cur", NULL);
    g_autoptr (GPtrArray) names = read_names (root, FALSE, error);

    if (names == NULL)
        return FALSE;
    if (is_real_dir (cur))
        add_if_round_trip (folders, "INBOX", "", NMS_MAILDIR_LAYOUT_MAILDIRPP);
    for (guint i = 0; i < names->len; i++) {
        const char *entry = g_ptr_array_index (names, i);
        g_autofree char *dir = NULL;
        g_autofree char *name = NULL;

        if (entry[0] != '.' || strcmp (entry, ".notmuch") == 0)
            continue;
        dir = g_build_filename (root, entry, NULL);
        if (!is_real_dir (dir) || !has_cur_and_new (dir))
            continue;
        name = g_strdelimit (g_strdup (entry + 1), ".", '/');
        add_if_round_trip (folders, name, entry, NMS_MAILDIR_LAYOUT_MAILDIRPP);
    }
    return TRUE;
}

static gboolean
skipped_in_walk (const char *entry)
{
    /* Dot directories (".notmuch", ".git") cannot be verbatim components; cur/, new/ and
     * tmp/ hold messages, not folders. */
    return entry[0] == '.' || strcmp (entry, "cur") == 0 || strcmp (entry, "new") == 0
           || strcmp (entry, "tmp") == 0;
}

/* verbatim: every directory below @root with cur/ and new/ is the folder named by its path
 * relative to @root. Walks @relpath ("" for the root) at @depth, not following links. */
static gboolean
walk_verbatim (const char *root, const char *relpath, guint depth, GPtrArray *folders,
               GError **error)
{
    g_autofree char *dir = g_build_filename (root, relpath, NULL);
    /* A subdirectory we may not read (a root-owned lost+found when the root is a mount
     * point) cannot hold folders nmsync made; the root itself must be readable. */
    g_autoptr (GPtrArray) names = read_names (dir, depth > 0, error);

    if (names == NULL)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        const char *entry = g_ptr_array_index (names, i);
        g_autofree char *child_rel = NULL;
        g_autofree char *child = NULL;

        if (skipped_in_walk (entry))
            continue;
        child_rel = *relpath != '\0' ? g_strconcat (relpath, "/", entry, NULL) : g_strdup (entry);
        child = g_build_filename (root, child_rel, NULL);
        if (!is_real_dir (child))
            continue;
        if (has_cur_and_new (child))
            add_if_round_trip (folders, child_rel, child_rel, NMS_MAILDIR_LAYOUT_VERBATIM);
        if (depth + 1 < MAX_DEPTH && !walk_verbatim (root, child_rel, depth + 1, folders, error))
            return FALSE;
    }
    return TRUE;
}

static gint
compare_folders (gconstpointer a, gconstpointer b)
{
    const NmsMaildirFolder *fa = *(const NmsMaildirFolder *const *) a;
    const NmsMaildirFolder *fb = *(const NmsMaildirFolder *const *) b;

    return strcmp (fa->name, fb->name);
}

GPtrArray *
nms_maildir_list_folders (const char *root, NmsMaildirLayout layout, GError **error)
{
    g_autoptr (GPtrArray) folders = NULL;
    gboolean ok;

    g_return_val_if_fail (root != NULL, NULL);

    folders = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_maildir_folder_free);
    if (layout == NMS_MAILDIR_LAYOUT_MAILDIRPP)
        ok = list_maildirpp (root, folders, error);
    else
        ok = walk_verbatim (root, "", 0, folders, error);
    if (!ok)
        return NULL;
    g_ptr_array_sort (folders, compare_folders);
    return g_steal_pointer (&folders);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Filenames notmuch lists that are gone: found again by their unique part (apply.h). */
#include "nms-build.h"

#include "apply/apply.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "maildir/maildir.h"

struct _NmsApplyFiles {
    GHashTable *dirs;  /* the account's folder directories (a set) */
    GHashTable *bases; /* unique part -> path of the account's files; NULL until needed */
};

NmsApplyFiles *
nms_apply_files_new (char *const *folder_dirs)
{
    NmsApplyFiles *files = g_new0 (NmsApplyFiles, 1);

    files->dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (char *const *d = folder_dirs; d != NULL && *d != NULL; d++)
        g_hash_table_add (files->dirs, g_strdup (*d));
    return files;
}

void
nms_apply_files_free (NmsApplyFiles *files)
{
    if (files == NULL)
        return;
    g_hash_table_unref (files->dirs);
    g_clear_pointer (&files->bases, g_hash_table_unref);
    g_free (files);
}

/* TRUE when @path is in cur/ or new/ of one of the account's folders. */
static gboolean
in_account (const NmsApplyFiles *files, const char *path)
{
    g_autofree char *sub = g_path_get_dirname (path);
    g_autofree char *dir = g_path_get_dirname (sub);
    g_autofree char *leaf = g_path_get_basename (sub);

    return (strcmp (leaf, "cur") == 0 || strcmp (leaf, "new") == 0) &&
           g_hash_table_contains (files->dirs, dir);
}

/* The folder directory of a file in its cur/ or new/. (transfer full) */
static char *
folder_of (const char *path)
{
    g_autofree char *sub = g_path_get_dirname (path);

    return g_path_get_dirname (sub);
}

static gboolean
gone (const char *path)
{
    struct stat st;

    return lstat (path, &st) != 0 && errno == ENOENT;
}

/* Scans every folder once. A unique part seen twice (a copy) keeps its first file. */
static gboolean
index_build (NmsApplyFiles *files, GError **error)
{
    GHashTableIter it;
    gpointer dir;

    if (files->bases != NULL)
        return TRUE;
    files->bases = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_iter_init (&it, files->dirs);
    while (g_hash_table_iter_next (&it, &dir, NULL)) {
        g_autoptr (GPtrArray) scan = nms_maildir_scan (dir, error);

        if (scan == NULL) {
            g_clear_pointer (&files->bases, g_hash_table_unref);
            return FALSE;
        }
        for (guint i = 0; i < scan->len; i++) {
            NmsMaildirEntry *e = g_ptr_array_index (scan, i);

            if (e->name != NULL && !g_hash_table_contains (files->bases, e->name->base))
                g_hash_table_insert (files->bases, g_strdup (e->name->base), g_strdup (e->path));
        }
    }
    return TRUE;
}

/* The file named @base (a unique part) in cur/ or new/ of @folder_dir now, or NULL. A fresh
 * look: a mail client may rename files at any time, so the index of the first scan is only a
 * hint. (transfer full) */
static char *
look_in_folder (const char *folder_dir, const char *base)
{
    static const char *const subs[] = { "cur", "new" };

    for (guint i = 0; i < G_N_ELEMENTS (subs); i++) {
        g_autofree char *sub = g_build_filename (folder_dir, subs[i], NULL);
        g_autoptr (GDir) dir = g_dir_open (sub, 0, NULL);
        const char *entry;

        while (dir != NULL && (entry = g_dir_read_name (dir)) != NULL) {
            g_autoptr (NmsMaildirName) name = NULL;

            if (!g_str_has_prefix (entry, base))
                continue;
            name = nms_maildir_name_parse (entry, NULL);
            if (name != NULL && strcmp (name->base, base) == 0)
                return g_build_filename (sub, entry, NULL);
        }
    }
    return NULL;
}

/* The account's file that @stale became, or NULL: same unique part, and the same message
 * (notmuch's id for a message without Message-ID is made up: not compared then). Looked up
 * in the index of the first scan, and when that file is gone too (renamed again meanwhile),
 * in @stale's folder as it is now. (transfer full) */
static char *
find_again (NmsApplyFiles *files, const char *id, const char *stale, GError **error)
{
    g_autofree char *filename = g_path_get_basename (stale);
    g_autoptr (NmsMaildirName) name = nms_maildir_name_parse (filename, NULL);
    g_autofree char *found_id = NULL;
    g_autofree char *found = NULL;
    const char *indexed;

    if (name == NULL || !index_build (files, error))
        return NULL;
    indexed = g_hash_table_lookup (files->bases, name->base);
    if (indexed != NULL && !gone (indexed))
        found = g_strdup (indexed);
    else {
        g_autofree char *folder_dir = folder_of (stale);

        found = look_in_folder (folder_dir, name->base);
    }
    if (found == NULL)
        return NULL;
    if (!nms_maildir_message_id (found, &found_id, NULL))
        return NULL; /* gone again meanwhile: the next run looks once more */
    if (found_id != NULL && !g_str_has_prefix (id, "notmuch-sha1-") && strcmp (found_id, id) != 0)
        return NULL;
    return g_steal_pointer (&found);
}

/* TRUE when a path of @paths other than @except is still a file: notmuch keeps the message
 * when @except is removed from it. */
static gboolean
keeps_another (char *const *paths, const char *except)
{
    for (char *const *p = paths; p != NULL && *p != NULL; p++)
        if (strcmp (*p, except) != 0 && !gone (*p))
            return TRUE;
    return FALSE;
}

static void
add_event (GArray *events, NmsFileEventKind kind, const char *path, const char *old_path)
{
    NmsFileEvent ev = { .kind = kind, .path = g_strdup (path), .old_path = g_strdup (old_path) };

    g_array_append_val (events, ev);
}

char **
nms_apply_files_resolve (NmsApplyFiles *files, const char *id, char *const *paths,
                         GArray *events, GError **error)
{
    g_autoptr (GPtrArray) out = g_ptr_array_new_with_free_func (g_free);

    for (char *const *p = paths; p != NULL && *p != NULL; p++) {
        g_autofree char *found = NULL;
        GError *local = NULL;

        if (!in_account (files, *p) || !gone (*p)) {
            g_ptr_array_add (out, g_strdup (*p));
            continue;
        }
        found = find_again (files, id, *p, &local);
        if (local != NULL) {
            g_propagate_error (error, local);
            return NULL;
        }
        if (found != NULL && !g_strv_contains ((const char *const *) paths, found) &&
            !g_ptr_array_find_with_equal_func (out, found, g_str_equal, NULL)) {
            add_event (events, NMS_FILE_RENAMED, found, *p);
            g_ptr_array_add (out, g_steal_pointer (&found));
        } else if (found != NULL || keeps_another (paths, *p)) {
            /* a copy's name gone: the message keeps its other file, and its tags. STALE, as
             * notmuch's filenames may have changed since @paths was read (the sync's indexer,
             * a watch): it removes the name only while the message has another one. */
            add_event (events, NMS_FILE_STALE, *p, NULL);
        }
        /* else not found (another program renames it right now, or moved it to another
         * folder): notmuch keeps the name, the message and its tags; the next run, or
         * `notmuch new`, finds the file. Removing the message's last filename would delete
         * the message with every tag the user gave it. */
    }
    g_ptr_array_add (out, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

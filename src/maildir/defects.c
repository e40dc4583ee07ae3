/* SPDX-License-Identifier: GPL-3.0-or-later
 * The defects a sync tool, a crash or a hand-made copy leaves in a Maildir folder, for
 * `nmsync check`: old tmp/ files, empty files, messages outside cur/ and new/, a ",U=" given
 * to two files, names that do not parse. Finding them changes nothing; refiling a misfiled
 * message is one durable rename. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

void
nms_maildir_defect_free (NmsMaildirDefect *defect)
{
    if (defect == NULL)
        return;
    g_free (defect->path);
    g_free (defect->base);
    g_free (defect->target);
    g_free (defect->problem);
    g_free (defect);
}

static NmsMaildirDefect *
defect_add (GPtrArray *out, NmsMaildirDefectKind kind, const char *path)
{
    NmsMaildirDefect *d = g_new0 (NmsMaildirDefect, 1);

    d->kind = kind;
    d->path = g_strdup (path);
    g_ptr_array_add (out, d);
    return d;
}

/* TRUE when @buf (@n bytes) has a line starting with header field @field (lowercase, with
 * its colon) before the first empty line. */
static gboolean
has_field (const char *buf, gsize n, const char *field)
{
    gsize len = strlen (field);

    for (gsize i = 0; i + len <= n; i++) {
        if (i > 0 && buf[i - 1] != '\n')
            continue;
        if (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < n && buf[i + 1] == '\n'))
            return FALSE;
        if (g_ascii_strncasecmp (buf + i, field, len) == 0)
            return TRUE;
    }
    return FALSE;
}

/* TRUE when the file at @path looks like a message: it starts with a header field ("Name:"
 * of printable characters without blanks) or an mbox "From " line, and its header has a
 * From:, Date:, Message-ID: or Received: field. dovecot-uidlist, .mbsyncstate,
 * subscriptions, nmsync's marker or a note the user keeps there never do both, and a refile
 * of such a file would make it a message the next sync uploads. */
static gboolean
looks_like_mail (const char *path)
{
    char buf[8192];
    ssize_t n;
    gboolean first_ok = FALSE;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return FALSE;
    n = read (fd, buf, sizeof buf);
    nms_fd_clear (&fd);
    if (n <= 0)
        return FALSE;
    if (n >= 5 && memcmp (buf, "From ", 5) == 0)
        first_ok = TRUE;
    for (ssize_t i = 0; !first_ok && i < n; i++) {
        if (buf[i] == ':') {
            first_ok = i > 0;
            break;
        }
        if (buf[i] < 0x21 || buf[i] > 0x7e)
            break;
    }
    return first_ok && (has_field (buf, n, "from:") || has_field (buf, n, "date:") ||
                        has_field (buf, n, "message-id:") || has_field (buf, n, "received:"));
}

/* TRUE when the files at @a and @b have the same bytes. */
static gboolean
same_bytes (const char *a, const char *b)
{
    g_autofree char *ca = NULL, *cb = NULL;
    gsize na = 0, nb = 0;

    return g_file_get_contents (a, &ca, &na, NULL) && g_file_get_contents (b, &cb, &nb, NULL) &&
           na == nb && memcmp (ca, cb, na) == 0;
}

/* The file of @scan (cur/, new/) with the same bytes as @path (@size bytes), or NULL. Only
 * files of that very size are read. */
static const char *
copy_of (GPtrArray *scan, const char *path, goffset size)
{
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        struct stat st;

        if (lstat (e->path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == size &&
            same_bytes (e->path, path))
            return e->path;
    }
    return NULL;
}

/* A regular file of @dir that @name parses as and that looks like mail is misfiled. Its
 * refile is left to the user (->problem says why) when it was modified in the last
 * NMS_MAILDIR_MISFILED_AGE_S (a program may still be writing it there, not via tmp/: a refile
 * would have the next sync upload the part written so far), or when it is a byte copy of a
 * message already in cur/ or new/ (the next sync would upload it a second time). */
static void
misfiled_in (const char *folder_dir, const char *dir, GPtrArray *scan, gint64 now,
             GPtrArray *out)
{
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *entry;

    while (d != NULL && (entry = g_dir_read_name (d)) != NULL) {
        g_autofree char *path = g_build_filename (dir, entry, NULL);
        g_autoptr (NmsMaildirName) name = NULL;
        NmsMaildirDefect *defect;
        struct stat st;

        if (entry[0] == '.' || lstat (path, &st) != 0 || !S_ISREG (st.st_mode) ||
            (name = nms_maildir_name_parse (entry, NULL)) == NULL || !looks_like_mail (path))
            continue;
        defect = defect_add (out, NMS_MAILDIR_DEFECT_MISFILED, path);
        defect->base = g_strdup (name->base);
        defect->target =
            g_build_filename (folder_dir, name->flags != NULL ? "cur" : "new", entry, NULL);
        if (now - (gint64) st.st_mtime < NMS_MAILDIR_MISFILED_AGE_S) {
            defect->problem = g_strdup ("recent: left");
        } else {
            const char *original = copy_of (scan, path, st.st_size);

            if (original != NULL)
                defect->problem = g_strdup_printf ("copy of %s: left", original);
        }
    }
}

/* Subdirectories of @folder_dir that are no Maildir folder (a verbatim child folder has cur/)
 * and not cur/, new/, tmp/ or a dot directory (maildir++ children, .notmuch). */
static void
stray_dirs (const char *folder_dir, GPtrArray *scan, gint64 now, GPtrArray *out)
{
    g_autoptr (GDir) d = g_dir_open (folder_dir, 0, NULL);
    const char *entry;

    while (d != NULL && (entry = g_dir_read_name (d)) != NULL) {
        g_autofree char *path = g_build_filename (folder_dir, entry, NULL);
        g_autofree char *cur = g_build_filename (path, "cur", NULL);
        struct stat st;

        if (entry[0] == '.' || strcmp (entry, "cur") == 0 || strcmp (entry, "new") == 0 ||
            strcmp (entry, "tmp") == 0 || lstat (path, &st) != 0 || !S_ISDIR (st.st_mode) ||
            g_file_test (cur, G_FILE_TEST_IS_DIR))
            continue;
        misfiled_in (folder_dir, path, scan, now, out);
    }
}

static void
old_tmp (const char *folder_dir, gint64 now, GPtrArray *out)
{
    g_autofree char *tmp = g_build_filename (folder_dir, "tmp", NULL);
    g_autoptr (GDir) d = g_dir_open (tmp, 0, NULL);
    const char *entry;

    while (d != NULL && (entry = g_dir_read_name (d)) != NULL) {
        g_autofree char *path = g_build_filename (tmp, entry, NULL);
        struct stat st;

        if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode) ||
            now - (gint64) st.st_mtime < NMS_MAILDIR_TMP_AGE_S)
            continue;
        defect_add (out, NMS_MAILDIR_DEFECT_TMP_OLD, path)->empty = st.st_size == 0;
    }
}

/* Empty files, bad names and repeated UIDs among the scanned files. */
static void
scanned (GPtrArray *scan, GPtrArray *out)
{
    g_autoptr (GHashTable) uids = g_hash_table_new (NULL, NULL); /* uid -> count */

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        guint32 uid = e->name != NULL ? e->name->uid : 0;

        if (uid != 0)
            g_hash_table_insert (uids, GUINT_TO_POINTER (uid),
                                 GUINT_TO_POINTER (GPOINTER_TO_UINT (
                                     g_hash_table_lookup (uids, GUINT_TO_POINTER (uid))) + 1));
    }
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        struct stat st;
        NmsMaildirDefect *d;

        if (e->problem != NULL) {
            d = defect_add (out, NMS_MAILDIR_DEFECT_BAD_NAME, e->path);
            d->problem = g_strdup (e->problem);
            continue;
        }
        if (lstat (e->path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size == 0)
            defect_add (out, NMS_MAILDIR_DEFECT_EMPTY, e->path)->empty = TRUE;
        if (e->name->uid != 0 &&
            GPOINTER_TO_UINT (g_hash_table_lookup (uids, GUINT_TO_POINTER (e->name->uid))) > 1) {
            d = defect_add (out, NMS_MAILDIR_DEFECT_DUPLICATE_UID, e->path);
            d->uid = e->name->uid;
            d->base = g_strdup (e->name->base);
        }
    }
}

GPtrArray *
nms_maildir_defects (const char *folder_dir, GPtrArray *scan, gint64 now, GError **error)
{
    g_autoptr (GPtrArray) out =
        g_ptr_array_new_with_free_func ((GDestroyNotify) nms_maildir_defect_free);

    if (!g_file_test (folder_dir, G_FILE_TEST_IS_DIR)) {
        nms_maildir_io_error (error, ENOENT, "cannot read folder", folder_dir);
        return NULL;
    }
    old_tmp (folder_dir, now, out);
    scanned (scan, out);
    misfiled_in (folder_dir, folder_dir, scan, now, out);
    stray_dirs (folder_dir, scan, now, out);
    return g_steal_pointer (&out);
}

/* Crash safety: one rename (atomic), then the fsyncs: after a crash the file is under exactly
 * one of its two names, and a later check finds it misfiled again or in place. */
gboolean
nms_maildir_refile (const char *path, const char *target, GError **error)
{
    GError *fs_error = NULL;

    if (!nms_fs_rename_durable_noreplace (path, target, &fs_error))
        return nms_maildir_propagate_fs_error (error, fs_error);
    return TRUE;
}

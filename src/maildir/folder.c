/* SPDX-License-Identifier: GPL-3.0-or-later
 * Server folder names -> directories under the Maildir root, and creating those directories.
 * Folder names come from the server, so they are hostile input: nothing may escape the root,
 * collide with a Maildir's own cur/new/tmp, or smuggle control characters into paths. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

#define MAX_COMPONENT 255 /* NAME_MAX on Linux file systems */
#define MAX_FOLDER 4096   /* PATH_MAX */

/* Beyond this many bytes of a name, a message shows the start and the length: a server can
 * send a folder name of any size, and one line of stderr should stay readable. */
#define MESSAGE_NAME_MAX 200

char *
nms_maildir_escape_for_message (const char *s)
{
    gboolean utf8 = g_utf8_validate (s, -1, NULL);
    GString *out = g_string_new (NULL);
    const char *end = s + strlen (s);

    if (end - s > MESSAGE_NAME_MAX) {
        end = s + MESSAGE_NAME_MAX;
        /* never cut a UTF-8 sequence in two */
        while (utf8 && end > s && ((guchar) *end & 0xc0) == 0x80)
            end--;
    }
    for (const char *p = s; p < end; p++) {
        guchar c = (guchar) *p;

        if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
            g_string_append_printf (out, "\\x%02x", c);
        else
            g_string_append_c (out, (char) c);
    }
    if (*end != '\0')
        g_string_append_printf (out, "... (%zu bytes)", strlen (s));
    return g_string_free (out, FALSE);
}

static gboolean G_GNUC_PRINTF (3, 4)
bad_folder (GError **error, const char *folder, const char *fmt, ...)
{
    g_autofree char *quoted = nms_maildir_escape_for_message (folder);
    g_autofree char *cause = NULL;
    va_list args;

    va_start (args, fmt);
    cause = g_strdup_vprintf (fmt, args);
    va_end (args);
    g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER, "folder '%s': %s",
                 quoted, cause);
    return FALSE;
}

gboolean
nms_maildir_has_control_char (const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || (guchar) *p == 0x7f)
            return TRUE;
    }
    return FALSE;
}

/* Checks one component of @folder against the rules of @layout. */
static gboolean
check_component (const char *folder, const char *comp, NmsMaildirLayout layout, GError **error)
{
    g_autofree char *quoted = nms_maildir_escape_for_message (comp);

    if (*comp == '\0')
        return bad_folder (error, folder, "empty component");
    if (strlen (comp) > MAX_COMPONENT)
        return bad_folder (error, folder, "component longer than %d bytes", MAX_COMPONENT);
    if (strcmp (comp, ".") == 0 || strcmp (comp, "..") == 0)
        return bad_folder (error, folder, "component '%s' not allowed", comp);
    if (nms_maildir_has_control_char (comp))
        return bad_folder (error, folder, "control character in component '%s'", quoted);
    if (strchr (comp, '/') != NULL)
        return bad_folder (error, folder, "'/' inside component '%s'", quoted);
    if (layout == NMS_MAILDIR_LAYOUT_MAILDIRPP && strchr (comp, '.') != NULL)
        return bad_folder (error, folder, "'.' inside component '%s' (maildir++ layout)", quoted);
    if (layout == NMS_MAILDIR_LAYOUT_VERBATIM && comp[0] == '.')
        return bad_folder (error, folder, "component '%s' starts with '.'", quoted);
    if (layout == NMS_MAILDIR_LAYOUT_VERBATIM
        && (strcmp (comp, "cur") == 0 || strcmp (comp, "new") == 0 || strcmp (comp, "tmp") == 0))
        return bad_folder (error, folder, "component '%s' collides with a maildir directory",
                           comp);
    return TRUE;
}

/* Checks what holds for the whole name, whatever the layout. */
static gboolean
check_folder (const char *folder, char delim, GError **error)
{
    if (!g_utf8_validate (folder, -1, NULL))
        return bad_folder (error, folder, "not valid UTF-8");
    if (*folder == '\0')
        return bad_folder (error, folder, "empty name");
    if (strlen (folder) > MAX_FOLDER)
        return bad_folder (error, folder, "longer than %d bytes", MAX_FOLDER);
    /* RFC 3501 §9: the delimiter is a QUOTED-CHAR, printable 7-bit; splitting on anything else
     * would let a hostile server hide control characters or cut UTF-8 sequences apart. */
    if (delim != '\0' && !g_ascii_isprint (delim))
        return bad_folder (error, folder, "invalid hierarchy delimiter 0x%02x", (guchar) delim);
    if (delim != '\0' && folder[0] == delim)
        return bad_folder (error, folder, "starts with the delimiter '%c'", delim);
    return TRUE;
}

char *
nms_maildir_folder_to_path (const char *folder, char delim, NmsMaildirLayout layout,
                            GError **error)
{
    const char delim_str[2] = { delim, '\0' };
    g_auto (GStrv) parts = NULL;
    g_autofree char *joined = NULL;

    g_return_val_if_fail (folder != NULL, NULL);

    if (!check_folder (folder, delim, error))
        return NULL;
    /* RFC 3501 §5.1: the name INBOX is case-insensitive; its children keep their spelling. */
    if (g_ascii_strcasecmp (folder, "INBOX") == 0)
        return g_strdup (layout == NMS_MAILDIR_LAYOUT_MAILDIRPP ? "" : "INBOX");
    if (delim != '\0') {
        parts = g_strsplit (folder, delim_str, -1);
    } else {
        parts = g_new0 (char *, 2);
        parts[0] = g_strdup (folder);
    }
    for (guint i = 0; parts[i] != NULL; i++) {
        if (!check_component (folder, parts[i], layout, error))
            return NULL;
    }
    if (layout == NMS_MAILDIR_LAYOUT_VERBATIM)
        return g_strjoinv ("/", parts);
    /* In maildir++ the whole folder is one directory entry ".a.b". A top-level folder named
     * "notmuch" would be ".notmuch", notmuch's own database directory when the database lives
     * in the Maildir root (its default). */
    joined = g_strjoinv (".", parts);
    if (strcmp (joined, "notmuch") == 0) {
        bad_folder (error, folder, "'.notmuch' is notmuch's database directory (maildir++ layout)");
        return NULL;
    }
    if (strlen (joined) + 1 > MAX_COMPONENT) {
        bad_folder (error, folder, "longer than %d bytes as a maildir++ directory", MAX_COMPONENT);
        return NULL;
    }
    return g_strconcat (".", joined, NULL);
}

static gboolean
folder_complete (const char *dir, const char *marker)
{
    static const char *const subdirs[] = { "cur", "new", "tmp" };

    for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++) {
        g_autofree char *sub = g_build_filename (dir, subdirs[i], NULL);

        if (!g_file_test (sub, G_FILE_TEST_IS_DIR))
            return FALSE;
    }
    return marker == NULL || g_file_test (marker, G_FILE_TEST_IS_REGULAR);
}

static gboolean
create_marker (const char *marker, GError **error)
{
    int fd = open (marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

    if (fd < 0)
        return nms_fs_set_error (error, errno, "cannot create", marker);
    if (close (fd) != 0)
        return nms_fs_set_error (error, errno, "cannot close", marker);
    return TRUE;
}

/* fsyncs @dir and each parent up to @root (and @root's parent when @root is new), so that the
 * new directory entries survive a crash before the first message delivered into them is
 * recorded anywhere. */
static gboolean
sync_up_to_root (const char *root, const char *dir, gboolean root_created, GError **error)
{
    g_autofree char *d = g_strdup (dir);
    g_autofree char *root_parent = NULL;

    while (strlen (d) > strlen (root)) {
        char *parent = g_path_get_dirname (d);

        if (!nms_fs_fsync_dir (d, error)) {
            g_free (parent);
            return FALSE;
        }
        g_free (d);
        d = parent;
    }
    if (!nms_fs_fsync_dir (d, error))
        return FALSE;
    if (!root_created)
        return TRUE;
    root_parent = g_path_get_dirname (d);
    return nms_fs_fsync_dir (root_parent, error);
}

/* Creates cur/, new/ and tmp/ in @dir and the @marker file (may be NULL). */
static gboolean
create_folder (const char *dir, const char *marker, GError **error)
{
    static const char *const subdirs[] = { "cur", "new", "tmp" };

    for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++) {
        g_autofree char *sub = g_build_filename (dir, subdirs[i], NULL);

        if (!nms_fs_mkdir_p (sub, 0700, error))
            return FALSE;
    }
    return marker == NULL || create_marker (marker, error);
}

char *
nms_maildir_folder_ensure (const char *root, const char *relpath, GError **error)
{
    g_autofree char *dir = NULL;
    g_autofree char *base = NULL;
    g_autofree char *marker = NULL;
    GError *fs_error = NULL;
    gboolean root_created;

    g_return_val_if_fail (root != NULL && relpath != NULL, NULL);
    g_return_val_if_fail (!g_path_is_absolute (relpath), NULL);

    dir = *relpath != '\0' ? g_build_filename (root, relpath, NULL) : g_strdup (root);
    /* Only maildir++ subfolders start with '.': folder_to_path refuses such components in the
     * verbatim layout, so the name alone tells which layout @relpath came from. */
    base = g_path_get_basename (relpath);
    if (*relpath != '\0' && base[0] == '.')
        marker = g_build_filename (dir, "maildirfolder", NULL);
    if (folder_complete (dir, marker))
        return g_steal_pointer (&dir);
    root_created = !g_file_test (root, G_FILE_TEST_IS_DIR);
    if (!create_folder (dir, marker, &fs_error)
        || !sync_up_to_root (root, dir, root_created, &fs_error)) {
        nms_maildir_propagate_fs_error (error, fs_error);
        return NULL;
    }
    return g_steal_pointer (&dir);
}

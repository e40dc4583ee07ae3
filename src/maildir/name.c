/* SPDX-License-Identifier: GPL-3.0-or-later
 * Maildir file names: "<base>[,X=...][,U=<uid>]:2,<flags>". Parsing is strict because a name we
 * misread and then rename loses information (a flag, a UID, another program's ",X=" field). */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

G_DEFINE_QUARK (nms-maildir-error-quark, nms_maildir_error)

#define INFO_SEPARATOR ":2,"
#define HOST_PART_MAX 64
/* ",U=4294967295" and room for six more flag letters */
#define UID_FIELD_MAX 13
#define FLAG_ROOM 6

static gboolean
bad_name (GError **error, const char *filename, const char *cause)
{
    g_autofree char *quoted = nms_maildir_escape_for_message (filename);

    g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME, "file name '%s': %s",
                 quoted, cause);
    return FALSE;
}

/* "U=<digits>" with a value in 1..2^32-1 and no leading zero (a name we could not write back
 * byte for byte is not safe to rename). */
static gboolean
parse_uid_field (const char *field, guint32 *uid_out)
{
    const char *digits = field + 2;
    guint64 value = 0;

    if (digits[0] < '1' || digits[0] > '9')
        return FALSE;
    for (const char *p = digits; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return FALSE;
        value = value * 10 + (guint64) (*p - '0');
        if (value > G_MAXUINT32)
            return FALSE;
    }
    *uid_out = (guint32) value;
    return TRUE;
}

/* Splits @prefix (the name before the info) into the base without the ",U=" field and the uid.
 * Fields are the ','-separated parts after the first one; the first part is the unique name. */
static gboolean
split_uid (const char *filename, const char *prefix, NmsMaildirName *name, GError **error)
{
    g_auto (GStrv) parts = g_strsplit (prefix, ",", -1);
    GString *base = g_string_new (parts[0]);
    gboolean seen_uid = FALSE;

    for (guint i = 1; parts[i] != NULL; i++) {
        if (!g_str_has_prefix (parts[i], "U=")) {
            g_string_append_c (base, ',');
            g_string_append (base, parts[i]);
            continue;
        }
        if (seen_uid || !parse_uid_field (parts[i], &name->uid)) {
            g_string_free (base, TRUE);
            return bad_name (error, filename,
                             seen_uid ? "more than one ',U=' field" : "',U=' is not a uid");
        }
        seen_uid = TRUE;
    }
    name->base = g_string_free (base, FALSE);
    return TRUE;
}

/* Checks what must hold for any name before we look at its parts. */
static gboolean
check_filename (const char *filename, GError **error)
{
    if (*filename == '\0')
        return bad_name (error, filename, "empty name");
    if (strchr (filename, '/') != NULL)
        return bad_name (error, filename, "contains '/'");
    if (strcmp (filename, ".") == 0 || strcmp (filename, "..") == 0)
        return bad_name (error, filename, "not a file name");
    return TRUE;
}

NmsMaildirName *
nms_maildir_name_parse (const char *filename, GError **error)
{
    g_autoptr (NmsMaildirName) name = NULL;
    g_autofree char *prefix = NULL;
    const char *info;

    g_return_val_if_fail (filename != NULL, NULL);

    if (!check_filename (filename, error))
        return NULL;
    name = g_new0 (NmsMaildirName, 1);
    /* mbsync and Dovecot always write ":2,"; a name without it (or with other info such as
     * ":1,...") keeps everything in the base and has no flags we know of. */
    info = g_strrstr (filename, INFO_SEPARATOR);
    if (info != NULL) {
        name->flags = g_strdup (info + strlen (INFO_SEPARATOR));
        if (!nms_maildir_flags_valid (name->flags)) {
            bad_name (error, filename, "flags are not sorted unique letters");
            return NULL;
        }
    }
    prefix = info != NULL ? g_strndup (filename, (gsize) (info - filename)) : g_strdup (filename);
    if (*prefix == '\0' || *prefix == ',') {
        bad_name (error, filename, "empty unique part");
        return NULL;
    }
    if (!split_uid (filename, prefix, name, error))
        return NULL;
    /* Without info, a unique part ending in ":2" is ambiguous: giving the file a UID appends
     * ",U=<uid>", which would read back as the info ":2,U=<uid>" (found by fuzz-maildir-name).
     * Such a name is never safe to rename. */
    if (name->flags == NULL && g_str_has_suffix (name->base, ":2")) {
        bad_name (error, filename, "ends in ':2' without the ',' of the info");
        return NULL;
    }
    return g_steal_pointer (&name);
}

char *
nms_maildir_name_format (const NmsMaildirName *name)
{
    GString *s;

    g_return_val_if_fail (name != NULL && name->base != NULL, NULL);

    s = g_string_new (name->base);
    if (name->uid != 0)
        g_string_append_printf (s, ",U=%" G_GUINT32_FORMAT, name->uid);
    if (name->flags != NULL)
        g_string_append_printf (s, INFO_SEPARATOR "%s", name->flags);
    return g_string_free (s, FALSE);
}

/* The host name as the Maildir spec asks: '/' and ':' cannot appear in a file name (or would
 * be read as the info separator), so they become "\057" and "\072". We also escape ',' as
 * "\054" because a ',' in the unique part would start a field and could fake a ",U=". */
char *
nms_maildir_escaped_host (void)
{
    const char *host = g_get_host_name ();
    GString *s = g_string_new (NULL);

    /* HOST_NAME_MAX is 64, but escapes can make it four times longer: a bound keeps every
     * name nmsync makes far below NMS_MAILDIR_NAME_MAX. */
    for (const char *p = host; *p != '\0' && s->len < HOST_PART_MAX; p++) {
        if (*p == '/' || *p == ':' || *p == ',')
            g_string_append_printf (s, "\\%03o", (unsigned) (guchar) *p);
        else
            g_string_append_c (s, *p);
    }
    if (s->len == 0)
        g_string_append (s, "localhost");
    return g_string_free (s, FALSE);
}

char *
nms_maildir_unique_base (void)
{
    /* The one process-wide mutable value: names created by parallel folder workers in the same
     * microsecond must still differ, so the counter is shared and atomic. */
    static gint counter = 0;
    gint64 now = g_get_real_time ();
    g_autofree char *host = nms_maildir_escaped_host ();
    guint n = (guint) g_atomic_int_add (&counter, 1);

    return g_strdup_printf ("%" G_GINT64_FORMAT ".M%" G_GINT64_FORMAT "P%ldQ%u.%s",
                            now / G_USEC_PER_SEC, now % G_USEC_PER_SEC, (long) getpid (), n,
                            host);
}

NmsMaildirName *
nms_maildir_name_new (guint32 uid, const char *flags)
{
    NmsMaildirName *name;

    g_return_val_if_fail (flags == NULL || nms_maildir_flags_valid (flags), NULL);

    name = g_new0 (NmsMaildirName, 1);
    name->base = nms_maildir_unique_base ();
    name->uid = uid;
    name->flags = g_strdup (flags);
    return name;
}

gboolean
nms_maildir_name_fits (const NmsMaildirName *name)
{
    gsize len;

    g_return_val_if_fail (name != NULL && name->base != NULL, FALSE);
    len = strlen (name->base) + UID_FIELD_MAX + strlen (INFO_SEPARATOR) + FLAG_ROOM;
    if (name->flags != NULL)
        len += strlen (name->flags);
    return len <= NMS_MAILDIR_NAME_MAX;
}

void
nms_maildir_name_free (NmsMaildirName *name)
{
    if (name == NULL)
        return;
    g_free (name->base);
    g_free (name->flags);
    g_free (name);
}

gboolean
nms_maildir_propagate_fs_error (GError **error, GError *fs_error)
{
    int code = g_error_matches (fs_error, NMS_FS_ERROR, NMS_FS_ERROR_NOSPACE)
                   ? NMS_MAILDIR_ERROR_NOSPACE
                   : NMS_MAILDIR_ERROR_IO;

    g_set_error_literal (error, NMS_MAILDIR_ERROR, code, fs_error->message);
    g_error_free (fs_error);
    return FALSE;
}

gboolean
nms_maildir_io_error (GError **error, int err, const char *what, const char *path)
{
    GError *fs_error = NULL;

    nms_fs_set_error (&fs_error, err, what, path);
    return nms_maildir_propagate_fs_error (error, fs_error);
}

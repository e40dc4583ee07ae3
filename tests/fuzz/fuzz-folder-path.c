/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_maildir_folder_to_path() on arbitrary (decoded) server folder names: the first byte
 * picks the layout and the hierarchy delimiter, the rest is the name. A path it returns must
 * stay under the Maildir root: not absolute, no ".." component, no control characters. */
#include "nms-build.h"

#include "maildir/maildir.h"
#include "fuzz-common.h"

static gboolean
path_is_safe (const char *path)
{
    g_auto (GStrv) parts = NULL;

    if (g_path_is_absolute (path))
        return FALSE;
    for (const char *p = path; *p != '\0'; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return FALSE;
    parts = g_strsplit (path, "/", -1);
    for (char **part = parts; *part != NULL; part++)
        if (strcmp (*part, "..") == 0)
            return FALSE;
    return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const char delims[] = { '/', '.', 0 };
    g_autofree char *folder = NULL;
    g_autofree char *path = NULL;
    g_autoptr (GError) error = NULL;
    NmsMaildirLayout layout;
    char delim;

    if (size == 0)
        return 0;
    layout = (data[0] & 1) ? NMS_MAILDIR_LAYOUT_VERBATIM : NMS_MAILDIR_LAYOUT_MAILDIRPP;
    delim = delims[(data[0] >> 1) % 3];
    folder = fuzz_cstring (data + 1, size - 1);
    if (folder == NULL)
        return 0;
    path = nms_maildir_folder_to_path (folder, delim, layout, &error);
    if (path == NULL) {
        if (error == NULL)
            __builtin_trap ();
        return 0;
    }
    if (error != NULL || !path_is_safe (path))
        __builtin_trap ();
    return 0;
}

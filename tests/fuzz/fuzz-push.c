/* SPDX-License-Identifier: GPL-3.0-or-later
 * The responses a server pushes while nmsync watch idles (src/imap/idle.c,
 * nms_imap_push_parse(): libetpan's parser, the folder names taken from it, and the scan of the
 * raw bytes for names sent as literals). The first input byte picks the hierarchy delimiter
 * (bits 0-1: '/', '.', none) and a namespace prefix (bit 2: "INBOX."). Checks: a result or an
 * error, never both; every folder named is non-empty UTF-8, without control characters, and
 * named once. */
#include "nms-build.h"

#include "imap/imap.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const char delims[] = { '/', '.', '\0', '/' };
    g_autoptr (GError) error = NULL;
    NmsImapPush push;
    gboolean ok;

    if (size < 1)
        return 0;
    nms_imap_push_init (&push);
    ok = nms_imap_push_parse ((const char *) data + 1, size - 1, delims[data[0] & 3],
                              (data[0] & 4) ? "INBOX." : NULL, &push, &error);
    if (ok != (error == NULL))
        __builtin_trap ();
    for (guint i = 0; i < push.folders->len; i++) {
        const char *name = g_ptr_array_index (push.folders, i);

        if (*name == '\0' || !g_utf8_validate (name, -1, NULL))
            __builtin_trap ();
        for (const char *p = name; *p != '\0'; p++) {
            if ((guchar) *p < 0x20 || *p == 0x7f)
                __builtin_trap ();
        }
        for (guint j = 0; j < i; j++) {
            if (strcmp (name, g_ptr_array_index (push.folders, j)) == 0)
                __builtin_trap ();
        }
    }
    nms_imap_push_clear (&push);
    return 0;
}

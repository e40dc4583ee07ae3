/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_config_import_mbsyncrc() on arbitrary text: it never fails, its output is valid UTF-8,
 * and nms_config_load() accepts that output whenever it holds an account (no output of
 * import-mbsyncrc may be a config nmsync refuses), once each "maildir = FIXME-ROOT" (an
 * account whose folder directories nmsync would not find: the user decides) is ROOT and each
 * ca-file names a readable file. */
#include "nms-build.h"

#include "config/config.h"
#include "fuzz-common.h"

#include <stdio.h>

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_cstring (data, size);
    g_autofree char *out = NULL;
    g_autoptr (GError) error = NULL;
    NmsConfig *config;
    const char *path;

    if (text == NULL)
        return 0;
    out = nms_config_import_mbsyncrc ("fuzz.mbsyncrc", text);
    if (out == NULL || !g_utf8_validate (out, -1, NULL))
        __builtin_trap ();
    if (strstr (out, "\n[account ") == NULL)
        return 0;
    {
        g_auto (GStrv) parts = g_strsplit (out, "\nmaildir = FIXME-", -1);

        g_free (out);
        out = g_strjoinv ("\nmaildir = ", parts);
    }
    {
        /* A ca-file must be readable when the config loads (the user's CertificateFile is on
         * their disk, not on the fuzzer's): each one points at a file that is. */
        g_auto (GStrv) lines = g_strsplit (out, "\n", -1);

        for (char **l = lines; *l != NULL; l++) {
            if (g_str_has_prefix (*l, "ca-file = ")) {
                g_free (*l);
                *l = g_strdup ("ca-file = /dev/null");
            }
        }
        g_free (out);
        out = g_strjoinv ("\n", lines);
    }
    path = fuzz_write_tmp ((const uint8_t *) out, strlen (out));
    config = nms_config_load (path, &error);
    if (config == NULL) {
        fprintf (stderr, "%s\n---\n%s\n", error->message, out);
        __builtin_trap ();
    }
    nms_config_free (config);
    return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync import-mbsyncrc [FILE]: prints the nmsync config equivalent to an mbsync
 * configuration (default ~/.mbsyncrc). Reads one file and writes stdout: no config of its
 * own, no state, no network. */
#include "nms-build.h"

#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int
nms_cmd_import_mbsyncrc (const NmsCliOptions *options)
{
    g_autofree char *path = NULL;
    g_autofree char *text = NULL;
    g_autofree char *out = NULL;
    g_autoptr (GError) error = NULL;
    gsize len = 0;

    if (options->args[0] != NULL && options->args[1] != NULL) {
        fputs ("nmsync: import-mbsyncrc takes one FILE\nTry 'nmsync --help'.\n", stderr);
        return NMS_EXIT_USAGE;
    }
    path = options->args[0] != NULL ? g_strdup (options->args[0])
                                    : g_build_filename (g_get_home_dir (), ".mbsyncrc", NULL);
    if (!g_file_get_contents (path, &text, &len, &error)) {
        fprintf (stderr, "nmsync: cannot read mbsync config: %s\n", error->message);
        return NMS_EXIT_USAGE;
    }
    if (memchr (text, '\0', len) != NULL) {
        fprintf (stderr, "nmsync: cannot read mbsync config '%s': not a text file\n", path);
        return NMS_EXIT_USAGE;
    }
    out = nms_config_import_mbsyncrc (path, text);
    fputs (out, stdout);
    if (fflush (stdout) != 0) {
        fprintf (stderr, "nmsync: cannot write the config: %s\n", g_strerror (errno));
        return NMS_EXIT_USAGE;
    }
    return NMS_EXIT_OK;
}

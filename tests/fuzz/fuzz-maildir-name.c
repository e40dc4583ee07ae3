/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_maildir_name_parse() on arbitrary file names; every accepted name must format back to
 * a name that parses to the same fields, or a rename could change what a file says. */
#include "nms-build.h"

#include "maildir/maildir.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    g_autofree char *input = fuzz_cstring (data, size);
    g_autoptr (NmsMaildirName) name = NULL;
    g_autoptr (NmsMaildirName) again = NULL;
    g_autoptr (GError) error = NULL;
    g_autofree char *formatted = NULL;

    if (input == NULL)
        return 0;
    name = nms_maildir_name_parse (input, &error);
    if (name == NULL) {
        if (error == NULL)
            __builtin_trap ();
        return 0;
    }
    if (error != NULL)
        __builtin_trap ();
    formatted = nms_maildir_name_format (name);
    again = nms_maildir_name_parse (formatted, NULL);
    if (again == NULL || g_strcmp0 (again->base, name->base) != 0 || again->uid != name->uid ||
        g_strcmp0 (again->flags, name->flags) != 0)
        __builtin_trap ();
    return 0;
}

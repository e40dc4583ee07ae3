/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_maildir_flags_from_imap() on arbitrary flag lists (the input split at spaces, as a
 * FETCH FLAGS list arrives): the result is always sorted, unique letters. */
#include "nms-build.h"

#include "maildir/maildir.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    g_autofree char *input = fuzz_cstring (data, size);
    g_auto (GStrv) list = NULL;
    g_autofree char *letters = NULL;
    g_autofree char *normalized = NULL;

    if (input == NULL)
        return 0;
    list = g_strsplit (input, " ", -1);
    letters = nms_maildir_flags_from_imap ((const char *const *) list, g_strv_length (list));
    if (letters == NULL)
        __builtin_trap ();
    normalized = nms_maildir_flags_normalize (letters);
    if (strcmp (normalized, letters) != 0)
        __builtin_trap ();
    return 0;
}

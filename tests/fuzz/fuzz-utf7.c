/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_utf7_decode() on arbitrary server folder names. The decoder is strict by contract:
 * whatever it accepts is valid UTF-8 and re-encodes to the very same bytes, so two server
 * names never map to one directory. */
#include "nms-build.h"

#include "maildir/maildir.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    g_autofree char *input = fuzz_cstring (data, size);
    g_autofree char *decoded = NULL;
    g_autofree char *encoded = NULL;
    g_autoptr (GError) error = NULL;

    if (input == NULL)
        return 0;
    decoded = nms_utf7_decode (input, &error);
    if (decoded == NULL) {
        if (error == NULL)
            __builtin_trap ();
        return 0;
    }
    if (error != NULL || !g_utf8_validate (decoded, -1, NULL))
        __builtin_trap ();
    encoded = nms_utf7_encode (decoded);
    if (encoded == NULL || strcmp (encoded, input) != 0)
        __builtin_trap ();
    return 0;
}

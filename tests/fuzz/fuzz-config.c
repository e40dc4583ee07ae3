/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_config_load() on arbitrary file contents: a config or an error, never both or neither.
 * The loader only reads the file (password-command runs later), so fuzzing it runs nothing. */
#include "nms-build.h"

#include "config/config.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_tmp (data, size);
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsConfig) config = nms_config_load (path, &error);

    if ((config == NULL) == (error == NULL))
        __builtin_trap ();
    return 0;
}

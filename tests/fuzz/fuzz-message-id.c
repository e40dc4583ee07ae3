/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_maildir_message_id_parse() on arbitrary header bytes (from a server's HEADER.FIELDS
 * answer or the top of a local file); the input is not NUL-terminated on purpose. */
#include "nms-build.h"

#include "maildir/maildir.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    g_autofree char *id = nms_maildir_message_id_parse ((const char *) data, size);

    /* Contract: never empty, always UTF-8. */
    if (id != NULL && (id[0] == '\0' || !g_utf8_validate (id, -1, NULL)))
        __builtin_trap ();
    return 0;
}

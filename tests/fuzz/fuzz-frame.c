/* SPDX-License-Identifier: GPL-3.0-or-later
 * The framing guard (src/imap/frame.c) on arbitrary server bytes. The first input byte sets
 * the line cap (1..256 bytes, so the limits are reached) and whether bodies are streamed
 * (bit 7); the next one the chunk size of a second run. Checks: fed whole or in chunks, the
 * guard decides the same, at the same state; a failure has a reason and a success none; a
 * BYE text is printable ASCII. */
#include "nms-build.h"

#include "imap/frame.h"
#include "fuzz-common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    NmsImapFrame whole, chunked;
    gboolean ok_whole, ok_chunked = TRUE;
    gsize step;

    if (size < 2)
        return 0;
    nms_imap_frame_init (&whole, (data[0] & 0x7f) * 2 + 1);
    nms_imap_frame_init (&chunked, (data[0] & 0x7f) * 2 + 1);
    whole.bodies_streamed = chunked.bodies_streamed = (data[0] & 0x80) != 0;
    step = data[1] % 16 + 1;
    data += 2;
    size -= 2;
    ok_whole = nms_imap_frame_feed (&whole, (const char *) data, size);
    for (gsize i = 0; i < size && ok_chunked; i += step)
        ok_chunked = nms_imap_frame_feed (&chunked, (const char *) data + i, MIN (step, size - i));
    if (ok_whole != ok_chunked || whole.state != chunked.state ||
        g_strcmp0 (nms_imap_frame_reason (&whole), nms_imap_frame_reason (&chunked)) != 0)
        __builtin_trap ();
    if (ok_whole != (nms_imap_frame_reason (&whole) == NULL))
        __builtin_trap ();
    if (ok_whole && whole.line_len > whole.max_line)
        __builtin_trap ();
    for (const char *p = nms_imap_frame_bye (&whole); p != NULL && *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7e)
            __builtin_trap ();
    }
    nms_imap_frame_clear (&whole);
    nms_imap_frame_clear (&chunked);
    return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The --trace formatter (src/imap/log.c) on arbitrary server bytes. The first input byte sets
 * the direction (bit 0: sent), whether the bytes are private (bit 1) and the chunk size of a
 * second run (bits 2-5: 1..16). Checks: fed whole or in chunks, the same lines; every line is
 * valid UTF-8 without control characters (the trace goes to a terminal). */
#include "nms-build.h"

#include "imap/imap-private.h"
#include "fuzz-common.h"

static void
collect (const char *text, gpointer user_data)
{
    for (const char *p = text; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7f)
            __builtin_trap ();
    }
    if (!g_utf8_validate (text, -1, NULL))
        __builtin_trap ();
    g_string_append_printf (user_data, "%s\n", text);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    GString *whole = g_string_new (NULL), *chunked = g_string_new (NULL);
    NmsImapLog log_whole = { .account = "a", .trace = TRUE, .line = collect, .user_data = whole };
    NmsImapLog log_chunked = { .account = "a", .trace = TRUE, .line = collect,
                               .user_data = chunked };
    NmsImapTrace *a, *b;
    int side;
    gboolean private;
    gsize step;

    if (size < 1)
        return 0;
    side = data[0] & 1;
    private = (data[0] & 2) != 0;
    step = ((data[0] >> 2) & 0xf) + 1;
    data++;
    size--;
    a = nms_imap_trace_new (&log_whole);
    b = nms_imap_trace_new (&log_chunked);
    nms_imap_trace_feed (a, side, (const char *) data, size, private);
    for (gsize i = 0; i < size; i += step)
        nms_imap_trace_feed (b, side, (const char *) data + i, MIN (step, size - i), private);
    nms_imap_trace_free (a);
    nms_imap_trace_free (b);
    if (strcmp (whole->str, chunked->str) != 0)
        __builtin_trap ();
    g_string_free (whole, TRUE);
    g_string_free (chunked, TRUE);
    return 0;
}

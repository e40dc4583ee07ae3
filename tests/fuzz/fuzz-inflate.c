/* SPDX-License-Identifier: GPL-3.0-or-later
 * The read path of the COMPRESS=DEFLATE layer (src/imap/compress.c) on arbitrary server bytes.
 * The first input byte picks how many bytes the inner driver hands over per read and how many
 * libetpan asks for; the rest is what the server sent. Checks: a read never returns more than
 * asked for; what comes out is a prefix of what zlib itself inflates from the same bytes, and
 * all of it when the layer saw EOF instead of an error; after an error every read fails; the
 * byte counts agree. */
#include "nms-build.h"

#include "imap/imap-private.h"
#include "fuzz-common.h"
#include "../unit/memlow.h"

#include <zlib.h>

/* Far beyond what a few KiB of deflate data can produce (about 1000:1). */
#define MAX_OUT (64u << 20)
/* zlib alone may overshoot MAX_OUT by a read or two before it stops. */
#define MAX_REF (2 * MAX_OUT)

/* zlib on its own: everything @data inflates to before an error or the end. */
static GByteArray *
reference (const guint8 *data, size_t len)
{
    GByteArray *out = g_byte_array_new ();
    z_stream z = { 0 };
    guint8 buf[16384];
    int r;

    if (inflateInit2 (&z, -15) != Z_OK)
        __builtin_trap ();
    z.next_in = (Bytef *) data;
    z.avail_in = (uInt) len;
    do {
        z.next_out = buf;
        z.avail_out = sizeof buf;
        r = inflate (&z, Z_SYNC_FLUSH);
        /* Also what came out before an error: the layer may have passed that on in reads
         * before the one that met the error. */
        g_byte_array_append (out, buf, (guint) (sizeof buf - z.avail_out));
    } while (r == Z_OK && out->len < MAX_REF);
    inflateEnd (&z);
    return out;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const size_t chunks[] = { 1, 3, 64, 8192 };
    static const size_t counts[] = { 1, 7, 4096, 65536 };
    GBytes *input;
    mailstream_low *inner, *layer;
    GByteArray *got, *want;
    NmsImapCompressStats st;
    size_t count;
    guint8 *buf;
    ssize_t r = 0;

    if (size < 1)
        return 0;
    input = g_bytes_new_static (data + 1, size - 1);
    inner = mem_low_new (input, chunks[data[0] & 3], NULL);
    g_bytes_unref (input);
    count = counts[(data[0] >> 2) & 3];
    layer = nms_imap_compress_low_new (inner, NULL, 0);
    if (inner == NULL || layer == NULL)
        __builtin_trap ();

    got = g_byte_array_new ();
    buf = g_malloc (count);
    while (got->len < MAX_OUT && (r = mailstream_low_read (layer, buf, count)) > 0) {
        if ((size_t) r > count)
            __builtin_trap ();
        g_byte_array_append (got, buf, (guint) r);
    }
    if (r < 0) {
        if (nms_imap_compress_low_failure (layer) == NULL ||
            mailstream_low_read (layer, buf, count) != -1)
            __builtin_trap ();
    }
    if (!nms_imap_compress_low_stats (layer, &st) || st.data_in != got->len ||
        st.wire_in > size - 1)
        __builtin_trap ();

    want = reference (data + 1, size - 1);
    if (got->len > want->len || (got->len > 0 && memcmp (got->data, want->data, got->len) != 0))
        __builtin_trap ();
    if (r == 0 && got->len != want->len)
        __builtin_trap ();

    g_free (buf);
    g_byte_array_unref (got);
    g_byte_array_unref (want);
    mailstream_low_free (layer);
    return 0;
}

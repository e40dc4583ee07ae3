/* SPDX-License-Identifier: GPL-3.0-or-later
 * The read path of the COMPRESS=DEFLATE layer (src/imap/compress.c) on arbitrary server bytes.
 * The first input byte picks how many bytes the inner driver hands over per read and how many
 * libetpan asks for; the rest is what the server sent. Checks: a read never returns more than
 * asked for; what comes out is a prefix of what zlib itself inflates from the same bytes, and
 * all of it when the layer saw EOF instead of an error; after an error every read fails; the
 * byte counts agree. */
#include "config.h"

#include "imap/imap-private.h"
#include "fuzz-common.h"

#include <zlib.h>

/* Far beyond what a few KiB of deflate data can produce (about 1000:1). */
#define MAX_OUT (64u << 20)
/* zlib alone may overshoot MAX_OUT by a read or two before it stops. */
#define MAX_REF (2 * MAX_OUT)

typedef struct {
    const guint8 *data;
    size_t len;
    size_t pos;
    size_t chunk;
} Mem;

static ssize_t
mem_read (mailstream_low *low, void *buf, size_t count)
{
    Mem *m = low->data;
    size_t n = MIN (MIN (count, m->chunk), m->len - m->pos);

    memcpy (buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t) n;
}

static ssize_t
mem_write (mailstream_low *low, const void *buf, size_t count)
{
    return (ssize_t) count;
}

static int
mem_close (mailstream_low *low)
{
    return 0;
}

static int
mem_get_fd (mailstream_low *low)
{
    return -1;
}

static void
mem_free (mailstream_low *low)
{
    g_free (low->data);
    free (low);
}

static void
mem_cancel (mailstream_low *low)
{
}

static struct mailstream_cancel *
mem_get_cancel (mailstream_low *low)
{
    return NULL;
}

static carray *
mem_get_certificate_chain (mailstream_low *low)
{
    return NULL;
}

static int
mem_idle (mailstream_low *low)
{
    return -1;
}

static mailstream_low_driver mem_driver = {
    .mailstream_read = mem_read,
    .mailstream_write = mem_write,
    .mailstream_close = mem_close,
    .mailstream_get_fd = mem_get_fd,
    .mailstream_free = mem_free,
    .mailstream_cancel = mem_cancel,
    .mailstream_get_cancel = mem_get_cancel,
    .mailstream_get_certificate_chain = mem_get_certificate_chain,
    .mailstream_setup_idle = mem_idle,
    .mailstream_unsetup_idle = mem_idle,
    .mailstream_interrupt_idle = mem_idle,
};

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
    Mem *m;
    mailstream_low *inner, *layer;
    GByteArray *got, *want;
    NmsImapCompressStats st;
    size_t count;
    guint8 *buf;
    ssize_t r = 0;

    if (size < 1)
        return 0;
    m = g_new0 (Mem, 1);
    m->data = data + 1;
    m->len = size - 1;
    m->chunk = chunks[data[0] & 3];
    count = counts[(data[0] >> 2) & 3];
    inner = mailstream_low_new (m, &mem_driver);
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
        st.wire_in > m->len)
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

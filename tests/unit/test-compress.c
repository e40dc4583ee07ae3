/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for the COMPRESS=DEFLATE layer (src/imap/compress.c) over an in-memory driver:
 * writes inflate back whole after every single write, reads give back exactly what was
 * deflated whatever the chunk sizes, bytes read before the layer came first, and corrupt,
 * ended or empty-forever streams are read errors. Also when to ask for it at all. */
#include "nms-build.h"

#include "imap/imap-private.h"
#include "memlow.h"

#include <string.h>
#include <zlib.h>

/* A compress layer over an in-memory driver that returns @input (may be NULL) @chunk bytes at
 * a time. *@mem_out: the driver's state, owned by the layer. */
static mailstream_low *
layer_new (GBytes *input, gsize chunk, const void *pending, gsize pending_len, Mem **mem_out)
{
    mailstream_low *inner = mem_low_new (input, chunk, mem_out);
    mailstream_low *layer;

    g_assert_nonnull (inner);
    layer = nms_imap_compress_low_new (inner, pending, pending_len);
    g_assert_nonnull (layer);
    return layer;
}

/* ---- zlib on the test's side ---------------------------------------------------------- */

/* Raw deflate of @text, with a sync flush after every @flush_every bytes (0: only at the end)
 * and a final block when @finish. */
static GBytes *
deflate_text (const char *text, gsize len, gsize flush_every, gboolean finish)
{
    z_stream z = { 0 };
    GByteArray *out = g_byte_array_new ();
    guchar buf[4096];
    gsize pos = 0;

    g_assert_cmpint (deflateInit2 (&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), ==, Z_OK);
    do {
        gsize take = flush_every > 0 ? MIN (flush_every, len - pos) : len - pos;
        gboolean last = pos + take == len;
        int flush = last && finish ? Z_FINISH : Z_SYNC_FLUSH;

        z.next_in = (Bytef *) text + pos;
        z.avail_in = (uInt) take;
        do {
            z.next_out = buf;
            z.avail_out = sizeof buf;
            g_assert_cmpint (deflate (&z, flush), !=, Z_STREAM_ERROR);
            g_byte_array_append (out, buf, sizeof buf - z.avail_out);
        } while (z.avail_out == 0);
        pos += take;
    } while (pos < len);
    deflateEnd (&z);
    return g_byte_array_free_to_bytes (out);
}

/* Inflates all of @data, which must decode completely (no bytes held back). */
static GString *
inflate_all (const guchar *data, gsize len)
{
    z_stream z = { 0 };
    GString *out = g_string_new (NULL);
    char buf[4096];
    int r;

    g_assert_cmpint (inflateInit2 (&z, -15), ==, Z_OK);
    z.next_in = (Bytef *) data;
    z.avail_in = (uInt) len;
    do {
        z.next_out = (Bytef *) buf;
        z.avail_out = sizeof buf;
        r = inflate (&z, Z_SYNC_FLUSH);
        g_assert_true (r == Z_OK || r == Z_BUF_ERROR);
        g_string_append_len (out, buf, (gssize) (sizeof buf - z.avail_out));
    } while (z.avail_out == 0);
    g_assert_cmpuint (z.avail_in, ==, 0);
    inflateEnd (&z);
    return out;
}

/* Some IMAP-like text: long enough for several deflate blocks and windows. */
static GString *
sample_text (gsize n_lines)
{
    GString *s = g_string_new (NULL);
    guint32 x = 12345;

    for (gsize i = 0; i < n_lines; i++) {
        x = x * 1103515245u + 12345u;
        g_string_append_printf (s, "* %zu FETCH (UID %zu FLAGS (\\Seen) BODY[] {%u}\r\n", i + 1,
                                i + 1, x >> 20);
    }
    return s;
}

/* Reads @layer in reads of @count bytes until EOF or error; *@last_out: the last result. */
static GString *
read_all (mailstream_low *layer, gsize count, ssize_t *last_out)
{
    GString *out = g_string_new (NULL);
    g_autofree char *buf = g_malloc (count);
    ssize_t r;

    for (int i = 0; i < 10000000 && (r = mailstream_low_read (layer, buf, count)) > 0; i++)
        g_string_append_len (out, buf, r);
    *last_out = r;
    return out;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void
test_write_flushes (void)
{
    Mem *m;
    mailstream_low *layer = layer_new (NULL, 100, NULL, 0, &m);
    const char *cmds[] = { "1 CAPABILITY\r\n", "2 LIST \"\" \"*\"\r\n", "3 LOGOUT\r\n" };
    g_autoptr (GString) want = g_string_new (NULL);
    g_autoptr (GString) big = sample_text (5000);
    NmsImapCompressStats st;

    for (guint i = 0; i < G_N_ELEMENTS (cmds); i++) {
        g_autoptr (GString) got = NULL;

        g_assert_cmpint (mailstream_low_write (layer, cmds[i], strlen (cmds[i])), ==,
                         (ssize_t) strlen (cmds[i]));
        g_string_append (want, cmds[i]);
        /* Everything written so far inflates, with nothing held back for later. */
        got = inflate_all (m->written->data, m->written->len);
        g_assert_cmpstr (got->str, ==, want->str);
    }
    g_assert_cmpint (mailstream_low_write (layer, big->str, big->len), ==, (ssize_t) big->len);
    g_string_append_len (want, big->str, (gssize) big->len);
    {
        g_autoptr (GString) got = inflate_all (m->written->data, m->written->len);
        g_assert_true (g_string_equal (got, want));
    }
    g_assert_true (nms_imap_compress_low_stats (layer, &st));
    g_assert_cmpuint (st.data_out, ==, want->len);
    g_assert_cmpuint (st.wire_out, ==, m->written->len);
    g_assert_cmpuint (st.wire_out, <, st.data_out);
    mailstream_low_free (layer);
}

static void
test_read_chunks (void)
{
    g_autoptr (GString) text = sample_text (20000);
    const gsize flushes[] = { 0, 1, 77, 8192 };
    const gsize chunks[] = { 1, 5, 4096, 1 << 20 };
    const gsize counts[] = { 1, 13, 8192, 1 << 20 };

    for (guint f = 0; f < G_N_ELEMENTS (flushes); f++) {
        g_autoptr (GBytes) z = deflate_text (text->str, text->len, flushes[f], FALSE);

        for (guint c = 0; c < G_N_ELEMENTS (chunks); c++) {
            for (guint k = 0; k < G_N_ELEMENTS (counts); k++) {
                mailstream_low *layer;
                g_autoptr (GString) got = NULL;
                NmsImapCompressStats st;
                ssize_t last;

                /* Byte-at-a-time input with one-byte reads is slow and adds nothing. */
                if (flushes[f] == 1 && (chunks[c] < 4096 || counts[k] < 4096))
                    continue;
                layer = layer_new (z, chunks[c], NULL, 0, NULL);
                got = read_all (layer, counts[k], &last);
                g_assert_cmpint (last, ==, 0); /* the inner EOF, passed on */
                g_assert_cmpuint (got->len, ==, text->len);
                g_assert_true (g_string_equal (got, text));
                g_assert_true (nms_imap_compress_low_stats (layer, &st));
                g_assert_cmpuint (st.wire_in, ==, g_bytes_get_size (z));
                g_assert_cmpuint (st.data_in, ==, text->len);
                g_assert_null (nms_imap_compress_low_failure (layer));
                mailstream_low_free (layer);
            }
        }
    }
}

/* What mailstream read past the OK line is handed over and inflated first. */
static void
test_read_pending (void)
{
    g_autoptr (GString) text = sample_text (2000);
    g_autoptr (GBytes) z = deflate_text (text->str, text->len, 500, FALSE);
    gsize len;
    const guchar *data = g_bytes_get_data (z, &len);
    const gsize splits[] = { 0, 1, 100, 8192 };

    for (guint i = 0; i < G_N_ELEMENTS (splits); i++) {
        gsize split = MIN (splits[i], len);
        g_autoptr (GBytes) rest = g_bytes_new_from_bytes (z, split, len - split);
        mailstream_low *layer = layer_new (rest, 1000, data, split, NULL);
        g_autoptr (GString) got = NULL;
        ssize_t last;

        got = read_all (layer, 4096, &last);
        g_assert_true (g_string_equal (got, text));
        mailstream_low_free (layer);
    }
    /* More than the layer's input buffer cannot be handed over. */
    {
        g_autofree guchar *huge = g_malloc0 (1 << 20);
        mailstream_low *inner = mem_low_new (NULL, 1, NULL);

        g_assert_null (nms_imap_compress_low_new (inner, huge, 1 << 20));
        mailstream_low_free (inner);
    }
}

static void
test_read_garbage (void)
{
    g_autoptr (GBytes) junk = g_bytes_new_static ("* OK this is plain text, not deflate\r\n", 38);
    mailstream_low *layer = layer_new (junk, 4096, NULL, 0, NULL);
    char buf[256];

    g_assert_cmpint (mailstream_low_read (layer, buf, sizeof buf), ==, -1);
    g_assert_nonnull (strstr (nms_imap_compress_low_failure (layer), "corrupt compressed data"));
    /* And it stays failed. */
    g_assert_cmpint (mailstream_low_read (layer, buf, sizeof buf), ==, -1);
    g_assert_cmpint (mailstream_low_write (layer, "x", 1), ==, -1);
    mailstream_low_free (layer);
}

/* A stream cut short: what was complete comes out, then EOF (0) for the EOF guard above. */
static void
test_read_truncated (void)
{
    g_autoptr (GString) text = sample_text (3000);
    g_autoptr (GBytes) z = deflate_text (text->str, text->len, 0, FALSE);
    g_autoptr (GBytes) half = g_bytes_new_from_bytes (z, 0, g_bytes_get_size (z) / 2);
    mailstream_low *layer = layer_new (half, 512, NULL, 0, NULL);
    g_autoptr (GString) got = NULL;
    ssize_t last;

    got = read_all (layer, 1000, &last);
    g_assert_cmpint (last, ==, 0);
    g_assert_cmpuint (got->len, <, text->len);
    g_assert_true (strncmp (got->str, text->str, got->len) == 0);
    mailstream_low_free (layer);
}

/* RFC 4978 has no end of the compressed stream before the connection ends. */
static void
test_read_stream_end (void)
{
    g_autoptr (GBytes) z = deflate_text ("* OK bye\r\n", 10, 0, TRUE);
    mailstream_low *layer = layer_new (z, 4096, NULL, 0, NULL);
    g_autoptr (GString) got = NULL;
    ssize_t last;

    got = read_all (layer, 4096, &last);
    g_assert_cmpstr (got->str, ==, "* OK bye\r\n");
    g_assert_cmpint (last, ==, -1);
    g_assert_cmpstr (nms_imap_compress_low_failure (layer), ==,
                     "the server ended the compressed stream");
    mailstream_low_free (layer);
}

/* Empty stored blocks inflate to nothing: a server sending them forever is cut off. */
static void
test_read_barren (void)
{
    const gsize n = 300000;
    g_autofree guchar *blocks = g_malloc (n * 5);
    g_autoptr (GBytes) input = NULL;
    mailstream_low *layer;
    char buf[64];

    for (gsize i = 0; i < n; i++)
        memcpy (blocks + i * 5, "\x00\x00\x00\xff\xff", 5);
    input = g_bytes_new (blocks, n * 5);
    layer = layer_new (input, 65536, NULL, 0, NULL);
    g_assert_cmpint (mailstream_low_read (layer, buf, sizeof buf), ==, -1);
    g_assert_nonnull (strstr (nms_imap_compress_low_failure (layer), "decompresses to nothing"));
    mailstream_low_free (layer);
}

/* What a read would return at once, without the socket becoming readable (IDLE). */
static void
test_buffered (void)
{
    g_autoptr (GString) text = sample_text (500);
    g_autoptr (GBytes) z = deflate_text (text->str, text->len, 0, FALSE);
    mailstream_low *layer = layer_new (z, 1 << 20, NULL, 0, NULL);
    g_autoptr (GString) rest = NULL;
    char buf[10];
    ssize_t last;

    g_assert_false (nms_imap_compress_low_buffered (layer));
    g_assert_cmpint (mailstream_low_read (layer, buf, sizeof buf), ==, sizeof buf);
    g_assert_true (nms_imap_compress_low_buffered (layer));
    rest = read_all (layer, 1 << 16, &last);
    g_assert_cmpuint (rest->len + sizeof buf, ==, text->len);
    g_assert_false (nms_imap_compress_low_buffered (layer));
    mailstream_low_free (layer);
}

static void
test_other_driver (void)
{
    mailstream_low *low = mem_low_new (NULL, 1, NULL);
    NmsImapCompressStats st;

    g_assert_false (nms_imap_compress_low_stats (low, &st));
    g_assert_false (nms_imap_compress_low_stats (NULL, &st));
    g_assert_null (nms_imap_compress_low_failure (low));
    mailstream_low_free (low);
}

static void
test_wanted (void)
{
    /* setting, offered, tunnel, loopback */
    g_assert_true (nms_imap_compress_wanted (NMS_COMPRESS_AUTO, TRUE, FALSE, FALSE));
    g_assert_false (nms_imap_compress_wanted (NMS_COMPRESS_AUTO, TRUE, FALSE, TRUE));
    g_assert_false (nms_imap_compress_wanted (NMS_COMPRESS_AUTO, TRUE, TRUE, FALSE));
    g_assert_false (nms_imap_compress_wanted (NMS_COMPRESS_AUTO, FALSE, FALSE, FALSE));
    g_assert_true (nms_imap_compress_wanted (NMS_COMPRESS_YES, TRUE, TRUE, TRUE));
    g_assert_false (nms_imap_compress_wanted (NMS_COMPRESS_YES, FALSE, FALSE, FALSE));
    g_assert_false (nms_imap_compress_wanted (NMS_COMPRESS_NO, TRUE, FALSE, FALSE));
}

static gboolean
loopback (const char *address)
{
    g_autoptr (GInetAddress) a = g_inet_address_new_from_string (address);
    g_autoptr (GSocketAddress) sa = g_inet_socket_address_new (a, 143);
    struct sockaddr_storage ss;

    memset (&ss, 0, sizeof ss);
    g_assert_true (g_socket_address_to_native (sa, &ss, sizeof ss, NULL));
    return nms_imap_compress_peer_is_loopback (&ss);
}

static void
test_peer_loopback (void)
{
    struct sockaddr_storage unix_peer = { .ss_family = AF_UNIX };

    g_assert_true (loopback ("127.0.0.1"));
    g_assert_true (loopback ("127.3.2.1"));
    g_assert_true (loopback ("::1"));
    g_assert_true (loopback ("::ffff:127.0.0.1"));
    g_assert_false (loopback ("10.0.0.1"));
    g_assert_false (loopback ("128.0.0.1"));
    g_assert_false (loopback ("::ffff:10.0.0.1"));
    g_assert_false (loopback ("2001:db8::1"));
    g_assert_false (loopback ("::2"));
    g_assert_true (nms_imap_compress_peer_is_loopback (&unix_peer));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/compress/write/flushes", test_write_flushes);
    g_test_add_func ("/compress/read/chunks", test_read_chunks);
    g_test_add_func ("/compress/read/pending", test_read_pending);
    g_test_add_func ("/compress/read/garbage", test_read_garbage);
    g_test_add_func ("/compress/read/truncated", test_read_truncated);
    g_test_add_func ("/compress/read/stream-end", test_read_stream_end);
    g_test_add_func ("/compress/read/barren", test_read_barren);
    g_test_add_func ("/compress/other-driver", test_other_driver);
    g_test_add_func ("/compress/wanted", test_wanted);
    g_test_add_func ("/compress/read/buffered", test_buffered);
    g_test_add_func ("/compress/peer-loopback", test_peer_loopback);
    return g_test_run ();
}

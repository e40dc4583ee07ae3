/* SPDX-License-Identifier: GPL-3.0-or-later
 * COMPRESS=DEFLATE (RFC 4978) through our own zlib layer: Debian builds libetpan without zlib,
 * so mailimap_compress() switches the server to deflate and then kills the session
 * (LIBRARIES.md 1.2). Here: a low driver that raw-deflates writes and inflates reads, put
 * under the EOF guard (so EOF is still caught and captures see plain IMAP), and the
 * negotiation after login. */
#include "nms-build.h"

#include "imap/imap-private.h"

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <zlib.h>

/* Compressed bytes read from the inner driver at once; also the largest number of bytes
 * mailstream may have buffered after the tagged OK (its buffer is 8 KiB). */
#define IN_SIZE (16u * 1024)
/* Deflate output is written to the inner driver in chunks of this size. */
#define OUT_SIZE (16u * 1024)
/* A legitimate server never sends this many compressed bytes that inflate to nothing (an
 * empty sync flush is 5 bytes); a hostile one could, forever, while the timeout never fires. */
#define MAX_BARREN (1u << 20)

/* RFC 4978 §3: raw deflate, no zlib header or checksum. */
#define WINDOW_BITS (-15)

typedef struct {
    mailstream_low *inner;
    z_stream zin;        /* inflate: next_in points into @in */
    z_stream zout;       /* deflate */
    gboolean failed;     /* corrupt input, a zlib error or a failed write: all later I/O fails */
    const char *why;     /* why the compressed stream failed (static or @why_buf), or NULL */
    char why_buf[128];
    gsize barren;        /* compressed bytes consumed since the last byte of output */
    gboolean out_full;   /* the last inflate filled the caller's buffer: zlib may hold more */
    NmsImapCompressStats stats;
    guchar in[IN_SIZE];
    guchar out[OUT_SIZE];
} Compress;

static mailstream_low_driver compress_driver;

/* Inflates into @buf. Returns the bytes produced, 0 when zlib needs more input, -1 when the
 * stream is corrupt (or ended: RFC 4978 has no end before the connection's). */
static ssize_t
inflate_into (Compress *c, void *buf, size_t count)
{
    uInt before_in = c->zin.avail_in;
    gsize produced;
    int z;

    c->zin.next_out = buf;
    c->zin.avail_out = (uInt) MIN (count, (size_t) G_MAXUINT);
    z = inflate (&c->zin, Z_SYNC_FLUSH);
    produced = MIN (count, (size_t) G_MAXUINT) - c->zin.avail_out;
    c->out_full = c->zin.avail_out == 0;
    if (z == Z_STREAM_END) {
        /* After the final block nothing more can be decoded: the next read fails. */
        c->failed = TRUE;
        c->why = "the server ended the compressed stream";
        if (produced == 0)
            return -1;
    } else if (z != Z_OK && z != Z_BUF_ERROR) {
        c->failed = TRUE;
        g_snprintf (c->why_buf, sizeof c->why_buf, "corrupt compressed data (%s)",
                    c->zin.msg != NULL ? c->zin.msg : zError (z));
        c->why = c->why_buf;
        return -1;
    }
    if (produced > 0) {
        c->barren = 0;
        c->stats.data_in += produced;
        return (ssize_t) produced;
    }
    c->barren += before_in - c->zin.avail_in;
    if (c->barren > MAX_BARREN) {
        c->failed = TRUE;
        c->why = "more than 1 MiB of compressed data that decompresses to nothing";
        return -1;
    }
    return 0;
}

/* Reads more compressed bytes behind the ones inflate has not consumed yet. Returns what the
 * inner read returned: > 0, 0 at EOF (the EOF guard above turns it into an error), -1. */
static ssize_t
refill (Compress *c)
{
    gsize have = c->zin.avail_in;
    ssize_t r;

    if (have > 0 && c->zin.next_in != c->in)
        memmove (c->in, c->zin.next_in, have);
    c->zin.next_in = c->in;
    if (have == sizeof c->in) {
        /* zlib always consumes input while it has room for output: cannot happen. */
        c->failed = TRUE;
        c->why = "inflate made no progress";
        return -1;
    }
    r = mailstream_low_read (c->inner, c->in + have, sizeof c->in - have);
    if (r > 0) {
        c->zin.avail_in = (uInt) (have + (gsize) r);
        c->stats.wire_in += (guint64) r;
    }
    return r;
}

/* Output zlib holds back (a long match, a full buffer) comes out before the inner driver is
 * read again, and a read never returns 0 bytes unless the inner driver did. */
static ssize_t
compress_read (mailstream_low *low, void *buf, size_t count)
{
    Compress *c = low->data;

    if (count == 0)
        return 0;
    for (;;) {
        ssize_t n;

        if (c->failed)
            return -1;
        n = inflate_into (c, buf, count);
        if (n != 0)
            return n;
        n = refill (c);
        if (n <= 0)
            return n;
    }
}

static gboolean
write_all (Compress *c, const guchar *data, gsize len)
{
    while (len > 0) {
        ssize_t w = mailstream_low_write (c->inner, data, len);

        if (w <= 0)
            return FALSE;
        data += w;
        len -= (gsize) w;
        c->stats.wire_out += (guint64) w;
    }
    return TRUE;
}

/* mailstream calls this only when it flushes its buffer or writes past it, and expects the
 * bytes to leave: each write ends with a sync flush, so the server can inflate all of it. */
static ssize_t
compress_write (mailstream_low *low, const void *buf, size_t count)
{
    Compress *c = low->data;
    uInt take = (uInt) MIN (count, (size_t) G_MAXUINT);

    if (c->failed)
        return -1;
    c->zout.next_in = (Bytef *) buf;
    c->zout.avail_in = take;
    do {
        int z;

        c->zout.next_out = c->out;
        c->zout.avail_out = sizeof c->out;
        z = deflate (&c->zout, Z_SYNC_FLUSH);
        if (z != Z_OK && z != Z_BUF_ERROR) {
            c->failed = TRUE;
            c->why = "deflate failed";
            return -1;
        }
        if (!write_all (c, c->out, sizeof c->out - c->zout.avail_out)) {
            /* Part of the stream may be out: the server cannot resynchronise either. */
            c->failed = TRUE;
            return -1;
        }
    } while (c->zout.avail_out == 0);
    c->stats.data_out += take;
    return (ssize_t) take;
}

static mailstream_low *
inner (mailstream_low *low)
{
    return ((Compress *) low->data)->inner;
}

static int
compress_close (mailstream_low *low)
{
    return mailstream_low_close (inner (low));
}

static int
compress_get_fd (mailstream_low *low)
{
    return mailstream_low_get_fd (inner (low));
}

static void
compress_free (mailstream_low *low)
{
    Compress *c = low->data;

    inflateEnd (&c->zin);
    deflateEnd (&c->zout);
    mailstream_low_free (c->inner);
    g_free (c);
    free (low);
}

static void
compress_cancel (mailstream_low *low)
{
    mailstream_low_cancel (inner (low));
}

static struct mailstream_cancel *
compress_get_cancel (mailstream_low *low)
{
    return mailstream_low_get_cancel (inner (low));
}

static carray *
compress_get_certificate_chain (mailstream_low *low)
{
    return mailstream_low_get_certificate_chain (inner (low));
}

/* Bytes inflated but not yet returned do not make the socket readable: whoever waits for
 * IDLE data on the fd must first check nms_imap_compress_buffered(). */
static int
compress_setup_idle (mailstream_low *low)
{
    return mailstream_low_setup_idle (inner (low));
}

static int
compress_unsetup_idle (mailstream_low *low)
{
    return mailstream_low_unsetup_idle (inner (low));
}

static int
compress_interrupt_idle (mailstream_low *low)
{
    return mailstream_low_interrupt_idle (inner (low));
}

static mailstream_low_driver compress_driver = {
    .mailstream_read = compress_read,
    .mailstream_write = compress_write,
    .mailstream_close = compress_close,
    .mailstream_get_fd = compress_get_fd,
    .mailstream_free = compress_free,
    .mailstream_cancel = compress_cancel,
    .mailstream_get_cancel = compress_get_cancel,
    .mailstream_get_certificate_chain = compress_get_certificate_chain,
    .mailstream_setup_idle = compress_setup_idle,
    .mailstream_unsetup_idle = compress_unsetup_idle,
    .mailstream_interrupt_idle = compress_interrupt_idle,
};

mailstream_low *
nms_imap_compress_low_new (mailstream_low *inner_low, const void *pending, gsize pending_len)
{
    Compress *c;
    mailstream_low *low;

    g_return_val_if_fail (inner_low != NULL, NULL);
    if (pending_len > IN_SIZE)
        return NULL;
    c = g_new0 (Compress, 1);
    /* Level 6 and 8 KiB of hash chains (memLevel 8) are zlib's defaults: about 256 KiB for
     * deflate and 40 KiB for inflate, whatever the traffic. */
    if (inflateInit2 (&c->zin, WINDOW_BITS) != Z_OK) {
        g_free (c);
        return NULL;
    }
    if (deflateInit2 (&c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, WINDOW_BITS, 8,
                      Z_DEFAULT_STRATEGY) != Z_OK) {
        inflateEnd (&c->zin);
        g_free (c);
        return NULL;
    }
    if (pending_len > 0)
        memcpy (c->in, pending, pending_len);
    c->zin.next_in = c->in;
    c->zin.avail_in = (uInt) pending_len;
    c->stats.wire_in = pending_len;
    low = mailstream_low_new (c, &compress_driver);
    if (low == NULL)
        g_error ("out of memory");
    c->inner = inner_low;
    mailstream_low_set_timeout (low, mailstream_low_get_timeout (inner_low));
    return low;
}

gboolean
nms_imap_compress_low_stats (mailstream_low *low, NmsImapCompressStats *stats_out)
{
    if (low == NULL || low->driver != &compress_driver)
        return FALSE;
    *stats_out = ((Compress *) low->data)->stats;
    return TRUE;
}

const char *
nms_imap_compress_low_failure (mailstream_low *low)
{
    if (low == NULL || low->driver != &compress_driver)
        return NULL;
    return ((Compress *) low->data)->why;
}

gboolean
nms_imap_compress_low_buffered (mailstream_low *low)
{
    Compress *c;

    if (low == NULL || low->driver != &compress_driver)
        return FALSE;
    c = low->data;
    return !c->failed && (c->zin.avail_in > 0 || c->out_full);
}

gboolean
nms_imap_compress_buffered (mailimap *imap)
{
    if (imap == NULL || imap->imap_stream == NULL)
        return FALSE;
    return nms_imap_compress_low_buffered (nms_imap_eof_guard_get_inner (imap));
}

const char *
nms_imap_compress_failure (mailimap *imap)
{
    if (imap == NULL || imap->imap_stream == NULL)
        return NULL;
    return nms_imap_compress_low_failure (nms_imap_eof_guard_get_inner (imap));
}

gboolean
nms_imap_session_compress_stats (NmsImapSession *session, NmsImapCompressStats *stats_out)
{
    g_return_val_if_fail (session != NULL && stats_out != NULL, FALSE);
    if (session->imap == NULL || session->imap->imap_stream == NULL)
        return FALSE;
    return nms_imap_compress_low_stats (nms_imap_eof_guard_get_inner (session->imap), stats_out);
}

/* ---- negotiation ------------------------------------------------------------------------ */

gboolean
nms_imap_compress_peer_is_loopback (const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

        return (ntohl (in->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *) ss)->sin6_addr;

        return IN6_IS_ADDR_LOOPBACK (a) || (IN6_IS_ADDR_V4MAPPED (a) && a->s6_addr[12] == 127);
    }
    return ss->ss_family == AF_UNIX;
}

/* The address actually connected to, not the configured name: "mail" may well be 127.0.0.1. */
static gboolean
peer_is_loopback (mailimap *imap)
{
    int fd = mailstream_low_get_fd (mailstream_get_low (imap->imap_stream));
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;

    memset (&ss, 0, sizeof ss);
    if (fd < 0 || getpeername (fd, (struct sockaddr *) &ss, &len) < 0)
        return FALSE;
    return nms_imap_compress_peer_is_loopback (&ss);
}

gboolean
nms_imap_compress_wanted (NmsCompress setting, gboolean offered, gboolean tunnel,
                          gboolean loopback)
{
    if (setting == NMS_COMPRESS_NO || !offered)
        return FALSE;
    /* auto: on loopback deflate only costs CPU, and ssh compresses a tunnel itself. */
    return setting == NMS_COMPRESS_YES || (!tunnel && !loopback);
}

static gboolean
wanted (NmsImapSession *s, const NmsAccount *account)
{
    gboolean offered = nms_imap_session_has_capability (s, "COMPRESS=DEFLATE");

    /* getpeername() only when the answer matters. */
    return nms_imap_compress_wanted (account->compress, offered, account->tunnel != NULL,
                                     account->compress == NMS_COMPRESS_AUTO && offered &&
                                         account->tunnel == NULL && peer_is_loopback (s->imap));
}

/* Sends "COMPRESS DEFLATE" and reads the reply. Returns the libetpan code; *@ok_out is TRUE
 * for a tagged OK. */
static int
send_compress (mailimap *imap, gboolean *ok_out)
{
    int state = -1;
    int r = nms_imap_raw_command (imap, "COMPRESS DEFLATE", &state);

    *ok_out = r == MAILIMAP_NO_ERROR && state == MAILIMAP_RESP_COND_STATE_OK;
    return r;
}

/* RFC 4978 §3: the server deflates from the byte after its OK's CRLF. Whatever mailstream read
 * beyond that line is compressed already and goes to the layer first. */
static gboolean
install (NmsImapSession *s, GError **error)
{
    mailstream *stream = s->imap->imap_stream;
    mailstream_low *under = nms_imap_eof_guard_get_inner (s->imap);
    mailstream_low *layer;

    g_return_val_if_fail (under != NULL, FALSE);
    layer = nms_imap_compress_low_new (under, stream->read_buffer, stream->read_buffer_len);
    if (layer == NULL) {
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "cannot start compression with '%s' after it accepted COMPRESS: zlib "
                     "failed to initialise", s->host);
        return FALSE;
    }
    stream->read_buffer_len = 0;
    nms_imap_eof_guard_set_inner (s->imap, layer);
    return TRUE;
}

gboolean
nms_imap_compress_start (NmsImapSession *s, const NmsAccount *account, GError **error)
{
    gboolean ok;
    int r;

    if (!wanted (s, account) || nms_imap_session_compress_stats (s, &(NmsImapCompressStats) { 0 }))
        return TRUE;
    r = send_compress (s->imap, &ok);
    if (r == MAILIMAP_NO_ERROR)
        return ok ? install (s, error) : TRUE; /* NO: stay uncompressed */
    /* BAD, or a reply with another tag: only a NOOP tells the two apart. */
    if (r == MAILIMAP_ERROR_PROTOCOL && mailimap_noop (s->imap) == MAILIMAP_NO_ERROR)
        return TRUE;
    return nms_imap_session_fail (s, r, "COMPRESS", error);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * An in-memory mailstream low driver, for tests of the layers nmsync stacks on libetpan's
 * streams (the COMPRESS layer): the unit tests and the fuzz target share it. Header-only, for
 * tests only. */
#pragma once

#include <glib.h>
#include <libetpan/libetpan.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    GBytes *input;       /* what reads return, @chunk bytes at a time, then EOF (0) */
    gsize pos;
    gsize chunk;
    GByteArray *written; /* what writes received, taking at most @chunk bytes per call */
} Mem;

static ssize_t
mem_read (mailstream_low *low, void *buf, size_t count)
{
    Mem *m = low->data;
    gsize len = 0;
    const guchar *data = m->input != NULL ? g_bytes_get_data (m->input, &len) : NULL;
    gsize n = MIN (MIN (count, m->chunk), len - m->pos);

    if (n > 0)
        memcpy (buf, data + m->pos, n);
    m->pos += n;
    return (ssize_t) n;
}

static ssize_t
mem_write (mailstream_low *low, const void *buf, size_t count)
{
    Mem *m = low->data;
    gsize n = MIN (count, m->chunk);

    g_byte_array_append (m->written, buf, (guint) n);
    return (ssize_t) n;
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
    Mem *m = low->data;

    if (m->input != NULL)
        g_bytes_unref (m->input);
    g_byte_array_unref (m->written);
    g_free (m);
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

/* A driver returning @input (may be NULL) @chunk bytes at a time, then EOF; writes go to
 * m->written. *@mem_out (may be NULL): its state, owned by the driver. (transfer full) */
static inline mailstream_low *
mem_low_new (GBytes *input, gsize chunk, Mem **mem_out)
{
    Mem *m = g_new0 (Mem, 1);
    mailstream_low *low;

    m->input = input != NULL ? g_bytes_ref (input) : NULL;
    m->chunk = chunk;
    m->written = g_byte_array_new ();
    low = mailstream_low_new (m, &mem_driver);
    if (mem_out != NULL)
        *mem_out = m;
    return low;
}

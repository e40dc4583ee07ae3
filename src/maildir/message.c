/* SPDX-License-Identifier: GPL-3.0-or-later
 * Reading a message file without loading it: its Message-ID from the header alone (message-id.c) and
 * its size with CRLF line ends, both in bounded memory whatever the size of the file. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

#define HEADER_MAX (1024 * 1024)
#define CHUNK_SIZE (64 * 1024)

/* Opens @path for reading and checks that it is a regular file (O_NONBLOCK so that a FIFO
 * in its place cannot hang the open; it has no effect on regular files). Returns -1 with
 * @error set on failure. */
static int
open_message (const char *path, GError **error)
{
    struct stat st;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        nms_maildir_io_error (error, errno, "cannot open", path);
        return -1;
    }
    if (fstat (fd, &st) != 0) {
        nms_maildir_io_error (error, errno, "cannot stat", path);
        nms_fd_clear (&fd);
        return -1;
    }
    if (!S_ISREG (st.st_mode)) {
        g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO,
                     "cannot read '%s': not a regular file", path);
        nms_fd_clear (&fd);
        return -1;
    }
    return fd;
}

/* read(2) that retries on EINTR. Returns the byte count, 0 at the end, -1 with @error set. */
static gssize
read_some (int fd, guint8 *buf, gsize len, const char *path, GError **error)
{
    gssize n;

    do
        n = read (fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        nms_maildir_io_error (error, errno, "cannot read", path);
    return n;
}

/* Offset just past the empty line that ends the header ("\n\n" or "\n\r\n"), searching
 * @data from @from; 0 when there is none yet. A file that starts with an empty line has no
 * header at all: that is -1. */
static gssize
header_end (const guint8 *data, gsize len, gsize from)
{
    if (len >= 1 && data[0] == '\n')
        return -1;
    if (len >= 2 && data[0] == '\r' && data[1] == '\n')
        return -1;
    for (gsize i = from; i < len; i++) {
        if (data[i] != '\n')
            continue;
        if (i + 1 < len && data[i + 1] == '\n')
            return (gssize) (i + 2);
        if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
            return (gssize) (i + 3);
    }
    return 0;
}

/* Reads the header of @fd (up to and including the empty line that ends it, at most
 * HEADER_MAX bytes) into @buf. Sets *@no_header_out when the file starts with an empty line. */
static gboolean
read_header (int fd, const char *path, GByteArray *buf, gboolean *no_header_out, GError **error)
{
    gsize searched = 0;

    *no_header_out = FALSE;
    while (buf->len < HEADER_MAX) {
        gsize old_len = buf->len;
        gsize want = MIN ((gsize) 8192, HEADER_MAX - old_len);
        gssize n;
        gssize end;

        g_byte_array_set_size (buf, (guint) (old_len + want));
        n = read_some (fd, buf->data + old_len, want, path, error);
        if (n < 0)
            return FALSE;
        g_byte_array_set_size (buf, (guint) (old_len + (gsize) n));
        /* Look again at the last two old bytes: the empty line may straddle two reads. */
        end = header_end (buf->data, buf->len, searched);
        if (end < 0) {
            *no_header_out = TRUE;
            return TRUE;
        }
        if (end > 0) {
            g_byte_array_set_size (buf, (guint) end);
            return TRUE;
        }
        if (n == 0)
            return TRUE;
        searched = buf->len >= 2 ? buf->len - 2 : 0;
    }
    return TRUE;
}

gboolean
nms_maildir_message_id (const char *path, char **message_id_out, GError **error)
{
    GByteArray *header = NULL;
    gboolean no_header = FALSE;
    int fd;

    g_return_val_if_fail (path != NULL && message_id_out != NULL, FALSE);

    *message_id_out = NULL;
    fd = open_message (path, error);
    if (fd < 0)
        return FALSE;
    header = g_byte_array_new ();
    if (!read_header (fd, path, header, &no_header, error)) {
        g_byte_array_unref (header);
        nms_fd_clear (&fd);
        return FALSE;
    }
    nms_fd_clear (&fd);
    if (no_header || header->len == 0) {
        g_byte_array_unref (header);
        return TRUE;
    }
    *message_id_out = nms_maildir_message_id_parse ((const char *) header->data, header->len);
    g_byte_array_unref (header);
    return TRUE;
}

gsize
nms_maildir_tuid_size (const char *header, gsize len)
{
    static const char field[] = "X-TUID: ";
    const char *p = header, *end = header + len;

    while (p < end) {
        const char *nl = memchr (p, '\n', (gsize) (end - p));
        gsize line = (gsize) ((nl != NULL ? nl : end) - p);

        if (line >= sizeof field - 1 && memcmp (p, field, sizeof field - 1) == 0) {
            if (line > 0 && p[line - 1] == '\r')
                line--;
            return line + 2;
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return 0;
}

gboolean
nms_maildir_message_tuid_size (const char *path, gsize *size_out, GError **error)
{
    g_autoptr (GByteArray) header = g_byte_array_new ();
    gboolean no_header = FALSE;
    int fd;

    *size_out = 0;
    if ((fd = open_message (path, error)) < 0)
        return FALSE;
    if (!read_header (fd, path, header, &no_header, error)) {
        nms_fd_clear (&fd);
        return FALSE;
    }
    nms_fd_clear (&fd);
    if (!no_header)
        *size_out = nms_maildir_tuid_size ((const char *) header->data, header->len);
    return TRUE;
}

/* The line-end bytes in @data[0..@len) that going out as CRLF adds: one for each LF no CR
 * precedes and one for each CR no LF follows (libetpan's APPEND turns both into CRLF).
 * *@prev_cr carries whether the byte before @data was a CR, across chunks. */
static guint64
count_added (const char *data, gsize len, gboolean *prev_cr)
{
    guint64 added = 0;

    for (gsize i = 0; i < len; i++) {
        if (data[i] == '\n')
            added += !*prev_cr;
        else if (*prev_cr)
            added++; /* the CR before this byte was bare */
        *prev_cr = data[i] == '\r';
    }
    return added;
}

gboolean
nms_maildir_crlf_size (const char *path, guint64 *size_out, GError **error)
{
    g_autofree char *buf = NULL;
    gboolean prev_cr = FALSE;
    guint64 size = 0;
    int fd;

    g_return_val_if_fail (path != NULL && size_out != NULL, FALSE);

    fd = open_message (path, error);
    if (fd < 0)
        return FALSE;
    buf = g_malloc (CHUNK_SIZE);
    for (;;) {
        gssize n = read_some (fd, (guint8 *) buf, CHUNK_SIZE, path, error);

        if (n < 0) {
            nms_fd_clear (&fd);
            return FALSE;
        }
        if (n == 0)
            break;
        size += (guint64) n + count_added (buf, (gsize) n, &prev_cr);
    }
    size += prev_cr; /* a CR at the very end is bare too */
    nms_fd_clear (&fd);
    *size_out = size;
    return TRUE;
}

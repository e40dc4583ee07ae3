/* SPDX-License-Identifier: GPL-3.0-or-later
 * What a session tells its NmsImapLog: the IMAP conversation line by line (--trace), with
 * passwords and literals elided, and the stderr of a tunnel command, so that neither is
 * written over the status line nor reaches the journal without the account's name. */
#include "nms-build.h"

#include "imap/imap-private.h"

#include <string.h>

#include <gio/gio.h>

/* Longer protocol lines are cut when printed (not when parsed: the literal size that
 * decides what to skip stands at the end of the line). */
#define SHOWN_MAX 2000

typedef struct {
    GString *line;
    guint64 skip;          /* bytes of the current literal still to come */
    guint64 literal;       /* the size of that literal */
    gboolean private_line; /* part of the line was sent as private (a password) */
} Direction;

struct _NmsImapTrace {
    NmsImapLog *log;
    guint number;     /* the connection's number within the account's run, from 1 */
    Direction dir[2]; /* 0: received, 1: sent */
};

/* @text as it may reach a terminal: valid UTF-8, control characters as '?', cut at
 * SHOWN_MAX. (transfer full) */
static char *
printable (const char *text, gsize len)
{
    char *out = g_utf8_make_valid (text, (gssize) MIN (len, SHOWN_MAX));

    for (char *p = out; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    if (len > SHOWN_MAX) {
        char *cut = g_strconcat (out, "...", NULL);

        g_free (out);
        out = cut;
    }
    return out;
}

static void
say (NmsImapTrace *t, int side, const char *text)
{
    g_autofree char *line = g_strdup_printf ("%s#%u %c: %s", t->log->account, t->number,
                                             side == 0 ? 'S' : 'C', text);

    t->log->line (line, t->log->user_data);
}

/* The size of the literal announced at the end of @line ("{123}" or LITERAL+ "{123+}"), or -1. */
static gint64
literal_at_end (const GString *line)
{
    gsize end = line->len;
    gsize digits;
    guint64 size;

    if (end < 3 || line->str[end - 1] != '}')
        return -1;
    end--;
    if (line->str[end - 1] == '+')
        end--;
    for (digits = 0; digits < end && g_ascii_isdigit (line->str[end - 1 - digits]); digits++)
        ;
    if (digits == 0 || digits > 19 || digits == end || line->str[end - 1 - digits] != '{')
        return -1;
    size = g_ascii_strtoull (line->str + end - digits, NULL, 10);
    return size > G_MAXINT64 ? -1 : (gint64) size;
}

/* A private line (LOGIN, an AUTHENTICATE response) shows its tag and command only. */
static void
say_private (NmsImapTrace *t, int side, const GString *line)
{
    const char *first = memchr (line->str, ' ', line->len);
    const char *second = first != NULL ? strchr (first + 1, ' ') : NULL;
    g_autofree char *head = NULL;
    g_autofree char *text = NULL;

    if (second != NULL) {
        head = printable (line->str, (gsize) (second - line->str));
        text = g_strdup_printf ("%s [arguments elided]", head);
    }
    say (t, side, text != NULL ? text : "[elided]");
}

static void
finish_line (NmsImapTrace *t, int side, Direction *d)
{
    gint64 literal;

    while (d->line->len > 0 &&
           (d->line->str[d->line->len - 1] == '\n' || d->line->str[d->line->len - 1] == '\r'))
        g_string_truncate (d->line, d->line->len - 1);
    literal = literal_at_end (d->line);
    if (d->private_line) {
        say_private (t, side, d->line);
        memset (d->line->str, 0, d->line->len);
    } else if (d->line->len > 0) {
        g_autofree char *text = printable (d->line->str, d->line->len);

        say (t, side, text);
    }
    g_string_truncate (d->line, 0);
    d->private_line = FALSE;
    if (literal > 0)
        d->skip = d->literal = (guint64) literal;
}

void
nms_imap_trace_feed (NmsImapTrace *t, int side, const char *data, gsize len, gboolean private)
{
    Direction *d = &t->dir[side];

    while (len > 0) {
        const char *nl;
        gsize n;

        if (d->skip > 0) {
            n = (gsize) MIN ((guint64) len, d->skip);
            d->skip -= n;
            data += n;
            len -= n;
            if (d->skip == 0) {
                g_autofree char *text =
                    g_strdup_printf ("{%" G_GUINT64_FORMAT " bytes}", d->literal);

                say (t, side, text);
            }
            continue;
        }
        nl = memchr (data, '\n', len);
        n = nl != NULL ? (gsize) (nl - data) + 1 : len;
        g_string_append_len (d->line, data, (gssize) n);
        d->private_line |= private;
        data += n;
        len -= n;
        if (nl != NULL)
            finish_line (t, side, d);
    }
}

static void
logger (mailimap *imap, int log_type, const char *str, size_t size, void *context)
{
    (void) imap;
    switch (log_type) {
    case MAILSTREAM_LOG_TYPE_DATA_RECEIVED:
        nms_imap_trace_feed (context, 0, str, size, FALSE);
        break;
    case MAILSTREAM_LOG_TYPE_DATA_SENT:
        nms_imap_trace_feed (context, 1, str, size, FALSE);
        break;
    case MAILSTREAM_LOG_TYPE_DATA_SENT_PRIVATE:
        nms_imap_trace_feed (context, 1, str, size, TRUE);
        break;
    default:
        break;
    }
}

NmsImapTrace *
nms_imap_trace_new (NmsImapLog *log)
{
    NmsImapTrace *t = g_new0 (NmsImapTrace, 1);

    t->log = log;
    t->number = (guint) g_atomic_int_add (&log->connections, 1) + 1;
    for (int i = 0; i < 2; i++)
        t->dir[i].line = g_string_new (NULL);
    return t;
}

NmsImapTrace *
nms_imap_trace_attach (mailimap *imap, NmsImapLog *log)
{
    NmsImapTrace *t;

    if (log == NULL || !log->trace || log->line == NULL)
        return NULL;
    t = nms_imap_trace_new (log);
    mailimap_set_logger (imap, logger, t);
    return t;
}

void
nms_imap_trace_free (NmsImapTrace *t)
{
    if (t == NULL)
        return;
    for (int i = 0; i < 2; i++) {
        memset (t->dir[i].line->str, 0, t->dir[i].line->len); /* may hold part of a password */
        g_string_free (t->dir[i].line, TRUE);
    }
    g_free (t);
}

/* ---- a tunnel's stderr ------------------------------------------------------------------ */

struct _NmsImapTunnelStderr {
    GThread *thread;
    GInputStream *in;
    GCancellable *cancel;
    NmsImapLog *log;
    gint done;
    char *last; /* the last non-empty line read, as shown */
};

static gpointer
read_stderr (gpointer data)
{
    NmsImapTunnelStderr *e = data;
    g_autoptr (GDataInputStream) lines = g_data_input_stream_new (e->in);
    char *line;
    gsize len;

    while ((line = g_data_input_stream_read_line (lines, &len, e->cancel, NULL)) != NULL) {
        g_autofree char *text = NULL;
        g_autofree char *shown = NULL;

        if (len > 0 && line[len - 1] == '\r')
            len--;
        text = printable (line, len);
        g_free (line);
        shown = g_strdup_printf ("%s: tunnel: %s", e->log->account, text);
        e->log->line (shown, e->log->user_data);
        if (*text != '\0') {
            g_free (e->last); /* only this thread writes it; stop() reads it after the join */
            e->last = g_steal_pointer (&text);
        }
    }
    g_atomic_int_set (&e->done, 1);
    return NULL;
}

NmsImapTunnelStderr *
nms_imap_tunnel_stderr_start (GSubprocess *tunnel, NmsImapLog *log)
{
    NmsImapTunnelStderr *e;
    GInputStream *in = g_subprocess_get_stderr_pipe (tunnel);

    if (in == NULL || log == NULL || log->line == NULL)
        return NULL;
    e = g_new0 (NmsImapTunnelStderr, 1);
    e->in = g_object_ref (in);
    e->cancel = g_cancellable_new ();
    e->log = log;
    e->thread = g_thread_new ("nmsync-tunnel-stderr", read_stderr, e);
    return e;
}


char *
nms_imap_tunnel_stderr_stop (NmsImapTunnelStderr *e)
{
    char *last;

    if (e == NULL)
        return NULL;
    /* The tunnel has exited: its stderr ends at once, unless a process it left behind (an ssh
     * control master) keeps the pipe open. Wait a second for the last lines, then stop. */
    for (int i = 0; i < 20 && !g_atomic_int_get (&e->done); i++)
        g_usleep (50 * 1000);
    g_cancellable_cancel (e->cancel);
    g_thread_join (e->thread);
    g_object_unref (e->cancel);
    g_object_unref (e->in);
    last = e->last;
    g_free (e);
    return last;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The framing guard: follows IMAP lines and literals byte by byte and stops the stream before
 * libetpan 1.9.4 allocates what a hostile server announces (LIBRARIES.md 1.3.5, 1.8). */
#include "nms-build.h"

#include "imap/frame.h"

#include <string.h>

/* At most this many digits in a literal size: 4294967295 has 10. */
#define MAX_DIGITS 10
/* The start of a line kept to tell a FETCH response: "* 4294967295 FETCH (". */
#define HEAD_MAX ((guint) sizeof (((NmsImapFrame *) NULL)->head))

void
nms_imap_frame_init (NmsImapFrame *frame, guint64 max_line)
{
    memset (frame, 0, sizeof *frame);
    frame->state = NMS_IMAP_FRAME_LINE;
    frame->max_line = max_line != 0 ? max_line : NMS_IMAP_FRAME_MAX_LINE;
}

void
nms_imap_frame_clear (NmsImapFrame *frame)
{
    g_clear_pointer (&frame->reason, g_free);
}

const char *
nms_imap_frame_reason (const NmsImapFrame *frame)
{
    return frame->reason;
}

const char *
nms_imap_frame_bye (const NmsImapFrame *frame)
{
    return frame->bye[0] != '\0' ? frame->bye : NULL;
}

/* Keeps the text of "* BYE <text>" lines. */
static void
bye_byte (NmsImapFrame *f, char c)
{
    if (f->head_len == 6 && g_ascii_strncasecmp (f->head, "* BYE ", 6) == 0 && !f->in_bye) {
        f->in_bye = TRUE;
        f->bye_len = 0;
        memset (f->bye, 0, sizeof f->bye);
        return;
    }
    if (!f->in_bye || c == '\r' || f->bye_len >= sizeof f->bye - 1)
        return;
    f->bye[f->bye_len++] = (guchar) c < 0x20 || c == 0x7f || (guchar) c >= 0x80 ? '?' : c;
}

/* "64 MiB", or "99 bytes" for a cap that is no whole number of MiB (tests). */
static char *
size_text (guint64 n)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        return g_strdup_printf ("%" G_GUINT64_FORMAT " MiB", n >> 20);
    return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", n);
}

static gboolean
fail (NmsImapFrame *f, char *reason)
{
    f->state = NMS_IMAP_FRAME_FAILED;
    g_free (f->reason);
    f->reason = reason;
    return FALSE;
}

/* The line so far starts like an untagged FETCH response: "* <digits> FETCH". The window
 * holds the line's start until it first wraps (head_ok tracks that). */
static gboolean
is_fetch_line (const char *head, guint len)
{
    guint i = 2;

    if (len < 2 || head[0] != '*' || head[1] != ' ')
        return FALSE;
    while (i < len && g_ascii_isdigit (head[i]))
        i++;
    if (i == 2 || i + 7 > len || head[i] != ' ')
        return FALSE;
    return g_ascii_strncasecmp (head + i + 1, "FETCH ", 6) == 0;
}

/* @text (the line before a '{', spaces trimmed) ends with a message body item of a FETCH
 * response: "BODY[<section>]", "BODY[<section>]<<origin>>" or "RFC822", after a space or '('.
 * RFC 3501 §7.4.2. */
static gboolean
ends_with_body_item (const char *text, guint len)
{
    guint end = len;
    guint start;

    if (end >= 6 && g_ascii_strncasecmp (text + end - 6, "RFC822", 6) == 0) {
        start = end - 6;
    } else {
        if (end > 0 && text[end - 1] == '>') {
            guint digits = --end;

            while (end > 0 && g_ascii_isdigit (text[end - 1]))
                end--;
            if (end == digits || end == 0 || text[end - 1] != '<')
                return FALSE;
            end--;
        }
        if (end == 0 || text[end - 1] != ']')
            return FALSE;
        end--;
        while (end > 0 && text[end - 1] != '[' && text[end - 1] != ']')
            end--;
        if (end < 5 || text[end - 1] != '[' || g_ascii_strncasecmp (text + end - 5, "BODY", 4) != 0)
            return FALSE;
        start = end - 5;
    }
    return start > 0 && (text[start - 1] == ' ' || text[start - 1] == '(');
}

static void
window_add (NmsImapFrame *f, char c)
{
    if (f->window_len == NMS_IMAP_FRAME_WINDOW) {
        /* keep the newer half: amortised, and a body item is far shorter */
        memmove (f->window, f->window + NMS_IMAP_FRAME_WINDOW / 2, NMS_IMAP_FRAME_WINDOW / 2);
        f->window_len = NMS_IMAP_FRAME_WINDOW / 2;
    }
    f->window[f->window_len++] = c;
}

static void
line_start (NmsImapFrame *f)
{
    if (f->in_bye) {
        f->bye[f->bye_len] = '\0';
        f->in_bye = FALSE;
    }
    f->line_len = 0;
    f->window_len = 0;
    f->tail = NMS_IMAP_FRAME_TAIL_NONE;
    f->head_len = 0;
}

/* A '{' in a line: a literal may be starting; decide now whether it would be a body. */
static void
brace_open (NmsImapFrame *f)
{
    guint len = f->window_len;

    while (len > 0 && f->window[len - 1] == ' ')
        len--;
    f->tail = NMS_IMAP_FRAME_TAIL_BRACE;
    f->digits = 0;
    f->value = 0;
    f->tail_spaced = FALSE;
    f->tail_body = is_fetch_line (f->head, f->head_len) && ends_with_body_item (f->window, len);
}

/* Tracks the end of the line for a literal announcement. Generous on purpose: whatever
 * libetpan could read as a literal must be seen as one here (spaces around the number and
 * before CRLF are accepted by its unstrict parser); anything more it refuses as a parse
 * error before it reads on. */
static void
tail_step (NmsImapFrame *f, char c)
{
    switch (c) {
    case '{':
        brace_open (f);
        return;
    case ' ':
        if (f->tail == NMS_IMAP_FRAME_TAIL_BRACE)
            f->tail_spaced = f->digits > 0;
        else if (f->tail != NMS_IMAP_FRAME_TAIL_CLOSED && f->tail != NMS_IMAP_FRAME_TAIL_PLUS)
            f->tail = NMS_IMAP_FRAME_TAIL_NONE;
        return;
    case '+':
        f->tail = f->tail == NMS_IMAP_FRAME_TAIL_BRACE && f->digits > 0 ? NMS_IMAP_FRAME_TAIL_PLUS
                                                                        : NMS_IMAP_FRAME_TAIL_NONE;
        return;
    case '}':
        f->tail = (f->tail == NMS_IMAP_FRAME_TAIL_BRACE && f->digits > 0)
                          || f->tail == NMS_IMAP_FRAME_TAIL_PLUS
                      ? NMS_IMAP_FRAME_TAIL_CLOSED
                      : NMS_IMAP_FRAME_TAIL_NONE;
        return;
    case '\r':
        if (f->tail != NMS_IMAP_FRAME_TAIL_CLOSED)
            f->tail = NMS_IMAP_FRAME_TAIL_NONE;
        return;
    default:
        if (g_ascii_isdigit (c) && f->tail == NMS_IMAP_FRAME_TAIL_BRACE && !f->tail_spaced) {
            if (++f->digits <= MAX_DIGITS)
                f->value = f->value * 10 + (guint64) (c - '0');
            return;
        }
        f->tail = NMS_IMAP_FRAME_TAIL_NONE;
        return;
    }
}

/* A line end after "{N}": checks N before libetpan sees it and enters the literal. */
static gboolean
literal_announced (NmsImapFrame *f)
{
    gboolean body = f->tail_body && f->bodies_streamed;

    if (f->digits > MAX_DIGITS)
        return fail (f, g_strdup_printf ("the server announced a literal whose size has %u "
                                         "digits (at most %d)",
                                         f->digits, MAX_DIGITS));
    if (f->value > NMS_IMAP_FRAME_MAX_LITERAL)
        return fail (f, g_strdup_printf ("the server announced a literal of %" G_GUINT64_FORMAT
                                         " bytes (at most 4 GiB - 1)",
                                         f->value));
    if (!body && f->value > f->max_line - f->line_len) {
        g_autofree char *cap = size_text (f->max_line);

        return fail (f, g_strdup_printf ("the server announced a literal of %" G_GUINT64_FORMAT
                                         " bytes outside a message body (at most %s per reply)",
                                         f->value, cap));
    }
    f->literal_left = f->value;
    f->literal_is_body = body;
    /* the line goes on after the literal; a new item starts there */
    f->window_len = 0;
    f->tail = NMS_IMAP_FRAME_TAIL_NONE;
    if (f->literal_left > 0)
        f->state = NMS_IMAP_FRAME_LITERAL;
    return TRUE;
}

/* One byte of a line. */
static gboolean
line_byte (NmsImapFrame *f, char c)
{
    if (c == '\n') {
        if (f->tail == NMS_IMAP_FRAME_TAIL_CLOSED)
            return literal_announced (f);
        line_start (f);
        return TRUE;
    }
    if (++f->line_len > f->max_line) {
        g_autofree char *cap = size_text (f->max_line);

        return fail (f, g_strdup_printf ("a reply line grew past %s without a line end", cap));
    }
    if (f->head_len < HEAD_MAX)
        f->head[f->head_len++] = c;
    bye_byte (f, c);
    tail_step (f, c);
    window_add (f, c);
    return TRUE;
}

gboolean
nms_imap_frame_feed (NmsImapFrame *f, const char *data, gsize len)
{
    gsize i = 0;

    while (i < len) {
        if (f->state == NMS_IMAP_FRAME_FAILED)
            return FALSE;
        if (f->state == NMS_IMAP_FRAME_LITERAL) {
            guint64 take = MIN (f->literal_left, (guint64) (len - i));

            /* counted against the line: libetpan keeps such a literal in its line buffer */
            if (!f->literal_is_body)
                f->line_len += take;
            f->literal_left -= take;
            i += take;
            if (f->literal_left == 0)
                f->state = NMS_IMAP_FRAME_LINE;
            continue;
        }
        if (!line_byte (f, data[i++]))
            return FALSE;
    }
    return f->state != NMS_IMAP_FRAME_FAILED;
}

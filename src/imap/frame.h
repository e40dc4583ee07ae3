/* SPDX-License-Identifier: GPL-3.0-or-later
 * A framing guard for the bytes an IMAP server sends: it follows lines and literals (RFC 3501
 * §4.3: a line ending in "{N}" CRLF is followed by N bytes, then the line goes on) and says
 * "stop" before libetpan 1.9.4 acts on a size it cannot handle: it has no cap on literals and
 * allocates non-body literals up front, and its number parser overflows (LIBRARIES.md 1.3.5,
 * 1.8). Pure code over bytes; private to src/imap/ (and its tests). */
#pragma once

#include <glib.h>

/* The largest literal libetpan 1.9.4 can count (its sizes are uint32). */
#define NMS_IMAP_FRAME_MAX_LITERAL G_GUINT64_CONSTANT (0xffffffff)
/* Default caps: a reply line (with the non-body literals inside it) and a non-body literal. */
#define NMS_IMAP_FRAME_MAX_LINE (64u << 20)

typedef enum {
    NMS_IMAP_FRAME_LINE,    /* inside a line */
    NMS_IMAP_FRAME_LITERAL, /* inside literal bytes */
    NMS_IMAP_FRAME_FAILED,  /* a limit was broken: every later feed fails */
} NmsImapFrameState;

/* Recognises a literal announcement at the end of a line: '{' digits ['+'] '}' [spaces] [CR]. */
typedef enum {
    NMS_IMAP_FRAME_TAIL_NONE,
    NMS_IMAP_FRAME_TAIL_BRACE,  /* after '{' and maybe digits */
    NMS_IMAP_FRAME_TAIL_PLUS,   /* after '{' digits '+' */
    NMS_IMAP_FRAME_TAIL_CLOSED, /* after '}' (and maybe spaces or CR) */
} NmsImapFrameTail;

/* The last bytes of the current line, to tell whether a literal is a message body. */
#define NMS_IMAP_FRAME_WINDOW 256

typedef struct {
    NmsImapFrameState state;
    guint64 max_line;     /* cap on a line plus its non-body literals */
    guint64 line_len;     /* bytes of the current line so far, non-body literals included */
    guint64 literal_left; /* bytes of the current literal still to come */
    gboolean literal_is_body;
    gboolean bodies_streamed; /* set by the caller: body literals go to a handler, not memory */
    NmsImapFrameTail tail;
    guint digits;         /* digits seen after '{' */
    guint64 value;        /* their value, while digits <= 10 */
    gboolean tail_spaced; /* a space came after the digits: no more digits */
    gboolean tail_body;   /* the text before the '{' ends a body item (BODY[...], RFC822) */
    char head[24];        /* the first bytes of the line: is it a FETCH response? */
    guint head_len;
    char window[NMS_IMAP_FRAME_WINDOW];
    guint window_len;
    char *reason;    /* why the frame failed, NULL before */
    gboolean in_bye; /* the current line is an untagged BYE */
    char bye[201];   /* the text of the last BYE line, "" before */
    guint bye_len;
} NmsImapFrame;

/* Starts at the beginning of a line with @max_line as the cap (0: the default). */
void nms_imap_frame_init (NmsImapFrame *frame, guint64 max_line);
void nms_imap_frame_clear (NmsImapFrame *frame);

/* Follows @len bytes of the server's stream. Returns FALSE, and keeps the reason, when they
 * announce a literal of more than 10 digits or above NMS_IMAP_FRAME_MAX_LITERAL, a literal
 * that is not a message body (or is one while bodies are not streamed) and would take the
 * line past the cap, or make a line grow past the cap without a line end. Once it has failed
 * it fails every later call. */
gboolean nms_imap_frame_feed (NmsImapFrame *frame, const char *data, gsize len);

/* Why the frame failed (transfer none), or NULL. */
const char *nms_imap_frame_reason (const NmsImapFrame *frame);

/* The text of the last "* BYE" line (its first 200 bytes, bytes outside printable ASCII
 * replaced by '?'; what came of it when the line is cut off), or NULL when none came: a server that
 * says goodbye in the middle of a reply and hangs up leaves libetpan with only "stream error".
 * (transfer none) */
const char *nms_imap_frame_bye (const NmsImapFrame *frame);

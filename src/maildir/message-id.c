/* SPDX-License-Identifier: GPL-3.0-or-later
 * Message-IDs as notmuch 0.37 takes them. Both sides use this one parser: the server's header
 * fields (imap/) and the local files (maildir/message.c), so that pairing after a UIDVALIDITY
 * change or a crash compares like with like. GMime's own rule differs on odd headers
 * ("junk <a@b> (c)"), which is why the header is parsed here rather than with GMime. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>

/* TRUE when the field name @line..@colon is "Message-ID" (any case, blanks before ':'). */
static gboolean
is_message_id_field (const char *line, const char *colon)
{
    gsize len = (gsize) (colon - line);

    return len >= 10 && g_ascii_strncasecmp (line, "Message-ID", 10) == 0 &&
           strspn (line + 10, " \t") == len - 10;
}

/* The unfolded value of the first Message-ID field in @header (HEADER.FIELDS output), or
 * NULL. RFC 5322 §2.2.3: unfolding removes each CRLF (or bare LF) before whitespace. */
static char *
header_value (const char *header, gsize len)
{
    const char *end = header + len;
    const char *line = header;

    while (line < end) {
        const char *eol = memchr (line, '\n', (gsize) (end - line));
        const char *colon;
        GString *value;

        if (eol == NULL)
            eol = end;
        colon = memchr (line, ':', (gsize) (eol - line));
        if (colon == NULL || !is_message_id_field (line, colon)) {
            line = eol + 1;
            continue;
        }
        value = g_string_new_len (colon + 1, eol - colon - 1);
        /* continuation lines */
        while (eol + 1 < end && (eol[1] == ' ' || eol[1] == '\t')) {
            const char *next = memchr (eol + 1, '\n', (gsize) (end - eol - 1));

            if (next == NULL)
                next = end;
            g_string_append_len (value, eol + 1, next - eol - 1);
            eol = next;
        }
        return g_string_free (value, FALSE);
    }
    return NULL;
}

/* The id in @value as notmuch 0.37 parses it (_notmuch_message_id_parse): from the first '<'
 * up to the next '>' (or the end), backslash pairs kept whole, blanks dropped; NULL when
 * there is no '<' or nothing after it. (transfer full) */
static char *
bracketed_id (const char *value)
{
    const char *open = strchr (value, '<');
    GString *id;

    if (open == NULL)
        return NULL;
    id = g_string_new (NULL);
    for (const char *p = open + 1; *p != '\0' && *p != '>'; p++) {
        if (*p == '\\' && p[1] != '\0')
            g_string_append_c (id, *p++);
        if (*p != ' ' && *p != '\t')
            g_string_append_c (id, *p);
    }
    if (id->len == 0) {
        g_string_free (id, TRUE);
        return NULL;
    }
    return g_string_free (id, FALSE);
}

char *
nms_maildir_message_id_parse (const char *header, gsize len)
{
    g_autofree char *value = header_value (header, len);
    char *id;

    if (value == NULL)
        return NULL;
    g_strdelimit (value, "\r", ' ');
    id = bracketed_id (value);
    if (id == NULL)
        id = g_strdup (g_strstrip (value));
    if (*id == '\0' || !g_utf8_validate (id, -1, NULL))
        g_clear_pointer (&id, g_free);
    return id;
}


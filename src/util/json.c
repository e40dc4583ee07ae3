/* SPDX-License-Identifier: GPL-3.0-or-later
 * JSON output helpers (json.h). */
#include "nms-build.h"

#include "util/json.h"

#include <string.h>

static void
append_valid (GString *out, const char *s, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        guchar c = (guchar) s[i];

        switch (c) {
        case '"':
            g_string_append (out, "\\\"");
            break;
        case '\\':
            g_string_append (out, "\\\\");
            break;
        case '\n':
            g_string_append (out, "\\n");
            break;
        case '\t':
            g_string_append (out, "\\t");
            break;
        case '\r':
            g_string_append (out, "\\r");
            break;
        case '\b':
            g_string_append (out, "\\b");
            break;
        case '\f':
            g_string_append (out, "\\f");
            break;
        default:
            if (c < 0x20)
                g_string_append_printf (out, "\\u%04x", c);
            else
                g_string_append_c (out, (char) c);
        }
    }
}

void
nms_json_append_string (GString *out, const char *s)
{
    const char *end;

    if (s == NULL) {
        g_string_append (out, "null");
        return;
    }
    g_string_append_c (out, '"');
    /* Valid runs as they are (escaped), each invalid byte as U+FFFD. */
    while (!g_utf8_validate (s, -1, &end)) {
        append_valid (out, s, (gsize) (end - s));
        g_string_append (out, "\xef\xbf\xbd");
        s = end + 1;
    }
    append_valid (out, s, strlen (s));
    g_string_append_c (out, '"');
}

void
nms_json_append_key (GString *out, const char *key)
{
    nms_json_append_string (out, key);
    g_string_append_c (out, ':');
}

void
nms_json_append_double (GString *out, double value, int decimals)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    char format[16];

    g_snprintf (format, sizeof format, "%%.%df", CLAMP (decimals, 0, 9));
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, format, value));
}

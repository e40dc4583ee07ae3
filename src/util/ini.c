/* SPDX-License-Identifier: GPL-3.0-or-later
 * The line-numbered INI reader (see ini.h): syntax only, names and values are the caller's. */
#include "nms-build.h"

#include "util/ini.h"

#include <string.h>

#define COMMENT_HINT "a '#' starts a comment only at the beginning of a line"

static gboolean fail_at (GError **error, const NmsIniSyntax *syntax, int line, const char *fmt,
                         ...) G_GNUC_PRINTF (4, 5);

static gboolean
fail_at (GError **error, const NmsIniSyntax *syntax, int line, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    va_start (ap, fmt);
    why = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    g_set_error (error, syntax->domain, syntax->code, "%s:%d: %s", syntax->path, line, why);
    return FALSE;
}

static gboolean
bad_line (GError **error, const NmsIniSyntax *syntax, int line)
{
    return fail_at (error, syntax, line, "not a key = value line, %s or comment",
                    syntax->section_word);
}

/* A "[...]" line: the name ends at the first or the last ']', and only blanks may follow. */
static gboolean
read_section (const char *s, int line, const NmsIniSyntax *syntax, NmsIniSectionFunc on_section,
              gpointer data, GError **error)
{
    const char *end = syntax->name_to_last_bracket ? strrchr (s, ']') : strchr (s, ']');
    const char *rest = end != NULL ? end + 1 : NULL;
    g_autofree char *name = NULL;

    while (rest != NULL && (*rest == ' ' || *rest == '\t'))
        rest++;
    if (rest != NULL && *rest == '#' && syntax->hint_comment_after_section)
        return fail_at (error, syntax, line, "text after the %s name (" COMMENT_HINT ")",
                        syntax->section_word);
    if (rest == NULL || *rest != '\0')
        return bad_line (error, syntax, line);
    name = g_strndup (s + 1, end - s - 1);
    return on_section (data, name, line, error);
}

static gboolean
read_key (const char *s, int line, const NmsIniSyntax *syntax, NmsIniKeyFunc on_key,
          gpointer data, GError **error)
{
    const char *eq = strchr (s, '=');
    g_autofree char *key = NULL;

    if (eq == NULL)
        return bad_line (error, syntax, line);
    key = g_strchomp (g_strndup (s, eq - s));
    if (*key == '\0')
        return bad_line (error, syntax, line);
    return on_key (data, key, eq + 1, line, error);
}

gboolean
nms_ini_parse (const char *text, gsize len, const NmsIniSyntax *syntax,
               NmsIniSectionFunc on_section, NmsIniKeyFunc on_key, gpointer data, GError **error)
{
    g_auto (GStrv) lines = NULL;
    const char *bad;

    /* GKeyFile would take a byte order mark for part of the first line. */
    if (len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0) {
        text += 3;
        len -= 3;
    }
    /* With an explicit length, a NUL byte fails too, instead of silently ending the text. */
    if (!g_utf8_validate (text, len, &bad)) {
        int line = 1;

        for (const char *c = text; c < bad; c++)
            line += *c == '\n';
        return fail_at (error, syntax, line, "not valid UTF-8 text");
    }
    lines = g_strsplit (text, "\n", -1);
    for (int i = 0; lines[i] != NULL; i++) {
        char *s = lines[i];
        gsize n = strlen (s);
        int line = i + 1;

        if (n > 0 && s[n - 1] == '\r')
            s[n - 1] = '\0';
        while (g_ascii_isspace (*s))
            s++;
        if (*s == '\0' || *s == '#')
            continue;
        if (*s == ';')
            return fail_at (error, syntax, line,
                            "not a key = value line, %s or comment; comments start with '#'",
                            syntax->section_word);
        if (!(*s == '[' ? read_section (s, line, syntax, on_section, data, error)
                        : read_key (s, line, syntax, on_key, data, error)))
            return FALSE;
    }
    return TRUE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Folder selection: the "folders" key's include/exclude patterns and their glob matcher.
 * The matcher runs on names the server sends, so it must stay cheap on hostile input. */
#include "config/config.h"
#include "config/config-private.h"

#include <string.h>

/* Simulates the pattern as an NFA: live[i] is set when the characters of @str consumed so far
 * can bring the pattern to position i. Each character costs one pass over the pattern, so a
 * match takes O(strlen(str) * strlen(pat)) steps whatever the pattern is: no backtracking,
 * hence no exponential blowup on "*a*a*a*a*b" against a long run of 'a'. */
static gboolean
glob_match (const char *pat, const char *str, char delim)
{
    gsize m = strlen (pat);
    g_autofree guint8 *live = g_new0 (guint8, m + 1);
    g_autofree guint8 *next = g_new0 (guint8, m + 1);

    live[0] = 1;
    for (gsize i = 0; i < m; i++)
        if (live[i] && (pat[i] == '*' || pat[i] == '%'))
            live[i + 1] = 1;

    for (const char *s = str; *s != '\0'; s++) {
        gboolean any = FALSE;

        memset (next, 0, m + 1);
        for (gsize i = 0; i < m; i++) {
            if (!live[i])
                continue;
            if (pat[i] == '*' || (pat[i] == '%' && *s != delim))
                next[i] = 1;
            else if (pat[i] == *s)
                next[i + 1] = 1;
        }
        /* A wildcard may also match nothing: carry each reachable one forward. */
        for (gsize i = 0; i <= m; i++) {
            if (i < m && next[i] && (pat[i] == '*' || pat[i] == '%'))
                next[i + 1] = 1;
            any = any || next[i];
        }
        if (!any)
            return FALSE;
        memcpy (live, next, m + 1);
    }
    return live[m];
}

/* IMAP names INBOX case-insensitively (RFC 3501 §5.1), so a leading "inbox" component, in the
 * folder name or in a pattern, is spelled "INBOX" before matching. (transfer full) */
static char *
canonical_inbox (const char *name, char delim)
{
    if (g_ascii_strncasecmp (name, "INBOX", 5) == 0
        && (name[5] == '\0' || (delim != '\0' && name[5] == delim)))
        return g_strconcat ("INBOX", name + 5, NULL);
    return g_strdup (name);
}

gboolean
nms_config_folder_selected (char *const *patterns, const char *folder, char delim)
{
    static char *const all[] = { (char *) "*", NULL };
    g_autofree char *name = NULL;
    gboolean selected = FALSE;

    g_return_val_if_fail (folder != NULL, FALSE);
    if (patterns == NULL)
        patterns = all;
    name = canonical_inbox (folder, delim);
    for (gsize i = 0; patterns[i] != NULL; i++) {
        gboolean exclude = patterns[i][0] == '!';
        g_autofree char *pat = canonical_inbox (patterns[i] + (exclude ? 1 : 0), delim);

        if (glob_match (pat, name, delim))
            selected = !exclude;
    }
    return selected;
}

static gboolean
fail (GError **error, const char *why)
{
    g_set_error_literal (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PARSE, why);
    return FALSE;
}

/* Reads one pattern starting at *@pos into @out, moving *@pos past it. */
static gboolean
next_pattern (const char **pos, GString *out, GError **error)
{
    const char *p = *pos;
    gboolean quoted = FALSE;

    if (*p == '#')
        return fail (error, "'#' starts a comment only at the beginning of a line; "
                            "quote a pattern that starts with '#'");
    for (; *p != '\0' && (quoted || !g_ascii_isspace (*p)); p++) {
        if (*p == '"')
            quoted = !quoted;
        else
            g_string_append_c (out, *p);
    }
    if (quoted)
        return fail (error, "unterminated '\"'");
    if (out->len == 0)
        return fail (error, "empty pattern");
    if (strcmp (out->str, "!") == 0)
        return fail (error, "'!' without a pattern after it");
    *pos = p;
    return TRUE;
}

char **
nms_config_patterns_parse (const char *value, GError **error)
{
    g_autoptr (GPtrArray) patterns = g_ptr_array_new_with_free_func (g_free);
    const char *p = value;

    for (;;) {
        g_autoptr (GString) pattern = g_string_new (NULL);

        while (g_ascii_isspace (*p))
            p++;
        if (*p == '\0')
            break;
        if (!next_pattern (&p, pattern, error))
            return NULL;
        g_ptr_array_add (patterns, g_string_free (g_steal_pointer (&pattern), FALSE));
    }
    if (patterns->len == 0)
        return (fail (error, "no patterns"), NULL);
    g_ptr_array_add (patterns, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&patterns), FALSE);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_ini_parse() (the INI reader under config and rules) on arbitrary text, both spellings
 * (first input byte, bit 0: GKeyFile's first ']', else the rules' last ']' with the comment
 * hint): it succeeds or fails with "F:LINE: " in the caller's domain, hands over keys that are
 * non-empty and without surrounding blanks, and line numbers that only grow. */
#include "nms-build.h"

#include "util/ini.h"
#include "fuzz-common.h"

typedef struct {
    int last_line;
} Seen;

static void
check_line (Seen *seen, int line)
{
    if (line <= seen->last_line)
        __builtin_trap ();
    seen->last_line = line;
}

static gboolean
on_section (gpointer data, const char *name, int line, GError **error)
{
    check_line (data, line);
    if (!g_utf8_validate (name, -1, NULL))
        __builtin_trap ();
    return TRUE;
}

static gboolean
on_key (gpointer data, const char *key, const char *value, int line, GError **error)
{
    size_t n = strlen (key);

    check_line (data, line);
    if (n == 0 || g_ascii_isspace (key[0]) || g_ascii_isspace (key[n - 1])
        || strchr (key, '=') != NULL || strchr (value, '\n') != NULL)
        __builtin_trap ();
    return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    NmsIniSyntax syntax = { .path = "F", .domain = G_FILE_ERROR, .code = G_FILE_ERROR_INVAL };
    g_autofree char *text = NULL;
    g_autoptr (GError) error = NULL;
    Seen seen = { 0 };
    gboolean ok;

    if (size == 0)
        return 0;
    syntax.section_word = (data[0] & 1) ? "group" : "section";
    syntax.name_to_last_bracket = !(data[0] & 1);
    syntax.hint_comment_after_section = !(data[0] & 1);
    /* The reader takes a length and a NUL-terminated buffer: NUL bytes inside must fail. */
    text = g_malloc (size);
    memcpy (text, data + 1, size - 1);
    text[size - 1] = '\0';
    ok = nms_ini_parse (text, size - 1, &syntax, on_section, on_key, &seen, &error);
    if (ok != (error == NULL))
        __builtin_trap ();
    if (!ok && (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_INVAL)
                || !g_str_has_prefix (error->message, "F:")))
        __builtin_trap ();
    return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The line-numbered INI reader shared by config and rules: what it hands to the callbacks,
 * with which line numbers, and the syntax errors it reports in the caller's domain. */
#include "nms-build.h"

#include "util/ini.h"

#include <string.h>

G_DEFINE_QUARK (test-ini-error-quark, test_ini_error)

/* Every callback call as one "LINE [name]" or "LINE key=<value>" string. */
static gboolean
on_section (gpointer data, const char *name, int line, GError **error)
{
    g_ptr_array_add (data, g_strdup_printf ("%d [%s]", line, name));
    return TRUE;
}

static gboolean
on_key (gpointer data, const char *key, const char *value, int line, GError **error)
{
    if (strcmp (key, "stop") == 0) {
        g_set_error (error, G_FILE_ERROR, 0, "stopped at %d", line);
        return FALSE;
    }
    g_ptr_array_add (data, g_strdup_printf ("%d %s=<%s>", line, key, value));
    return TRUE;
}

static const NmsIniSyntax group_syntax = {
    .path = "F", .section_word = "group", .domain = 0, .code = 7,
};

static const NmsIniSyntax section_syntax = {
    .path = "F", .section_word = "section", .name_to_last_bracket = TRUE,
    .hint_comment_after_section = TRUE, .domain = 0, .code = 7,
};

/* Parses @text; returns the calls joined by "|", or the error message. */
static char *
parse (const char *text, gsize len, const NmsIniSyntax *base)
{
    g_autoptr (GPtrArray) calls = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GError) error = NULL;
    NmsIniSyntax syntax = *base;

    syntax.domain = test_ini_error_quark ();
    if (!nms_ini_parse (text, len, &syntax, on_section, on_key, calls, &error)) {
        g_assert_nonnull (error);
        if (error->domain != G_FILE_ERROR)
            g_assert_error (error, test_ini_error_quark (), 7);
        return g_strdup (error->message);
    }
    g_assert_no_error (error);
    g_ptr_array_add (calls, NULL);
    return g_strjoinv ("|", (char **) calls->pdata);
}

static void
check (const char *text, const NmsIniSyntax *syntax, const char *expected)
{
    g_autofree char *got = parse (text, strlen (text), syntax);

    g_assert_cmpstr (got, ==, expected);
}

static void
test_lines (void)
{
    check ("", &group_syntax, "");
    check ("# c\n\n  [a b]\n k =  v w \r\n\tx=\n#[no]\n", &group_syntax,
           "3 [a b]|4 k=<  v w >|5 x=<>");
    /* A byte order mark is skipped; the line numbers stay those of the file. */
    check ("\xEF\xBB\xBF[g]\nk=v", &group_syntax, "1 [g]|2 k=<v>");
    /* The first '=' ends the key. */
    check ("a = b = c\n", &group_syntax, "1 a=< b = c>");
}

static void
test_brackets (void)
{
    check ("[folder [Gmail]/Spam]\n", &section_syntax, "1 [folder [Gmail]/Spam]");
    check ("[folder [Gmail]/Spam]\n", &group_syntax,
           "F:1: not a key = value line, group or comment");
    check ("[a]  \t\n", &group_syntax, "1 [a]");
    check ("[a] # c\n", &group_syntax, "F:1: not a key = value line, group or comment");
    check ("[a] # c\n", &section_syntax,
           "F:1: text after the section name (a '#' starts a comment only at the beginning of "
           "a line)");
    check ("[a\n", &section_syntax, "F:1: not a key = value line, section or comment");
}

static void
test_errors (void)
{
    check ("[a]\nk\n", &group_syntax, "F:2: not a key = value line, group or comment");
    check ("[a]\n  = v\n", &section_syntax, "F:2: not a key = value line, section or comment");
    check ("\n; c\n", &group_syntax,
           "F:2: not a key = value line, group or comment; comments start with '#'");
    check ("[a]\n\nk=\xff\n", &group_syntax, "F:3: not valid UTF-8 text");
    /* A callback's error is passed on as it is, and ends the reading. */
    check ("a=1\nstop=1\nb=2\n", &group_syntax, "stopped at 2");
}

static void
test_nul_byte (void)
{
    g_autofree char *got = parse ("[a]\nk=v\0x\n", 9, &group_syntax);

    g_assert_cmpstr (got, ==, "F:2: not valid UTF-8 text");
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/ini/lines", test_lines);
    g_test_add_func ("/ini/brackets", test_brackets);
    g_test_add_func ("/ini/errors", test_errors);
    g_test_add_func ("/ini/nul-byte", test_nul_byte);
    return g_test_run ();
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The JSON string escaper of --json: RFC 8259 escapes, never g_strescape's octal, always
 * valid UTF-8 out. */
#include "nms-build.h"

#include <locale.h>

#include "util/json.h"

static char *
escaped (const char *s)
{
    GString *out = g_string_new (NULL);

    nms_json_append_string (out, s);
    return g_string_free (out, FALSE);
}

static void
test_escape (void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "", "\"\"" },
        { "plain", "\"plain\"" },
        { "a \"quoted\" word", "\"a \\\"quoted\\\" word\"" },
        { "back\\slash", "\"back\\\\slash\"" },
        { "line\nfeed\ttab\rcr\bbs\ffeed", "\"line\\nfeed\\ttab\\rcr\\bbs\\ffeed\"" },
        { "\x01\x1f", "\"\\u0001\\u001f\"" },
        /* Non-ASCII UTF-8 passes as it is (g_strescape would write octal escapes). */
        { "Entw\xc3\xbc" "rfe/\xe2\x82\xac", "\"Entw\xc3\xbc" "rfe/\xe2\x82\xac\"" },
        /* A byte that is not UTF-8 (a Latin-1 file name) becomes U+FFFD. */
        { "caf\xe9.eml", "\"caf\xef\xbf\xbd.eml\"" },
        { "\xff\xfe", "\"\xef\xbf\xbd\xef\xbf\xbd\"" },
        { "/", "\"/\"" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *got = escaped (cases[i].in);

        g_assert_cmpstr (got, ==, cases[i].out);
        g_assert_true (g_utf8_validate (got, -1, NULL));
    }
}

static void
test_null_and_key (void)
{
    g_autoptr (GString) out = g_string_new (NULL);

    nms_json_append_string (out, NULL);
    g_string_append_c (out, ',');
    nms_json_append_key (out, "k\"ey");
    g_string_append (out, "1");
    g_assert_cmpstr (out->str, ==, "null,\"k\\\"ey\":1");
}

static void
test_double_ignores_locale (void)
{
    g_autoptr (GString) out = g_string_new (NULL);

    /* A locale with a decimal comma, when the system has one. */
    if (setlocale (LC_NUMERIC, "de_DE.UTF-8") == NULL)
        setlocale (LC_NUMERIC, "C");
    nms_json_append_double (out, 1.25, 3);
    g_string_append_c (out, ' ');
    nms_json_append_double (out, 0.0, 1);
    g_assert_cmpstr (out->str, ==, "1.250 0.0");
    setlocale (LC_NUMERIC, "C");
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/json/escape", test_escape);
    g_test_add_func ("/json/null-and-key", test_null_and_key);
    g_test_add_func ("/json/double-ignores-locale", test_double_ignores_locale);
    return g_test_run ();
}

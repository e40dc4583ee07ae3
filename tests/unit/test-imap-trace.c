/* SPDX-License-Identifier: GPL-3.0-or-later
 * The --trace formatter (src/imap/log.c): one line per protocol line, prefixed with account and
 * connection; private lines (LOGIN) and literals (bodies both ways) elided; control characters
 * from the server made harmless; fed whole or byte by byte, the same lines. */
#include "nms-build.h"

#include "imap/imap-private.h"

#include <string.h>

static void
collect (const char *text, gpointer user_data)
{
    g_string_append_printf (user_data, "%s\n", text);
}

/* The lines a new trace of account "acct" prints for @data, fed whole and one byte at a time
 * (both must agree). (transfer full) */
static char *
trace (int side, const char *data, gboolean private)
{
    g_autoptr (GString) whole = g_string_new (NULL);
    g_autoptr (GString) bytes = g_string_new (NULL);
    NmsImapLog log_whole = { .account = "acct", .trace = TRUE, .line = collect,
                             .user_data = whole };
    NmsImapLog log_bytes = { .account = "acct", .trace = TRUE, .line = collect,
                             .user_data = bytes };
    NmsImapTrace *a = nms_imap_trace_new (&log_whole);
    NmsImapTrace *b = nms_imap_trace_new (&log_bytes);

    nms_imap_trace_feed (a, side, data, strlen (data), private);
    for (gsize i = 0; data[i] != '\0'; i++)
        nms_imap_trace_feed (b, side, data + i, 1, private);
    nms_imap_trace_free (a);
    nms_imap_trace_free (b);
    g_assert_cmpstr (whole->str, ==, bytes->str);
    return g_strdup (whole->str);
}

static void
test_lines (void)
{
    g_autofree char *out = trace (0, "* OK ready\r\n1 OK done\r\n", FALSE);

    g_assert_cmpstr (out, ==, "acct#1 S: * OK ready\nacct#1 S: 1 OK done\n");
}

static void
test_fetch_body_elided (void)
{
    g_autofree char *out =
        trace (0, "* 1 FETCH (UID 1 BODY[] {12}\r\nSecret body!)\r\n5 OK x\r\n", FALSE);

    g_assert_null (strstr (out, "Secret"));
    g_assert_cmpstr (out, ==,
                     "acct#1 S: * 1 FETCH (UID 1 BODY[] {12}\nacct#1 S: {12 bytes}\n"
                     "acct#1 S: )\nacct#1 S: 5 OK x\n");
}

static void
test_append_elided (void)
{
    g_autofree char *out =
        trace (1, "7 APPEND INBOX (\\Seen) {9+}\r\nBody\r\nxy.\r\n", FALSE);

    g_assert_null (strstr (out, "Body"));
    g_assert_cmpstr (out, ==, "acct#1 C: 7 APPEND INBOX (\\Seen) {9+}\nacct#1 C: {9 bytes}\n");
}

static void
test_login_private (void)
{
    g_autofree char *out = trace (1, "2 LOGIN alice hunter2\r\n", TRUE);
    g_autofree char *bare = trace (1, "aHVudGVyMg==\r\n", TRUE);

    g_assert_cmpstr (out, ==, "acct#1 C: 2 LOGIN [arguments elided]\n");
    g_assert_cmpstr (bare, ==, "acct#1 C: [elided]\n");
}

static void
test_control_characters (void)
{
    g_autofree char *out = trace (0, "* OK \033[2Jboom\x7f\r\n", FALSE);

    g_assert_cmpstr (out, ==, "acct#1 S: * OK ?[2Jboom?\n");
}

static void
test_connection_numbers (void)
{
    g_autoptr (GString) lines = g_string_new (NULL);
    NmsImapLog log = { .account = "w", .trace = TRUE, .line = collect, .user_data = lines };
    NmsImapTrace *one = nms_imap_trace_new (&log);
    NmsImapTrace *two = nms_imap_trace_new (&log);

    nms_imap_trace_feed (two, 1, "3 NOOP\r\n", 8, FALSE);
    nms_imap_trace_feed (one, 1, "4 NOOP\r\n", 8, FALSE);
    nms_imap_trace_free (one);
    nms_imap_trace_free (two);
    g_assert_cmpstr (lines->str, ==, "w#2 C: 3 NOOP\nw#1 C: 4 NOOP\n");
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/imap/trace/lines", test_lines);
    g_test_add_func ("/imap/trace/fetch-body-elided", test_fetch_body_elided);
    g_test_add_func ("/imap/trace/append-elided", test_append_elided);
    g_test_add_func ("/imap/trace/login-private", test_login_private);
    g_test_add_func ("/imap/trace/control-characters", test_control_characters);
    g_test_add_func ("/imap/trace/connection-numbers", test_connection_numbers);
    return g_test_run ();
}

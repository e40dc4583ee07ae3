/* SPDX-License-Identifier: GPL-3.0-or-later
 * The framing guard (src/imap/frame.c): what it lets through and where it stops a hostile
 * server, fed whole and byte by byte. */
#include "nms-build.h"

#include "imap/frame.h"

#include <string.h>

/* Feeds @text to a new frame with cap @max (0: default), whole or one byte at a time; both
 * must agree. Returns the reason it failed (transfer full) or NULL. */
static char *
run (const char *text, gsize len, guint64 max, gboolean streamed)
{
    NmsImapFrame whole, bytes;
    gboolean ok_whole, ok_bytes = TRUE;
    char *reason;

    nms_imap_frame_init (&whole, max);
    nms_imap_frame_init (&bytes, max);
    whole.bodies_streamed = bytes.bodies_streamed = streamed;
    ok_whole = nms_imap_frame_feed (&whole, text, len);
    for (gsize i = 0; i < len && ok_bytes; i++)
        ok_bytes = nms_imap_frame_feed (&bytes, text + i, 1);
    g_assert_cmpint (ok_whole, ==, ok_bytes);
    g_assert_cmpint (whole.state, ==, bytes.state);
    g_assert_cmpstr (nms_imap_frame_reason (&whole), ==, nms_imap_frame_reason (&bytes));
    g_assert_cmpint (ok_whole, ==, nms_imap_frame_reason (&whole) == NULL);
    reason = g_strdup (nms_imap_frame_reason (&whole));
    nms_imap_frame_clear (&whole);
    nms_imap_frame_clear (&bytes);
    return reason;
}

static char *
run_str (const char *text, guint64 max, gboolean streamed)
{
    return run (text, strlen (text), max, streamed);
}

static void
test_plain_replies (void)
{
    g_autofree char *r = run_str ("* OK ready\r\n* LIST () \"/\" INBOX\r\n"
                                  "* LIST () \"/\" {5}\r\nab}\r\n\r\n"
                                  "* 1 FETCH (UID 1 BODY[] {12}\r\nhello {99}\r\n)\r\n"
                                  "1 OK done\r\n",
                                  0, FALSE);

    g_assert_null (r);
}

static void
test_state_after_literal (void)
{
    NmsImapFrame f;
    const char *text = "* 1 FETCH (UID 1 BODY[] {4}\r\nab";

    nms_imap_frame_init (&f, 0);
    f.bodies_streamed = TRUE;
    g_assert_true (nms_imap_frame_feed (&f, text, strlen (text)));
    g_assert_cmpint (f.state, ==, NMS_IMAP_FRAME_LITERAL);
    g_assert_cmpuint (f.literal_left, ==, 2);
    g_assert_true (f.literal_is_body);
    g_assert_true (nms_imap_frame_feed (&f, "\r\n)\r\n", 5));
    g_assert_cmpint (f.state, ==, NMS_IMAP_FRAME_LINE);
    g_assert_cmpuint (f.line_len, ==, 0);
    nms_imap_frame_clear (&f);
}

static void
test_literal_size_limits (void)
{
    g_autofree char *max = run_str ("* 1 FETCH (UID 1 BODY[] {4294967295}\r\n", 0, TRUE);
    g_autofree char *over = run_str ("* 1 FETCH (UID 1 BODY[] {4294967296}\r\n", 0, TRUE);
    g_autofree char *digits = run_str ("* 1 FETCH (UID 1 BODY[] {00000000005}\r\n", 0, TRUE);
    g_autofree char *huge = run_str ("* LIST () \"/\" {99999999999999999999999999}\r\n", 0, TRUE);

    g_assert_null (max);
    g_assert_nonnull (strstr (over, "literal of 4294967296 bytes"));
    g_assert_nonnull (strstr (digits, "11 digits"));
    g_assert_nonnull (strstr (huge, "26 digits"));
}

static void
test_non_body_literal_cap (void)
{
    g_autofree char *list = run_str ("* LIST () \"/\" {67108865}\r\n", 0, TRUE);
    g_autofree char *list_ok = run_str ("* LIST () \"/\" {67100000}\r\n", 0, TRUE);
    /* a body literal is big only while a body handler streams it */
    g_autofree char *unstreamed = run_str ("* 1 FETCH (UID 1 BODY[] {67108865}\r\n", 0, FALSE);
    g_autofree char *streamed = run_str ("* 1 FETCH (UID 1 BODY[] {67108865}\r\n", 0, TRUE);
    /* "BODY[]" outside a FETCH response is no message body */
    g_autofree char *not_fetch = run_str ("* LIST (BODY[] {67108865}\r\n", 0, TRUE);
    g_autofree char *envelope = run_str ("* 1 FETCH (ENVELOPE (\"BODY[]\" {67108865}\r\n", 0,
                                         TRUE);

    g_assert_nonnull (strstr (list, "literal of 67108865 bytes outside a message body"));
    g_assert_null (list_ok);
    g_assert_nonnull (unstreamed);
    g_assert_null (streamed);
    g_assert_nonnull (not_fetch);
    g_assert_nonnull (envelope);
}

static void
test_body_items (void)
{
    static const char *const bodies[] = {
        "* 12 FETCH (UID 1 BODY[] {100}\r\n",
        "* 12 fetch (UID 1 body[] {100}\r\n",
        "* 1 FETCH (UID 1 RFC822.SIZE 5 BODY[]<0> {100}\r\n",
        "* 1 FETCH (UID 1 BODY[HEADER.FIELDS (MESSAGE-ID)] {100}\r\n",
        "* 1 FETCH (RFC822 {100}\r\n",
        "* 1 FETCH (UID 1 BODY[] {100 }  \r\n",
        "* 1 FETCH (UID 1 BODY[] { 100}\n",
    };
    static const char *const others[] = {
        "* 1 FETCH (UID 1 XBODY[] {100}\r\n",
        "* 1 FETCH (UID 1 BODY[]<> {100}\r\n",
        "* 1 FETCH (UID 1 RFC822.HEADER {100}\r\n",
        "* FETCH (UID 1 BODY[] {100}\r\n",
        "1 FETCH (UID 1 BODY[] {100}\r\n",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (bodies); i++) {
        NmsImapFrame f;

        nms_imap_frame_init (&f, 80);
        f.bodies_streamed = TRUE;
        g_assert_true (nms_imap_frame_feed (&f, bodies[i], strlen (bodies[i])));
        g_assert_cmpint (f.state, ==, NMS_IMAP_FRAME_LITERAL);
        g_assert_true (f.literal_is_body);
        nms_imap_frame_clear (&f);
    }
    for (gsize i = 0; i < G_N_ELEMENTS (others); i++) {
        g_autofree char *r = run_str (others[i], 60, TRUE);

        g_assert_nonnull (r);
        g_assert_nonnull (strstr (r, "outside a message body"));
    }
}

static void
test_literal_syntax (void)
{
    /* not literals: libetpan refuses these as parse errors before reading on */
    g_autofree char *a = run_str ("* OK {5 5}\r\n* OK\r\n", 20, FALSE);
    g_autofree char *b = run_str ("* OK {}\r\n* OK {+}\r\n* OK {x}\r\n* OK {5}x\r\n", 20, FALSE);
    /* LITERAL+ syntax from a server is counted as a literal all the same */
    g_autofree char *c = run_str ("* OK {30+}\r\n", 20, FALSE);

    g_assert_null (a);
    g_assert_null (b);
    g_assert_nonnull (c);
}

static void
test_line_cap (void)
{
    g_autofree char *line = g_strnfill (100, 'x');
    g_autofree char *ok = g_strconcat (line, "\r\n", line, "\r\n", NULL);
    g_autofree char *r_ok = run_str (ok, 102, FALSE);
    g_autofree char *r_long = run_str (line, 99, FALSE);
    /* non-body literals count against the line they sit in */
    g_autofree char *r_lits = run_str ("* LIST () \"/\" {40}\r\n"
                                       "0123456789012345678901234567890123456789 {40}\r\n",
                                       90, FALSE);

    g_assert_null (r_ok);
    g_assert_nonnull (strstr (r_long, "a reply line grew past 99 bytes without a line end"));
    g_assert_nonnull (r_lits);
}

static void
test_default_cap (void)
{
    NmsImapFrame f;
    g_autofree char *chunk = g_strnfill (1 << 16, 'x');
    gboolean ok = TRUE;
    guint i;

    nms_imap_frame_init (&f, 0);
    for (i = 0; ok && i < 1025; i++)
        ok = nms_imap_frame_feed (&f, chunk, 1 << 16);
    g_assert_false (ok);
    g_assert_cmpuint (i, ==, 1025);
    g_assert_cmpstr (nms_imap_frame_reason (&f), ==,
                     "a reply line grew past 64 MiB without a line end");
    /* failed for good */
    g_assert_false (nms_imap_frame_feed (&f, "\r\n", 2));
    nms_imap_frame_clear (&f);
}

static void
test_big_body_streams (void)
{
    NmsImapFrame f;
    g_autofree char *chunk = g_strnfill (1 << 16, '\n');
    const char *head = "* 1 FETCH (UID 1 BODY[] {134217728}\r\n";

    nms_imap_frame_init (&f, 0);
    f.bodies_streamed = TRUE;
    g_assert_true (nms_imap_frame_feed (&f, head, strlen (head)));
    for (guint i = 0; i < 2048; i++)
        g_assert_true (nms_imap_frame_feed (&f, chunk, 1 << 16));
    g_assert_cmpint (f.state, ==, NMS_IMAP_FRAME_LINE);
    g_assert_true (nms_imap_frame_feed (&f, ")\r\n", 3));
    nms_imap_frame_clear (&f);
}

static void
test_bye_text (void)
{
    NmsImapFrame f;
    const char *text = "* 1 FETCH (UID 1 BODY[] {6}\r\n* BYE )\r\n"
                       "* BYE shutting \x01" "down\r\n* 2 FETCH (UID 2 BODY[] {9";

    nms_imap_frame_init (&f, 0);
    g_assert_null (nms_imap_frame_bye (&f));
    g_assert_true (nms_imap_frame_feed (&f, text, strlen (text)));
    g_assert_cmpstr (nms_imap_frame_bye (&f), ==, "shutting ?down");
    g_assert_true (nms_imap_frame_feed (&f, "}\r\n* BYE a", strlen ("}\r\n* BYE a")));
    g_assert_cmpstr (nms_imap_frame_bye (&f), ==, "shutting ?down");
    g_assert_true (nms_imap_frame_feed (&f, "bcdefghi)\r\n* BYE again",
                                        strlen ("bcdefghi)\r\n* BYE again")));
    g_assert_cmpstr (nms_imap_frame_bye (&f), ==, "again");
    nms_imap_frame_clear (&f);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/imap/frame/plain-replies", test_plain_replies);
    g_test_add_func ("/imap/frame/state-after-literal", test_state_after_literal);
    g_test_add_func ("/imap/frame/literal-size-limits", test_literal_size_limits);
    g_test_add_func ("/imap/frame/non-body-literal-cap", test_non_body_literal_cap);
    g_test_add_func ("/imap/frame/body-items", test_body_items);
    g_test_add_func ("/imap/frame/literal-syntax", test_literal_syntax);
    g_test_add_func ("/imap/frame/line-cap", test_line_cap);
    g_test_add_func ("/imap/frame/default-cap", test_default_cap);
    g_test_add_func ("/imap/frame/big-body-streams", test_big_body_streams);
    g_test_add_func ("/imap/frame/bye-text", test_bye_text);
    return g_test_run ();
}

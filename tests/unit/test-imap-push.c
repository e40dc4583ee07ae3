/* SPDX-License-Identifier: GPL-3.0-or-later
 * The responses a server pushes while a session idles (imap/idle.c): pushed STATUS lines
 * (NOTIFY) name folders, in nmsync's names whatever the separator; EXISTS, EXPUNGE and FETCH
 * are news of the selected folder; a pushed LIST says the folder list changed. */
#include "nms-build.h"

#include "imap/imap.h"

#include <string.h>

/* Parses @text with @delim and returns the folders named, joined by ",". (transfer full) */
static char *
parse (const char *text, char delim, const char *prefix, NmsImapPush *push)
{
    g_autoptr (GError) error = NULL;

    nms_imap_push_init (push);
    g_assert_true (nms_imap_push_parse (text, strlen (text), delim, prefix, push, &error));
    g_assert_no_error (error);
    g_ptr_array_add (push->folders, NULL);
    return g_strjoinv (",", (char **) push->folders->pdata);
}

static void
test_status_lines (void)
{
    NmsImapPush push;
    g_autofree char *got = parse ("* STATUS Junk (UNSEEN 1 HIGHESTMODSEQ 4)\r\n"
                                  "* STATUS INBOX (MESSAGES 2 UIDNEXT 4)\r\n"
                                  "* STATUS \"My Folder\" (MESSAGES 1)\r\n"
                                  "* STATUS Junk (MESSAGES 3)\r\n"
                                  "* OK Still here\r\n"
                                  "7 OK Idle completed\r\n",
                                  '/', NULL, &push);

    g_assert_cmpstr (got, ==, "Junk,INBOX,My Folder");
    g_assert_false (push.selected);
    g_assert_false (push.folder_list);
    nms_imap_push_clear (&push);
}

static void
test_separator_and_utf7 (void)
{
    NmsImapPush push;
    g_autofree char *got = parse ("* STATUS Archive.2024 (MESSAGES 1)\r\n"
                                  "* STATUS \"Entw&APw-rfe.alt\" (MESSAGES 1)\r\n"
                                  "* STATUS INBOX.Sent (MESSAGES 1)\r\n"
                                  "1 OK done\r\n",
                                  '.', NULL, &push);

    g_assert_cmpstr (got, ==, "Archive/2024,Entwürfe/alt,INBOX/Sent");
    nms_imap_push_clear (&push);
}

static void
test_prefix (void)
{
    NmsImapPush push;
    g_autofree char *got = parse ("* STATUS INBOX.Sent (MESSAGES 1)\r\n"
                                  "* STATUS INBOX (MESSAGES 1)\r\n"
                                  "1 OK done\r\n",
                                  '.', "INBOX.", &push);

    g_assert_cmpstr (got, ==, "Sent,INBOX");
    nms_imap_push_clear (&push);
}

/* Dovecot 2.3.19 sends the name of a NOTIFY STATUS in UTF-8 (as a literal): taken as meant.
 * libetpan 1.9.4 loses a literal name; it is found in the raw bytes. */
static void
test_utf8_names (void)
{
    NmsImapPush push;
    g_autofree char *quoted = parse ("* STATUS \"Entwürfe.alt\" (MESSAGES 2 UIDNEXT 3)\r\n"
                                     "1 OK done\r\n",
                                     '.', NULL, &push);
    g_autofree char *literal = NULL;

    g_assert_cmpstr (quoted, ==, "Entwürfe/alt");
    g_assert_false (push.unknown);
    nms_imap_push_clear (&push);
    literal = parse ("* STATUS {13}\r\nEntwürfe.alt (MESSAGES 2 UIDNEXT 3)\r\n1 OK done\r\n",
                     '.', NULL, &push);
    g_assert_cmpstr (literal, ==, "Entwürfe/alt");
    g_assert_false (push.unknown);
    nms_imap_push_clear (&push);
    /* two literals, and a literal that is not a name nmsync can use */
    g_free (literal);
    literal = parse ("* STATUS {4}\r\nJunk (MESSAGES 1)\r\n* STATUS {5}\r\nA.&Jj (MESSAGES 1)\r\n"
                     "* STATUS {6}\r\nWork.x (MESSAGES 2)\r\n1 OK done\r\n",
                     '.', NULL, &push);
    g_assert_cmpstr (literal, ==, "Junk,Work/x");
    g_assert_true (push.unknown);
    nms_imap_push_clear (&push);
}

static void
test_selected_folder (void)
{
    static const char *const lines[] = { "* 4 EXISTS\r\n", "* 2 EXPUNGE\r\n",
                                         "* 1 FETCH (FLAGS (\\Seen))\r\n" };

    for (gsize i = 0; i < G_N_ELEMENTS (lines); i++) {
        NmsImapPush push;
        g_autofree char *text = g_strconcat (lines[i], "5 OK done\r\n", NULL);
        g_autofree char *got = parse (text, '/', NULL, &push);

        g_assert_cmpstr (got, ==, "");
        g_assert_true (push.selected);
        nms_imap_push_clear (&push);
    }
}

static void
test_list_and_nothing (void)
{
    NmsImapPush push;
    g_autofree char *got = parse ("* LIST () \"/\" Projects\r\n1 OK done\r\n", '/', NULL, &push);
    g_autofree char *none = NULL;

    g_assert_nonnull (got);
    g_assert_true (push.folder_list);
    nms_imap_push_clear (&push);
    none = parse ("* OK Still here\r\n1 OK done\r\n", '/', NULL, &push);
    g_assert_cmpstr (none, ==, "");
    g_assert_false (push.selected || push.folder_list);
    nms_imap_push_clear (&push);
}

/* A name that does not decode: no folder, but "some folder changed"; bytes that do not parse
 * are a PROTOCOL error. */
static void
test_bad_name_and_garbage (void)
{
    NmsImapPush push;
    g_autoptr (GError) error = NULL;
    g_autofree char *got = parse ("* STATUS \"a&Jjo\" (MESSAGES 1)\r\n1 OK done\r\n", '/', NULL,
                                  &push);

    g_assert_cmpstr (got, ==, "");
    g_assert_true (push.unknown);
    nms_imap_push_clear (&push);
    /* found by fuzz-push: an empty name, a name with a control character */
    g_free (got);
    got = parse ("* STATUS \"\" (MESSAGES 1)\r\n* STATUS {3}\r\na\tb (MESSAGES 1)\r\n1 OK done\r\n",
                 '/', NULL, &push);
    g_assert_cmpstr (got, ==, "");
    g_assert_true (push.unknown);
    nms_imap_push_clear (&push);
    /* found by fuzz-push in CI: a control character spelled in modified UTF-7 (U+0010) */
    g_free (got);
    got = parse ("* STATUS \"a&ABA-b\" (MESSAGES 1)\r\n* STATUS Junk (MESSAGES 1)\r\n1 OK done\r\n",
                 '/', NULL, &push);
    g_assert_cmpstr (got, ==, "Junk");
    g_assert_true (push.unknown);
    nms_imap_push_clear (&push);
    /* a literal size libetpan would overflow, not at the end of a line */
    nms_imap_push_init (&push);
    g_assert_false (nms_imap_push_parse ("* STATUS {55555555555555555556}\r2\n", 31, '/', NULL,
                                         &push, &error));
    g_assert_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL);
    g_clear_error (&error);
    nms_imap_push_clear (&push);
    nms_imap_push_init (&push);
    g_assert_false (nms_imap_push_parse ("* STATUS (\r\n", 12, '/', NULL, &push, &error));
    g_assert_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL);
    nms_imap_push_clear (&push);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/imap/push/status-lines", test_status_lines);
    g_test_add_func ("/imap/push/separator-and-utf7", test_separator_and_utf7);
    g_test_add_func ("/imap/push/prefix", test_prefix);
    g_test_add_func ("/imap/push/utf8-names", test_utf8_names);
    g_test_add_func ("/imap/push/selected-folder", test_selected_folder);
    g_test_add_func ("/imap/push/list-and-nothing", test_list_and_nothing);
    g_test_add_func ("/imap/push/bad-name-and-garbage", test_bad_name_and_garbage);
    return g_test_run ();
}

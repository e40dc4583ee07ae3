/* SPDX-License-Identifier: GPL-3.0-or-later
 * Folder names between the wire and nmsync (imap/names.c): one name, '/' between levels,
 * whatever the server's hierarchy delimiter; both directions give each other back. */
#include "nms-build.h"

#include "imap/imap.h"

#include <string.h>

#include "maildir/maildir.h"

static void
test_dot_delimiter (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *name = nms_imap_folder_name_from_wire ("Archives.2012.Q1", '.', NULL, &error);
    g_autofree char *wire = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (name, ==, "Archives/2012/Q1");
    wire = nms_imap_folder_name_to_wire (name, '.', NULL);
    g_assert_cmpstr (wire, ==, "Archives.2012.Q1");
}

static void
test_slash_and_none (void)
{
    static const char delims[] = { '/', '\0' };

    for (gsize i = 0; i < G_N_ELEMENTS (delims); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *name = nms_imap_folder_name_from_wire ("a/b", delims[i], NULL, &error);
        g_autofree char *wire = NULL;

        g_assert_no_error (error);
        g_assert_cmpstr (name, ==, "a/b");
        wire = nms_imap_folder_name_to_wire (name, delims[i], NULL);
        g_assert_cmpstr (wire, ==, "a/b");
    }
}

/* Under '.', a level holding a '/' would read back as two levels: "a/b" and "a.b" would be
 * one folder. It is refused by name. */
static void
test_slash_inside_level_refused (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *name = nms_imap_folder_name_from_wire ("a/b", '.', NULL, &error);

    g_assert_null (name);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER);
    g_assert_nonnull (strstr (error->message, "'a/b'"));
}

/* Modified UTF-7 is decoded before the delimiter is replaced, and encoded after. */
static void
test_utf7_round_trip (void)
{
    static const char *const wires[] = { "Entw&APw-rfe.2024", "INBOX.&ZeVnLIqe-", "Sent", "INBOX" };

    for (gsize i = 0; i < G_N_ELEMENTS (wires); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *name = nms_imap_folder_name_from_wire (wires[i], '.', NULL, &error);
        g_autofree char *back = NULL;

        g_assert_no_error (error);
        g_assert_null (strchr (name, '.'));
        back = nms_imap_folder_name_to_wire (name, '.', NULL);
        g_assert_cmpstr (back, ==, wires[i]);
    }
}

static void
test_bad_utf7 (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *name = nms_imap_folder_name_from_wire ("bad&-utf7&Jjo", '.', NULL, &error);

    g_assert_null (name);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_UTF7);
}

/* Courier's personal namespace "INBOX." with '.': the prefix is not part of the names, INBOX
 * stays INBOX, and every name goes back to the wire with the prefix. */
static void
test_prefix_stripped (void)
{
    static const char *const cases[][2] = {
        { "INBOX.Sent", "Sent" },
        { "INBOX.Archives.2012", "Archives/2012" },
        { "INBOX", "INBOX" },
        { "inbox", "inbox" },
        { "INBOX.Entw&APw-rfe", "Entw\xc3\xbcrfe" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *name = nms_imap_folder_name_from_wire (cases[i][0], '.', "INBOX.", &error);
        g_autofree char *back = NULL;

        g_assert_no_error (error);
        g_assert_cmpstr (name, ==, cases[i][1]);
        back = nms_imap_folder_name_to_wire (name, '.', "INBOX.");
        g_assert_cmpstr (back, ==, cases[i][0]);
    }
}

/* A folder outside the prefix, or named INBOX once the prefix is gone, would not come back to
 * itself: refused by name. An unusable prefix (empty, or not ending with the delimiter) is
 * ignored. */
static void
test_prefix_outside_refused (void)
{
    static const char *const refused[] = { "#shared.x", "INBOX.", "INBOX.INBOX", "Sent" };
    g_autoptr (GError) error = NULL;
    g_autofree char *name = NULL;
    g_autofree char *wire = NULL;

    for (gsize i = 0; i < G_N_ELEMENTS (refused); i++) {
        g_autoptr (GError) local = NULL;
        g_autofree char *n = nms_imap_folder_name_from_wire (refused[i], '.', "INBOX.", &local);

        g_assert_null (n);
        g_assert_error (local, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER);
        g_assert_nonnull (strstr (local->message, refused[i]));
    }
    name = nms_imap_folder_name_from_wire ("INBOX.Sent", '.', "INBOX", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (name, ==, "INBOX/Sent");
    wire = nms_imap_folder_name_to_wire ("Sent", '.', "");
    g_assert_cmpstr (wire, ==, "Sent");
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/imap/names/dot-delimiter", test_dot_delimiter);
    g_test_add_func ("/imap/names/slash-and-none", test_slash_and_none);
    g_test_add_func ("/imap/names/slash-inside-level-refused", test_slash_inside_level_refused);
    g_test_add_func ("/imap/names/utf7-round-trip", test_utf7_round_trip);
    g_test_add_func ("/imap/names/bad-utf7", test_bad_utf7);
    g_test_add_func ("/imap/names/prefix-stripped", test_prefix_stripped);
    g_test_add_func ("/imap/names/prefix-outside-refused", test_prefix_outside_refused);
    return g_test_run ();
}

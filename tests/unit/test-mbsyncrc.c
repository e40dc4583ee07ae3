/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for nms_config_import_mbsyncrc(): mbsync's quoting, sections ended by an empty
 * line, Far/Near and Master/Slave, global Channel defaults, what is said instead of translated,
 * and that the output always loads with nms_config_load(). Temp dirs only. */
#include "config/config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "testutil.h"

static char *home;

/* The translation of @rc loaded back: asserts the output loads; (transfer full). */
static NmsConfig *
import_and_load (const char *rc, char **text_out)
{
    g_autofree char *text = nms_config_import_mbsyncrc ("test.mbsyncrc", rc);
    g_autofree char *path = g_build_filename (home, "out.conf", NULL);
    g_autoptr (GError) error = NULL;
    NmsConfig *config;

    g_assert_true (g_utf8_validate (text, -1, NULL));
    if (strstr (text, "\nmaildir = FIXME-") != NULL) {
        /* An account whose folder directories nmsync would not find does not load as
         * printed; it does once the user decided (here: took the root as it is). */
        g_auto (GStrv) parts = NULL;

        g_assert_true (g_file_set_contents (path, text, -1, &error));
        g_assert_null (nms_config_load (path, NULL));
        parts = g_strsplit (text, "\nmaildir = FIXME-", -1);
        g_free (text);
        text = g_strjoinv ("\nmaildir = ", parts);
    }
    g_assert_true (g_file_set_contents (path, text, -1, &error));
    g_assert_no_error (error);
    config = nms_config_load (path, &error);
    if (config == NULL)
        g_test_message ("output:\n%s", text);
    g_assert_no_error (error);
    if (text_out != NULL)
        *text_out = g_steal_pointer (&text);
    return config;
}

#define STORES                                                                                 \
    "IMAPAccount acc\nHost imap.example.org\nUser alice\nPassCmd \"pass show \\\"mail\\\"\"\n" \
    "SSLType IMAPS\n\nIMAPStore remote\nAccount acc\n\n"                                       \
    "MaildirStore local\nInbox ~/Maildir/\nSubFolders Maildir++\n\n"

static void
test_full_account (void)
{
    g_autofree char *text = NULL;
    g_autoptr (NmsConfig) c = import_and_load (STORES "Expunge Near\nCreate Both\n\n"
                                               "Channel ch\nMaster :remote:\nSlave :local:\n"
                                               "Patterns * \"!Old Mail\" !register\n",
                                               &text);
    NmsAccount *a = nms_config_find_account (c, "ch");

    g_assert_nonnull (a);
    g_assert_cmpstr (a->host, ==, "imap.example.org");
    g_assert_cmpint (a->tls, ==, NMS_TLS_IMAPS);
    g_assert_cmpint (a->port, ==, 993);
    g_assert_cmpstr (a->user, ==, "alice");
    g_assert_cmpstr (a->password_command, ==, "pass show \"mail\"");
    g_assert_cmpint (a->layout, ==, NMS_MAILDIR_LAYOUT_MAILDIRPP);
    g_assert_true (g_str_has_suffix (a->maildir, "/Maildir"));
    g_assert_cmpstr (a->folders[0], ==, "*");
    g_assert_cmpstr (a->folders[1], ==, "!Old Mail");
    g_assert_cmpstr (a->folders[2], ==, "!register");
    g_assert_cmpint (a->delete_sides, ==, NMS_SIDES_LOCAL); /* Expunge Near */
    g_assert_cmpint (a->create, ==, NMS_SIDES_BOTH);
    g_assert_nonnull (strstr (text, "# mbsyncrc:17: note: mbsync keeps its state in ~/.mbsync/"));
}

/* The Maildir on the far side: Create Far means the Maildir side, i.e. local. */
static void
test_swapped_sides (void)
{
    g_autoptr (NmsConfig) c = import_and_load (STORES "Channel sw\nFar :local:\nNear :remote:\n"
                                               "Patterns *\nCreate Far\nExpunge Near\n"
                                               "SyncState *\n",
                                               NULL);
    NmsAccount *a = nms_config_find_account (c, "sw");

    g_assert_cmpint (a->create, ==, NMS_SIDES_LOCAL);
    g_assert_cmpint (a->delete_sides, ==, NMS_SIDES_SERVER);
}

static void
test_not_translated (void)
{
    g_autofree char *text = NULL;
    g_autoptr (NmsConfig) c = import_and_load (
        "IMAPStore r\nHost mail.example.org\nSSLType None\nRequireCRAM yes\nUser bob\n"
        "Pass \"se\\\\cret\"\n\n"
        "IMAPStore r2\nHost x\n\nMaildirStore l\nPath ~/Mail/\n\n"
        "Channel one\nFar :r:\nNear :l:one\nMaxMessages 10\n\n"
        "Channel both-imap\nFar :r:\nNear :r2:\n\n"
        "Channel prefix\nFar :r:INBOX\nNear :l:x\nPatterns *\n\n"
        "Channel one\nFar :r:\nNear :l:two\n\n"
        "Channel bad\nFar r\nNear :l:\n\n"
        "Group g one\nBogusGlobal 1\nChannel \"unterminated\n",
        &text);
    NmsAccount *a = nms_config_find_account (c, "one");

    g_assert_cmpuint (c->accounts->len, ==, 1);
    g_assert_cmpstr (a->password, ==, "se\\cret");
    g_assert_cmpint (a->tls, ==, NMS_TLS_STARTTLS);
    g_assert_cmpstr (a->folders[0], ==, "INBOX");
    g_assert_true (g_str_has_suffix (a->maildir, "/Mail/one"));
    for (const char *const *s = (const char *const[]) {
             "# mbsyncrc:3: not translated: SSLType None to a remote host",
             "# mbsyncrc:4: not translated: RequireCRAM yes",
             "# mbsyncrc:17: not translated: MaxMessages 10",
             "# mbsyncrc:19: not translated: Channel both-imap: nmsync syncs an IMAP store",
             "# mbsyncrc:23: not translated: Channel prefix: a mailbox prefix with Patterns",
             "# mbsyncrc:28: not translated: Channel one: its name is taken",
             "# mbsyncrc:32: not translated: Channel bad: Far and Near must",
             "# mbsyncrc:36: Group g ignored",
             "# mbsyncrc:37: not translated: BogusGlobal 1",
             "# mbsyncrc:38: not translated: a line with an unterminated '\"'",
             "# mbsyncrc:6: note: the password was copied",
             NULL };
         *s != NULL; s++) {
        if (strstr (text, *s) == NULL)
            g_test_message ("output:\n%s", text);
        g_assert_nonnull (strstr (text, *s));
    }
}

/* Two Channels into one Maildir would be two accounts sharing one state marker. */
static void
test_same_maildir (void)
{
    g_autofree char *text = NULL;
    g_autoptr (NmsConfig) c = import_and_load (STORES "Channel a\nFar :remote:\nNear :local:\n"
                                               "Patterns *\n\nChannel b\nFar :remote:\n"
                                               "Near :local:\nPatterns %\n",
                                               &text);

    g_assert_cmpuint (c->accounts->len, ==, 1);
    g_assert_nonnull (strstr (text, "Channel b: its Maildir ~/Maildir is account a's already"));
}

/* Whatever the bytes, the output is UTF-8 and every account in it loads (once a FIXME
 * maildir is decided: here the verbatim Path rel/ is not where mbsync keeps INBOX). */
static void
test_hostile (void)
{
    g_autoptr (NmsConfig) c = import_and_load (
        "IMAPStore \xff\x01[x]/\nHost \"a b\"\nUser \"\"\nPort 99999\nTimeout 0\n"
        "CertificateFile ~bob/ca\n\nMaildirStore m\nPath rel/\nSubFolders Legacy\n\n"
        "Channel \xff\x01[x]/\nFar :\xff\x01[x]/:\nNear :m:\nPatterns \"#x\" \"a\\\"b\"\n",
        NULL);

    g_assert_cmpuint (c->accounts->len, ==, 1);
}

/* SSLType None is kept only where nmsync allows plain text: a loopback address, not a name
 * that merely starts like one. */
static void
test_plain_text (void)
{
    g_autoptr (NmsConfig) c = import_and_load (
        "IMAPStore lo\nHost 127.0.0.1\nUser u\nSSLType None\n\n"
        "IMAPStore far\nHost 127.example.org\nUser u\nSSLType None\n\n"
        "MaildirStore m\nPath /srv/mail/\n\n"
        "Channel lo\nFar :lo:\nNear :m:lo\n\nChannel far\nFar :far:\nNear :m:far\n",
        NULL);

    g_assert_cmpint (nms_config_find_account (c, "lo")->tls, ==, NMS_TLS_NONE);
    g_assert_cmpint (nms_config_find_account (c, "far")->tls, ==, NMS_TLS_STARTTLS);
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    int status;

    g_test_init (&argc, &argv, NULL);
    home = g_dir_make_tmp ("nmsync-test-mbsyncrc-XXXXXX", &error);
    g_assert_no_error (error);
    g_setenv ("HOME", home, TRUE);
    g_test_add_func ("/config/mbsyncrc/full-account", test_full_account);
    g_test_add_func ("/config/mbsyncrc/swapped-sides", test_swapped_sides);
    g_test_add_func ("/config/mbsyncrc/not-translated", test_not_translated);
    g_test_add_func ("/config/mbsyncrc/same-maildir", test_same_maildir);
    g_test_add_func ("/config/mbsyncrc/hostile", test_hostile);
    g_test_add_func ("/config/mbsyncrc/plain-text", test_plain_text);
    status = g_test_run ();
    nms_test_rm_rf (home);
    g_free (home);
    return status;
}

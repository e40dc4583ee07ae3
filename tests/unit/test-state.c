/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SQLite sync state: folders, messages, transactions, privacy and the account lock. */
#include "config.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state.h"

typedef struct {
    char *dir;
} Fixture;

static void
setup (Fixture *f, gconstpointer data)
{
    f->dir = g_dir_make_tmp ("nms-state-XXXXXX", NULL);
    g_assert_nonnull (f->dir);
}

static void
teardown (Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->dir);
    g_assert_cmpint (system (cmd), ==, 0);
    g_free (f->dir);
}

static void
test_roundtrip (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "work", &error);
    g_autoptr (GArray) msgs = NULL;
    g_autoptr (GPtrArray) names = NULL;
    NmsStateFolder fo = { .uidvalidity = 77, .uidnext = 10 }, got;
    gboolean found;

    g_assert_no_error (error);
    g_assert_true (nms_state_folder_get (st, "INBOX", &got, &found, &error));
    g_assert_false (found);
    g_assert_true (nms_state_begin (st, &error));
    g_assert_true (nms_state_folder_set (st, "INBOX", &fo, &error));
    g_assert_true (nms_state_message_put (st, "INBOX", 5, "S", &error));
    g_assert_true (nms_state_message_put (st, "INBOX", 2, "FS", &error));
    g_assert_true (nms_state_folder_set (st, "Entwürfe", &fo, &error));
    g_assert_true (nms_state_message_put (st, "Entwürfe", 2, "", &error));
    g_assert_true (nms_state_commit (st, &error));
    g_clear_pointer (&st, nms_state_free);

    st = nms_state_open (f->dir, "work", &error);
    g_assert_no_error (error);
    g_assert_true (nms_state_folder_get (st, "INBOX", &got, &found, &error));
    g_assert_true (found);
    g_assert_cmpuint (got.uidvalidity, ==, 77);
    g_assert_cmpuint (got.uidnext, ==, 10);
    msgs = nms_state_messages (st, "INBOX", &error);
    g_assert_cmpuint (msgs->len, ==, 2);
    g_assert_cmpuint (g_array_index (msgs, NmsStateMessage, 0).uid, ==, 2);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).flags, ==, "FS");
    g_assert_cmpuint (g_array_index (msgs, NmsStateMessage, 1).uid, ==, 5);
    names = nms_state_folder_names (st, &error);
    g_assert_cmpuint (names->len, ==, 2);
    g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "Entwürfe");
}

static void
test_rollback_and_delete (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    g_autoptr (GArray) msgs = NULL;
    NmsStateFolder fo = { .uidvalidity = 1 };

    g_assert_true (nms_state_folder_set (st, "X", &fo, &error));
    g_assert_true (nms_state_message_put (st, "X", 1, "S", &error));
    g_assert_true (nms_state_begin (st, &error));
    g_assert_true (nms_state_message_put (st, "X", 2, "S", &error));
    nms_state_rollback (st);
    g_assert_true (nms_state_message_put (st, "X", 1, "FS", &error)); /* replaces */
    msgs = nms_state_messages (st, "X", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).flags, ==, "FS");
    g_clear_pointer (&msgs, g_array_unref);
    g_assert_true (nms_state_message_delete (st, "X", 1, &error));
    msgs = nms_state_messages (st, "X", &error);
    g_assert_cmpuint (msgs->len, ==, 0);
    g_clear_pointer (&msgs, g_array_unref);
    g_assert_true (nms_state_message_put (st, "X", 3, "", &error));
    g_assert_true (nms_state_folder_forget (st, "X", &error));
    msgs = nms_state_messages (st, "X", &error);
    g_assert_cmpuint (msgs->len, ==, 0);
}

static void
test_files_private (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *sub = g_build_filename (f->dir, "state", NULL);
    g_autofree char *db = g_build_filename (sub, "acct.db", NULL);
    g_autoptr (NmsState) st = NULL;
    struct stat sb;
    mode_t old = umask (0);

    st = nms_state_open (sub, "acct", &error);
    umask (old);
    g_assert_no_error (error);
    g_assert_cmpint (stat (db, &sb), ==, 0);
    g_assert_cmpint (sb.st_mode & 0777, ==, 0600);
    g_assert_cmpint (stat (sub, &sb), ==, 0);
    g_assert_cmpint (sb.st_mode & 0077, ==, 0);
}

static void
test_lock_excludes_second (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    int fd = nms_state_lock (f->dir, "work", &error);
    pid_t child;
    int status;

    g_assert_no_error (error);
    g_assert_cmpint (fd, >=, 0);
    /* flock locks belong to the open file description: a child opening the file anew sees
     * the lock, as a second nmsync would. */
    child = fork ();
    if (child == 0) {
        g_autoptr (GError) e = NULL;
        g_autofree char *want = g_strdup_printf ("(pid %d)", (int) getppid ());
        int fd2 = nms_state_lock (f->dir, "work", &e);
        _exit (fd2 < 0 && g_error_matches (e, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED) &&
                       strstr (e->message, want) != NULL
                   ? 0
                   : 1);
    }
    g_assert_cmpint (waitpid (child, &status, 0), ==, child);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    nms_state_unlock (fd);
    fd = nms_state_lock (f->dir, "work", &error);
    g_assert_no_error (error);
    nms_state_unlock (fd);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add ("/state/roundtrip", Fixture, NULL, setup, test_roundtrip, teardown);
    g_test_add ("/state/rollback-and-delete", Fixture, NULL, setup, test_rollback_and_delete,
                teardown);
    g_test_add ("/state/files-private", Fixture, NULL, setup, test_files_private, teardown);
    g_test_add ("/state/lock-excludes-second", Fixture, NULL, setup, test_lock_excludes_second,
                teardown);
    return g_test_run ();
}

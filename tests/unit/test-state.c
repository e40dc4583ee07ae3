/* SPDX-License-Identifier: GPL-3.0-or-later
 * The SQLite sync state: folders, messages, transactions, privacy and the account lock. */
#include "nms-build.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "state/state.h"

#include "testutil.h"

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
    nms_test_rm_rf (f->dir);
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
    g_assert_true (nms_state_message_put (st, "INBOX", 5, "S", "b5", &error));
    g_assert_true (nms_state_message_put (st, "INBOX", 2, "FS", "b2", &error));
    g_assert_true (nms_state_folder_set (st, "Entwürfe", &fo, &error));
    g_assert_true (nms_state_message_put (st, "Entwürfe", 2, "", "b2", &error));
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
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).base, ==, "b2");
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
    g_assert_true (nms_state_message_put (st, "X", 1, "S", "b1", &error));
    g_assert_true (nms_state_begin (st, &error));
    g_assert_true (nms_state_message_put (st, "X", 2, "S", "b2", &error));
    nms_state_rollback (st);
    g_assert_true (nms_state_message_put (st, "X", 1, "FS", "b1", &error)); /* replaces */
    msgs = nms_state_messages (st, "X", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).flags, ==, "FS");
    g_clear_pointer (&msgs, g_array_unref);
    g_assert_true (nms_state_message_delete (st, "X", 1, &error));
    msgs = nms_state_messages (st, "X", &error);
    g_assert_cmpuint (msgs->len, ==, 0);
    g_clear_pointer (&msgs, g_array_unref);
    g_assert_true (nms_state_message_put (st, "X", 3, "", "b3", &error));
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
    int fd = nms_state_lock (f->dir, "work", 0, &error);
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
        int fd2 = nms_state_lock (f->dir, "work", 0, &e);
        _exit (fd2 < 0 && g_error_matches (e, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED) &&
                       strstr (e->message, want) != NULL
                   ? 0
                   : 1);
    }
    g_assert_cmpint (waitpid (child, &status, 0), ==, child);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    nms_state_unlock (fd);
    fd = nms_state_lock (f->dir, "work", 0, &error);
    g_assert_no_error (error);
    nms_state_unlock (fd);
}

/* A bounded wait: a child waiting 300 ms for a lock held throughout gives up after about that
 * long, naming the holder and the wait; a child waiting 5 s gets the lock once the parent lets
 * go after 200 ms. */
static void
test_lock_waits (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    int fd = nms_state_lock (f->dir, "work", 0, &error);
    pid_t child;
    int status;

    g_assert_no_error (error);
    child = fork ();
    if (child == 0) {
        g_autoptr (GError) e = NULL;
        gint64 t0 = g_get_monotonic_time ();
        int fd2 = nms_state_lock (f->dir, "work", 300, &e);
        gint64 waited = g_get_monotonic_time () - t0;

        _exit (fd2 < 0 && g_error_matches (e, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED) &&
                       strstr (e->message, "gave up after 1 s") != NULL && waited >= 250000 &&
                       waited < 3000000
                   ? 0
                   : 1);
    }
    g_assert_cmpint (waitpid (child, &status, 0), ==, child);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
    child = fork ();
    if (child == 0) {
        g_autoptr (GError) e = NULL;
        int fd2;

        /* The inherited descriptor shares the parent's lock: only the parent's close may
         * release it. */
        nms_state_unlock (fd);
        fd2 = nms_state_lock (f->dir, "work", 5000, &e);
        _exit (fd2 >= 0 && e == NULL ? 0 : 1);
    }
    g_usleep (200 * 1000);
    nms_state_unlock (fd);
    g_assert_cmpint (waitpid (child, &status, 0), ==, child);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

static void
test_find_base (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    NmsStateMessage m = { 0 };
    g_autofree char *folder = NULL;
    gboolean found = TRUE;

    g_assert_true (nms_state_message_put (st, "INBOX", 7, "FS", "1700.M1P2.host", &error));
    g_assert_true (nms_state_message_put (st, "INBOX", 8, "S", "", &error));
    g_assert_true (nms_state_message_find_base (st, "nope", &folder, &m, &found, &error));
    g_assert_false (found);
    g_assert_true (nms_state_message_find_base (st, "", &folder, &m, &found, &error));
    g_assert_false (found); /* an unknown base never matches */
    g_assert_true (nms_state_message_find_base (st, "1700.M1P2.host", &folder, &m, &found, &error));
    g_assert_true (found);
    g_assert_cmpstr (folder, ==, "INBOX");
    g_assert_cmpuint (m.uid, ==, 7);
    g_assert_cmpstr (m.flags, ==, "FS");
    g_free (m.base);
}

static void
test_intents (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    g_autoptr (GArray) left = NULL;
    NmsStateIntent in = { .kind = NMS_INTENT_APPEND, .folder = (char *) "Sent",
                          .path = (char *) "base1", .uidnext = 42,
                          .message_id = (char *) "id@x", .size = 1234 };
    gint64 a, b;

    a = nms_state_intent_add (st, &in, &error);
    in.kind = NMS_INTENT_MOVE;
    in.uid = 9;
    in.dest = (char *) "Junk";
    in.message_id = NULL;
    b = nms_state_intent_add (st, &in, &error);
    g_assert_no_error (error);
    g_assert_cmpint (a, >, 0);
    g_assert_cmpint (b, >, a);
    g_clear_pointer (&st, nms_state_free);

    /* Intents survive a reopen: they are what a crashed run leaves behind. */
    st = nms_state_open (f->dir, "a", &error);
    left = nms_state_intents (st, "Sent", &error);
    g_assert_cmpuint (left->len, ==, 2);
    g_assert_cmpint (g_array_index (left, NmsStateIntent, 0).kind, ==, NMS_INTENT_APPEND);
    g_assert_cmpuint (g_array_index (left, NmsStateIntent, 0).uidnext, ==, 42);
    g_assert_cmpstr (g_array_index (left, NmsStateIntent, 0).message_id, ==, "id@x");
    g_assert_cmpuint (g_array_index (left, NmsStateIntent, 0).size, ==, 1234);
    g_assert_cmpstr (g_array_index (left, NmsStateIntent, 1).dest, ==, "Junk");
    g_assert_null (g_array_index (left, NmsStateIntent, 1).message_id);
    g_clear_pointer (&left, g_array_unref);

    g_assert_true (nms_state_begin (st, &error));
    g_assert_true (nms_state_intent_remove (st, a, &error));
    g_assert_true (nms_state_commit (st, &error));
    left = nms_state_intents (st, "Sent", &error);
    g_assert_cmpuint (left->len, ==, 1);
    g_assert_cmpint (g_array_index (left, NmsStateIntent, 0).id, ==, b);
}

static void
test_roles (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    g_autoptr (GHashTable) in = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) out = NULL;

    g_hash_table_insert (in, (char *) "\\Junk", (char *) "Bulk Mail");
    g_hash_table_insert (in, (char *) "\\Sent", (char *) "Gesendet");
    g_assert_true (nms_state_roles_set (st, in, &error));
    out = nms_state_roles (st, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (out), ==, 2);
    g_assert_cmpstr (g_hash_table_lookup (out, "\\Junk"), ==, "Bulk Mail");
    g_clear_pointer (&out, g_hash_table_unref);
    /* A later LIST replaces the whole set: a role the server dropped is gone. */
    g_hash_table_remove (in, "\\Sent");
    g_assert_true (nms_state_roles_set (st, in, &error));
    out = nms_state_roles (st, &error);
    g_assert_cmpuint (g_hash_table_size (out), ==, 1);
    g_assert_null (g_hash_table_lookup (out, "\\Sent"));
}

static void
test_keyword_letters (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    char *first[] = { (char *) "$Junk", (char *) "$NotJunk", NULL };
    char *later[] = { (char *) "$Important", (char *) "$NotJunk", NULL };
    g_autoptr (GHashTable) a = nms_state_keyword_letters (st, first, &error);
    g_autoptr (GHashTable) b = NULL;
    g_autoptr (GPtrArray) many = g_ptr_array_new_with_free_func (g_free);

    g_assert_no_error (error);
    g_assert_cmpstr (g_hash_table_lookup (a, "$Junk"), ==, "a");
    g_assert_cmpstr (g_hash_table_lookup (a, "$NotJunk"), ==, "b");
    /* Rules changed: $Junk is gone from them, $Important is new. Old letters keep their
     * keyword (a file may still carry "a"), the new one gets the next free letter. */
    g_clear_pointer (&st, nms_state_free);
    st = nms_state_open (f->dir, "a", &error);
    b = nms_state_keyword_letters (st, later, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (g_hash_table_lookup (b, "$Junk"), ==, "a");
    g_assert_cmpstr (g_hash_table_lookup (b, "$NotJunk"), ==, "b");
    g_assert_cmpstr (g_hash_table_lookup (b, "$Important"), ==, "c");
    /* 26 letters at most. */
    for (int i = 0; i < 30; i++)
        g_ptr_array_add (many, g_strdup_printf ("$K%d", i));
    g_ptr_array_add (many, NULL);
    g_assert_null (nms_state_keyword_letters (st, (char **) many->pdata, &error));
    g_assert_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_DB);
}

/* Message-ID and size of a server message: kept when its flags change, found from another
 * folder only, and a unique part is found in another folder. */
static void
test_content (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    g_autoptr (GPtrArray) folders = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GArray) found = NULL, none = NULL;
    g_autofree char *elsewhere = NULL, *nowhere = NULL;

    (void) data;
    g_assert_no_error (error);
    g_assert_true (nms_state_message_put (st, "A", 7, "S", "b7", &error));
    g_assert_true (nms_state_message_set_content (st, "A", 7, "id@x", 120, &error));
    g_assert_true (nms_state_message_put (st, "A", 7, "FS", "b7", &error)); /* flags change */
    g_assert_true (nms_state_message_put (st, "B", 3, "", "b7", &error));
    found = nms_state_message_find_content (st, "id@x", 120, "B", folders, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (found->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (folders, 0), ==, "A");
    g_assert_cmpuint (g_array_index (found, NmsStateMessage, 0).uid, ==, 7);
    g_assert_cmpstr (g_array_index (found, NmsStateMessage, 0).flags, ==, "FS");
    none = nms_state_message_find_content (st, "id@x", 120, "A", folders, &error);
    g_assert_cmpuint (none->len, ==, 0);
    g_assert_true (nms_state_message_base_elsewhere (st, "b7", "A", &elsewhere, &error));
    g_assert_cmpstr (elsewhere, ==, "B");
    g_assert_true (nms_state_message_base_elsewhere (st, "b8", "A", &nowhere, &error));
    g_assert_null (nowhere);
}

static void
test_migrates_v1 (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *db = g_build_filename (f->dir, "old.db", NULL);
    g_autofree char *cmd = g_strdup_printf (
        "sqlite3 '%s' \"CREATE TABLE folders (name TEXT PRIMARY KEY, uidvalidity INTEGER NOT "
        "NULL, uidnext INTEGER NOT NULL DEFAULT 0); CREATE TABLE messages (folder TEXT NOT NULL, "
        "uid INTEGER NOT NULL, flags TEXT NOT NULL, PRIMARY KEY (folder, uid)) WITHOUT ROWID; "
        "INSERT INTO messages VALUES ('INBOX', 3, 'S'); PRAGMA user_version = 1;\"", db);
    g_autoptr (NmsState) st = NULL;
    g_autoptr (GArray) msgs = NULL;
    g_autofree char *sqlite3 = g_find_program_in_path ("sqlite3");

    if (sqlite3 == NULL) {
        g_test_skip ("sqlite3 command not installed");
        return;
    }
    g_assert_cmpint (system (cmd), ==, 0);
    st = nms_state_open (f->dir, "old", &error);
    g_assert_no_error (error);
    msgs = nms_state_messages (st, "INBOX", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).flags, ==, "S");
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).base, ==, "");
}

/* A version 2 database (before the skip data) is migrated in place: what it held stays, the
 * new per-folder columns read 0 ("unknown") and can then be written and read back. */
static void
test_migrates_v2 (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *db = g_build_filename (f->dir, "two.db", NULL);
    g_autofree char *cmd = g_strdup_printf (
        "sqlite3 '%s' \"CREATE TABLE folders (name TEXT PRIMARY KEY, uidvalidity INTEGER NOT "
        "NULL, uidnext INTEGER NOT NULL DEFAULT 0); CREATE TABLE messages (folder TEXT NOT NULL, "
        "uid INTEGER NOT NULL, flags TEXT NOT NULL, base TEXT NOT NULL DEFAULT '', PRIMARY KEY "
        "(folder, uid)) WITHOUT ROWID; INSERT INTO folders VALUES ('INBOX', 77, 10); "
        "INSERT INTO messages VALUES ('INBOX', 3, 'S', 'b3'); PRAGMA user_version = 2;\"", db);
    g_autofree char *version_cmd = g_strdup_printf ("sqlite3 '%s' 'PRAGMA user_version'", db);
    g_autofree char *version = NULL;
    g_autoptr (NmsState) st = NULL;
    g_autoptr (GArray) msgs = NULL;
    g_autofree char *sqlite3 = g_find_program_in_path ("sqlite3");
    NmsStateFolder got, fo = { .uidvalidity = 77,
                               .uidnext = 12,
                               .highestmodseq = G_GUINT64_CONSTANT (1) << 40,
                               .messages = 9,
                               .cur_mtime_ns = G_GINT64_CONSTANT (1700000000123456789),
                               .new_mtime_ns = 42 };
    gboolean found;

    if (sqlite3 == NULL) {
        g_test_skip ("sqlite3 command not installed");
        return;
    }
    g_assert_cmpint (system (cmd), ==, 0);
    st = nms_state_open (f->dir, "two", &error);
    g_assert_no_error (error);
    g_assert_true (nms_state_folder_get (st, "INBOX", &got, &found, &error));
    g_assert_true (found);
    g_assert_cmpuint (got.uidvalidity, ==, 77);
    g_assert_cmpuint (got.uidnext, ==, 10);
    g_assert_cmpuint (got.highestmodseq, ==, 0);
    g_assert_cmpuint (got.messages, ==, 0);
    g_assert_cmpint (got.cur_mtime_ns, ==, 0);
    g_assert_cmpint (got.new_mtime_ns, ==, 0);
    msgs = nms_state_messages (st, "INBOX", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).base, ==, "b3");
    g_assert_true (nms_state_folder_set (st, "INBOX", &fo, &error));
    g_clear_pointer (&st, nms_state_free);

    g_assert_true (g_spawn_command_line_sync (version_cmd, &version, NULL, NULL, &error));
    g_assert_cmpstr (g_strstrip (version), ==, "4");
    st = nms_state_open (f->dir, "two", &error);
    g_assert_no_error (error);
    g_assert_true (nms_state_folder_get (st, "INBOX", &got, &found, &error));
    g_assert_cmpuint (got.uidnext, ==, 12);
    g_assert_cmpuint (got.highestmodseq, ==, G_GUINT64_CONSTANT (1) << 40);
    g_assert_cmpuint (got.messages, ==, 9);
    g_assert_cmpint (got.cur_mtime_ns, ==, G_GINT64_CONSTANT (1700000000123456789));
    g_assert_cmpint (got.new_mtime_ns, ==, 42);
}

/* A folder recorded under a server's own spelling takes its one name: record, messages,
 * intents (as source and as destination) and role move together; other folders stay. */
static void
test_folder_rename (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsState) st = nms_state_open (f->dir, "a", &error);
    g_autoptr (GHashTable) roles = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) roles_now = NULL;
    g_autoptr (GArray) msgs = NULL;
    g_autoptr (GArray) left = NULL;
    g_autoptr (GPtrArray) names = NULL;
    NmsStateFolder fo = { .uidvalidity = 5, .uidnext = 9 }, got;
    NmsStateIntent in = { .kind = NMS_INTENT_MOVE, .folder = (char *) "INBOX", .uid = 3,
                          .dest = (char *) "Archives.2012", .path = (char *) "b3" };
    gboolean found = FALSE;

    g_assert_true (nms_state_folder_set (st, "Archives.2012", &fo, &error));
    g_assert_true (nms_state_folder_set (st, "INBOX", &fo, &error));
    g_assert_true (nms_state_message_put (st, "Archives.2012", 4, "S", "b4", &error));
    g_assert_true (nms_state_message_put (st, "INBOX", 4, "", "i4", &error));
    g_assert_cmpint (nms_state_intent_add (st, &in, &error), >, 0);
    in.folder = (char *) "Archives.2012";
    in.dest = (char *) "INBOX";
    g_assert_cmpint (nms_state_intent_add (st, &in, &error), >, 0);
    g_hash_table_insert (roles, (char *) "\\Archive", (char *) "Archives.2012");
    g_assert_true (nms_state_roles_set (st, roles, &error));

    g_assert_true (nms_state_folder_rename (st, "Archives.2012", "Archives/2012", &error));
    g_assert_no_error (error);
    names = nms_state_folder_names (st, &error);
    g_assert_cmpuint (names->len, ==, 2);
    g_assert_cmpstr (g_ptr_array_index (names, 0), ==, "Archives/2012");
    g_assert_cmpstr (g_ptr_array_index (names, 1), ==, "INBOX");
    g_assert_true (nms_state_folder_get (st, "Archives/2012", &got, &found, &error));
    g_assert_true (found);
    g_assert_cmpuint (got.uidnext, ==, 9);
    msgs = nms_state_messages (st, "Archives/2012", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    g_assert_cmpstr (g_array_index (msgs, NmsStateMessage, 0).base, ==, "b4");
    g_clear_pointer (&msgs, g_array_unref);
    msgs = nms_state_messages (st, "INBOX", &error);
    g_assert_cmpuint (msgs->len, ==, 1);
    left = nms_state_intents (st, "INBOX", &error);
    g_assert_cmpuint (left->len, ==, 1);
    g_assert_cmpstr (g_array_index (left, NmsStateIntent, 0).dest, ==, "Archives/2012");
    g_clear_pointer (&left, g_array_unref);
    left = nms_state_intents (st, "Archives/2012", &error);
    g_assert_cmpuint (left->len, ==, 1);
    roles_now = nms_state_roles (st, &error);
    g_assert_cmpstr (g_hash_table_lookup (roles_now, "\\Archive"), ==, "Archives/2012");
    g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add ("/state/roundtrip", Fixture, NULL, setup, test_roundtrip, teardown);
    g_test_add ("/state/folder-rename", Fixture, NULL, setup, test_folder_rename, teardown);
    g_test_add ("/state/rollback-and-delete", Fixture, NULL, setup, test_rollback_and_delete,
                teardown);
    g_test_add ("/state/files-private", Fixture, NULL, setup, test_files_private, teardown);
    g_test_add ("/state/lock-excludes-second", Fixture, NULL, setup, test_lock_excludes_second,
                teardown);
    g_test_add ("/state/lock-waits", Fixture, NULL, setup, test_lock_waits, teardown);
    g_test_add ("/state/find-base", Fixture, NULL, setup, test_find_base, teardown);
    g_test_add ("/state/intents", Fixture, NULL, setup, test_intents, teardown);
    g_test_add ("/state/roles", Fixture, NULL, setup, test_roles, teardown);
    g_test_add ("/state/keyword-letters", Fixture, NULL, setup, test_keyword_letters, teardown);
    g_test_add ("/state/content", Fixture, NULL, setup, test_content, teardown);
    g_test_add ("/state/migrates-v1", Fixture, NULL, setup, test_migrates_v1, teardown);
    g_test_add ("/state/migrates-v2", Fixture, NULL, setup, test_migrates_v2, teardown);
    return g_test_run ();
}

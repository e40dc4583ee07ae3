/* SPDX-License-Identifier: GPL-3.0-or-later
 * src/notmuch/ against a scratch notmuch config and database in a temp dir: indexing sync
 * events as `notmuch new` would (checked by running the real `notmuch new` afterwards),
 * queries, tags and properties, config, revisions, and the bounded wait for the write lock. */
#include "nms-build.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notmuch/notmuch-private.h"
#include "notmuch/notmuch.h"

#include "testutil.h"

typedef struct {
    char *dir;
    char *mail;
    char *config;
    gboolean skip; /* no notmuch binary */
} Fixture;

static void
write_file (const char *path, const char *text)
{
    g_autoptr (GError) error = NULL;
    g_assert_true (g_file_set_contents (path, text, -1, &error));
    g_assert_no_error (error);
}

/* A message file @folder/@sub/@name under the mail root ("" is the INBOX). (transfer full) */
static char *
write_mail (Fixture *f, const char *folder, const char *sub, const char *name, const char *id)
{
    char *path = g_build_filename (f->mail, folder, sub, name, NULL);
    g_autofree char *text = g_strdup_printf ("From: a@example.org\nTo: b@example.org\n"
                                             "Subject: message %s\nMessage-ID: <%s>\n\nbody\n",
                                             id, id);
    write_file (path, text);
    return path;
}

static void
run_notmuch (Fixture *f, const char *const *args, char **stdout_out)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) env = g_environ_setenv (g_get_environ (), "NOTMUCH_CONFIG", f->config, TRUE);
    g_autofree char *err = NULL;
    int status = 0;

    g_assert_true (g_spawn_sync (NULL, (char **) args, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
                                 stdout_out, &err, &status, &error));
    g_assert_no_error (error);
    if (!g_spawn_check_wait_status (status, &error))
        g_error ("%s: %s\n%s", args[0], error->message, err);
}

static void
setup (Fixture *f, gconstpointer data)
{
    const char *const new_args[] = { "notmuch", "new", "--quiet", NULL };
    const char *folders[] = { "", ".Junk" };
    const char *subs[] = { "cur", "new", "tmp" };
    g_autofree char *notmuch = g_find_program_in_path ("notmuch");
    g_autofree char *text = NULL;

    f->dir = g_dir_make_tmp ("nms-notmuch-XXXXXX", NULL);
    g_assert_nonnull (f->dir);
    f->mail = g_build_filename (f->dir, "mail", NULL);
    f->config = g_build_filename (f->dir, "config", NULL);
    for (guint i = 0; i < G_N_ELEMENTS (folders); i++)
        for (guint j = 0; j < G_N_ELEMENTS (subs); j++) {
            g_autofree char *d = g_build_filename (f->mail, folders[i], subs[j], NULL);
            g_assert_cmpint (g_mkdir_with_parents (d, 0700), ==, 0);
        }
    text = g_strdup_printf ("[database]\npath=%s\n\n[new]\ntags=unread;inbox;\n\n"
                            "[maildir]\nsynchronize_flags=true\n\n[nmsync]\nrules=a;b\n",
                            f->mail);
    write_file (f->config, text);
    if (notmuch == NULL) {
        g_test_skip ("notmuch is not installed");
        f->skip = TRUE;
        return;
    }
    run_notmuch (f, new_args, NULL); /* creates the database */
}

static void
teardown (Fixture *f, gconstpointer data)
{
    nms_test_rm_rf (f->dir);
    g_free (f->dir);
    g_free (f->mail);
    g_free (f->config);
}

static NmsDb *
open_db (Fixture *f, gboolean writable)
{
    g_autoptr (GError) error = NULL;
    NmsDb *db = nms_db_open (f->config, writable, 1000, &error);
    g_assert_no_error (error);
    g_assert_nonnull (db);
    return db;
}

static void
close_db (NmsDb *db)
{
    g_autoptr (GError) error = NULL;
    g_assert_true (nms_db_close (db, &error));
    g_assert_no_error (error);
}

/* The only message matching @query. (transfer full) */
static NmsDbMessage *
get_one (NmsDb *db, const char *query)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) found = nms_db_query (db, query, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (found->len, ==, 1);
    return g_ptr_array_steal_index (found, 0);
}

static guint
count (NmsDb *db, const char *query)
{
    g_autoptr (GError) error = NULL;
    guint n = 12345;
    g_assert_true (nms_db_count (db, query, &n, &error));
    g_assert_no_error (error);
    return n;
}

static void
assert_tags (NmsDb *db, const char *id, const char *expected)
{
    g_autofree char *query = g_strdup_printf ("id:%s", id);
    g_autoptr (NmsDbMessage) m = get_one (db, query);
    g_autofree char *joined = g_strjoinv (" ", m->tags);
    g_assert_cmpstr (joined, ==, expected);
}

static NmsDbStats
apply (NmsDb *db, NmsFileEventKind kind, const char *path, const char *old_path)
{
    g_autoptr (GError) error = NULL;
    NmsFileEvent ev = { kind, (char *) path, (char *) old_path };
    NmsDbStats stats;
    g_assert_true (nms_db_apply_events (db, &ev, 1, 10, &stats, &error));
    g_assert_no_error (error);
    return stats;
}

static void
rename_file (const char *from, const char *to)
{
    g_assert_cmpint (g_rename (from, to), ==, 0);
}

static void
test_open_close (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->dir, "no-config", NULL);
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    g_assert_cmpstr (nms_db_mail_root (db), ==, f->mail);
    g_assert_true (nms_db_synchronize_flags (db));
    g_assert_cmpstrv (nms_db_new_tags (db), ((const char *const[]){ "unread", "inbox", NULL }));
    close_db (db);
    close_db (open_db (f, FALSE));
    g_assert_true (nms_db_close (NULL, &error));

    db = nms_db_open (missing, FALSE, 0, &error);
    g_assert_null (db);
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN);
    g_assert_nonnull (strstr (error->message, missing));
}

static void
test_events (Fixture *f, gconstpointer data)
{
    const char *const new_args[] = { "notmuch", "new", NULL };
    g_autoptr (GError) error = NULL;
    g_autofree char *a = write_mail (f, "", "cur", "1.a.host:2,S", "a@x");
    g_autofree char *b = write_mail (f, "", "new", "2.b.host", "b@x");
    g_autofree char *c = write_mail (f, "", "cur", "3.c.host:2,F", "c@x");
    g_autofree char *a2 = g_build_filename (f->mail, "cur", "1.a.host:2,FS", NULL);
    g_autofree char *a3 = g_build_filename (f->mail, ".Junk", "cur", "1.a.host:2,FS", NULL);
    g_autofree char *gone = g_build_filename (f->mail, "cur", "3.c.host:2,FS", NULL);
    g_autofree char *outside = g_build_filename (f->dir, "outside:2,S", NULL);
    g_autofree char *not_mail = g_build_filename (f->mail, "cur", "4.junk.host:2,", NULL);
    g_autofree char *out = NULL;
    g_autofree char *d1 = NULL;
    g_autofree char *d2 = NULL;
    const char *add_keep[] = { "keep", NULL };
    NmsFileEvent added[] = {
        { NMS_FILE_ADDED, a, NULL },
        { NMS_FILE_ADDED, b, NULL },
        { NMS_FILE_ADDED, c, NULL },
    };
    NmsDbStats stats;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    g_assert_true (nms_db_apply_events (db, added, G_N_ELEMENTS (added), 2, &stats, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (stats.added, ==, 3);
    g_assert_cmpuint (stats.renamed + stats.removed + stats.outside + stats.not_mail, ==, 0);
    assert_tags (db, "a@x", "inbox");
    assert_tags (db, "b@x", "inbox unread");
    assert_tags (db, "c@x", "flagged inbox unread");

    /* a flag change: the custom tag stays, the new flag becomes a tag */
    g_assert_true (nms_db_message_update (db, "a@x", (char **) add_keep, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    rename_file (a, a2);
    stats = apply (db, NMS_FILE_RENAMED, a2, a);
    g_assert_cmpuint (stats.renamed, ==, 1);
    g_assert_cmpuint (stats.added + stats.removed, ==, 0);
    assert_tags (db, "a@x", "flagged inbox keep");
    {
        g_autoptr (NmsDbMessage) m = get_one (db, "id:a@x");
        g_assert_cmpstrv (m->paths, ((const char *const[]){ a2, NULL }));
    }

    /* a move to another folder */
    rename_file (a2, a3);
    stats = apply (db, NMS_FILE_RENAMED, a3, a2);
    g_assert_cmpuint (stats.renamed, ==, 1);
    assert_tags (db, "a@x", "flagged inbox keep");
    g_assert_cmpuint (count (db, "folder:.Junk and tag:keep"), ==, 1);
    g_assert_cmpuint (count (db, "folder:\"\" and id:a@x"), ==, 0);

    /* a rename whose new file is gone again: the old name and the tags stay */
    stats = apply (db, NMS_FILE_RENAMED, gone, c);
    g_assert_cmpuint (stats.vanished, ==, 1);
    g_assert_cmpuint (stats.renamed + stats.removed, ==, 0);
    assert_tags (db, "c@x", "flagged inbox unread");

    /* two files of one message: removing one keeps it, its flags decide again */
    d1 = write_mail (f, "", "cur", "5.d1.host:2,", "dup@x");
    d2 = write_mail (f, ".Junk", "cur", "6.d2.host:2,S", "dup@x");
    stats = apply (db, NMS_FILE_ADDED, d1, NULL);
    g_assert_cmpuint (stats.added, ==, 1);
    stats = apply (db, NMS_FILE_ADDED, d2, NULL);
    g_assert_cmpuint (stats.added, ==, 0);
    assert_tags (db, "dup@x", "inbox");
    g_assert_cmpint (g_unlink (d2), ==, 0);
    stats = apply (db, NMS_FILE_REMOVED, d2, NULL);
    g_assert_cmpuint (stats.removed, ==, 1);
    assert_tags (db, "dup@x", "inbox unread");
    g_assert_cmpint (g_unlink (d1), ==, 0);
    stats = apply (db, NMS_FILE_REMOVED, d1, NULL);
    g_assert_cmpuint (stats.removed, ==, 1);
    g_assert_cmpuint (count (db, "id:dup@x"), ==, 0);

    /* outside the mail root, and not mail */
    write_file (outside, "From: a@b\nSubject: s\n\nx\n");
    stats = apply (db, NMS_FILE_ADDED, outside, NULL);
    g_assert_cmpuint (stats.outside, ==, 1);
    g_assert_cmpuint (stats.added, ==, 0);
    write_file (not_mail, "this is not a mail message\n");
    stats = apply (db, NMS_FILE_ADDED, not_mail, NULL);
    g_assert_cmpuint (stats.not_mail, ==, 1);
    g_assert_cmpuint (stats.added, ==, 0);
    g_assert_cmpint (g_unlink (not_mail), ==, 0);
    close_db (db);

    /* the real notmuch new finds that everything is indexed already */
    run_notmuch (f, new_args, &out);
    g_test_message ("notmuch new: %s", out);
    g_assert_nonnull (strstr (out, "No new mail."));
    g_assert_null (strstr (out, "rename"));
    g_assert_null (strstr (out, "Removed"));
    g_assert_null (strstr (out, "Added"));

    db = open_db (f, FALSE);
    assert_tags (db, "a@x", "flagged inbox keep");
    g_assert_cmpuint (count (db, "*"), ==, 3);
    close_db (db);
}

static void
test_query (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *a = write_mail (f, "", "cur", "1.a.host:2,S", "a@x");
    g_autofree char *b = write_mail (f, ".Junk", "cur", "2.b.host:2,", "b@x");
    g_autoptr (GHashTable) ids = NULL;
    g_autoptr (GPtrArray) all = NULL;
    NmsFileEvent added[] = { { NMS_FILE_ADDED, a, NULL }, { NMS_FILE_ADDED, b, NULL } };
    guint n = 99;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    g_assert_true (nms_db_apply_events (db, added, 2, 0, NULL, &error));
    g_assert_no_error (error);

    all = nms_db_query (db, "*", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (all->len, ==, 2);
    ids = nms_db_query_ids (db, "tag:unread", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_hash_table_size (ids), ==, 1);
    g_assert_true (g_hash_table_contains (ids, "b@x"));
    g_assert_cmpuint (count (db, "folder:.Junk"), ==, 1);
    g_assert_cmpuint (count (db, "folder:\"\""), ==, 1);
    g_assert_cmpuint (count (db, "tag:nothing"), ==, 0);
    {
        g_autoptr (NmsDbMessage) m = get_one (db, "folder:\"\"");
        g_assert_cmpstr (m->id, ==, "a@x");
        g_assert_cmpstrv (m->paths, ((const char *const[]){ a, NULL }));
        g_assert_null (m->agreed_folder);
        g_assert_null (m->agreed_flags);
    }

    g_assert_null (nms_db_query (db, "tag:a and (", &error));
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_QUERY);
    g_assert_nonnull (strstr (error->message, f->mail));
    g_assert_nonnull (strstr (error->message, "tag:a and ("));
    g_clear_error (&error);
    g_assert_false (nms_db_count (db, "tag:a and (", &n, &error));
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_QUERY);
    g_assert_cmpuint (n, ==, 99);
    close_db (db);
}

static void
test_update (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *a = write_mail (f, "", "cur", "1.a.host:2,", "a@x");
    const char *add[] = { "spam", "todo", NULL };
    const char *remove[] = { "inbox", NULL };
    g_autofree char *long_tag = g_strnfill (300, 't');
    const char *bad[] = { "fine", long_tag, NULL };
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    apply (db, NMS_FILE_ADDED, a, NULL);
    g_assert_true (
        nms_db_message_update (db, "a@x", (char **) add, (char **) remove, ".Junk", "S", &error));
    g_assert_no_error (error);
    assert_tags (db, "a@x", "spam todo unread");
    g_assert_true (nms_db_message_update (db, "a@x", NULL, NULL, "INBOX", NULL, &error));
    g_assert_no_error (error);
    close_db (db);

    db = open_db (f, TRUE);
    {
        g_autoptr (NmsDbMessage) m = get_one (db, "id:a@x");
        g_assert_cmpstr (m->agreed_folder, ==, "INBOX");
        g_assert_cmpstr (m->agreed_flags, ==, "S");
    }
    g_assert_cmpuint (count (db, "property:nmsync.folder=INBOX"), ==, 1);
    g_assert_cmpuint (count (db, "property:nmsync.folder=.Junk"), ==, 0);

    g_assert_false (nms_db_message_update (db, "nope@x", (char **) add, NULL, NULL, NULL, &error));
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_WRITE);
    g_assert_nonnull (strstr (error->message, "nope@x"));
    g_clear_error (&error);
    g_assert_false (nms_db_message_update (db, "a@x", (char **) bad, NULL, "X", NULL, &error));
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_WRITE);
    g_test_message ("%s", error->message);
    assert_tags (db, "a@x", "spam todo unread");
    g_assert_cmpuint (count (db, "property:nmsync.folder=INBOX"), ==, 1);
    close_db (db);
}

static void
test_config (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *rules = NULL;
    g_autofree char *unset = NULL;
    g_autofree char *value = NULL;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    rules = nms_db_config_get (db, "nmsync.rules");
    g_assert_cmpstr (rules, ==, "a;b");
    unset = nms_db_config_get (db, "nmsync.unset");
    g_assert_null (unset);
    g_assert_true (nms_db_config_set (db, "nmsync.last", "42", &error));
    g_assert_no_error (error);
    close_db (db);

    db = open_db (f, FALSE);
    value = nms_db_config_get (db, "nmsync.last");
    g_assert_cmpstr (value, ==, "42");
    close_db (db);
}

static void
test_revision (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *a = write_mail (f, "", "cur", "1.a.host:2,", "a@x");
    g_autofree char *uuid = NULL;
    g_autofree char *uuid2 = NULL;
    const char *add[] = { "x", NULL };
    guint64 rev, rev2;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    apply (db, NMS_FILE_ADDED, a, NULL);
    rev = nms_db_revision (db, &uuid);
    g_assert_nonnull (uuid);
    g_assert_true (nms_db_message_update (db, "a@x", (char **) add, NULL, NULL, NULL, &error));
    g_assert_no_error (error);
    rev2 = nms_db_revision (db, &uuid2);
    g_assert_cmpuint (rev2, >, rev);
    g_assert_cmpstr (uuid, ==, uuid2);
    g_assert_cmpuint (nms_db_revision (db, NULL), ==, rev2);
    {
        g_autofree char *q = g_strdup_printf ("lastmod:%" G_GUINT64_FORMAT "..", rev + 1);
        g_assert_cmpuint (count (db, q), ==, 1);
    }
    close_db (db);
}

/* A child that holds the database open read-write for @hold_ms; returns once it has it. */
static pid_t
hold_lock (Fixture *f, guint hold_ms)
{
    int fds[2];
    char c = 0;
    pid_t pid;

    g_assert_cmpint (pipe (fds), ==, 0);
    pid = fork ();
    g_assert_cmpint (pid, >=, 0);
    if (pid == 0) {
        NmsDb *db = nms_db_open (f->config, TRUE, 5000, NULL);
        if (db == NULL || write (fds[1], "x", 1) != 1)
            _exit (1);
        g_usleep (hold_ms * G_TIME_SPAN_MILLISECOND);
        _exit (nms_db_close (db, NULL) ? 0 : 1);
    }
    close (fds[1]);
    g_assert_cmpint (read (fds[0], &c, 1), ==, 1);
    close (fds[0]);
    return pid;
}

static void
test_lock_timeout (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    gint64 start;
    gint64 ms;
    NmsDb *db;
    NmsDb *ro;
    int status;
    pid_t pid;

    if (f->skip)
        return;
    pid = hold_lock (f, 2000);

    start = g_get_monotonic_time ();
    db = nms_db_open (f->config, TRUE, 500, &error);
    ms = (g_get_monotonic_time () - start) / 1000;
    g_assert_null (db);
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_LOCKED);
    g_assert_nonnull (strstr (error->message, f->mail));
    g_assert_nonnull (strstr (error->message, "locked"));
    g_test_message ("gave up after %" G_GINT64_FORMAT " ms: %s", ms, error->message);
    g_assert_cmpint (ms, >=, 450);
    g_assert_cmpint (ms, <, 1000);
    g_clear_error (&error);

    /* readers do not wait */
    ro = open_db (f, FALSE);
    close_db (ro);

    start = g_get_monotonic_time ();
    db = nms_db_open (f->config, TRUE, 5000, &error);
    ms = (g_get_monotonic_time () - start) / 1000;
    g_assert_no_error (error);
    g_assert_nonnull (db);
    g_test_message ("opened after %" G_GINT64_FORMAT " ms", ms);
    g_assert_cmpint (ms, <, 4000);
    close_db (db);

    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* Another writer that takes the lock after the poll: the worker thread's own deadline
 * (timeout + grace) ends the wait, and the abandoned thread, once it gets the lock, closes at
 * once, so the next open gets the database. */
static void
test_lock_race (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    notmuch_database_t *nm;
    gint64 start;
    gint64 ms;
    NmsDb *db;
    int status;
    pid_t pid;

    if (f->skip)
        return;
    pid = hold_lock (f, 3500);
    start = g_get_monotonic_time ();
    nm = nms_db_open_writable (f->config, f->mail, 200, FALSE, &error);
    ms = (g_get_monotonic_time () - start) / 1000;
    g_test_message ("gave up after %" G_GINT64_FORMAT " ms", ms);
    g_assert_null (nm);
    g_assert_error (error, NMS_DB_ERROR, NMS_DB_ERROR_LOCKED);
    g_assert_cmpint (ms, >=, 2150);
    g_assert_cmpint (ms, <, 3000);
    g_clear_error (&error);

    db = nms_db_open (f->config, TRUE, 5000, &error);
    g_assert_no_error (error);
    close_db (db);
    g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
}

/* A file name libnotmuch cannot index (its INTERNAL_ERROR would end this process) is never
 * handed to it: noted in the stats, and the other events of the batch go on. */
static void
test_too_long (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *pad = g_strnfill (240, 'x');
    g_autofree char *long_name = g_strconcat (pad, ":2,S", NULL);
    g_autofree char *fits_pad = g_strnfill (NMS_DB_NAME_MAX - 4, 'y');
    g_autofree char *fits_name = g_strconcat (fits_pad, ":2,S", NULL);
    g_autofree char *a = write_mail (f, "", "cur", long_name, "long@x");
    g_autofree char *b = write_mail (f, "", "cur", "1.b.host:2,S", "b@x");
    g_autofree char *c = write_mail (f, "", "cur", fits_name, "fits@x");
    g_autofree char *b2 = g_build_filename (f->mail, "cur", long_name, NULL);
    NmsFileEvent added[] = {
        { NMS_FILE_ADDED, a, NULL },
        { NMS_FILE_ADDED, b, NULL },
        { NMS_FILE_ADDED, c, NULL },
    };
    NmsDbStats stats;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, TRUE);
    g_assert_true (nms_db_apply_events (db, added, G_N_ELEMENTS (added), 10, &stats, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (stats.added, ==, 2);
    g_assert_nonnull (stats.too_long);
    g_assert_cmpuint (stats.too_long->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (stats.too_long, 0), ==, a);
    nms_db_stats_clear (&stats);
    g_assert_null (stats.too_long);
    g_assert_cmpuint (count (db, "id:long@x"), ==, 0);
    g_assert_cmpuint (count (db, "id:fits@x"), ==, 1);

    /* a folder name too long: Xapian's exception would fail the write, and the batch */
    {
        g_autofree char *dir_name = g_strconcat (".", pad, NULL);
        g_autofree char *dir = g_build_filename (f->mail, dir_name, "cur", NULL);
        g_autofree char *d = NULL;
        NmsFileEvent two[2] = { { NMS_FILE_ADDED, NULL, NULL }, { NMS_FILE_ADDED, NULL, NULL } };

        g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
        d = write_mail (f, dir_name, "cur", "2.d.host:2,S", "deep@x");
        two[0].path = d;
        two[1].path = write_mail (f, "", "cur", "3.e.host:2,S", "e@x");
        g_assert_true (nms_db_apply_events (db, two, 2, 10, &stats, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (stats.added, ==, 1);
        g_assert_cmpuint (stats.too_long->len, ==, 1);
        g_assert_cmpstr (g_ptr_array_index (stats.too_long, 0), ==, d);
        nms_db_stats_clear (&stats);
        g_free (two[1].path);
    }

    /* a rename to a name too long: the old filename stays, and with it the message */
    g_assert_cmpint (g_unlink (a), ==, 0);
    rename_file (b, b2);
    stats = apply (db, NMS_FILE_RENAMED, b2, b);
    g_assert_nonnull (stats.too_long);
    nms_db_stats_clear (&stats);
    {
        g_autoptr (NmsDbMessage) m = get_one (db, "id:b@x");
        g_assert_cmpstrv (m->paths, ((const char *const[]){ b, NULL }));
    }
    close_db (db);
}

/* The Xapian directory told from the config file alone (no libnotmuch) is the one the opened
 * database reports; what the file alone cannot tell is NULL, never a guess. */
static void
test_find_xapian_dir (Fixture *f, gconstpointer data)
{
    g_autofree char *found = NULL;
    g_autofree char *opened = NULL;
    g_autofree char *missing = g_build_filename (f->dir, "no-such-config", NULL);
    g_autofree char *relative = g_build_filename (f->dir, "relative", NULL);
    g_autofree char *other = NULL;
    NmsDb *db;

    if (f->skip)
        return;
    db = open_db (f, FALSE);
    opened = nms_db_xapian_dir (db);
    close_db (db);
    found = nms_db_find_xapian_dir (f->config);
    g_assert_cmpstr (found, ==, opened);
    g_assert_null (nms_db_find_xapian_dir (missing));
    write_file (relative, "[database]\npath=mail\n");
    g_assert_null (nms_db_find_xapian_dir (relative));
    g_setenv ("NOTMUCH_DATABASE", f->mail, TRUE);
    other = nms_db_find_xapian_dir (f->config);
    g_unsetenv ("NOTMUCH_DATABASE");
    g_assert_null (other);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/notmuch/" path, Fixture, NULL, setup, fn, teardown)
    ADD ("open-close", test_open_close);
    ADD ("events", test_events);
    ADD ("too-long", test_too_long);
    ADD ("query", test_query);
    ADD ("update", test_update);
    ADD ("config", test_config);
    ADD ("revision", test_revision);
    ADD ("lock-timeout", test_lock_timeout);
    ADD ("lock-race", test_lock_race);
    ADD ("find-xapian-dir", test_find_xapian_dir);
    return g_test_run ();
}

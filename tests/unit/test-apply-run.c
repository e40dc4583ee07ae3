/* SPDX-License-Identifier: GPL-3.0-or-later
 * src/apply/run.c, the rules executor apply and sync's rule stages share, against a scratch
 * notmuch database: the first run only records; a tag change moves the file (",U=" dropped)
 * and updates notmuch in place; a run with nothing changed looks at nothing; "not spam" moves
 * the message back through the junk rule's "otherwise"; the revision is per account. And each
 * decision of the executor on its own: a move, a flag change, a tag change, nothing, a dry
 * run, and two folder rules that both match (the first wins). */
#include "nms-build.h"

#include "apply/apply.h"

#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#define SPAM_RULES                                                                                 \
    "[flags]\nunread = !S\n"                                                                       \
    "[folder \\Junk]\nmatch = tag:spam\notherwise = INBOX\ntags = +spam -inbox -unread\n"          \
    "[folder INBOX]\ntags = +inbox -spam\n"

typedef struct {
    char *root;
    char *maildir;
    char *notmuch_config;
    NmsConfig *config;
    NmsRules *rules;
} Fixture;

static void
write_file (const char *path, const char *text)
{
    g_autoptr (GError) error = NULL;

    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
}

static NmsDb *
open_db (Fixture *f)
{
    g_autoptr (GError) error = NULL;
    NmsDb *db = nms_db_open (f->notmuch_config, TRUE, 1000, &error);

    g_assert_no_error (error);
    return db;
}

static void
close_db (NmsDb *db)
{
    g_autoptr (GError) error = NULL;

    nms_db_close (db, &error);
    g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *config_path = NULL, *rules_path = NULL, *config_text = NULL;
    g_autofree char *nm_text = NULL;
    const char *dirs[] = { "cur", "new", "tmp", ".Junk/cur", ".Junk/new", ".Junk/tmp",
                           ".Archive/cur", ".Archive/new", ".Archive/tmp" };
    NmsFileEvent events[2];
    NmsDb *db;
    gboolean created;

    f->root = g_dir_make_tmp ("test-apply-run-XXXXXX", &error);
    g_assert_no_error (error);
    f->maildir = g_build_filename (f->root, "Maildir", NULL);
    for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
        g_autofree char *d = g_build_filename (f->maildir, dirs[i], NULL);
        g_assert_cmpint (g_mkdir_with_parents (d, 0700), ==, 0);
    }
    f->notmuch_config = g_build_filename (f->root, "notmuch-config", NULL);
    nm_text = g_strdup_printf ("[database]\npath=%s\n[new]\ntags=inbox;unread\n"
                               "[maildir]\nsynchronize_flags=false\n", f->maildir);
    write_file (f->notmuch_config, nm_text);
    rules_path = g_build_filename (f->root, "spam.rules", NULL);
    write_file (rules_path, data != NULL ? data : SPAM_RULES);
    config_path = g_build_filename (f->root, "config", NULL);
    config_text = g_strdup_printf ("[general]\nstate = %s/state\nnotmuch-config = %s\n"
                                   "rules = %s\n\n[account t]\ntunnel = true\nmaildir = %s\n",
                                   f->root, f->notmuch_config, rules_path, f->maildir);
    write_file (config_path, config_text);
    f->config = nms_config_load (config_path, &error);
    g_assert_no_error (error);
    {
        g_auto (GStrv) files = nms_apply_rule_files (f->config, NULL);
        g_assert_nonnull (files);
        f->rules = nms_rules_load (files, &error);
        g_assert_no_error (error);
    }
    g_assert_true (nms_db_ensure (f->notmuch_config, &created, &error));
    g_assert_no_error (error);
    g_assert_true (created);

    for (guint i = 0; i < 2; i++) {
        g_autofree char *text = g_strdup_printf ("From: a@example.org\nSubject: %u\n"
                                                 "Message-ID: <run%u@example.org>\n\nbody\n", i, i);
        g_autofree char *name = g_strdup_printf ("170000000%u.M%uP1.host,U=%u:2,", i, i, i + 1);
        char *path = g_build_filename (f->maildir, "cur", name, NULL);

        write_file (path, text);
        events[i] = (NmsFileEvent) { .kind = NMS_FILE_ADDED, .path = path };
    }
    db = open_db (f);
    nms_db_apply_events (db, events, 2, 2, NULL, &error);
    g_assert_no_error (error);
    close_db (db);
    for (guint i = 0; i < 2; i++)
        nms_file_event_clear (&events[i]);
}

static void
teardown (Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->root);

    g_assert_cmpint (system (cmd), ==, 0);
    nms_rules_free (f->rules);
    nms_config_free (f->config);
    g_free (f->notmuch_config);
    g_free (f->maildir);
    g_free (f->root);
}

/* One run of the executor on account t (a dry run when @dry_run); its counts. */
static NmsApplyCounts
run_as (Fixture *f, gboolean dry_run)
{
    g_autoptr (GError) error = NULL;
    NmsContext ctx = { .dry_run = dry_run };
    NmsApplyCounts counts = { 0 };
    NmsApplyRunOptions options = { 0 };
    NmsDb *db = open_db (f);

    g_assert_true (nms_apply_run (&ctx, f->config, f->rules, db,
                                  g_ptr_array_index (f->config->accounts, 0), &options, &counts,
                                  &error));
    g_assert_no_error (error);
    g_assert_cmpuint (ctx.progress.skipped, ==, 0);
    close_db (db);
    return counts;
}

static NmsApplyCounts
run (Fixture *f)
{
    return run_as (f, FALSE);
}

static void
tag (Fixture *f, const char *id, const char *add, const char *remove)
{
    g_autoptr (GError) error = NULL;
    char *adds[] = { (char *) add, NULL }, *removes[] = { (char *) remove, NULL };
    NmsDb *db = open_db (f);

    nms_db_message_update (db, id, add ? adds : NULL, remove ? removes : NULL, NULL, NULL, &error);
    g_assert_no_error (error);
    close_db (db);
}

/* The directory (relative to the Maildir) of message @id's only file. (transfer full) */
static char *
folder_of (Fixture *f, const char *id)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *query = g_strdup_printf ("id:%s", id);
    NmsDb *db = open_db (f);
    g_autoptr (GPtrArray) messages = nms_db_query (db, query, &error);
    NmsDbMessage *m;
    char *dir;

    g_assert_no_error (error);
    g_assert_cmpuint (messages->len, ==, 1);
    m = g_ptr_array_index (messages, 0);
    g_assert_nonnull (m->paths[0]);
    g_assert_null (m->paths[1]);
    g_assert_true (g_file_test (m->paths[0], G_FILE_TEST_EXISTS));
    /* A moved file drops ",U=": on the server it becomes a UID MOVE, not a duplicate UID. */
    if (strstr (m->paths[0], "/.Junk/") != NULL)
        g_assert_null (strstr (m->paths[0], ",U="));
    dir = g_path_get_dirname (m->paths[0] + strlen (f->maildir) + 1);
    close_db (db);
    return dir;
}

static void
test_spam_round_trip (Fixture *f, gconstpointer data)
{
    NmsApplyCounts c;
    g_autofree char *before = NULL, *junk = NULL, *back = NULL;

    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 2);
    g_assert_cmpuint (c.moved, ==, 0);
    before = folder_of (f, "run0@example.org");
    g_assert_cmpstr (before, ==, "cur");

    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 0); /* nothing changed: nothing looked at */

    tag (f, "run0@example.org", "spam", NULL);
    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 1);
    g_assert_cmpuint (c.moved, ==, 1);
    junk = folder_of (f, "run0@example.org");
    g_assert_cmpstr (junk, ==, ".Junk/cur");

    c = run (f);
    g_assert_cmpuint (c.moved, ==, 0); /* idempotent */

    tag (f, "run0@example.org", "inbox", "spam");
    c = run (f);
    g_assert_cmpuint (c.moved, ==, 1);
    back = folder_of (f, "run0@example.org");
    g_assert_cmpstr (back, ==, "cur");
}

/* Message @id's only path, and its tags joined by ' ' (both transfer full). */
static char *
path_and_tags (Fixture *f, const char *id, char **tags_out)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *query = g_strdup_printf ("id:%s", id);
    NmsDb *db = open_db (f);
    g_autoptr (GPtrArray) messages = nms_db_query (db, query, &error);
    NmsDbMessage *m;
    char *path;

    g_assert_no_error (error);
    g_assert_cmpuint (messages->len, ==, 1);
    m = g_ptr_array_index (messages, 0);
    g_assert_null (m->paths[1]);
    path = g_strdup (m->paths[0]);
    *tags_out = g_strjoinv (" ", m->tags);
    close_db (db);
    return path;
}

static void
test_flag (Fixture *f, gconstpointer data)
{
    NmsApplyCounts c;
    g_autofree char *path = NULL, *tags = NULL;

    run (f);
    tag (f, "run1@example.org", NULL, "unread"); /* read in the mail client: S */
    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 1);
    g_assert_cmpuint (c.moved, ==, 0);
    g_assert_cmpuint (c.reflagged, ==, 1);
    path = path_and_tags (f, "run1@example.org", &tags);
    g_assert_true (g_str_has_suffix (path, "/cur/1700000001.M1P1.host,U=2:2,S"));
    g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_tag (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *old_path = NULL, *new_path = NULL, *tags = NULL, *path = NULL;
    NmsFileEvent ev = { .kind = NMS_FILE_RENAMED };
    NmsApplyCounts c;
    NmsDb *db;

    run (f);
    /* Moved into the junk folder by hand (a mail client): the junk rule's tags follow. */
    old_path = g_build_filename (f->maildir, "cur", "1700000001.M1P1.host,U=2:2,", NULL);
    new_path = g_build_filename (f->maildir, ".Junk", "cur", "1700000001.M1P1.host:2,", NULL);
    g_assert_cmpint (g_rename (old_path, new_path), ==, 0);
    ev.path = new_path;
    ev.old_path = old_path;
    db = open_db (f);
    nms_db_apply_events (db, &ev, 1, 1, NULL, &error);
    g_assert_no_error (error);
    close_db (db);

    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 1);
    g_assert_cmpuint (c.moved, ==, 0);
    g_assert_cmpuint (c.retagged, ==, 1);
    g_assert_cmpuint (c.reflagged, ==, 1); /* the junk rule's -unread: seen (S) */
    path = path_and_tags (f, "run1@example.org", &tags);
    /* the file stays where the user put it */
    g_assert_true (g_str_has_suffix (path, "/.Junk/cur/1700000001.M1P1.host:2,S"));
    g_assert_cmpstr (tags, ==, "spam");
}

static void
test_nothing_and_dry_run (Fixture *f, gconstpointer data)
{
    NmsApplyCounts c;
    g_autofree char *path = NULL, *tags = NULL;

    run (f);
    tag (f, "run0@example.org", "unrelated", NULL); /* no rule cares */
    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 1);
    g_assert_cmpuint (c.moved + c.reflagged + c.retagged, ==, 0);

    /* A dry run looks at the message, says what it would change, and changes nothing. */
    tag (f, "run0@example.org", "spam", NULL);
    c = run_as (f, TRUE);
    g_assert_cmpuint (c.looked_at, ==, 1);
    g_assert_cmpuint (c.moved + c.reflagged + c.retagged, ==, 0);
    path = path_and_tags (f, "run0@example.org", &tags);
    g_assert_true (g_str_has_suffix (path, "/cur/1700000000.M0P1.host,U=1:2,"));
    g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
    /* the real run after it still has the change to make */
    c = run (f);
    g_assert_cmpuint (c.moved, ==, 1);
}

#define CONFLICTING_RULES                                                                          \
    "[folder \\Junk]\nmatch = tag:spam\n"                                                         \
    "[folder \\Archive]\nmatch = tag:archive\n"

static void
test_conflicting_rules (Fixture *f, gconstpointer data)
{
    NmsApplyCounts c;
    g_autofree char *junk = NULL, *archive = NULL;

    run (f);
    tag (f, "run0@example.org", "spam", NULL);
    tag (f, "run0@example.org", "archive", NULL);
    tag (f, "run1@example.org", "archive", NULL);
    c = run (f);
    g_assert_cmpuint (c.looked_at, ==, 2);
    g_assert_cmpuint (c.moved, ==, 2);
    /* both rules match run0: the first one in the file decides */
    junk = folder_of (f, "run0@example.org");
    g_assert_cmpstr (junk, ==, ".Junk/cur");
    archive = folder_of (f, "run1@example.org");
    g_assert_cmpstr (archive, ==, ".Archive/cur");
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_setenv ("NOTMUCH_CONFIG", "/nonexistent/notmuch-config", TRUE);
    g_test_add ("/apply/run/spam-round-trip", Fixture, NULL, setup, test_spam_round_trip,
                teardown);
    g_test_add ("/apply/run/flag", Fixture, NULL, setup, test_flag, teardown);
    g_test_add ("/apply/run/tag", Fixture, NULL, setup, test_tag, teardown);
    g_test_add ("/apply/run/nothing-and-dry-run", Fixture, NULL, setup,
                test_nothing_and_dry_run, teardown);
    g_test_add ("/apply/run/conflicting-rules", Fixture, CONFLICTING_RULES, setup,
                test_conflicting_rules, teardown);
    return g_test_run ();
}

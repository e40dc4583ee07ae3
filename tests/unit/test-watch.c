/* SPDX-License-Identifier: GPL-3.0-or-later
 * src/watch/local.c: which Maildir changes become work for `nmsync watch`, and that the files a
 * run wrote itself do not. */
#include "nms-build.h"

#include "watch/watch-private.h"

#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

typedef struct {
    char *root;
    NmsAccount account;
    GPtrArray *events; /* "FOLDER folder file", "FOLDERS", "OVERFLOW" */
} Fixture;

static void
make_folder (const char *root, const char *rel)
{
    const char *subs[] = { "cur", "new", "tmp" };

    for (guint i = 0; i < G_N_ELEMENTS (subs); i++) {
        g_autofree char *d = g_build_filename (root, rel, subs[i], NULL);
        g_assert_cmpint (g_mkdir_with_parents (d, 0700), ==, 0);
    }
}

static void
on_event (NmsWatchLocalEvent event, const char *folder, const char *file, gpointer user_data)
{
    Fixture *f = user_data;

    switch (event) {
    case NMS_WATCH_LOCAL_FOLDER:
        g_ptr_array_add (f->events, g_strdup_printf ("FOLDER %s %s", folder, file));
        break;
    case NMS_WATCH_LOCAL_FOLDERS:
        g_ptr_array_add (f->events, g_strdup ("FOLDERS"));
        break;
    case NMS_WATCH_LOCAL_OVERFLOW:
        g_ptr_array_add (f->events, g_strdup ("OVERFLOW"));
        break;
    }
}

static void
setup (Fixture *f, gconstpointer data)
{
    static char *all[] = { (char *) "*", NULL };
    static char *inbox[] = { (char *) "INBOX", NULL };
    g_autoptr (GError) error = NULL;

    f->root = g_dir_make_tmp ("test-watch-XXXXXX", &error);
    g_assert_no_error (error);
    make_folder (f->root, "");
    make_folder (f->root, ".Sent");
    f->account.name = (char *) "test";
    f->account.maildir = f->root;
    f->account.layout = NMS_MAILDIR_LAYOUT_MAILDIRPP;
    f->account.folders = data != NULL ? inbox : all;
    f->events = g_ptr_array_new_with_free_func (g_free);
}

static void
teardown (Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->root);

    (void) data;
    g_assert_cmpint (system (cmd), ==, 0);
    g_free (f->root);
    g_ptr_array_unref (f->events);
}

static void
put (const char *root, const char *rel, const char *text)
{
    g_autofree char *path = g_build_filename (root, rel, NULL);
    g_autoptr (GError) error = NULL;

    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
}

static char *
joined (Fixture *f)
{
    g_ptr_array_add (f->events, NULL);
    g_autofree char *s = g_strjoinv ("|", (char **) f->events->pdata);
    g_ptr_array_set_size (f->events, 0);
    return g_steal_pointer (&s);
}

static void
test_file_events (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsWatchLocal) local = nms_watch_local_new (&f->account, on_event, f, &error);
    g_autofree char *got = NULL;

    (void) data;
    g_assert_no_error (error);
    put (f->root, ".Sent/cur/1.M1P1.client:2,S", "x");
    put (f->root, "new/2.M1P1.client", "x");
    put (f->root, "cur/.hidden", "x");
    put (f->root, "tmp/3.M1P1.client", "x");
    nms_watch_local_drain (local, NULL);
    got = joined (f);
    /* g_file_set_contents writes a temporary name and renames it: the rename is the event. */
    g_assert_nonnull (strstr (got, "FOLDER Sent 1.M1P1.client:2,S"));
    g_assert_nonnull (strstr (got, "FOLDER INBOX 2.M1P1.client"));
    g_assert_null (strstr (got, "hidden"));
    g_assert_null (strstr (got, "3.M1P1"));
}

static void
test_own_writes_dropped (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsWatchLocal) local = NULL;
    g_autoptr (GHashTable) written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *old = g_build_filename (f->root, "cur", "5.M1P1.host:2,", NULL);
    g_autofree char *new = g_build_filename (f->root, "cur", "5.M1P1.host,U=7:2,S", NULL);
    g_autofree char *got = NULL;

    (void) data;
    put (f->root, "cur/5.M1P1.host:2,", "x");
    local = nms_watch_local_new (&f->account, on_event, f, &error);
    g_assert_no_error (error);
    /* What a run reports through nms_watch_record_file: both names of a rename. */
    g_hash_table_add (written, nms_watch_local_key (old));
    g_hash_table_add (written, nms_watch_local_key (new));
    g_assert_cmpint (g_rename (old, new), ==, 0);
    put (f->root, ".Sent/new/6.M1P1.client", "x"); /* another program, meanwhile */
    nms_watch_local_drain (local, written);
    got = joined (f);
    g_assert_null (strstr (got, "5.M1P1.host"));
    g_assert_nonnull (strstr (got, "FOLDER Sent 6.M1P1.client"));
}

static void
test_folder_appears (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsWatchLocal) local = nms_watch_local_new (&f->account, on_event, f, &error);
    g_autofree char *got = NULL, *later = NULL;

    (void) data;
    g_assert_no_error (error);
    make_folder (f->root, ".Lists");
    nms_watch_local_drain (local, NULL);
    got = joined (f);
    g_assert_cmpstr (got, ==, "FOLDERS");
    /* Watched from the next refresh (after the run the FOLDERS event causes). */
    nms_watch_local_refresh (local);
    put (f->root, ".Lists/cur/8.M1P1.client:2,", "x");
    nms_watch_local_drain (local, NULL);
    later = joined (f);
    g_assert_nonnull (strstr (later, "FOLDER Lists 8.M1P1.client:2,"));
}

static void
test_unselected_folder (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsWatchLocal) local = nms_watch_local_new (&f->account, on_event, f, &error);
    g_autofree char *got = NULL;

    (void) data;
    g_assert_no_error (error);
    put (f->root, ".Sent/cur/9.M1P1.client:2,S", "x"); /* `folders = INBOX`: not synced */
    put (f->root, "cur/10.M1P1.client:2,", "x");
    nms_watch_local_drain (local, NULL);
    got = joined (f);
    g_assert_null (strstr (got, "Sent"));
    g_assert_nonnull (strstr (got, "FOLDER INBOX 10.M1P1.client:2,"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add ("/watch/local/file-events", Fixture, NULL, setup, test_file_events, teardown);
    g_test_add ("/watch/local/own-writes-dropped", Fixture, NULL, setup, test_own_writes_dropped,
                teardown);
    g_test_add ("/watch/local/folder-appears", Fixture, NULL, setup, test_folder_appears,
                teardown);
    g_test_add ("/watch/local/unselected-folder", Fixture, "inbox", setup,
                test_unselected_folder, teardown);
    return g_test_run ();
}

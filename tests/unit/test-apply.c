/* SPDX-License-Identifier: GPL-3.0-or-later
 * src/apply/files.c: filenames notmuch lists that are gone, found again by unique part. */
#include "nms-build.h"

#include "apply/apply.h"

#include <stdlib.h>

#include <glib/gstdio.h>

typedef struct {
    char *root;  /* the Maildir: INBOX at the root, .Junk beside it */
    char *junk;
} Fixture;

static void
write_mail (const char *path, const char *id)
{
    g_autofree char *text = g_strdup_printf ("From: a@example.org\nMessage-ID: <%s>\n\nbody\n", id);
    g_autoptr (GError) error = NULL;

    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
}

static void
setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    const char *subs[] = { "cur", "new", "tmp" };

    f->root = g_dir_make_tmp ("test-apply-XXXXXX", &error);
    g_assert_no_error (error);
    f->junk = g_build_filename (f->root, ".Junk", NULL);
    for (guint i = 0; i < G_N_ELEMENTS (subs); i++) {
        g_autofree char *a = g_build_filename (f->root, subs[i], NULL);
        g_autofree char *b = g_build_filename (f->junk, subs[i], NULL);
        g_assert_cmpint (g_mkdir_with_parents (a, 0700), ==, 0);
        g_assert_cmpint (g_mkdir_with_parents (b, 0700), ==, 0);
    }
}

static void
teardown (Fixture *f, gconstpointer data)
{
    g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->root);
    g_assert_cmpint (system (cmd), ==, 0);
    g_free (f->junk);
    g_free (f->root);
}

static char *
path_in (const char *dir, const char *sub, const char *name)
{
    return g_build_filename (dir, sub, name, NULL);
}

/* A file moved to Junk (",U=" dropped, flags changed) and one renamed in place are found again;
 * one gone from the account is dropped; existing and outside names are kept, in order. */
static void
test_resolve (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) events = g_array_new (FALSE, TRUE, sizeof (NmsFileEvent));
    g_autofree char *moved_old = path_in (f->root, "cur", "100.M1P1.h,U=5:2,S");
    g_autofree char *moved_new = path_in (f->junk, "cur", "100.M1P1.h:2,Sa");
    g_autofree char *kept = path_in (f->root, "cur", "101.M2P1.h,U=6:2,");
    g_autofree char *gone = path_in (f->root, "new", "102.M3P1.h");
    g_autofree char *outside = g_strdup ("/elsewhere/cur/103.M4P1.h:2,S");
    char *const dirs[] = { f->root, f->junk, NULL };
    char *const paths[] = { moved_old, kept, gone, outside, NULL };
    g_autoptr (NmsApplyFiles) files = nms_apply_files_new (dirs);
    g_auto (GStrv) out = NULL;

    g_array_set_clear_func (events, (GDestroyNotify) nms_file_event_clear);
    write_mail (moved_new, "a@x");
    write_mail (kept, "a@x");
    out = nms_apply_files_resolve (files, "a@x", paths, events, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (out), ==, 3);
    g_assert_cmpstr (out[0], ==, moved_new);
    g_assert_cmpstr (out[1], ==, kept);
    g_assert_cmpstr (out[2], ==, outside);
    g_assert_cmpuint (events->len, ==, 2);
    g_assert_cmpint (g_array_index (events, NmsFileEvent, 0).kind, ==, NMS_FILE_RENAMED);
    g_assert_cmpstr (g_array_index (events, NmsFileEvent, 0).old_path, ==, moved_old);
    g_assert_cmpstr (g_array_index (events, NmsFileEvent, 0).path, ==, moved_new);
    g_assert_cmpint (g_array_index (events, NmsFileEvent, 1).kind, ==, NMS_FILE_STALE);
    g_assert_cmpstr (g_array_index (events, NmsFileEvent, 1).path, ==, gone);
}

/* A file with the same unique part but another Message-ID is another message: not taken (and
 * the stale name, the message's last, kept); a file notmuch already lists is not listed twice. */
static void
test_resolve_checks (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) events = g_array_new (FALSE, TRUE, sizeof (NmsFileEvent));
    g_autofree char *stale = path_in (f->root, "cur", "200.M1P1.h,U=1:2,S");
    g_autofree char *other = path_in (f->junk, "cur", "200.M1P1.h:2,S");
    g_autofree char *stale2 = path_in (f->root, "cur", "201.M1P1.h,U=2:2,");
    g_autofree char *listed = path_in (f->root, "cur", "201.M1P1.h,U=2:2,S");
    char *const dirs[] = { f->root, f->junk, NULL };
    char *const paths1[] = { stale, NULL };
    char *const paths2[] = { stale2, listed, NULL };
    g_autoptr (NmsApplyFiles) files = nms_apply_files_new (dirs);
    g_auto (GStrv) out1 = NULL, out2 = NULL;

    g_array_set_clear_func (events, (GDestroyNotify) nms_file_event_clear);
    write_mail (other, "other@x");
    write_mail (listed, "b@x");
    out1 = nms_apply_files_resolve (files, "a@x", paths1, events, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (out1), ==, 0);
    out2 = nms_apply_files_resolve (files, "b@x", paths2, events, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_strv_length (out2), ==, 1);
    g_assert_cmpstr (out2[0], ==, listed);
    /* @stale, the message's only name, gets no event: removing it would delete the message
     * and its tags from notmuch; @stale2 goes, as the message keeps @listed. */
    g_assert_cmpuint (events->len, ==, 1);
    g_assert_cmpint (g_array_index (events, NmsFileEvent, 0).kind, ==, NMS_FILE_STALE);
    g_assert_cmpstr (g_array_index (events, NmsFileEvent, 0).path, ==, stale2);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add ("/apply/files/resolve", Fixture, NULL, setup, test_resolve, teardown);
    g_test_add ("/apply/files/resolve-checks", Fixture, NULL, setup, test_resolve_checks,
                teardown);
    return g_test_run ();
}

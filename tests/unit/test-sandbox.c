/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for src/util/sandbox.c: under the Landlock sandbox a process writes, creates,
 * renames and removes beneath the allowed directory only, and still reads everywhere. Each
 * restriction happens in a subprocess (it cannot be lifted). Skipped without Landlock. */
#include "nms-build.h"

#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define DIR_VAR "NMS_TEST_SANDBOX_DIR"

static char *
path_in (const char *name)
{
    return g_build_filename (g_getenv (DIR_VAR), name, NULL);
}

/* 0, or the errno of creating @name (relative to the test dir). */
static int
create_errno (const char *name)
{
    g_autofree char *path = path_in (name);
    int fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

    if (fd < 0)
        return errno;
    close (fd);
    return 0;
}

static void
confined_child (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *in = path_in ("in");
    g_autofree char *existing = path_in ("out/existing");
    g_autofree char *moved = path_in ("in/moved");
    g_autofree char *a = path_in ("in/a"), *d = path_in ("in/d"), *da = path_in ("in/d/a");
    g_autofree char *contents = NULL;
    const char *paths[] = { in, "/dev/null", NULL };

    g_assert_cmpint (nms_sandbox_restrict_writes (paths, &error), ==, nms_sandbox_abi ());
    g_assert_no_error (error);
    /* Beneath the allowed directory: everything. */
    g_assert_cmpint (create_errno ("in/a"), ==, 0);
    g_assert_cmpint (mkdir (d, 0700), ==, 0);
    g_assert_cmpint (rename (a, da), ==, 0);
    g_assert_cmpint (unlink (da), ==, 0);
    g_assert_cmpint (rmdir (d), ==, 0);
    /* Elsewhere: no creation, no writing, no truncation, no removal, no moving out. */
    g_assert_cmpint (create_errno ("out/new"), ==, EACCES);
    g_assert_cmpint (open (existing, O_WRONLY | O_CLOEXEC), ==, -1);
    g_assert_cmpint (errno, ==, EACCES);
    g_assert_cmpint (truncate (existing, 0), ==, -1);
    g_assert_cmpint (unlink (existing), ==, -1);
    g_assert_cmpint (rename (existing, moved), ==, -1);
    /* Reading stays allowed. */
    g_assert_true (g_file_get_contents (existing, &contents, NULL, NULL));
    g_assert_cmpstr (contents, ==, "mail");
    g_assert_cmpint (access ("/dev/null", W_OK), ==, 0);
}

static void
failing_child (void)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = path_in ("no-such-dir");
    const char *paths[] = { missing, NULL };

    g_assert_cmpint (nms_sandbox_restrict_writes (paths, &error), ==, 0);
    g_assert_error (error, NMS_SANDBOX_ERROR, NMS_SANDBOX_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, missing));
    /* Nothing was restricted. */
    g_assert_cmpint (create_errno ("out/new"), ==, 0);
}

/* Runs @child in a subprocess with a fresh dir holding in/ and out/existing. */
static void
run_in_subprocess (const char *test_path, void (*child) (void))
{
    g_autoptr (GError) error = NULL;
    g_autofree char *dir = NULL, *in = NULL, *out = NULL, *existing = NULL;

    if (g_test_subprocess ()) {
        child ();
        return;
    }
    if (nms_sandbox_abi () == 0) {
        g_test_skip ("the kernel offers no Landlock");
        return;
    }
    dir = g_dir_make_tmp ("nmsync-test-sandbox-XXXXXX", &error);
    g_assert_no_error (error);
    in = g_build_filename (dir, "in", NULL);
    out = g_build_filename (dir, "out", NULL);
    existing = g_build_filename (out, "existing", NULL);
    g_assert_cmpint (mkdir (in, 0700), ==, 0);
    g_assert_cmpint (mkdir (out, 0700), ==, 0);
    g_assert_true (g_file_set_contents (existing, "mail", -1, NULL));
    g_setenv (DIR_VAR, dir, TRUE);
    g_test_trap_subprocess (test_path, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
    g_test_trap_assert_passed ();
    nms_test_rm_rf (dir);
}

static void
test_confines_writes (void)
{
    run_in_subprocess ("/sandbox/confines-writes", confined_child);
}

static void
test_bad_path (void)
{
    run_in_subprocess ("/sandbox/bad-path", failing_child);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/sandbox/confines-writes", test_confines_writes);
    g_test_add_func ("/sandbox/bad-path", test_bad_path);
    return g_test_run ();
}

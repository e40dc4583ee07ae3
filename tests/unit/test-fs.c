/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for src/util/fs.c: error code mapping, durable and no-replace renames, mkdir -p,
 * write_all. Everything happens in a private temporary directory. */
#include "nms-build.h"

#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

typedef struct {
    char *dir;
} Fixture;


static void
fixture_setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;

    f->dir = g_dir_make_tmp ("nmsync-test-fs-XXXXXX", &error);
    g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
    nms_test_rm_rf (f->dir);
    g_assert_false (g_file_test (f->dir, G_FILE_TEST_EXISTS));
    g_free (f->dir);
}

static char *
write_file (const char *dir, const char *name, const char *contents)
{
    g_autoptr (GError) error = NULL;
    char *path = g_build_filename (dir, name, NULL);

    g_file_set_contents (path, contents, -1, &error);
    g_assert_no_error (error);
    return path;
}

static void
assert_contents (const char *path, const char *expected)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *contents = NULL;

    g_file_get_contents (path, &contents, NULL, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (contents, ==, expected);
}

static void
test_set_error_codes (void)
{
    const struct {
        int err;
        int code;
    } cases[] = {
        { ENOSPC, NMS_FS_ERROR_NOSPACE }, { EDQUOT, NMS_FS_ERROR_NOSPACE },
        { EIO, NMS_FS_ERROR_IO },         { EACCES, NMS_FS_ERROR_IO },
        { ENOENT, NMS_FS_ERROR_IO },      { EROFS, NMS_FS_ERROR_IO },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *expected
            = g_strdup_printf ("cannot write '/x/y': %s", g_strerror (cases[i].err));

        g_assert_false (nms_fs_set_error (&error, cases[i].err, "cannot write", "/x/y"));
        g_assert_error (error, NMS_FS_ERROR, cases[i].code);
        g_assert_cmpstr (error->message, ==, expected);
    }
}

static void
test_set_error_null (void)
{
    /* A caller that ignores errors passes NULL: still FALSE, no crash. */
    g_assert_false (nms_fs_set_error (NULL, ENOSPC, "cannot write", "/x"));
}

static void
test_fd_clear (void)
{
    int fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    int saved = fd;

    g_assert_cmpint (fd, >=, 0);
    nms_fd_clear (&fd);
    g_assert_cmpint (fd, ==, -1);
    g_assert_cmpint (fcntl (saved, F_GETFD), ==, -1);
    g_assert_cmpint (errno, ==, EBADF);
    nms_fd_clear (&fd);
    g_assert_cmpint (fd, ==, -1);
}

static void
test_rename_durable_moves (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *sub = g_build_filename (f->dir, "sub", NULL);
    g_autofree char *from = write_file (f->dir, "a", "hello\n");
    g_autofree char *to = g_build_filename (sub, "b", NULL);

    g_assert_cmpint (mkdir (sub, 0700), ==, 0);
    g_assert_true (nms_fs_rename_durable (from, to, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (from, G_FILE_TEST_EXISTS));
    assert_contents (to, "hello\n");
}

static void
test_rename_durable_replaces (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *from = write_file (f->dir, "a", "new");
    g_autofree char *to = write_file (f->dir, "b", "old");

    /* Plain rename(2) semantics: the target is replaced atomically. */
    g_assert_true (nms_fs_rename_durable (from, to, &error));
    g_assert_no_error (error);
    assert_contents (to, "new");
}

static void
test_rename_durable_missing (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *from = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *to = g_build_filename (f->dir, "b", NULL);

    g_assert_false (nms_fs_rename_durable (from, to, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_nonnull (strstr (error->message, from));
    g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
    g_assert_false (g_file_test (to, G_FILE_TEST_EXISTS));
}

static void
test_rename_noreplace_moves (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *sub = g_build_filename (f->dir, "sub", NULL);
    g_autofree char *from = write_file (f->dir, "a", "x");
    g_autofree char *to = g_build_filename (sub, "a", NULL);

    g_assert_cmpint (mkdir (sub, 0700), ==, 0);
    g_assert_true (nms_fs_rename_durable_noreplace (from, to, &error));
    g_assert_no_error (error);
    g_assert_false (g_file_test (from, G_FILE_TEST_EXISTS));
    assert_contents (to, "x");
}

static void
test_rename_noreplace_refuses (Fixture *f, gconstpointer data)
{
    g_autofree char *from = write_file (f->dir, "a", "mine");
    g_autofree char *to = write_file (f->dir, "b", "theirs");

    for (int durable = 0; durable < 2; durable++) {
        g_autoptr (GError) error = NULL;
        gboolean ok = durable ? nms_fs_rename_durable_noreplace (from, to, &error)
                              : nms_fs_rename_noreplace (from, to, &error);

        g_assert_false (ok);
        g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
        g_assert_nonnull (strstr (error->message, from));
        g_assert_nonnull (strstr (error->message, to));
        g_assert_nonnull (strstr (error->message, g_strerror (EEXIST)));
        /* Both files untouched. */
        assert_contents (from, "mine");
        assert_contents (to, "theirs");
    }
}

static void
test_rename_noreplace_missing (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *from = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *to = g_build_filename (f->dir, "b", NULL);

    g_assert_false (nms_fs_rename_noreplace (from, to, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_nonnull (strstr (error->message, g_strerror (ENOENT)));
}

static void
test_fsync_dir (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *file = write_file (f->dir, "file", "x");

    g_assert_true (nms_fs_fsync_dir (f->dir, &error));
    g_assert_no_error (error);
    g_assert_false (nms_fs_fsync_dir (missing, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
    g_clear_error (&error);
    /* A regular file is not a directory (O_DIRECTORY). */
    g_assert_false (nms_fs_fsync_dir (file, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
}

static void
test_mkdir_p (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *deep = g_build_filename (f->dir, "a", "b", "c", NULL);
    struct stat st;

    g_assert_true (nms_fs_mkdir_p (deep, 0700, &error));
    g_assert_no_error (error);
    g_assert_cmpint (stat (deep, &st), ==, 0);
    g_assert_true (S_ISDIR (st.st_mode));
    g_assert_cmpint (st.st_mode & 0777, ==, 0700);
    /* Existing directories are fine. */
    g_assert_true (nms_fs_mkdir_p (deep, 0700, &error));
    g_assert_no_error (error);
    g_assert_true (nms_fs_mkdir_p (f->dir, 0700, &error));
    g_assert_no_error (error);
}

static void
test_mkdir_p_file_in_the_way (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *file = write_file (f->dir, "file", "x");
    g_autofree char *below = g_build_filename (file, "sub", NULL);

    g_assert_false (nms_fs_mkdir_p (file, 0700, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_nonnull (strstr (error->message, file));
    g_clear_error (&error);
    g_assert_false (nms_fs_mkdir_p (below, 0700, &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_true (g_file_test (file, G_FILE_TEST_IS_REGULAR));
}

static void
test_write_all (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = g_build_filename (f->dir, "out", NULL);
    g_autofree char *contents = NULL;
    gsize len = 3 * 1024 * 1024 + 17;
    g_autofree char *buf = g_malloc (len);
    gsize got = 0;
    int fd;

    for (gsize i = 0; i < len; i++)
        buf[i] = (char) (i * 7 + i / 251);
    fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    g_assert_cmpint (fd, >=, 0);
    g_assert_true (nms_fs_write_all (fd, buf, len, path, &error));
    g_assert_no_error (error);
    g_assert_true (nms_fs_write_all (fd, buf, 0, path, &error));
    nms_fd_clear (&fd);
    g_file_get_contents (path, &contents, &got, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (contents, got, buf, len);
}

static void
test_write_all_bad_fd (void)
{
    g_autoptr (GError) error = NULL;

    g_assert_false (nms_fs_write_all (-1, "x", 1, "/some/file", &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_IO);
    g_assert_cmpstr (error->message, ==, "cannot write '/some/file': Bad file descriptor");
}

static void
test_write_all_nospace (void)
{
    g_autoptr (GError) error = NULL;
    int fd = open ("/dev/full", O_WRONLY | O_CLOEXEC);

    if (fd < 0) {
        g_test_skip ("/dev/full is not available");
        return;
    }
    /* /dev/full fails every write with ENOSPC: the code a caller stops the run on. */
    g_assert_false (nms_fs_write_all (fd, "abc", 3, "/dev/full", &error));
    g_assert_error (error, NMS_FS_ERROR, NMS_FS_ERROR_NOSPACE);
    g_assert_nonnull (strstr (error->message, "'/dev/full'"));
    nms_fd_clear (&fd);
}

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/fs/set-error/codes", test_set_error_codes);
    g_test_add_func ("/fs/set-error/null", test_set_error_null);
    g_test_add_func ("/fs/fd-clear", test_fd_clear);
    ADD ("/fs/rename-durable/moves", test_rename_durable_moves);
    ADD ("/fs/rename-durable/replaces", test_rename_durable_replaces);
    ADD ("/fs/rename-durable/missing-source", test_rename_durable_missing);
    ADD ("/fs/rename-noreplace/moves", test_rename_noreplace_moves);
    ADD ("/fs/rename-noreplace/refuses-existing", test_rename_noreplace_refuses);
    ADD ("/fs/rename-noreplace/missing-source", test_rename_noreplace_missing);
    ADD ("/fs/fsync-dir", test_fsync_dir);
    ADD ("/fs/mkdir-p/creates", test_mkdir_p);
    ADD ("/fs/mkdir-p/file-in-the-way", test_mkdir_p_file_in_the_way);
    ADD ("/fs/write-all/exact", test_write_all);
    g_test_add_func ("/fs/write-all/bad-fd", test_write_all_bad_fd);
    g_test_add_func ("/fs/write-all/nospace", test_write_all_nospace);
    return g_test_run ();
}

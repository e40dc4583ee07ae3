/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the unit tests share: removing a test's temp dir. Header-only, for tests only. */
#pragma once

#include <glib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes @path and everything below it (symlinks are removed, not followed); asserts that
 * every removal works, so a test that leaves something unremovable fails. */
static inline void
nms_test_rm_rf (const char *path)
{
    struct stat st;

    if (lstat (path, &st) != 0)
        return;
    if (S_ISDIR (st.st_mode)) {
        GDir *dir = g_dir_open (path, 0, NULL);
        const char *name;

        while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
            g_autofree char *child = g_build_filename (path, name, NULL);
            nms_test_rm_rf (child);
        }
        if (dir != NULL)
            g_dir_close (dir);
        g_assert_cmpint (rmdir (path), ==, 0);
    } else {
        g_assert_cmpint (unlink (path), ==, 0);
    }
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The account lock: one nmsync at a time changes an account (flock on <state>/<account>.lock,
 * released when the process ends, so a killed nmsync never leaves a stale lock). */
#include "nms-build.h"

#include "state/state.h"
#include "state/state-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "util/fs.h"

static char *
lock_holder (int fd)
{
    char buf[32] = "";
    ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

    buf[n > 0 ? n : 0] = '\0';
    g_strstrip (buf);
    return g_strdup (buf[0] ? buf : "unknown");
}

int
nms_state_lock (const char *dir, const char *account, guint wait_ms, GError **error)
{
    g_autofree char *name = g_strconcat (account, ".lock", NULL);
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_autofree char *pid = NULL;
    gint64 deadline = g_get_monotonic_time () + (gint64) wait_ms * 1000;
    int fd;

    if (!nms_fs_mkdir_p (dir, 0700, error))
        return -1;
    fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        nms_fs_set_error (error, errno, "cannot open lock file", path);
        return -1;
    }
    /* flock() has no timeout: poll. 50 ms is nothing next to a run, and the holder's exit is
     * seen within it. */
    while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        g_autofree char *holder = NULL;

        if (errno == EWOULDBLOCK && g_get_monotonic_time () < deadline) {
            g_usleep (50 * 1000);
            continue;
        }
        holder = lock_holder (fd);
        if (wait_ms == 0)
            g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED,
                         "account '%s' is in use by another nmsync (pid %s)", account, holder);
        else
            g_set_error (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED,
                         "account '%s' is in use by another nmsync (pid %s); gave up after "
                         "%u s", account, holder, (wait_ms + 999) / 1000);
        nms_fd_clear (&fd);
        return -1;
    }
    pid = g_strdup_printf ("%d\n", (int) getpid ());
    if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) < 0) {
        nms_fs_set_error (error, errno, "cannot write lock file", path);
        nms_fd_clear (&fd);
        return -1;
    }
    return fd;
}

void
nms_state_unlock (int fd)
{
    nms_fd_clear (&fd);
}

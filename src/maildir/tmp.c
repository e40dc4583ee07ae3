/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync's own files in tmp/: their names, and the removal of those a killed nmsync left.
 * The Maildir convention lets a tmp/ file live 36 hours, because the program writing it may
 * still run. Ours say who wrote them (process id and host in the name, and a suffix no other
 * program writes), so a file of a process that is gone can go at once, and nothing else is
 * ever touched. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir/maildir-private.h"
#include "util/fs.h"

char *
nms_maildir_tmp_name (void)
{
    g_autofree char *base = nms_maildir_unique_base ();

    return g_strconcat (base, NMS_MAILDIR_TMP_SUFFIX, NULL);
}

/* Reads the digits at *p, advancing it; FALSE when there are none or too many. */
static gboolean
read_number (const char **p, guint64 *value_out)
{
    const char *start = *p;
    guint64 v = 0;

    while (**p >= '0' && **p <= '9' && *p - start < 19)
        v = v * 10 + (guint64) (*(*p)++ - '0');
    *value_out = v;
    return *p > start && !(**p >= '0' && **p <= '9');
}

/* The process id in one of our tmp names "<sec>.M<usec>P<pid>Q<n>.<host>,nmsync-tmp" written
 * on @host, or 0 when @filename is not such a name (another program's, another host's). */
static pid_t
own_tmp_pid (const char *filename, const char *host)
{
    const char *p = filename;
    gsize len = strlen (filename);
    gsize suffix = strlen (NMS_MAILDIR_TMP_SUFFIX);
    guint64 pid, n;

    if (len <= suffix || strcmp (filename + len - suffix, NMS_MAILDIR_TMP_SUFFIX) != 0)
        return 0;
    if (!read_number (&p, &n) || *p++ != '.' || *p++ != 'M' || !read_number (&p, &n) ||
        *p++ != 'P' || !read_number (&p, &pid) || *p++ != 'Q' || !read_number (&p, &n) ||
        *p++ != '.')
        return 0;
    if ((gsize) (p - filename) + strlen (host) + suffix != len ||
        strncmp (p, host, strlen (host)) != 0)
        return 0;
    return pid > 0 && pid <= G_MAXINT32 ? (pid_t) pid : 0;
}

/* A process that exists (also one we may not signal) may still be writing its file. A reused
 * process id keeps a leftover until that process ends: safe, merely late. */
static gboolean
process_alive (pid_t pid)
{
    return pid == getpid () || kill (pid, 0) == 0 || errno != ESRCH;
}

gboolean
nms_maildir_tmp_cleanup (const char *folder_dir, guint *removed_out, GError **error)
{
    g_autofree char *tmp_dir = NULL;
    g_autofree char *host = nms_maildir_escaped_host ();
    DIR *dir;
    struct dirent *de;
    guint removed = 0;
    int err;

    g_return_val_if_fail (folder_dir != NULL, FALSE);

    if (removed_out != NULL)
        *removed_out = 0;
    tmp_dir = g_build_filename (folder_dir, "tmp", NULL);
    if ((dir = opendir (tmp_dir)) == NULL)
        return errno == ENOENT || nms_maildir_io_error (error, errno, "cannot open directory",
                                                        tmp_dir);
    for (errno = 0; (de = readdir (dir)) != NULL; errno = 0) {
        g_autofree char *path = NULL;
        pid_t pid = own_tmp_pid (de->d_name, host);
        struct stat st;

        if (pid == 0 || process_alive (pid))
            continue;
        path = g_build_filename (tmp_dir, de->d_name, NULL);
        /* Never follow or remove anything but a plain file, whatever its name says. */
        if (lstat (path, &st) != 0 || !S_ISREG (st.st_mode))
            continue;
        if (unlink (path) != 0 && errno != ENOENT) {
            err = errno;
            closedir (dir);
            if (removed_out != NULL)
                *removed_out = removed;
            return nms_maildir_io_error (error, err, "cannot remove", path);
        }
        removed++;
    }
    err = errno;
    closedir (dir);
    if (removed_out != NULL)
        *removed_out = removed;
    return err == 0 || nms_maildir_io_error (error, err, "cannot read directory", tmp_dir);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Landlock write confinement through the raw system calls (glibc 2.36 has no wrappers).
 * Landlock denies every right a ruleset "handles" except where a rule grants it beneath a
 * path; we handle only the write-type rights, so reading stays unrestricted everywhere. */
#include "nms-build.h"

#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fs.h"

G_DEFINE_QUARK (nms-sandbox-error-quark, nms_sandbox_error)

/* Rights added by later ABIs, spelled out so that older kernel headers still build. */
#define ACCESS_FS_REFER (1ULL << 13)     /* ABI 2 */
#define ACCESS_FS_TRUNCATE (1ULL << 14)  /* ABI 3 */
#define ACCESS_FS_IOCTL_DEV (1ULL << 15) /* ABI 5 */

#define ACCESS_FS_WRITE_V1                                                                         \
    (LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_DIR |                               \
     LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR | \
     LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |   \
     LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM)

int
nms_sandbox_abi (void)
{
    long abi = syscall (SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

    return abi > 0 ? (int) abi : 0;
}

/* The write-type rights @abi knows: handling a right the kernel does not know is EINVAL. */
static guint64
write_rights (int abi)
{
    guint64 rights = ACCESS_FS_WRITE_V1;

    if (abi >= 2)
        rights |= ACCESS_FS_REFER;
    if (abi >= 3)
        rights |= ACCESS_FS_TRUNCATE;
    if (abi >= 5)
        rights |= ACCESS_FS_IOCTL_DEV;
    return rights;
}

static int
set_error (GError **error, int code, const char *what, const char *path)
{
    int err = errno;

    if (path != NULL)
        g_set_error (error, NMS_SANDBOX_ERROR, code, "%s '%s': %s", what, path, g_strerror (err));
    else
        g_set_error (error, NMS_SANDBOX_ERROR, code, "%s: %s", what, g_strerror (err));
    return 0;
}

/* Grants @rights beneath @path. A rule on a file (not a directory) may only carry rights that
 * apply to files: the kernel refuses the others with EINVAL. */
static gboolean
add_path (int ruleset, const char *path, guint64 rights, GError **error)
{
    struct landlock_path_beneath_attr rule = { .allowed_access = rights };
    int fd = open (path, O_PATH | O_CLOEXEC);
    struct stat st;
    int r;

    if (fd < 0)
        return set_error (error, NMS_SANDBOX_ERROR_FAILED, "sandbox: cannot open", path);
    if (fstat (fd, &st) == 0 && !S_ISDIR (st.st_mode))
        rule.allowed_access &= LANDLOCK_ACCESS_FS_WRITE_FILE | ACCESS_FS_TRUNCATE |
                               ACCESS_FS_IOCTL_DEV;
    rule.parent_fd = fd;
    r = (int) syscall (SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0);
    if (r != 0)
        set_error (error, NMS_SANDBOX_ERROR_FAILED, "sandbox: cannot add a rule for", path);
    nms_fd_clear (&fd);
    return r == 0;
}

int
nms_sandbox_restrict_writes (const char *const *paths, GError **error)
{
    int abi = nms_sandbox_abi ();
    struct landlock_ruleset_attr attr = { 0 };
    int ruleset;

    if (abi <= 0) {
        g_set_error (error, NMS_SANDBOX_ERROR, NMS_SANDBOX_ERROR_UNSUPPORTED,
                     "the kernel offers no Landlock (%s)",
                     errno == EOPNOTSUPP ? "disabled at boot" : "Linux 5.13 or later needed");
        return 0;
    }
    attr.handled_access_fs = write_rights (abi);
    ruleset = (int) syscall (SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
    if (ruleset < 0)
        return set_error (error, NMS_SANDBOX_ERROR_FAILED, "sandbox: cannot create a ruleset",
                          NULL);
    for (const char *const *p = paths; p != NULL && *p != NULL; p++) {
        if (!add_path (ruleset, *p, attr.handled_access_fs, error)) {
            nms_fd_clear (&ruleset);
            return 0;
        }
    }
    if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
        nms_fd_clear (&ruleset);
        return set_error (error, NMS_SANDBOX_ERROR_FAILED, "sandbox: cannot set no_new_privs",
                          NULL);
    }
    if (syscall (SYS_landlock_restrict_self, ruleset, 0) != 0) {
        nms_fd_clear (&ruleset);
        return set_error (error, NMS_SANDBOX_ERROR_FAILED, "sandbox: cannot restrict", NULL);
    }
    nms_fd_clear (&ruleset);
    return abi;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Landlock sandbox of a run (nmsync(1), SECURITY.md): once the config is read and what must
 * run unconfined has run (password-command), nmsync may write only beneath the Maildirs of the
 * accounts in the run, its state directory and the notmuch database; reads stay allowed. The
 * mechanism is util/sandbox.c; this file chooses the paths and says what it did. */
#include "config.h"

#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "notmuch/notmuch.h"
#include "util/fs.h"
#include "util/sandbox.h"

void
nms_prefetched_free (NmsPrefetched *p)
{
    if (p == NULL)
        return;
    if (p->password != NULL)
        memset (p->password, 0, strlen (p->password));
    g_free (p->password);
    g_clear_error (&p->error);
    g_free (p);
}

/* NMSYNC_TEST_SANDBOX_PROBE=PATH: the test hook that tries to create PATH once the sandbox is
 * in place (or not) and says on stderr whether it could. */
static void
probe (void)
{
    const char *path = g_getenv ("NMSYNC_TEST_SANDBOX_PROBE");
    int fd;

    if (path == NULL)
        return;
    fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        fprintf (stderr, "nmsync: sandbox probe: cannot create '%s': %s\n", path,
                 g_strerror (errno));
    else
        fprintf (stderr, "nmsync: sandbox probe: created '%s'\n", path);
    nms_fd_clear (&fd);
}

static void
add_path (GPtrArray *paths, const char *path)
{
    if (path != NULL && !g_ptr_array_find_with_equal_func (paths, path, g_str_equal, NULL))
        g_ptr_array_add (paths, g_strdup (path));
}

/* Applies the sandbox with write access beneath @dirs (created first, as the run would, so that
 * Landlock has something to hold on to; a dry run writes nothing and skips missing ones), plus
 * /dev/null and /dev/tty. */
static void
restrict_to (NmsContext *ctx, GPtrArray *dirs)
{
    g_autoptr (GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GError) error = NULL;
    g_autofree char *list = NULL;
    int abi;

    for (guint i = 0; i < dirs->len; i++) {
        const char *dir = g_ptr_array_index (dirs, i);

        if (!ctx->dry_run && !nms_fs_mkdir_p (dir, 0700, &error)) {
            nms_context_log (ctx, NMS_LEVEL_WARNING, "sandbox: off: %s", error->message);
            return;
        }
        if (g_file_test (dir, G_FILE_TEST_EXISTS))
            add_path (paths, dir);
    }
    add_path (paths, "/dev/null");
    if (g_file_test ("/dev/tty", G_FILE_TEST_EXISTS))
        add_path (paths, "/dev/tty");
    g_ptr_array_add (paths, NULL);
    abi = nms_sandbox_restrict_writes ((const char *const *) paths->pdata, &error);
    if (abi == 0) {
        nms_context_log (ctx,
                         g_error_matches (error, NMS_SANDBOX_ERROR, NMS_SANDBOX_ERROR_UNSUPPORTED)
                             ? NMS_LEVEL_INFO
                             : NMS_LEVEL_WARNING,
                         "sandbox: off: %s", error->message);
        return;
    }
    list = g_strjoinv ("', '", (char **) paths->pdata);
    nms_context_log (ctx, NMS_LEVEL_INFO, "sandbox: on (Landlock ABI %d): writes only beneath '%s'",
                     abi, list);
}

/* The Xapian directory of the database notmuch's lookup (or [general] notmuch-config) finds, or
 * NULL when there is none: then nothing is indexed and nothing needs to be written there. */
static char *
xapian_dir (const NmsConfig *config)
{
    g_autoptr (GError) error = NULL;
    NmsDb *db = nms_db_open (config->notmuch_config, FALSE, 0, &error);
    char *dir;

    if (db == NULL)
        return NULL;
    dir = nms_db_xapian_dir (db);
    nms_db_close (db, NULL);
    return dir;
}

/* SQLite puts the occasional temporary file (a large sort, a statement journal) in /var/tmp or
 * /tmp, which the sandbox forbids: keep them in the state directory. Set before any thread
 * but the main one reads the environment. */
static void
sqlite_tmpdir (const NmsConfig *config)
{
    if (g_getenv ("SQLITE_TMPDIR") == NULL)
        g_setenv ("SQLITE_TMPDIR", config->state_dir, TRUE);
}

void
nms_confine_sync (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
                  GPtrArray *accounts, GHashTable *prefetched)
{
    g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);

    if (options->no_sandbox) {
        nms_context_log (ctx, NMS_LEVEL_INFO, "sandbox: off: --no-sandbox");
        probe ();
        return;
    }
    if (nms_sandbox_abi () == 0) {
        nms_context_log (ctx, NMS_LEVEL_INFO, "sandbox: off: the kernel offers no Landlock");
        probe ();
        return;
    }
    /* A tunnel command is started by nmsync when it connects and would inherit the sandbox: a
     * local IMAP server writes its own mail store, ssh its known_hosts and control sockets.
     * nmsync cannot know where, so a run with a tunnel is not confined. */
    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);

        if (a->tunnel != NULL) {
            nms_context_log (ctx, NMS_LEVEL_INFO,
                             "sandbox: off: account '%s' uses a tunnel command, which would "
                             "inherit it", a->name);
            probe ();
            return;
        }
    }
    /* password-command runs unconfined (gpg and pass write their own files): now. */
    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);
        NmsPrefetched *p;

        if (a->password_command == NULL)
            continue;
        p = g_new0 (NmsPrefetched, 1);
        p->password = nms_account_get_password (a, &p->error);
        g_hash_table_insert (prefetched, g_strdup (a->name), p);
    }
    for (guint i = 0; i < accounts->len; i++)
        add_path (dirs, ((const NmsAccount *) g_ptr_array_index (accounts, i))->maildir);
    add_path (dirs, config->state_dir);
    g_ptr_array_add (dirs, xapian_dir (config));
    if (g_ptr_array_index (dirs, dirs->len - 1) == NULL)
        g_ptr_array_remove_index (dirs, dirs->len - 1);
    sqlite_tmpdir (config);
    restrict_to (ctx, dirs);
    probe ();
}

void
nms_confine_apply (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
                   NmsDb *db)
{
    g_autoptr (GPtrArray) dirs = g_ptr_array_new_with_free_func (g_free);

    if (options->no_sandbox) {
        nms_context_log (ctx, NMS_LEVEL_INFO, "sandbox: off: --no-sandbox");
        probe ();
        return;
    }
    for (guint i = 0; i < config->accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (config->accounts, i);

        if (options->args[0] == NULL ||
            g_strv_contains ((const char *const *) options->args, a->name))
            add_path (dirs, a->maildir);
    }
    add_path (dirs, config->state_dir);
    g_ptr_array_add (dirs, nms_db_xapian_dir (db));
    sqlite_tmpdir (config);
    restrict_to (ctx, dirs);
    probe ();
}

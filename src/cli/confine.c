/* SPDX-License-Identifier: GPL-3.0-or-later
 * The Landlock sandbox of a run (nmsync(1), SECURITY.md): once the config is read and what must
 * run unconfined has run (password-command), nmsync may write only beneath the Maildirs of the
 * accounts in the run, its state directory and the notmuch database; reads stay allowed. The
 * mechanism is util/sandbox.c; this file chooses the paths and says what it did. */
#include "nms-build.h"

#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "notmuch/notmuch.h"
#include "state/state.h"
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

/* restrict_to() creates the directories it is given. A missing Maildir root is created only
 * for an account whose state remembers no message (none yet, or one that `nmsync rules` or
 * `apply` made before the first sync), as sync/root.c decides: otherwise it is an unmounted
 * disk or an edited `maildir =`, which the run refuses and must find as it was. The state is
 * read from a private copy: nothing is created or locked here. */
static gboolean
maildir_may_be_created (const NmsConfig *config, const NmsAccount *a)
{
    g_autoptr (NmsState) state = NULL;
    gboolean any = TRUE;

    if (g_file_test (a->maildir, G_FILE_TEST_IS_DIR))
        return TRUE;
    state = nms_state_open_copy (config->state_dir, a->name, NULL);
    return state != NULL && nms_state_has_messages (state, &any, NULL) && !any;
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
    NmsDb *db;
    char *dir = nms_db_find_xapian_dir (config->notmuch_config);

    /* Told from notmuch's config file (the usual case): no library to load, no open. */
    if (dir != NULL)
        return dir;
    if ((db = nms_db_open (config->notmuch_config, FALSE, 0, &error)) == NULL)
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

/* In the child: runs each password-command and writes one line per account to @fd, "P" and
 * the password or "E", the error code, a space and the message, both g_strescape()d. */
static void G_GNUC_NORETURN
prefetch_child (GPtrArray *accounts, int fd)
{
    GString *out = g_string_new (NULL);

    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);
        g_autoptr (GError) error = NULL;
        g_autofree char *password = NULL, *escaped = NULL;

        if (a->password_command == NULL)
            continue;
        if ((password = nms_account_get_password (a, &error)) != NULL) {
            escaped = g_strescape (password, NULL);
            memset (password, 0, strlen (password));
            g_string_append_printf (out, "P%s\n", escaped);
            memset (escaped, 0, strlen (escaped));
        } else {
            escaped = g_strescape (error->message, NULL);
            g_string_append_printf (out, "E%d %s\n", error->code, escaped);
        }
    }
    nms_fs_write_all (fd, out->str, out->len, "pipe", NULL);
    memset (out->str, 0, out->len);
    _exit (0);
}

/* Reads all of @fd into a string whose buffer the caller zeroes. */
static GString *
read_all (int fd)
{
    GString *in = g_string_sized_new (256);
    char buf[256];
    ssize_t n;

    while ((n = read (fd, buf, sizeof buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        if (in->len + (gsize) n >= in->allocated_len) {
            /* Growing would leave a copy of the password in freed memory: grow while empty. */
            GString *bigger = g_string_sized_new (in->allocated_len * 2 + (gsize) n);
            g_string_append_len (bigger, in->str, (gssize) in->len);
            memset (in->str, 0, in->len);
            g_string_free (in, TRUE);
            in = bigger;
        }
        g_string_append_len (in, buf, n);
    }
    memset (buf, 0, sizeof buf);
    return in;
}

static NmsPrefetched *
parse_prefetched (const NmsAccount *a, char *line)
{
    NmsPrefetched *p = g_new0 (NmsPrefetched, 1);
    char *space;

    if (line != NULL && line[0] == 'P') {
        p->password = g_strcompress (line + 1);
    } else if (line != NULL && line[0] == 'E' && (space = strchr (line, ' ')) != NULL) {
        g_autofree char *message = g_strcompress (space + 1);

        p->error = g_error_new_literal (NMS_CONFIG_ERROR, atoi (line + 1), message);
    } else {
        p->error = g_error_new (NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PASSWORD,
                                "account '%s': cannot run password-command: its process failed",
                                a->name);
    }
    return p;
}

/* Runs every password-command of @accounts before the sandbox goes up (gpg and pass write
 * their own files), in a child process: GSubprocess starts GLib threads that would outlive it
 * in nmsync unconfined (Landlock confines only the calling thread and what it starts later;
 * under LeakSanitizer the sandboxed tracer cannot even stop them). The child sends the
 * results back through a pipe. */
static void
prefetch_passwords (GPtrArray *accounts, GHashTable *prefetched)
{
    g_autoptr (GString) in = NULL;
    char *line, *next;
    int fds[2] = { -1, -1 };
    pid_t pid;
    gboolean any = FALSE;

    for (guint i = 0; i < accounts->len; i++)
        any = any || ((const NmsAccount *) g_ptr_array_index (accounts, i))->password_command;
    if (!any)
        return;
    if (pipe2 (fds, O_CLOEXEC) != 0 || (pid = fork ()) < 0) {
        nms_fd_clear (&fds[0]);
        nms_fd_clear (&fds[1]);
        in = g_string_new (NULL); /* every account gets "its process failed" */
    } else {
        if (pid == 0) {
            nms_fd_clear (&fds[0]);
            prefetch_child (accounts, fds[1]);
        }
        nms_fd_clear (&fds[1]);
        in = read_all (fds[0]);
        nms_fd_clear (&fds[0]);
        while (waitpid (pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    line = in->len > 0 ? in->str : NULL;
    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);

        if (a->password_command == NULL)
            continue;
        next = line != NULL ? strchr (line, '\n') : NULL;
        if (next != NULL)
            *next++ = '\0';
        else
            line = NULL; /* a line without its newline: the child died while writing it */
        g_hash_table_insert (prefetched, g_strdup (a->name), parse_prefetched (a, line));
        line = next != NULL && *next != '\0' ? next : NULL;
    }
    memset (in->str, 0, in->allocated_len);
}

gboolean
nms_confine_wanted (const NmsCliOptions *options)
{
    return !options->no_sandbox && nms_sandbox_abi () > 0;
}

/* Landlock cannot be lifted and a tunnel command inherits it (ssh writes its known_hosts and
 * control sockets, a local imapd its mail store: nowhere nmsync knows). So the accounts with
 * a tunnel run in a child forked before this process is confined, and the others confined
 * here: sequentially, so that their lines do not interleave. The fork happens while this
 * process has a single thread, as prefetch_passwords' does. */
int
nms_confine_run_outside (NmsContext *ctx, int (*fn) (gpointer data), gpointer data)
{
    pid_t pid;
    int wstatus = 0;

    fflush (stdout); /* else the child would print what is buffered a second time */
    fflush (stderr);
    pid = fork ();
    if (pid < 0) {
        nms_context_skip (ctx, "cannot start a process for the tunnel accounts: %s",
                          g_strerror (errno));
        return NMS_EXIT_SKIPPED;
    }
    if (pid == 0) {
        int status = fn (data);

        fflush (stdout);
        fflush (stderr);
        _exit (status);
    }
    while (waitpid (pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED (wstatus)) {
        /* The child stopped dead (NMSYNC_TEST_CRASH_AFTER, a kill): so does the run. */
        signal (WTERMSIG (wstatus), SIG_DFL);
        raise (WTERMSIG (wstatus));
    }
    return WIFEXITED (wstatus) ? WEXITSTATUS (wstatus) : NMS_EXIT_SKIPPED;
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
    prefetch_passwords (accounts, prefetched);
    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);

        if (maildir_may_be_created (config, a))
            add_path (dirs, a->maildir);
    }
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

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Opening and closing the notmuch database with a bounded wait for the write lock, its
 * config, its revision, and the translation of notmuch statuses into NMS_DB_ERROR. */
#include "nms-build.h"

#include "notmuch/notmuch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notmuch/notmuch-private.h"
#include "util/fs.h"

G_DEFINE_QUARK (nms-db-error-quark, nms_db_error)

/* How often the lock file is looked at while another process holds it. */
#define LOCK_POLL_MS 50
/* Time the read-write open itself may take beyond the lock timeout (nms_db_open_writable()). */
#define OPEN_GRACE_MS 2000

gboolean
nms_db_set_error (NmsDb *db, GError **error, NmsDbError code, notmuch_status_t status,
                  const char *fmt, ...)
{
    g_autofree char *what = NULL;
    g_autofree char *detail = NULL;
    const char *logged = db->nm != NULL ? notmuch_database_status_string (db->nm) : NULL;
    va_list ap;

    va_start (ap, fmt);
    what = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    if (logged != NULL)
        detail = g_strstrip (g_strdup (logged));
    if (detail != NULL && *detail != '\0')
        g_set_error (error, NMS_DB_ERROR, code, "%s: %s: %s", what,
                     notmuch_status_to_string (status), detail);
    else
        g_set_error (error, NMS_DB_ERROR, code, "%s: %s", what, notmuch_status_to_string (status));
    return FALSE;
}

char *
nms_db_path_in_root (NmsDb *db, const char *path)
{
    g_autofree char *canon = g_canonicalize_filename (path, db->mail_root);
    gsize n = strlen (db->mail_root);

    if (strncmp (canon, db->mail_root, n) != 0 || canon[n] != '/' || canon[n + 1] == '\0')
        return NULL;
    return g_steal_pointer (&canon);
}

/* notmuch 0.37's config file lookup (lib/open.cc, _load_key_file): @config_path when given
 * ("" reads none); else $NOTMUCH_CONFIG; else $XDG_CONFIG_HOME (default ~/.config)
 * /notmuch/<$NOTMUCH_PROFILE or default>/config when readable; else
 * ~/.notmuch-config[.$NOTMUCH_PROFILE]. Returns that file when it is readable (transfer full),
 * else NULL (also for ""). */
static char *
config_file (const char *config_path)
{
    const char *profile = g_getenv ("NOTMUCH_PROFILE");
    const char *home = g_getenv ("HOME");
    const char *xdg_home = g_getenv ("XDG_CONFIG_HOME");
    g_autofree char *path = NULL;

    if (config_path == NULL)
        config_path = g_getenv ("NOTMUCH_CONFIG");
    if (config_path != NULL)
        return *config_path != '\0' && access (config_path, R_OK) == 0 ? g_strdup (config_path)
                                                                        : NULL;
    if (xdg_home != NULL || home != NULL) {
        path = xdg_home != NULL ? g_build_filename (xdg_home, "notmuch",
                                                    profile != NULL ? profile : "default",
                                                    "config", NULL)
                                : g_build_filename (home, ".config", "notmuch",
                                                    profile != NULL ? profile : "default",
                                                    "config", NULL);
        if (access (path, R_OK) == 0)
            return g_steal_pointer (&path);
        g_clear_pointer (&path, g_free);
    }
    if (home == NULL)
        return NULL;
    path = profile != NULL ? g_strdup_printf ("%s/.notmuch-config.%s", home, profile)
                           : g_strdup_printf ("%s/.notmuch-config", home);
    return access (path, R_OK) == 0 ? g_steal_pointer (&path) : NULL;
}

/* TRUE when notmuch's lookup finds a readable config file, or reads none at all (""): only
 * then can an open succeed. When it is FALSE, libnotmuch would fail with NO_CONFIG before
 * touching anything, so nmsync answers the same without loading it (a run without notmuch
 * never maps the library). */
static gboolean
config_readable (const char *config_path)
{
    g_autofree char *file = NULL;

    if (config_path != NULL && *config_path == '\0')
        return TRUE;
    file = config_file (config_path);
    return file != NULL;
}

/* The Xapian directory of the database at @db_path: <path>/xapian in the split layout (when
 * that is a directory), else <path>/.notmuch/xapian. (transfer full) */
static char *
xapian_dir_of (const char *db_path)
{
    g_autofree char *split = g_build_filename (db_path, "xapian", NULL);

    if (g_file_test (split, G_FILE_TEST_IS_DIR))
        return g_steal_pointer (&split);
    return g_build_filename (db_path, ".notmuch", "xapian", NULL);
}

char *
nms_db_find_xapian_dir (const char *config_path)
{
    g_autofree char *file = NULL;
    g_autofree char *db_path = NULL;
    g_autofree char *dir = NULL;
    g_autoptr (GKeyFile) kf = NULL;

    /* notmuch 0.37 takes $NOTMUCH_DATABASE first, then [database] path (relative to $HOME
     * when relative), then XDG and $MAILDIR defaults: only the plain absolute case is told
     * here; the others are left to libnotmuch. */
    if (g_getenv ("NOTMUCH_DATABASE") != NULL || (file = config_file (config_path)) == NULL)
        return NULL;
    kf = g_key_file_new ();
    if (!g_key_file_load_from_file (kf, file, G_KEY_FILE_NONE, NULL) ||
        (db_path = g_key_file_get_value (kf, "database", "path", NULL)) == NULL ||
        !g_path_is_absolute (db_path))
        return NULL;
    dir = xapian_dir_of (db_path);
    return g_file_test (dir, G_FILE_TEST_IS_DIR) ? g_steal_pointer (&dir) : NULL;
}

/* libnotmuch's open with notmuch's own config lookup into *@st_out (and its malloc'd message),
 * after loading the library when there is a config to read; with none, NO_CONFIG and
 * notmuch's own message for it. FALSE with @error set only when the library cannot be
 * loaded. */
static gboolean
open_with_config (const char *config_path, notmuch_database_mode_t mode, notmuch_status_t *st_out,
                  notmuch_database_t **nm_out, char **message_out, GError **error)
{
    if (!config_readable (config_path)) {
        *message_out = strdup ("Error: cannot load config file.\n");
        *st_out = NOTMUCH_STATUS_NO_CONFIG;
        return TRUE;
    }
    if (!nms_notmuch_load (error))
        return FALSE;
    *st_out = notmuch_database_open_with_config (NULL, mode, config_path, NULL, nm_out,
                                                 message_out);
    return TRUE;
}

/* notmuch_status_to_string(), also when the library was not loaded (NO_CONFIG, see
 * config_readable: the same text libnotmuch 0.37 gives). */
static const char *
status_text (notmuch_status_t st)
{
    if (st == NOTMUCH_STATUS_NO_CONFIG)
        return "No configuration file found";
    return notmuch_status_to_string (st);
}

/* Opens with notmuch's own config lookup; on failure sets @error with notmuch's message. */
static notmuch_database_t *
open_mode (const char *config_path, notmuch_database_mode_t mode, GError **error)
{
    notmuch_database_t *nm = NULL;
    char *message = NULL;
    notmuch_status_t st;

    if (!open_with_config (config_path, mode, &st, &nm, &message, error))
        return NULL;
    if (st == NOTMUCH_STATUS_SUCCESS) {
        free (message);
        return nm;
    }
    if (nm != NULL)
        notmuch_database_destroy (nm);
    g_set_error (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN,
                 "cannot open notmuch database%s%s%s: %s%s%s",
                 config_path != NULL ? " (config '" : "", config_path != NULL ? config_path : "",
                 config_path != NULL ? "')" : "", status_text (st),
                 message != NULL ? ": " : "", message != NULL ? g_strstrip (message) : "");
    free (message);
    return NULL;
}

gboolean
nms_db_ensure (const char *config_path, gboolean *created_out, GError **error)
{
    g_autofree char *xapian = NULL;
    notmuch_database_t *nm = NULL;
    char *message = NULL;
    notmuch_status_t st;

    *created_out = FALSE;
    /* The usual case, a database that exists, told from the config file and one stat: opening
     * it (and loading libnotmuch for that) is left to the run that indexes, which reports
     * what is wrong with it. */
    xapian = nms_db_find_xapian_dir (config_path);
    if (xapian != NULL)
        return TRUE;
    if (!open_with_config (config_path, NOTMUCH_DATABASE_MODE_READ_ONLY, &st, &nm, &message,
                           error))
        return FALSE;
    /* A missing database is NO_DATABASE or, with a path configured but no .notmuch yet, a
     * FILE_ERROR; create refuses an existing one (DATABASE_EXISTS), so trying it is safe, and
     * when it fails too the open's error is the one that explains. */
    if (st != NOTMUCH_STATUS_SUCCESS && st != NOTMUCH_STATUS_NO_CONFIG) {
        notmuch_database_t *made = NULL;
        char *made_message = NULL;
        notmuch_status_t made_st
            = notmuch_database_create_with_config (NULL, config_path, NULL, &made, &made_message);

        if (made_st == NOTMUCH_STATUS_SUCCESS) {
            if (nm != NULL)
                notmuch_database_destroy (nm);
            free (message);
            nm = made;
            message = NULL;
            st = made_st;
            *created_out = TRUE;
        } else if (made != NULL) {
            notmuch_database_destroy (made);
        }
        free (made_message);
    }
    if (nm != NULL)
        notmuch_database_destroy (nm);
    if (st != NOTMUCH_STATUS_SUCCESS)
        g_set_error (error, NMS_DB_ERROR,
                     st == NOTMUCH_STATUS_NO_CONFIG ? NMS_DB_ERROR_NO_CONFIG : NMS_DB_ERROR_OPEN,
                     "cannot %s notmuch database%s%s%s: %s%s%s",
                     st == NOTMUCH_STATUS_NO_CONFIG ? "open" : "open or create",
                     config_path != NULL ? " (config '" : "", config_path != NULL ? config_path : "",
                     config_path != NULL ? "')" : "", status_text (st),
                     message != NULL ? ": " : "", message != NULL ? g_strstrip (message) : "");
    free (message);
    return st == NOTMUCH_STATUS_SUCCESS;
}

/* TRUE when some open file description or process holds Xapian's write lock: byte 0 of
 * <xapian dir>/flintlock, taken with F_OFD_SETLKW (Xapian 1.4 on Linux; older kernels: a
 * classic F_SETLKW in a forked child). F_GETLK reports either kind, also one held by another
 * handle in this very process. A missing or unreadable lock file counts as free: the open
 * itself then reports what is wrong. */
static gboolean
lock_held (const char *lock_path)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    int fd = open (lock_path, O_RDONLY | O_CLOEXEC);
    int r;

    if (fd < 0)
        return FALSE;
    do
        r = fcntl (fd, F_GETLK, &fl);
    while (r < 0 && errno == EINTR);
    nms_fd_clear (&fd);
    return r == 0 && fl.l_type != F_UNLCK;
}

/* notmuch 0.37 keeps Xapian in <path>/xapian (split, XDG layout) or <path>/.notmuch/xapian. */
static gboolean
database_locked (const char *db_path)
{
    g_autofree char *split = g_build_filename (db_path, "xapian", "flintlock", NULL);
    g_autofree char *inside = g_build_filename (db_path, ".notmuch", "xapian", "flintlock", NULL);

    return lock_held (split) || lock_held (inside);
}

/* One read-write open, run in its own thread so that the caller can stop waiting for it. */
typedef struct {
    gint refs;
    GMutex mutex;
    GCond cond;
    char *config_path;
    gboolean done;      /* the open returned; the results below are set */
    gboolean abandoned; /* the caller gave up: the thread closes what it opened */
    notmuch_database_t *nm;
    GError *error;
} OpenJob;

static void
open_job_unref (OpenJob *job)
{
    if (!g_atomic_int_dec_and_test (&job->refs))
        return;
    if (job->nm != NULL) {
        notmuch_database_close (job->nm);
        notmuch_database_destroy (job->nm);
    }
    g_clear_error (&job->error);
    g_free (job->config_path);
    g_mutex_clear (&job->mutex);
    g_cond_clear (&job->cond);
    g_free (job);
}

static gpointer
open_job_run (gpointer data)
{
    OpenJob *job = data;
    GError *error = NULL;
    notmuch_database_t *nm = open_mode (job->config_path, NOTMUCH_DATABASE_MODE_READ_WRITE, &error);

    g_mutex_lock (&job->mutex);
    job->nm = nm; /* if abandoned, the last unref closes it and so releases the lock */
    job->error = error;
    job->done = TRUE;
    g_cond_signal (&job->cond);
    g_mutex_unlock (&job->mutex);
    open_job_unref (job);
    return NULL;
}

/* The read-write open with a bounded wait. libnotmuch 0.37 opens Xapian with DB_RETRY_LOCK
 * (Debian's build: built_with.retry_lock), so a second writer blocks inside
 * notmuch_database_open_with_config() in fcntl(F_OFD_SETLKW) until the first one closes,
 * with no timeout and no way to interrupt it (Xapian retries on EINTR). Hence two steps:
 * 1. Poll the lock with F_GETLK until it is free or @timeout_ms has passed: this is the
 *    normal way to wait, and to give up, and it leaves nothing behind.
 * 2. Open in a worker thread and wait for it up to the time left plus OPEN_GRACE_MS (the open
 *    itself reads the database). This only matters when another writer took the lock between
 *    step 1 and the open: we then fail with LOCKED and the thread stays blocked in fcntl; when
 *    the lock comes free it opens, sees that it was abandoned and closes at once. A blocked
 *    thread does not keep the process from exiting (exit() ends all threads). */
notmuch_database_t *
nms_db_open_writable (const char *config_path, const char *db_path, guint timeout_ms, gboolean poll,
                      GError **error)
{
    gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;
    OpenJob *job;
    notmuch_database_t *nm = NULL;

    while (poll && database_locked (db_path)) {
        gint64 left = deadline - g_get_monotonic_time ();
        if (left <= 0)
            goto locked;
        g_usleep (MIN (left, LOCK_POLL_MS * G_TIME_SPAN_MILLISECOND));
    }

    job = g_new0 (OpenJob, 1);
    job->refs = 2;
    job->config_path = g_strdup (config_path);
    g_mutex_init (&job->mutex);
    g_cond_init (&job->cond);
    g_thread_unref (g_thread_new ("nms-db-open", open_job_run, job));

    deadline = MAX (deadline, g_get_monotonic_time ()) + OPEN_GRACE_MS * G_TIME_SPAN_MILLISECOND;
    g_mutex_lock (&job->mutex);
    while (!job->done)
        if (!g_cond_wait_until (&job->cond, &job->mutex, deadline))
            break;
    if (job->done) {
        nm = g_steal_pointer (&job->nm);
        if (job->error != NULL)
            g_propagate_error (error, g_steal_pointer (&job->error));
    } else {
        job->abandoned = TRUE;
    }
    g_mutex_unlock (&job->mutex);
    if (job->abandoned) {
        open_job_unref (job);
        goto locked;
    }
    open_job_unref (job);
    return nm;

locked:
    g_set_error (error, NMS_DB_ERROR, NMS_DB_ERROR_LOCKED,
                 "notmuch database '%s' is locked by another process (notmuch new?); "
                 "gave up after %g s",
                 db_path, timeout_ms / 1000.0);
    return NULL;
}

/* Copies what the rest of nmsync asks for from notmuch's config into @db. */
static void
load_config (NmsDb *db)
{
    g_autoptr (notmuch_config_values_t) tags = NULL;
    GPtrArray *new_tags = g_ptr_array_new ();
    notmuch_bool_t sync = FALSE;

    db->path = g_strdup (notmuch_database_get_path (db->nm));
    db->mail_root
        = g_canonicalize_filename (notmuch_config_get (db->nm, NOTMUCH_CONFIG_MAIL_ROOT), db->path);
    if (notmuch_config_get_bool (db->nm, NOTMUCH_CONFIG_SYNC_MAILDIR_FLAGS, &sync)
        != NOTMUCH_STATUS_SUCCESS)
        sync = FALSE;
    db->synchronize_flags = sync;
    for (tags = notmuch_config_get_values (db->nm, NOTMUCH_CONFIG_NEW_TAGS);
         tags != NULL && notmuch_config_values_valid (tags);
         notmuch_config_values_move_to_next (tags)) {
        const char *tag = notmuch_config_values_get (tags);
        if (*tag != '\0')
            g_ptr_array_add (new_tags, g_strdup (tag));
    }
    g_ptr_array_add (new_tags, NULL);
    db->new_tags = (char **) g_ptr_array_free (new_tags, FALSE);
}

NmsDb *
nms_db_open (const char *config_path, gboolean writable, guint lock_timeout_ms, GError **error)
{
    g_autofree char *db_path = NULL;
    NmsDb *db;
    notmuch_database_t *nm;

    /* A read-only open never waits for the lock: it checks the config and the database and
     * tells us where the lock file is before we wait for it. */
    nm = open_mode (config_path, NOTMUCH_DATABASE_MODE_READ_ONLY, error);
    if (nm == NULL)
        return NULL;
    if (writable) {
        db_path = g_strdup (notmuch_database_get_path (nm));
        notmuch_database_destroy (nm);
        nm = nms_db_open_writable (config_path, db_path, lock_timeout_ms, TRUE, error);
        if (nm == NULL)
            return NULL;
    }
    db = g_new0 (NmsDb, 1);
    db->nm = nm;
    db->writable = writable;
    load_config (db);
    return db;
}

gboolean
nms_db_close (NmsDb *db, GError **error)
{
    notmuch_status_t st;
    gboolean ok = TRUE;

    if (db == NULL)
        return TRUE;
    st = notmuch_database_close (db->nm);
    if (st != NOTMUCH_STATUS_SUCCESS)
        ok = nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                               "cannot commit notmuch database '%s'", db->path);
    notmuch_database_destroy (db->nm);
    g_free (db->path);
    g_free (db->mail_root);
    g_clear_pointer (&db->stale, g_hash_table_unref);
    g_strfreev (db->new_tags);
    g_free (db);
    return ok;
}

char *
nms_db_xapian_dir (NmsDb *db)
{
    return xapian_dir_of (db->path);
}

const char *
nms_db_mail_root (NmsDb *db)
{
    return db->mail_root;
}

gboolean
nms_db_synchronize_flags (NmsDb *db)
{
    return db->synchronize_flags;
}

char *const *
nms_db_new_tags (NmsDb *db)
{
    return db->new_tags;
}

char *
nms_db_config_get (NmsDb *db, const char *key)
{
    char *value = NULL;
    char *copy = NULL;

    if (notmuch_database_get_config (db->nm, key, &value) == NOTMUCH_STATUS_SUCCESS && value != NULL
        && *value != '\0')
        copy = g_strdup (value);
    free (value);
    return copy;
}

char *
nms_db_new_ignore (NmsDb *db)
{
    const char *value = notmuch_config_get (db->nm, NOTMUCH_CONFIG_NEW_IGNORE);

    return value != NULL && *value != '\0' ? g_strdup (value) : NULL;
}

gboolean
nms_db_config_set (NmsDb *db, const char *key, const char *value, GError **error)
{
    notmuch_status_t st = notmuch_database_set_config (db->nm, key, value);

    if (st != NOTMUCH_STATUS_SUCCESS)
        return nms_db_set_error (db, error, NMS_DB_ERROR_WRITE, st,
                                 "cannot set '%s' in notmuch database '%s'", key, db->path);
    return TRUE;
}

guint64
nms_db_revision (NmsDb *db, char **uuid_out)
{
    const char *uuid = NULL;
    guint64 rev = notmuch_database_get_revision (db->nm, &uuid);

    if (uuid_out != NULL)
        *uuid_out = g_strdup (uuid);
    return rev;
}

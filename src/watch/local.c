/* SPDX-License-Identifier: GPL-3.0-or-later
 * The local event sources of `nmsync watch`: inotify on an account's Maildir (cur/ and new/ of
 * each synced folder; the root and each folder's directory for folders that appear or go), and
 * on the notmuch database's Xapian directory. inotify is per directory and not recursive
 * (LIBRARIES.md section 3); a full event queue (IN_Q_OVERFLOW) means events were lost, so the
 * whole account is synced.
 *
 * nmsync's own writes are not echoed back as work: the loop runs the pipeline synchronously,
 * so when a run returns every event its own renames and deliveries caused is already queued.
 * The loop then drains the queue at once with the set of files the run reported writing
 * (NmsSyncFileFunc: the IMAP stage's deliveries, renames and removals) and drops those events.
 * A file another program wrote meanwhile is not in that set and becomes work as usual. The
 * rule stage's moves are not in the set on purpose: a folder the rules moved mail into may not
 * be among the folders the run synced, and the follow-up run of those folders pushes it (or
 * finds nothing to do, which prints nothing). */
#include "nms-build.h"

#include "watch/watch-private.h"
#include "watch/watch.h"

#include <errno.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <glib-unix.h>

#include "maildir/maildir.h"
#include "notmuch/notmuch.h"
#include "util/fs.h"

#define FILE_MASK (IN_MOVED_TO | IN_MOVED_FROM | IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR)
#define DIR_MASK (IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ONLYDIR)
#define DB_MASK (IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_ONLYDIR)

typedef struct {
    char *folder; /* the folder whose cur/ or new/ this is; NULL for a directory watch */
    char *sub;    /* "cur" or "new" */
} Watched;

struct _NmsWatchLocal {
    const NmsAccount *account; /* (transfer none) */
    int fd;
    guint source;
    GHashTable *watched; /* wd -> Watched */
    NmsWatchLocalFn fn;
    gpointer user_data;
};

static void
watched_free (Watched *w)
{
    g_free (w->folder);
    g_free (w->sub);
    g_free (w);
}

static gboolean
add (NmsWatchLocal *local, const char *dir, guint32 mask, const char *folder, const char *sub,
     GError **error)
{
    int wd = inotify_add_watch (local->fd, dir, mask);
    Watched *w;

    if (wd < 0) {
        int e = errno;

        /* A directory gone meanwhile is the next refresh's business. */
        if (e == ENOENT || e == ENOTDIR)
            return TRUE;
        g_set_error (error, NMS_WATCH_ERROR,
                     e == ENOSPC ? NMS_WATCH_ERROR_LIMIT : NMS_WATCH_ERROR_INOTIFY,
                     "cannot watch '%s': %s%s", dir, g_strerror (e),
                     e == ENOSPC ? " (raise fs.inotify.max_user_watches)" : "");
        return FALSE;
    }
    w = g_new0 (Watched, 1);
    w->folder = g_strdup (folder);
    w->sub = g_strdup (sub);
    g_hash_table_replace (local->watched, GINT_TO_POINTER (wd), w);
    return TRUE;
}

char *
nms_watch_local_key (const char *path)
{
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *sub = g_path_get_basename (dir);
    g_autofree char *name = g_path_get_basename (path);

    return g_strconcat (sub, "/", name, NULL);
}

/* One event; @written (may be NULL): the keys of files the last run wrote. */
static void
handle (NmsWatchLocal *local, const struct inotify_event *ev, GHashTable *written)
{
    Watched *w;

    if (ev->mask & IN_Q_OVERFLOW) {
        local->fn (NMS_WATCH_LOCAL_OVERFLOW, NULL, NULL, local->user_data);
        return;
    }
    w = g_hash_table_lookup (local->watched, GINT_TO_POINTER (ev->wd));
    if (w == NULL)
        return;
    if (ev->mask & IN_IGNORED) {
        /* The directory went (a folder deleted or renamed): a folder event. */
        if (w->folder != NULL)
            local->fn (NMS_WATCH_LOCAL_FOLDERS, w->folder, NULL, local->user_data);
        g_hash_table_remove (local->watched, GINT_TO_POINTER (ev->wd));
        return;
    }
    if (ev->len == 0)
        return;
    if (w->folder == NULL) {
        if ((ev->mask & IN_ISDIR) && strcmp (ev->name, "cur") != 0 &&
            strcmp (ev->name, "new") != 0 && strcmp (ev->name, "tmp") != 0 &&
            strcmp (ev->name, ".notmuch") != 0)
            local->fn (NMS_WATCH_LOCAL_FOLDERS, NULL, ev->name, local->user_data);
        return;
    }
    if (ev->name[0] == '.' || (ev->mask & IN_ISDIR))
        return;
    if (written != NULL) {
        g_autofree char *key = g_strconcat (w->sub, "/", ev->name, NULL);

        if (g_hash_table_contains (written, key))
            return;
    }
    local->fn (NMS_WATCH_LOCAL_FOLDER, w->folder, ev->name, local->user_data);
}

void
nms_watch_local_drain (NmsWatchLocal *local, GHashTable *written)
{
    /* Aligned as inotify(7) asks; big enough for many events per read. */
    char buf[16384] __attribute__ ((aligned (__alignof__ (struct inotify_event))));

    for (;;) {
        ssize_t n = read (local->fd, buf, sizeof buf);

        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return; /* EAGAIN: the queue is empty */
        }
        for (char *p = buf; p < buf + n;) {
            const struct inotify_event *ev = (const struct inotify_event *) p;

            handle (local, ev, written);
            p += sizeof (struct inotify_event) + ev->len;
        }
    }
}

static gboolean
readable (int fd, GIOCondition condition, gpointer user_data)
{
    (void) fd;
    (void) condition;
    nms_watch_local_drain (user_data, NULL);
    return G_SOURCE_CONTINUE;
}

/* Adds the watches of the folders there are now. The first failure is kept in @error; the
 * other folders are still watched. */
static gboolean
refresh (NmsWatchLocal *local, GError **error)
{
    const NmsAccount *a = local->account;
    g_autoptr (GPtrArray) folders = nms_maildir_list_folders (a->maildir, a->layout, error);
    g_autoptr (GError) first = NULL;

    if (folders == NULL)
        return FALSE;
    add (local, a->maildir, DIR_MASK, NULL, NULL, first == NULL ? &first : NULL);
    for (guint i = 0; i < folders->len; i++) {
        const NmsMaildirFolder *f = g_ptr_array_index (folders, i);
        g_autofree char *dir = g_build_filename (a->maildir, f->relpath, NULL);
        g_autofree char *cur = g_build_filename (dir, "cur", NULL);
        g_autofree char *new = g_build_filename (dir, "new", NULL);

        if (!nms_config_folder_selected (a->folders, f->name, '/'))
            continue;
        if (strcmp (f->relpath, "") != 0 && strcmp (f->relpath, ".") != 0)
            add (local, dir, DIR_MASK, NULL, NULL, first == NULL ? &first : NULL);
        add (local, cur, FILE_MASK, f->name, "cur", first == NULL ? &first : NULL);
        add (local, new, FILE_MASK, f->name, "new", first == NULL ? &first : NULL);
    }
    if (first != NULL) {
        g_propagate_error (error, g_steal_pointer (&first));
        return FALSE;
    }
    return TRUE;
}

NmsWatchLocal *
nms_watch_local_new (const NmsAccount *account, NmsWatchLocalFn fn, gpointer user_data,
                     GError **error)
{
    g_autoptr (NmsWatchLocal) local = g_new0 (NmsWatchLocal, 1);
    g_autoptr (GError) partial = NULL;

    local->account = account;
    local->fn = fn;
    local->user_data = user_data;
    local->watched = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                            (GDestroyNotify) watched_free);
    local->fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (local->fd < 0) {
        int e = errno;

        g_set_error (error, NMS_WATCH_ERROR, NMS_WATCH_ERROR_INOTIFY,
                     "account '%s': cannot watch the Maildir: inotify: %s", account->name,
                     g_strerror (e));
        return NULL;
    }
    if (!refresh (local, &partial) && g_error_matches (partial, NMS_WATCH_ERROR, NMS_WATCH_ERROR_LIMIT)) {
        g_propagate_prefixed_error (error, g_steal_pointer (&partial), "account '%s': ",
                                    account->name);
        return NULL;
    }
    local->source = g_unix_fd_add (local->fd, G_IO_IN, readable, local);
    return g_steal_pointer (&local);
}

void
nms_watch_local_refresh (NmsWatchLocal *local)
{
    refresh (local, NULL);
}

void
nms_watch_local_free (NmsWatchLocal *local)
{
    if (local == NULL)
        return;
    if (local->source != 0)
        g_source_remove (local->source);
    if (local->watched != NULL)
        g_hash_table_unref (local->watched);
    nms_fd_clear (&local->fd);
    g_free (local);
}

struct _NmsWatchDb {
    char *notmuch_config;
    int fd;
    guint source;
    GSourceFunc fn;
    gpointer user_data;
};

static gboolean
db_readable (int fd, GIOCondition condition, gpointer user_data)
{
    NmsWatchDb *wdb = user_data;
    char buf[4096] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    gboolean any = FALSE;

    (void) condition;
    while (read (fd, buf, sizeof buf) > 0)
        any = TRUE;
    if (any)
        wdb->fn (wdb->user_data);
    return G_SOURCE_CONTINUE;
}

NmsWatchDb *
nms_watch_db_new (const char *notmuch_config, GSourceFunc fn, gpointer user_data, GError **error)
{
    NmsDb *db = nms_db_open (notmuch_config, FALSE, 0, error);
    g_autofree char *xapian = NULL;
    NmsWatchDb *wdb;
    int fd;

    if (db == NULL)
        return NULL;
    xapian = nms_db_xapian_dir (db);
    nms_db_close (db, NULL);
    fd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch (fd, xapian, DB_MASK) < 0) {
        int e = errno;

        g_set_error (error, NMS_WATCH_ERROR, NMS_WATCH_ERROR_NOTMUCH,
                     "cannot watch the notmuch database '%s': %s", xapian, g_strerror (e));
        nms_fd_clear (&fd);
        return NULL;
    }
    wdb = g_new0 (NmsWatchDb, 1);
    wdb->notmuch_config = g_strdup (notmuch_config);
    wdb->fd = fd;
    wdb->fn = fn;
    wdb->user_data = user_data;
    wdb->source = g_unix_fd_add (fd, G_IO_IN, db_readable, wdb);
    return wdb;
}

guint64
nms_watch_db_revision (NmsWatchDb *wdb, GError **error)
{
    NmsDb *db = nms_db_open (wdb->notmuch_config, FALSE, 0, error);
    guint64 revision;

    if (db == NULL)
        return 0;
    revision = nms_db_revision (db, NULL);
    nms_db_close (db, NULL);
    return revision;
}

void
nms_watch_db_free (NmsWatchDb *wdb)
{
    if (wdb == NULL)
        return;
    g_source_remove (wdb->source);
    nms_fd_clear (&wdb->fd);
    g_free (wdb->notmuch_config);
    g_free (wdb);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The server event source of nmsync watch. One thread per account owns its IMAP sessions:
 * where the server offers NOTIFY, one session idles with NOTIFY SET and every personal folder
 * reports through it; else one session per watched folder (INBOX and `watch-folders`, up to
 * `connections`) idles on that folder, and a LIST-STATUS sweep every `watch-interval` finds
 * the changes elsewhere. The thread polls the sessions' sockets together with a wake-up pipe,
 * so stop() and poke() interrupt any wait; a connection that breaks is retried with backoff.
 * Nothing is synced here: events only say where to look, and a lost event costs at most the
 * next sweep, because every reconnect posts SWEEP. */
#include "nms-build.h"

#include "watch/server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>

#include "imap/imap.h"

/* RFC 2177 §3: a server may drop a client idling for 30 minutes; re-IDLE well before. */
#define IDLE_REFRESH_US (G_GINT64_CONSTANT (25) * 60 * G_USEC_PER_SEC)
#define BACKOFF_FIRST_S 1
#define BACKOFF_MAX_S 300

/* What queued events need after the server is gone: stop() sets @cancelled, so an event still
 * queued in the main context is dropped instead of reaching a caller that freed its data. */
typedef struct {
    gint cancelled;
    NmsWatchServerFn fn;
    gpointer user_data;
} Sink;

typedef struct {
    Sink *sink;
    NmsWatchServerEvent event;
    char *folder;
    char *message;
} Posted;

struct _NmsWatchServer {
    const NmsConfig *config;
    const NmsAccount *account;
    GMainContext *ctx;
    Sink *sink;
    GThread *thread;
    int wake[2]; /* pipe: a byte written by stop() or poke() ends any poll() of the thread */
    gint stopping;
    gint poked;
};

/* One IMAP session of the thread. */
typedef struct {
    NmsImapSession *session;
    char *folder;      /* nmsync name of the folder it idles on; NULL on the NOTIFY session */
    gint64 idle_since; /* monotonic µs when IDLE began; 0 while not idling */
} Conn;

/* The counters a sweep compares with the previous sweep. */
typedef struct {
    gboolean has_status;
    guint32 uidvalidity;
    guint32 uidnext;
    guint32 messages;
    guint64 highestmodseq;
} Counters;

/* The thread's state while connected. */
typedef struct {
    NmsWatchServer *server;
    GPtrArray *conns;  /* Conn; conns[0] also runs the sweeps */
    gboolean notify;   /* conns[0] has NOTIFY SET */
    GHashTable *last;  /* folder name -> Counters, from the last sweep */
    gint64 next_sweep; /* monotonic µs */
} Watch;

/* ---- posting events ----------------------------------------------------------------------- */

static void
posted_free (gpointer data)
{
    Posted *p = data;

    g_atomic_rc_box_release (p->sink);
    g_free (p->folder);
    g_free (p->message);
    g_free (p);
}

static gboolean
posted_dispatch (gpointer data)
{
    Posted *p = data;

    if (!g_atomic_int_get (&p->sink->cancelled))
        p->sink->fn (p->event, p->folder, p->message, p->sink->user_data);
    return G_SOURCE_REMOVE;
}

static void
post (NmsWatchServer *sv, NmsWatchServerEvent event, const char *folder, const char *message)
{
    Posted *p = g_new0 (Posted, 1);

    p->sink = g_atomic_rc_box_acquire (sv->sink);
    p->event = event;
    p->folder = g_strdup (folder);
    p->message = g_strdup (message);
    g_main_context_invoke_full (sv->ctx, G_PRIORITY_DEFAULT, posted_dispatch, p, posted_free);
}

/* FOLDER for @name when the account syncs it: other folders are no work for watch. */
static void
post_folder (NmsWatchServer *sv, const char *name)
{
    if (nms_config_folder_selected (sv->account->folders, name, '/'))
        post (sv, NMS_WATCH_SERVER_FOLDER, name, NULL);
}

/* What one session's wait brought. */
static void
post_push (NmsWatchServer *sv, const Conn *c, const NmsImapPush *push)
{
    for (guint i = 0; i < push->folders->len; i++)
        post_folder (sv, g_ptr_array_index (push->folders, i));
    if (push->selected && c->folder != NULL)
        post_folder (sv, c->folder);
    /* news of a selected folder on the NOTIFY session, which selects none: say "look
     * everywhere" rather than guess */
    if (push->folder_list || push->unknown || (push->selected && c->folder == NULL))
        post (sv, NMS_WATCH_SERVER_SWEEP, NULL, NULL);
}

/* ---- waking and waiting ------------------------------------------------------------------- */

static gboolean
stopping (NmsWatchServer *sv)
{
    return g_atomic_int_get (&sv->stopping) != 0;
}

static void
drain_wake (NmsWatchServer *sv)
{
    char buf[64];

    while (read (sv->wake[0], buf, sizeof buf) > 0)
        ;
}

static void
wake (NmsWatchServer *sv)
{
    ssize_t r;

    /* a full pipe already wakes the thread: EAGAIN needs nothing more */
    do
        r = write (sv->wake[1], "x", 1);
    while (r < 0 && errno == EINTR);
}

/* Waits @ms milliseconds, or less when stop() or poke() wakes the thread. */
static void
wait_wake (NmsWatchServer *sv, int ms)
{
    struct pollfd pfd = { .fd = sv->wake[0], .events = POLLIN };

    if (poll (&pfd, 1, ms) > 0)
        drain_wake (sv);
}

/* ---- connecting --------------------------------------------------------------------------- */

static void
conn_free (Conn *c)
{
    if (c->idle_since != 0)
        nms_imap_idle_abandon (c->session);
    nms_imap_session_free (c->session);
    g_free (c->folder);
    g_free (c);
}

static Conn *
conn_new (NmsImapSession *session, const char *folder)
{
    Conn *c = g_new0 (Conn, 1);

    c->session = session;
    c->folder = g_strdup (folder);
    return c;
}

static void
watch_clear (Watch *w)
{
    g_clear_pointer (&w->conns, g_ptr_array_unref);
    g_clear_pointer (&w->last, g_hash_table_unref);
}

static NmsImapSession *
session_open (const NmsAccount *a, GError **error)
{
    g_autofree char *password = nms_account_get_password (a, error);

    if (password == NULL)
        return NULL;
    return nms_imap_session_connect (a, password, error);
}

/* The counters of every folder of @folders the account syncs. (transfer full) */
static GHashTable *
counters_of (const NmsAccount *a, GPtrArray *folders)
{
    GHashTable *t = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 0; i < folders->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (folders, i);
        Counters *c;

        if (f->name == NULL || f->noselect || !nms_config_folder_selected (a->folders, f->name, '/'))
            continue;
        c = g_new0 (Counters, 1);
        c->has_status = f->has_status;
        c->uidvalidity = f->uidvalidity;
        c->uidnext = f->uidnext;
        c->messages = f->messages;
        c->highestmodseq = f->highestmodseq;
        g_hash_table_insert (t, g_strdup (f->name), c);
    }
    return t;
}

/* The folders that get an IDLE session: INBOX, then those `watch-folders` selects, in LIST
 * order, each synced by the account, at most `connections`. (transfer full: char*) */
static GPtrArray *
idle_folders (const NmsAccount *a, GPtrArray *folders)
{
    GPtrArray *names = g_ptr_array_new_with_free_func (g_free);

    for (int pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < folders->len && names->len < (guint) a->connections; i++) {
            NmsImapFolder *f = g_ptr_array_index (folders, i);
            gboolean inbox = f->name != NULL && g_ascii_strcasecmp (f->name, "INBOX") == 0;

            if (f->name == NULL || f->noselect || f->problem != NULL ||
                !nms_config_folder_selected (a->folders, f->name, '/'))
                continue;
            if (pass == 0 ? inbox
                          : !inbox && nms_config_folder_selected (a->watch_folders, f->name, '/'))
                g_ptr_array_add (names, g_strdup (f->name));
        }
    }
    return names;
}

/* EXAMINE @name on @session: read-only, so idling never changes \Recent or anything else. */
static gboolean
examine (NmsImapSession *session, const char *name, GError **error)
{
    g_autofree char *wire = nms_imap_folder_wire_name (session, name);
    NmsImapFolderState state;

    return nms_imap_select (session, wire, TRUE, &state, error);
}

/* One session per folder of @names; the first is @first (transfer full), which the others
 * learn the delimiter and prefix from. */
static gboolean
connect_idle (Watch *w, NmsImapSession *first, GPtrArray *names, GError **error)
{
    const NmsAccount *a = w->server->account;

    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index (names, i);
        g_autoptr (NmsImapSession) s = i == 0 ? first : session_open (a, error);

        if (s == NULL)
            return FALSE;
        if (i > 0) {
            nms_imap_session_set_delimiter (s, nms_imap_session_get_delimiter (first));
            nms_imap_session_set_prefix (s, nms_imap_session_get_prefix (first));
        }
        if (!examine (s, name, error))
            return FALSE;
        g_ptr_array_add (w->conns, conn_new (g_steal_pointer (&s), name));
    }
    return TRUE;
}

/* Connects: the first session lists the folders (the sweeps' baseline, the delimiter and the
 * namespace prefix for names), then NOTIFY or the IDLE sessions. */
static gboolean
watch_connect (Watch *w, GError **error)
{
    const NmsAccount *a = w->server->account;
    g_autoptr (NmsImapSession) first = session_open (a, error);
    g_autoptr (GPtrArray) folders = NULL;
    g_autoptr (GPtrArray) names = NULL;
    g_autoptr (GError) local = NULL;

    if (first == NULL || (folders = nms_imap_list_status (first, error)) == NULL)
        return FALSE;
    w->last = counters_of (a, folders);
    if (nms_imap_session_has_capability (first, "NOTIFY")) {
        if (nms_imap_notify_set (first, &local)) {
            w->notify = TRUE;
            g_ptr_array_add (w->conns, conn_new (g_steal_pointer (&first), NULL));
            return TRUE;
        }
        if (!g_error_matches (local, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return FALSE;
        }
        g_debug ("account '%s': %s; idling per folder", a->name, local->message);
    }
    names = idle_folders (a, folders);
    if (names->len == 0 || !nms_imap_session_has_capability (first, "IDLE")) {
        /* nothing to idle on: the sweeps alone find the changes */
        g_ptr_array_add (w->conns, conn_new (g_steal_pointer (&first), NULL));
        return TRUE;
    }
    return connect_idle (w, g_steal_pointer (&first), names, error);
}

/* ---- idling ------------------------------------------------------------------------------- */

static gboolean
idle_begin (NmsWatchServer *sv, Conn *c, GError **error)
{
    NmsImapPush push;
    gboolean ok;

    if (!nms_imap_session_has_capability (c->session, "IDLE"))
        return TRUE;
    nms_imap_push_init (&push);
    ok = nms_imap_idle_start (c->session, &push, error);
    if (ok)
        c->idle_since = g_get_monotonic_time ();
    post_push (sv, c, &push);
    nms_imap_push_clear (&push);
    return ok;
}

/* Ends @c's IDLE and posts what it reported. */
static gboolean
idle_end (NmsWatchServer *sv, Conn *c, GError **error)
{
    NmsImapPush push;
    gboolean ok;

    if (c->idle_since == 0)
        return TRUE;
    c->idle_since = 0;
    nms_imap_push_init (&push);
    ok = nms_imap_idle_done (c->session, &push, error);
    post_push (sv, c, &push);
    nms_imap_push_clear (&push);
    return ok;
}

static gboolean
idle_again (NmsWatchServer *sv, Conn *c, GError **error)
{
    return idle_end (sv, c, error) && idle_begin (sv, c, error);
}

/* Compares @folders with the last sweep: FOLDER for each whose counters moved, SWEEP when a
 * folder came or went or the server gives nothing that proves a folder unchanged. */
static void
sweep_compare (Watch *w, NmsImapSession *session, GPtrArray *folders)
{
    NmsWatchServer *sv = w->server;
    g_autoptr (GHashTable) now = counters_of (sv->account, folders);
    /* without CONDSTORE a flag change moves no counter (status.c says the same) */
    gboolean unknown = !nms_imap_session_has_capability (session, "CONDSTORE");
    gboolean list_changed = g_hash_table_size (now) != g_hash_table_size (w->last);
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init (&it, now);
    while (g_hash_table_iter_next (&it, &key, &value)) {
        const Counters *c = value;
        const Counters *old = g_hash_table_lookup (w->last, key);

        if (old == NULL)
            list_changed = TRUE;
        else if (!c->has_status || !old->has_status)
            unknown = TRUE;
        else if (c->uidvalidity != old->uidvalidity || c->uidnext != old->uidnext ||
                 c->messages != old->messages || c->highestmodseq != old->highestmodseq)
            post_folder (sv, key);
    }
    if (list_changed || unknown)
        post (sv, NMS_WATCH_SERVER_SWEEP, NULL, NULL);
    g_hash_table_unref (w->last);
    w->last = g_steal_pointer (&now);
}

/* LIST-STATUS on conns[0], between two IDLEs. */
static gboolean
sweep (Watch *w, GError **error)
{
    Conn *c = g_ptr_array_index (w->conns, 0);
    g_autoptr (GPtrArray) folders = NULL;
    gboolean idling = c->idle_since != 0;

    if (!idle_end (w->server, c, error) ||
        (folders = nms_imap_list_status (c->session, error)) == NULL)
        return FALSE;
    sweep_compare (w, c->session, folders);
    return !idling || idle_begin (w->server, c, error);
}

/* Milliseconds until the next thing the loop must do by the clock. */
static int
next_timeout (const Watch *w, gint64 now)
{
    gint64 due = w->next_sweep;

    for (guint i = 0; i < w->conns->len; i++) {
        const Conn *c = g_ptr_array_index (w->conns, i);

        if (c->idle_since != 0)
            due = MIN (due, c->idle_since + IDLE_REFRESH_US);
    }
    if (due <= now)
        return 0;
    return (int) MIN ((due - now + 999) / 1000, G_MAXINT);
}

/* After poke(): every session answers DONE (a dead one fails, and the caller reconnects),
 * then SWEEP. */
static gboolean
recheck (Watch *w, GError **error)
{
    for (guint i = 0; i < w->conns->len; i++) {
        if (!idle_again (w->server, g_ptr_array_index (w->conns, i), error))
            return FALSE;
    }
    post (w->server, NMS_WATCH_SERVER_SWEEP, NULL, NULL);
    return TRUE;
}

/* One poll over the wake pipe and the idling sessions, and what follows from it. */
static gboolean
watch_step (Watch *w, GError **error)
{
    NmsWatchServer *sv = w->server;
    g_autofree struct pollfd *pfd = g_new0 (struct pollfd, w->conns->len + 1);
    gint64 now = g_get_monotonic_time ();
    int timeout = next_timeout (w, now);

    pfd[0] = (struct pollfd) { .fd = sv->wake[0], .events = POLLIN };
    for (guint i = 0; i < w->conns->len; i++) {
        Conn *c = g_ptr_array_index (w->conns, i);

        pfd[i + 1] = (struct pollfd) { .fd = c->idle_since != 0 ? nms_imap_idle_fd (c->session) : -1,
                                       .events = POLLIN };
        if (c->idle_since != 0 && nms_imap_idle_buffered (c->session))
            timeout = 0;
    }
    if (poll (pfd, w->conns->len + 1, timeout) < 0 && errno != EINTR) {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "poll: %s",
                     g_strerror (errno));
        return FALSE;
    }
    if (pfd[0].revents != 0)
        drain_wake (sv);
    if (stopping (sv))
        return TRUE;
    if (g_atomic_int_exchange (&sv->poked, 0))
        return recheck (w, error);
    now = g_get_monotonic_time ();
    for (guint i = 0; i < w->conns->len; i++) {
        Conn *c = g_ptr_array_index (w->conns, i);
        gboolean ready = c->idle_since != 0 &&
                         (pfd[i + 1].revents != 0 || nms_imap_idle_buffered (c->session) ||
                          now >= c->idle_since + IDLE_REFRESH_US);

        if (ready && !idle_again (sv, c, error))
            return FALSE;
    }
    if (now >= w->next_sweep) {
        w->next_sweep = now + (gint64) sv->account->watch_interval * G_USEC_PER_SEC;
        return sweep (w, error);
    }
    return TRUE;
}

/* Waits for changes until stop() (TRUE) or until a session breaks (FALSE). */
static gboolean
watch_run (Watch *w, GError **error)
{
    NmsWatchServer *sv = w->server;

    for (guint i = 0; i < w->conns->len; i++) {
        if (!idle_begin (sv, g_ptr_array_index (w->conns, i), error))
            return FALSE;
    }
    w->next_sweep = g_get_monotonic_time () + (gint64) sv->account->watch_interval * G_USEC_PER_SEC;
    while (!stopping (sv)) {
        if (!watch_step (w, error))
            return FALSE;
    }
    return TRUE;
}

/* ---- the thread --------------------------------------------------------------------------- */

static gpointer
server_thread (gpointer data)
{
    NmsWatchServer *sv = data;
    int backoff = BACKOFF_FIRST_S;
    gboolean down = FALSE; /* DOWN was posted for the current outage */

    while (!stopping (sv)) {
        g_autoptr (GError) error = NULL;
        Watch w = { .server = sv };

        w.conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_free);
        if (watch_connect (&w, &error)) {
            post (sv, NMS_WATCH_SERVER_UP, NULL, NULL);
            post (sv, NMS_WATCH_SERVER_SWEEP, NULL, NULL);
            down = FALSE;
            backoff = BACKOFF_FIRST_S;
            g_atomic_int_set (&sv->poked, 0); /* the SWEEP just posted answers it */
            if (watch_run (&w, &error)) {
                watch_clear (&w); /* abandons every IDLE: DONE, LOGOUT */
                break;
            }
        }
        watch_clear (&w);
        if (stopping (sv))
            break;
        if (!down)
            post (sv, NMS_WATCH_SERVER_DOWN, NULL, error->message);
        down = TRUE;
        g_debug ("account '%s': next attempt in %d s: %s", sv->account->name, backoff,
                 error->message);
        wait_wake (sv, backoff * 1000);
        /* a poke during the wait means: try now, and again from a short delay */
        backoff = g_atomic_int_exchange (&sv->poked, 0) ? BACKOFF_FIRST_S
                                                        : MIN (backoff * 2, BACKOFF_MAX_S);
    }
    return NULL;
}

NmsWatchServer *
nms_watch_server_start (const NmsConfig *config, const NmsAccount *account, GMainContext *ctx,
                        NmsWatchServerFn fn, gpointer user_data, GError **error)
{
    g_autofree char *name = NULL;
    NmsWatchServer *sv;
    int fds[2];

    g_return_val_if_fail (config != NULL && account != NULL && fn != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);
    if (account->tunnel == NULL && account->host == NULL) {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "account '%s' has neither host nor tunnel", account->name);
        return NULL;
    }
    if (pipe2 (fds, O_CLOEXEC | O_NONBLOCK) < 0) {
        g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
                     "cannot watch account '%s': pipe: %s", account->name, g_strerror (errno));
        return NULL;
    }
    sv = g_new0 (NmsWatchServer, 1);
    sv->config = config;
    sv->account = account;
    sv->ctx = g_main_context_ref (ctx != NULL ? ctx : g_main_context_default ());
    sv->sink = g_atomic_rc_box_new0 (Sink);
    sv->sink->fn = fn;
    sv->sink->user_data = user_data;
    sv->wake[0] = fds[0];
    sv->wake[1] = fds[1];
    name = g_strdup_printf ("watch-%s", account->name);
    sv->thread = g_thread_new (name, server_thread, sv);
    return sv;
}

void
nms_watch_server_poke (NmsWatchServer *server)
{
    g_return_if_fail (server != NULL);
    g_atomic_int_set (&server->poked, 1);
    wake (server);
}

void
nms_watch_server_stop (NmsWatchServer *server)
{
    if (server == NULL)
        return;
    g_atomic_int_set (&server->stopping, 1);
    g_atomic_int_set (&server->sink->cancelled, 1);
    wake (server);
    g_thread_join (server->thread);
    close (server->wake[0]);
    close (server->wake[1]);
    g_atomic_rc_box_release (server->sink);
    g_main_context_unref (server->ctx);
    g_free (server);
}

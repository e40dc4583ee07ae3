/* SPDX-License-Identifier: GPL-3.0-or-later
 * The loop of `nmsync watch` (watch.h). Events only mark work: per account a set of folders, a
 * whole pass, or a rules run (a tag change). A timer runs the marked work once the events have
 * been quiet for quiet_ms, or max_delay_ms after the first of a burst, whichever comes first:
 * a mail client saving 100 files is one run. Runs are synchronous on this thread, so nothing
 * else happens during one; the account lock is taken by the run (the pipeline) and released
 * before the loop waits again (DESIGN.md section 7), so `nmsync sync` from a terminal and the
 * notmuch hooks simply wait for it. A run that fails (offline, lock held too long, server
 * error) keeps its work marked and is retried after 5 s, doubling up to 300 s; the process
 * stays up. A crash at any point is a crash of an ordinary sync: the next run recovers. */
#include "nms-build.h"

#include "watch/watch.h"

#include <stdio.h>
#include <string.h>

#include <glib-unix.h>

#include "watch/server.h"
#include "watch/watch-private.h"

#define RETRY_FIRST_S 5
#define RETRY_MAX_S 300
#define CLOCK_CHECK_S 30
#define CLOCK_JUMP_US (10 * G_USEC_PER_SEC) /* more than this between real and monotonic time */

G_DEFINE_QUARK (nmsync-watch-error-quark, nms_watch_error)

typedef struct _Watch Watch;

typedef struct {
    Watch *watch;
    const NmsAccount *account; /* (transfer none: in watch->config) */
    NmsWatchLocal *local;
    NmsWatchServer *server;
    GHashTable *folders; /* marked folder names */
    gboolean full;       /* marked: every folder */
    gboolean rules;      /* marked: the rules (the database changed) */
    guint failures;
    gint64 retry_at;     /* monotonic time before which a failed run is not retried; 0 */
    gboolean down;       /* the server is down (said once per outage) */
    GMutex written_lock;
    GHashTable *written; /* keys (nms_watch_local_key) of files the running run wrote */
} Account;

struct _Watch {
    NmsWatchOptions *options;
    NmsContext *ctx;
    NmsConfig *config;
    GPtrArray *accounts; /* Account */
    GMainLoop *loop;
    NmsWatchDb *db;
    guint64 revision;
    gboolean db_changed;
    guint timer;
    gint64 burst_start, last_event; /* monotonic; 0: no burst */
    guint burst_quiet_ms;           /* the quiet time this burst waits for (see note_event) */
    gint64 clock_mono, clock_real;
    guint runs, failed;
    int exit_status;
};

static void schedule (Watch *w);

void
nms_watch_record_file (NmsFileEventKind kind, const char *path, const char *old_path,
                       gpointer user_data)
{
    Account *a = user_data;

    (void) kind;
    g_mutex_lock (&a->written_lock);
    g_hash_table_add (a->written, nms_watch_local_key (path));
    if (old_path != NULL)
        g_hash_table_add (a->written, nms_watch_local_key (old_path));
    g_mutex_unlock (&a->written_lock);
}

static gboolean
marked (const Account *a)
{
    return a->full || a->rules || g_hash_table_size (a->folders) > 0;
}

/* The quiet time after a server event. The server batches its notifications already (Dovecot
 * holds them back for half a second), so a burst from there has arrived once one is here; a
 * mail client's files come one by one and get the configured quiet time. */
#define SERVER_QUIET_MS 50

/* An event: remembered for the burst it belongs to, and the timer set again. The burst waits
 * for the longest quiet time any of its events asked for. */
static void
note_event_quiet (Watch *w, guint quiet_ms)
{
    gint64 now = g_get_monotonic_time ();

    if (w->burst_start == 0) {
        w->burst_start = now;
        w->burst_quiet_ms = quiet_ms;
    }
    w->burst_quiet_ms = MAX (w->burst_quiet_ms, quiet_ms);
    w->last_event = now;
    schedule (w);
}

static void
note_event (Watch *w)
{
    note_event_quiet (w, w->options->quiet_ms);
}

static void
on_local (NmsWatchLocalEvent event, const char *folder, const char *file, gpointer user_data)
{
    Account *a = user_data;
    NmsContext *ctx = a->watch->ctx;

    switch (event) {
    case NMS_WATCH_LOCAL_FOLDER:
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s: event: local file '%s' in folder '%s'",
                         a->account->name, file, folder);
        g_hash_table_add (a->folders, g_strdup (folder));
        break;
    case NMS_WATCH_LOCAL_FOLDERS:
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s: event: local folder '%s' appeared or went",
                         a->account->name, folder != NULL ? folder : file);
        a->full = TRUE;
        break;
    case NMS_WATCH_LOCAL_OVERFLOW:
        nms_context_log (ctx, NMS_LEVEL_WARNING, "%s: too many Maildir events at once (inotify "
                         "queue overflow); syncing every folder", a->account->name);
        a->full = TRUE;
        break;
    }
    note_event (a->watch);
}

static void
on_server (NmsWatchServerEvent event, const char *folder, const char *message, gpointer user_data)
{
    Account *a = user_data;
    NmsContext *ctx = a->watch->ctx;

    switch (event) {
    case NMS_WATCH_SERVER_FOLDER:
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s: event: server folder '%s' changed",
                         a->account->name, folder);
        g_hash_table_add (a->folders, g_strdup (folder));
        break;
    case NMS_WATCH_SERVER_SWEEP:
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s: event: server sweep", a->account->name);
        a->full = TRUE;
        break;
    case NMS_WATCH_SERVER_DOWN:
        if (!a->down)
            nms_context_log (ctx, NMS_LEVEL_WARNING, "%s: server: %s", a->account->name,
                             message != NULL ? message : "connection lost");
        a->down = TRUE;
        return;
    case NMS_WATCH_SERVER_UP:
        if (a->down)
            nms_context_log (ctx, NMS_LEVEL_WARNING, "%s: server: connected again",
                             a->account->name);
        a->down = FALSE;
        return;
    }
    note_event_quiet (a->watch, MIN (SERVER_QUIET_MS, a->watch->options->quiet_ms));
}

static gboolean
on_db (gpointer user_data)
{
    Watch *w = user_data;

    w->db_changed = TRUE;
    note_event (w);
    return G_SOURCE_CONTINUE;
}

static void
account_free (Account *a)
{
    nms_watch_server_stop (a->server);
    nms_watch_local_free (a->local);
    g_hash_table_unref (a->folders);
    g_hash_table_unref (a->written);
    g_mutex_clear (&a->written_lock);
    g_free (a);
}

static Account *
account_new (Watch *w, const NmsAccount *account, GError **error)
{
    Account *a = g_new0 (Account, 1);

    a->watch = w;
    a->account = account;
    a->folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    a->written = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_mutex_init (&a->written_lock);
    a->full = TRUE; /* the first pass */
    a->local = nms_watch_local_new (account, on_local, a, error);
    if (a->local == NULL) {
        account_free (a);
        return NULL;
    }
    a->server = nms_watch_server_start (w->config, account, g_main_context_default (), on_server,
                                        a, error);
    if (a->server == NULL) {
        account_free (a);
        return NULL;
    }
    return a;
}

static gboolean
wanted (const Watch *w, const char *name)
{
    char **names = w->options->accounts;

    return names == NULL || names[0] == NULL || g_strv_contains ((const char *const *) names, name);
}

/* Sets up the sources of every account watched under w->config, and the database's. */
static gboolean
start_sources (Watch *w, GError **error)
{
    g_autoptr (GError) db_error = NULL;

    for (char **n = w->options->accounts; n != NULL && *n != NULL; n++)
        if (nms_config_find_account (w->config, *n) == NULL)
            nms_context_log (w->ctx, NMS_LEVEL_ERROR, "no account '%s' in '%s'; not watched",
                             *n, w->config->path);
    for (guint i = 0; i < w->config->accounts->len; i++) {
        const NmsAccount *account = g_ptr_array_index (w->config->accounts, i);
        Account *a;

        if (!wanted (w, account->name))
            continue;
        if ((a = account_new (w, account, error)) == NULL)
            return FALSE;
        g_ptr_array_add (w->accounts, a);
    }
    w->db = nms_watch_db_new (w->config->notmuch_config, on_db, w, &db_error);
    if (w->db == NULL)
        nms_context_log (w->ctx, NMS_LEVEL_INFO, "not watching notmuch tags: %s",
                         db_error->message);
    else
        w->revision = nms_watch_db_revision (w->db, NULL);
    return TRUE;
}

static void
stop_sources (Watch *w)
{
    g_ptr_array_set_size (w->accounts, 0);
    g_clear_pointer (&w->db, nms_watch_db_free);
}

/* When the current burst's work is due: quiet_ms after its last event, at most max_delay_ms
 * after its first. */
static gint64
burst_due (const Watch *w)
{
    if (w->burst_start == 0)
        return 0;
    return MIN (w->last_event + (gint64) w->burst_quiet_ms * 1000,
                w->burst_start + (gint64) w->options->max_delay_ms * 1000);
}

static gboolean fire (gpointer user_data);

static void
schedule (Watch *w)
{
    gint64 due = G_MAXINT64, now = g_get_monotonic_time ();

    if (w->db_changed)
        due = burst_due (w);
    for (guint i = 0; i < w->accounts->len; i++) {
        const Account *a = g_ptr_array_index (w->accounts, i);

        if (marked (a))
            due = MIN (due, MAX (burst_due (w), a->retry_at));
    }
    if (w->timer != 0)
        g_source_remove (w->timer);
    w->timer = 0;
    if (due == G_MAXINT64)
        return;
    w->timer = g_timeout_add ((guint) CLAMP ((due - now + 999) / 1000, 0, G_MAXUINT), fire, w);
}

/* The marked folders as a NULL-terminated array. (transfer full) */
static char **
marked_folders (Account *a)
{
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init (&it, a->folders);
    while (g_hash_table_iter_next (&it, &key, NULL))
        g_ptr_array_add (names, g_strdup (key));
    g_ptr_array_sort (names, (GCompareFunc) (void (*) (void)) g_strcmp0);
    g_ptr_array_add (names, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
}

static void
notify_status (Watch *w)
{
    g_autoptr (GDateTime) now = g_date_time_new_now_local ();
    g_autofree char *at = g_date_time_format (now, "%H:%M:%S");
    g_autofree char *status = NULL;

    status = g_strdup_printf ("watching %u account%s; last sync %s; %u run%s, %u failed",
                              w->accounts->len, w->accounts->len == 1 ? "" : "s", at, w->runs,
                              w->runs == 1 ? "" : "s", w->failed);
    if (w->options->idle_status != NULL)
        w->options->idle_status (status, w->options->user_data);
    g_autofree char *line = g_strconcat ("STATUS=", status, NULL);
    nms_watch_notify (line);
}

/* Runs @a's marked work now; what failed stays marked for the retry. */
static void
run_account (Watch *w, Account *a)
{
    g_auto (GStrv) folders = a->full ? NULL : marked_folders (a);
    NmsWatchRun run = { .config = w->config, .account = a->account, .folders = folders,
                        .rules_only = !a->full && (folders == NULL || folders[0] == NULL),
                        .recorder = a };
    gboolean was_full = a->full, was_rules = a->rules;
    int status;

    a->full = a->rules = FALSE;
    g_hash_table_remove_all (a->folders);
    if (run.rules_only && !was_rules)
        return;
    status = w->options->run (&run, w->options->user_data);
    /* Every event this run's own writes caused is queued by now: drop those, keep the rest. */
    g_mutex_lock (&a->written_lock);
    nms_watch_local_drain (a->local, a->written);
    g_hash_table_remove_all (a->written);
    g_mutex_unlock (&a->written_lock);
    nms_watch_local_refresh (a->local);
    w->runs++;
    if (status <= 1) {
        a->failures = 0;
        a->retry_at = 0;
        return;
    }
    w->failed++;
    a->failures++;
    a->full |= was_full;
    a->rules |= was_rules;
    for (char **f = folders; f != NULL && *f != NULL; f++)
        g_hash_table_add (a->folders, g_strdup (*f));
    guint delay = MIN (RETRY_FIRST_S << MIN (a->failures - 1, 10u), RETRY_MAX_S);
    a->retry_at = g_get_monotonic_time () + (gint64) delay * G_USEC_PER_SEC;
    nms_context_log (w->ctx, NMS_LEVEL_WARNING, "%s: the run failed; trying again in %u s",
                     a->account->name, delay);
}

/* A changed database revision (not nmsync's own: that is read after each run) marks a rules
 * run on every account. */
static void
check_revision (Watch *w)
{
    g_autoptr (GError) error = NULL;
    guint64 revision;

    w->db_changed = FALSE;
    if (w->db == NULL)
        return;
    revision = nms_watch_db_revision (w->db, &error);
    if (revision == 0 || revision == w->revision)
        return;
    nms_context_log (w->ctx, NMS_LEVEL_INFO, "event: notmuch database revision %" G_GUINT64_FORMAT
                     " -> %" G_GUINT64_FORMAT, w->revision, revision);
    w->revision = revision;
    for (guint i = 0; i < w->accounts->len; i++)
        ((Account *) g_ptr_array_index (w->accounts, i))->rules = TRUE;
}

static gboolean
fire (gpointer user_data)
{
    Watch *w = user_data;
    gint64 now = g_get_monotonic_time ();
    gboolean ran = FALSE;

    w->timer = 0;
    if (w->db_changed && burst_due (w) <= now)
        check_revision (w);
    w->burst_start = w->last_event = 0;
    for (guint i = 0; i < w->accounts->len; i++) {
        Account *a = g_ptr_array_index (w->accounts, i);

        if (marked (a) && a->retry_at <= now) {
            run_account (w, a);
            ran = TRUE;
        }
    }
    if (ran) {
        /* What the runs wrote into the database is ours, not a tag change to act on. A tag
         * change made while the last rule stage ran is taken for ours too; the rules still
         * see it at the next run (they work from the revision they stored), so it is late,
         * never lost. */
        if (w->db != NULL)
            w->revision = MAX (w->revision, nms_watch_db_revision (w->db, NULL));
        notify_status (w);
    }
    schedule (w);
    return G_SOURCE_REMOVE;
}

static void
mark_all (Watch *w)
{
    for (guint i = 0; i < w->accounts->len; i++)
        ((Account *) g_ptr_array_index (w->accounts, i))->full = TRUE;
    note_event (w);
}

static gboolean
on_stop (gpointer user_data)
{
    Watch *w = user_data;

    nms_context_log (w->ctx, NMS_LEVEL_INFO, "stopping");
    nms_watch_notify ("STOPPING=1");
    g_main_loop_quit (w->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_usr1 (gpointer user_data)
{
    Watch *w = user_data;

    nms_context_log (w->ctx, NMS_LEVEL_INFO, "event: SIGUSR1: syncing every account");
    mark_all (w);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_hup (gpointer user_data)
{
    Watch *w = user_data;
    NmsConfig *config;
    g_autoptr (GError) error = NULL;

    nms_watch_notify ("RELOADING=1");
    config = w->options->reload (w->options->user_data);
    if (config != NULL) {
        stop_sources (w);
        nms_config_free (w->config);
        w->config = config;
        if (!start_sources (w, &error))
            nms_context_log (w->ctx, NMS_LEVEL_ERROR, "%s; watching the other accounts",
                             error->message);
        nms_context_log (w->ctx, NMS_LEVEL_WARNING, "config '%s' reloaded: %u account%s",
                         w->config->path, w->accounts->len, w->accounts->len == 1 ? "" : "s");
    }
    nms_watch_notify ("READY=1");
    mark_all (w);
    return G_SOURCE_CONTINUE;
}

/* Suspend and resume, or the clock set: real time moved differently from monotonic time
 * (which stops while suspended). Connections may be dead and events missed: reconnect and
 * sync everything. */
static gboolean
on_clock (gpointer user_data)
{
    Watch *w = user_data;
    gint64 mono = g_get_monotonic_time (), real = g_get_real_time ();
    gint64 drift = (real - w->clock_real) - (mono - w->clock_mono);

    w->clock_mono = mono;
    w->clock_real = real;
    if (ABS (drift) < CLOCK_JUMP_US)
        return G_SOURCE_CONTINUE;
    nms_context_log (w->ctx, NMS_LEVEL_INFO, "event: the clock jumped by %" G_GINT64_FORMAT
                     " s (suspend?): reconnecting and syncing every account",
                     drift / G_USEC_PER_SEC);
    for (guint i = 0; i < w->accounts->len; i++)
        nms_watch_server_poke (((Account *) g_ptr_array_index (w->accounts, i))->server);
    mark_all (w);
    return G_SOURCE_CONTINUE;
}

gboolean
nms_watch_loop (NmsWatchOptions *options, GError **error)
{
    Watch w = { .options = options, .ctx = options->ctx, .config = options->config };
    guint sources[5];

    options->config = NULL;
    w.accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
    w.loop = g_main_loop_new (NULL, FALSE);
    if (!start_sources (&w, error)) {
        stop_sources (&w);
        g_ptr_array_unref (w.accounts);
        g_main_loop_unref (w.loop);
        nms_config_free (w.config);
        return FALSE;
    }
    sources[0] = g_unix_signal_add (SIGTERM, on_stop, &w);
    sources[1] = g_unix_signal_add (SIGINT, on_stop, &w);
    sources[2] = g_unix_signal_add (SIGHUP, on_hup, &w);
    sources[3] = g_unix_signal_add (SIGUSR1, on_usr1, &w);
    w.clock_mono = g_get_monotonic_time ();
    w.clock_real = g_get_real_time ();
    sources[4] = g_timeout_add_seconds (CLOCK_CHECK_S, on_clock, &w);
    /* The first pass: every account marked whole by account_new. */
    fire (&w);
    nms_watch_notify ("READY=1");
    g_main_loop_run (w.loop);
    for (guint i = 0; i < G_N_ELEMENTS (sources); i++)
        g_source_remove (sources[i]);
    if (w.timer != 0)
        g_source_remove (w.timer);
    stop_sources (&w);
    g_ptr_array_unref (w.accounts);
    g_main_loop_unref (w.loop);
    nms_config_free (w.config);
    return TRUE;
}

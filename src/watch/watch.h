/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync watch`: decides when and what to sync. One GLib main loop waits on the server (a
 * server.h source per account), the Maildir (inotify on cur/ and new/ of every synced folder and
 * on the root), notmuch (the database revision, watched through its Xapian directory), signals
 * and a clock-jump timer; it debounces bursts of events into one run per account that names
 * only the folders the events name, and retries failed runs with backoff. How a run is done is
 * the caller's (the pipeline in cli/): this module never syncs by itself. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "sync/sync.h"
#include "util/context.h"

#define NMS_WATCH_ERROR (nms_watch_error_quark ())
GQuark nms_watch_error_quark (void);
typedef enum {
    NMS_WATCH_ERROR_INOTIFY, /* inotify unavailable, or a directory cannot be watched */
    NMS_WATCH_ERROR_LIMIT,   /* fs.inotify.max_user_watches reached: the account is not watched */
    NMS_WATCH_ERROR_NOTMUCH, /* the database cannot be watched (tags then wake nothing) */
} NmsWatchError;

/* One run the loop asks for. */
typedef struct {
    const NmsConfig *config;   /* the config in force (transfer none) */
    const NmsAccount *account; /* (transfer none) */
    char **folders;            /* NULL: every folder; else these (NULL-terminated) */
    gboolean rules_only;       /* a tag change alone: the rules stage, no IMAP */
    gpointer recorder;         /* pass to nms_watch_record_file as its user_data */
} NmsWatchRun;

/* Does @run; returns the account's exit status (NMS_EXIT_*: 0 and 1 are done, anything else
 * failed and is retried with backoff). */
typedef int (*NmsWatchRunFn) (const NmsWatchRun *run, gpointer user_data);
/* SIGHUP: the config read again (transfer full), or NULL (said why; the old one stays). */
typedef NmsConfig *(*NmsWatchReloadFn) (gpointer user_data);

typedef struct {
    NmsContext *ctx;
    NmsConfig *config;         /* (transfer full) */
    char **accounts;           /* names to watch (NULL-terminated); NULL or empty: all */
    NmsWatchRunFn run;
    NmsWatchReloadFn reload;
    void (*idle_status) (const char *text, gpointer user_data); /* between runs; may be NULL */
    gpointer user_data;
    guint quiet_ms;            /* debounce: run after this much quiet ... */
    guint max_delay_ms;        /* ... or this long after the first event of a burst */
} NmsWatchOptions;

/* An NmsSyncFileFunc for the pipeline of a run (@user_data: NmsWatchRun.recorder): a file the
 * run itself wrote is not taken for a local change when its inotify event arrives. Thread-safe
 * (the IMAP stage's workers call it). */
void nms_watch_record_file (NmsFileEventKind kind, const char *path, const char *old_path, gpointer user_data);

/* Runs the loop: one full pass over every account, READY=1 to systemd, then events until
 * SIGTERM or SIGINT (the current run finishes and commits first). FALSE with @error only when
 * watching cannot start (no such account, no inotify); failed runs are retried, never fatal. */
gboolean nms_watch_loop (NmsWatchOptions *options, GError **error);

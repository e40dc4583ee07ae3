/* SPDX-License-Identifier: GPL-3.0-or-later
 * The command line: global options, the command table, output and exit codes. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "util/context.h"

/* Exit codes (nmsync(1), DESIGN.md section 3). */
enum {
    NMS_EXIT_OK = 0,
    NMS_EXIT_SKIPPED = 1, /* done, but some messages or folders were skipped (each named) */
    NMS_EXIT_USAGE = 2,   /* usage or config error */
    NMS_EXIT_CONNECT = 3, /* cannot connect or log in */
    NMS_EXIT_LOCKED = 4,  /* another nmsync holds the account lock */
};

typedef struct {
    const char *config_path; /* -c, or NULL */
    int verbosity;
    gboolean dry_run;
    gboolean force;
    char **args;             /* ACCOUNT[/FOLDER] arguments after the command */
} NmsCliOptions;

/* ---- output.c ---- */

/* Sets up @ctx to write messages to stderr and, on a terminal, a status line updated in
 * place. */
void nms_output_init (NmsContext *ctx, int verbosity);
/* Starts the status line for an account. */
void nms_output_account_begin (NmsContext *ctx, const char *account);
/* Ends it: clears the status line and prints the one-line summary for the account (with the
 * server side's counts when @pushed). */
void nms_output_account_end (NmsContext *ctx, const char *account, const char *failure,
                             gboolean pushed);
void nms_output_finish (NmsContext *ctx);

/* ---- index.c: what a sync did, into notmuch ---- */

#include "sync/sync.h"

typedef struct {
    GArray *events; /* NmsFileEvent (notmuch/notmuch.h), with a clear func */
} NmsIndexer;

void nms_indexer_init (NmsIndexer *indexer);
void nms_indexer_clear (NmsIndexer *indexer);
/* An NmsSyncFileFunc: @user_data is the NmsIndexer. */
void nms_indexer_on_file (NmsSyncFileKind kind, const char *path, const char *old_path,
                          gpointer user_data);
/* Indexes the collected events (the database found by notmuch's own lookup, or [general]
 * notmuch-config) and forgets them. Without any notmuch setup nothing happens. A failure is
 * reported (counted as skipped) and returns FALSE: the files are in place either way. */
gboolean nms_indexer_flush (NmsContext *ctx, const NmsConfig *config, NmsIndexer *indexer);

/* ---- cmd-sync.c ---- */


/* Finds and loads the config (-c, $NMSYNC_CONFIG, XDG), printing its warnings on stderr.
 * Returns NULL after printing the error (exit status 2). (transfer full) */
NmsConfig *nms_cli_load_config (const NmsCliOptions *options);

/* ---- commands ---- */
int nms_cmd_pull (const NmsCliOptions *options);
int nms_cmd_push (const NmsCliOptions *options);
int nms_cmd_sync (const NmsCliOptions *options);
int nms_cmd_apply (const NmsCliOptions *options);
int nms_cmd_rules (const NmsCliOptions *options);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Synchronisation of one account: the folder scheduler and the per-folder executors. Uses
 * imap/, maildir/ and state/; never notmuch. Reports through NmsContext, never prints. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "imap/imap.h"
#include "sync/plan.h"
#include "util/context.h"
#include "util/file-event.h"

#define NMS_SYNC_ERROR (nms_sync_error_quark ())
GQuark nms_sync_error_quark (void);

typedef enum {
    NMS_SYNC_ERROR_MESSAGE, /* one message skipped; the folder goes on */
    NMS_SYNC_ERROR_FOLDER,  /* one folder skipped; the account goes on */
    NMS_SYNC_ERROR_ACCOUNT, /* the account could not be synced at all */
    NMS_SYNC_ERROR_MAILDIR, /* the Maildir is not the one the state describes (unmounted,
                             * moved, another layout): nothing was changed; a usage error */
} NmsSyncError;

/* What a run did to local files, for the notmuch index (the caller's business: src/sync/ never
 * calls notmuch; the indexer's nms_indexer_on_file has this type). */
typedef void (*NmsSyncFileFunc) (NmsFileEventKind kind, const char *path, const char *old_path,
                                 gpointer user_data);

typedef struct {
    NmsPlanDirection direction; /* pull, push or both (sync) */
    gboolean force;             /* allow mass deletions (see the guard in sync/plan.h) */
    char **folders;             /* NULL: every folder the config selects; else these names */
    guint crash_after;          /* test hook NMSYNC_TEST_CRASH_AFTER: 0 off, else SIGKILL the
                                 * process after that many steps (nms_sync_step) */
    guint lock_wait_ms;         /* how long to wait for the account lock another nmsync holds */
    gboolean lock_held;         /* the caller holds the account lock already (nmsync sync's
                                 * rule stages run under the same lock as the IMAP stage) */
    char **keywords;            /* IMAP keywords synced as Maildir letters a-z ([keywords] rules);
                                 * NULL: none */
    gboolean adopt;             /* `nmsync adopt` (a pull): a state without messages; files pair
                                 * exactly from dovecot-uidlist or .mbsyncstate, then by content;
                                 * one summary line per folder */
    const char *mbsync_state;   /* adopt --mbsync-state: mbsync's SyncState directory; NULL:
                                 * .mbsyncstate in each folder */
    gboolean adopt_clean;       /* adopt --clean: remove mbsync's files of a folder once it is
                                 * adopted completely (with -n: name them) */
    gboolean adopt_keep_local;  /* adopt --local-only=keep: the files that pair with nothing
                                 * are recorded as kept, and no later sync uploads them */
    NmsSyncFileFunc on_file;    /* told of every local file change once it is durable; NULL */
    gpointer on_file_data;
    NmsImapLog *imap_log;       /* the sessions' trace and tunnel stderr go there; NULL */
} NmsSyncOptions;

/* Syncs @account in options->direction:
 * - pull: new server messages, server flag changes and expunges reach the Maildir;
 * - push: new local messages (APPEND), local flag changes (STORE), local deletions (\Deleted +
 *   UID EXPUNGE), new local folders (CREATE) and moves between folders (UID MOVE) reach the
 *   server;
 * - sync: both, as one three-way merge per folder against the last agreed state.
 * Skipped messages and folders are counted in ctx->progress.skipped and named through @ctx.
 * Returns FALSE only when the account as a whole failed (lock held: NMS_STATE_ERROR_LOCKED;
 * cannot connect or log in: NMS_IMAP_ERROR_CONNECT/TLS/AUTH; state unusable; password; a full
 * disk: NMS_MAILDIR_ERROR_NOSPACE). */
gboolean nms_sync_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                           const NmsSyncOptions *options, GError **error);

/* ---- check.c: what the server holds, for `nmsync check` ---------------------------------- */

typedef struct {
    char *name;            /* decoded folder name */
    guint32 messages;      /* how many messages the folder holds */
    GPtrArray *message_ids; /* the Message-IDs of those that have one, lowercased (owned) */
} NmsSyncServerFolder;

void nms_sync_server_folder_free (NmsSyncServerFolder *folder);

/* Connects for @account and, for each selectable server folder the account's patterns select
 * (or, when @folders is not NULL, each of those names), EXAMINEs it (read-only: nothing on the
 * server changes, not even \Recent) and fetches its Message-IDs with one UID FETCH 1:* (UID
 * RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]). A folder that cannot be examined is
 * named through @ctx (skipped) and left out. Fails (NMS_IMAP_ERROR_CONNECT, _TLS, _AUTH, a
 * password error) when the account cannot be reached at all.
 * (transfer full: GPtrArray of NmsSyncServerFolder, with free func, sorted by name) */
GPtrArray *nms_sync_check_server (NmsContext *ctx, const NmsAccount *account, char **folders,
                                  GError **error);

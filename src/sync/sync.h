/* SPDX-License-Identifier: GPL-3.0-or-later
 * Synchronisation of one account: the folder scheduler and the per-folder executors. Uses
 * imap/, maildir/ and state/; never notmuch. Reports through NmsContext, never prints. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "util/context.h"

#define NMS_SYNC_ERROR (nms_sync_error_quark ())
GQuark nms_sync_error_quark (void);

typedef enum {
    NMS_SYNC_ERROR_MESSAGE, /* one message skipped; the folder goes on */
    NMS_SYNC_ERROR_FOLDER,  /* one folder skipped; the account goes on */
    NMS_SYNC_ERROR_ACCOUNT, /* the account could not be synced at all */
} NmsSyncError;

typedef struct {
    gboolean force;        /* allow mass deletions (see the guard in sync/plan.h) */
    char **folders;        /* NULL: every folder the config selects; else these decoded names */
} NmsSyncOptions;

/* Pulls @account: new server messages, server flag changes and expunges reach the Maildir.
 * Skipped messages and folders are counted in ctx->progress.skipped and named through @ctx.
 * Returns FALSE only when the account as a whole failed (lock held: NMS_STATE_ERROR_LOCKED;
 * cannot connect or log in: NMS_IMAP_ERROR_CONNECT/TLS/AUTH; state unusable; password). */
gboolean nms_sync_pull_account (NmsContext *ctx, const NmsConfig *config,
                                const NmsAccount *account, const NmsSyncOptions *options,
                                GError **error);

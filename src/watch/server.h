/* SPDX-License-Identifier: GPL-3.0-or-later
 * The server event source of `nmsync watch` (one per account): the interface between the watch
 * loop (watch.c) and the IMAP side (server.c; until that lands, server-stub.c). */
#pragma once

#include <glib.h>

#include "config/config.h"

/* One server event source per account: its own thread with its own libetpan session waits for
 * changes (NOTIFY where offered; else IDLE on INBOX and on the account's `watch-folders` (one
 * connection each, up to `connections`), plus a LIST-STATUS/STATUS sweep every `watch-interval`),
 * re-issues IDLE before 29 min, reconnects with exponential backoff (1 s doubling, capped at
 * 300 s), and posts every event onto @ctx (the watch main loop) with g_main_context_invoke. */
typedef enum {
    NMS_WATCH_SERVER_FOLDER, /* something changed in @folder (nmsync's folder name, "/" separated, as in the state) */
    NMS_WATCH_SERVER_SWEEP,  /* changes unknown: sync every folder (sweep timer, reconnect, folder created/deleted/renamed) */
    NMS_WATCH_SERVER_DOWN,   /* connection lost or not possible; @message says why (the loop logs it once per outage) */
    NMS_WATCH_SERVER_UP,     /* (re)connected; a SWEEP follows */
} NmsWatchServerEvent;

typedef void (*NmsWatchServerFn) (NmsWatchServerEvent event, const char *folder,
                                  const char *message, gpointer user_data);

typedef struct _NmsWatchServer NmsWatchServer;

/* Starts the thread; fails only on bad arguments (connection problems are DOWN events). */
NmsWatchServer *nms_watch_server_start (const NmsConfig *config, const NmsAccount *account,
                                        GMainContext *ctx, NmsWatchServerFn fn,
                                        gpointer user_data, GError **error);
/* After a resume or a clock jump: drop the connection if it is dead, reconnect, then SWEEP. */
void nms_watch_server_poke (NmsWatchServer *server);
/* Ends the IDLE (DONE/LOGOUT), joins the thread, frees; callable at any time, NULL-safe. */
void nms_watch_server_stop (NmsWatchServer *server);

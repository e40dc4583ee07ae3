/* SPDX-License-Identifier: GPL-3.0-or-later
 * Stand-in for the server event source (server.h) until the IMAP one (server.c) is merged: no
 * connection, no thread; a SWEEP every SWEEP_S on the watch loop's context, and one on poke.
 * Server changes meanwhile reach the Maildir by that sweep, by a local event's run, or by
 * SIGUSR1 (`nmsync watch` syncs everything at once). */
#include "config.h"

#include "watch/server.h"

#define SWEEP_S 300 /* watch-interval's default */

struct _NmsWatchServer {
    GSource *timer;
    NmsWatchServerFn fn;
    gpointer user_data;
};

static gboolean
sweep (gpointer data)
{
    NmsWatchServer *server = data;

    server->fn (NMS_WATCH_SERVER_SWEEP, NULL, NULL, server->user_data);
    return G_SOURCE_CONTINUE;
}

NmsWatchServer *
nms_watch_server_start (const NmsConfig *config, const NmsAccount *account, GMainContext *ctx,
                        NmsWatchServerFn fn, gpointer user_data, GError **error)
{
    NmsWatchServer *server;

    g_return_val_if_fail (config != NULL && account != NULL && fn != NULL, NULL);
    g_return_val_if_fail (error == NULL || *error == NULL, NULL);
    server = g_new0 (NmsWatchServer, 1);
    server->fn = fn;
    server->user_data = user_data;
    server->timer = g_timeout_source_new_seconds (SWEEP_S);
    g_source_set_callback (server->timer, sweep, server, NULL);
    g_source_attach (server->timer, ctx);
    return server;
}

void
nms_watch_server_poke (NmsWatchServer *server)
{
    if (server != NULL)
        sweep (server);
}

void
nms_watch_server_stop (NmsWatchServer *server)
{
    if (server == NULL)
        return;
    g_source_destroy (server->timer);
    g_source_unref (server->timer);
    g_free (server);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * watch-probe: runs the server event source of nmsync watch (src/watch/server.c) for one
 * account, without the watch loop, and prints one line per event on stdout, flushed:
 *   FOLDER <name>    something changed in that folder (nmsync's name, '/' between levels)
 *   SWEEP            changes unknown: every folder should be synced
 *   DOWN <message>   the connection was lost or is not possible (once per outage)
 *   UP               (re)connected; a SWEEP line follows
 * until SIGTERM or SIGINT, then stops the source (nms_watch_server_stop) and exits 0.
 * SIGUSR1 calls nms_watch_server_poke (as watch does after a resume).
 *
 *   watch-probe CONFIG ACCOUNT
 *
 * Exit status: 0 after a signal, 2 when the config cannot be loaded or has no such account.
 * Log messages (with G_MESSAGES_DEBUG=all also the source's debug messages: each reconnect
 * attempt) go to stderr. For tests only (tests/integration/t96x); not installed. */
#include "nms-build.h"

#include <glib-unix.h>
#include <stdio.h>

#include "imap/imap.h"
#include "watch/server.h"

typedef struct {
    GMainLoop *loop;
    NmsWatchServer *server;
} Probe;

static void
on_event (NmsWatchServerEvent event, const char *folder, const char *message, gpointer user_data)
{
    switch (event) {
    case NMS_WATCH_SERVER_FOLDER:
        printf ("FOLDER %s\n", folder);
        break;
    case NMS_WATCH_SERVER_SWEEP:
        printf ("SWEEP\n");
        break;
    case NMS_WATCH_SERVER_DOWN:
        printf ("DOWN %s\n", message);
        break;
    case NMS_WATCH_SERVER_UP:
        printf ("UP\n");
        break;
    }
    fflush (stdout);
}

/* Every log message to stderr: GLib puts debug messages on stdout, where the events go. */
static void
log_to_stderr (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    if ((level & (G_LOG_LEVEL_DEBUG | G_LOG_LEVEL_INFO)) != 0 &&
        g_getenv ("G_MESSAGES_DEBUG") == NULL)
        return;
    fprintf (stderr, "%s: %s\n", domain != NULL ? domain : "watch-probe", message);
}

static gboolean
on_stop (gpointer user_data)
{
    Probe *p = user_data;

    g_main_loop_quit (p->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean
on_poke (gpointer user_data)
{
    Probe *p = user_data;

    nms_watch_server_poke (p->server);
    return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsConfig) config = NULL;
    NmsAccount *account;
    Probe p = { 0 };

    if (argc != 3) {
        fprintf (stderr, "usage: watch-probe CONFIG ACCOUNT\n");
        return 2;
    }
    g_log_set_default_handler (log_to_stderr, NULL);
    nms_imap_global_init ();
    if ((config = nms_config_load (argv[1], &error)) == NULL) {
        fprintf (stderr, "watch-probe: %s\n", error->message);
        return 2;
    }
    if ((account = nms_config_find_account (config, argv[2])) == NULL) {
        fprintf (stderr, "watch-probe: no account '%s'\n", argv[2]);
        return 2;
    }
    p.loop = g_main_loop_new (NULL, FALSE);
    g_unix_signal_add (SIGTERM, on_stop, &p);
    g_unix_signal_add (SIGINT, on_stop, &p);
    g_unix_signal_add (SIGUSR1, on_poke, &p);
    p.server = nms_watch_server_start (config, account, NULL, on_event, &p, &error);
    if (p.server == NULL) {
        fprintf (stderr, "watch-probe: %s\n", error->message);
        return 2;
    }
    g_main_loop_run (p.loop);
    nms_watch_server_stop (p.server);
    printf ("STOPPED\n");
    fflush (stdout);
    g_main_loop_unref (p.loop);
    return 0;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the files of src/watch/ share: the Maildir and notmuch sources (local.c), the systemd
 * notification (notify.c). */
#pragma once

#include <glib.h>

#include "config/config.h"

/* ---- local.c: inotify on one account's Maildir ------------------------------------------ */

/* What a Maildir event means for the account. */
typedef enum {
    NMS_WATCH_LOCAL_FOLDER,   /* a file changed in @folder */
    NMS_WATCH_LOCAL_FOLDERS,  /* a folder appeared or went: every folder */
    NMS_WATCH_LOCAL_OVERFLOW, /* the kernel dropped events: every folder */
} NmsWatchLocalEvent;

typedef void (*NmsWatchLocalFn) (NmsWatchLocalEvent event, const char *folder,
                                 const char *file, gpointer user_data);

typedef struct _NmsWatchLocal NmsWatchLocal;

/* Watches @account's Maildir: cur/ and new/ of each local folder its `folders` select, and the
 * root (and each folder's directory) for folders that appear or go. @fn runs on the thread
 * default main context. NULL with @error when inotify is not available. (transfer full) */
NmsWatchLocal *nms_watch_local_new (const NmsAccount *account, NmsWatchLocalFn fn,
                                    gpointer user_data, GError **error);
/* Watches the folders made since (after each run, which may have made some). */
void nms_watch_local_refresh (NmsWatchLocal *local);
/* Reads every event queued now, without waiting, dropping those for files in @written (keys
 * "cur/NAME" / "new/NAME", see nms_watch_local_key): what the run that just ended wrote itself. */
void nms_watch_local_drain (NmsWatchLocal *local, GHashTable *written);
/* The key @path (".../cur/NAME") has in a written set: its last two components. (transfer full) */
char *nms_watch_local_key (const char *path);
void nms_watch_local_free (NmsWatchLocal *local);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsWatchLocal, nms_watch_local_free)

/* ---- local.c: the notmuch database ---------------------------------------------------- */

typedef struct _NmsWatchDb NmsWatchDb;

/* Watches the Xapian directory of the database @config names (notmuch's own lookup when
 * NULL); @fn runs on each change of its files. NULL (said at -v by the caller) when there is
 * no database. (transfer full) */
NmsWatchDb *nms_watch_db_new (const char *notmuch_config, GSourceFunc fn, gpointer user_data,
                              GError **error);
/* The database's revision now (0 when it cannot be read: reported at -v). */
guint64 nms_watch_db_revision (NmsWatchDb *wdb, GError **error);
void nms_watch_db_free (NmsWatchDb *wdb);

/* ---- notify.c: systemd's notification socket ------------------------------------------- */

/* Sends @state ("READY=1", "STATUS=...") to $NOTIFY_SOCKET when systemd set it (Type=notify);
 * does nothing otherwise. Failures are ignored: the service works the same without them. */
void nms_watch_notify (const char *state);

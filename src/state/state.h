/* SPDX-License-Identifier: GPL-3.0-or-later
 * The per-account sync state in SQLite: per folder the UIDVALIDITY and UIDNEXT last seen, per
 * message the UID and the flags both sides last agreed on. Also the account lock.
 * Files are private (0600) in a private directory (0700). */
#pragma once

#include <glib.h>

#define NMS_STATE_ERROR (nms_state_error_quark ())
GQuark nms_state_error_quark (void);

typedef enum {
    NMS_STATE_ERROR_DB,     /* SQLite failed: the message names the file */
    NMS_STATE_ERROR_LOCKED, /* another process holds the account lock */
    NMS_STATE_ERROR_IO,
} NmsStateError;

typedef struct _NmsState NmsState;

/* Opens (creating) <@dir>/<@account>.db. (transfer full) */
NmsState *nms_state_open (const char *dir, const char *account, GError **error);
void nms_state_free (NmsState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsState, nms_state_free)

/* Takes the exclusive lock <@dir>/<@account>.lock (flock, released when the process ends, so a
 * killed nmsync never leaves a stale lock). Held until nms_state_unlock. On contention fails
 * with LOCKED: "account 'a' is already being synced by nmsync (pid N)". Returns the lock fd. */
int nms_state_lock (const char *dir, const char *account, GError **error);
void nms_state_unlock (int fd);

/* Transactions: everything between begin and commit is atomic. Commit is durable up to the last
 * commit before a power loss (WAL, synchronous=NORMAL): every writer of state must therefore
 * keep the disk ahead of the state, so that a lost commit is recovered by the next run (a
 * local file carrying a UID the state does not know is adopted, not downloaded again). */
gboolean nms_state_begin (NmsState *state, GError **error);
gboolean nms_state_commit (NmsState *state, GError **error);
void nms_state_rollback (NmsState *state);

typedef struct {
    guint32 uidvalidity;
    guint32 uidnext;
} NmsStateFolder;

/* Looks up @folder (decoded name). *found_out is FALSE when the state has no record of it. */
gboolean nms_state_folder_get (NmsState *state, const char *folder, NmsStateFolder *folder_out,
                               gboolean *found_out, GError **error);
gboolean nms_state_folder_set (NmsState *state, const char *folder, const NmsStateFolder *value,
                               GError **error);
/* Forgets @folder and all its messages. */
gboolean nms_state_folder_forget (NmsState *state, const char *folder, GError **error);
/* All folder names the state knows, sorted. (transfer full: GPtrArray of char*) */
GPtrArray *nms_state_folder_names (NmsState *state, GError **error);

typedef struct {
    guint32 uid;
    char flags[8]; /* sorted Maildir letters agreed at the last sync */
} NmsStateMessage;

/* The messages recorded for @folder, sorted by uid. (transfer full: GArray of NmsStateMessage) */
GArray *nms_state_messages (NmsState *state, const char *folder, GError **error);
gboolean nms_state_message_put (NmsState *state, const char *folder, guint32 uid,
                                const char *flags, GError **error);
gboolean nms_state_message_delete (NmsState *state, const char *folder, guint32 uid,
                                   GError **error);

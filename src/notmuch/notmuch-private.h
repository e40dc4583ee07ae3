/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared between the files of src/notmuch/ only: the NmsDb structure, autoptr cleanups for
 * libnotmuch types, and the one place where notmuch statuses become NMS_DB_ERROR messages. */
#pragma once

#include <notmuch.h>

#include "notmuch/notmuch.h"

/* The database handle owns (talloc) every message, tag list and filename list: these cleanups
 * only shorten their lives, and none of them may outlive the NmsDb. */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (notmuch_query_t, notmuch_query_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (notmuch_messages_t, notmuch_messages_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (notmuch_message_t, notmuch_message_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (notmuch_indexopts_t, notmuch_indexopts_destroy)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (notmuch_config_values_t, notmuch_config_values_destroy)

struct _NmsDb {
    notmuch_database_t *nm;
    char *path;      /* the database path, for messages */
    char *mail_root; /* canonical (g_canonicalize_filename), no trailing slash */
    gboolean writable;
    gboolean synchronize_flags;
    char **new_tags;
    GHashTable *stale;  /* index.c: a rename's new name that had moved on again before it was
                         * indexed -> the old name kept meanwhile (so the message keeps a file
                         * and its tags); the next rename from that name removes it */
};

/* Sets @error (domain NMS_DB_ERROR, @code) to "<what>: <notmuch status>[: <detail>]" where
 * <what> is formatted from @fmt and should name the object and the database; the detail is
 * notmuch's status string (the last message it logged) without its trailing newline. Returns
 * FALSE. */
gboolean nms_db_set_error (NmsDb *db, GError **error, NmsDbError code, notmuch_status_t status,
                           const char *fmt, ...) G_GNUC_PRINTF (5, 6);

/* The read-write open of nms_db_open() with its bounded wait for the lock (see notmuch.c):
 * polls the lock of the database at @db_path when @poll (FALSE only in tests, to reach the
 * worker thread's own timeout), then opens in a worker thread. (transfer full) */
notmuch_database_t *nms_db_open_writable (const char *config_path, const char *db_path,
                                          guint timeout_ms, gboolean poll, GError **error);

/* @path made absolute and canonical when it lies under the mail root, else NULL.
 * (transfer full) */
char *nms_db_path_in_root (NmsDb *db, const char *path);

/* nms_db_message_update(), and when @flags_to_tags the tags the message's filenames' flags
 * give (maildir_flags_to_tags) first, on the same document, written once. */
gboolean nms_db_message_update_full (NmsDb *db, const char *id, char *const *add_tags,
                                     char *const *remove_tags, const char *agreed_folder,
                                     const char *agreed_flags, gboolean flags_to_tags,
                                     GError **error);

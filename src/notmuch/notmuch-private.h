/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared between the files of src/notmuch/ only: the NmsDb structure, autoptr cleanups for
 * libnotmuch types, and the one place where notmuch statuses become NMS_DB_ERROR messages. */
#pragma once

#include <notmuch.h>

#include "notmuch/notmuch.h"

/* nmsync does not link libnotmuch: it loads it (load.c) the first time a run needs the
 * database, so that a sync with nothing to index maps neither it nor what it pulls in
 * (Xapian, libstdc++, GMime, gpgme: a third of a no-change sync was the dynamic linker).
 * Every libnotmuch function the module calls is listed here once. Each table entry has the
 * type of notmuch.h's own prototype (typeof), and the calls below are redirected to the
 * table by macros, so every call is still checked against notmuch.h at compile time; a
 * function called but not listed is an undefined symbol at link time, one listed but not
 * called costs one dlsym. */
#define NMS_NOTMUCH_FUNCTIONS(X) \
    X (notmuch_config_get) \
    X (notmuch_config_get_bool) \
    X (notmuch_config_get_values) \
    X (notmuch_config_values_destroy) \
    X (notmuch_config_values_get) \
    X (notmuch_config_values_move_to_next) \
    X (notmuch_config_values_valid) \
    X (notmuch_database_begin_atomic) \
    X (notmuch_database_close) \
    X (notmuch_database_create_with_config) \
    X (notmuch_database_destroy) \
    X (notmuch_database_end_atomic) \
    X (notmuch_database_find_message) \
    X (notmuch_database_find_message_by_filename) \
    X (notmuch_database_get_config) \
    X (notmuch_database_get_default_indexopts) \
    X (notmuch_database_get_path) \
    X (notmuch_database_get_revision) \
    X (notmuch_database_index_file) \
    X (notmuch_database_open_with_config) \
    X (notmuch_database_remove_message) \
    X (notmuch_database_set_config) \
    X (notmuch_database_status_string) \
    X (notmuch_filenames_destroy) \
    X (notmuch_filenames_get) \
    X (notmuch_filenames_move_to_next) \
    X (notmuch_filenames_valid) \
    X (notmuch_indexopts_destroy) \
    X (notmuch_message_add_property) \
    X (notmuch_message_add_tag) \
    X (notmuch_message_destroy) \
    X (notmuch_message_freeze) \
    X (notmuch_message_get_filenames) \
    X (notmuch_message_get_message_id) \
    X (notmuch_message_get_property) \
    X (notmuch_message_get_tags) \
    X (notmuch_message_has_maildir_flag_st) \
    X (notmuch_message_maildir_flags_to_tags) \
    X (notmuch_message_remove_all_properties) \
    X (notmuch_message_remove_tag) \
    X (notmuch_message_thaw) \
    X (notmuch_messages_destroy) \
    X (notmuch_messages_get) \
    X (notmuch_messages_move_to_next) \
    X (notmuch_messages_valid) \
    X (notmuch_query_count_messages) \
    X (notmuch_query_create) \
    X (notmuch_query_destroy) \
    X (notmuch_query_search_messages) \
    X (notmuch_status_to_string) \
    X (notmuch_tags_destroy) \
    X (notmuch_tags_get) \
    X (notmuch_tags_move_to_next) \
    X (notmuch_tags_valid)

typedef struct {
#define NMS_NOTMUCH_FIELD(name) __typeof__ (&name) name;
    NMS_NOTMUCH_FUNCTIONS (NMS_NOTMUCH_FIELD)
#undef NMS_NOTMUCH_FIELD
} NmsNotmuchApi;

/* The one process-wide table, filled once by nms_notmuch_load() (under a GOnce, before any
 * caller can reach a database handle) and never changed after: the dynamic linker's own
 * bookkeeping, done by hand, rather than mutable state. */
extern NmsNotmuchApi nms_notmuch_api;

/* Loads libnotmuch (LIBNOTMUCH_SONAME) and fills nms_notmuch_api; later calls return the first
 * call's outcome at once. Safe from any thread. FALSE with NMS_DB_ERROR_LOAD ("cannot load
 * libnotmuch.so.5: <dlerror>") when the library or one of its functions is missing. */
gboolean nms_notmuch_load (GError **error);

#ifndef NMS_NOTMUCH_LOADER
#define notmuch_config_get (nms_notmuch_api.notmuch_config_get)
#define notmuch_config_get_bool (nms_notmuch_api.notmuch_config_get_bool)
#define notmuch_config_get_values (nms_notmuch_api.notmuch_config_get_values)
#define notmuch_config_values_destroy (nms_notmuch_api.notmuch_config_values_destroy)
#define notmuch_config_values_get (nms_notmuch_api.notmuch_config_values_get)
#define notmuch_config_values_move_to_next (nms_notmuch_api.notmuch_config_values_move_to_next)
#define notmuch_config_values_valid (nms_notmuch_api.notmuch_config_values_valid)
#define notmuch_database_begin_atomic (nms_notmuch_api.notmuch_database_begin_atomic)
#define notmuch_database_close (nms_notmuch_api.notmuch_database_close)
#define notmuch_database_create_with_config (nms_notmuch_api.notmuch_database_create_with_config)
#define notmuch_database_destroy (nms_notmuch_api.notmuch_database_destroy)
#define notmuch_database_end_atomic (nms_notmuch_api.notmuch_database_end_atomic)
#define notmuch_database_find_message (nms_notmuch_api.notmuch_database_find_message)
#define notmuch_database_find_message_by_filename (nms_notmuch_api.notmuch_database_find_message_by_filename)
#define notmuch_database_get_config (nms_notmuch_api.notmuch_database_get_config)
#define notmuch_database_get_default_indexopts (nms_notmuch_api.notmuch_database_get_default_indexopts)
#define notmuch_database_get_path (nms_notmuch_api.notmuch_database_get_path)
#define notmuch_database_get_revision (nms_notmuch_api.notmuch_database_get_revision)
#define notmuch_database_index_file (nms_notmuch_api.notmuch_database_index_file)
#define notmuch_database_open_with_config (nms_notmuch_api.notmuch_database_open_with_config)
#define notmuch_database_remove_message (nms_notmuch_api.notmuch_database_remove_message)
#define notmuch_database_set_config (nms_notmuch_api.notmuch_database_set_config)
#define notmuch_database_status_string (nms_notmuch_api.notmuch_database_status_string)
#define notmuch_filenames_destroy (nms_notmuch_api.notmuch_filenames_destroy)
#define notmuch_filenames_get (nms_notmuch_api.notmuch_filenames_get)
#define notmuch_filenames_move_to_next (nms_notmuch_api.notmuch_filenames_move_to_next)
#define notmuch_filenames_valid (nms_notmuch_api.notmuch_filenames_valid)
#define notmuch_indexopts_destroy (nms_notmuch_api.notmuch_indexopts_destroy)
#define notmuch_message_add_property (nms_notmuch_api.notmuch_message_add_property)
#define notmuch_message_add_tag (nms_notmuch_api.notmuch_message_add_tag)
#define notmuch_message_destroy (nms_notmuch_api.notmuch_message_destroy)
#define notmuch_message_freeze (nms_notmuch_api.notmuch_message_freeze)
#define notmuch_message_get_filenames (nms_notmuch_api.notmuch_message_get_filenames)
#define notmuch_message_get_message_id (nms_notmuch_api.notmuch_message_get_message_id)
#define notmuch_message_get_property (nms_notmuch_api.notmuch_message_get_property)
#define notmuch_message_get_tags (nms_notmuch_api.notmuch_message_get_tags)
#define notmuch_message_has_maildir_flag_st (nms_notmuch_api.notmuch_message_has_maildir_flag_st)
#define notmuch_message_maildir_flags_to_tags (nms_notmuch_api.notmuch_message_maildir_flags_to_tags)
#define notmuch_message_remove_all_properties (nms_notmuch_api.notmuch_message_remove_all_properties)
#define notmuch_message_remove_tag (nms_notmuch_api.notmuch_message_remove_tag)
#define notmuch_message_thaw (nms_notmuch_api.notmuch_message_thaw)
#define notmuch_messages_destroy (nms_notmuch_api.notmuch_messages_destroy)
#define notmuch_messages_get (nms_notmuch_api.notmuch_messages_get)
#define notmuch_messages_move_to_next (nms_notmuch_api.notmuch_messages_move_to_next)
#define notmuch_messages_valid (nms_notmuch_api.notmuch_messages_valid)
#define notmuch_query_count_messages (nms_notmuch_api.notmuch_query_count_messages)
#define notmuch_query_create (nms_notmuch_api.notmuch_query_create)
#define notmuch_query_destroy (nms_notmuch_api.notmuch_query_destroy)
#define notmuch_query_search_messages (nms_notmuch_api.notmuch_query_search_messages)
#define notmuch_status_to_string (nms_notmuch_api.notmuch_status_to_string)
#define notmuch_tags_destroy (nms_notmuch_api.notmuch_tags_destroy)
#define notmuch_tags_get (nms_notmuch_api.notmuch_tags_get)
#define notmuch_tags_move_to_next (nms_notmuch_api.notmuch_tags_move_to_next)
#define notmuch_tags_valid (nms_notmuch_api.notmuch_tags_valid)
#endif

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

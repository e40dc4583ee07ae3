/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the files of src/state/ share: the handle and the helpers around SQLite. */
#pragma once

#include <sqlite3.h>

#include "state/state.h"

enum {
    STMT_FOLDER_GET,
    STMT_FOLDER_SET,
    STMT_FOLDER_DELETE,
    STMT_FOLDER_MESSAGES_DELETE,
    STMT_FOLDER_NAMES,
    STMT_MESSAGES,
    STMT_MESSAGE_PUT,
    STMT_MESSAGE_DELETE,
    STMT_MESSAGE_EXISTS,
    STMT_MESSAGE_FIND_BASE,
    STMT_MESSAGE_SET_CONTENT,
    STMT_MESSAGE_FIND_CONTENT,
    STMT_MESSAGE_BASE_ELSEWHERE,
    STMT_INTENT_ADD,
    STMT_INTENT_REMOVE,
    STMT_INTENTS,
    N_STMTS
};

struct _NmsState {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmts[N_STMTS];
};

/* Sets @error to "state 'PATH': @what: <SQLite's message>"; returns FALSE. */
gboolean nms_state_db_error (NmsState *state, GError **error, const char *what);
/* Runs @sql (no result rows). */
gboolean nms_state_exec (NmsState *state, const char *sql, GError **error);
/* Steps @st to its end (a write); resets it; FALSE with @error on failure. */
gboolean nms_state_step_done (NmsState *state, sqlite3_stmt *st, GError **error);
/* A copy of text column @column, NULL for NULL. (transfer full) */
char *nms_state_column_strdup (sqlite3_stmt *st, int column);

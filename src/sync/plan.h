/* SPDX-License-Identifier: GPL-3.0-or-later
 * The planner: three snapshots of one folder (server, saved state, local files) in, a list of
 * actions out. Pure data: no I/O, so plain tests cover every decision. */
#pragma once

#include <glib.h>

/* One message as one side sees it: its UID and its Maildir flag letters (sorted). */
typedef struct {
    guint32 uid;
    char flags[8];
} NmsPlanMessage;

typedef enum {
    NMS_PULL_ACTION_DOWNLOAD,     /* new on the server: fetch it; flags = server flags */
    NMS_PULL_ACTION_ADOPT,        /* a local file carries a UID the state lacks (a crash after the
                                   * file landed, before the state commit): record it, no fetch */
    NMS_PULL_ACTION_SET_FLAGS,    /* server flags changed: rename the local file to @local_flags */
    NMS_PULL_ACTION_RECORD,       /* only the agreed flags change; the file already matches */
    NMS_PULL_ACTION_DELETE_LOCAL, /* expunged on the server: delete the local file */
    NMS_PULL_ACTION_FORGET,       /* expunged on the server, no local file: forget the UID */
} NmsPullActionKind;

typedef struct {
    NmsPullActionKind kind;
    guint32 uid;
    char server_flags[8]; /* the flags to record as agreed (server's view) */
    char local_flags[8];  /* SET_FLAGS/ADOPT: the flags the local file should carry */
    int local_index;      /* index into the local array, or -1 */
} NmsPullAction;

typedef struct {
    guint downloads;
    guint deletions;        /* DELETE_LOCAL actions planned (before the guard) */
    guint known;            /* messages the state knew in this folder */
    gboolean guard_tripped; /* deletions held back: more than half of >= 10 known messages */
} NmsPullPlanSummary;

/* Merges one message's flags for the pull direction, three-way: what the server added or
 * removed since the agreed @state flags is applied to @local; local changes not yet pushed
 * stay. @out gets sorted letters (room for 8 bytes). */
void nms_plan_merge_flags (const char *local, const char *state, const char *server, char *out);

/* Plans a pull. All three arrays must be sorted by uid, without duplicate UIDs. Unless @force,
 * a plan that would delete more than half the known messages (and at least 10) keeps its other
 * actions, drops the deletions and sets summary_out->guard_tripped.
 * (transfer full: GArray of NmsPullAction, downloads last, in uid order) */
GArray *nms_plan_pull (const NmsPlanMessage *server, gsize n_server, const NmsPlanMessage *state,
                       gsize n_state, const NmsPlanMessage *local, gsize n_local, gboolean force,
                       NmsPullPlanSummary *summary_out);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The planner: three snapshots of one folder (server, saved state, local files) in, a list of
 * actions out. Pure data: no I/O, so plain tests cover every decision. Pull, push and sync
 * are the same three-way merge with different directions. */
#pragma once

#include <glib.h>

#include "maildir/maildir.h"

/* One message as one side sees it: its UID and its Maildir flag letters (sorted). */
typedef struct {
    guint32 uid;
    char flags[NMS_MAILDIR_FLAGS_SIZE];
} NmsPlanMessage;

typedef enum {
    NMS_PLAN_PULL = 1 << 0, /* server changes reach the Maildir */
    NMS_PLAN_PUSH = 1 << 1, /* local changes reach the server */
    NMS_PLAN_SYNC = NMS_PLAN_PULL | NMS_PLAN_PUSH,
} NmsPlanDirection;

typedef struct {
    NmsPlanDirection direction;
    gboolean delete_local;  /* a message expunged on the server may be deleted locally */
    gboolean delete_server; /* a message deleted locally may be deleted on the server */
    gboolean force;         /* no mass-deletion guard */
    gboolean local_guard_later; /* DELETE_LOCAL actions are kept whatever their number: the
                                 * caller defers them and applies the guard once server-side
                                 * moves are known (server-moves.c) */
} NmsPlanPolicy;

typedef enum {
    NMS_ACTION_DOWNLOAD,      /* new on the server: fetch it */
    NMS_ACTION_ADOPT,         /* a local file carries a UID the state lacks (a crash after the
                               * file landed, before the state commit): record it, no fetch;
                               * flags as for UPDATE */
    NMS_ACTION_UPDATE,        /* flags changed on a side: rename the local file to
                               * @local_flags, STORE @add/@remove on the server, record */
    NMS_ACTION_DELETE_LOCAL,  /* expunged on the server: delete the local file, forget */
    NMS_ACTION_DELETE_SERVER, /* deleted locally: \Deleted + UID EXPUNGE on the server, forget */
    NMS_ACTION_FORGET,        /* gone from both sides: forget the UID */
    NMS_ACTION_UPLOAD,        /* a local file carries a UID neither the server nor the state
                               * knows: upload it as a new message */
} NmsActionKind;

typedef struct {
    NmsActionKind kind;
    guint32 uid;
    char state_flags[NMS_MAILDIR_FLAGS_SIZE]; /* the flags to record as agreed */
    char local_flags[NMS_MAILDIR_FLAGS_SIZE]; /* UPDATE/ADOPT: the flags the local file should carry */
    char add[NMS_MAILDIR_FLAGS_SIZE];         /* UPDATE/ADOPT: flags to add on the server */
    char remove[NMS_MAILDIR_FLAGS_SIZE];      /* UPDATE/ADOPT: flags to remove on the server */
    int local_index;     /* index into the local array, or -1 */
} NmsAction;

typedef struct {
    guint downloads;
    guint uploads;
    guint deletions_local;  /* DELETE_LOCAL planned (before the guard) */
    guint deletions_server; /* DELETE_SERVER planned (before the guard) */
    guint known;            /* messages the state knew in this folder */
    gboolean guard_local;   /* local deletions held back: more than half of >= 10 known */
    gboolean guard_server;  /* server deletions held back, likewise */
} NmsPlanSummary;

/* Merges one message's flags three-way: where @changed differs from @base, @changed wins; the
 * other letters come from @other. (nms_plan_merge_flags (local, state, server) is what a sync
 * wants locally: server changes applied, local ones kept.) @out gets sorted letters (room for
 * NMS_MAILDIR_FLAGS_SIZE bytes). */
void nms_plan_merge_flags (const char *other, const char *base, const char *changed, char *out);

/* TRUE when @deletions of @known messages are too many for one run without --force: more than
 * half, and at least 10. */
gboolean nms_plan_too_many (guint deletions, guint known);

/* Plans one folder. The three arrays must be sorted by uid, without duplicate UIDs. Unless
 * @policy->force, the deletions of a side are dropped when they would remove more than half
 * the known messages (and at least 10); the summary says so.
 * (transfer full: GArray of NmsAction: flag and deletion actions in uid order, then uploads,
 * then downloads) */
GArray *nms_plan_folder (const NmsPlanMessage *server, gsize n_server,
                         const NmsPlanMessage *state, gsize n_state,
                         const NmsPlanMessage *local, gsize n_local, const NmsPlanPolicy *policy,
                         NmsPlanSummary *summary_out);

/* Removes every action of @kind from @actions (a guard holding back a side's deletions). */
void nms_plan_drop_kind (GArray *actions, NmsActionKind kind);

/* ---- plan-moves.c: files moved between folders by another tool ------------------------- */

/* A local file that the state does not place in its folder, as the run's snapshots saw it
 * (strings transfer none). */
typedef struct {
    const char *dest;   /* the folder the file is in now */
    const char *base;   /* its unique part */
    const char *source; /* the folder where the state records that unique part; NULL: none
                         * (a new file, which its folder's sync uploads) */
    guint32 uid;        /* the message's UID in @source */
    gboolean source_on_server; /* @source takes part in the run and exists on the server */
    gboolean source_has_file;  /* @source still holds a file with that unique part: a copy */
    gboolean dest_has_status;  /* @dest's STATUS at the start of the run is known: */
    guint32 dest_uidnext;      /* its UIDNEXT then */
} NmsMoveCandidate;

/* What the server offers for moving a message. */
typedef struct {
    gboolean has_move;    /* RFC 6851 MOVE */
    gboolean has_uidplus; /* RFC 4315 UIDPLUS: UID EXPUNGE of exactly our message */
} NmsMoveServer;

typedef enum {
    NMS_MOVE_BY_MOVE,         /* UID MOVE */
    NMS_MOVE_BY_COPY_EXPUNGE, /* UID COPY, STORE \Deleted, UID EXPUNGE */
    NMS_MOVE_BY_COPY_MARK,    /* UID COPY, STORE \Deleted; a plain EXPUNGE would also remove
                               * what other clients marked, so the original stays marked */
} NmsMoveMethod;

typedef struct {
    guint candidate;      /* the moved file: an index into the candidates */
    NmsMoveMethod method;
    guint32 search_from;  /* without COPYUID, the copy is the newest message of @dest from this
                           * UID on with the file's Message-ID and size that the state does not
                           * know: @dest's UIDNEXT at the start of the run, 1 when unknown */
    gboolean search_older; /* not found there: look from UID 1 too (another client moved the
                            * message the same way before this run, so the server had nothing
                            * left to move and the copy is older) */
} NmsMove;

/* Decides which @candidates are moves to carry out on the server: those whose message the
 * state records in another folder of the run that exists on the server and no longer holds
 * the file. A file still in its old folder too is a copy (uploaded as a new message). One
 * message moves once: when several files claim it (copied, then the original removed), the
 * first one moves and the others are copies. Pure: no I/O.
 * (transfer full: GArray of NmsMove, in candidate order) */
GArray *nms_plan_moves (const NmsMoveCandidate *candidates, guint n_candidates,
                        const NmsMoveServer *server);

/* Messages another client moved on the server (gone from A, new in B in the same run): a new
 * server message of B whose Message-ID and CRLF size the state records in another folder,
 * with the file the state names there (server-moves.c links it into B instead of a download).
 * The snapshot, one row per such record (strings transfer none): */
typedef struct {
    guint message;      /* the new server message (the caller's index) */
    const char *folder; /* the other folder */
    const char *base;   /* the unique part of its file there */
    gboolean has_file;  /* that folder holds a file with that unique part now */
} NmsTakeSource;

/* Decides, for each new server message, which files it may take along instead of being
 * downloaded: the rows whose file is there, in the order given (the state's: by folder and
 * UID); the executor links the first it can, and downloads the message when it can link none.
 * A message with no such row is downloaded. Pure: no I/O.
 * (transfer full: GArray of guint, indices into @sources, grouped by message in their order) */
GArray *nms_plan_take_moved (const NmsTakeSource *sources, guint n_sources);

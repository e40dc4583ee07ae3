/* SPDX-License-Identifier: GPL-3.0-or-later
 * NmsContext: what travels through a run instead of globals: verbosity, dry-run, the progress
 * counters and the sink that the command line turns into terminal or journal output. */
#pragma once

#include <glib.h>

typedef enum {
    NMS_LEVEL_ERROR,   /* something was skipped or failed: always shown, on stderr */
    NMS_LEVEL_WARNING, /* shown unless -q */
    NMS_LEVEL_INFO,    /* -v: per-folder lines */
    NMS_LEVEL_DEBUG,   /* -vv and more */
} NmsLevel;

/* Counters a run updates as it goes; the command line reads them to draw the status line. */
typedef struct {
    guint folders_total;
    guint folders_done;
    guint64 messages_added;    /* downloaded (pull) */
    guint64 bytes_added;
    guint64 flags_changed;     /* local files renamed because server flags changed */
    guint64 messages_deleted;  /* local files removed because the server expunged them */
    guint64 uploaded;          /* local messages appended to the server (push) */
    guint64 bytes_uploaded;
    guint64 flags_pushed;      /* server messages whose flags were changed (push) */
    guint64 deleted_server;    /* server messages deleted because they were deleted locally */
    guint64 moved;             /* messages moved between folders on the server */
    guint64 folders_created;   /* folders created on the server or locally */
    guint64 skipped;           /* messages or folders skipped, each reported at NMS_LEVEL_ERROR */
} NmsProgress;

typedef struct _NmsContext NmsContext;
struct _NmsContext {
    int verbosity;       /* -1 quiet, 0 normal, 1 -v, 2 -vv ... */
    gboolean changes_only; /* watch: no summary line for a run that changed nothing, even at -v */
    gboolean dry_run;
    NmsProgress progress;
    /* Called for every message at a level the verbosity shows; (transfer none) text. */
    void (*emit) (NmsContext *ctx, NmsLevel level, const char *text);
    /* Called when progress changed; may be NULL. Cheap callers only: it runs per chunk. */
    void (*progress_changed) (NmsContext *ctx);
    /* Called when a folder is done with what it added to the progress (--json's per-folder
     * counts); may be NULL. */
    void (*folder_done) (NmsContext *ctx, const char *folder, const NmsProgress *delta);
    gpointer user_data;
};

/* Formats and sends a message through ctx->emit when the verbosity shows @level. */
void nms_context_log (NmsContext *ctx, NmsLevel level, const char *fmt, ...) G_GNUC_PRINTF (3, 4);

/* Counts a skipped message or folder and reports @fmt at NMS_LEVEL_ERROR. */
void nms_context_skip (NmsContext *ctx, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

/* @now - @before, counter by counter, into *@delta_out. */
void nms_progress_diff (const NmsProgress *now, const NmsProgress *before,
                        NmsProgress *delta_out);

/* Tells the sink (through a worker context's parent) that @folder is done, having changed the
 * progress by @delta. */
void nms_context_folder_done (NmsContext *ctx, const char *folder, const NmsProgress *delta);

/* Tells the sink that progress moved. */
void nms_context_progress (NmsContext *ctx);

/* Adds @delta to ctx->progress and tells the sink, under the lock that log, skip and progress
 * also take: how the workers of one run, each counting in a context of its own, report into
 * the shared one. Everything else about a context is for one thread at a time. */
void nms_context_add_progress (NmsContext *ctx, const NmsProgress *delta);

/* A context for one worker thread of a run: it has @parent's verbosity and dry-run; its
 * messages are kept until nms_context_flush () sends them to @parent together (so that one
 * folder's lines stay together), and its progress is added to @parent as it moves.
 * (transfer full) */
NmsContext *nms_context_new_child (NmsContext *parent);
/* Sends the kept messages of @child to its parent, in order and without other lines between,
 * and adds what is left of its progress. */
void nms_context_flush (NmsContext *child);
/* Flushes and frees a context from nms_context_new_child (); NULL is fine. */
void nms_context_free_child (NmsContext *child);

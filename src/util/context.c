/* SPDX-License-Identifier: GPL-3.0-or-later
 * NmsContext helpers: level filtering, skip counting, and the lock that lets the workers of
 * one run (sync/workers.c) share a context. */
#include "nms-build.h"

#include "util/context.h"

/* Serialises the sink: the workers of a run report into one context, and a line must reach
 * the terminal whole and the counters stay exact. One lock for every context is enough (there
 * is one sink per process); recursive, because a sink may log from inside progress_changed.
 * A statically allocated GRecMutex needs no initialisation. */
static GRecMutex sink_lock;

static gboolean
level_shown (const NmsContext *ctx, NmsLevel level)
{
    switch (level) {
    case NMS_LEVEL_ERROR:
        return TRUE;
    case NMS_LEVEL_WARNING:
        return ctx->verbosity >= 0;
    case NMS_LEVEL_INFO:
        return ctx->verbosity >= 1;
    case NMS_LEVEL_DEBUG:
        return ctx->verbosity >= 2;
    }
    return FALSE;
}

static void
emit_va (NmsContext *ctx, NmsLevel level, const char *fmt, va_list ap)
{
    g_autofree char *text = NULL;

    if (ctx == NULL || ctx->emit == NULL || !level_shown (ctx, level))
        return;
    text = g_strdup_vprintf (fmt, ap);
    g_rec_mutex_lock (&sink_lock);
    ctx->emit (ctx, level, text);
    g_rec_mutex_unlock (&sink_lock);
}

void
nms_context_log (NmsContext *ctx, NmsLevel level, const char *fmt, ...)
{
    va_list ap;

    va_start (ap, fmt);
    emit_va (ctx, level, fmt, ap);
    va_end (ap);
}

void
nms_context_skip (NmsContext *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx != NULL) {
        g_rec_mutex_lock (&sink_lock);
        ctx->progress.skipped++;
        g_rec_mutex_unlock (&sink_lock);
    }
    va_start (ap, fmt);
    emit_va (ctx, NMS_LEVEL_ERROR, fmt, ap);
    va_end (ap);
}

void
nms_progress_diff (const NmsProgress *now, const NmsProgress *before, NmsProgress *delta_out)
{
    *delta_out = (NmsProgress) {
        .folders_total = now->folders_total - before->folders_total,
        .folders_done = now->folders_done - before->folders_done,
        .messages_added = now->messages_added - before->messages_added,
        .bytes_added = now->bytes_added - before->bytes_added,
        .flags_changed = now->flags_changed - before->flags_changed,
        .messages_deleted = now->messages_deleted - before->messages_deleted,
        .uploaded = now->uploaded - before->uploaded,
        .bytes_uploaded = now->bytes_uploaded - before->bytes_uploaded,
        .flags_pushed = now->flags_pushed - before->flags_pushed,
        .deleted_server = now->deleted_server - before->deleted_server,
        .moved = now->moved - before->moved,
        .folders_created = now->folders_created - before->folders_created,
        .skipped = now->skipped - before->skipped,
    };
}

void
nms_context_folder_done (NmsContext *ctx, const char *folder, const NmsProgress *delta)
{
    if (ctx != NULL && ctx->folder_done != NULL) {
        g_rec_mutex_lock (&sink_lock);
        ctx->folder_done (ctx, folder, delta);
        g_rec_mutex_unlock (&sink_lock);
    }
}

void
nms_context_progress (NmsContext *ctx)
{
    if (ctx != NULL && ctx->progress_changed != NULL) {
        g_rec_mutex_lock (&sink_lock);
        ctx->progress_changed (ctx);
        g_rec_mutex_unlock (&sink_lock);
    }
}

void
nms_context_add_progress (NmsContext *ctx, const NmsProgress *delta)
{
    NmsProgress *p = &ctx->progress;

    g_rec_mutex_lock (&sink_lock);
    p->folders_total += delta->folders_total;
    p->folders_done += delta->folders_done;
    p->messages_added += delta->messages_added;
    p->bytes_added += delta->bytes_added;
    p->flags_changed += delta->flags_changed;
    p->messages_deleted += delta->messages_deleted;
    p->uploaded += delta->uploaded;
    p->bytes_uploaded += delta->bytes_uploaded;
    p->flags_pushed += delta->flags_pushed;
    p->deleted_server += delta->deleted_server;
    p->moved += delta->moved;
    p->folders_created += delta->folders_created;
    p->skipped += delta->skipped;
    if (ctx->progress_changed != NULL)
        ctx->progress_changed (ctx);
    g_rec_mutex_unlock (&sink_lock);
}

/* ---- worker contexts ------------------------------------------------------------------- */

typedef struct {
    NmsLevel level;
    char *text;
} Line;

typedef struct {
    NmsContext *parent;
    NmsProgress reported; /* the part of the child's progress already added to the parent */
    GArray *lines;        /* Line, kept until nms_context_flush */
} Child;

static void
line_clear (gpointer p)
{
    g_free (((Line *) p)->text);
}

static void
child_emit (NmsContext *ctx, NmsLevel level, const char *text)
{
    Child *c = ctx->user_data;
    Line line = { level, g_strdup (text) };

    g_array_append_val (c->lines, line);
}

/* Adds what the child counted since the last call to the parent. */
static void
child_report (NmsContext *ctx)
{
    Child *c = ctx->user_data;
    NmsProgress delta;

    nms_progress_diff (&ctx->progress, &c->reported, &delta);
    c->reported = ctx->progress;
    nms_context_add_progress (c->parent, &delta);
}

static void
child_folder_done (NmsContext *ctx, const char *folder, const NmsProgress *delta)
{
    nms_context_folder_done (((Child *) ctx->user_data)->parent, folder, delta);
}

NmsContext *
nms_context_new_child (NmsContext *parent)
{
    NmsContext *ctx = g_new0 (NmsContext, 1);
    Child *c = g_new0 (Child, 1);

    c->parent = parent;
    c->lines = g_array_new (FALSE, FALSE, sizeof (Line));
    g_array_set_clear_func (c->lines, line_clear);
    ctx->verbosity = parent->verbosity;
    ctx->dry_run = parent->dry_run;
    ctx->emit = child_emit;
    ctx->progress_changed = child_report;
    ctx->folder_done = child_folder_done;
    ctx->user_data = c;
    return ctx;
}

void
nms_context_flush (NmsContext *ctx)
{
    Child *c = ctx->user_data;

    g_rec_mutex_lock (&sink_lock);
    for (guint i = 0; i < c->lines->len; i++) {
        Line *line = &g_array_index (c->lines, Line, i);
        if (c->parent->emit != NULL)
            c->parent->emit (c->parent, line->level, line->text);
    }
    g_array_set_size (c->lines, 0);
    child_report (ctx);
    g_rec_mutex_unlock (&sink_lock);
}

void
nms_context_free_child (NmsContext *ctx)
{
    Child *c;

    if (ctx == NULL)
        return;
    c = ctx->user_data;
    nms_context_flush (ctx);
    g_array_unref (c->lines);
    g_free (c);
    g_free (ctx);
}

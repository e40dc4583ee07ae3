/* SPDX-License-Identifier: GPL-3.0-or-later
 * NmsContext helpers: level filtering and skip counting. */
#include "config.h"

#include "util/context.h"

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
    ctx->emit (ctx, level, text);
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

    if (ctx != NULL)
        ctx->progress.skipped++;
    va_start (ap, fmt);
    emit_va (ctx, NMS_LEVEL_ERROR, fmt, ap);
    va_end (ap);
}

void
nms_context_progress (NmsContext *ctx)
{
    if (ctx != NULL && ctx->progress_changed != NULL)
        ctx->progress_changed (ctx);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Output: messages on stderr; on a terminal one status line redrawn in place (at most ten
 * times a second); at the end of each account one summary line on stdout, which is what the
 * journal keeps when nmsync runs from systemd or cron. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/json.h"


/* Lives in ctx->user_data for the run. */
typedef struct {
    gboolean tty;
    gboolean line_shown;
    gint64 last_draw;
    gint64 started;
    const char *account;
    NmsProgress at_start;
    gboolean json;     /* --json: one object per account instead of the summary line */
    GPtrArray *errors; /* the account's NMS_LEVEL_ERROR lines, for --json (char*) */
    GHashTable *folders; /* folder name -> NmsProgress: what each folder did, for --json */
} Output;


/* "s" unless @n is 1: "1 folder", "2 folders". */
static const char *
plural (guint64 n)
{
    return n == 1 ? "" : "s";
}

/* Nothing crossed, nothing changed, nothing skipped or failed: a run a timer starts every few
 * minutes does not fill the journal with zeros (the line comes back at -v). */
static gboolean
nothing_happened (const NmsProgress *p, const NmsProgress *s, const NmsApplyCounts *rules)
{
    return p->messages_added == s->messages_added && p->flags_changed == s->flags_changed &&
           p->messages_deleted == s->messages_deleted && p->uploaded == s->uploaded &&
           p->flags_pushed == s->flags_pushed && p->deleted_server == s->deleted_server &&
           p->moved == s->moved && p->folders_created == s->folders_created &&
           p->skipped == s->skipped &&
           (rules == NULL || (rules->moved == 0 && rules->reflagged == 0 && rules->retagged == 0));
}

static Output *
output_of (NmsContext *ctx)
{
    return ctx->user_data;
}

static void
format_bytes (char *buf, gsize size, double bytes)
{
    if (bytes >= 1024.0 * 1024 * 1024)
        g_snprintf (buf, size, "%.1f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024)
        g_snprintf (buf, size, "%.1f MiB", bytes / (1024.0 * 1024));
    else if (bytes >= 1024.0)
        g_snprintf (buf, size, "%.1f KiB", bytes / 1024.0);
    else
        g_snprintf (buf, size, "%.0f B", bytes);
}

static void
clear_line (Output *o)
{
    if (o->line_shown) {
        fputs ("\r\033[K", stderr);
        o->line_shown = FALSE;
    }
}

static void
draw (NmsContext *ctx, gboolean force)
{
    Output *o = output_of (ctx);
    gint64 now = g_get_monotonic_time ();
    const NmsProgress *p = &ctx->progress;
    double secs, bytes;
    char size[32], rate[32];

    if (!o->tty || o->account == NULL || ctx->verbosity < 0)
        return;
    if (!force && now - o->last_draw < G_USEC_PER_SEC / 10)
        return;
    o->last_draw = now;
    secs = MAX ((now - o->started) / (double) G_USEC_PER_SEC, 0.001);
    bytes = (double) (p->bytes_added - o->at_start.bytes_added);
    format_bytes (size, sizeof size, bytes);
    format_bytes (rate, sizeof rate, bytes / secs);
    fprintf (stderr, "\r\033[K%s: folders %u/%u, %" G_GUINT64_FORMAT " message%s, %s, %s/s",
             o->account, p->folders_done - o->at_start.folders_done,
             p->folders_total - o->at_start.folders_total,
             p->messages_added - o->at_start.messages_added,
             plural (p->messages_added - o->at_start.messages_added), size, rate);
    fflush (stderr);
    o->line_shown = TRUE;
}

static void
emit (NmsContext *ctx, NmsLevel level, const char *text)
{
    Output *o = output_of (ctx);

    /* Runs under the context's lock (nms_context_log), so the array needs none of its own. */
    if (o->json && o->account != NULL && level == NMS_LEVEL_ERROR)
        g_ptr_array_add (o->errors, g_strdup (text));
    clear_line (ctx->user_data);
    fprintf (stderr, "%s%s\n", level == NMS_LEVEL_ERROR ? "nmsync: " : "", text);
    draw (ctx, TRUE);
}

static void
progress_changed (NmsContext *ctx)
{
    draw (ctx, FALSE);
}

/* Runs under the context's lock, like emit(). */
static void
folder_done (NmsContext *ctx, const char *folder, const NmsProgress *delta)
{
    Output *o = output_of (ctx);
    NmsProgress *sum;

    if (!o->json || o->account == NULL)
        return;
    sum = g_hash_table_lookup (o->folders, folder);
    if (sum == NULL) {
        sum = g_new0 (NmsProgress, 1);
        g_hash_table_insert (o->folders, g_strdup (folder), sum);
    }
    sum->messages_added += delta->messages_added;
    sum->bytes_added += delta->bytes_added;
    sum->flags_changed += delta->flags_changed;
    sum->messages_deleted += delta->messages_deleted;
    sum->uploaded += delta->uploaded;
    sum->bytes_uploaded += delta->bytes_uploaded;
    sum->flags_pushed += delta->flags_pushed;
    sum->deleted_server += delta->deleted_server;
    sum->moved += delta->moved;
    sum->folders_created += delta->folders_created;
    sum->skipped += delta->skipped;
}

void
nms_output_init (NmsContext *ctx, int verbosity, gboolean json)
{
    Output *o = g_new0 (Output, 1);

    o->json = json;
    o->errors = g_ptr_array_new_with_free_func (g_free);
    o->folders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    o->tty = isatty (STDERR_FILENO);
    ctx->user_data = o;
    ctx->verbosity = verbosity;
    ctx->emit = emit;
    ctx->progress_changed = progress_changed;
    ctx->folder_done = folder_done;
}

void
nms_output_account_begin (NmsContext *ctx, const char *account)
{
    Output *o = output_of (ctx);

    o->account = account;
    g_ptr_array_set_size (o->errors, 0);
    g_hash_table_remove_all (o->folders);
    o->started = g_get_monotonic_time ();
    o->at_start = ctx->progress;
    draw (ctx, TRUE);
}

static void
append_count (GString *out, const char *key, guint64 n)
{
    nms_json_append_key (out, key);
    g_string_append_printf (out, "%" G_GUINT64_FORMAT ",", n);
}

static gboolean
folder_changed (const NmsProgress *f)
{
    return f->messages_added || f->flags_changed || f->messages_deleted || f->uploaded ||
           f->flags_pushed || f->deleted_server || f->moved || f->folders_created || f->skipped;
}

static int
cmp_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/* "per_folder":{"NAME":{...},...}, the folders in name order, only those where something
 * happened: a run over a thousand unchanged folders stays one short line. */
static void
append_folders (GString *out, Output *o, gboolean pushed)
{
    g_autofree gpointer *names = (gpointer *) g_hash_table_get_keys_as_array (o->folders, NULL);
    guint n = g_hash_table_size (o->folders);
    gboolean first = TRUE;

    qsort (names, n, sizeof *names, cmp_names);
    nms_json_append_key (out, "per_folder");
    g_string_append_c (out, '{');
    for (guint i = 0; i < n; i++) {
        const NmsProgress *f = g_hash_table_lookup (o->folders, names[i]);

        if (!folder_changed (f))
            continue;
        if (!first)
            g_string_append_c (out, ',');
        first = FALSE;
        nms_json_append_key (out, names[i]);
        g_string_append_c (out, '{');
        append_count (out, "new", f->messages_added);
        append_count (out, "bytes", f->bytes_added);
        append_count (out, "flags_changed", f->flags_changed);
        append_count (out, "deleted", f->messages_deleted);
        if (pushed) {
            g_string_append (out, "\"server\":{");
            append_count (out, "uploaded", f->uploaded);
            append_count (out, "bytes", f->bytes_uploaded);
            append_count (out, "flags_changed", f->flags_pushed);
            append_count (out, "deleted", f->deleted_server);
            append_count (out, "moved", f->moved);
            g_string_truncate (out, out->len - 1);
            g_string_append (out, "},");
        }
        append_count (out, "skipped", f->skipped);
        g_string_truncate (out, out->len - 1);
        g_string_append_c (out, '}');
    }
    g_string_append (out, "},");
}

/* The summary as one JSON object on one line: always printed (scripts count on one object per
 * account), -q or not. */
static void
print_json (NmsContext *ctx, const char *account, const char *failure, gboolean pushed,
            const NmsApplyCounts *rules, double secs)
{
    Output *o = output_of (ctx);
    const NmsProgress *p = &ctx->progress, *s = &o->at_start;
    g_autoptr (GString) out = g_string_new ("{");

    nms_json_append_key (out, "account");
    nms_json_append_string (out, account);
    g_string_append_printf (out, ",\"ok\":%s,", failure == NULL && p->skipped == s->skipped
                                                      ? "true" : "false");
    nms_json_append_key (out, "failure");
    nms_json_append_string (out, failure);
    g_string_append_c (out, ',');
    append_count (out, "new", p->messages_added - s->messages_added);
    append_count (out, "bytes", p->bytes_added - s->bytes_added);
    append_count (out, "flags_changed", p->flags_changed - s->flags_changed);
    append_count (out, "deleted", p->messages_deleted - s->messages_deleted);
    if (pushed) {
        g_string_append (out, "\"server\":{");
        append_count (out, "uploaded", p->uploaded - s->uploaded);
        append_count (out, "bytes", p->bytes_uploaded - s->bytes_uploaded);
        append_count (out, "flags_changed", p->flags_pushed - s->flags_pushed);
        append_count (out, "deleted", p->deleted_server - s->deleted_server);
        append_count (out, "moved", p->moved - s->moved);
        append_count (out, "folders_created", p->folders_created - s->folders_created);
        g_string_truncate (out, out->len - 1);
        g_string_append (out, "},");
    }
    if (rules != NULL) {
        g_string_append (out, "\"rules\":{");
        append_count (out, "looked_at", rules->looked_at);
        append_count (out, "moved", rules->moved);
        append_count (out, "flags_changed", rules->reflagged);
        append_count (out, "tags_changed", rules->retagged);
        g_string_truncate (out, out->len - 1);
        g_string_append (out, "},");
    }
    append_count (out, "skipped", p->skipped - s->skipped);
    append_count (out, "folders", p->folders_done - s->folders_done);
    append_folders (out, o, pushed);
    nms_json_append_key (out, "errors");
    g_string_append_c (out, '[');
    for (guint i = 0; i < o->errors->len; i++) {
        if (i > 0)
            g_string_append_c (out, ',');
        nms_json_append_string (out, g_ptr_array_index (o->errors, i));
    }
    g_string_append (out, "],");
    nms_json_append_key (out, "seconds");
    nms_json_append_double (out, secs, 3);
    g_string_append (out, "}\n");
    fputs (out->str, stdout);
    fflush (stdout);
    g_ptr_array_set_size (o->errors, 0);
}

void
nms_output_account_end (NmsContext *ctx, const char *account, const char *failure,
                        gboolean pushed, const NmsApplyCounts *rules)
{
    Output *o = output_of (ctx);
    const NmsProgress *p = &ctx->progress, *s = &o->at_start;
    double secs = (g_get_monotonic_time () - o->started) / (double) G_USEC_PER_SEC;
    g_autofree char *server = NULL, *by_rules = NULL;
    char size[32];

    clear_line (ctx->user_data);
    o->account = NULL;
    if (o->json) {
        print_json (ctx, account, failure, pushed, rules, secs);
        return;
    }
    if (ctx->verbosity < 0 && failure == NULL && p->skipped == s->skipped)
        return;
    if ((ctx->verbosity == 0 || ctx->changes_only) && failure == NULL &&
        nothing_happened (p, s, rules))
        return;
    format_bytes (size, sizeof size, (double) (p->bytes_added - s->bytes_added));
    if (pushed) {
        char up[32];

        format_bytes (up, sizeof up, (double) (p->bytes_uploaded - s->bytes_uploaded));
        server = g_strdup_printf (
            "; server: %" G_GUINT64_FORMAT " uploaded (%s), %" G_GUINT64_FORMAT
            " flags changed, %" G_GUINT64_FORMAT " deleted, %" G_GUINT64_FORMAT " moved, %"
            G_GUINT64_FORMAT " folder%s created",
            p->uploaded - s->uploaded, up, p->flags_pushed - s->flags_pushed,
            p->deleted_server - s->deleted_server, p->moved - s->moved,
            p->folders_created - s->folders_created,
            plural (p->folders_created - s->folders_created));
    }
    if (rules != NULL && (rules->moved > 0 || rules->reflagged > 0 || rules->retagged > 0))
        by_rules = g_strdup_printf ("; rules: %u moved, %u flags changed, %u tags changed",
                                    rules->moved, rules->reflagged, rules->retagged);
    printf ("%s: %" G_GUINT64_FORMAT " new (%s), %" G_GUINT64_FORMAT " flags changed, %"
            G_GUINT64_FORMAT " deleted%s%s; %" G_GUINT64_FORMAT " skipped, %u folder%s in %.1f s%s\n",
            account, p->messages_added - s->messages_added, size,
            p->flags_changed - s->flags_changed, p->messages_deleted - s->messages_deleted,
            server ? server : "", by_rules ? by_rules : "", p->skipped - s->skipped,
            p->folders_done - s->folders_done, plural (p->folders_done - s->folders_done), secs,
            failure != NULL ? "; failed (the error is on stderr)" : "");
    fflush (stdout);
}

void
nms_output_status (NmsContext *ctx, const char *text)
{
    Output *o = output_of (ctx);

    if (!o->tty || ctx->verbosity < 0)
        return;
    clear_line (o);
    fprintf (stderr, "nmsync: %s", text);
    fflush (stderr);
    o->line_shown = TRUE;
}

void
nms_output_finish (NmsContext *ctx)
{
    Output *o = output_of (ctx);

    clear_line (o);
    g_ptr_array_unref (o->errors);
    g_hash_table_unref (o->folders);
    g_clear_pointer (&ctx->user_data, g_free);
}

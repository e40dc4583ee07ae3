/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync check [--fix] [ACCOUNT[/FOLDER]...] and nmsync status [ACCOUNT...]: parse, call
 * src/check/, print. The table formats are documented in nmsync(1) and stable: a script may
 * read them by columns. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "check/check.h"
#include "imap/imap.h"
#include "state/state.h"
#include "util/json.h"

/* One account named on the command line, with its folders (NULL: all). */
typedef struct {
    const NmsAccount *account;
    GPtrArray *folders; /* names, or NULL */
} Target;

static void
target_clear (Target *t)
{
    if (t->folders != NULL)
        g_ptr_array_unref (t->folders);
}

/* The accounts and folders @args name ("ACCOUNT[/FOLDER]"), in config order; every account
 * when there are none. NULL after naming an unknown account. (transfer full) */
static GArray *
targets_of (const NmsConfig *config, char **args, gboolean folders_allowed)
{
    g_autoptr (GArray) out = g_array_new (FALSE, TRUE, sizeof (Target));
    g_autoptr (GHashTable) whole = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) named = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                                          (GDestroyNotify) g_ptr_array_unref);

    g_array_set_clear_func (out, (GDestroyNotify) target_clear);
    for (char **a = args; *a != NULL; a++) {
        g_auto (GStrv) parts = g_strsplit (*a, "/", 2);
        NmsAccount *account = nms_config_find_account (config, parts[0]);
        GPtrArray *folders;

        if (account == NULL || (parts[1] != NULL && !folders_allowed)) {
            fprintf (stderr, account == NULL ? "nmsync: no account '%s' in '%s'\n"
                                             : "nmsync: '%s': name an account, not a folder\n",
                     *a, config->path);
            return NULL;
        }
        if ((folders = g_hash_table_lookup (named, account->name)) == NULL) {
            folders = g_ptr_array_new_with_free_func (g_free);
            g_hash_table_insert (named, account->name, folders);
        }
        if (parts[1] != NULL && parts[1][0] != '\0')
            g_ptr_array_add (folders, g_strdup (parts[1]));
        else
            g_hash_table_add (whole, account->name);
    }
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);
        GPtrArray *folders = g_hash_table_lookup (named, account->name);
        Target t = { .account = account };

        if (args[0] != NULL && folders == NULL)
            continue;
        if (folders != NULL && folders->len > 0 && !g_hash_table_contains (whole, account->name)) {
            t.folders = g_ptr_array_ref (folders);
            g_ptr_array_add (t.folders, NULL);
        }
        g_array_append_val (out, t);
    }
    return g_steal_pointer (&out);
}

/* The notmuch database, when notmuch is set up; read-write for a --fix that writes. Without
 * any notmuch setup check goes on without its notmuch column (said at -v); a database that
 * cannot be opened (locked longer than we wait, damaged) is said, and the rest is checked. */
static NmsDb *
open_db (NmsContext *ctx, const NmsConfig *config, gboolean writable)
{
    g_autoptr (GError) error = NULL;
    NmsDb *db = nms_db_open (config->notmuch_config, writable, nms_cli_lock_wait_ms (), &error);

    if (db != NULL)
        return db;
    if (config->notmuch_config == NULL && g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN))
        nms_context_log (ctx, NMS_LEVEL_INFO, "notmuch not checked: %s", error->message);
    else
        nms_context_log (ctx, NMS_LEVEL_WARNING, "notmuch not checked: %s", error->message);
    return NULL;
}

static void
print_count (GString *out, gint64 n)
{
    if (n < 0)
        g_string_append_printf (out, " %7s", "-");
    else
        g_string_append_printf (out, " %7" G_GINT64_FORMAT, n);
}

static void
print_report (const NmsCheckReport *r)
{
    g_autoptr (GString) out = g_string_new (NULL);

    g_string_append_printf (out, "%-32s %7s %7s %7s %7s\n", "ACCOUNT/FOLDER", "SERVER", "LOCAL",
                            "NOTMUCH", "ISSUES");
    for (guint i = 0; i < r->folders->len; i++) {
        const NmsCheckFolder *f = g_ptr_array_index (r->folders, i);
        g_autofree char *name = g_strdup_printf ("%s/%s", r->account, f->name);

        g_string_append_printf (out, "%-32s", name);
        print_count (out, f->server);
        print_count (out, f->local);
        print_count (out, f->notmuch);
        g_string_append_printf (out, " %7u\n", f->issues);
    }
    for (guint i = 0; i < r->issues->len; i++) {
        const NmsCheckIssue *issue = g_ptr_array_index (r->issues, i);
        g_autofree char *name = g_strdup_printf ("%s/%s", r->account, issue->folder);

        g_string_append_printf (out, "%-32s %-13s %s", name, nms_check_kind_name (issue->kind),
                                issue->object);
        if (issue->note != NULL)
            g_string_append_printf (out, " (%s)", issue->note);
        g_string_append_c (out, '\n');
    }
    fputs (out->str, stdout);
}

static void
json_count (GString *out, const char *key, gint64 n)
{
    g_string_append_c (out, ',');
    nms_json_append_key (out, key);
    if (n < 0)
        g_string_append (out, "null");
    else
        g_string_append_printf (out, "%" G_GINT64_FORMAT, n);
}

static void
json_pair (GString *out, const char *key, const char *value, gboolean first)
{
    if (!first)
        g_string_append_c (out, ',');
    nms_json_append_key (out, key);
    nms_json_append_string (out, value);
}

/* One JSON object per account: its folders, issues and (with --fix) repairs. */
static void
print_json (const NmsCheckReport *r, GPtrArray *fixes, GArray *done)
{
    g_autoptr (GString) out = g_string_new ("{");

    json_pair (out, "account", r->account, TRUE);
    g_string_append (out, ",\"folders\":[");
    for (guint i = 0; i < r->folders->len; i++) {
        const NmsCheckFolder *f = g_ptr_array_index (r->folders, i);

        g_string_append (out, i > 0 ? ",{" : "{");
        json_pair (out, "folder", f->name, TRUE);
        json_count (out, "server", f->server);
        json_count (out, "local", f->local);
        json_count (out, "notmuch", f->notmuch);
        json_count (out, "issues", f->issues);
        g_string_append_c (out, '}');
    }
    g_string_append (out, "],\"issues\":[");
    for (guint i = 0; i < r->issues->len; i++) {
        const NmsCheckIssue *issue = g_ptr_array_index (r->issues, i);

        g_string_append (out, i > 0 ? ",{" : "{");
        json_pair (out, "folder", issue->folder, TRUE);
        json_pair (out, "kind", nms_check_kind_name (issue->kind), FALSE);
        json_pair (out, "object", issue->object, FALSE);
        if (issue->note != NULL)
            json_pair (out, "note", issue->note, FALSE);
        g_string_append_c (out, '}');
    }
    g_string_append (out, "],\"fixes\":[");
    for (guint i = 0; fixes != NULL && i < fixes->len; i++) {
        const NmsCheckFix *fix = g_ptr_array_index (fixes, i);

        g_string_append (out, i > 0 ? ",{" : "{");
        json_pair (out, "folder", fix->folder, TRUE);
        json_pair (out, "action", nms_check_fix_name (fix->kind), FALSE);
        json_pair (out, "path", fix->path, FALSE);
        json_pair (out, "target", fix->target, FALSE);
        g_string_append_printf (out, ",\"done\":%s}",
                                g_array_index (done, gboolean, i) ? "true" : "false");
    }
    g_string_append (out, "]}\n");
    fputs (out->str, stdout);
}

/* Carries out (or, with -n, only prints) @fixes, one line each; *@done_out[i] says which were
 * done (a dry run: which would be). Returns how many. */
static guint
run_fixes (NmsContext *ctx, const char *account, GPtrArray *fixes, NmsDb *db, gboolean json,
           GArray *done)
{
    guint n = 0;

    for (guint i = 0; i < fixes->len; i++) {
        NmsCheckFix *fix = g_ptr_array_index (fixes, i);
        g_autoptr (GError) error = NULL;
        gboolean ok = ctx->dry_run || nms_check_fix_run (fix, db, &error);

        g_array_append_val (done, ok);
        if (!ok) {
            fprintf (stderr, "nmsync: %s/%s: cannot %s '%s': %s\n", account, fix->folder,
                     nms_check_fix_name (fix->kind), fix->path, error->message);
            continue;
        }
        n++;
        if (json)
            continue;
        printf ("%s/%s %s %s %s%s%s\n", account, fix->folder, ctx->dry_run ? "would-fix" : "fixed",
                nms_check_fix_name (fix->kind), fix->path, fix->target != NULL ? " -> " : "",
                fix->target != NULL ? fix->target : "");
    }
    return n;
}

static int
failure_status (const GError *error)
{
    if (error->domain == NMS_IMAP_ERROR &&
        (error->code == NMS_IMAP_ERROR_CONNECT || error->code == NMS_IMAP_ERROR_TLS ||
         error->code == NMS_IMAP_ERROR_AUTH))
        return NMS_EXIT_CONNECT;
    if (error->domain == NMS_CONFIG_ERROR || g_error_matches (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED))
        return error->domain == NMS_CONFIG_ERROR ? NMS_EXIT_CONNECT : NMS_EXIT_LOCKED;
    return NMS_EXIT_SKIPPED;
}

/* Checks (and with --fix repairs) one account: the notmuch database is opened after the
 * account lock, in the order a sync takes them, so that neither waits for the other while
 * holding what the other needs. The exit status it stands for. */
static int
check_one (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
           const Target *t)
{
    NmsCheckOptions check = { .folders = t->folders != NULL ? (char **) t->folders->pdata : NULL,
                              .now = g_get_real_time () / G_USEC_PER_SEC };
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsCheckReport) report = NULL;
    g_autoptr (GPtrArray) fixes = NULL;
    g_autoptr (GArray) done = g_array_new (FALSE, TRUE, sizeof (gboolean));
    gboolean locking = options->fix && !ctx->dry_run;
    guint fixed = 0;
    int lock = -1, status = NMS_EXIT_OK;

    /* The lock while the repairs run: no sync renames files under them. */
    if (locking && (lock = nms_cli_lock_account (ctx, config, t->account, &error)) < 0) {
        fprintf (stderr, "nmsync: %s: %s\n", t->account->name, error->message);
        return failure_status (error);
    }
    check.db = open_db (ctx, config, locking);
    report = nms_check_account (ctx, config, t->account, &check, &error);
    if (report != NULL && !options->json)
        print_report (report);
    if (report != NULL && options->fix) {
        fixes = nms_check_plan (report);
        fixed = run_fixes (ctx, t->account->name, fixes, check.db, options->json, done);
    }
    if (report == NULL) {
        fprintf (stderr, "nmsync: %s: %s\n", t->account->name, error->message);
        status = failure_status (error);
        g_clear_error (&error);
    }
    if (!nms_db_close (check.db, &error)) {
        fprintf (stderr, "nmsync: %s: %s\n", t->account->name, error->message);
        status = MAX (status, NMS_EXIT_SKIPPED);
    }
    nms_state_unlock (lock);
    if (report == NULL)
        return status;
    if (options->json)
        print_json (report, fixes, done);
    return report->issues->len > fixed ? NMS_EXIT_SKIPPED : status;
}

int
nms_cmd_check (const NmsCliOptions *options)
{
    const NmsConfig *config = options->config;
    g_autoptr (GArray) targets = NULL;
    NmsContext ctx = { .dry_run = options->dry_run };
    int status = NMS_EXIT_OK;

    if (config == NULL || (targets = targets_of (config, options->args, TRUE)) == NULL)
        return NMS_EXIT_USAGE;
    nms_output_init (&ctx, options->verbosity, FALSE);
    for (guint i = 0; i < targets->len; i++) {
        int account_status = check_one (&ctx, options, config,
                                         &g_array_index (targets, Target, i));

        status = MAX (status, account_status);
    }
    nms_output_finish (&ctx);
    return status;
}

static void
print_status_text (const NmsStatus *s)
{
    guint intents = 0;

    printf ("account %s\n", s->account);
    if (!s->exists) {
        printf ("  never synced\n");
        return;
    }
    for (guint i = 0; i < s->folders->len; i++)
        intents += ((NmsStatusFolder *) g_ptr_array_index (s->folders, i))->intents;
    printf ("  last-sync      %s\n", s->last_sync != NULL ? s->last_sync : "never");
    if (s->last_error != NULL)
        printf ("  last-error     %s %s\n", s->last_error_at != NULL ? s->last_error_at : "-",
                s->last_error);
    printf ("  intents        %u\n", intents);
    printf ("  %-30s %8s %8s\n", "FOLDER", "MESSAGES", "INTENTS");
    for (guint i = 0; i < s->folders->len; i++) {
        const NmsStatusFolder *f = g_ptr_array_index (s->folders, i);

        printf ("  %-30s %8" G_GUINT64_FORMAT " %8u\n", f->name, f->messages, f->intents);
    }
}

static void
print_status_json (const NmsStatus *s)
{
    g_autoptr (GString) out = g_string_new ("{");

    json_pair (out, "account", s->account, TRUE);
    json_pair (out, "last_sync", s->last_sync, FALSE);
    json_pair (out, "last_error", s->last_error, FALSE);
    json_pair (out, "last_error_at", s->last_error_at, FALSE);
    g_string_append (out, ",\"folders\":[");
    for (guint i = 0; i < s->folders->len; i++) {
        const NmsStatusFolder *f = g_ptr_array_index (s->folders, i);

        g_string_append (out, i > 0 ? ",{" : "{");
        json_pair (out, "folder", f->name, TRUE);
        json_count (out, "messages", (gint64) f->messages);
        json_count (out, "intents", f->intents);
        g_string_append_c (out, '}');
    }
    g_string_append (out, "]}\n");
    fputs (out->str, stdout);
}

int
nms_cmd_status (const NmsCliOptions *options)
{
    const NmsConfig *config = options->config;
    g_autoptr (GArray) targets = NULL;
    int status = NMS_EXIT_OK;

    if (config == NULL || (targets = targets_of (config, options->args, FALSE)) == NULL)
        return NMS_EXIT_USAGE;
    for (guint i = 0; i < targets->len; i++) {
        const NmsAccount *account = g_array_index (targets, Target, i).account;
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsStatus) s = nms_status_read (config->state_dir, account, &error);

        if (s == NULL) {
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            status = NMS_EXIT_SKIPPED;
        } else if (options->json) {
            print_status_json (s);
        } else {
            print_status_text (s);
        }
    }
    return status;
}

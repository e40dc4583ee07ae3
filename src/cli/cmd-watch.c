/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync watch [ACCOUNT...]: stay running and sync when the server, the Maildir or notmuch tags
 * change (src/watch/ decides when and which folders; each run is the pipeline of pipeline.c,
 * the same as `sync`). The sandbox goes up once, over every watched account, after the
 * password-commands ran; SIGHUP reloads the config and the rules. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "rules/rules.h"
#include "util/sandbox.h"
#include "watch/watch.h"

/* Debounce (nmsync(1)): a burst of events is one run once quiet this long, or at most this
 * long after its first event. */
#define QUIET_MS 300
#define MAX_DELAY_MS 3000

typedef struct {
    const NmsCliOptions *options;
    NmsContext ctx;
    NmsRules *rules;
    char **keywords;
    GHashTable *prefetched; /* account name -> NmsPrefetched, from before the sandbox */
    gboolean sandboxed;     /* the sandbox may be up: Landlock and no --no-sandbox */
    GPtrArray *writable;    /* the watched accounts' Maildirs at the start (char*) */
} Watcher;

static int
run_once (const NmsWatchRun *run, gpointer user_data)
{
    Watcher *wt = user_data;
    NmsPipelineOptions pipeline = {
        .direction = NMS_PLAN_SYNC, .force = wt->options->force,
        .rules = wt->options->no_rules ? NULL : wt->rules, .keywords = wt->keywords,
        .folders = run->folders, .rules_only = run->rules_only,
        .prefetched = g_hash_table_lookup (wt->prefetched, run->account->name),
        .on_file = nms_watch_record_file, .on_file_data = run->recorder,
    };

    if (run->rules_only && pipeline.rules == NULL)
        return NMS_EXIT_OK;
    return nms_cli_pipeline_run (&wt->ctx, run->config, run->account, &pipeline);
}

/* Whether @path is @dir or beneath it. */
static gboolean
beneath (const char *path, const char *dir)
{
    gsize n = strlen (dir);

    return strncmp (path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Landlock cannot be widened: an account added by a reload whose Maildir lies outside what the
 * running watch may write cannot be synced by it. Said, so the user restarts the watch. */
static void
warn_outside_sandbox (Watcher *wt, const NmsConfig *config)
{
    if (!wt->sandboxed)
        return;
    for (guint i = 0; i < config->accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (config->accounts, i);
        gboolean inside = FALSE;

        for (guint j = 0; j < wt->writable->len && !inside; j++)
            inside = beneath (a->maildir, g_ptr_array_index (wt->writable, j));
        if (!inside)
            nms_context_log (&wt->ctx, NMS_LEVEL_ERROR,
                             "%s: its Maildir '%s' is outside the sandbox this watch started "
                             "with; restart nmsync watch to sync it", a->name, a->maildir);
    }
}

/* SIGHUP: the config and the rules read again. A password-command of an account added now runs
 * when the account connects, inside the sandbox of the running watch (nmsync(1)). */
static NmsConfig *
reload (gpointer user_data)
{
    Watcher *wt = user_data;
    NmsConfig *config = nms_cli_load_config (wt->options);

    if (config == NULL)
        return NULL;
    warn_outside_sandbox (wt, config);
    g_clear_pointer (&wt->rules, nms_rules_free);
    g_clear_pointer (&wt->keywords, g_strfreev);
    wt->rules = nms_cli_load_rules (config);
    wt->keywords = nms_cli_rule_keywords (wt->rules);
    return config;
}

static void
idle_status (const char *text, gpointer user_data)
{
    Watcher *wt = user_data;

    nms_output_status (&wt->ctx, text);
}

/* The watched accounts (NmsAccount, transfer none), or NULL after naming a bad argument. */
static GPtrArray *
watched_accounts (const NmsConfig *config, char **args)
{
    g_autoptr (GPtrArray) accounts = g_ptr_array_new ();

    for (char **a = args; *a != NULL; a++) {
        if (strchr (*a, '/') != NULL) {
            fprintf (stderr, "nmsync: watch takes ACCOUNT names, not folders: '%s'\n", *a);
            return NULL;
        }
        if (nms_config_find_account (config, *a) == NULL) {
            fprintf (stderr, "nmsync: no account '%s' in '%s'\n", *a, config->path);
            return NULL;
        }
    }
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);

        if (args[0] == NULL || g_strv_contains ((const char *const *) args, account->name))
            g_ptr_array_add (accounts, account);
    }
    return g_steal_pointer (&accounts);
}

int
nms_cmd_watch (const NmsCliOptions *options)
{
    NmsConfig *config = nms_cli_load_config (options);
    g_autoptr (GPtrArray) accounts = NULL;
    g_autoptr (GError) error = NULL;
    Watcher wt = { .options = options };
    NmsWatchOptions watch = { .ctx = &wt.ctx, .accounts = options->args, .run = run_once,
                              .reload = reload, .idle_status = idle_status, .user_data = &wt,
                              .quiet_ms = QUIET_MS, .max_delay_ms = MAX_DELAY_MS };
    gboolean database_ready, ok;

    if (config == NULL)
        return NMS_EXIT_USAGE;
    if (options->dry_run || options->json) {
        fprintf (stderr, "nmsync: watch takes neither -n nor --json (use sync for those)\n");
        nms_config_free (config);
        return NMS_EXIT_USAGE;
    }
    if ((accounts = watched_accounts (config, options->args)) == NULL) {
        nms_config_free (config);
        return NMS_EXIT_USAGE;
    }
    wt.rules = nms_cli_load_rules (config);
    wt.keywords = nms_cli_rule_keywords (wt.rules);
    wt.prefetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) nms_prefetched_free);
    nms_output_init (&wt.ctx, options->verbosity, FALSE);
    /* One line per run that changed something, at -v too (-v adds the events): the server
     * reports nmsync's own uploads and flag changes back (NOTIFY/IDLE cannot tell whose they
     * were), and the cheap run that follows finds nothing to do. */
    wt.ctx.changes_only = TRUE;
    wt.sandboxed = !options->no_sandbox && nms_sandbox_abi () > 0;
    wt.writable = g_ptr_array_new_with_free_func (g_free);
    for (guint i = 0; i < accounts->len; i++) {
        const NmsAccount *a = g_ptr_array_index (accounts, i);

        g_ptr_array_add (wt.writable, g_strdup (a->maildir));
        if (a->tunnel != NULL) /* nms_confine_sync leaves such a run unconfined */
            wt.sandboxed = FALSE;
    }
    database_ready = nms_cli_ensure_database (&wt.ctx, config, FALSE);
    nms_confine_sync (&wt.ctx, options, config, accounts, wt.prefetched);
    if (!database_ready)
        nms_cli_ensure_database (&wt.ctx, config, TRUE);
    watch.config = config; /* the loop owns it from here */
    ok = nms_watch_loop (&watch, &error);
    if (!ok)
        fprintf (stderr, "nmsync: watch: %s\n", error->message);
    nms_output_finish (&wt.ctx);
    g_clear_pointer (&wt.rules, nms_rules_free);
    g_strfreev (wt.keywords);
    g_hash_table_unref (wt.prefetched);
    g_ptr_array_unref (wt.writable);
    return ok ? NMS_EXIT_OK : NMS_EXIT_USAGE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync pull|push|sync [ACCOUNT[/FOLDER]...]: the named accounts (default all) in one or both
 * directions: which accounts and folders, then the pipeline of each (pipeline.c). `sync` is
 * the whole pipeline; pull and push are the IMAP stage alone. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "config/config.h"
#include "notmuch/notmuch.h"
#include "state/state.h"
#include "rules/rules.h"
#include "sync/sync.h"

/* Loads the config, printing its warnings. NULL after printing the error. */
NmsConfig *
nms_cli_load_config (const NmsCliOptions *options)
{
    g_autofree char *path = nms_config_find_path (options->config_path);
    g_autoptr (GError) error = NULL;
    NmsConfig *config = nms_config_load (path, &error);

    if (config == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        return NULL;
    }
    for (guint i = 0; i < config->warnings->len; i++)
        fprintf (stderr, "nmsync: warning: %s\n", (char *) g_ptr_array_index (config->warnings, i));
    /* Checked before anything is created: an empty file (or one with only [general]) is a
     * mistake, not a request to make a state directory and sync nothing. */
    if (config->accounts->len == 0) {
        fprintf (stderr, "nmsync: '%s' has no [account NAME] section; see nmsync.conf(5)\n",
                 config->path);
        nms_config_free (config);
        return NULL;
    }
    return config;
}

/* Groups "ACCOUNT[/FOLDER]" arguments by account: account name -> GPtrArray of folder names;
 * an account named without a folder is added to @whole. Returns FALSE after naming an
 * unknown account. */
static gboolean
parse_targets (const NmsConfig *config, char **args, GHashTable *targets, GHashTable *whole)
{
    for (char **a = args; *a != NULL; a++) {
        g_auto (GStrv) parts = g_strsplit (*a, "/", 2);
        GPtrArray *folders;

        if (nms_config_find_account (config, parts[0]) == NULL) {
            fprintf (stderr, "nmsync: no account '%s' in '%s'\n", parts[0], config->path);
            return FALSE;
        }
        folders = g_hash_table_lookup (targets, parts[0]);
        if (folders == NULL) {
            folders = g_ptr_array_new_with_free_func (g_free);
            g_hash_table_insert (targets, g_strdup (parts[0]), folders);
        }
        if (parts[1] != NULL && parts[1][0] != '\0')
            g_ptr_array_add (folders, g_strdup (parts[1]));
        else
            g_hash_table_add (whole, g_strdup (parts[0]));
    }
    return TRUE;
}

guint
nms_cli_crash_after (void)
{
    const char *value = g_getenv ("NMSYNC_TEST_CRASH_AFTER");
    return value != NULL ? (guint) g_ascii_strtoull (value, NULL, 10) : 0;
}

guint
nms_cli_lock_wait_ms (void)
{
    const char *value = g_getenv ("NMSYNC_LOCK_WAIT");
    char *end = NULL;
    guint64 seconds;

    if (value == NULL || *value == '\0')
        return NMS_CLI_LOCK_WAIT_S * 1000;
    seconds = g_ascii_strtoull (value, &end, 10);
    if (*end != '\0' || seconds > 3600)
        return NMS_CLI_LOCK_WAIT_S * 1000;
    return (guint) seconds * 1000;
}

/* The marker files nmsync writes into a Maildir: not mail, so notmuch must ignore them. */
static const char *const markers[] = { "maildirfolder", ".nmsync-maildir", NULL };

/* On a first sync (@first: the database or an account's state was just made), says at normal
 * verbosity which of nmsync's marker files notmuch's new.ignore lacks (`notmuch new` would
 * print "Ignoring non-mail file" for each) and the command that adds them. Only then: a
 * setting the user chose to keep is not nagged about on every run. */
static void
check_new_ignore (NmsContext *ctx, const NmsConfig *config, gboolean first)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) words = NULL;
    g_autoptr (GString) command = NULL;
    g_autofree char *value = NULL;
    g_auto (GStrv) have = NULL;
    g_autofree char *missing = NULL;
    NmsDb *db;

    if (!first || ctx->dry_run ||
        (db = nms_db_open (config->notmuch_config, FALSE, 0, &error)) == NULL)
        return;
    value = nms_db_new_ignore (db);
    nms_db_close (db, NULL);
    have = g_strsplit (value != NULL ? value : "", ";", -1);
    words = g_ptr_array_new ();
    command = g_string_new ("notmuch config set new.ignore");
    for (char **h = have; *h != NULL; h++) {
        g_autofree char *quoted = g_shell_quote (g_strstrip (*h));

        if (**h != '\0')
            g_string_append_printf (command, " %s", quoted);
    }
    for (const char *const *m = markers; *m != NULL; m++) {
        if (!g_strv_contains ((const char *const *) have, *m)) {
            g_ptr_array_add (words, (gpointer) *m);
            g_string_append_printf (command, " %s", *m);
        }
    }
    if (words->len == 0)
        return;
    g_ptr_array_add (words, NULL);
    missing = g_strjoinv (", ", (char **) words->pdata);
    nms_context_log (ctx, NMS_LEVEL_WARNING,
                     "notmuch: new.ignore does not list %s, nmsync's marker files, so 'notmuch "
                     "new' reports them as non-mail files; run: %s", missing, command->str);
}

/* TRUE when some account of @run has no state yet: its first sync. */
static gboolean
first_sync (const NmsConfig *config, GPtrArray *run)
{
    for (guint i = 0; i < run->len; i++) {
        g_autofree char *state =
            nms_state_path (config->state_dir, ((NmsAccount *) g_ptr_array_index (run, i))->name);

        if (!g_file_test (state, G_FILE_TEST_EXISTS))
            return TRUE;
    }
    return FALSE;
}

/* What every account of one command shares. */
typedef struct {
    NmsContext *ctx;
    const NmsConfig *config;
    const NmsCliOptions *options;
    NmsPlanDirection direction;
    GHashTable *targets, *whole, *prefetched;
    const NmsRules *rules;
    char **keywords;
    GPtrArray *accounts; /* those to sync now (NmsAccount, transfer none) */
} Batch;

/* Syncs each account of @b in turn; the worst exit status. */
static int
sync_batch (gpointer data)
{
    const Batch *b = data;
    int status = NMS_EXIT_OK;

    for (guint i = 0; i < b->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (b->accounts, i);
        GPtrArray *folders = g_hash_table_lookup (b->targets, account->name);

        if (g_hash_table_contains (b->whole, account->name))
            folders = NULL;
        NmsPipelineOptions pipeline = {
            .direction = b->direction, .force = b->options->force, .adopt = b->options->adopt,
            .adopt_clean = b->options->clean, .adopt_keep_local = b->options->keep_local,
            .trace = b->options->trace || b->options->verbosity >= 3,
            .mbsync_state = b->options->mbsync_state, .keywords = b->keywords,
            .rules = b->direction == NMS_PLAN_SYNC && !b->options->no_rules ? b->rules : NULL,
            .prefetched = g_hash_table_lookup (b->prefetched, account->name),
        };
        g_autoptr (GPtrArray) names = NULL;

        if (folders != NULL && folders->len > 0) {
            names = g_ptr_array_copy (folders, (GCopyFunc) (void (*) (void)) g_strdup, NULL);
            g_ptr_array_add (names, NULL);
            pipeline.folders = (char **) names->pdata;
        }
        int account_status = nms_cli_pipeline_run (b->ctx, b->config, account, &pipeline);

        status = MAX (status, account_status);
    }
    return status;
}

/* When the run will be confined and has accounts with and without a tunnel, those with one
 * are taken out of @run and synced now, in an unconfined child (nms_confine_run_outside): the
 * others stay confined. */
static int
sync_tunnels_outside (NmsContext *ctx, Batch *b, GPtrArray *run)
{
    g_autoptr (GPtrArray) tunnels = g_ptr_array_new ();
    Batch outside = *b;

    guint n_tunnels = 0;

    for (guint i = 0; i < run->len; i++)
        n_tunnels += ((NmsAccount *) g_ptr_array_index (run, i))->tunnel != NULL;
    /* Only tunnels (or none): nothing to keep confined, and no second process (the lock then
     * names the nmsync the user started); nms_confine_sync says why it stays off. */
    if (!nms_confine_wanted (b->options) || n_tunnels == 0 || n_tunnels == run->len)
        return NMS_EXIT_OK;
    for (guint i = 0; i < run->len;) {
        NmsAccount *a = g_ptr_array_index (run, i);

        if (a->tunnel != NULL) {
            nms_context_log (ctx, NMS_LEVEL_INFO,
                             "sandbox: off: account '%s' uses a tunnel command, which would "
                             "inherit it; it runs unconfined in a process of its own", a->name);
            g_ptr_array_add (tunnels, g_ptr_array_steal_index (run, i));
        } else {
            i++;
        }
    }
    if (tunnels->len == 0)
        return NMS_EXIT_OK;
    outside.accounts = tunnels;
    return nms_confine_run_outside (ctx, sync_batch, &outside);
}

static int
run_command (const NmsCliOptions *options, NmsPlanDirection direction)
{
    const NmsConfig *config = options->config;
    g_autoptr (GHashTable) targets = NULL, whole = NULL;
    g_autoptr (GHashTable) prefetched = NULL;
    g_autoptr (GPtrArray) run = g_ptr_array_new ();
    g_auto (GStrv) keywords = NULL;
    g_autoptr (NmsRules) rules = NULL;
    gboolean database_ready, first;
    NmsContext ctx = { .dry_run = options->dry_run };
    Batch batch;
    int status = NMS_EXIT_OK;

    targets = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                     (GDestroyNotify) g_ptr_array_unref);
    whole = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    if (!parse_targets (config, options->args, targets, whole))
        return NMS_EXIT_USAGE;
    rules = nms_cli_load_rules (config);
    keywords = nms_cli_rule_keywords (rules);
    nms_output_init (&ctx, options->verbosity, options->json);
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);

        if (g_hash_table_size (targets) == 0 || g_hash_table_contains (targets, account->name))
            g_ptr_array_add (run, account);
    }
    first = first_sync (config, run);
    database_ready = options->dry_run || nms_cli_ensure_database (&ctx, config, FALSE);
    check_new_ignore (&ctx, config, first && database_ready);
    prefetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) nms_prefetched_free);
    batch = (Batch) { .ctx = &ctx, .config = config, .options = options,
                      .direction = direction, .targets = targets, .whole = whole,
                      .prefetched = prefetched, .rules = rules, .keywords = keywords,
                      .accounts = run };
    status = sync_tunnels_outside (&ctx, &batch, run);
    if (run->len > 0) {
        nms_confine_sync (&ctx, options, config, run, prefetched);
        if (!database_ready) {
            nms_cli_ensure_database (&ctx, config, TRUE);
            check_new_ignore (&ctx, config, first);
        }
        int confined = sync_batch (&batch); /* not inside MAX (): it evaluates twice */

        status = MAX (status, confined);
    }
    nms_output_finish (&ctx);
    return status;
}

int
nms_cmd_pull (const NmsCliOptions *options)
{
    return run_command (options, NMS_PLAN_PULL);
}

int
nms_cmd_push (const NmsCliOptions *options)
{
    return run_command (options, NMS_PLAN_PUSH);
}

int
nms_cmd_sync (const NmsCliOptions *options)
{
    return run_command (options, NMS_PLAN_SYNC);
}

/* adopt: a pull (nothing written to the server) from a state without messages, pairing
 * exactly where dovecot-uidlist or .mbsyncstate allow; local-only files wait for the next
 * sync. */
int
nms_cmd_adopt (const NmsCliOptions *options)
{
    NmsCliOptions adopt = *options;

    adopt.adopt = TRUE;
    return run_command (&adopt, NMS_PLAN_PULL);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync pull|push|sync [ACCOUNT[/FOLDER]...]: the named accounts (default all) in one or both
 * directions: which accounts and folders, then the pipeline of each (pipeline.c). `sync` is
 * the whole pipeline; pull and push are the IMAP stage alone. */

#include "config.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "config/config.h"
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

static int
run_command (const NmsCliOptions *options, NmsPlanDirection direction)
{
    g_autoptr (NmsConfig) config = nms_cli_load_config (options);
    g_autoptr (GHashTable) targets = NULL, whole = NULL;
    g_autoptr (GHashTable) prefetched = NULL;
    g_autoptr (GPtrArray) run = g_ptr_array_new ();
    g_auto (GStrv) keywords = NULL;
    g_autoptr (NmsRules) rules = NULL;
    gboolean database_ready;
    NmsContext ctx = { .dry_run = options->dry_run };
    int status = NMS_EXIT_OK;

    if (config == NULL)
        return NMS_EXIT_USAGE;
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
    database_ready = options->dry_run || nms_cli_ensure_database (&ctx, config, FALSE);
    prefetched = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                        (GDestroyNotify) nms_prefetched_free);
    nms_confine_sync (&ctx, options, config, run, prefetched);
    if (!database_ready)
        nms_cli_ensure_database (&ctx, config, TRUE);
    for (guint i = 0; i < run->len; i++) {
        NmsAccount *account = g_ptr_array_index (run, i);
        GPtrArray *folders = g_hash_table_lookup (targets, account->name);
        g_autoptr (GPtrArray) names = NULL;
        NmsPipelineOptions pipeline = {
            .direction = direction, .force = options->force, .adopt = options->adopt,
            .mbsync_state = options->mbsync_state, .keywords = keywords,
            .rules = direction == NMS_PLAN_SYNC && !options->no_rules ? rules : NULL,
            .prefetched = g_hash_table_lookup (prefetched, account->name),
        };
        int account_status;

        if (folders != NULL && folders->len > 0 && !g_hash_table_contains (whole, account->name)) {
            names = g_ptr_array_copy (folders, (GCopyFunc) (void (*) (void)) g_strdup, NULL);
            g_ptr_array_add (names, NULL);
            pipeline.folders = (char **) names->pdata;
        }
        account_status = nms_cli_pipeline_run (&ctx, config, account, &pipeline);
        status = MAX (status, account_status);
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

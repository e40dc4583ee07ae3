/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync pull|push|sync [ACCOUNT[/FOLDER]...]: the named accounts (default all) in one or both
 * directions. `sync` is the whole pipeline (DESIGN.md section 1), per account under its lock:
 * rules (tags -> folders/flags, what changed since the last run) -> IMAP both ways -> notmuch
 * index in place -> rules again (folders/flags -> tags for what arrived or moved) -> revision
 * stored. pull and push are the IMAP stage alone. */

#define LOCK_WAIT_MS 10000
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "check/check.h"
#include "config/config.h"
#include "imap/imap.h"
#include "notmuch/notmuch.h"
#include "state/state.h"
#include "rules/rules.h"
#include "sync/sync.h"

/* The exit status an account-level failure stands for. */
static int
failure_status (const GError *error)
{
    if (g_error_matches (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED))
        return NMS_EXIT_LOCKED;
    if (error->domain == NMS_IMAP_ERROR &&
        (error->code == NMS_IMAP_ERROR_CONNECT || error->code == NMS_IMAP_ERROR_TLS ||
         error->code == NMS_IMAP_ERROR_AUTH))
        return NMS_EXIT_CONNECT;
    if (g_error_matches (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MAILDIR))
        return NMS_EXIT_USAGE;
    if (error->domain == NMS_CONFIG_ERROR)
        return NMS_EXIT_CONNECT; /* no password: we cannot log in */
    return NMS_EXIT_SKIPPED;
}

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

/* The rule set every command finds the same way (nms_apply_rule_files), or NULL when there is
 * none. A rule file that does not load is reported, and the sync goes on without rules or
 * keywords. (transfer full) */
static NmsRules *
load_rules (const NmsConfig *config)
{
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) files = nms_apply_rule_files (config, NULL);
    NmsRules *rules;

    if (files == NULL)
        return NULL;
    if ((rules = nms_rules_load (files, &error)) == NULL)
        fprintf (stderr, "nmsync: warning: %s; no rules run and no keywords are synced\n",
                 error->message);
    return rules;
}

/* The IMAP keywords the [keywords] rules name, to sync as Maildir letters a-z, or NULL.
 * (transfer full) */
static char **
rule_keywords (const NmsRules *rules)
{
    g_autoptr (GPtrArray) keywords = g_ptr_array_new_with_free_func (g_free);

    if (rules == NULL)
        return NULL;
    for (guint i = 0; i < rules->keywords->len; i++) {
        const char *k = ((NmsKeywordRule *) g_ptr_array_index (rules->keywords, i))->keyword;

        if (k[0] != '\\') /* system flags travel as their own letters already */
            g_ptr_array_add (keywords, g_strdup (k));
    }
    g_ptr_array_add (keywords, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&keywords), FALSE);
}

/* One rule stage of the pipeline for @account, under its lock: the database is opened for
 * writing (waiting a bounded time for notmuch's lock), the rules run, and closing commits. A
 * crash before the close leaves files moved that notmuch still lists under their old names:
 * the next run finds them (src/apply/files.c). Without any notmuch setup there is nothing to
 * run the rules on (said at -v); any other failure skips the stage, named. */
static void
rules_stage (NmsContext *ctx, const NmsConfig *config, const NmsRules *rules,
             const NmsAccount *account, NmsApplyCounts *counts)
{
    g_autoptr (GError) error = NULL;
    NmsApplyRunOptions run_options = { .crash_after = 0 };
    NmsDb *db;

    /* A Maildir that is not there (an unmounted disk, a first run that failed before making
     * it) is the sync's to report, with what to do (sync/root.c); the rules have nothing to
     * move there. */
    if (!g_file_test (account->maildir, G_FILE_TEST_IS_DIR))
        return;
    db = nms_db_open (config->notmuch_config, !ctx->dry_run, LOCK_WAIT_MS, &error);
    if (db == NULL) {
        if (config->notmuch_config == NULL && g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN))
            nms_context_log (ctx, NMS_LEVEL_INFO, "%s: rules not run: %s", account->name,
                             error->message);
        else
            nms_context_skip (ctx, "%s: rules not run: %s", account->name, error->message);
        return;
    }
    if (!nms_apply_run (ctx, config, rules, db, account, &run_options, counts, &error)) {
        nms_context_skip (ctx, "%s: rules: %s", account->name, error->message);
        g_clear_error (&error);
    }
    if (!nms_db_close (db, &error))
        nms_context_skip (ctx, "%s: rules: %s", account->name, error->message);
}

/* A first sync with notmuch set up but no database yet creates it, as a first `notmuch new`
 * would, so that what the sync downloads is indexed in process; said at normal verbosity, and
 * so is a database that cannot be made (the files land either way; `notmuch new` indexes
 * them). Without any notmuch config nmsync is a plain sync tool: said at -v by the indexer.
 * Tried before the sandbox (the database may live outside what it lets us write) and, when
 * that failed, once more after it (@last), which has created the Maildir the database usually
 * lives in. FALSE when it should be tried again. */
static gboolean
ensure_database (NmsContext *ctx, const NmsConfig *config, gboolean last)
{
    g_autoptr (GError) error = NULL;
    gboolean created = FALSE;

    if (nms_db_ensure (config->notmuch_config, &created, &error)) {
        if (created)
            nms_context_log (ctx, NMS_LEVEL_WARNING, "notmuch: created a new database (as a "
                             "first 'notmuch new' would); what the sync brings is indexed");
        return TRUE;
    }
    if (config->notmuch_config == NULL && g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_NO_CONFIG))
        return TRUE;
    if (last)
        nms_context_log (ctx, NMS_LEVEL_WARNING, "not indexing: %s", error->message);
    return last;
}

/* For `nmsync status`: the time of a successful run, or the failure's message, in the
 * account's state (not for a dry run, which writes nothing, nor when another nmsync held the
 * lock: that run is the one to report). A state that cannot be written is said at -v only:
 * the sync itself is done. */
static void
record_outcome (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                const GError *failure)
{
    g_autoptr (GError) error = NULL;

    if (ctx->dry_run || g_error_matches (failure, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED))
        return;
    if (!nms_status_record (config->state_dir, account, failure ? failure->message : NULL, &error))
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s: cannot record the outcome for status: %s",
                         account->name, error->message);
}

/* An NmsImapLog sink: a trace or tunnel line, from any thread, through the run's context (its
 * lock keeps lines whole and off the status line). Not shown under -q. */
static void
imap_log_line (const char *text, gpointer user_data)
{
    nms_context_log (user_data, NMS_LEVEL_WARNING, "%s", text);
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

/* Syncs @account; @prefetched: its password when password-command ran before the sandbox. */
static int
sync_one (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account, GPtrArray *folders,
          const NmsCliOptions *options, NmsPlanDirection direction, const NmsRules *rules,
          char **keywords, const NmsPrefetched *prefetched)
{
    NmsApplyCounts counts = { 0 };
    int lock = -1;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) names = NULL;
    NmsIndexer *indexer = NULL;
    NmsAccount with_password;
    NmsSyncOptions sync_options = { .direction = direction, .force = options->force,
                                    .crash_after = nms_cli_crash_after (),
                                    .lock_wait_ms = nms_cli_lock_wait_ms (), .keywords = keywords,
                                    .adopt = options->adopt,
                                    .mbsync_state = options->mbsync_state,
                                    .adopt_clean = options->clean,
                                    .adopt_keep_local = options->keep_local };
    guint64 skipped = ctx->progress.skipped;
    int status = NMS_EXIT_OK;
    gboolean ok;
    NmsImapLog imap_log = { .account = account->name,
                            .trace = options->trace || options->verbosity >= 3,
                            .line = imap_log_line, .user_data = ctx };

    sync_options.imap_log = &imap_log;
    if (folders != NULL && folders->len > 0) {
        names = g_ptr_array_copy (folders, (GCopyFunc) (void (*) (void)) g_strdup, NULL);
        g_ptr_array_add (names, NULL);
        sync_options.folders = (char **) names->pdata;
    }
    if (prefetched != NULL && prefetched->password != NULL) {
        with_password = *account;
        with_password.password = prefetched->password;
        with_password.password_command = NULL;
        account = &with_password;
    }
    nms_output_account_begin (ctx, account->name);
    /* The rule stages and the IMAP stage under one lock: nothing (another sync, an apply)
     * moves files in between. A dry run takes no lock and writes nothing. */
    if (rules != NULL && !ctx->dry_run) {
        lock = nms_cli_lock_account (ctx, config, account, &error);
        if (lock < 0) {
            status = failure_status (error);
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            nms_output_account_end (ctx, account->name, error->message,
                                    (direction & NMS_PLAN_PUSH) != 0, NULL);
            return status;
        }
        sync_options.lock_held = TRUE;
    }
    if (rules != NULL)
        rules_stage (ctx, config, rules, account, &counts);
    /* A dry run changes no file, so there is nothing to index. */
    if (!ctx->dry_run) {
        indexer = nms_indexer_start (config->notmuch_config);
        sync_options.on_file = nms_indexer_on_file;
        sync_options.on_file_data = indexer;
    }
    if (prefetched != NULL && prefetched->error != NULL) {
        ok = FALSE;
        error = g_error_copy (prefetched->error);
    } else {
        ok = nms_sync_account (ctx, config, account, &sync_options, &error);
    }
    if (!ok) {
        status = failure_status (error);
        fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
    }
    record_outcome (ctx, config, account, ok ? NULL : error);
    /* Also after a failure: what did land is indexed. */
    if (indexer != NULL)
        nms_indexer_finish (indexer, ctx);
    /* What arrived or moved gets its tags; a dry run indexed nothing to look at. */
    if (rules != NULL && !ctx->dry_run)
        rules_stage (ctx, config, rules, account, &counts);
    nms_state_unlock (lock);
    if (status == NMS_EXIT_OK && ctx->progress.skipped > skipped)
        status = NMS_EXIT_SKIPPED;
    nms_output_account_end (ctx, account->name, error != NULL ? error->message : NULL,
                            (direction & NMS_PLAN_PUSH) != 0, rules != NULL ? &counts : NULL);
    return status;
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
        int account_status = sync_one (b->ctx, b->config, account, folders, b->options,
                                       b->direction,
                                       b->direction == NMS_PLAN_SYNC && !b->options->no_rules
                                           ? b->rules
                                           : NULL,
                                       b->keywords,
                                       g_hash_table_lookup (b->prefetched, account->name));

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
    rules = load_rules (config);
    keywords = rule_keywords (rules);
    nms_output_init (&ctx, options->verbosity, options->json);
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);

        if (g_hash_table_size (targets) == 0 || g_hash_table_contains (targets, account->name))
            g_ptr_array_add (run, account);
    }
    first = first_sync (config, run);
    database_ready = options->dry_run || ensure_database (&ctx, config, FALSE);
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
            ensure_database (&ctx, config, TRUE);
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

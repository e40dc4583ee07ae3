/* SPDX-License-Identifier: GPL-3.0-or-later
 * The pipeline of one account (DESIGN.md section 1), which `sync`, `pull`, `push`, `adopt` and
 * `watch` all run: under the account lock, rules (tags -> folders/flags, what changed since the
 * last run) -> IMAP both ways (all folders, or the ones named) -> notmuch index in place ->
 * rules again (folders/flags -> tags for what arrived or moved) -> revision stored. Watch
 * decides when and what to sync; this file is how. */
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
#include "rules/rules.h"
#include "state/state.h"
#include "sync/sync.h"

#define LOCK_WAIT_MS 10000

int
nms_cli_failure_status (const GError *error)
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

NmsRules *
nms_cli_load_rules (const NmsConfig *config)
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

char **
nms_cli_rule_keywords (const NmsRules *rules)
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
 * run the rules on (said at -v); any other failure skips the stage, named, and returns FALSE. */
static gboolean
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
        return FALSE;
    /* Read-only first: most runs find nothing changed since the last one, and then need
     * neither notmuch's write lock nor a writable Xapian database (its open and close). */
    db = nms_db_open (config->notmuch_config, FALSE, 0, &error);
    if (db != NULL && !ctx->dry_run) {
        if (nms_apply_unchanged (db, account)) {
            nms_db_close (db, NULL);
            return TRUE;
        }
        nms_db_close (db, NULL);
        db = nms_db_open (config->notmuch_config, TRUE, LOCK_WAIT_MS, &error);
    }
    if (db == NULL) {
        if (config->notmuch_config == NULL && g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_OPEN))
            nms_context_log (ctx, NMS_LEVEL_INFO, "%s: rules not run: %s", account->name,
                             error->message);
        else
            nms_context_skip (ctx, "%s: rules not run: %s", account->name, error->message);
        return FALSE;
    }
    if (!nms_apply_run (ctx, config, rules, db, account, &run_options, counts, &error)) {
        nms_context_skip (ctx, "%s: rules: %s", account->name, error->message);
        g_clear_error (&error);
        nms_db_close (db, NULL);
        return FALSE;
    }
    if (!nms_db_close (db, &error)) {
        nms_context_skip (ctx, "%s: rules: %s", account->name, error->message);
        return FALSE;
    }
    return TRUE;
}

gboolean
nms_cli_ensure_database (NmsContext *ctx, const NmsConfig *config, gboolean last)
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

/* Both the indexer and the caller's observer (watch: which files this run wrote) hear of
 * every local file change of the IMAP stage. */
typedef struct {
    NmsIndexer *indexer;
    NmsSyncFileFunc observer;
    gpointer observer_data;
    gint events; /* local file changes of the IMAP stage (atomic: from every folder worker) */
} FileTap;

static void
file_tap (NmsFileEventKind kind, const char *path, const char *old_path, gpointer user_data)
{
    FileTap *tap = user_data;

    g_atomic_int_inc (&tap->events);

    if (tap->observer != NULL)
        tap->observer (kind, path, old_path, tap->observer_data);
    if (tap->indexer != NULL)
        nms_indexer_on_file (kind, path, old_path, tap->indexer);
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

/* Takes the account lock for a run with rule stages; a dry run takes none. -1 with the
 * failure reported and *@status_out set when it cannot be had. */
static int
lock_for_rules (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                const NmsPipelineOptions *options, int *status_out)
{
    g_autoptr (GError) error = NULL;
    int lock;

    if (options->rules == NULL || ctx->dry_run)
        return -1;
    lock = nms_cli_lock_account (ctx, config, account, &error);
    if (lock < 0) {
        *status_out = nms_cli_failure_status (error);
        fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
        nms_output_account_end (ctx, account->name, error->message,
                                (options->direction & NMS_PLAN_PUSH) != 0, NULL);
    }
    return lock;
}

int
nms_cli_pipeline_run (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                      const NmsPipelineOptions *options)
{
    NmsApplyCounts counts = { 0 };
    int lock = -1;
    g_autoptr (GError) error = NULL;
    FileTap tap = { .observer = options->on_file, .observer_data = options->on_file_data };
    NmsAccount with_password;
    NmsSyncOptions sync_options = { .direction = options->direction, .force = options->force,
                                    .crash_after = nms_cli_crash_after (),
                                    .lock_wait_ms = nms_cli_lock_wait_ms (),
                                    .keywords = options->keywords, .adopt = options->adopt,
                                    .mbsync_state = options->mbsync_state,
                                    .adopt_clean = options->adopt_clean,
                                    .adopt_keep_local = options->adopt_keep_local,
                                    .folders = options->folders };
    const NmsPrefetched *prefetched = options->prefetched;
    guint64 skipped = ctx->progress.skipped;
    int status = NMS_EXIT_OK;
    gboolean ok = TRUE, rules_only = options->rules_only, rules_done = FALSE;
    NmsImapLog imap_log = { .account = account->name, .trace = options->trace,
                            .line = imap_log_line, .user_data = ctx };

    if (prefetched != NULL && prefetched->password != NULL) {
        with_password = *account;
        with_password.password = prefetched->password;
        with_password.password_command = NULL;
        account = &with_password;
    }
    sync_options.imap_log = &imap_log;
    nms_output_account_begin (ctx, account->name);
    /* The rule stages and the IMAP stage under one lock: nothing (another sync, an apply)
     * moves files in between. A dry run takes no lock and writes nothing. */
    if (options->rules != NULL && !ctx->dry_run) {
        if ((lock = lock_for_rules (ctx, config, account, options, &status)) < 0)
            return status;
        sync_options.lock_held = TRUE;
    }
    if (options->rules != NULL)
        rules_done = rules_stage (ctx, config, options->rules, account, &counts);
    /* The rules moved or re-flagged files, perhaps in folders not among those named: the IMAP
     * stage then takes every folder, so a message the rules moved out of a named folder is
     * moved on the server too (UID MOVE, the same message) instead of looking deleted from
     * the one folder and new in the other. Unchanged folders cost nothing (LIST-STATUS). */
    if (counts.moved > 0 || counts.reflagged > 0) {
        sync_options.folders = NULL;
        rules_only = FALSE;
    }
    if (!rules_only) {
        /* A dry run changes no file, so there is nothing to index. */
        if (!ctx->dry_run)
            tap.indexer = nms_indexer_start (config->notmuch_config);
        sync_options.on_file = file_tap;
        sync_options.on_file_data = &tap;
        if (prefetched != NULL && prefetched->error != NULL) {
            ok = FALSE;
            error = g_error_copy (prefetched->error);
        } else {
            ok = nms_sync_account (ctx, config, account, &sync_options, &error);
        }
        if (!ok) {
            status = nms_cli_failure_status (error);
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
        }
        record_outcome (ctx, config, account, ok ? NULL : error);
        /* Also after a failure: what did land is indexed. */
        if (tap.indexer != NULL)
            nms_indexer_finish (tap.indexer, ctx);
        /* What arrived or moved gets its tags; a dry run indexed nothing to look at. When the
         * IMAP stage changed no local file and the first stage ran to its end (it recorded
         * the revision after its own changes), nothing arrived or moved: the second stage
         * would open the database for writing only to find that out (the costliest part of
         * a no-change sync with rules). A tag changed meanwhile by another process is then
         * applied by the next run's first stage, as one changed after this run would be. */
        if (options->rules != NULL && !ctx->dry_run &&
            (!rules_done || g_atomic_int_get (&tap.events) > 0))
            rules_stage (ctx, config, options->rules, account, &counts);
    }
    nms_state_unlock (lock);
    if (status == NMS_EXIT_OK && ctx->progress.skipped > skipped)
        status = NMS_EXIT_SKIPPED;
    nms_output_account_end (ctx, account->name, error != NULL ? error->message : NULL,
                            (options->direction & NMS_PLAN_PUSH) != 0,
                            options->rules != NULL ? &counts : NULL);
    return status;
}

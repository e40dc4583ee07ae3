/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync apply [ACCOUNT...]: the rules alone, locally, no network (the executor is
 * src/apply/run.c; `nmsync sync` runs the same before and after its IMAP stage). Works on any
 * Maildir notmuch indexes, mbsync's too. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "apply/apply.h"
#include "maildir/maildir.h"
#include "notmuch/notmuch.h"
#include "rules/rules.h"
#include "state/state.h"

#define LOCK_WAIT_MS 10000
#define NO_LOCK (-2) /* a dry run's account: not locked, and not left out either */

int
nms_cli_lock_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                      GError **error)
{
    g_autoptr (GError) busy = NULL;
    guint wait_ms = nms_cli_lock_wait_ms ();
    int fd = nms_state_lock (config->state_dir, account->name, 0, &busy);

    if (fd >= 0 || wait_ms == 0 || !g_error_matches (busy, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED)) {
        if (fd < 0)
            g_propagate_error (error, g_steal_pointer (&busy));
        return fd;
    }
    nms_context_log (ctx, NMS_LEVEL_INFO, "%s; waiting up to %u s", busy->message,
                     (wait_ms + 999) / 1000);
    return nms_state_lock (config->state_dir, account->name, wait_ms, error);
}

/* The accounts to apply to (the arguments, else all), each with its lock fd (-1: not locked,
 * skipped); a dry run changes nothing and locks nothing (NO_LOCK). Sets *@status_out to
 * LOCKED when an account's lock could not be had. The locks come before the notmuch database's, in the
 * order a sync takes them (account, then its indexer's database), so neither waits for the
 * other while holding what the other needs. */
static GArray *
lock_accounts (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
               GPtrArray *accounts, int *status_out)
{
    GArray *fds = g_array_new (FALSE, FALSE, sizeof (int));
    g_autoptr (GError) error = NULL;

    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);
        int fd = NO_LOCK;

        if (options->args[0] != NULL && !g_strv_contains ((const char *const *) options->args,
                                                          account->name))
            continue;
        if (!options->dry_run &&
            (fd = nms_cli_lock_account (ctx, config, account, &error)) < 0) {
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            g_clear_error (&error);
            *status_out = NMS_EXIT_LOCKED;
        }
        g_ptr_array_add (accounts, account);
        g_array_append_val (fds, fd);
    }
    return fds;
}

static void
unlock_accounts (GArray *fds)
{
    for (guint i = 0; i < fds->len; i++) {
        if (g_array_index (fds, int, i) >= 0)
            nms_state_unlock (g_array_index (fds, int, i));
    }
    g_array_unref (fds);
}

/* The database for this apply. Read-only first: a dry run needs no more, and most runs find
 * that no message changed since each account's last run (*@unchanged_out): they then need
 * neither notmuch's write lock nor a writable Xapian database, whose open and close were most
 * of an apply with nothing to do (issue 15). Otherwise opened again for writing. */
static NmsDb *
open_database (const NmsCliOptions *options, GPtrArray *accounts, GArray *locks,
               gboolean *unchanged_out, GError **error)
{
    const NmsConfig *config = options->config;
    NmsDb *db = nms_db_open (config->notmuch_config, FALSE, 0, error);
    gboolean unchanged = !options->all;

    *unchanged_out = FALSE;
    if (db == NULL || options->dry_run)
        return db;
    for (guint i = 0; unchanged && i < accounts->len; i++) {
        if (g_array_index (locks, int, i) != -1)
            unchanged = nms_apply_unchanged (db, g_ptr_array_index (accounts, i));
    }
    if (unchanged) {
        *unchanged_out = TRUE;
        return db;
    }
    nms_db_close (db, NULL);
    return nms_db_open (config->notmuch_config, TRUE, LOCK_WAIT_MS, error);
}

int
nms_cmd_apply (const NmsCliOptions *options)
{
    const NmsConfig *config = options->config;
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) accounts = g_ptr_array_new ();
    g_autoptr (NmsRules) rules = NULL;
    g_auto (GStrv) files = NULL;
    NmsContext ctx = { .dry_run = options->dry_run };
    NmsApplyCounts counts = { 0 };
    NmsApplyRunOptions run_options = { .all = options->all,
                                       .crash_after = nms_cli_crash_after () };
    gint64 started = g_get_monotonic_time ();
    int status = NMS_EXIT_OK;
    GArray *locks;
    NmsDb *db;
    gboolean unchanged;

    nms_output_init (&ctx, options->verbosity, options->json);
    locks = lock_accounts (&ctx, options, config, accounts, &status);
    db = open_database (options, accounts, locks, &unchanged, &error);
    if (db == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        unlock_accounts (locks);
        nms_output_finish (&ctx);
        return g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_LOCKED) ? NMS_EXIT_LOCKED
                                                                           : NMS_EXIT_USAGE;
    }
    nms_confine_apply (&ctx, options, config, db);
    files = nms_apply_rule_files (config, db);
    if (files == NULL) {
        fprintf (stderr, "nmsync: no rules: set 'rules' in [general] of '%s' (or nmsync.rules "
                 "in notmuch's config)\n", config->path);
        status = NMS_EXIT_USAGE;
        goto out;
    }
    if ((rules = nms_rules_load (files, &error)) == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        status = NMS_EXIT_USAGE;
        goto out;
    }
    for (guint i = 0; i < accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (accounts, i);

        if (g_array_index (locks, int, i) == -1 || unchanged)
            continue;
        if (!nms_apply_run (&ctx, config, rules, db, account, &run_options, &counts, &error)) {
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            g_clear_error (&error);
            status = MAX (status, NMS_EXIT_SKIPPED);
        }
    }
    if (ctx.progress.skipped > 0)
        status = MAX (status, NMS_EXIT_SKIPPED);
    if (options->verbosity >= 0)
        printf ("apply: %u message%s looked at, %u moved, %u flags changed, %u tags changed in "
                "%.2f s\n", counts.looked_at, counts.looked_at == 1 ? "" : "s", counts.moved, counts.reflagged, counts.retagged,
                (g_get_monotonic_time () - started) / (double) G_USEC_PER_SEC);
out:
    /* notmuch commits here: the account locks are held until it has. */
    if (!nms_db_close (db, &error)) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        status = MAX (status, NMS_EXIT_SKIPPED);
    }
    unlock_accounts (locks);
    nms_output_finish (&ctx);
    return status;
}

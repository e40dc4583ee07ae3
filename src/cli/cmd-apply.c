/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync apply [ACCOUNT...]: the rules alone, locally, no network. For every message whose
 * tags or files changed since the last apply (notmuch lastmod against the revision stored in
 * the database; a database with a new UUID gets a full pass), the rule evaluator decides its
 * folder, flags and tags three-way (src/rules/); files are moved (",U=" dropped: with nmsync's
 * own sync the move then becomes a server-side UID MOVE) or renamed, and the database is
 * updated in place. Works on any Maildir notmuch indexes, mbsync's too. */
#include "config.h"

#include "cli/cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "maildir/maildir.h"
#include "notmuch/notmuch.h"
#include "rules/rules.h"
#include "state/state.h"

#define KEY_REVISION "nmsync.apply-revision"
#define KEY_UUID "nmsync.apply-uuid"
#define LOCK_WAIT_MS 10000
#define NO_LOCK (-2) /* a dry run's account: not locked, and not left out either */

typedef struct {
    NmsContext *ctx;
    const NmsConfig *config;
    NmsRules *rules;
    NmsDb *db;
    char *candidates; /* the notmuch query for what changed since the last apply */
    gboolean full;    /* first run, or a new database: everything is a candidate */
    guint moved, reflagged, retagged, looked_at;
    guint steps, crash_after; /* NMSYNC_TEST_CRASH_AFTER: SIGKILL after that many steps */
} Apply;

/* A step done (a file renamed, notmuch told): the test hook NMSYNC_TEST_CRASH_AFTER=N stops
 * the process dead after the Nth, exactly like a crash (t503). */
static void
step (Apply *ap)
{
    if (ap->crash_after != 0 && ++ap->steps == ap->crash_after)
        kill (getpid (), SIGKILL);
}

/* The file at *@current is now at @renamed (transfer full; NULL: the rename failed): tells the
 * index, in place, and makes @renamed the current path. */
static gboolean
index_rename (Apply *ap, char **current, char *renamed, GError **error)
{
    NmsFileEvent ev = { .kind = NMS_FILE_RENAMED, .path = renamed, .old_path = *current };
    NmsDbStats stats = { 0 };

    if (renamed == NULL)
        return FALSE;
    step (ap); /* a crash here: notmuch has the old name; the next apply finds the file */
    if (!nms_db_apply_events (ap->db, &ev, 1, 1, &stats, error)) {
        nms_db_stats_clear (&stats);
        g_free (renamed);
        return FALSE;
    }
    step (ap);
    /* moved or renamed all the same; notmuch keeps the old name until the file is renamed */
    if (stats.too_long != NULL)
        nms_context_skip (ap->ctx, "notmuch: '%s' not indexed: its name or its folder's is longer "
                          "than the %d bytes notmuch can index; rename it", renamed,
                          NMS_DB_NAME_MAX);
    nms_db_stats_clear (&stats);
    g_free (*current);
    *current = renamed;
    return TRUE;
}

/* Moves and renames the file as @out says, keeping the index up to date in place. */
static gboolean
apply_file (Apply *ap, const NmsApplyAccount *acct, const char *path, const char *folder,
            const char *flags, const NmsRuleOutcome *out, GError **error)
{
    g_autofree char *current = g_strdup (path);

    if (strcmp (out->folder, folder) != 0) {
        g_autofree char *rel = nms_maildir_folder_to_path (out->folder, '/', acct->account->layout,
                                                           error);
        g_autofree char *dest = rel ? nms_maildir_folder_ensure (acct->account->maildir, rel, error)
                                    : NULL;

        if (dest == NULL ||
            !index_rename (ap, &current, nms_maildir_move (current, dest, error), error))
            return FALSE;
        ap->moved++;
    }
    if (strcmp (out->flags, flags) != 0) {
        if (!index_rename (ap, &current, nms_maildir_set_flags (current, out->flags, error), error))
            return FALSE;
        ap->reflagged++;
    }
    return TRUE;
}

/* "id:X: folder 'A' -> 'B', flags 'S' -> 'FS', tags +a -b": what a dry run says it would do
 * and -v says was done, in the same words. (transfer full) */
static char *
describe_outcome (const NmsDbMessage *m, const char *folder, const char *flags,
                  const NmsRuleOutcome *out)
{
    GString *s = g_string_new (NULL);

    g_string_printf (s, "id:%s: folder '%s' -> '%s', flags '%s' -> '%s', tags", m->id, folder,
                     out->folder, flags, out->flags);
    /* Both arrays are NULL-terminated (rules.h) once they hold a tag; pdata is NULL before. */
    for (guint i = 0; i < out->add_tags->len; i++)
        g_string_append_printf (s, " +%s", (char *) g_ptr_array_index (out->add_tags, i));
    for (guint i = 0; i < out->remove_tags->len; i++)
        g_string_append_printf (s, " -%s", (char *) g_ptr_array_index (out->remove_tags, i));
    return g_string_free (s, FALSE);
}

static gboolean
outcome_changes (const NmsDbMessage *m, const char *folder, const char *flags,
                 const NmsRuleOutcome *out)
{
    return strcmp (out->folder, folder) != 0 || strcmp (out->flags, flags) != 0 ||
           out->add_tags->len > 0 || out->remove_tags->len > 0 ||
           g_strcmp0 (out->agreed_folder, m->agreed_folder) != 0 ||
           g_strcmp0 (out->agreed_flags, m->agreed_flags) != 0;
}

/* Filenames of @m that are gone (a kill -9 after a rename, before notmuch committed; another
 * program) are found again and notmuch is told, unless this is a dry run. Returns the paths
 * to work with (transfer full), or NULL after naming the message as skipped. */
static char **
resolve_paths (Apply *ap, const NmsApplyAccount *acct, const NmsDbMessage *m)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) events = g_array_new (FALSE, TRUE, sizeof (NmsFileEvent));
    g_auto (GStrv) paths = NULL;

    g_array_set_clear_func (events, (GDestroyNotify) nms_file_event_clear);
    paths = nms_apply_files_resolve (acct->files, m->id, m->paths, events, &error);
    for (guint i = 0; paths != NULL && i < events->len; i++) {
        NmsFileEvent *ev = &g_array_index (events, NmsFileEvent, i);

        if (ev->kind == NMS_FILE_RENAMED)
            nms_context_log (ap->ctx, ap->ctx->dry_run ? NMS_LEVEL_WARNING : NMS_LEVEL_INFO,
                             "%sid:%s: notmuch's filename '%s' -> '%s' (renamed without notmuch "
                             "being told)", ap->ctx->dry_run ? "would update " : "updated ",
                             m->id, ev->old_path, ev->path);
        else
            nms_context_log (ap->ctx, ap->ctx->dry_run ? NMS_LEVEL_WARNING : NMS_LEVEL_INFO,
                             "%sid:%s: notmuch's filename '%s' (the file is gone)",
                             ap->ctx->dry_run ? "would remove " : "removed ", m->id, ev->path);
    }
    if (paths != NULL && events->len > 0 && !ap->ctx->dry_run) {
        if (!nms_db_apply_events (ap->db, (NmsFileEvent *) events->data, events->len, events->len,
                                  NULL, &error))
            g_clear_pointer (&paths, g_strfreev);
        else
            step (ap);
    }
    if (paths == NULL)
        nms_context_skip (ap->ctx, "%s: id:%s: %s", acct->account->name, m->id, error->message);
    return g_steal_pointer (&paths);
}

/* One message: decide, then move/rename the file and update tags and agreed state. */
static void
apply_message (Apply *ap, const NmsApplyAccount *acct, const NmsDbMessage *m)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *base = NULL, *what = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    g_auto (GStrv) paths = resolve_paths (ap, acct, m);
    NmsRuleOutcome out = { 0 };
    const char *folder = NULL, *path = nms_apply_account_file (acct, paths, &folder);
    const char *flags;
    NmsRuleInput in;

    if (path == NULL)
        return;
    base = g_path_get_basename (path);
    if ((name = nms_maildir_name_parse (base, &error)) == NULL) {
        nms_context_log (ap->ctx, NMS_LEVEL_WARNING, "file '%s' left alone: %s", path,
                         error->message);
        return;
    }
    flags = name->flags != NULL ? name->flags : "";
    ap->looked_at++;
    in = (NmsRuleInput) {
        .tags = m->tags, .folder = folder, .flags = flags,
        .agreed_folder = m->agreed_folder, .agreed_flags = m->agreed_flags,
        .tags_changed = !ap->full, .matched_rule = nms_apply_account_first_match (acct, m->id),
        .rule_folders = (char *const *) acct->resolved->pdata,
    };
    nms_rules_decide (&acct->rules, &in, &out);
    if (!outcome_changes (m, folder, flags, &out)) {
        nms_rule_outcome_clear (&out);
        return;
    }
    what = describe_outcome (m, folder, flags, &out);
    if (ap->ctx->dry_run) {
        nms_context_log (ap->ctx, NMS_LEVEL_WARNING, "would change %s", what);
        nms_rule_outcome_clear (&out);
        return;
    }
    /* File first, then tags and the agreed state: a crash in between leaves a file whose
     * folder or flags differ from the agreed ones, which the next apply takes as "moved by
     * someone else" and settles without moving it back (notmuch, which commits only at the
     * end, may still list the old filename: resolve_paths finds the file). */
    if (!apply_file (ap, acct, path, folder, flags, &out, &error) ||
        !nms_db_message_update (ap->db, m->id, (char *const *) out.add_tags->pdata,
                                (char *const *) out.remove_tags->pdata, out.agreed_folder,
                                out.agreed_flags, &error)) {
        nms_context_skip (ap->ctx, "%s: id:%s ('%s'): %s", acct->account->name, m->id, path,
                          error->message);
    } else {
        ap->retagged += out.add_tags->len > 0 || out.remove_tags->len > 0;
        nms_context_log (ap->ctx, NMS_LEVEL_INFO, "changed %s", what);
        step (ap);
    }
    nms_rule_outcome_clear (&out);
}

static gboolean
apply_account (Apply *ap, const NmsAccount *account, GError **error)
{
    g_auto (NmsApplyAccount) acct = { 0 };
    g_autoptr (GPtrArray) messages = NULL;

    if (!nms_apply_account_load (&acct, account, ap->config->state_dir, ap->rules, ap->db,
                                 ap->candidates, ap->ctx->dry_run, error) ||
        (messages = nms_db_query (ap->db, ap->candidates, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < messages->len; i++)
        apply_message (ap, &acct, g_ptr_array_index (messages, i));
    return TRUE;
}

/* What changed since the last apply: the revision stored by it, if the database is the same
 * one (its UUID); else everything. */
static void
choose_candidates (Apply *ap)
{
    g_autofree char *uuid = NULL;
    g_autofree char *stored_uuid = nms_db_config_get (ap->db, KEY_UUID);
    g_autofree char *stored = nms_db_config_get (ap->db, KEY_REVISION);
    guint64 now = nms_db_revision (ap->db, &uuid);

    ap->full = stored == NULL || g_strcmp0 (stored_uuid, uuid) != 0;
    ap->candidates = ap->full ? g_strdup ("*")
                              : g_strdup_printf ("lastmod:%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                                                 g_ascii_strtoull (stored, NULL, 10) + 1, now);
}

/* Remembers the revision after our own changes, so that they are not looked at again. */
static gboolean
remember_revision (Apply *ap, GError **error)
{
    g_autofree char *uuid = NULL;
    g_autofree char *rev = g_strdup_printf ("%" G_GUINT64_FORMAT, nms_db_revision (ap->db, &uuid));

    return nms_db_config_set (ap->db, KEY_REVISION, rev, error) &&
           nms_db_config_set (ap->db, KEY_UUID, uuid, error);
}

/* The rule files: [general] rules, else nmsync.rules in notmuch's config. (transfer full) */
static char **
rule_files (const Apply *ap)
{
    g_autofree char *from_notmuch = NULL;

    if (ap->config->rules != NULL && ap->config->rules[0] != NULL)
        return g_strdupv (ap->config->rules);
    from_notmuch = nms_db_config_get (ap->db, "nmsync.rules");
    return from_notmuch != NULL ? g_strsplit (from_notmuch, ";", -1) : NULL;
}

/* The account lock (the one sync, pull and push take), waiting for it while another nmsync
 * holds it. -1 after naming the account and the holder. */
static int
lock_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account)
{
    g_autoptr (GError) error = NULL;
    guint wait_ms = nms_cli_lock_wait_ms ();
    int fd = nms_state_lock (config->state_dir, account->name, 0, &error);

    if (fd < 0 && wait_ms > 0 && g_error_matches (error, NMS_STATE_ERROR, NMS_STATE_ERROR_LOCKED)) {
        nms_context_log (ctx, NMS_LEVEL_INFO, "%s; waiting up to %u s", error->message,
                         (wait_ms + 999) / 1000);
        g_clear_error (&error);
        fd = nms_state_lock (config->state_dir, account->name, wait_ms, &error);
    }
    if (fd < 0)
        fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
    return fd;
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

    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);
        int fd = NO_LOCK;

        if (options->args[0] != NULL && !g_strv_contains ((const char *const *) options->args,
                                                          account->name))
            continue;
        if (!options->dry_run && (fd = lock_account (ctx, config, account)) < 0)
            *status_out = NMS_EXIT_LOCKED;
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

int
nms_cmd_apply (const NmsCliOptions *options)
{
    g_autoptr (NmsConfig) config = nms_cli_load_config (options);
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) accounts = g_ptr_array_new ();
    g_auto (GStrv) files = NULL;
    NmsContext ctx = { .dry_run = options->dry_run };
    Apply ap = { .ctx = &ctx, .config = config, .crash_after = nms_cli_crash_after () };
    gint64 started = g_get_monotonic_time ();
    int status = NMS_EXIT_OK;
    GArray *locks;

    if (config == NULL)
        return NMS_EXIT_USAGE;
    nms_output_init (&ctx, options->verbosity);
    locks = lock_accounts (&ctx, options, config, accounts, &status);
    ap.db = nms_db_open (config->notmuch_config, !options->dry_run, LOCK_WAIT_MS, &error);
    if (ap.db == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        unlock_accounts (locks);
        nms_output_finish (&ctx);
        return g_error_matches (error, NMS_DB_ERROR, NMS_DB_ERROR_LOCKED) ? NMS_EXIT_LOCKED
                                                                           : NMS_EXIT_USAGE;
    }
    nms_confine_apply (&ctx, options, config, ap.db);
    files = rule_files (&ap);
    if (files == NULL) {
        fprintf (stderr, "nmsync: no rules: set 'rules' in [general] of '%s'\n", config->path);
        status = NMS_EXIT_USAGE;
        goto out;
    }
    if ((ap.rules = nms_rules_load (files, &error)) == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        status = NMS_EXIT_USAGE;
        goto out;
    }
    choose_candidates (&ap);
    for (guint i = 0; i < accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (accounts, i);

        if (g_array_index (locks, int, i) == -1)
            continue;
        if (!apply_account (&ap, account, &error)) {
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            g_clear_error (&error);
            status = MAX (status, NMS_EXIT_SKIPPED);
        }
    }
    /* An account left out (locked, failed) keeps its candidates for the next apply. */
    if (!options->dry_run && status == NMS_EXIT_OK && !remember_revision (&ap, &error)) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        g_clear_error (&error);
        status = NMS_EXIT_SKIPPED;
    }
    if (ctx.progress.skipped > 0)
        status = MAX (status, NMS_EXIT_SKIPPED);
    if (options->verbosity >= 0)
        printf ("apply: %u messages looked at, %u moved, %u flags changed, %u tags changed in "
                "%.2f s\n", ap.looked_at, ap.moved, ap.reflagged, ap.retagged,
                (g_get_monotonic_time () - started) / (double) G_USEC_PER_SEC);
out:
    /* notmuch commits here: the account locks are held until it has. */
    if (!nms_db_close (ap.db, &error)) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        status = MAX (status, NMS_EXIT_SKIPPED);
    }
    unlock_accounts (locks);
    nms_rules_free (ap.rules);
    g_free (ap.candidates);
    nms_output_finish (&ctx);
    return status;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The rules executor for one account: for every message whose tags or files changed since the
 * account's last rules run (notmuch lastmod against the revision stored in the database; a
 * database with a new UUID gets a full pass), the rule evaluator decides its folder, flags and
 * tags three-way (src/rules/); files are moved (",U=" dropped: with nmsync's own sync the move
 * then becomes a server-side UID MOVE) or renamed, and the database is updated in place. Run by
 * `nmsync apply` alone and by `nmsync sync` before and after the IMAP stage, under the account
 * lock either way. Never IMAP. */
#include "nms-build.h"

#include "apply/apply.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "maildir/maildir.h"

/* Per account since the pipeline: a sync of one account must not move the watermark past
 * another account's unseen tag changes. The global keys are what an older apply stored; they
 * are read once, for an account that has no key of its own yet. */
#define KEY_REVISION "nmsync.apply-revision"
#define KEY_UUID "nmsync.apply-uuid"

typedef struct {
    NmsContext *ctx;
    const NmsConfig *config;
    const NmsRules *rules;
    NmsDb *db;
    const NmsAccount *account;
    char *candidates; /* the notmuch query for what changed since the last apply */
    gboolean full;    /* first run or a new database: everything is a candidate, and only
                       * recorded (no tag is taken as changed) */
    gboolean all;     /* --all: everything is a candidate, every tag as if changed */
    NmsApplyCounts *counts;
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
        ap->counts->moved++;
    }
    if (strcmp (out->flags, flags) != 0) {
        if (!index_rename (ap, &current, nms_maildir_set_flags (current, out->flags, error), error))
            return FALSE;
        ap->counts->reflagged++;
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
    ap->counts->looked_at++;
    in = (NmsRuleInput) {
        .tags = m->tags, .folder = folder, .flags = flags,
        .agreed_folder = m->agreed_folder, .agreed_flags = m->agreed_flags,
        .tags_changed = ap->all || !ap->full, .matched_rule = nms_apply_account_first_match (acct, m->id),
        .rule_folders = (char *const *) acct->resolved->pdata,
        .rule_otherwise = (char *const *) acct->otherwise->pdata,
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
        ap->counts->retagged += out.add_tags->len > 0 || out.remove_tags->len > 0;
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

/* The notmuch config key @base of @account. (transfer full) */
static char *
account_key (const char *base, const NmsAccount *account)
{
    return g_strconcat (base, ".", account->name, NULL);
}

/* What changed since the account's last rules run: the revision stored by it (else by an
 * older apply, for all accounts), if the database is the same one (its UUID); else
 * everything. */
static void
choose_candidates (Apply *ap)
{
    g_autofree char *rev_key = account_key (KEY_REVISION, ap->account);
    g_autofree char *uuid_key = account_key (KEY_UUID, ap->account);
    g_autofree char *uuid = NULL;
    g_autofree char *stored = nms_db_config_get (ap->db, rev_key);
    g_autofree char *stored_uuid = NULL;
    guint64 now = nms_db_revision (ap->db, &uuid);

    if (stored != NULL) {
        stored_uuid = nms_db_config_get (ap->db, uuid_key);
    } else {
        stored = nms_db_config_get (ap->db, KEY_REVISION);
        stored_uuid = nms_db_config_get (ap->db, KEY_UUID);
    }
    ap->full = stored == NULL || g_strcmp0 (stored_uuid, uuid) != 0;
    ap->candidates = ap->full || ap->all ? g_strdup ("*")
                              : g_strdup_printf ("lastmod:%" G_GUINT64_FORMAT "..%" G_GUINT64_FORMAT,
                                                 g_ascii_strtoull (stored, NULL, 10) + 1, now);
}

/* Remembers the revision after our own changes, so that they are not looked at again. */
static gboolean
remember_revision (Apply *ap, GError **error)
{
    g_autofree char *rev_key = account_key (KEY_REVISION, ap->account);
    g_autofree char *uuid_key = account_key (KEY_UUID, ap->account);
    g_autofree char *uuid = NULL;
    g_autofree char *rev = g_strdup_printf ("%" G_GUINT64_FORMAT, nms_db_revision (ap->db, &uuid));

    return nms_db_config_set (ap->db, rev_key, rev, error) &&
           nms_db_config_set (ap->db, uuid_key, uuid, error);
}

char **
nms_apply_rule_files (const NmsConfig *config, NmsDb *db)
{
    g_autofree char *from_notmuch = NULL;
    NmsDb *own = NULL;

    if (config->rules != NULL && config->rules[0] != NULL)
        return g_strdupv (config->rules);
    /* No database (yet), no notmuch at all: no rules from there either. */
    if (db == NULL && (db = own = nms_db_open (config->notmuch_config, FALSE, 0, NULL)) == NULL)
        return NULL;
    from_notmuch = nms_db_config_get (db, "nmsync.rules");
    if (own != NULL)
        nms_db_close (own, NULL);
    if (from_notmuch == NULL)
        return NULL;
    /* As [general] rules are read: blanks around a name dropped, empty entries skipped. */
    {
        g_auto (GStrv) parts = g_strsplit (from_notmuch, ";", -1);
        GPtrArray *files = g_ptr_array_new ();

        for (char **p = parts; *p != NULL; p++) {
            if (*g_strstrip (*p) != '\0')
                g_ptr_array_add (files, g_strdup (*p));
        }
        if (files->len == 0) {
            g_ptr_array_free (files, TRUE);
            return NULL;
        }
        g_ptr_array_add (files, NULL);
        return (char **) g_ptr_array_free (files, FALSE);
    }
}

gboolean
nms_apply_run (NmsContext *ctx, const NmsConfig *config, const NmsRules *rules, NmsDb *db,
               const NmsAccount *account, const NmsApplyRunOptions *options,
               NmsApplyCounts *counts, GError **error)
{
    Apply ap = { .ctx = ctx, .config = config, .rules = rules, .db = db, .account = account,
                 .counts = counts, .crash_after = options->crash_after, .all = options->all };
    guint64 skipped = ctx->progress.skipped;
    guint changed = 0;
    gboolean ok;

    choose_candidates (&ap);
    /* Nothing changed since the last run (the common case for a sync every few minutes): no
     * folder scan, no state, no per-rule query. */
    if (!ap.full && !ap.all && nms_db_count (db, ap.candidates, &changed, NULL) && changed == 0) {
        g_free (ap.candidates);
        return TRUE;
    }
    ok = apply_account (&ap, account, error);
    /* An account with a message skipped keeps its candidates for the next run. */
    if (ok && !ctx->dry_run && ctx->progress.skipped == skipped)
        ok = remember_revision (&ap, error);
    g_free (ap.candidates);
    return ok;
}

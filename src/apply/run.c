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
                             "%sid:%s: notmuch's filename '%s' (the file is gone; the message keeps "
                             "another)",
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

/* A message whose outcome changes something, between deciding and telling notmuch. */
typedef struct {
    const NmsDbMessage *m;
    char *path;         /* its file */
    char *dest_dir;     /* the folder directory it goes to, or NULL: it stays */
    char *renamed;      /* its file's name after the rename, NULL when not renamed (yet) */
    NmsRuleOutcome out;
    char *what;         /* describe_outcome */
    gboolean moved, reflagged, failed;
} Change;

static void
change_clear (Change *c)
{
    g_free (c->path);
    g_free (c->dest_dir);
    g_free (c->renamed);
    g_free (c->what);
    nms_rule_outcome_clear (&c->out);
}

/* One message: decides it. FALSE when nothing changes (or in a dry run, which says what
 * would); else fills @c with what the batch then does. */
static gboolean
decide_message (Apply *ap, const NmsApplyAccount *acct, const NmsDbMessage *m, Change *c)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *base = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    g_auto (GStrv) paths = resolve_paths (ap, acct, m);
    NmsRuleOutcome out = { 0 };
    const char *folder = NULL, *path = nms_apply_account_file (acct, paths, &folder);
    const char *flags;
    NmsRuleInput in;

    if (path == NULL)
        return FALSE;
    base = g_path_get_basename (path);
    if ((name = nms_maildir_name_parse (base, &error)) == NULL) {
        nms_context_log (ap->ctx, NMS_LEVEL_WARNING, "file '%s' left alone: %s", path,
                         error->message);
        return FALSE;
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
        return FALSE;
    }
    if (ap->ctx->dry_run) {
        g_autofree char *what = describe_outcome (m, folder, flags, &out);

        nms_context_log (ap->ctx, NMS_LEVEL_WARNING, "would change %s", what);
        nms_rule_outcome_clear (&out);
        return FALSE;
    }
    *c = (Change) { .m = m, .path = g_strdup (path), .out = out,
                    .what = describe_outcome (m, folder, flags, &out),
                    .moved = strcmp (out.folder, folder) != 0,
                    .reflagged = strcmp (out.flags, flags) != 0 };
    if (c->moved) {
        g_autofree char *rel = nms_maildir_folder_to_path (out.folder, '/', acct->account->layout,
                                                           &error);

        if (rel == NULL ||
            (c->dest_dir = nms_maildir_folder_ensure (acct->account->maildir, rel, &error)) == NULL) {
            nms_context_skip (ap->ctx, "%s: id:%s ('%s'): %s", acct->account->name, m->id, path,
                              error->message);
            change_clear (c);
            return FALSE;
        }
    }
    return TRUE;
}

static void
change_skip (Apply *ap, const NmsApplyAccount *acct, Change *c, const GError *error)
{
    nms_context_skip (ap->ctx, "%s: id:%s ('%s'): %s", acct->account->name, c->m->id, c->path,
                      error->message);
    c->failed = TRUE;
}

/* The folder directory of the file at @path (in its cur/ or new/). (transfer full) */
static char *
folder_dir_of (const char *path)
{
    g_autofree char *sub = g_path_get_dirname (path);

    return g_path_get_dirname (sub);
}

/* Steps 1-3 of run_batch: the files. FALSE when the batch's renames are not durable: every
 * change of the batch is then skipped (notmuch is not told; the next apply finds the files
 * under whichever names survive). */
static gboolean
rename_files (Apply *ap, const NmsApplyAccount *acct, GArray *changes)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GHashTable) dirs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    gboolean moves = FALSE;
    GHashTableIter iter;
    gpointer dir;

    for (guint i = 0; i < changes->len; i++)
        moves |= g_array_index (changes, Change, i).moved;
    /* 1. A file another program wrote may not be on disk yet: after a crash that loses
     * unsynced data but keeps the rename, the junk folder would hold an empty message. */
    if (moves && !nms_maildir_sync_data (acct->account->maildir, &error)) {
        for (guint i = 0; i < changes->len; i++)
            change_skip (ap, acct, &g_array_index (changes, Change, i), error);
        return FALSE;
    }
    /* 2. The renames (a move and a flag change in one), without directory fsyncs. */
    for (guint i = 0; i < changes->len; i++) {
        Change *c = &g_array_index (changes, Change, i);

        if (!c->moved && !c->reflagged)
            continue;
        c->renamed = c->moved ? nms_maildir_move_full (c->path, c->dest_dir, c->out.flags, FALSE,
                                                       &error)
                              : nms_maildir_set_flags_full (c->path, c->out.flags, FALSE, &error);
        if (c->renamed == NULL) {
            change_skip (ap, acct, c, error);
            g_clear_error (&error);
            continue;
        }
        g_hash_table_add (dirs, folder_dir_of (c->path));
        g_hash_table_add (dirs, folder_dir_of (c->renamed));
        step (ap); /* a crash here: the rename may be undone; notmuch has the old name, and the
                    * next apply finds the file under whichever name survived */
    }
    /* 3. One fsync of cur/ and new/ per folder touched: now the new names are durable, and
     * only now may notmuch record them (it could commit them before we close it). */
    g_hash_table_iter_init (&iter, dirs);
    while (g_hash_table_iter_next (&iter, &dir, NULL)) {
        if (!nms_maildir_folder_sync_dirs (dir, &error)) {
            for (guint i = 0; i < changes->len; i++) {
                Change *c = &g_array_index (changes, Change, i);

                if (!c->failed && c->renamed != NULL)
                    change_skip (ap, acct, c, error);
            }
            return FALSE;
        }
    }
    if (g_hash_table_size (dirs) > 0)
        step (ap);
    return TRUE;
}

/* Step 4 of run_batch for one change: notmuch learns the new filename (in place: tags kept),
 * the tags and the agreed state, in one write of the message when it was renamed. */
static void
record_change (Apply *ap, const NmsApplyAccount *acct, Change *c)
{
    g_autoptr (GError) error = NULL;
    NmsDbStats stats = { 0 };
    char *const *add = (char *const *) c->out.add_tags->pdata;
    char *const *remove = (char *const *) c->out.remove_tags->pdata;
    gboolean ok;

    if (c->renamed != NULL) {
        NmsFileEvent ev = { .kind = NMS_FILE_RENAMED, .path = c->renamed, .old_path = c->path };

        ok = nms_db_rename_message (ap->db, &ev, c->m->id, add, remove, c->out.agreed_folder,
                                    c->out.agreed_flags, &stats, &error);
        /* moved or renamed all the same; notmuch keeps the old name until the file is renamed */
        if (ok && stats.too_long != NULL)
            nms_context_skip (ap->ctx, "notmuch: '%s' not indexed: its name or its folder's is "
                              "longer than the %d bytes notmuch can index; rename it",
                              c->renamed, NMS_DB_NAME_MAX);
        nms_db_stats_clear (&stats);
    } else {
        ok = nms_db_message_update (ap->db, c->m->id, add, remove, c->out.agreed_folder,
                                    c->out.agreed_flags, &error);
    }
    if (!ok) {
        change_skip (ap, acct, c, error);
        return;
    }
    ap->counts->moved += c->moved;
    ap->counts->reflagged += c->reflagged;
    ap->counts->retagged += c->out.add_tags->len > 0 || c->out.remove_tags->len > 0;
    nms_context_log (ap->ctx, NMS_LEVEL_INFO, "changed %s", c->what);
    step (ap);
}

/* Carries out @changes, a batch at a time like the downloads (transfer.c):
 * 1. one syncfs when the batch moves files (their data durable before any rename);
 * 2. the renames, without directory fsyncs;
 * 3. one fsync of cur/ and new/ of every folder a file left or entered;
 * 4. notmuch told of every new filename, tags and agreed state, in one atomic section.
 * The order of files before tags (and of a message's file, then its agreed state) is what
 * makes a crash harmless: until 4 notmuch lists the old filename and the old agreed folder
 * and flags, and the next apply finds the file by its unique part (files.c); a file whose
 * rename survived then differs from the agreed state, which the next apply takes as "moved by
 * someone else" and settles without moving it back; one whose rename was undone is decided
 * again. Nothing of 4 is committed before the database is closed. */
static void
run_batch (Apply *ap, const NmsApplyAccount *acct, GArray *changes)
{
    g_autoptr (GError) error = NULL;

    if (!rename_files (ap, acct, changes))
        return;
    if (!nms_db_begin_batch (ap->db, &error)) {
        for (guint i = 0; i < changes->len; i++)
            change_skip (ap, acct, &g_array_index (changes, Change, i), error);
        return;
    }
    for (guint i = 0; i < changes->len; i++) {
        Change *c = &g_array_index (changes, Change, i);

        if (!c->failed)
            record_change (ap, acct, c);
    }
    if (!nms_db_end_batch (ap->db, &error))
        nms_context_skip (ap->ctx, "%s: %s", acct->account->name, error->message);
}

/* Messages decided and changed per batch: a batch's renames cost one syncfs and one fsync of
 * each folder directory, its notmuch updates one atomic section. */
#define APPLY_BATCH 500

static gboolean
apply_account (Apply *ap, const NmsAccount *account, GError **error)
{
    g_auto (NmsApplyAccount) acct = { 0 };
    g_autoptr (GPtrArray) messages = NULL;
    g_autoptr (GArray) changes = g_array_new (FALSE, TRUE, sizeof (Change));

    g_array_set_clear_func (changes, (GDestroyNotify) change_clear);
    if (!nms_apply_account_load (&acct, account, ap->config->state_dir, ap->rules, ap->db,
                                 ap->candidates, ap->ctx->dry_run, error) ||
        (messages = nms_db_query (ap->db, ap->candidates, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < messages->len; i++) {
        Change c = { 0 };

        if (decide_message (ap, &acct, g_ptr_array_index (messages, i), &c))
            g_array_append_val (changes, c);
        if (changes->len == APPLY_BATCH || (i + 1 == messages->len && changes->len > 0)) {
            run_batch (ap, &acct, changes);
            g_array_set_size (changes, 0);
        }
    }
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
nms_apply_unchanged (NmsDb *db, const NmsAccount *account)
{
    Apply ap = { .db = db, .account = account };
    guint changed = 0;
    gboolean unchanged;

    choose_candidates (&ap);
    unchanged = !ap.full && nms_db_count (db, ap.candidates, &changed, NULL) && changed == 0;
    g_free (ap.candidates);
    return unchanged;
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

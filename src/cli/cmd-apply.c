/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync apply [ACCOUNT...]: the rules alone, locally, no network. For every message whose
 * tags or files changed since the last apply (notmuch lastmod against the revision stored in
 * the database; a database with a new UUID gets a full pass), the rule evaluator decides its
 * folder, flags and tags three-way (src/rules/); files are moved (",U=" dropped: with nmsync's
 * own sync the move then becomes a server-side UID MOVE) or renamed, and the database is
 * updated in place. Works on any Maildir notmuch indexes, mbsync's too. */
#include "config.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "maildir/maildir.h"
#include "notmuch/notmuch.h"
#include "rules/rules.h"
#include "state/state.h"

#define KEY_REVISION "nmsync.apply-revision"
#define KEY_UUID "nmsync.apply-uuid"
#define LOCK_WAIT_MS 10000

typedef struct {
    NmsContext *ctx;
    const NmsConfig *config;
    NmsRules *rules;
    NmsDb *db;
    char *candidates; /* the notmuch query for what changed since the last apply */
    gboolean full;    /* first run, or a new database: everything is a candidate */
    guint moved, reflagged, retagged, looked_at;
} Apply;

/* One account's folders: names for the rule roles, directories back to names, and per folder
 * rule the candidates its match selects. */
typedef struct {
    const NmsAccount *account;
    GPtrArray *folders;   /* NmsMaildirFolder */
    GHashTable *by_dir;   /* absolute folder dir -> name (transfer none) */
    GPtrArray *names;     /* char* (transfer none), NULL-terminated */
    GPtrArray *resolved;  /* char*, same indexes as rules->folders, entries may be NULL */
    GPtrArray *matches;   /* GHashTable of ids, or NULL for a rule without match */
    GHashTable *roles;    /* special-use role -> folder, from the account's last sync */
    NmsRules rules;       /* the rules, with [keywords] as flag rules on this account's letters:
                           * the arrays are borrowed, only rules.flags is this account's own */
    GPtrArray *keyword_flags; /* NmsFlagRule made for [keywords] (owned) */
} Account;

static void
account_clear (Account *acct)
{
    g_clear_pointer (&acct->matches, g_ptr_array_unref);
    g_clear_pointer (&acct->roles, g_hash_table_unref);
    g_clear_pointer (&acct->rules.flags, g_ptr_array_unref);
    g_clear_pointer (&acct->keyword_flags, g_ptr_array_unref);
    g_clear_pointer (&acct->resolved, g_ptr_array_unref);
    g_clear_pointer (&acct->names, g_ptr_array_unref);
    g_clear_pointer (&acct->by_dir, g_hash_table_unref);
    g_clear_pointer (&acct->folders, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Account, account_clear)

static void
ids_free (gpointer ids)
{
    if (ids != NULL)
        g_hash_table_unref (ids);
}

static void
keyword_flag_free (NmsFlagRule *f)
{
    g_free (f->tag);
    g_free (f);
}

/* [keywords] tag = KEYWORD: the tag follows the keyword's Maildir letter in this account (the
 * letter its sync assigned, or assigns now), exactly like a [flags] rule. */
static gboolean
keyword_rules (Apply *ap, NmsState *state, Account *acct, GError **error)
{
    g_autoptr (GHashTable) letters = NULL;
    g_autoptr (GPtrArray) names = g_ptr_array_new ();

    acct->rules = *ap->rules;
    /* Not g_ptr_array_copy(): it would take the free func along, and these are borrowed. */
    acct->rules.flags = g_ptr_array_new ();
    for (guint i = 0; i < ap->rules->flags->len; i++)
        g_ptr_array_add (acct->rules.flags, g_ptr_array_index (ap->rules->flags, i));
    acct->keyword_flags = g_ptr_array_new_with_free_func ((GDestroyNotify) keyword_flag_free);
    if (ap->rules->keywords->len == 0)
        return TRUE;
    for (guint i = 0; i < ap->rules->keywords->len; i++) {
        NmsKeywordRule *k = g_ptr_array_index (ap->rules->keywords, i);
        if (k->keyword[0] != '\\')
            g_ptr_array_add (names, k->keyword);
    }
    g_ptr_array_add (names, NULL);
    if ((letters = nms_state_keyword_letters (state, (char **) names->pdata, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < ap->rules->keywords->len; i++) {
        NmsKeywordRule *k = g_ptr_array_index (ap->rules->keywords, i);
        NmsFlagRule *f = g_new0 (NmsFlagRule, 1);

        f->tag = g_strdup (k->tag);
        if (k->keyword[0] == '\\') {
            /* A system flag (\Deleted): its own Maildir letter (T), if it has one. */
            const char *flag[] = { k->keyword };
            g_autofree char *letter = nms_maildir_flags_from_imap (flag, 1);

            f->letter = letter[0];
        } else {
            f->letter = ((const char *) g_hash_table_lookup (letters, k->keyword))[0];
        }
        if (f->letter == '\0') {
            keyword_flag_free (f); /* a system flag with no Maildir letter (\Recent) */
            continue;
        }
        f->line = k->line;
        g_ptr_array_add (acct->keyword_flags, f);
        g_ptr_array_add (acct->rules.flags, f);
    }
    return TRUE;
}

static gboolean
account_load (Apply *ap, const NmsAccount *account, Account *acct, GError **error)
{
    g_autoptr (NmsState) state = NULL;

    acct->account = account;
    acct->folders = nms_maildir_list_folders (account->maildir, account->layout, error);
    if (acct->folders == NULL)
        return FALSE;
    acct->by_dir = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    acct->names = g_ptr_array_new ();
    for (guint i = 0; i < acct->folders->len; i++) {
        NmsMaildirFolder *f = g_ptr_array_index (acct->folders, i);

        g_hash_table_insert (acct->by_dir, g_build_filename (account->maildir, f->relpath, NULL),
                             f->name);
        g_ptr_array_add (acct->names, f->name);
    }
    g_ptr_array_add (acct->names, NULL);
    /* The account's sync state: special-use roles and keyword letters, both from its syncs. */
    if ((state = nms_state_open (ap->config->state_dir, account->name, error)) == NULL ||
        (acct->roles = nms_state_roles (state, error)) == NULL ||
        !keyword_rules (ap, state, acct, error))
        return FALSE;
    acct->resolved = g_ptr_array_new_with_free_func (g_free);
    acct->matches = g_ptr_array_new_with_free_func (ids_free);
    for (guint i = 0; i < ap->rules->folders->len; i++) {
        NmsFolderRule *rule = g_ptr_array_index (ap->rules->folders, i);
        g_autofree char *query = NULL;
        GHashTable *ids = NULL;

        g_ptr_array_add (acct->resolved, nms_rules_resolve_folder (
                                             rule->folder, (char **) acct->names->pdata, acct->roles));
        if (rule->match != NULL) {
            query = g_strdup_printf ("(%s) and (%s)", rule->match, ap->candidates);
            if ((ids = nms_db_query_ids (ap->db, query, error)) == NULL) {
                g_prefix_error (error, "%s:%d: [folder %s]: ", rule->file, rule->line, rule->folder);
                return FALSE;
            }
        }
        g_ptr_array_add (acct->matches, ids);
    }
    return TRUE;
}

/* The file of @m in this account, and its folder's name (transfer none), or NULL. */
static const char *
file_in_account (const Account *acct, const NmsDbMessage *m, const char **folder_out)
{
    for (char **p = m->paths; p != NULL && *p != NULL; p++) {
        g_autofree char *sub = g_path_get_dirname (*p);
        g_autofree char *dir = g_path_get_dirname (sub);
        g_autofree char *leaf = g_path_get_basename (sub);
        const char *name;

        if (strcmp (leaf, "cur") != 0 && strcmp (leaf, "new") != 0)
            continue;
        if ((name = g_hash_table_lookup (acct->by_dir, dir)) != NULL) {
            *folder_out = name;
            return *p;
        }
    }
    return NULL;
}

static int
first_match (const Apply *ap, const Account *acct, const char *id)
{
    for (guint i = 0; i < acct->matches->len; i++) {
        GHashTable *ids = g_ptr_array_index (acct->matches, i);
        if (ids != NULL && g_ptr_array_index (acct->resolved, i) != NULL &&
            g_hash_table_contains (ids, id))
            return (int) i;
    }
    return -1;
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
    if (!nms_db_apply_events (ap->db, &ev, 1, 1, &stats, error)) {
        nms_db_stats_clear (&stats);
        g_free (renamed);
        return FALSE;
    }
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
apply_file (Apply *ap, const Account *acct, const char *path, const char *folder,
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

static void
print_outcome (Apply *ap, const NmsDbMessage *m, const char *folder, const char *flags,
               const NmsRuleOutcome *out)
{
    g_autofree char *add = NULL, *remove = NULL;

    /* Both arrays are NULL-terminated (rules.h). */
    add = g_strjoinv (" +", (char **) out->add_tags->pdata);
    remove = g_strjoinv (" -", (char **) out->remove_tags->pdata);
    nms_context_log (ap->ctx, NMS_LEVEL_WARNING, "would change id:%s: folder '%s' -> '%s', flags "
                     "'%s' -> '%s', tags%s%s%s%s", m->id, folder, out->folder, flags, out->flags,
                     *add ? " +" : "", add, *remove ? " -" : "", remove);
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

/* One message: decide, then move/rename the file and update tags and agreed state. */
static void
apply_message (Apply *ap, const Account *acct, const NmsDbMessage *m)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *base = NULL;
    g_autoptr (NmsMaildirName) name = NULL;
    NmsRuleOutcome out = { 0 };
    const char *folder = NULL, *path = file_in_account (acct, m, &folder);
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
        .tags_changed = !ap->full, .matched_rule = first_match (ap, acct, m->id),
        .rule_folders = (char *const *) acct->resolved->pdata,
    };
    nms_rules_decide (&acct->rules, &in, &out);
    if (!outcome_changes (m, folder, flags, &out)) {
        nms_rule_outcome_clear (&out);
        return;
    }
    if (ap->ctx->dry_run) {
        print_outcome (ap, m, folder, flags, &out);
        nms_rule_outcome_clear (&out);
        return;
    }
    ap->retagged += out.add_tags->len > 0 || out.remove_tags->len > 0;
    /* File first, then tags and the agreed state: a crash in between leaves a file whose
     * folder or flags differ from the agreed ones, which the next apply takes as "moved by
     * someone else" and settles without moving it back. */
    if (!apply_file (ap, acct, path, folder, flags, &out, &error) ||
        !nms_db_message_update (ap->db, m->id, (char *const *) out.add_tags->pdata,
                                (char *const *) out.remove_tags->pdata, out.agreed_folder,
                                out.agreed_flags, &error))
        nms_context_skip (ap->ctx, "%s: id:%s ('%s'): %s", acct->account->name, m->id, path,
                          error->message);
    nms_rule_outcome_clear (&out);
}

static gboolean
apply_account (Apply *ap, const NmsAccount *account, GError **error)
{
    g_auto (Account) acct = { 0 };
    g_autoptr (GPtrArray) messages = NULL;

    if (!account_load (ap, account, &acct, error) ||
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

int
nms_cmd_apply (const NmsCliOptions *options)
{
    g_autoptr (NmsConfig) config = nms_cli_load_config (options);
    g_autoptr (GError) error = NULL;
    g_auto (GStrv) files = NULL;
    NmsContext ctx = { .dry_run = options->dry_run };
    Apply ap = { .ctx = &ctx, .config = config };
    gint64 started = g_get_monotonic_time ();
    int status = NMS_EXIT_OK;

    if (config == NULL)
        return NMS_EXIT_USAGE;
    nms_output_init (&ctx, options->verbosity);
    ap.db = nms_db_open (config->notmuch_config, !options->dry_run, LOCK_WAIT_MS, &error);
    if (ap.db == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
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
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *account = g_ptr_array_index (config->accounts, i);

        if (options->args[0] != NULL && !g_strv_contains ((const char *const *) options->args,
                                                          account->name))
            continue;
        if (!apply_account (&ap, account, &error)) {
            fprintf (stderr, "nmsync: %s: %s\n", account->name, error->message);
            g_clear_error (&error);
            status = NMS_EXIT_SKIPPED;
        }
    }
    if (!options->dry_run && !remember_revision (&ap, &error)) {
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
    if (!nms_db_close (ap.db, &error)) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        status = MAX (status, NMS_EXIT_SKIPPED);
    }
    nms_rules_free (ap.rules);
    g_free (ap.candidates);
    nms_output_finish (&ctx);
    return status;
}

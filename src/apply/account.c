/* SPDX-License-Identifier: GPL-3.0-or-later
 * One account as the rules executor sees it: its folders by name and directory, the rules
 * with [keywords] on the account's letters, the special-use roles, and which candidates each
 * folder rule's match selects. */
#include "nms-build.h"

#include "apply/apply.h"

#include <string.h>

#include "maildir/maildir.h"
#include "state/state.h"

void
nms_apply_account_clear (NmsApplyAccount *acct)
{
    g_clear_pointer (&acct->files, nms_apply_files_free);
    g_clear_pointer (&acct->matches, g_ptr_array_unref);
    g_clear_pointer (&acct->roles, g_hash_table_unref);
    g_clear_pointer (&acct->rules.flags, g_ptr_array_unref);
    g_clear_pointer (&acct->keyword_flags, g_ptr_array_unref);
    g_clear_pointer (&acct->resolved, g_ptr_array_unref);
    g_clear_pointer (&acct->otherwise, g_ptr_array_unref);
    g_clear_pointer (&acct->names, g_ptr_array_unref);
    g_clear_pointer (&acct->by_dir, g_hash_table_unref);
    g_clear_pointer (&acct->folders, g_ptr_array_unref);
}

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
keyword_rules (const NmsRules *rules, NmsState *state, NmsApplyAccount *acct, GError **error)
{
    g_autoptr (GHashTable) letters = NULL;
    g_autoptr (GPtrArray) names = g_ptr_array_new ();

    acct->rules = *rules;
    /* Not g_ptr_array_copy(): it would take the free func along, and these are borrowed. */
    acct->rules.flags = g_ptr_array_new ();
    for (guint i = 0; i < rules->flags->len; i++)
        g_ptr_array_add (acct->rules.flags, g_ptr_array_index (rules->flags, i));
    acct->keyword_flags = g_ptr_array_new_with_free_func ((GDestroyNotify) keyword_flag_free);
    if (rules->keywords->len == 0)
        return TRUE;
    for (guint i = 0; i < rules->keywords->len; i++) {
        NmsKeywordRule *k = g_ptr_array_index (rules->keywords, i);
        if (k->keyword[0] != '\\')
            g_ptr_array_add (names, k->keyword);
    }
    g_ptr_array_add (names, NULL);
    if (state == NULL) {
        /* A dry run on an account without state: the letters a real run would assign, in
         * order from 'a' (nms_state_keyword_letters on an empty table). */
        letters = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_free);
        for (guint i = 0; i + 1 < names->len && i < 26; i++)
            g_hash_table_insert (letters, g_ptr_array_index (names, i),
                                 g_strdup_printf ("%c", 'a' + i));
    } else if ((letters = nms_state_keyword_letters (state, (char **) names->pdata, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < rules->keywords->len; i++) {
        NmsKeywordRule *k = g_ptr_array_index (rules->keywords, i);
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

/* The account's sync state: special-use roles and keyword letters, both from its syncs. A dry
 * run writes none of it: no state is created, and letters it would assign are not kept. */
static gboolean
account_state (const NmsRules *rules, const char *state_dir, gboolean dry_run,
               NmsApplyAccount *acct, GError **error)
{
    g_autofree char *name = g_strconcat (acct->account->name, ".db", NULL);
    g_autofree char *path = g_build_filename (state_dir, name, NULL);
    g_autoptr (NmsState) state = NULL;
    gboolean ok;

    if (dry_run && !g_file_test (path, G_FILE_TEST_EXISTS)) {
        acct->roles = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
        return keyword_rules (rules, NULL, acct, error);
    }
    if ((state = nms_state_open (state_dir, acct->account->name, error)) == NULL ||
        (dry_run && !nms_state_begin (state, error)))
        return FALSE;
    ok = (acct->roles = nms_state_roles (state, error)) != NULL &&
         keyword_rules (rules, state, acct, error);
    if (dry_run)
        nms_state_rollback (state);
    return ok;
}

gboolean
nms_apply_account_load (NmsApplyAccount *acct, const NmsAccount *account, const char *state_dir,
                        const NmsRules *rules, NmsDb *db, const char *candidates,
                        gboolean dry_run, GError **error)
{
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
    {
        g_autofree gpointer *dirs = g_hash_table_get_keys_as_array (acct->by_dir, NULL);
        acct->files = nms_apply_files_new ((char *const *) dirs);
    }
    if (!account_state (rules, state_dir, dry_run, acct, error))
        return FALSE;
    acct->resolved = g_ptr_array_new_with_free_func (g_free);
    acct->otherwise = g_ptr_array_new_with_free_func (g_free);
    acct->matches = g_ptr_array_new_with_free_func (ids_free);
    for (guint i = 0; i < rules->folders->len; i++) {
        NmsFolderRule *rule = g_ptr_array_index (rules->folders, i);
        g_autofree char *query = NULL;
        GHashTable *ids = NULL;

        g_ptr_array_add (acct->resolved, nms_rules_resolve_folder (
                                             rule->folder, (char **) acct->names->pdata, acct->roles));
        g_ptr_array_add (acct->otherwise,
                         rule->otherwise == NULL
                             ? NULL
                             : nms_rules_resolve_folder (rule->otherwise,
                                                         (char **) acct->names->pdata, acct->roles));
        if (rule->match != NULL) {
            /* notmuch takes "*" for every message only as the whole query: inside
             * parentheses it matches nothing. */
            query = strcmp (candidates, "*") == 0
                        ? g_strdup (rule->match)
                        : g_strdup_printf ("(%s) and (%s)", rule->match, candidates);
            if ((ids = nms_db_query_ids (db, query, error)) == NULL) {
                g_prefix_error (error, "%s:%d: [folder %s]: ", rule->file, rule->line, rule->folder);
                return FALSE;
            }
        }
        g_ptr_array_add (acct->matches, ids);
    }
    return TRUE;
}

const char *
nms_apply_account_file (const NmsApplyAccount *acct, char *const *paths, const char **folder_out)
{
    for (char *const *p = paths; p != NULL && *p != NULL; p++) {
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

int
nms_apply_account_first_match (const NmsApplyAccount *acct, const char *id)
{
    for (guint i = 0; i < acct->matches->len; i++) {
        GHashTable *ids = g_ptr_array_index (acct->matches, i);
        if (ids != NULL && g_ptr_array_index (acct->resolved, i) != NULL &&
            g_hash_table_contains (ids, id))
            return (int) i;
    }
    return -1;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync rules: checks the rule set before it moves any mail. Reports folders no account has,
 * rules whose matches overlap (counted in the notmuch database: the first rule wins, which may
 * not be what the user meant), rules whose own tags would not satisfy their own match (mail
 * would move back and forth), and a notmuch maildir.synchronize_flags that would undo [flags].
 * Exit status 1 when anything is reported. */
#include "nms-build.h"

#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

#include "maildir/maildir.h"
#include "notmuch/notmuch.h"
#include "apply/apply.h"
#include "rules/rules.h"
#include "state/state.h"

/* notmuch's own fixed mapping (synchronize_flags), LIBRARIES.md 2(d). */
static const struct {
    const char *tag;
    char letter;
    gboolean inverted;
} notmuch_flags[] = {
    { "draft", 'D', FALSE },   { "flagged", 'F', FALSE }, { "passed", 'P', FALSE },
    { "replied", 'R', FALSE }, { "unread", 'S', TRUE },
};

/* The special-use roles the account's last sync recorded (role -> folder); an empty table
 * when it never synced or its state cannot be read (the roles then resolve by common names).
 * (transfer full) */
static GHashTable *
recorded_roles (const NmsConfig *config, const NmsAccount *account)
{
    /* A copy: checking the rules creates no state file (a first sync would then take the
     * account for one already synced). */
    g_autoptr (NmsState) state = nms_state_open_copy (config->state_dir, account->name, NULL);
    GHashTable *roles = state != NULL ? nms_state_roles (state, NULL) : NULL;

    return roles != NULL ? roles : g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

/* One account as the folder check needs it: its folder names and special-use roles. */
typedef struct {
    GPtrArray *folders; /* NmsMaildirFolder, owns the names */
    GPtrArray *names;   /* char* (transfer none), NULL-terminated */
    GHashTable *roles;
} AccountFolders;

static void
account_folders_free (AccountFolders *a)
{
    g_clear_pointer (&a->names, g_ptr_array_unref);
    g_clear_pointer (&a->folders, g_ptr_array_unref);
    g_clear_pointer (&a->roles, g_hash_table_unref);
    g_free (a);
}

static AccountFolders *
account_folders_load (const NmsConfig *config, const NmsAccount *account)
{
    AccountFolders *a = g_new0 (AccountFolders, 1);

    a->folders = nms_maildir_list_folders (account->maildir, account->layout, NULL);
    a->names = g_ptr_array_new ();
    for (guint i = 0; a->folders != NULL && i < a->folders->len; i++)
        g_ptr_array_add (a->names, ((NmsMaildirFolder *) g_ptr_array_index (a->folders, i))->name);
    g_ptr_array_add (a->names, NULL);
    a->roles = recorded_roles (config, account);
    return a;
}

/* Rules whose folder no account has (or whose role resolves nowhere). */
static void
check_folders (const NmsConfig *config, const NmsRules *rules, GPtrArray *problems)
{
    g_autoptr (GPtrArray) accounts =
        g_ptr_array_new_with_free_func ((GDestroyNotify) account_folders_free);

    for (guint a = 0; a < config->accounts->len; a++)
        g_ptr_array_add (accounts,
                         account_folders_load (config, g_ptr_array_index (config->accounts, a)));
    for (guint r = 0; r < rules->folders->len; r++) {
        NmsFolderRule *rule = g_ptr_array_index (rules->folders, r);
        gboolean found = FALSE;

        for (guint a = 0; a < accounts->len && !found; a++) {
            AccountFolders *acct = g_ptr_array_index (accounts, a);
            g_autofree char *resolved =
                nms_rules_resolve_folder (rule->folder, (char **) acct->names->pdata, acct->roles);

            found = resolved != NULL &&
                    g_strv_contains ((const char *const *) acct->names->pdata, resolved);
        }
        if (!found)
            g_ptr_array_add (problems,
                             g_strdup_printf ("%s:%d: [folder %s]: no account has this folder%s",
                                              rule->file, rule->line, rule->folder,
                                              nms_rules_is_role (rule->folder)
                                                  ? " (no folder has this role on the server or "
                                                    "one of its common names)"
                                                  : " (a sync creates it once mail goes there)"));
        if (rule->otherwise != NULL && rule->match == NULL)
            g_ptr_array_add (problems,
                             g_strdup_printf ("%s:%d: [folder %s]: 'otherwise' has no effect "
                                              "without 'match'", rule->file, rule->line,
                                              rule->folder));
    }
}

static void
check_overlaps (NmsDb *db, const NmsRules *rules, GPtrArray *problems)
{
    for (guint i = 0; i < rules->folders->len; i++) {
        NmsFolderRule *a = g_ptr_array_index (rules->folders, i);

        for (guint j = i + 1; a->match != NULL && j < rules->folders->len; j++) {
            NmsFolderRule *b = g_ptr_array_index (rules->folders, j);
            g_autofree char *query = NULL;
            g_autoptr (GError) error = NULL;
            guint count = 0;

            if (b->match == NULL || strcmp (a->folder, b->folder) == 0)
                continue;
            query = g_strdup_printf ("(%s) and (%s)", a->match, b->match);
            if (!nms_db_count (db, query, &count, &error))
                g_ptr_array_add (problems, g_strdup_printf ("%s:%d: [folder %s]: %s", b->file,
                                                            b->line, b->folder, error->message));
            else if (count > 0)
                g_ptr_array_add (problems, g_strdup_printf (
                    "%s:%d: [folder %s] and %s:%d: [folder %s]: %u %s both; the first rule "
                    "wins", a->file, a->line, a->folder, b->file, b->line, b->folder, count,
                    count == 1 ? "message matches" : "messages match"));
        }
    }
}

/* The letter @rules maps @tag to, 0 when none. */
static const NmsFlagRule *
flag_rule (const NmsRules *rules, const char *tag)
{
    for (guint i = 0; i < rules->flags->len; i++) {
        NmsFlagRule *f = g_ptr_array_index (rules->flags, i);
        if (strcmp (f->tag, tag) == 0)
            return f;
    }
    return NULL;
}

static void
check_synchronize_flags (NmsDb *db, const NmsRules *rules, GPtrArray *problems)
{
    if (!nms_db_synchronize_flags (db) || rules->flags->len == 0)
        return;
    for (gsize i = 0; i < G_N_ELEMENTS (notmuch_flags); i++) {
        const NmsFlagRule *f = flag_rule (rules, notmuch_flags[i].tag);

        if (f == NULL || f->letter != notmuch_flags[i].letter ||
            f->inverted != notmuch_flags[i].inverted) {
            g_ptr_array_add (problems, g_strdup_printf (
                "notmuch's maildir.synchronize_flags maps tag '%s' to %s%c, and your [flags] does "
                "not: the two would undo each other; run 'notmuch config set "
                "maildir.synchronize_flags false' (nmsync's [flags] then does the job) or map it "
                "the same way", notmuch_flags[i].tag, notmuch_flags[i].inverted ? "!" : "",
                notmuch_flags[i].letter));
            return;
        }
    }
}

int
nms_cmd_rules (const NmsCliOptions *options)
{
    const NmsConfig *config = options->config;
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsRules) rules = NULL;
    g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
    g_auto (GStrv) files = NULL;
    NmsDb *db;

    if ((files = nms_apply_rule_files (config, NULL)) == NULL) {
        fprintf (stderr, "nmsync: no rules: set 'rules' in [general] of '%s' (or nmsync.rules "
                 "in notmuch's config)\n", config->path);
        return NMS_EXIT_USAGE;
    }
    if ((rules = nms_rules_load (files, &error)) == NULL) {
        fprintf (stderr, "nmsync: %s\n", error->message);
        return NMS_EXIT_USAGE;
    }
    check_folders (config, rules, problems);
    nms_rules_check_self (rules, problems);
    db = nms_db_open (config->notmuch_config, FALSE, 0, &error);
    if (db != NULL) {
        check_overlaps (db, rules, problems);
        check_synchronize_flags (db, rules, problems);
        nms_db_close (db, NULL);
    } else {
        fprintf (stderr, "nmsync: overlaps not checked: %s\n", error->message);
    }
    for (guint i = 0; i < problems->len; i++)
        printf ("%s\n", (char *) g_ptr_array_index (problems, i));
    if (problems->len > 0)
        return NMS_EXIT_SKIPPED;
    if (options->verbosity >= 0)
        printf ("rules: %u folder rules, %u flag rules, no problems\n", rules->folders->len,
                rules->flags->len);
    return NMS_EXIT_OK;
}

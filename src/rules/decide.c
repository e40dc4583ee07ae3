/* SPDX-License-Identifier: GPL-3.0-or-later
 * The rule evaluator: for one message, the folder, flags and tags it should have, decided
 * three-way against what was last agreed (DESIGN.md section 5). Pure: no I/O, plain data in
 * and out, so the tests drive it with literals. */
#include "nms-build.h"

#include "rules/rules.h"

#include <string.h>

#include "rules/rules-private.h"

void
nms_rule_outcome_clear (NmsRuleOutcome *outcome)
{
    g_clear_pointer (&outcome->folder, g_free);
    g_clear_pointer (&outcome->flags, g_free);
    g_clear_pointer (&outcome->add_tags, g_ptr_array_unref);
    g_clear_pointer (&outcome->remove_tags, g_ptr_array_unref);
    g_clear_pointer (&outcome->agreed_folder, g_free);
    g_clear_pointer (&outcome->agreed_flags, g_free);
}

static gboolean
rule_has_tags (const NmsFolderRule *r)
{
    return (r->add_tags != NULL && r->add_tags[0] != NULL)
           || (r->remove_tags != NULL && r->remove_tags[0] != NULL);
}

/* The rule whose "tags" a message arriving in @folder gets: the first, in file order, that
 * resolves to @folder and has tags. A rule naming the folder only to match keeps its place
 * in the match order without hiding the tags of a later one. */
static const NmsFolderRule *
arrival_rule (const NmsRules *rules, const NmsRuleInput *in, const char *folder)
{
    for (guint i = 0; i < rules->folders->len; i++) {
        const NmsFolderRule *r = rules->folders->pdata[i];
        const char *resolved = in->rule_folders[i];

        if (resolved != NULL && nms_rules_folder_equal (resolved, folder) && rule_has_tags (r))
            return r;
    }
    return NULL;
}

/* Where a message leaves its folder for when no rule matches it any more: the "otherwise" of
 * the first rule with a match that resolves to its folder, or NULL. */
static const char *
otherwise (const NmsRules *rules, const NmsRuleInput *in)
{
    for (guint i = 0; in->rule_otherwise != NULL && i < rules->folders->len; i++) {
        const NmsFolderRule *r = rules->folders->pdata[i];
        const char *resolved = in->rule_folders[i];

        if (r->match != NULL && resolved != NULL && nms_rules_folder_equal (resolved, in->folder))
            return in->rule_otherwise[i];
    }
    return NULL;
}

/* Where the message belongs; *@arrival_out is the rule whose tags it gets by arriving there
 * (moved by someone else, new, or moved now because of its tags), or NULL. */
static const char *
decide_folder (const NmsRules *rules, const NmsRuleInput *in, const NmsFolderRule **arrival_out)
{
    const char *target;

    *arrival_out = NULL;
    if (in->agreed_folder == NULL || !nms_rules_folder_equal (in->folder, in->agreed_folder)) {
        *arrival_out = arrival_rule (rules, in, in->folder);
        return in->folder;
    }
    if (!in->tags_changed)
        return in->folder;
    target = in->matched_rule >= 0 ? in->rule_folders[in->matched_rule] : otherwise (rules, in);
    if (target == NULL || nms_rules_folder_equal (target, in->folder))
        return in->folder;
    *arrival_out = arrival_rule (rules, in, target);
    return target;
}

static void
tags_follow_letters (const NmsRules *rules, GHashTable *tags, const gboolean *letters)
{
    for (guint i = 0; i < rules->flags->len; i++) {
        const NmsFlagRule *f = rules->flags->pdata[i];

        if (letters[(guchar) f->letter] != f->inverted)
            g_hash_table_add (tags, f->tag);
        else
            g_hash_table_remove (tags, f->tag);
    }
}

/* When two tags map to one letter and disagree, the rule loaded last decides. */
static void
letters_follow_tags (const NmsRules *rules, GHashTable *tags, gboolean *letters)
{
    for (guint i = 0; i < rules->flags->len; i++) {
        const NmsFlagRule *f = rules->flags->pdata[i];

        letters[(guchar) f->letter] = g_hash_table_contains (tags, f->tag) != f->inverted;
    }
}

static void
apply_rule_tags (const NmsFolderRule *r, GHashTable *tags)
{
    for (int i = 0; r->add_tags != NULL && r->add_tags[i] != NULL; i++)
        g_hash_table_add (tags, r->add_tags[i]);
    for (int i = 0; r->remove_tags != NULL && r->remove_tags[i] != NULL; i++)
        g_hash_table_remove (tags, r->remove_tags[i]);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The members of @a missing from @b, sorted, NULL-terminated. (transfer full) */
static GPtrArray *
difference (GHashTable *a, GHashTable *b)
{
    GPtrArray *out = g_ptr_array_new_null_terminated (0, g_free, TRUE);
    GHashTableIter iter;
    gpointer tag;

    g_hash_table_iter_init (&iter, a);
    while (g_hash_table_iter_next (&iter, &tag, NULL))
        if (!g_hash_table_contains (b, tag))
            g_ptr_array_add (out, g_strdup (tag));
    g_ptr_array_sort (out, compare_strings);
    return out;
}

/* Maildir wants the letters sorted and unique (ASCII order: flags, then keyword letters). */
static char *
letters_to_string (const gboolean *letters)
{
    GString *s = g_string_new (NULL);

    for (int c = 1; c < 256; c++)
        if (letters[c])
            g_string_append_c (s, (char) c);
    return g_string_free (s, FALSE);
}

void
nms_rules_decide (const NmsRules *rules, const NmsRuleInput *in, NmsRuleOutcome *out)
{
    g_autoptr (GHashTable) before = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) tags = g_hash_table_new (g_str_hash, g_str_equal);
    gboolean letters[256] = { FALSE };
    const char *flags = in->flags != NULL ? in->flags : "";
    const NmsFolderRule *arrival;
    gboolean flags_changed, letters_follow;

    g_return_if_fail (rules != NULL && in != NULL && out != NULL && in->folder != NULL);
    g_return_if_fail (in->matched_rule < (int) rules->folders->len);
    g_return_if_fail (rules->folders->len == 0 || in->rule_folders != NULL);

    for (int i = 0; in->tags != NULL && in->tags[i] != NULL; i++) {
        g_hash_table_add (before, in->tags[i]);
        g_hash_table_add (tags, in->tags[i]);
    }
    for (const char *c = flags; *c != '\0'; c++)
        letters[(guchar) *c] = TRUE;

    out->folder = g_strdup (decide_folder (rules, in, &arrival));
    flags_changed = in->agreed_flags == NULL || strcmp (flags, in->agreed_flags) != 0;
    if (flags_changed)
        tags_follow_letters (rules, tags, letters);
    /* The arrival tags win over the letters: a new message in Junk loses "unread" and so
     * gains S, whatever the file said. */
    if (arrival != NULL)
        apply_rule_tags (arrival, tags);
    letters_follow = arrival != NULL || (in->tags_changed && !flags_changed);
    if (letters_follow)
        letters_follow_tags (rules, tags, letters);

    out->flags = letters_to_string (letters);
    out->add_tags = difference (tags, before);
    out->remove_tags = difference (before, tags);
    out->agreed_folder = g_strdup (out->folder);
    out->agreed_flags = g_strdup (out->flags);
}

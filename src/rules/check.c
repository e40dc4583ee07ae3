/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_rules_check_self(): finds folder rules whose own "tags" make their own "match" false, so
 * that a message arriving in the folder would be moved straight out again. It understands a
 * small part of notmuch's query syntax (tag:X, not, and, or, parentheses) and stays silent
 * about any match using more. The match text comes from the user's files: the parser bounds
 * its nesting, and with it the depth of every recursion over the tree it builds. */
#include "nms-build.h"

#include "rules/rules.h"

#include <string.h>

#include "rules/rules-private.h"

/* Deeper than any sensible match, far below what the stack can take. */
#define MAX_DEPTH 32

typedef enum {
    QUERY_TAG,
    QUERY_NOT,
    QUERY_AND,
    QUERY_OR,
} QueryKind;

struct _NmsRulesQuery {
    QueryKind kind;
    char *tag;           /* QUERY_TAG */
    GPtrArray *children; /* NmsRulesQuery; one for NOT, two or more for AND and OR */
};

typedef struct {
    char **tokens; /* "(", ")" or a word */
    int pos;
    int depth;
} QueryParser;

void
nms_rules_query_free (NmsRulesQuery *query)
{
    if (query == NULL)
        return;
    g_free (query->tag);
    if (query->children != NULL)
        g_ptr_array_unref (query->children);
    g_free (query);
}

static NmsRulesQuery *
query_new (QueryKind kind)
{
    NmsRulesQuery *q = g_new0 (NmsRulesQuery, 1);

    q->kind = kind;
    if (kind != QUERY_TAG)
        q->children = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_rules_query_free);
    return q;
}

/* Words separated by blanks, with each parenthesis a token of its own. (transfer full) */
static char **
tokenize (const char *s)
{
    GPtrArray *tokens = g_ptr_array_new ();

    while (*s != '\0') {
        gsize n;

        if (g_ascii_isspace (*s)) {
            s++;
            continue;
        }
        n = (*s == '(' || *s == ')') ? 1 : strcspn (s, " \t\r\n()");
        g_ptr_array_add (tokens, g_strndup (s, n));
        s += n;
    }
    g_ptr_array_add (tokens, NULL);
    return (char **) g_ptr_array_free (tokens, FALSE);
}

static const char *
peek (const QueryParser *p)
{
    return p->tokens[p->pos];
}

static gboolean
peek_is (const QueryParser *p, const char *word)
{
    return peek (p) != NULL && g_ascii_strcasecmp (peek (p), word) == 0;
}

/* The tag of "tag:X" or "is:X"; NULL for any other word, and for tags that notmuch would read
 * as a pattern ("tag:/re/", "tag:x*") or that are quoted. */
static const char *
tag_of (const char *word)
{
    const char *tag = g_str_has_prefix (word, "tag:")  ? word + 4
                      : g_str_has_prefix (word, "is:") ? word + 3
                                                       : NULL;

    if (tag == NULL || *tag == '\0' || *tag == '/' || strpbrk (tag, "\"*") != NULL)
        return NULL;
    return tag;
}

static NmsRulesQuery *parse_or (QueryParser *p);

static NmsRulesQuery *
parse_primary (QueryParser *p)
{
    const char *word = peek (p);
    const char *tag;
    NmsRulesQuery *q;

    if (word == NULL)
        return NULL;
    if (strcmp (word, "(") == 0) {
        p->pos++;
        q = parse_or (p);
        if (q == NULL || peek (p) == NULL || strcmp (peek (p), ")") != 0) {
            nms_rules_query_free (q);
            return NULL;
        }
        p->pos++;
        return q;
    }
    tag = tag_of (word);
    if (tag == NULL)
        return NULL;
    p->pos++;
    q = query_new (QUERY_TAG);
    q->tag = g_strdup (tag);
    return q;
}

static NmsRulesQuery *
negate (NmsRulesQuery *child)
{
    NmsRulesQuery *q;

    if (child == NULL)
        return NULL;
    q = query_new (QUERY_NOT);
    g_ptr_array_add (q->children, child);
    return q;
}

/* "not X", "-tag:X", or a primary. Every level of nesting, by "not" or by parentheses,
 * passes here and counts towards MAX_DEPTH. */
static NmsRulesQuery *
parse_unary (QueryParser *p)
{
    NmsRulesQuery *q = NULL;

    if (++p->depth > MAX_DEPTH)
        return NULL;
    if (peek_is (p, "not")) {
        p->pos++;
        q = negate (parse_unary (p));
    } else if (peek (p) != NULL && peek (p)[0] == '-' && tag_of (peek (p) + 1) != NULL) {
        q = query_new (QUERY_TAG);
        q->tag = g_strdup (tag_of (peek (p) + 1));
        p->pos++;
        q = negate (q);
    } else {
        q = parse_primary (p);
    }
    p->depth--;
    return q;
}

static gboolean
starts_operand (const QueryParser *p)
{
    return peek (p) != NULL && strcmp (peek (p), ")") != 0 && !peek_is (p, "and")
           && !peek_is (p, "or");
}

/* Operands joined by @op ("and", where adjacency also means "and", or "or"); one operand
 * stands for itself. */
static NmsRulesQuery *
parse_list (QueryParser *p, QueryKind kind, NmsRulesQuery *(*operand) (QueryParser *) )
{
    g_autoptr (NmsRulesQuery) q = query_new (kind);
    const char *op = kind == QUERY_AND ? "and" : "or";

    for (;;) {
        NmsRulesQuery *child = operand (p);

        if (child == NULL)
            return NULL;
        g_ptr_array_add (q->children, child);
        if (peek_is (p, op))
            p->pos++;
        else if (kind != QUERY_AND || !starts_operand (p))
            break;
    }
    if (q->children->len == 1)
        return g_ptr_array_steal_index (q->children, 0);
    return g_steal_pointer (&q);
}

static NmsRulesQuery *
parse_and (QueryParser *p)
{
    return parse_list (p, QUERY_AND, parse_unary);
}

static NmsRulesQuery *
parse_or (QueryParser *p)
{
    return parse_list (p, QUERY_OR, parse_and);
}

NmsRulesQuery *
nms_rules_query_parse (const char *match)
{
    g_auto (GStrv) tokens = NULL;
    QueryParser p = { 0 };
    g_autoptr (NmsRulesQuery) q = NULL;

    g_return_val_if_fail (match != NULL, NULL);
    tokens = tokenize (match);
    p.tokens = tokens;
    q = parse_or (&p);
    if (q == NULL || peek (&p) != NULL)
        return NULL;
    return g_steal_pointer (&q);
}

NmsRulesTruth
nms_rules_query_eval (const NmsRulesQuery *query, GHashTable *present, GHashTable *absent)
{
    NmsRulesTruth result;

    switch (query->kind) {
    case QUERY_TAG:
        if (present != NULL && g_hash_table_contains (present, query->tag))
            return NMS_RULES_TRUE;
        if (absent != NULL && g_hash_table_contains (absent, query->tag))
            return NMS_RULES_FALSE;
        return NMS_RULES_UNKNOWN;
    case QUERY_NOT:
        return NMS_RULES_TRUE - nms_rules_query_eval (query->children->pdata[0], present, absent);
    case QUERY_AND:
    case QUERY_OR:
        /* Kleene: AND is the minimum of FALSE < UNKNOWN < TRUE, OR the maximum. */
        result = query->kind == QUERY_AND ? NMS_RULES_TRUE : NMS_RULES_FALSE;
        for (guint i = 0; i < query->children->len; i++) {
            NmsRulesTruth t = nms_rules_query_eval (query->children->pdata[i], present, absent);

            result = query->kind == QUERY_AND ? MIN (result, t) : MAX (result, t);
        }
        return result;
    }
    g_assert_not_reached ();
}

static GHashTable *
set_of (char *const *tags)
{
    GHashTable *set = g_hash_table_new (g_str_hash, g_str_equal);

    for (int i = 0; tags != NULL && tags[i] != NULL; i++)
        g_hash_table_add (set, tags[i]);
    return set;
}

/* "+a +b -c", as the rule's tags read after loading. (transfer full) */
static char *
format_tags (const NmsFolderRule *r)
{
    GString *s = g_string_new (NULL);

    for (int i = 0; r->add_tags != NULL && r->add_tags[i] != NULL; i++)
        g_string_append_printf (s, "%s+%s", s->len > 0 ? " " : "", r->add_tags[i]);
    for (int i = 0; r->remove_tags != NULL && r->remove_tags[i] != NULL; i++)
        g_string_append_printf (s, "%s-%s", s->len > 0 ? " " : "", r->remove_tags[i]);
    return g_string_free (s, FALSE);
}

guint
nms_rules_check_self (const NmsRules *rules, GPtrArray *problems)
{
    guint found = 0;

    g_return_val_if_fail (rules != NULL && problems != NULL, 0);
    for (guint i = 0; i < rules->folders->len; i++) {
        const NmsFolderRule *r = rules->folders->pdata[i];
        g_autoptr (NmsRulesQuery) q = NULL;
        g_autoptr (GHashTable) present = NULL;
        g_autoptr (GHashTable) absent = NULL;
        g_autofree char *tags = NULL;

        if (r->match == NULL || (q = nms_rules_query_parse (r->match)) == NULL)
            continue;
        present = set_of (r->add_tags);
        absent = set_of (r->remove_tags);
        if (nms_rules_query_eval (q, present, absent) != NMS_RULES_FALSE)
            continue;
        tags = format_tags (r);
        g_ptr_array_add (problems,
                         g_strdup_printf ("%s:%d: [folder %s]: its tags (%s) make its own match "
                                          "(%s) false: mail would move back and forth",
                                          r->file, r->line, r->folder, tags, r->match));
        found++;
    }
    return found;
}

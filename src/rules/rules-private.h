/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared by the files of src/rules only: folder comparison and the small query language
 * nms_rules_check_self() understands (tag:X, not, and, or, parentheses). */
#pragma once

#include <glib.h>

/* Folder names compare exactly, except INBOX, which is case-insensitive (RFC 3501 §5.1). */
gboolean nms_rules_folder_equal (const char *a, const char *b);

/* Three-valued (Kleene) truth: a tag neither added nor removed by a rule is UNKNOWN. */
typedef enum {
    NMS_RULES_FALSE,
    NMS_RULES_UNKNOWN,
    NMS_RULES_TRUE,
} NmsRulesTruth;

typedef struct _NmsRulesQuery NmsRulesQuery;

/* Parses a notmuch query made only of tag:X / is:X, -tag:X, not, and, or (any case),
 * implicit "and" between adjacent terms, and parentheses. Returns NULL for anything else
 * (other prefixes, free text, quotes, wildcards) and for nesting deeper than a small fixed
 * limit, so hostile input cannot exhaust the stack. (transfer full) */
NmsRulesQuery *nms_rules_query_parse (const char *match);
void nms_rules_query_free (NmsRulesQuery *query);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsRulesQuery, nms_rules_query_free)

/* The value of @query for a message known to have the tags in @present and to lack those in
 * @absent (sets of strings, either may be NULL); every other tag is UNKNOWN. */
NmsRulesTruth nms_rules_query_eval (const NmsRulesQuery *query, GHashTable *present,
                                    GHashTable *absent);

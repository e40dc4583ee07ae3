/* SPDX-License-Identifier: GPL-3.0-or-later
 * Rules: tag <-> flag <-> folder (DESIGN.md section 5). Loading rule files (INI, errors that
 * name file:line) and the pure evaluator that decides, for one message, which folder, flags
 * and tags it should have. No I/O in the evaluator, no IMAP and no notmuch anywhere here: the
 * caller runs the queries and hands in their results. */
#pragma once

#include <glib.h>

#define NMS_RULES_ERROR (nms_rules_error_quark ())
GQuark nms_rules_error_quark (void);

typedef enum {
    NMS_RULES_ERROR_NOT_FOUND, /* a rule file that cannot be read (named) */
    NMS_RULES_ERROR_PARSE,     /* "FILE:LINE: why" */
} NmsRulesError;

/* "[flags]" entry: tag = LETTER, or tag = !LETTER (the tag is set exactly when the letter is
 * absent, e.g. unread = !S). */
typedef struct {
    char *tag;
    char letter;      /* 'A'..'Z' */
    gboolean inverted;
    int line;
} NmsFlagRule;

/* "[folder NAME]": NAME is a folder name ('/' between levels, as nmsync names folders) or a
 * role: \Junk \Sent \Trash \Archive \Drafts. */
typedef struct {
    char *folder;     /* as written */
    char *match;      /* notmuch query; NULL: the rule only tags arrivals */
    char **add_tags;  /* from "tags = +a -b": applied when a message arrives here */
    char **remove_tags;
    char *otherwise;  /* folder or role a message in this folder leaves for when its tags
                       * changed and "match" no longer selects it ("not spam" moves back);
                       * NULL: it stays. Only with a match. */
    char *file;       /* where it was written, for messages */
    int line;
} NmsFolderRule;

/* "[keywords]" entry: tag = IMAP keyword ($Junk, \Deleted ...). */
typedef struct {
    char *tag;
    char *keyword;
    int line;
} NmsKeywordRule;

typedef struct {
    GPtrArray *flags;    /* NmsFlagRule; later files override earlier ones for the same tag */
    GPtrArray *folders;  /* NmsFolderRule, in file order across files */
    GPtrArray *keywords; /* NmsKeywordRule; later files override earlier ones for the same tag */
} NmsRules;

/* Loads the rule files in order (a missing file is NOT_FOUND naming it). Unknown sections or
 * keys, a letter that is not A-Z, a tag used twice in [flags] (or [keywords]) of one file,
 * "tags" values not of the form +tag/-tag, an unknown role, an empty folder name, a value
 * with " #" (a comment only starts a line): PARSE "FILE:LINE: why". (transfer full) */
NmsRules *nms_rules_load (char *const *paths, GError **error);
void nms_rules_free (NmsRules *rules);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsRules, nms_rules_free)

/* TRUE when @folder is a role ("\Junk", ...). */
gboolean nms_rules_is_role (const char *folder);
/* The folder a role names in an account: the folder the server marked with that SPECIAL-USE
 * attribute (@special_use: role -> folder name, may be NULL), else the first of the common
 * names that exists in @folders (Junk, Spam, "Junk E-mail", "Junk Email"; Sent, "Sent Items",
 * "Sent Messages", "Sent Mail"; Trash, "Deleted Items", "Deleted Messages"; Archive, Archives;
 * Drafts), case-insensitively; NULL when none. A plain folder name is returned as it is.
 * (transfer full) */
char *nms_rules_resolve_folder (const char *folder, char *const *folders, GHashTable *special_use);

/* ---- the evaluator -------------------------------------------------------------------- */

typedef struct {
    char *const *tags;          /* the message's tags now (any order) */
    const char *folder;         /* its folder now */
    const char *flags;          /* its file's Maildir letters now (sorted) */
    const char *agreed_folder;  /* recorded at the last apply, NULL: never */
    const char *agreed_flags;   /* recorded at the last apply, NULL: never */
    gboolean tags_changed;      /* its tags changed since the last apply (notmuch lastmod) */
    int matched_rule;           /* index in rules->folders of the first rule whose match holds
                                 * (caller's query), -1: none */
    char *const *rule_folders;  /* rules->folders resolved for this message's account
                                 * (nms_rules_resolve_folder), same indexes; an entry may be
                                 * NULL (role without a folder: the rule is skipped; the
                                 * caller leaves it out of matched_rule) */
    char *const *rule_otherwise; /* the rules' "otherwise" resolved the same way, same indexes;
                                  * NULL (the array or an entry): none */
} NmsRuleInput;

typedef struct {
    char *folder;        /* where the message belongs (== input folder: stays) */
    char *flags;         /* the letters its file should carry (sorted) */
    GPtrArray *add_tags; /* char*, sorted, only tags it lacks; pdata is NULL-terminated */
    GPtrArray *remove_tags;
    char *agreed_folder; /* to record */
    char *agreed_flags;  /* to record */
} NmsRuleOutcome;

void nms_rule_outcome_clear (NmsRuleOutcome *outcome);

/* Decides one message, three-way, so nothing flips back and forth:
 * - folder: if it differs from agreed_folder (moved by someone else, or never agreed: a new
 *   arrival), the folder wins: it stays, and the "tags" of that folder's rule are applied (if
 *   the folder has one); else, if tags_changed, the tags win: the folder of the matched rule
 *   (when there is one and it resolved), and if that is a move, that folder's "tags" are
 *   applied too; else, if tags_changed and no rule matches, the "otherwise" folder of the
 *   first rule with a match that resolves to the message's folder (the user took back what
 *   sent it there), with that folder's "tags"; else it stays. "That folder's rule": the
 *   first that resolves to it and has "tags".
 * - flags: if they differ from agreed_flags (changed by a sync or a mail client), the flags
 *   win: [flags] tags follow the letters; else, if tags_changed (or the tags of a folder rule
 *   were just applied), the letters follow the [flags] tags; letters [flags] does not map are
 *   kept as they are.
 * - agreed_folder/agreed_flags: the outcome's folder and flags.
 * A second call with the outcome applied changes nothing (idempotent). */
void nms_rules_decide (const NmsRules *rules, const NmsRuleInput *in, NmsRuleOutcome *out);

/* The folder rules whose own "tags" cannot satisfy their own "match" (a message arriving there
 * would be moved away again), for simple matches built from tag:X, not, and, or, parentheses.
 * Appends "FILE:LINE: [folder X]: why" strings to @problems; returns how many. */
guint nms_rules_check_self (const NmsRules *rules, GPtrArray *problems);

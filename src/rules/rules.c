/* SPDX-License-Identifier: GPL-3.0-or-later
 * Loads rule files into an NmsRules and resolves role folders. The files are INI, but read by
 * util/ini.c rather than GKeyFile: GKeyFile merges repeated groups (two "[folder \Archive]"
 * rules must stay two rules, in file order), reads "\Deleted" as a bad escape sequence, and
 * knows no line numbers. Values are taken verbatim: there are no escapes. */
#include "nms-build.h"

#include "rules/rules.h"

#include <string.h>

#include "rules/rules-private.h"
#include "util/fs.h"
#include "util/ini.h"

G_DEFINE_QUARK (nms-rules-error-quark, nms_rules_error)

/* Rule files are a few hundred bytes; the cap keeps a mistyped "/dev/zero" from eating memory. */
#define MAX_RULES_SIZE (1024 * 1024)

static const struct {
    const char *role;
    const char *names[5]; /* common names, in order of preference */
} roles[] = {
    { "\\Junk", { "Junk", "Spam", "Junk E-mail", "Junk Email", NULL } },
    { "\\Sent", { "Sent", "Sent Items", "Sent Messages", "Sent Mail", NULL } },
    { "\\Trash", { "Trash", "Deleted Items", "Deleted Messages", NULL } },
    { "\\Archive", { "Archive", "Archives", NULL } },
    { "\\Drafts", { "Drafts", NULL } },
};

/* RFC 3501 §2.3.2: the system flags a client may set. */
static const char *const system_flags[] = {
    "\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", NULL,
};

typedef enum {
    SECTION_NONE,
    SECTION_FLAGS,
    SECTION_KEYWORDS,
    SECTION_FOLDER,
} Section;

typedef struct {
    const char *path;
    int line;
    Section section;
    NmsFolderRule *folder; /* the rule of the current [folder X] section */
    int match_line, tags_line, otherwise_line;
    GPtrArray *flags;    /* NmsFlagRule of this file */
    GPtrArray *keywords; /* NmsKeywordRule of this file */
    GPtrArray *folders;  /* NmsFolderRule of this file */
} Parser;

static gboolean fail_at (GError **error, const Parser *p, const char *fmt, ...)
    G_GNUC_PRINTF (3, 4);

static gboolean
fail_at (GError **error, const Parser *p, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    va_start (ap, fmt);
    why = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    g_set_error (error, NMS_RULES_ERROR, NMS_RULES_ERROR_PARSE, "%s:%d: %s", p->path, p->line, why);
    return FALSE;
}

/* ---- the rule structs ------------------------------------------------------------------- */

static void
flag_rule_free (NmsFlagRule *r)
{
    g_free (r->tag);
    g_free (r);
}

static void
keyword_rule_free (NmsKeywordRule *r)
{
    g_free (r->tag);
    g_free (r->keyword);
    g_free (r);
}

static void
folder_rule_free (NmsFolderRule *r)
{
    g_free (r->folder);
    g_free (r->match);
    g_free (r->otherwise);
    g_strfreev (r->add_tags);
    g_strfreev (r->remove_tags);
    g_free (r->file);
    g_free (r);
}

void
nms_rules_free (NmsRules *rules)
{
    if (rules == NULL)
        return;
    g_ptr_array_unref (rules->flags);
    g_ptr_array_unref (rules->folders);
    g_ptr_array_unref (rules->keywords);
    g_free (rules);
}

static NmsRules *
rules_new (void)
{
    NmsRules *rules = g_new0 (NmsRules, 1);

    rules->flags = g_ptr_array_new_with_free_func ((GDestroyNotify) flag_rule_free);
    rules->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) folder_rule_free);
    rules->keywords = g_ptr_array_new_with_free_func ((GDestroyNotify) keyword_rule_free);
    return rules;
}

/* ---- roles and folders ------------------------------------------------------------------ */

static int
role_index (const char *folder)
{
    for (guint i = 0; i < G_N_ELEMENTS (roles); i++)
        if (g_ascii_strcasecmp (folder, roles[i].role) == 0)
            return (int) i;
    return -1;
}

gboolean
nms_rules_is_role (const char *folder)
{
    g_return_val_if_fail (folder != NULL, FALSE);
    return role_index (folder) >= 0;
}

gboolean
nms_rules_folder_equal (const char *a, const char *b)
{
    return strcmp (a, b) == 0
           || (g_ascii_strcasecmp (a, "INBOX") == 0 && g_ascii_strcasecmp (b, "INBOX") == 0);
}

/* SPECIAL-USE attributes are atoms, which compare case-insensitively (RFC 6154 §2). */
static const char *
special_use_lookup (GHashTable *special_use, const char *role)
{
    GHashTableIter iter;
    gpointer key, value;

    if (special_use == NULL)
        return NULL;
    value = g_hash_table_lookup (special_use, role);
    if (value != NULL)
        return value;
    g_hash_table_iter_init (&iter, special_use);
    while (g_hash_table_iter_next (&iter, &key, &value))
        if (g_ascii_strcasecmp (key, role) == 0)
            return value;
    return NULL;
}

char *
nms_rules_resolve_folder (const char *folder, char *const *folders, GHashTable *special_use)
{
    int r;
    const char *found;

    g_return_val_if_fail (folder != NULL, NULL);
    r = role_index (folder);
    if (r < 0)
        return g_strdup (folder);
    found = special_use_lookup (special_use, roles[r].role);
    if (found != NULL)
        return g_strdup (found);
    for (int n = 0; folders != NULL && roles[r].names[n] != NULL; n++)
        for (int i = 0; folders[i] != NULL; i++)
            if (g_ascii_strcasecmp (folders[i], roles[r].names[n]) == 0)
                return g_strdup (folders[i]);
    return NULL;
}

/* ---- values ----------------------------------------------------------------------------- */

/* Tags are split on blanks in "tags", so none may contain one. */
static gboolean
tag_valid (const char *tag)
{
    if (*tag == '\0')
        return FALSE;
    for (const char *p = tag; *p != '\0'; p++)
        if (g_ascii_isspace (*p) || g_ascii_iscntrl (*p))
            return FALSE;
    return TRUE;
}

/* RFC 3501 §9: flag-keyword is an atom; a backslash only starts a system flag. */
static gboolean
keyword_valid (const char *keyword)
{
    if (keyword[0] == '\\')
        return g_strv_contains (system_flags, keyword);
    for (const char *p = keyword; *p != '\0'; p++)
        if ((guchar) *p <= ' ' || (guchar) *p >= 0x7f || strchr ("(){%*\"\\]", *p) != NULL)
            return FALSE;
    return *keyword != '\0';
}

/* "a/b" as nmsync names folders: no empty level, no control characters. */
static gboolean
folder_name_valid (const char *name)
{
    if (*name == '\0' || *name == '/' || g_str_has_suffix (name, "/") || strstr (name, "//"))
        return FALSE;
    for (const char *p = name; *p != '\0'; p++)
        if (g_ascii_iscntrl (*p))
            return FALSE;
    return TRUE;
}

/* A '#' after a blank is almost always a comment the user meant to end the line with. */
static gboolean
has_trailing_comment (const char *value)
{
    return value[0] == '#' || strstr (value, " #") != NULL || strstr (value, "\t#") != NULL;
}

#define COMMENT_HINT "a '#' starts a comment only at the beginning of a line"

/* ---- sections ---------------------------------------------------------------------------- */

static void
close_section (Parser *p)
{
    p->folder = NULL;
    p->match_line = p->tags_line = p->otherwise_line = 0;
}

static gboolean
open_folder (Parser *p, const char *name, GError **error)
{
    g_autofree char *folder = g_strstrip (g_strdup (name));
    NmsFolderRule *r;

    if (*folder == '\0')
        return fail_at (error, p, "[folder]: the section needs a folder: [folder NAME]");
    if (folder[0] == '\\' && role_index (folder) < 0)
        return fail_at (error, p,
                        "[folder %s]: unknown role; roles are \\Junk \\Sent \\Trash \\Archive "
                        "\\Drafts",
                        folder);
    if (folder[0] != '\\' && !folder_name_valid (folder))
        return fail_at (error, p,
                        "[folder %s]: not a folder name (levels are separated by one '/')", folder);
    r = g_new0 (NmsFolderRule, 1);
    r->folder = g_steal_pointer (&folder);
    r->file = g_strdup (p->path);
    r->line = p->line;
    g_ptr_array_add (p->folders, r);
    p->folder = r;
    return TRUE;
}

/* A "[NAME]" line (util/ini.c ends the name at the last ']', so that "[folder [Gmail]/Spam]"
 * works). */
static gboolean
parse_section (gpointer data, const char *name, int line, GError **error)
{
    Parser *p = data;

    p->line = line;
    close_section (p);
    if (strcmp (name, "flags") == 0) {
        p->section = SECTION_FLAGS;
    } else if (strcmp (name, "keywords") == 0) {
        p->section = SECTION_KEYWORDS;
    } else if (g_str_has_prefix (name, "folder")
               && (name[6] == '\0' || name[6] == ' ' || name[6] == '\t')) {
        p->section = SECTION_FOLDER;
        return open_folder (p, name + 6, error);
    } else {
        return fail_at (
            error, p, "unknown section [%s]; expected [flags], [keywords] or [folder NAME]", name);
    }
    return TRUE;
}

static gboolean
parse_flag (Parser *p, const char *key, const char *value, GError **error)
{
    gboolean inverted = value[0] == '!';
    const char *letter = inverted ? value + 1 : value;
    NmsFlagRule *r;

    if (letter[0] < 'A' || letter[0] > 'Z' || letter[1] != '\0')
        return fail_at (error, p,
                        "key '%s': '%s' is not a Maildir flag letter A-Z, or ! and one%s%s", key,
                        value, has_trailing_comment (value) ? "; " : "",
                        has_trailing_comment (value) ? COMMENT_HINT : "");
    for (guint i = 0; i < p->flags->len; i++) {
        NmsFlagRule *other = p->flags->pdata[i];

        if (strcmp (other->tag, key) == 0)
            return fail_at (error, p, "key '%s': tag given twice in [flags], first on line %d", key,
                            other->line);
    }
    r = g_new0 (NmsFlagRule, 1);
    r->tag = g_strdup (key);
    r->letter = letter[0];
    r->inverted = inverted;
    r->line = p->line;
    g_ptr_array_add (p->flags, r);
    return TRUE;
}

static gboolean
parse_keyword (Parser *p, const char *key, const char *value, GError **error)
{
    NmsKeywordRule *r;

    if (has_trailing_comment (value))
        return fail_at (error, p, "key '%s': '%s' is not one IMAP keyword (" COMMENT_HINT ")", key,
                        value);
    if (!keyword_valid (value))
        return fail_at (error, p,
                        "key '%s': '%s' is not an IMAP keyword ($Name, or a system flag such as "
                        "\\Deleted)",
                        key, value);
    for (guint i = 0; i < p->keywords->len; i++) {
        NmsKeywordRule *other = p->keywords->pdata[i];

        if (strcmp (other->tag, key) == 0)
            return fail_at (error, p, "key '%s': tag given twice in [keywords], first on line %d",
                            key, other->line);
    }
    r = g_new0 (NmsKeywordRule, 1);
    r->tag = g_strdup (key);
    r->keyword = g_strdup (value);
    r->line = p->line;
    g_ptr_array_add (p->keywords, r);
    return TRUE;
}

/* "tags = +a -b": each word is +tag or -tag; a tag both added and removed is a mistake. */
static gboolean
parse_tags (Parser *p, const char *value, GError **error)
{
    g_auto (GStrv) words = g_strsplit_set (value, " \t", -1);
    g_autoptr (GPtrArray) add = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GPtrArray) remove = g_ptr_array_new_with_free_func (g_free);

    if (has_trailing_comment (value))
        return fail_at (error, p, "key 'tags': '%s' has a '#' (" COMMENT_HINT ")", value);
    for (int i = 0; words[i] != NULL; i++) {
        const char *w = words[i];
        GPtrArray *mine = w[0] == '+' ? add : remove, *theirs = w[0] == '+' ? remove : add;

        if (*w == '\0')
            continue;
        if ((w[0] != '+' && w[0] != '-') || !tag_valid (w + 1))
            return fail_at (error, p, "key 'tags': '%s' is not +tag or -tag", w);
        if (g_ptr_array_find_with_equal_func (theirs, w + 1, g_str_equal, NULL))
            return fail_at (error, p, "key 'tags': tag '%s' is both added and removed", w + 1);
        if (!g_ptr_array_find_with_equal_func (mine, w + 1, g_str_equal, NULL))
            g_ptr_array_add (mine, g_strdup (w + 1));
    }
    g_ptr_array_add (add, NULL);
    g_ptr_array_add (remove, NULL);
    p->folder->add_tags = (char **) g_ptr_array_free (g_steal_pointer (&add), FALSE);
    p->folder->remove_tags = (char **) g_ptr_array_free (g_steal_pointer (&remove), FALSE);
    return TRUE;
}

/* "otherwise = FOLDER": a folder name or a role, as in a [folder] header. */
static gboolean
parse_otherwise (Parser *p, const char *value, GError **error)
{
    if (*value == '\0' || has_trailing_comment (value))
        return fail_at (error, p, "key 'otherwise': '%s' is not a folder name or role", value);
    if (value[0] == '\\' ? role_index (value) < 0 : !folder_name_valid (value))
        return fail_at (error, p, "key 'otherwise': '%s' is not a folder name (levels are "
                        "separated by one '/') or a role (\\Junk \\Sent \\Trash \\Archive "
                        "\\Drafts)", value);
    p->folder->otherwise = g_strdup (value);
    return TRUE;
}

static gboolean
parse_folder_key (Parser *p, const char *key, const char *value, GError **error)
{
    int *seen = strcmp (key, "match") == 0       ? &p->match_line
                : strcmp (key, "tags") == 0      ? &p->tags_line
                : strcmp (key, "otherwise") == 0 ? &p->otherwise_line
                                                 : NULL;

    if (seen == NULL)
        return fail_at (error, p,
                        "key '%s': unknown key in [folder %s]; expected match, tags or otherwise",
                        key, p->folder->folder);
    if (*seen != 0)
        return fail_at (error, p, "key '%s': given twice in [folder %s], first on line %d", key,
                        p->folder->folder, *seen);
    *seen = p->line;
    if (seen == &p->tags_line)
        return parse_tags (p, value, error);
    if (seen == &p->otherwise_line)
        return parse_otherwise (p, value, error);
    if (has_trailing_comment (value))
        return fail_at (error, p, "key 'match': '%s' has a '#' (" COMMENT_HINT ")", value);
    p->folder->match = g_strdup (value);
    return TRUE;
}

static gboolean
parse_key (gpointer data, const char *key, const char *raw_value, int line, GError **error)
{
    Parser *p = data;
    g_autofree char *value = g_strstrip (g_strdup (raw_value));

    p->line = line;
    if (p->section == SECTION_NONE)
        return fail_at (error, p,
                        "key '%s': outside any section; put it under [flags], [keywords] or "
                        "[folder NAME]",
                        key);
    if (*value == '\0')
        return fail_at (error, p, "key '%s': empty value", key);
    if (p->section == SECTION_FOLDER)
        return parse_folder_key (p, key, value, error);
    if (!tag_valid (key))
        return fail_at (error, p, "key '%s': not a tag (tags here have no blanks)", key);
    if (p->section == SECTION_FLAGS)
        return parse_flag (p, key, value, error);
    return parse_keyword (p, key, value, error);
}

/* ---- files ------------------------------------------------------------------------------ */

/* Later files override earlier ones for the same tag: the earlier entry goes, the new one is
 * appended, so that it also decides a letter two tags share (see nms_rules_decide). */
static void
merge_tagged (GPtrArray *into, GPtrArray *from, gsize tag_offset)
{
    for (guint i = 0; i < from->len; i++) {
        const char *tag = G_STRUCT_MEMBER (char *, from->pdata[i], tag_offset);

        for (guint j = 0; j < into->len; j++) {
            if (strcmp (G_STRUCT_MEMBER (char *, into->pdata[j], tag_offset), tag) == 0) {
                g_ptr_array_remove_index (into, j);
                break;
            }
        }
        g_ptr_array_add (into, g_ptr_array_steal_index (from, i--));
    }
}

static gboolean
load_file (NmsRules *rules, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr (GError) local = NULL;
    gsize len = 0;
    Parser p = { .path = path };
    const NmsIniSyntax syntax = {
        .path = path,
        .section_word = "section",
        .name_to_last_bracket = TRUE,
        .hint_comment_after_section = TRUE,
        .domain = NMS_RULES_ERROR,
        .code = NMS_RULES_ERROR_PARSE,
    };
    gboolean ok;

    text = nms_fs_read_bounded (path, MAX_RULES_SIZE, "rule file", &len, NULL, &local);
    if (text == NULL) {
        g_set_error_literal (error, NMS_RULES_ERROR, NMS_RULES_ERROR_NOT_FOUND, local->message);
        return FALSE;
    }
    p.flags = g_ptr_array_new_with_free_func ((GDestroyNotify) flag_rule_free);
    p.keywords = g_ptr_array_new_with_free_func ((GDestroyNotify) keyword_rule_free);
    p.folders = g_ptr_array_new_with_free_func ((GDestroyNotify) folder_rule_free);
    ok = nms_ini_parse (text, len, &syntax, parse_section, parse_key, &p, error);
    if (ok) {
        merge_tagged (rules->flags, p.flags, G_STRUCT_OFFSET (NmsFlagRule, tag));
        merge_tagged (rules->keywords, p.keywords, G_STRUCT_OFFSET (NmsKeywordRule, tag));
        while (p.folders->len > 0)
            g_ptr_array_add (rules->folders, g_ptr_array_steal_index (p.folders, 0));
    }
    g_ptr_array_unref (p.flags);
    g_ptr_array_unref (p.keywords);
    g_ptr_array_unref (p.folders);
    return ok;
}

NmsRules *
nms_rules_load (char *const *paths, GError **error)
{
    g_autoptr (NmsRules) rules = rules_new ();

    for (int i = 0; paths != NULL && paths[i] != NULL; i++)
        if (!load_file (rules, paths[i], error))
            return NULL;
    return g_steal_pointer (&rules);
}

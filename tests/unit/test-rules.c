/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for src/rules: loading and every error with its line, role resolution, the
 * three-way evaluator as plain data (including an exhaustive idempotency check), the self
 * check, and the rule files shipped in rules/. Temp dirs only, no network. */
#include "rules/rules.h"

#include <glib/gstdio.h>
#include <string.h>

#include "testutil.h"

static char *tmp_dir;


/* Writes @text to a new file in the temp dir. (transfer full: its path) */
static char *
write_rules (const char *text)
{
    static int serial;
    g_autofree char *name = g_strdup_printf ("r%d.rules", ++serial);
    char *path = g_build_filename (tmp_dir, name, NULL);

    g_assert_true (g_file_set_contents (path, text, -1, NULL));
    return path;
}

static NmsRules *
load_text (const char *text)
{
    g_autofree char *path = write_rules (text);
    g_autoptr (GError) error = NULL;
    char *paths[] = { path, NULL };
    NmsRules *rules = nms_rules_load (paths, &error);

    g_assert_no_error (error);
    g_assert_nonnull (rules);
    return rules;
}

/* The message of loading @text, with the temp path replaced by "F". (transfer full) */
static char *
load_error (const char *text)
{
    g_autofree char *path = write_rules (text);
    g_autoptr (GError) error = NULL;
    char *paths[] = { path, NULL };
    g_autoptr (NmsRules) rules = nms_rules_load (paths, &error);
    g_auto (GStrv) parts = NULL;

    g_assert_null (rules);
    g_assert_error (error, NMS_RULES_ERROR, NMS_RULES_ERROR_PARSE);
    g_assert_true (g_str_has_prefix (error->message, path));
    parts = g_strsplit (error->message, path, 2);
    return g_strconcat ("F", parts[1], NULL);
}

/* ---- loading ---------------------------------------------------------------------------- */

#define DESIGN_RULES                                                                               \
    "[flags]\nunread = !S\nflagged = F\nreplied = R\npassed = P\ndraft = D\n\n"                    \
    "[folder junk]\nmatch = tag:spam\ntags = +spam -inbox -unread\n\n"                             \
    "[folder \\Archive]\nmatch = not tag:inbox and not tag:spam\n\n"                               \
    "[keywords]\nspam = $Junk\nnotspam = $NotJunk\ndeleted = \\Deleted\n\n"                        \
    "[folder \\Archive]\nmatch = tag:old\n"

static void
test_load_design_example (void)
{
    g_autoptr (NmsRules) rules = load_text (DESIGN_RULES);
    NmsFlagRule *unread, *draft;
    NmsFolderRule *junk, *archive, *archive2;
    NmsKeywordRule *deleted;

    g_assert_cmpuint (rules->flags->len, ==, 5);
    unread = rules->flags->pdata[0];
    draft = rules->flags->pdata[4];
    g_assert_cmpstr (unread->tag, ==, "unread");
    g_assert_cmpint (unread->letter, ==, 'S');
    g_assert_true (unread->inverted);
    g_assert_cmpint (unread->line, ==, 2);
    g_assert_cmpstr (draft->tag, ==, "draft");
    g_assert_false (draft->inverted);

    /* A repeated section stays two rules, in file order. */
    g_assert_cmpuint (rules->folders->len, ==, 3);
    junk = rules->folders->pdata[0];
    archive = rules->folders->pdata[1];
    archive2 = rules->folders->pdata[2];
    g_assert_cmpstr (junk->folder, ==, "junk");
    g_assert_cmpstr (junk->match, ==, "tag:spam");
    g_assert_cmpstrv (junk->add_tags, ((const char *[]){ "spam", NULL }));
    g_assert_cmpstrv (junk->remove_tags, ((const char *[]){ "inbox", "unread", NULL }));
    g_assert_cmpint (junk->line, ==, 8);
    g_assert_true (g_str_has_suffix (junk->file, ".rules"));
    g_assert_cmpstr (archive->folder, ==, "\\Archive");
    g_assert_cmpstr (archive->match, ==, "not tag:inbox and not tag:spam");
    g_assert_null (archive->add_tags);
    g_assert_cmpint (archive->line, ==, 12);
    g_assert_cmpstr (archive2->match, ==, "tag:old");
    g_assert_cmpint (archive2->line, ==, 20);

    /* Values are verbatim: no escape sequences. */
    g_assert_cmpuint (rules->keywords->len, ==, 3);
    deleted = rules->keywords->pdata[2];
    g_assert_cmpstr (deleted->tag, ==, "deleted");
    g_assert_cmpstr (deleted->keyword, ==, "\\Deleted");
    g_assert_cmpint (deleted->line, ==, 18);
}

static void
test_load_errors (void)
{
    static const struct {
        const char *text;
        const char *message;
    } cases[] = {
        { "[bogus]\n",
          "F:1: unknown section [bogus]; expected [flags], [keywords] or [folder NAME]" },
        { "[flags]  # tag = flag\n",
          "F:1: text after the section name (a '#' starts a comment only at the beginning of a "
          "line)" },
        { "[flags\n", "F:1: not a key = value line, section or comment" },
        { "[flags]\nunread\n", "F:2: not a key = value line, section or comment" },
        { "[flags]\n; old style\n",
          "F:2: not a key = value line, section or comment; comments start with '#'" },
        { "unread = !S\n",
          "F:1: key 'unread': outside any section; put it under [flags], [keywords] or "
          "[folder NAME]" },
        { "[flags]\nunread = s\n",
          "F:2: key 'unread': 's' is not a Maildir flag letter A-Z, or ! and one" },
        { "[flags]\nunread = !S  # seen\n",
          "F:2: key 'unread': '!S  # seen' is not a Maildir flag letter A-Z, or ! and one; a '#' "
          "starts a comment only at the beginning of a line" },
        { "[flags]\nunread = !S\nflagged = F\n[keywords]\n[flags]\nunread = S\n",
          "F:6: key 'unread': tag given twice in [flags], first on line 2" },
        { "[flags]\nun read = S\n", "F:2: key 'un read': not a tag (tags here have no blanks)" },
        { "[flags]\nunread =\n", "F:2: key 'unread': empty value" },
        { "[keywords]\nspam = $Junk  # junk\n",
          "F:2: key 'spam': '$Junk  # junk' is not one IMAP keyword (a '#' starts a comment only "
          "at the beginning of a line)" },
        { "[keywords]\nspam = \\Recent\n",
          "F:2: key 'spam': '\\Recent' is not an IMAP keyword ($Name, or a system flag such as "
          "\\Deleted)" },
        { "[keywords]\nspam = $Ju(nk\n",
          "F:2: key 'spam': '$Ju(nk' is not an IMAP keyword ($Name, or a system flag such as "
          "\\Deleted)" },
        { "[keywords]\nspam = $Junk\nspam = Junk\n",
          "F:3: key 'spam': tag given twice in [keywords], first on line 2" },
        { "\n[folder \\Spam]\n",
          "F:2: [folder \\Spam]: unknown role; roles are \\Junk \\Sent \\Trash \\Archive "
          "\\Drafts" },
        { "[folder ]\n", "F:1: [folder]: the section needs a folder: [folder NAME]" },
        { "[folder]\n", "F:1: [folder]: the section needs a folder: [folder NAME]" },
        { "[folderjunk]\n",
          "F:1: unknown section [folderjunk]; expected [flags], [keywords] or [folder NAME]" },
        { "[folder a//b]\n",
          "F:1: [folder a//b]: not a folder name (levels are separated by one '/')" },
        { "[folder junk]\nmatch = tag:spam  # spam\n",
          "F:2: key 'match': 'tag:spam  # spam' has a '#' (a '#' starts a comment only at the "
          "beginning of a line)" },
        { "[folder junk]\ntags = +spam # x\n",
          "F:2: key 'tags': '+spam # x' has a '#' (a '#' starts a comment only at the beginning "
          "of a line)" },
        { "[folder junk]\ntags = +spam inbox\n", "F:2: key 'tags': 'inbox' is not +tag or -tag" },
        { "[folder junk]\ntags = +spam -\n", "F:2: key 'tags': '-' is not +tag or -tag" },
        { "[folder junk]\ntags = +spam -spam\n",
          "F:2: key 'tags': tag 'spam' is both added and removed" },
        { "[folder junk]\nmatch = tag:a\n\nmatch = tag:b\n",
          "F:4: key 'match': given twice in [folder junk], first on line 2" },
        { "[folder junk]\nfolder = Junk\n",
          "F:2: key 'folder': unknown key in [folder junk]; expected match, tags or otherwise" },
        { "[folder junk]\nmatch = tag:spam\notherwise = \\Nowhere\n",
          "F:3: key 'otherwise': '\\Nowhere' is not a folder name (levels are separated by one "
          "'/') or a role (\\Junk \\Sent \\Trash \\Archive \\Drafts)" },
        { "[folder junk]\notherwise = INBOX\notherwise = Lists\n",
          "F:3: key 'otherwise': given twice in [folder junk], first on line 2" },
        { "[flags]\r\nunread = !S\r\n\xff\r\n", "F:3: not valid UTF-8 text" },
        { "[flags]\nunread = !S\n\n\xc3\n", "F:4: not valid UTF-8 text" },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *message = load_error (cases[i].text);

        g_assert_cmpstr (message, ==, cases[i].message);
    }
}

static void
test_load_nul_byte (void)
{
    g_autofree char *path = g_build_filename (tmp_dir, "nul.rules", NULL);
    g_autoptr (GError) error = NULL;
    char *paths[] = { path, NULL };
    g_autoptr (NmsRules) rules = NULL;
    g_autofree char *expected = NULL;

    g_assert_true (g_file_set_contents (path, "[flags]\nunread = !S\0\n", 21, NULL));
    rules = nms_rules_load (paths, &error);
    expected = g_strdup_printf ("%s:2: not valid UTF-8 text", path);
    g_assert_error (error, NMS_RULES_ERROR, NMS_RULES_ERROR_PARSE);
    g_assert_cmpstr (error->message, ==, expected);
}

static void
test_load_missing (void)
{
    g_autofree char *path = g_build_filename (tmp_dir, "absent.rules", NULL);
    g_autofree char *good = write_rules ("[flags]\nunread = !S\n");
    g_autoptr (GError) error = NULL;
    char *paths[] = { good, path, NULL };
    g_autoptr (NmsRules) rules = nms_rules_load (paths, &error);
    g_autofree char *expected
        = g_strdup_printf ("cannot open rule file '%s': No such file or directory", path);

    g_assert_null (rules);
    g_assert_error (error, NMS_RULES_ERROR, NMS_RULES_ERROR_NOT_FOUND);
    g_assert_cmpstr (error->message, ==, expected);
}

static void
test_load_empty_and_comments (void)
{
    g_autoptr (NmsRules) none = nms_rules_load (NULL, NULL);
    g_autoptr (NmsRules) rules
        = load_text ("\xEF\xBB\xBF# a comment\n   # indented\n\n[flags]\n  unread  =  !S  \n"
                     "[folder Lists/nmsync]\nmatch = tag:nmsync\n[folder INBOX]\n"
                     "[folder [Gmail]/Spam]  \nmatch = tag:spam\n");
    NmsFlagRule *f;
    NmsFolderRule *r;

    g_assert_cmpuint (none->flags->len + none->folders->len + none->keywords->len, ==, 0);
    g_assert_cmpuint (rules->flags->len, ==, 1);
    f = rules->flags->pdata[0];
    g_assert_cmpstr (f->tag, ==, "unread");
    g_assert_cmpint (f->line, ==, 5);
    g_assert_cmpuint (rules->folders->len, ==, 3);
    r = rules->folders->pdata[0];
    g_assert_cmpstr (r->folder, ==, "Lists/nmsync");
    r = rules->folders->pdata[1];
    g_assert_null (r->match);
    g_assert_null (r->add_tags);
    r = rules->folders->pdata[2];
    g_assert_cmpstr (r->folder, ==, "[Gmail]/Spam");
}

/* Later files override earlier ones for the same tag; folder rules add up in file order. */
static void
test_load_override (void)
{
    g_autofree char *a
        = write_rules ("[flags]\nunread = !S\nflagged = F\n"
                       "[keywords]\nspam = $Junk\n[folder \\Junk]\nmatch = tag:spam\n");
    g_autofree char *b = write_rules ("[flags]\nflagged = T\n"
                                      "[keywords]\nspam = Junk\n[folder Spam]\nmatch = tag:x\n");
    char *paths[] = { a, b, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsRules) rules = nms_rules_load (paths, &error);
    NmsFlagRule *f0, *f1;
    NmsKeywordRule *k;
    NmsFolderRule *r0, *r1;

    g_assert_no_error (error);
    g_assert_cmpuint (rules->flags->len, ==, 2);
    f0 = rules->flags->pdata[0];
    f1 = rules->flags->pdata[1];
    g_assert_cmpstr (f0->tag, ==, "unread");
    g_assert_cmpstr (f1->tag, ==, "flagged");
    g_assert_cmpint (f1->letter, ==, 'T');
    g_assert_cmpuint (rules->keywords->len, ==, 1);
    k = rules->keywords->pdata[0];
    g_assert_cmpstr (k->keyword, ==, "Junk");
    g_assert_cmpuint (rules->folders->len, ==, 2);
    r0 = rules->folders->pdata[0];
    r1 = rules->folders->pdata[1];
    g_assert_cmpstr (r0->file, ==, a);
    g_assert_cmpstr (r1->file, ==, b);
}

/* ---- roles ------------------------------------------------------------------------------ */

static void
test_roles (void)
{
    char *folders[] = { "INBOX", "Spam", "junk", "Sent Items", "Deleted Messages", NULL };
    g_autoptr (GHashTable) special = g_hash_table_new (g_str_hash, g_str_equal);
    g_autofree char *junk = NULL, *sent = NULL, *trash = NULL, *archive = NULL;
    g_autofree char *drafts = NULL, *plain = NULL, *nothing = NULL, *by_use = NULL;
    g_autofree char *by_use_case = NULL;

    g_assert_true (nms_rules_is_role ("\\Junk"));
    g_assert_true (nms_rules_is_role ("\\archive"));
    g_assert_false (nms_rules_is_role ("Junk"));
    g_assert_false (nms_rules_is_role ("\\Flagged"));

    /* The first common name in the list's order, spelled as the account spells it. */
    junk = nms_rules_resolve_folder ("\\Junk", folders, NULL);
    g_assert_cmpstr (junk, ==, "junk");
    sent = nms_rules_resolve_folder ("\\Sent", folders, special);
    g_assert_cmpstr (sent, ==, "Sent Items");
    trash = nms_rules_resolve_folder ("\\Trash", folders, NULL);
    g_assert_cmpstr (trash, ==, "Deleted Messages");
    archive = nms_rules_resolve_folder ("\\Archive", folders, NULL);
    g_assert_null (archive);
    drafts = nms_rules_resolve_folder ("\\Drafts", NULL, NULL);
    g_assert_null (drafts);
    plain = nms_rules_resolve_folder ("Lists/nmsync", folders, NULL);
    g_assert_cmpstr (plain, ==, "Lists/nmsync");

    /* SPECIAL-USE first, whatever the folder is called; attributes ignore case. */
    g_hash_table_insert (special, "\\Junk", "Bulk");
    g_hash_table_insert (special, "\\ARCHIVE", "All Mail");
    by_use = nms_rules_resolve_folder ("\\junk", folders, special);
    g_assert_cmpstr (by_use, ==, "Bulk");
    by_use_case = nms_rules_resolve_folder ("\\Archive", folders, special);
    g_assert_cmpstr (by_use_case, ==, "All Mail");
    nothing = nms_rules_resolve_folder ("\\Drafts", folders, special);
    g_assert_null (nothing);
}

/* ---- the evaluator ---------------------------------------------------------------------- */

#define DECIDE_RULES                                                                               \
    "[flags]\nunread = !S\nflagged = F\nreplied = R\n"                                             \
    "[folder \\Junk]\nmatch = tag:spam\ntags = +spam -inbox -unread\n"                             \
    "[folder \\Archive]\nmatch = not tag:inbox and not tag:spam\n"                                 \
    "[folder INBOX]\ntags = +inbox\n"

static char *resolved[] = { "Junk", "Archive", "INBOX" };

typedef struct {
    const char *tags; /* blank-separated */
    const char *folder;
    const char *flags;
    const char *agreed_folder;
    const char *agreed_flags;
    gboolean tags_changed;
    int matched_rule;
} Message;

typedef struct {
    const char *folder;
    const char *flags;
    const char *add; /* blank-separated, sorted */
    const char *remove;
} Expected;

static char *
join (GPtrArray *tags)
{
    g_ptr_array_add (tags, NULL);
    g_ptr_array_set_size (tags, tags->len - 1);
    return g_strjoinv (" ", (char **) tags->pdata);
}

static void
decide (const NmsRules *rules, char **rule_folders, const Message *m, NmsRuleOutcome *out)
{
    g_auto (GStrv) tags = g_strsplit (m->tags, " ", -1);
    NmsRuleInput in = {
        .tags = *m->tags != '\0' ? tags : NULL,
        .folder = m->folder,
        .flags = m->flags,
        .agreed_folder = m->agreed_folder,
        .agreed_flags = m->agreed_flags,
        .tags_changed = m->tags_changed,
        .matched_rule = m->matched_rule,
        .rule_folders = rule_folders,
    };

    nms_rules_decide (rules, &in, out);
}

static void
check_decision (const NmsRules *rules, char **rule_folders, const Message *m, const Expected *e)
{
    NmsRuleOutcome out = { 0 };
    g_autofree char *add = NULL;
    g_autofree char *remove = NULL;

    decide (rules, rule_folders, m, &out);
    add = join (out.add_tags);
    remove = join (out.remove_tags);
    g_assert_cmpstr (out.folder, ==, e->folder);
    g_assert_cmpstr (out.flags, ==, e->flags);
    g_assert_cmpstr (add, ==, e->add);
    g_assert_cmpstr (remove, ==, e->remove);
    g_assert_cmpstr (out.agreed_folder, ==, e->folder);
    g_assert_cmpstr (out.agreed_flags, ==, e->flags);
    nms_rule_outcome_clear (&out);
    g_assert_null (out.folder);
    g_assert_null (out.add_tags);
}

/* A new message in Junk gets the rule's tags; losing "unread" gives it S. */
static void
test_decide_new_in_junk (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "inbox unread", "Junk", "", NULL, NULL, TRUE, -1 };
    Expected e = { "Junk", "S", "spam", "inbox unread" };

    check_decision (rules, resolved, &m, &e);
}

/* Tagged spam in INBOX: the tags win, the message moves to Junk and gets Junk's tags, and
 * the letters follow the tags: "unread" is gone, so S is set. */
static void
test_decide_tagged_spam (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "inbox spam unread", "INBOX", "", "INBOX", "", TRUE, 0 };
    Expected e = { "Junk", "S", "", "inbox unread" };
    Message flagged = { "flagged inbox", "INBOX", "", "INBOX", "", TRUE, -1 };
    Expected e_flagged = { "INBOX", "FS", "", "" };

    check_decision (rules, resolved, &m, &e);
    check_decision (rules, resolved, &flagged, &e_flagged);
}

/* Moved from Junk to INBOX by another client: the folder wins even though the message still
 * has "spam" and so matches Junk's rule; INBOX's tags apply. */
static void
test_decide_moved_out_of_junk (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "spam", "INBOX", "S", "Junk", "S", FALSE, 0 };
    Message changed = { "spam", "INBOX", "S", "Junk", "S", TRUE, 0 };
    Expected e = { "INBOX", "S", "inbox", "" };

    check_decision (rules, resolved, &m, &e);
    check_decision (rules, resolved, &changed, &e);
}

/* Flags changed by a sync or a mail client: the tags follow, also against changed tags. */
static void
test_decide_flags_changed (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "inbox", "INBOX", "FS", "INBOX", "S", FALSE, -1 };
    Expected e = { "INBOX", "FS", "flagged", "" };
    Message both = { "inbox unread", "INBOX", "FRS", "INBOX", "S", TRUE, -1 };
    Expected e_both = { "INBOX", "FRS", "flagged replied", "unread" };

    check_decision (rules, resolved, &m, &e);
    check_decision (rules, resolved, &both, &e_both);
}

/* Nothing changed: the outcome is the input, however little tags, flags and folder agree. */
static void
test_decide_nothing_changed (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "spam unread flagged", "INBOX", "Sa", "INBOX", "Sa", FALSE, 0 };
    Expected e = { "INBOX", "Sa", "", "" };
    /* INBOX is case-insensitive: "inbox" is not another folder. */
    Message inbox = { "", "INBOX", "", "inbox", "", FALSE, -1 };
    Expected e_inbox = { "INBOX", "", "", "" };

    check_decision (rules, resolved, &m, &e);
    check_decision (rules, resolved, &inbox, &e_inbox);
}

/* A role without a folder in this account: its rule neither moves nor tags. */
static void
test_decide_unresolved_role (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    char *no_junk[] = { NULL, "Archive", "INBOX" };
    Message m = { "spam", "INBOX", "S", "INBOX", "S", TRUE, 0 };
    Expected e = { "INBOX", "S", "", "" };
    Message arrived = { "inbox", "Junk", "S", NULL, "S", FALSE, -1 };
    Expected e_arrived = { "Junk", "S", "", "" };

    check_decision (rules, no_junk, &m, &e);
    check_decision (rules, no_junk, &arrived, &e_arrived);
}

/* Letters [flags] does not map stay: T without a "deleted" rule, keyword letters. */
static void
test_decide_unmapped_letters (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    Message m = { "flagged", "Archive", "Tab", "Archive", "Tab", TRUE, 1 };
    Expected e = { "Archive", "FSTab", "", "" };
    Message arrived = { "unread", "Junk", "PTa", "INBOX", "PTa", FALSE, -1 };
    Expected e_arrived = { "Junk", "PSTa", "spam", "unread" };

    check_decision (rules, resolved, &m, &e);
    check_decision (rules, resolved, &arrived, &e_arrived);
}

/* A later rule for the same folder still gives the tags when an earlier one only matches. */
/* "Not spam": a message in Junk whose tags changed so that the Junk rule's match no longer
 * selects it (and no other rule does) goes to the rule's "otherwise" folder, with that
 * folder's tags; three-way, a message the user filed elsewhere by hand stays there, and one
 * whose tags did not change, or that still matches, stays in Junk. */
static void
test_decide_otherwise (void)
{
    g_autoptr (NmsRules) rules = load_text (
        "[flags]\nunread = !S\n"
        "[folder \\Junk]\nmatch = tag:spam\notherwise = INBOX\ntags = +spam -inbox -unread\n"
        "[folder INBOX]\ntags = +inbox -spam\n");
    char *folders[] = { "Junk", "INBOX" };
    char *otherwise[] = { "INBOX", NULL };
    Message not_spam = { "inbox", "Junk", "S", "Junk", "S", TRUE, -1 };
    Message still_spam = { "spam", "Junk", "S", "Junk", "S", TRUE, 0 };
    Expected e_stays = { "Junk", "S", "", "" };
    Message unchanged = { "inbox", "Junk", "S", "Junk", "S", FALSE, -1 };
    Message filed = { "inbox", "Lists", "S", "Junk", "S", TRUE, -1 };
    Expected e_filed = { "Lists", "S", "", "" };
    NmsRuleOutcome out = { 0 };
    g_auto (GStrv) tags = g_strsplit ("inbox", " ", -1);
    NmsRuleInput in = { .tags = tags, .folder = "Junk", .flags = "S", .agreed_folder = "Junk",
                        .agreed_flags = "S", .tags_changed = TRUE, .matched_rule = -1,
                        .rule_folders = folders, .rule_otherwise = otherwise };

    nms_rules_decide (rules, &in, &out);
    g_assert_cmpstr (out.folder, ==, "INBOX");
    g_assert_cmpuint (out.add_tags->len, ==, 0);
    nms_rule_outcome_clear (&out);
    in.matched_rule = 0; /* still spam */
    in.tags = (char *[]) { "spam", NULL };
    nms_rules_decide (rules, &in, &out);
    g_assert_cmpstr (out.folder, ==, "Junk");
    nms_rule_outcome_clear (&out);
    in.matched_rule = -1;
    in.tags_changed = FALSE; /* nothing changed: stays */
    nms_rules_decide (rules, &in, &out);
    g_assert_cmpstr (out.folder, ==, "Junk");
    nms_rule_outcome_clear (&out);
    in.tags_changed = TRUE;
    in.folder = "Lists"; /* filed by hand */
    in.tags = tags;
    nms_rules_decide (rules, &in, &out);
    g_assert_cmpstr (out.folder, ==, "Lists");
    nms_rule_outcome_clear (&out);
    /* Without rule_otherwise (the older callers): stays. */
    check_decision (rules, folders, &not_spam, &e_stays);
    check_decision (rules, folders, &still_spam, &e_stays);
    check_decision (rules, folders, &unchanged, &e_stays);
    check_decision (rules, folders, &filed, &e_filed);
}

static void
test_decide_arrival_rule (void)
{
    g_autoptr (NmsRules) rules
        = load_text ("[folder Lists]\nmatch = tag:list\n[folder Lists]\ntags = +list -inbox\n");
    char *folders[] = { "Lists", "Lists" };
    Message m = { "inbox", "Lists", "", NULL, NULL, FALSE, -1 };
    Expected e = { "Lists", "", "list", "inbox" };

    check_decision (rules, folders, &m, &e);
}

/* What the caller's query would answer for DECIDE_RULES. */
static int
first_match (GHashTable *tags, char **rule_folders)
{
    gboolean spam = g_hash_table_contains (tags, "spam");
    gboolean inbox = g_hash_table_contains (tags, "inbox");

    if (spam && rule_folders[0] != NULL)
        return 0;
    if (!inbox && !spam && rule_folders[1] != NULL)
        return 1;
    return -1;
}

static GHashTable *
tag_set (const char *tags)
{
    g_auto (GStrv) list = g_strsplit (tags, " ", -1);
    GHashTable *set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (int i = 0; list[i] != NULL; i++)
        if (*list[i] != '\0')
            g_hash_table_add (set, g_strdup (list[i]));
    return set;
}

/* The message after applying @out: tags changed, file renamed and moved, state recorded. */
static char *
applied_tags (const Message *m, const NmsRuleOutcome *out)
{
    g_autoptr (GHashTable) set = tag_set (m->tags);
    g_autoptr (GPtrArray) list = g_ptr_array_new ();
    GHashTableIter iter;
    gpointer tag;

    for (guint i = 0; i < out->add_tags->len; i++)
        g_hash_table_add (set, g_strdup (out->add_tags->pdata[i]));
    for (guint i = 0; i < out->remove_tags->len; i++)
        g_hash_table_remove (set, out->remove_tags->pdata[i]);
    g_hash_table_iter_init (&iter, set);
    while (g_hash_table_iter_next (&iter, &tag, NULL))
        g_ptr_array_add (list, tag);
    return join (list);
}

/* After an outcome that had a reason to look at flags or tags, every [flags] tag agrees with
 * its letter. */
static void
assert_consistent (const NmsRules *rules, const char *tags, const char *flags)
{
    g_autoptr (GHashTable) set = tag_set (tags);

    for (guint i = 0; i < rules->flags->len; i++) {
        const NmsFlagRule *f = rules->flags->pdata[i];

        g_assert_cmpint (g_hash_table_contains (set, f->tag), ==,
                         (strchr (flags, f->letter) != NULL) != f->inverted);
    }
}

static void
check_idempotent (const NmsRules *rules, char **rule_folders, Message *m)
{
    g_autoptr (GHashTable) set = tag_set (m->tags);
    NmsRuleOutcome first = { 0 }, second = { 0 };
    g_autofree char *tags = NULL;
    Message again;

    m->matched_rule = first_match (set, rule_folders);
    decide (rules, rule_folders, m, &first);
    tags = applied_tags (m, &first);
    /* The folder wins when it changed; nothing moves without a reason. */
    if (m->agreed_folder == NULL || strcmp (m->agreed_folder, m->folder) != 0 || !m->tags_changed)
        g_assert_cmpstr (first.folder, ==, m->folder);
    if (m->tags_changed || m->agreed_flags == NULL || strcmp (m->agreed_flags, m->flags) != 0)
        assert_consistent (rules, tags, first.flags);

    again = (Message){
        tags, first.folder, first.flags, first.agreed_folder, first.agreed_flags, FALSE, -1
    };
    g_hash_table_unref (set);
    set = tag_set (tags);
    again.matched_rule = first_match (set, rule_folders);
    decide (rules, rule_folders, &again, &second);
    g_assert_cmpstr (second.folder, ==, first.folder);
    g_assert_cmpstr (second.flags, ==, first.flags);
    g_assert_cmpuint (second.add_tags->len, ==, 0);
    g_assert_cmpuint (second.remove_tags->len, ==, 0);
    g_assert_cmpstr (second.agreed_folder, ==, first.agreed_folder);
    g_assert_cmpstr (second.agreed_flags, ==, first.agreed_flags);
    nms_rule_outcome_clear (&first);
    nms_rule_outcome_clear (&second);
}

/* Takes the next digit, base @count, off *@n. */
static guint
digit (guint *n, guint count)
{
    guint d = *n % count;

    *n /= count;
    return d;
}

/* Every combination of a few tags, folders, flags and agreed states, with Junk resolved and
 * not: applying the outcome and deciding again changes nothing. */
static void
test_decide_idempotent (void)
{
    g_autoptr (NmsRules) rules = load_text (DECIDE_RULES);
    static const char *const tag_names[] = { "inbox", "spam", "unread", "flagged" };
    static const char *const folders[] = { "INBOX", "Junk", "Archive", "Lists" };
    static const char *const agreed_folders[] = { NULL, "INBOX", "Junk", "Archive" };
    static const char *const flag_sets[] = { "", "S", "F", "FS", "STa" };
    static const char *const agreed_flag_sets[] = { NULL, "", "S", "FS" };
    char *no_junk[] = { NULL, "Archive", "INBOX" };
    char **rule_folders[] = { resolved, no_junk };
    const guint tag_sets = 1u << G_N_ELEMENTS (tag_names);
    const guint total = G_N_ELEMENTS (rule_folders) * tag_sets * G_N_ELEMENTS (folders)
                        * G_N_ELEMENTS (agreed_folders) * G_N_ELEMENTS (flag_sets)
                        * G_N_ELEMENTS (agreed_flag_sets) * 2;

    g_assert_cmpuint (total, ==, 20480);
    for (guint n = 0; n < total; n++) {
        g_autoptr (GPtrArray) list = g_ptr_array_new ();
        g_autofree char *tags = NULL;
        guint k = n, t = digit (&k, tag_sets);
        Message m;

        for (guint i = 0; i < G_N_ELEMENTS (tag_names); i++)
            if (t & (1u << i))
                g_ptr_array_add (list, (char *) tag_names[i]);
        tags = join (list);
        m.tags = tags;
        m.folder = folders[digit (&k, G_N_ELEMENTS (folders))];
        m.agreed_folder = agreed_folders[digit (&k, G_N_ELEMENTS (agreed_folders))];
        m.flags = flag_sets[digit (&k, G_N_ELEMENTS (flag_sets))];
        m.agreed_flags = agreed_flag_sets[digit (&k, G_N_ELEMENTS (agreed_flag_sets))];
        m.tags_changed = digit (&k, 2);
        m.matched_rule = -1;
        check_idempotent (rules, rule_folders[digit (&k, G_N_ELEMENTS (rule_folders))], &m);
    }
}

/* ---- the self check --------------------------------------------------------------------- */

static guint
check_text (const char *text, GPtrArray *problems)
{
    g_autoptr (NmsRules) rules = load_text (text);

    return nms_rules_check_self (rules, problems);
}

static void
test_check_self_message (void)
{
    g_autofree char *path = write_rules ("[flags]\nunread = !S\n\n"
                                         "[folder junk]\nmatch = tag:spam\ntags = -spam\n");
    char *paths[] = { path, NULL };
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsRules) rules = nms_rules_load (paths, &error);
    g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *expected = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (nms_rules_check_self (rules, problems), ==, 1);
    g_assert_cmpuint (problems->len, ==, 1);
    expected = g_strdup_printf ("%s:4: [folder junk]: its tags (-spam) make its own match "
                                "(tag:spam) false: mail would move back and forth",
                                path);
    g_assert_cmpstr (problems->pdata[0], ==, expected);
}

static void
test_check_self_cases (void)
{
    static const struct {
        const char *match;
        const char *tags;
        gboolean reported;
    } cases[] = {
        { "tag:spam", "+spam -inbox -unread", FALSE },
        { "tag:spam", "-inbox", FALSE },
        { "tag:spam", "-spam", TRUE },
        { "is:spam", "-spam", TRUE },
        { "not tag:inbox", "+inbox", TRUE },
        { "NOT tag:inbox", "-inbox", FALSE },
        { "-tag:inbox", "+inbox", TRUE },
        { "not tag:inbox and not tag:spam", "+spam", TRUE },
        { "not tag:inbox and not tag:spam", "-inbox", FALSE },
        { "tag:a tag:b", "+a -b", TRUE },
        { "tag:a or tag:b", "-a", FALSE },
        { "tag:a OR tag:b", "-a -b", TRUE },
        { "(tag:a or tag:b) and not tag:c", "+a +c", TRUE },
        { "(tag:a or tag:b) and not tag:c", "+a", FALSE },
        { "tag:a not tag:b", "+b", TRUE },
        { "not not tag:a", "-a", TRUE },
        { "((((tag:a))))", "-a", TRUE },
        /* Anything else: other terms, patterns, quotes, broken syntax. */
        { "tag:spam and from:x", "-spam", FALSE },
        { "tag:spam and folder:Junk", "-spam", FALSE },
        { "tag:spa*", "-spa", FALSE },
        { "tag:\"spam\"", "-spam", FALSE },
        { "tag:/spam/", "-spam", FALSE },
        { "tag:", "-spam", FALSE },
        { "tag:spam and", "-spam", FALSE },
        { "tag:spam or or tag:x", "-spam", FALSE },
        { "(tag:spam", "-spam", FALSE },
        { "tag:spam)", "-spam", FALSE },
        { "()", "-spam", FALSE },
        { "not", "-spam", FALSE },
        { "-spam", "-spam", FALSE },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
        g_autofree char *text = g_strdup_printf ("[folder x]\nmatch = %s\ntags = %s\n",
                                                 cases[i].match, cases[i].tags);

        if (g_test_verbose ())
            g_test_message ("match '%s', tags '%s'", cases[i].match, cases[i].tags);
        g_assert_cmpuint (check_text (text, problems), ==, cases[i].reported ? 1 : 0);
        g_assert_cmpuint (problems->len, ==, cases[i].reported ? 1 : 0);
    }
}

/* Hostile nesting is refused, not recursed into; sensible nesting still works. */
static void
test_check_self_deep (void)
{
    static const char *const openers[] = { "(", "not ", "( not " };

    for (guint o = 0; o < G_N_ELEMENTS (openers); o++) {
        for (guint depth = 10; depth <= 100000; depth *= 100) {
            g_autoptr (GString) text = g_string_new ("[folder x]\ntags = -a\nmatch = ");
            g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);
            guint even = depth - depth % 2; /* an even number of "not" keeps tag:a as it is */

            for (guint i = 0; i < even; i++)
                g_string_append (text, openers[o]);
            g_string_append (text, "tag:a");
            for (guint i = 0; i < even && openers[o][0] == '('; i++)
                g_string_append (text, ")");
            g_string_append (text, "\n");
            g_assert_cmpuint (check_text (text->str, problems), ==, depth <= 10 ? 1 : 0);
        }
    }
}

/* ---- the shipped rule files ------------------------------------------------------------- */

/* The source tree's rules/: $G_TEST_SRCDIR/../rules when set, else found from this file's
 * name, which meson gives relative to the build root, two levels above this test. */
static char *
shipped_dir (void)
{
    const char *srcdir = g_getenv ("G_TEST_SRCDIR");
    g_autofree char *exe = NULL, *tests = NULL, *build = NULL, *file = NULL, *unit = NULL;
    g_autofree char *top = NULL;

    if (srcdir != NULL)
        return g_build_filename (srcdir, "..", "rules", NULL);
    exe = g_file_read_link ("/proc/self/exe", NULL);
    g_assert_nonnull (exe);
    tests = g_path_get_dirname (exe);
    build = g_path_get_dirname (tests);
    file = g_path_is_absolute (__FILE__) ? g_strdup (__FILE__)
                                         : g_build_filename (build, __FILE__, NULL);
    unit = g_path_get_dirname (file);
    top = g_path_get_dirname (unit);
    return g_build_filename (top, "..", "rules", NULL);
}

static void
test_shipped (void)
{
    static const char *const names[]
        = { "default.rules", "spam.rules", "sent.rules", "archive.rules" };
    g_autofree char *dir = shipped_dir ();
    char *all[G_N_ELEMENTS (names) + 1] = { NULL };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autofree char *path = g_build_filename (dir, names[i], NULL);
        char *one[] = { path, NULL };
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsRules) rules = nms_rules_load (one, &error);
        g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

        g_assert_no_error (error);
        g_assert_cmpuint (rules->flags->len + rules->folders->len + rules->keywords->len, >, 0);
        g_assert_cmpuint (nms_rules_check_self (rules, problems), ==, 0);
        all[i] = g_steal_pointer (&path);
    }
    {
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsRules) rules = nms_rules_load (all, &error);
        g_autoptr (GPtrArray) problems = g_ptr_array_new_with_free_func (g_free);

        g_assert_no_error (error);
        g_assert_cmpuint (rules->flags->len, ==, 6);
        g_assert_cmpuint (rules->folders->len, ==, 4);
        g_assert_cmpuint (nms_rules_check_self (rules, problems), ==, 0);
    }
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
        g_free (all[i]);
}

int
main (int argc, char **argv)
{
    int status;

    g_test_init (&argc, &argv, NULL);
    tmp_dir = g_dir_make_tmp ("test-rules-XXXXXX", NULL);
    g_assert_nonnull (tmp_dir);

    g_test_add_func ("/rules/load/design-example", test_load_design_example);
    g_test_add_func ("/rules/load/errors", test_load_errors);
    g_test_add_func ("/rules/load/nul-byte", test_load_nul_byte);
    g_test_add_func ("/rules/load/missing", test_load_missing);
    g_test_add_func ("/rules/load/empty-and-comments", test_load_empty_and_comments);
    g_test_add_func ("/rules/load/override", test_load_override);
    g_test_add_func ("/rules/roles", test_roles);
    g_test_add_func ("/rules/decide/new-in-junk", test_decide_new_in_junk);
    g_test_add_func ("/rules/decide/tagged-spam", test_decide_tagged_spam);
    g_test_add_func ("/rules/decide/moved-out-of-junk", test_decide_moved_out_of_junk);
    g_test_add_func ("/rules/decide/flags-changed", test_decide_flags_changed);
    g_test_add_func ("/rules/decide/nothing-changed", test_decide_nothing_changed);
    g_test_add_func ("/rules/decide/unresolved-role", test_decide_unresolved_role);
    g_test_add_func ("/rules/decide/unmapped-letters", test_decide_unmapped_letters);
    g_test_add_func ("/rules/decide/arrival-rule", test_decide_arrival_rule);
    g_test_add_func ("/rules/decide/otherwise", test_decide_otherwise);
    g_test_add_func ("/rules/decide/idempotent", test_decide_idempotent);
    g_test_add_func ("/rules/check-self/message", test_check_self_message);
    g_test_add_func ("/rules/check-self/cases", test_check_self_cases);
    g_test_add_func ("/rules/check-self/deep", test_check_self_deep);
    g_test_add_func ("/rules/shipped", test_shipped);

    status = g_test_run ();
    nms_test_rm_rf (tmp_dir);
    g_free (tmp_dir);
    return status;
}

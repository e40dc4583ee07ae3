/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync check`: per folder the server's, the Maildir's and notmuch's counts, the
 * Message-IDs on one side only, the spool defects (maildir/defects.c), notmuch file names that
 * point at nothing and state rows whose file is gone. A report only: nothing is written. */
#include "nms-build.h"

#include "check/check.h"

#include <string.h>
#include <sys/stat.h>

#include "maildir/maildir.h"
#include "state/state.h"
#include "sync/sync.h"

const char *
nms_check_kind_name (NmsCheckKind kind)
{
    static const char *const names[] = {
        [NMS_CHECK_TMP_OLD] = "tmp-old",         [NMS_CHECK_EMPTY] = "empty",
        [NMS_CHECK_MISFILED] = "misfiled",       [NMS_CHECK_DUPLICATE_UID] = "duplicate-uid",
        [NMS_CHECK_BAD_NAME] = "bad-name",       [NMS_CHECK_SERVER_ONLY] = "server-only",
        [NMS_CHECK_LOCAL_ONLY] = "local-only",   [NMS_CHECK_NOTMUCH_STALE] = "notmuch-stale",
        [NMS_CHECK_STATE_GONE] = "state-gone",
    };
    return names[kind];
}

void
nms_check_issue_free (NmsCheckIssue *issue)
{
    if (issue == NULL)
        return;
    g_free (issue->folder);
    g_free (issue->object);
    g_free (issue->target);
    g_free (issue->note);
    g_free (issue->message_id);
    g_free (issue);
}

void
nms_check_folder_free (NmsCheckFolder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    g_free (folder);
}

void
nms_check_report_free (NmsCheckReport *report)
{
    if (report == NULL)
        return;
    g_free (report->account);
    g_ptr_array_unref (report->folders);
    g_ptr_array_unref (report->issues);
    g_free (report);
}

/* What one check of an account gathers on its way. */
typedef struct {
    const NmsAccount *account;
    const NmsCheckOptions *options;
    NmsCheckReport *report;
    NmsState *state;         /* NULL: no state file yet */
    GHashTable *relpaths;    /* local relpath -> folder name (transfer none: @names' strings) */
    GHashTable *bases;       /* unique part -> path of a message file, after the repairs */
    GHashTable *nm_counts;   /* folder name -> notmuch count (GUINT_TO_POINTER + 1) */
    GPtrArray *nm_stale;     /* stale notmuch paths (owned strings) */
} Check;

static NmsCheckIssue *
issue_add (Check *c, NmsCheckKind kind, const char *folder, const char *object)
{
    NmsCheckIssue *issue = g_new0 (NmsCheckIssue, 1);

    issue->kind = kind;
    issue->folder = g_strdup (folder);
    issue->object = g_strdup (object);
    g_ptr_array_add (c->report->issues, issue);
    return issue;
}

static gboolean
selected (const Check *c, const char *name)
{
    if (c->options->folders != NULL)
        return g_strv_contains ((const char *const *) c->options->folders, name);
    return nms_config_folder_selected (c->account->folders, name, '/');
}

/* The folder of a file: the directory above cur/ or new/ (else the file's own directory, a
 * misfiled file), as a folder name when it is a known folder's directory; NULL otherwise. */
static const char *
folder_of_path (const Check *c, const char *path)
{
    g_autofree char *dir = g_path_get_dirname (path);
    g_autofree char *leaf = g_path_get_basename (dir);
    g_autofree char *folder_dir = NULL;
    const char *root = c->account->maildir;
    gsize n = strlen (root);

    if (strcmp (leaf, "cur") == 0 || strcmp (leaf, "new") == 0)
        folder_dir = g_path_get_dirname (dir);
    else
        folder_dir = g_steal_pointer (&dir);
    if (strncmp (folder_dir, root, n) != 0 || (folder_dir[n] != '\0' && folder_dir[n] != '/'))
        return NULL;
    return g_hash_table_lookup (c->relpaths, folder_dir[n] == '/' ? folder_dir + n + 1 : "");
}

/* The notmuch query for the account's files: "*" when its Maildir is the mail root, else
 * a path: query of everything below it; NULL when the Maildir lies outside the mail root. (transfer full) */
static char *
account_query (const Check *c)
{
    const char *root = nms_db_mail_root (c->options->db), *md = c->account->maildir;
    gsize n = strlen (root);
    g_autoptr (GString) q = NULL;

    if (strcmp (root, md) == 0)
        return g_strdup ("*");
    if (strncmp (md, root, n) != 0 || md[n] != '/')
        return NULL;
    q = g_string_new ("path:\"");
    for (const char *p = md + n + 1; *p != '\0'; p++) {
        if (*p == '"')
            g_string_append_c (q, '"');
        g_string_append_c (q, *p);
    }
    g_string_append (q, "/**\"");
    return g_string_free (g_steal_pointer (&q), FALSE);
}

/* One query: per folder how many messages have a file there, and the names that point at
 * nothing. */
static gboolean
read_notmuch (Check *c, GError **error)
{
    g_autofree char *query = NULL;
    g_autoptr (GPtrArray) messages = NULL;

    c->nm_counts = g_hash_table_new (g_str_hash, g_str_equal);
    c->nm_stale = g_ptr_array_new_with_free_func (g_free);
    if (c->options->db == NULL || (query = account_query (c)) == NULL)
        return TRUE;
    if ((messages = nms_db_query (c->options->db, query, error)) == NULL)
        return FALSE;
    for (guint i = 0; i < messages->len; i++) {
        NmsDbMessage *m = g_ptr_array_index (messages, i);
        g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

        for (char **p = m->paths; p != NULL && *p != NULL; p++) {
            const char *folder = folder_of_path (c, *p);
            struct stat st;

            if (lstat (*p, &st) != 0)
                g_ptr_array_add (c->nm_stale, g_strdup (*p));
            else if (folder != NULL && g_hash_table_add (seen, (gpointer) folder))
                g_hash_table_insert (c->nm_counts, (gpointer) folder,
                                     GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (
                                                           c->nm_counts, folder)) + 1));
        }
    }
    return TRUE;
}

/* The lowercased Message-IDs of @scan's files. (transfer full: set) */
static GHashTable *
local_ids (GPtrArray *scan)
{
    GHashTable *ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);
        g_autofree char *id = NULL;

        if (e->name != NULL && nms_maildir_message_id (e->path, &id, NULL) && id != NULL)
            g_hash_table_add (ids, g_ascii_strdown (id, -1));
    }
    return ids;
}

static int
by_string (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* @server NULL: the server has no such folder (or it could not be examined, said then), so
 * every local message is local-only. */
static void
compare_ids (Check *c, const char *folder, GHashTable *local, const NmsSyncServerFolder *server)
{
    g_autoptr (GHashTable) on_server = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GPtrArray) only_local = g_ptr_array_new ();
    GHashTableIter it;
    gpointer id;

    for (guint i = 0; server != NULL && i < server->message_ids->len; i++) {
        const char *id = g_ptr_array_index (server->message_ids, i);

        if (g_hash_table_add (on_server, (gpointer) id) && !g_hash_table_contains (local, id))
            issue_add (c, NMS_CHECK_SERVER_ONLY, folder, id);
    }
    g_hash_table_iter_init (&it, local);
    while (g_hash_table_iter_next (&it, &id, NULL))
        if (!g_hash_table_contains (on_server, id))
            g_ptr_array_add (only_local, id);
    g_ptr_array_sort (only_local, by_string);
    for (guint i = 0; i < only_local->len; i++)
        issue_add (c, NMS_CHECK_LOCAL_ONLY, folder, g_ptr_array_index (only_local, i));
}

/* The state's messages of @folder (@saved, NULL without a state) whose file (by unique part)
 * is in none of @present. */
static void
state_gone (Check *c, const char *folder, GArray *saved, GHashTable *present)
{
    for (guint i = 0; saved != NULL && i < saved->len; i++) {
        const NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);
        g_autofree char *object = NULL;

        if (m->base == NULL || m->base[0] == '\0' || g_hash_table_contains (present, m->base))
            continue;
        object = g_strdup_printf ("uid=%u %s", m->uid, m->base);
        issue_add (c, NMS_CHECK_STATE_GONE, folder, object)->uid = m->uid;
    }
}

/* TRUE when @saved (sorted by uid) pairs @uid with unique part @base. */
static gboolean
state_pairs (GArray *saved, guint32 uid, const char *base)
{
    for (guint i = 0; saved != NULL && i < saved->len; i++) {
        const NmsStateMessage *m = &g_array_index (saved, NmsStateMessage, i);

        if (m->uid == uid)
            return g_strcmp0 (m->base, base) == 0;
    }
    return FALSE;
}

static const NmsCheckKind defect_kinds[] = {
    [NMS_MAILDIR_DEFECT_TMP_OLD] = NMS_CHECK_TMP_OLD,
    [NMS_MAILDIR_DEFECT_EMPTY] = NMS_CHECK_EMPTY,
    [NMS_MAILDIR_DEFECT_MISFILED] = NMS_CHECK_MISFILED,
    [NMS_MAILDIR_DEFECT_DUPLICATE_UID] = NMS_CHECK_DUPLICATE_UID,
    [NMS_MAILDIR_DEFECT_BAD_NAME] = NMS_CHECK_BAD_NAME,
};

/* The spool defects of @folder as issues; misfiled files count as present for the state. */
static void
add_defects (Check *c, const char *folder, GPtrArray *defects, GArray *saved,
             GHashTable *present)
{
    for (guint i = 0; i < defects->len; i++) {
        NmsMaildirDefect *d = g_ptr_array_index (defects, i);
        NmsCheckIssue *issue = issue_add (c, defect_kinds[d->kind], folder, d->path);

        issue->empty = d->empty;
        issue->uid = d->uid;
        issue->target = g_strdup (d->target);
        if (d->kind == NMS_MAILDIR_DEFECT_MISFILED)
            issue->note = g_strdup (d->problem);
        /* A misfiled file left where it is (recent, a copy) keeps its place for notmuch. */
        if (d->kind == NMS_MAILDIR_DEFECT_MISFILED && d->base != NULL && d->target != NULL) {
            g_hash_table_add (present, g_strdup (d->base));
            if (d->problem == NULL)
                g_hash_table_replace (c->bases, g_strdup (d->base), g_strdup (d->target));
        }
        if (d->kind == NMS_MAILDIR_DEFECT_DUPLICATE_UID) {
            g_autofree char *id = NULL;

            issue->paired = state_pairs (saved, d->uid, d->base);
            if (nms_maildir_message_id (d->path, &id, NULL) && id != NULL)
                issue->message_id = g_ascii_strdown (id, -1);
        }
    }
}

/* One local folder: files, defects, Message-IDs against the server, the state's rows. */
static gboolean
check_local (Check *c, NmsCheckFolder *row, const char *dir,
             const NmsSyncServerFolder *server, GError **error)
{
    g_autoptr (GPtrArray) scan = NULL, defects = NULL;
    g_autoptr (GArray) saved = NULL;
    g_autoptr (GHashTable) present =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    if ((scan = nms_maildir_scan (dir, error)) == NULL ||
        (defects = nms_maildir_defects (dir, scan, c->options->now, error)) == NULL ||
        (c->state != NULL && (saved = nms_state_messages (c->state, row->name, error)) == NULL))
        return FALSE;
    row->local = scan->len;
    for (guint i = 0; i < scan->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (scan, i);

        if (e->name == NULL)
            continue;
        g_hash_table_add (present, g_strdup (e->name->base));
        g_hash_table_insert (c->bases, g_strdup (e->name->base), g_strdup (e->path));
    }
    add_defects (c, row->name, defects, saved, present);
    {
        g_autoptr (GHashTable) ids = local_ids (scan);

        /* A misfiled message is still local: its refile is the repair, not a download. */
        for (guint i = 0; i < defects->len; i++) {
            NmsMaildirDefect *d = g_ptr_array_index (defects, i);
            g_autofree char *id = NULL;

            if (d->kind == NMS_MAILDIR_DEFECT_MISFILED &&
                nms_maildir_message_id (d->path, &id, NULL) && id != NULL)
                g_hash_table_add (ids, g_ascii_strdown (id, -1));
        }
        compare_ids (c, row->name, ids, server);
    }
    state_gone (c, row->name, saved, present);
    return TRUE;
}

/* Stale notmuch names, each with the file that has its unique part now, when there is one. */
static void
add_stale (Check *c)
{
    for (guint i = 0; i < c->nm_stale->len; i++) {
        const char *path = g_ptr_array_index (c->nm_stale, i);
        g_autofree char *name = g_path_get_basename (path);
        g_autoptr (NmsMaildirName) parsed = nms_maildir_name_parse (name, NULL);
        const char *folder = folder_of_path (c, path);
        const char *now = parsed != NULL ? g_hash_table_lookup (c->bases, parsed->base) : NULL;

        /* A misfiled file whose refile puts it back under this very name is reported once,
         * as misfiled. */
        if (g_strcmp0 (now, path) == 0)
            continue;
        issue_add (c, NMS_CHECK_NOTMUCH_STALE, folder ? folder : "", path)->target =
            g_strdup (now);
    }
}

static int
by_name (gconstpointer a, gconstpointer b)
{
    return strcmp ((*(NmsCheckFolder *const *) a)->name, (*(NmsCheckFolder *const *) b)->name);
}

static NmsCheckFolder *
row_for (Check *c, GHashTable *rows, const char *name)
{
    NmsCheckFolder *row = g_hash_table_lookup (rows, name);

    if (row == NULL) {
        row = g_new0 (NmsCheckFolder, 1);
        row->name = g_strdup (name);
        row->server = row->local = -1;
        row->notmuch = c->options->db != NULL ? 0 : -1;
        g_ptr_array_add (c->report->folders, row);
        g_hash_table_insert (rows, row->name, row);
    }
    return row;
}

/* Walks the local folders, then adds the server's that have no local directory. */
static gboolean
check_folders (Check *c, GPtrArray *local, GPtrArray *server, GError **error)
{
    g_autoptr (GHashTable) rows = g_hash_table_new (g_str_hash, g_str_equal);
    g_autoptr (GHashTable) by_server = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < server->len; i++) {
        NmsSyncServerFolder *sf = g_ptr_array_index (server, i);

        g_hash_table_insert (by_server, sf->name, sf);
        row_for (c, rows, sf->name)->server = sf->messages;
    }
    for (guint i = 0; i < local->len; i++) {
        NmsMaildirFolder *lf = g_ptr_array_index (local, i);
        g_autofree char *dir = g_build_filename (c->account->maildir, lf->relpath, NULL);
        NmsCheckFolder *row;

        if (!selected (c, lf->name))
            continue;
        row = row_for (c, rows, lf->name);
        if (!check_local (c, row, dir, g_hash_table_lookup (by_server, lf->name), error)) {
            g_prefix_error (error, "folder '%s': ", lf->name);
            return FALSE;
        }
    }
    /* A server folder without a local one: all its messages are server-only. */
    for (guint i = 0; i < server->len; i++) {
        NmsSyncServerFolder *sf = g_ptr_array_index (server, i);
        g_autoptr (GHashTable) none = g_hash_table_new (g_str_hash, g_str_equal);

        if (((NmsCheckFolder *) g_hash_table_lookup (rows, sf->name))->local < 0)
            compare_ids (c, sf->name, none, sf);
    }
    return TRUE;
}

static void
count_issues (Check *c)
{
    g_autoptr (GHashTable) rows = g_hash_table_new (g_str_hash, g_str_equal);

    g_ptr_array_sort (c->report->folders, by_name);
    for (guint i = 0; i < c->report->folders->len; i++) {
        NmsCheckFolder *row = g_ptr_array_index (c->report->folders, i);

        g_hash_table_insert (rows, row->name, row);
        if (row->notmuch >= 0)
            row->notmuch = GPOINTER_TO_UINT (g_hash_table_lookup (c->nm_counts, row->name));
    }
    for (guint i = 0; i < c->report->issues->len; i++) {
        NmsCheckIssue *issue = g_ptr_array_index (c->report->issues, i);
        NmsCheckFolder *row = g_hash_table_lookup (rows, issue->folder);

        if (row != NULL)
            row->issues++;
    }
}

static void
check_clear (Check *c)
{
    nms_state_free (c->state);
    g_clear_pointer (&c->relpaths, g_hash_table_unref);
    g_clear_pointer (&c->bases, g_hash_table_unref);
    g_clear_pointer (&c->nm_counts, g_hash_table_unref);
    g_clear_pointer (&c->nm_stale, g_ptr_array_unref);
}

NmsCheckReport *
nms_check_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                   const NmsCheckOptions *options, GError **error)
{
    g_autoptr (NmsCheckReport) report = g_new0 (NmsCheckReport, 1);
    g_autoptr (GPtrArray) local = NULL, server = NULL;
    g_autofree char *state_path = nms_state_path (config->state_dir, account->name);
    Check c = { .account = account, .options = options, .report = report };
    gboolean ok = FALSE;

    report->account = g_strdup (account->name);
    report->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_check_folder_free);
    report->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_check_issue_free);
    c.bases = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    c.relpaths = g_hash_table_new (g_str_hash, g_str_equal);
    if ((local = nms_maildir_list_folders (account->maildir, account->layout, error)) == NULL)
        goto out;
    for (guint i = 0; i < local->len; i++) {
        NmsMaildirFolder *lf = g_ptr_array_index (local, i);

        g_hash_table_insert (c.relpaths, lf->relpath, lf->name);
    }
    if (g_file_test (state_path, G_FILE_TEST_EXISTS) &&
        (c.state = nms_state_open_copy (config->state_dir, account->name, error)) == NULL)
        goto out;
    if ((server = nms_sync_check_server (ctx, account, options->folders, error)) == NULL ||
        !read_notmuch (&c, error) || !check_folders (&c, local, server, error))
        goto out;
    add_stale (&c);
    count_issues (&c);
    ok = TRUE;
out:
    check_clear (&c);
    return ok ? g_steal_pointer (&report) : NULL;
}

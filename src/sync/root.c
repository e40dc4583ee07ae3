/* SPDX-License-Identifier: GPL-3.0-or-later
 * The state is bound to the Maildir it describes. A file missing from a folder is taken for a
 * deletion by the user only when the folder is in the very Maildir the state was written for:
 * the root carries a marker file with the state's id, and the state records the root's path
 * and layout. An unmounted disk (an empty mount point), a missing root, an edited `maildir =`
 * or `layout =` stop the account here, before the first server command, with a sentence that
 * says what to do. A Maildir moved to a new path (same marker) is followed. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#define MARKER_NAME ".nmsync-maildir"
#define MARKER_PREFIX "nmsync maildir "
#define MARKER_ACCOUNT "account "
#define KEY_ID "maildir.id"
#define KEY_ROOT "maildir.root"
#define KEY_LAYOUT "maildir.layout"

static const char *
layout_name (NmsMaildirLayout layout)
{
    return layout == NMS_MAILDIR_LAYOUT_VERBATIM ? "verbatim" : "maildir++";
}

/* The id in @root's marker ("nmsync maildir ID", then "account NAME"); NULL without error
 * when there is none. *@account_out (may be NULL) gets the account named there, or NULL.
 * (transfer full) */
static char *
read_marker (const char *root, char **account_out, GError **error)
{
    g_autofree char *path = g_build_filename (root, MARKER_NAME, NULL);
    g_autofree char *text = NULL;
    g_autoptr (GError) local = NULL;
    g_auto (GStrv) lines = NULL;

    if (account_out != NULL)
        *account_out = NULL;
    if (!g_file_get_contents (path, &text, NULL, &local)) {
        if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return NULL;
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MAILDIR, "cannot read '%s': %s", path,
                     local->message);
        return NULL;
    }
    lines = g_strsplit (text, "\n", 3);
    if (account_out != NULL && lines[0] != NULL && lines[1] != NULL &&
        g_str_has_prefix (lines[1], MARKER_ACCOUNT))
        *account_out = g_strdup (lines[1] + strlen (MARKER_ACCOUNT));
    g_strstrip (lines[0]);
    if (!g_str_has_prefix (lines[0], MARKER_PREFIX))
        return g_strdup ("(unreadable)");
    return g_strdup (lines[0] + strlen (MARKER_PREFIX));
}

/* Writes the marker durably: a temporary file, fsync, rename, fsync of the root. A crash
 * leaves either no marker (the next run writes it again: the state records no id until this
 * has succeeded) or the whole one. */
static gboolean
write_marker (const char *root, const char *id, const char *account, GError **error)
{
    g_autofree char *path = g_build_filename (root, MARKER_NAME, NULL);
    g_autofree char *tmp = g_strconcat (path, ".tmp", NULL);
    g_autofree char *text = g_strdup_printf (MARKER_PREFIX "%s\n" MARKER_ACCOUNT "%s\n", id,
                                             account);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    gboolean ok;

    if (fd < 0)
        return nms_fs_set_error (error, errno, "cannot write", tmp);
    ok = nms_fs_write_all (fd, text, strlen (text), tmp, error);
    if (ok && fsync (fd) != 0)
        ok = nms_fs_set_error (error, errno, "cannot sync", tmp);
    nms_fd_clear (&fd);
    if (ok)
        ok = nms_fs_rename_durable (tmp, path, error);
    if (!ok)
        unlink (tmp);
    return ok;
}

/* TRUE when @root holds the local directory of at least one folder the state knows: a root
 * that does is the Maildir the state was written for, not an empty mount point. */
static gboolean
holds_known_folder (Run *run, GError **error)
{
    g_autoptr (GPtrArray) names = nms_state_folder_names (run->state, error);

    if (names == NULL)
        return FALSE;
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *rel = nms_maildir_folder_to_path (g_ptr_array_index (names, i), '/',
                                                           run->account->layout, NULL);
        g_autofree char *cur = rel ? g_build_filename (run->account->maildir, rel, "cur", NULL)
                                   : NULL;

        if (cur != NULL && g_file_test (cur, G_FILE_TEST_IS_DIR))
            return TRUE;
    }
    return FALSE;
}

static gboolean
marker_matches (const char *root, const char *id)
{
    g_autofree char *marker = read_marker (root, NULL, NULL);

    return g_strcmp0 (marker, id) == 0;
}

static gboolean
refuse (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
refuse (GError **error, const char *format, ...)
{
    va_list ap;
    g_autofree char *text = NULL;

    va_start (ap, format);
    text = g_strdup_vprintf (format, ap);
    va_end (ap);
    g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MAILDIR, "%s; nothing was changed", text);
    return FALSE;
}

/* What a refusal says when the Maildir is the right one after all (restored, copied, another
 * tool's): nmsync starts over from a new state, pairing what the Maildir holds. */
static char *
start_over (const Run *run)
{
    return g_strdup_printf (" If this is the right Maildir and nmsync should start over with "
                            "it, move the state files '%s.*' out of '%s' and run 'nmsync adopt'",
                            run->account->name, run->config->state_dir);
}

/* Remembers that the binding is to be (re)written, by nms_sync_root_bind once the server has
 * answered: a run that cannot log in leaves the Maildir as it found it. */
static gboolean
bind (Run *run, const char *id, gboolean marker_missing, GError **error)
{
    (void) error;
    g_free (run->root_id);
    run->root_id = g_strdup (id);
    run->root_marker_missing = marker_missing;
    return TRUE;
}

gboolean
nms_sync_root_bind (Run *run, GError **error)
{
    const NmsAccount *a = run->account;

    if (run->root_id == NULL || run->ctx->dry_run)
        return TRUE;
    if (!nms_fs_mkdir_p (a->maildir, 0700, error) ||
        (run->root_marker_missing && !write_marker (a->maildir, run->root_id, a->name, error)))
        return FALSE;
    return nms_state_meta_set (run->state, KEY_ID, run->root_id, error) &&
           nms_state_meta_set (run->state, KEY_ROOT, a->maildir, error) &&
           nms_state_meta_set (run->state, KEY_LAYOUT, layout_name (a->layout), error);
}

/* The state's id is known: the marker must carry it, and the layout must be the same. */
static gboolean
check_bound (Run *run, const char *id, guint64 count, GError **error)
{
    const NmsAccount *a = run->account;
    g_autofree char *marker = NULL, *root = NULL, *layout = NULL;
    g_autofree char *hint = start_over (run);
    g_autoptr (GError) local = NULL;

    if ((marker = read_marker (a->maildir, NULL, &local)) == NULL && local != NULL) {
        g_propagate_error (error, g_steal_pointer (&local));
        return FALSE;
    }
    if (marker == NULL)
        return refuse (error,
                       "maildir '%s' is not the Maildir this account was synced with: its marker "
                       "file %s is missing, and the state remembers %" G_GUINT64_FORMAT
                       " messages there. Is its disk mounted? Does maildir = name the right "
                       "directory?%s",
                       a->maildir, MARKER_NAME, count, hint);
    if (strcmp (marker, id) != 0)
        return refuse (error,
                       "maildir '%s' belongs to another nmsync state (its marker %s says %s, this "
                       "account's state is %s): does maildir = name another account's "
                       "Maildir?%s",
                       a->maildir, MARKER_NAME, marker, id, hint);
    if (!nms_state_meta_get (run->state, KEY_LAYOUT, &layout, error) ||
        !nms_state_meta_get (run->state, KEY_ROOT, &root, error))
        return FALSE;
    if (layout != NULL && strcmp (layout, layout_name (a->layout)) != 0)
        return refuse (error,
                       "maildir '%s' was synced with layout = %s, and the config now says "
                       "layout = %s: nmsync does not convert a Maildir from one layout to the "
                       "other; set layout = %s again",
                       a->maildir, layout, layout_name (a->layout), layout);
    if (root != NULL && strcmp (root, a->maildir) != 0) {
        nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: the Maildir moved from '%s' to '%s'",
                         a->name, root, a->maildir);
        return bind (run, id, FALSE, error);
    }
    return TRUE;
}

gboolean
nms_sync_root_check (Run *run, GError **error)
{
    const NmsAccount *a = run->account;
    g_autofree char *id = NULL, *marker = NULL, *owner = NULL;
    g_autoptr (GError) local = NULL;
    guint64 count = 0;
    gboolean any = FALSE;

    /* A full count only where a message shows it: a run with nothing to do pays one probe. */
    if (!nms_state_meta_get (run->state, KEY_ID, &id, error) ||
        !nms_state_has_messages (run->state, &any, error))
        return FALSE;
    if (any && (!g_file_test (a->maildir, G_FILE_TEST_IS_DIR) || id == NULL ||
                !marker_matches (a->maildir, id)) &&
        !nms_state_message_count (run->state, &count, error))
        return FALSE;
    count = any ? MAX (count, 1) : 0;
    if (count > 0 && !g_file_test (a->maildir, G_FILE_TEST_IS_DIR))
        return refuse (error,
                       "maildir '%s' does not exist, but the state remembers %" G_GUINT64_FORMAT
                       " messages there. Is its disk mounted? If the Maildir moved, set "
                       "maildir = to its new place",
                       a->maildir, count);
    if (id != NULL && count > 0)
        return check_bound (run, id, count, error);
    /* No messages to lose (a new account, or one whose mail is all gone), or a state written
     * before the marker existed: bind it now, the latter only when the root holds what the
     * state knows (not an empty mount point). */
    if (count > 0 && !holds_known_folder (run, error)) {
        if (error != NULL && *error != NULL)
            return FALSE;
        g_autofree char *hint = start_over (run);

        return refuse (error,
                       "maildir '%s' holds none of the folders the state remembers (%"
                       G_GUINT64_FORMAT " messages). Is its disk mounted? Does maildir = name "
                       "the right directory?%s",
                       a->maildir, count, hint);
    }
    if ((marker = read_marker (a->maildir, &owner, &local)) == NULL && local != NULL) {
        g_propagate_error (error, g_steal_pointer (&local));
        return FALSE;
    }
    /* A new state meeting a marker: the same account's Maildir (its state was lost or
     * removed) is taken over; another account's is refused (a copied [account] section). */
    if (id == NULL && marker != NULL && owner != NULL && strcmp (owner, a->name) != 0)
        return refuse (error,
                       "maildir '%s' belongs to account '%s' (its marker %s says so): two "
                       "accounts cannot share one Maildir; give account '%s' a maildir = of "
                       "its own (or, if the account was renamed, rename its state files "
                       "'%s.*' in '%s' to '%s.*')",
                       a->maildir, owner, MARKER_NAME, a->name, owner,
                       run->config->state_dir, a->name);
    if (id != NULL && marker != NULL && strcmp (marker, id) != 0)
        return refuse (error,
                       "maildir '%s' belongs to another nmsync state (its marker %s says %s, this "
                       "account's state is %s): does maildir = name another account's Maildir?",
                       a->maildir, MARKER_NAME, marker, id);
    if (id == NULL)
        id = marker != NULL && strcmp (marker, "(unreadable)") != 0 ? g_strdup (marker)
                                                                     : g_uuid_string_random ();
    return bind (run, id, marker == NULL || strcmp (marker, id) != 0, error);
}

/* ---- folders ------------------------------------------------------------------------------ */

static char *
dir_key (const Folder *folder)
{
    return g_strconcat ("folder-dir:", folder->name, NULL);
}

/* A directory's identity: its inode number and, where the file system records it, its birth
 * time ("INO/SEC.NSEC"). The inode number alone is not enough: ext4 hands a freed inode to the
 * next directory created, so a folder deleted and created again can get its old number back.
 * NULL when the directory cannot be read. (transfer full) */
static char *
dir_identity (const char *dir)
{
    struct statx st;

    if (statx (AT_FDCWD, dir, 0, STATX_INO | STATX_BTIME, &st) != 0)
        return NULL;
    if (st.stx_mask & STATX_BTIME)
        return g_strdup_printf ("%" G_GUINT64_FORMAT "/%" G_GINT64_FORMAT ".%09u",
                                (guint64) st.stx_ino, (gint64) st.stx_btime.tv_sec,
                                st.stx_btime.tv_nsec);
    return g_strdup_printf ("%" G_GUINT64_FORMAT, (guint64) st.stx_ino);
}

/* A recorded identity (an older state recorded the inode number alone) against the current. */
static gboolean
same_identity (const char *recorded, const char *now)
{
    if (now == NULL)
        return FALSE;
    if (strchr (recorded, '/') == NULL || strchr (now, '/') == NULL)
        return g_ascii_strtoull (recorded, NULL, 10) == g_ascii_strtoull (now, NULL, 10);
    return strcmp (recorded, now) == 0;
}

gboolean
nms_sync_root_record_folder (Run *run, const Folder *folder, GError **error)
{
    g_autofree char *key = dir_key (folder), *value = NULL, *now = dir_identity (folder->dir);

    if (run->ctx->dry_run || now == NULL)
        return TRUE;
    if (!nms_state_meta_get (run->state, key, &value, error))
        return FALSE;
    return g_strcmp0 (value, now) == 0 || nms_state_meta_set (run->state, key, now, error);
}

/* How many messages the state remembers in @folder. */
static guint
remembered (Run *run, const Folder *folder)
{
    g_autoptr (GArray) saved = nms_state_messages (run->state, folder->name, NULL);

    return saved != NULL ? saved->len : 0;
}

/* The local directory of @folder, known to the state, is gone (or lost cur/). */
static void
report_gone (Run *run, const Folder *folder, guint n)
{
    nms_context_skip (run->ctx,
                      "%s: folder '%s' skipped: its local directory '%s' is gone (or has no "
                      "cur/), but the state remembers %u messages in it; nothing is deleted on "
                      "the server. To download it again, create the directory (mkdir -p "
                      "'%s'/cur '%s'/new '%s'/tmp); to delete the folder, delete it on the "
                      "server too",
                      run->account->name, folder->name, folder->dir, n, folder->dir, folder->dir,
                      folder->dir);
}

void
nms_sync_root_check_folders (Run *run, GPtrArray *folders)
{
    for (guint i = folders->len; i-- > 0;) {
        Folder *folder = g_ptr_array_index (folders, i);
        g_autofree char *key = dir_key (folder), *value = NULL, *now = NULL;
        g_autoptr (GError) error = NULL;
        guint n;

        if (!folder->local) {
            if ((n = remembered (run, folder)) > 0) {
                report_gone (run, folder, n);
                g_ptr_array_remove_index (folders, i);
            }
            continue;
        }
        if (!nms_state_meta_get (run->state, key, &value, &error)) {
            nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s", run->account->name,
                             error->message);
            continue;
        }
        if (value == NULL) {
            /* First seen (or a state from before directories were recorded): this one is it. */
            if (!nms_sync_root_record_folder (run, folder, &error))
                nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s", run->account->name,
                                 error->message);
            continue;
        }
        now = dir_identity (folder->dir);
        if (same_identity (value, now) || (n = remembered (run, folder)) == 0)
            continue;
        folder->replaced = TRUE;
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: folder '%s': the directory '%s' is not the one last synced (it was "
                         "replaced); files missing from it are downloaded again, not deleted on "
                         "the server", run->account->name, folder->name, folder->dir);
    }
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync status`: what an account's state says, read from a private copy (no lock, no
 * network), and what a sync records for it: the time of the last success (the mtime of a
 * file beside the state) and the last failure (two meta keys). */
#include "nms-build.h"

#include "check/check.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"

#include "state/state.h"

static void
status_folder_free (NmsStatusFolder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    g_free (folder);
}

void
nms_status_free (NmsStatus *status)
{
    if (status == NULL)
        return;
    g_free (status->account);
    g_free (status->last_sync);
    g_free (status->last_error);
    g_free (status->last_error_at);
    if (status->folders != NULL)
        g_ptr_array_unref (status->folders);
    g_free (status);
}

static NmsStatusFolder *
read_folder (NmsState *state, const char *name, GError **error)
{
    NmsStatusFolder *folder = g_new0 (NmsStatusFolder, 1);
    g_autoptr (GArray) intents = NULL;

    folder->name = g_strdup (name);
    if (!nms_state_folder_message_count (state, name, &folder->messages, error) ||
        (intents = nms_state_intents (state, name, error)) == NULL) {
        status_folder_free (folder);
        return NULL;
    }
    folder->intents = intents->len;
    return folder;
}

/* <state dir>/<account>.synced, whose mtime is the time of the last successful sync. A file's
 * mtime rather than a meta row: a sync with nothing to do then writes nothing durable. The row
 * cost an SQLite open, a WAL, four fdatasync and a checkpoint on every run, as much as the
 * rest of a no-change sync (issue 15); losing the time in a power cut loses nothing else.
 * (transfer full) */
static char *
synced_path (const char *state_dir, const char *account)
{
    g_autofree char *name = g_strconcat (account, ".synced", NULL);

    return g_build_filename (state_dir, name, NULL);
}

/* The later of @from_meta (the meta key an older nmsync wrote, or NULL; taken over) and the
 * .synced file's mtime, as ISO 8601 UTC, or NULL when neither is there. (transfer full) */
static char *
last_sync (const char *state_dir, const char *account, char *from_meta)
{
    g_autofree char *path = synced_path (state_dir, account);
    g_autofree char *meta = from_meta;
    g_autoptr (GDateTime) when = NULL;
    g_autofree char *from_file = NULL;
    struct stat st;

    if (stat (path, &st) != 0 || (when = g_date_time_new_from_unix_utc (st.st_mtime)) == NULL)
        return g_steal_pointer (&meta);
    from_file = g_date_time_format (when, "%Y-%m-%dT%H:%M:%SZ");
    if (meta != NULL && g_strcmp0 (meta, from_file) > 0)
        return g_steal_pointer (&meta);
    return g_steal_pointer (&from_file);
}

NmsStatus *
nms_status_read (const char *state_dir, const NmsAccount *account, GError **error)
{
    g_autoptr (NmsStatus) status = g_new0 (NmsStatus, 1);
    g_autofree char *path = nms_state_path (state_dir, account->name);
    g_autoptr (NmsState) state = NULL;
    g_autoptr (GPtrArray) names = NULL;

    status->account = g_strdup (account->name);
    status->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) status_folder_free);
    if (!g_file_test (path, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&status);
    status->exists = TRUE;
    if ((state = nms_state_open_copy (state_dir, account->name, error)) == NULL ||
        !nms_state_meta_get (state, NMS_STATUS_KEY_LAST_SYNC, &status->last_sync, error) ||
        !nms_state_meta_get (state, NMS_STATUS_KEY_LAST_ERROR, &status->last_error, error) ||
        !nms_state_meta_get (state, NMS_STATUS_KEY_LAST_ERROR_AT, &status->last_error_at,
                             error) ||
        (names = nms_state_folder_names (state, error)) == NULL)
        return NULL;
    status->last_sync = last_sync (state_dir, account->name, status->last_sync);
    for (guint i = 0; i < names->len; i++) {
        NmsStatusFolder *folder = read_folder (state, g_ptr_array_index (names, i), error);

        if (folder == NULL)
            return NULL;
        g_ptr_array_add (status->folders, folder);
    }
    return g_steal_pointer (&status);
}

/* The time now as ISO 8601 UTC, seconds. (transfer full) */
static char *
now_iso (void)
{
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();

    return g_date_time_format (now, "%Y-%m-%dT%H:%M:%SZ");
}

/* Sets the mtime of @account's .synced file to now, creating it (0600) when missing. */
static gboolean
record_success (const char *state_dir, const char *account, GError **error)
{
    g_autofree char *path = synced_path (state_dir, account);
    int fd = open (path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    int saved;

    if (fd < 0 || futimens (fd, NULL) != 0) {
        saved = errno;
        nms_fd_clear (&fd);
        g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved),
                     "cannot record the time of this sync in '%s': %s", path,
                     g_strerror (saved));
        return FALSE;
    }
    nms_fd_clear (&fd);
    return TRUE;
}

gboolean
nms_status_record (const char *state_dir, const NmsAccount *account, const char *failure,
                   GError **error)
{
    g_autoptr (NmsState) state = NULL;
    g_autofree char *now = NULL;
    g_autofree char *line = NULL;

    if (failure == NULL)
        return record_success (state_dir, account->name, error);
    if ((state = nms_state_open (state_dir, account->name, error)) == NULL)
        return FALSE;
    now = now_iso ();
    /* One line: a multi-line server text would break status's table. */
    line = g_strdup (failure);
    g_strdelimit (line, "\r\n", ' ');
    return nms_state_begin (state, error) &&
           nms_state_meta_set (state, NMS_STATUS_KEY_LAST_ERROR, line, error) &&
           nms_state_meta_set (state, NMS_STATUS_KEY_LAST_ERROR_AT, now, error) &&
           nms_state_commit (state, error);
}

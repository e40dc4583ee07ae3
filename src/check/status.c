/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync status`: what an account's state says, read from a private copy (no lock, no
 * network), and the two meta keys a sync writes for it: the last success and the last
 * failure. */
#include "nms-build.h"

#include "check/check.h"

#include <string.h>

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

gboolean
nms_status_record (const char *state_dir, const NmsAccount *account, const char *failure,
                   GError **error)
{
    g_autoptr (NmsState) state = nms_state_open (state_dir, account->name, error);
    g_autofree char *now = now_iso ();
    g_autofree char *line = NULL;

    if (state == NULL)
        return FALSE;
    if (failure == NULL)
        return nms_state_meta_set (state, NMS_STATUS_KEY_LAST_SYNC, now, error);
    /* One line: a multi-line server text would break status's table. */
    line = g_strdup (failure);
    g_strdelimit (line, "\r\n", ' ');
    return nms_state_begin (state, error) &&
           nms_state_meta_set (state, NMS_STATUS_KEY_LAST_ERROR, line, error) &&
           nms_state_meta_set (state, NMS_STATUS_KEY_LAST_ERROR_AT, now, error) &&
           nms_state_commit (state, error);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync check --fix`: the plan of safe repairs, made from a report without any I/O, and
 * their execution one at a time. No repair removes a message file with content: a misfiled
 * message is refiled (unless modified in the last hour or a byte copy of one in cur/ or
 * new/), an empty tmp/ leftover removed, a ",U=" the state does not pair dropped (the
 * message stays; the next sync pairs it by content or uploads it), a stale notmuch name
 * pointed at the file that now has the message. */
#include "nms-build.h"

#include "check/check.h"

#include <string.h>

#include "maildir/maildir.h"

void
nms_check_fix_free (NmsCheckFix *fix)
{
    if (fix == NULL)
        return;
    g_free (fix->folder);
    g_free (fix->path);
    g_free (fix->target);
    g_free (fix);
}

const char *
nms_check_fix_name (NmsCheckFixKind kind)
{
    static const char *const names[] = {
        [NMS_CHECK_FIX_REFILE] = "refile",
        [NMS_CHECK_FIX_REMOVE_TMP] = "remove",
        [NMS_CHECK_FIX_DROP_UID] = "drop-uid",
        [NMS_CHECK_FIX_NOTMUCH_RENAME] = "notmuch-rename",
    };
    return names[kind];
}

static void
fix_add (GPtrArray *plan, NmsCheckFixKind kind, const NmsCheckIssue *issue, const char *target)
{
    NmsCheckFix *fix = g_new0 (NmsCheckFix, 1);

    fix->kind = kind;
    fix->folder = g_strdup (issue->folder);
    fix->path = g_strdup (issue->object);
    fix->target = g_strdup (target);
    g_ptr_array_add (plan, fix);
}

/* The file of @folder that the state pairs with @uid, among the DUPLICATE_UID issues. */
static const NmsCheckIssue *
paired_sibling (const NmsCheckReport *report, const NmsCheckIssue *issue)
{
    for (guint i = 0; i < report->issues->len; i++) {
        const NmsCheckIssue *other = g_ptr_array_index (report->issues, i);

        if (other->kind == NMS_CHECK_DUPLICATE_UID && other->paired &&
            other->uid == issue->uid && strcmp (other->folder, issue->folder) == 0)
            return other;
    }
    return NULL;
}

/* A duplicate loses its ",U=" only when another file is the state's, and is a different
 * message: a byte copy of the paired one would be uploaded as a second copy by the next sync
 * (the server message is paired already), so it is left for the user. */
static gboolean
drop_uid_is_safe (const NmsCheckReport *report, const NmsCheckIssue *issue)
{
    const NmsCheckIssue *paired;

    if (issue->paired || (paired = paired_sibling (report, issue)) == NULL)
        return FALSE;
    return issue->message_id != NULL && g_strcmp0 (issue->message_id, paired->message_id) != 0;
}

GPtrArray *
nms_check_plan (const NmsCheckReport *report)
{
    GPtrArray *plan = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_check_fix_free);

    for (guint i = 0; i < report->issues->len; i++) {
        const NmsCheckIssue *issue = g_ptr_array_index (report->issues, i);

        switch (issue->kind) {
        case NMS_CHECK_MISFILED:
            /* A recent file may still be being written, a copy would be uploaded twice. */
            if (issue->target != NULL && issue->note == NULL)
                fix_add (plan, NMS_CHECK_FIX_REFILE, issue, issue->target);
            break;
        case NMS_CHECK_TMP_OLD:
            if (issue->empty)
                fix_add (plan, NMS_CHECK_FIX_REMOVE_TMP, issue, NULL);
            break;
        case NMS_CHECK_DUPLICATE_UID:
            if (drop_uid_is_safe (report, issue))
                fix_add (plan, NMS_CHECK_FIX_DROP_UID, issue, NULL);
            break;
        case NMS_CHECK_NOTMUCH_STALE:
            if (issue->target != NULL)
                fix_add (plan, NMS_CHECK_FIX_NOTMUCH_RENAME, issue, issue->target);
            break;
        default:
            break;
        }
    }
    return plan;
}

/* Tells @db that the file @from is now @to, as a sync's rename would (tags kept). */
static gboolean
tell_notmuch (NmsDb *db, const char *from, const char *to, GError **error)
{
    NmsFileEvent event = { .kind = NMS_FILE_RENAMED, .path = (char *) to,
                           .old_path = (char *) from };

    if (db == NULL)
        return TRUE;
    return nms_db_apply_events (db, &event, 1, 1, NULL, error);
}

/* Each repair is one durable rename or removal first, then the notmuch update: a crash in
 * between leaves notmuch naming the old path, a stale name the next check repairs (the file
 * is found by its unique part). */
gboolean
nms_check_fix_run (NmsCheckFix *fix, NmsDb *db, GError **error)
{
    switch (fix->kind) {
    case NMS_CHECK_FIX_REFILE:
        return nms_maildir_refile (fix->path, fix->target, error) &&
               tell_notmuch (db, fix->path, fix->target, error);
    case NMS_CHECK_FIX_REMOVE_TMP:
        return nms_maildir_remove (fix->path, error);
    case NMS_CHECK_FIX_DROP_UID:
        g_free (fix->target);
        return (fix->target = nms_maildir_set_uid (fix->path, 0, error)) != NULL &&
               tell_notmuch (db, fix->path, fix->target, error);
    case NMS_CHECK_FIX_NOTMUCH_RENAME:
        return tell_notmuch (db, fix->path, fix->target, error);
    }
    g_return_val_if_reached (FALSE);
}

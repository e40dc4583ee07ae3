/* SPDX-License-Identifier: GPL-3.0-or-later
 * Guards hold: a folder whose deletions the per-folder guard held back keeps them held on later
 * runs (until they are undone, or --force), so that new mail arriving cannot make them pass by
 * itself. (The account guard needs no memory: its lower bound finds the same deletions again,
 * and a user who raises max-deletions lets them through.)
 * The account-wide deletion guard. The per-folder guard (plan.c) cannot see many small folders
 * emptied at once (each under its 10 messages), so a run also keeps one budget per side for
 * the whole account: MAX (max-deletions, max-deletions-percent % of the messages the state
 * knows). Before any folder is synced, a lower bound of each side's deletions is taken from
 * what is already known (the server's STATUS count, the number of files in cur/ and new/ of
 * folders whose directories changed): when it passes the limit, no deletion of that side is
 * done in this run, in any folder, so an emptied Maildir or server costs nothing, run after
 * run, until --force. Deletions the bound could not see are counted as folders are planned: a
 * folder whose deletions would overrun the budget keeps all of them for the next run. */
#include "nms-build.h"

#include "sync/sync-private.h"

struct _NmsSyncBudget {
    GMutex lock;
    gboolean known;   /* limit computed (from the first folder that wants to delete) */
    guint64 limit;
    guint64 total;    /* messages the state knew when the limit was computed */
    guint64 used[2];  /* [0] local, [1] server */
    guint64 estimate[2]; /* lower bound of the run's deletions per side, before it starts */
    gboolean refused[2]; /* the estimate alone passes the limit: no deletion on that side */
};

NmsSyncBudget *
nms_sync_budget_new (void)
{
    NmsSyncBudget *b = g_new0 (NmsSyncBudget, 1);

    g_mutex_init (&b->lock);
    return b;
}

void
nms_sync_budget_free (NmsSyncBudget *budget)
{
    if (budget == NULL)
        return;
    g_mutex_clear (&budget->lock);
    g_free (budget);
}

static void
compute_limit (Run *run, NmsSyncBudget *b)
{
    const NmsAccount *a = run->account;
    g_autoptr (GError) error = NULL;

    if (b->known)
        return;
    if (!nms_state_message_count (run->state, &b->total, &error))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s", a->name, error->message);
    b->limit = MAX ((guint64) a->max_deletions, b->total * a->max_deletions_percent / 100);
    b->known = TRUE;
}

/* Message files in @folder's cur/ and new/, from its scan, which the folder keeps (->prescan)
 * for the move search and its own sync: a changed folder's directories are read once a run.
 * 0 when they cannot be read. */
static guint64
count_files (Folder *folder)
{
    if (folder->prescan == NULL)
        folder->prescan = nms_maildir_scan (folder->dir, NULL);
    return folder->prescan != NULL ? folder->prescan->len : 0;
}

void
nms_sync_guard_estimate (Run *run, GPtrArray *folders)
{
    NmsSyncBudget *b = run->budget;

    if (run->policy.force)
        return;
    guint64 arrivals = 0; /* new server messages: each may be one moved from another folder */

    for (guint i = 0; i < folders->len; i++) {
        Folder *folder = g_ptr_array_index (folders, i);
        guint64 known = 0, files;
        NmsStateFolder saved;
        gboolean found = FALSE;

        /* a folder unchanged on both sides has neither arrivals nor deletions: no query */
        if (folder->clean)
            continue;
        if (folder->has_status && nms_state_folder_get (run->state, folder->name, &saved, &found,
                                                        NULL) &&
            found && saved.uidvalidity == folder->uidvalidity && folder->uidnext > saved.uidnext)
            arrivals += folder->uidnext - saved.uidnext;
        if (folder->replaced ||
            !nms_state_folder_message_count (run->state, folder->name, &known, NULL) ||
            known == 0)
            continue;
        if ((run->policy.direction & NMS_PLAN_PULL) && run->policy.delete_local &&
            folder->has_status && known > folder->messages)
            b->estimate[0] += known - folder->messages;
        if ((run->policy.direction & NMS_PLAN_PUSH) && run->policy.delete_server &&
            folder->local && folder->local_changed && known > (files = count_files (folder)))
            b->estimate[1] += known - files;
    }
    /* Messages another client moved between folders look expunged here and new there; they
     * are no deletions (server-moves.c), so what may be one does not count. */
    if (run->later != NULL)
        b->estimate[0] = b->estimate[0] > arrivals ? b->estimate[0] - arrivals : 0;
    if (b->estimate[0] == 0 && b->estimate[1] == 0)
        return;
    compute_limit (run, b);
    for (int side = 0; side < 2; side++)
        b->refused[side] = b->estimate[side] > b->limit;
}

static guint
count_kind (GArray *plan, NmsActionKind kind)
{
    guint n = 0;

    for (guint i = 0; i < plan->len; i++)
        n += g_array_index (plan, NmsAction, i).kind == kind;
    return n;
}

/* Takes @n from side @server of the budget; FALSE, taking nothing, when that would overrun it.
 * On FALSE, *@limit_out and *@total_out say why. */
static gboolean
take (Run *run, int server, guint n, guint64 *limit_out, guint64 *total_out)
{
    NmsSyncBudget *b = run->budget;
    gboolean ok;

    g_mutex_lock (&b->lock);
    compute_limit (run, b);
    ok = !b->refused[server] && b->used[server] + n <= b->limit;
    if (ok)
        b->used[server] += n;
    *limit_out = b->limit;
    *total_out = b->total;
    g_mutex_unlock (&b->lock);
    return ok;
}

static const NmsActionKind kinds[2] = { NMS_ACTION_DELETE_LOCAL, NMS_ACTION_DELETE_SERVER };
static const char *const where[2] = { "locally", "on the server" };
static const char *const side_keys[2] = { "local", "server" };

static char *
held_key (const char *folder, int side)
{
    return g_strdup_printf ("guard-held:%s:%s", side_keys[side], folder);
}

/* Remembers (or forgets) that a guard holds back @folder's deletions on @side. */
static void
set_held (Run *run, const char *folder, int side, gboolean held)
{
    g_autofree char *key = held_key (folder, side), *value = NULL;
    g_autoptr (GError) error = NULL;

    if (run->ctx->dry_run || !nms_state_meta_get (run->state, key, &value, &error) ||
        (value != NULL) == held)
        return;
    if (held ? !nms_state_meta_set (run->state, key, "1", &error)
             : !nms_state_meta_delete (run->state, key, &error))
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s", run->account->name,
                         error->message);
}

static void
report_account (Run *run, const char *folder, int side, guint n, guint64 limit, guint64 total)
{
    if (run->budget->refused[side])
        nms_context_skip (run->ctx,
                          "%s: folder '%s': not deleting %u messages %s: this run would delete "
                          "at least %" G_GUINT64_FORMAT " messages %s in all, more than "
                          "max-deletions (%" G_GUINT64_FORMAT " of the account's %"
                          G_GUINT64_FORMAT " messages); run with --force if that is intended",
                          run->account->name, folder, n, where[side],
                          run->budget->estimate[side], where[side], limit, total);
    else
        nms_context_skip (run->ctx,
                          "%s: folder '%s': not deleting %u messages %s: with them this run "
                          "would delete more than max-deletions (%" G_GUINT64_FORMAT " of the "
                          "account's %" G_GUINT64_FORMAT " messages); run with --force if that "
                          "is intended",
                          run->account->name, folder, n, where[side], limit, total);
}

/* Whether @n deletions of @folder on @side must wait (each refusal said), after the
 * per-folder guard (@tripped: it held them back this run and said so). A folder once held
 * stays held (until a run plans no deletion there, or --force): without that, new mail
 * arriving would soon make the same deletions look like less than half of the folder, and the
 * guard would give way by itself. Then the account's budget. */
static gboolean
hold_side (Run *run, const char *folder, int side, guint n, gboolean tripped)
{
    g_autofree char *key = held_key (folder, side), *value = NULL;
    guint64 limit, total;

    if (run->policy.force) {
        set_held (run, folder, side, FALSE);
        return FALSE;
    }
    if (tripped) {
        set_held (run, folder, side, TRUE);
        return TRUE;
    }
    if (nms_state_meta_get (run->state, key, &value, NULL) && value != NULL) {
        if (n == 0) {
            set_held (run, folder, side, FALSE); /* the user undid them */
            return FALSE;
        }
        nms_context_skip (run->ctx,
                          "%s: folder '%s': not deleting %u messages %s: a guard held deletions "
                          "in this folder back on an earlier run; run with --force if that is "
                          "intended", run->account->name, folder, n, where[side]);
        return TRUE;
    }
    if (n == 0 || run->budget == NULL || take (run, side, n, &limit, &total))
        return FALSE;
    report_account (run, folder, side, n, limit, total);
    return TRUE;
}

void
nms_sync_guard_plan (Run *run, const Folder *folder, GArray *plan, const NmsPlanSummary *sum)
{
    const gboolean tripped[2] = { sum->guard_local, sum->guard_server };

    for (int side = 0; side < 2; side++) {
        guint n = count_kind (plan, kinds[side]);

        /* Local deletions wait for the end of the run (server-moves.c) and are decided there;
         * a folder that plans none releases its hold here. */
        if (side == 0 && run->later != NULL && n > 0)
            continue;
        if (hold_side (run, folder->name, side, n, tripped[side]))
            nms_plan_drop_kind (plan, kinds[side]);
    }
}

gboolean
nms_sync_guard_later (Run *run, const char *folder, guint n, gboolean tripped)
{
    return hold_side (run, folder, 0, n, tripped);
}

void
nms_sync_guard_report_local (Run *run, const char *folder, guint n, guint known)
{
    nms_context_skip (run->ctx,
                      "%s: folder '%s': the server removed %u of %u messages; not deleting them "
                      "locally (run with --force if that is intended)",
                      run->account->name, folder, n, known);
}

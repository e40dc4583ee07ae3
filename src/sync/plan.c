/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pull planning: a merge join of the three uid-sorted snapshots of one folder. */
#include "config.h"

#include "sync/plan.h"

#include <ctype.h>
#include <string.h>

#define GUARD_MIN_DELETIONS 10

static gboolean
has (const char *flags, char c)
{
    return strchr (flags, c) != NULL;
}

void
nms_plan_merge_flags (const char *local, const char *state, const char *server, char *out)
{
    int n = 0;

    /* Letters are ASCII; walk the alphabet so the result comes out sorted. */
    for (int c = 'A'; c <= 'z' && n < 7; c++) {
        gboolean keep = has (local, (char) c);

        if (!isalpha (c))
            continue;
        if (has (server, (char) c) && !has (state, (char) c))
            keep = TRUE;
        if (!has (server, (char) c) && has (state, (char) c))
            keep = FALSE;
        if (keep)
            out[n++] = (char) c;
    }
    out[n] = '\0';
}

static NmsPullAction
action (NmsPullActionKind kind, guint32 uid, const char *server_flags, int local_index)
{
    NmsPullAction a = { .kind = kind, .uid = uid, .local_index = local_index };

    if (server_flags != NULL)
        g_strlcpy (a.server_flags, server_flags, sizeof a.server_flags);
    return a;
}

/* One UID present on the server. */
static void
plan_on_server (GArray *out, GArray *downloads, const NmsPlanMessage *srv,
                const NmsPlanMessage *st, const NmsPlanMessage *loc, int local_index)
{
    NmsPullAction a;

    if (st == NULL && loc == NULL) {
        a = action (NMS_PULL_ACTION_DOWNLOAD, srv->uid, srv->flags, -1);
        g_array_append_val (downloads, a);
        return;
    }
    if (st == NULL) {
        /* The file landed but its state commit was lost: take the file's flags as the
         * agreed ones (we wrote them), then apply what the server changed since. */
        a = action (NMS_PULL_ACTION_ADOPT, srv->uid, srv->flags, local_index);
        nms_plan_merge_flags (loc->flags, loc->flags, srv->flags, a.local_flags);
        g_array_append_val (out, a);
        return;
    }
    if (loc == NULL) {
        /* Deleted locally since the last sync: pushing that deletion is push's job; a pull
         * must not bring the message back. */
        return;
    }
    if (strcmp (st->flags, srv->flags) == 0)
        return;
    a = action (NMS_PULL_ACTION_SET_FLAGS, srv->uid, srv->flags, local_index);
    nms_plan_merge_flags (loc->flags, st->flags, srv->flags, a.local_flags);
    if (strcmp (a.local_flags, loc->flags) == 0)
        a.kind = NMS_PULL_ACTION_RECORD;
    g_array_append_val (out, a);
}

GArray *
nms_plan_pull (const NmsPlanMessage *server, gsize n_server, const NmsPlanMessage *state,
               gsize n_state, const NmsPlanMessage *local, gsize n_local, gboolean force,
               NmsPullPlanSummary *summary_out)
{
    GArray *out = g_array_new (FALSE, TRUE, sizeof (NmsPullAction));
    g_autoptr (GArray) downloads = g_array_new (FALSE, TRUE, sizeof (NmsPullAction));
    gsize i = 0, j = 0, k = 0;
    NmsPullPlanSummary sum = { .known = (guint) n_state };

    while (i < n_server || j < n_state || k < n_local) {
        guint32 uid = G_MAXUINT32;
        const NmsPlanMessage *srv = NULL, *st = NULL, *loc = NULL;
        int local_index = -1;

        if (i < n_server)
            uid = MIN (uid, server[i].uid);
        if (j < n_state)
            uid = MIN (uid, state[j].uid);
        if (k < n_local)
            uid = MIN (uid, local[k].uid);
        if (i < n_server && server[i].uid == uid)
            srv = &server[i++];
        if (j < n_state && state[j].uid == uid)
            st = &state[j++];
        if (k < n_local && local[k].uid == uid) {
            local_index = (int) k;
            loc = &local[k++];
        }

        if (srv != NULL) {
            plan_on_server (out, downloads, srv, st, loc, local_index);
        } else if (st != NULL) {
            NmsPullAction a = action (loc != NULL ? NMS_PULL_ACTION_DELETE_LOCAL
                                                  : NMS_PULL_ACTION_FORGET,
                                      uid, NULL, local_index);
            sum.deletions += loc != NULL;
            g_array_append_val (out, a);
        }
        /* A local file whose UID neither the server nor the state knows is left alone: it
         * belongs to no message we synced (another tool's, or an older UIDVALIDITY's). */
    }

    if (!force && sum.deletions >= GUARD_MIN_DELETIONS && sum.deletions * 2 > sum.known) {
        sum.guard_tripped = TRUE;
        for (guint a = out->len; a-- > 0;) {
            if (g_array_index (out, NmsPullAction, a).kind == NMS_PULL_ACTION_DELETE_LOCAL)
                g_array_remove_index (out, a);
        }
    }
    sum.downloads = downloads->len;
    g_array_append_vals (out, downloads->data, downloads->len);
    if (summary_out != NULL)
        *summary_out = sum;
    return out;
}

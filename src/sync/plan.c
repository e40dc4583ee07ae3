/* SPDX-License-Identifier: GPL-3.0-or-later
 * Folder planning: a merge join of the three uid-sorted snapshots of one folder.
 *
 * Flags merge per letter against the agreed state: a side that changed a letter since the
 * last sync wins. For one letter "both sides changed it differently" cannot happen (both moved
 * away from the same value, so they agree), which is why the merge is symmetric and "local
 * wins" needs no special case. What a direction does with the merged flags T:
 *   sync: local -> T, server -> T, state -> T
 *   pull: local -> T, server untouched, state -> server (local changes stay pending for push)
 *   push: server -> T, local untouched, state -> local (server changes stay pending for pull) */
#include "nms-build.h"

#include "sync/plan.h"

#include <string.h>

#define GUARD_MIN_DELETIONS 10

static gboolean
has (const char *flags, char c)
{
    return strchr (flags, c) != NULL;
}

void
nms_plan_merge_flags (const char *other, const char *base, const char *changed, char *out)
{
    int n = 0;

    /* Letters are ASCII; walking the alphabet keeps the result sorted. */
    for (int c = 'A'; c <= 'z' && n < NMS_MAILDIR_FLAGS_SIZE - 1; c++) {
        gboolean keep;

        if (c > 'Z' && c < 'a')
            continue;
        keep = has (changed, (char) c) != has (base, (char) c) ? has (changed, (char) c)
                                                                : has (other, (char) c);
        if (keep)
            out[n++] = (char) c;
    }
    out[n] = '\0';
}

/* Letters in @a that are not in @b. */
static void
difference (const char *a, const char *b, char *out)
{
    int n = 0;

    for (; *a != '\0' && n < NMS_MAILDIR_FLAGS_SIZE - 1; a++) {
        if (!has (b, *a))
            out[n++] = *a;
    }
    out[n] = '\0';
}

static NmsAction
action (NmsActionKind kind, guint32 uid, int local_index)
{
    NmsAction a = { .kind = kind, .uid = uid, .local_index = local_index };
    return a;
}

/* A message on both sides (@st NULL: the state lost it, adopt it as agreed at the local
 * flags, which nmsync itself wrote). Appends an UPDATE/ADOPT when anything changes. */
static void
plan_flags (GArray *out, const NmsPlanMessage *srv, const NmsPlanMessage *st,
            const NmsPlanMessage *loc, int local_index, NmsPlanDirection direction)
{
    const char *agreed = st != NULL ? st->flags : loc->flags;
    NmsAction a = action (st != NULL ? NMS_ACTION_UPDATE : NMS_ACTION_ADOPT, srv->uid,
                          local_index);
    char merged[NMS_MAILDIR_FLAGS_SIZE];

    nms_plan_merge_flags (loc->flags, agreed, srv->flags, merged);
    g_strlcpy (a.local_flags, (direction & NMS_PLAN_PULL) ? merged : loc->flags,
               sizeof a.local_flags);
    if (direction & NMS_PLAN_PUSH) {
        difference (merged, srv->flags, a.add);
        difference (srv->flags, merged, a.remove);
    }
    switch (direction) {
    case NMS_PLAN_SYNC:
        g_strlcpy (a.state_flags, merged, sizeof a.state_flags);
        break;
    case NMS_PLAN_PULL:
        g_strlcpy (a.state_flags, srv->flags, sizeof a.state_flags);
        break;
    case NMS_PLAN_PUSH:
        g_strlcpy (a.state_flags, loc->flags, sizeof a.state_flags);
        break;
    }
    if (a.kind == NMS_ACTION_ADOPT || strcmp (a.local_flags, loc->flags) != 0 ||
        a.add[0] != '\0' || a.remove[0] != '\0' || strcmp (a.state_flags, st->flags) != 0)
        g_array_append_val (out, a);
}

typedef struct {
    GArray *out;       /* flag and deletion actions */
    GArray *uploads;
    GArray *downloads;
    const NmsPlanPolicy *policy;
    NmsPlanSummary sum;
} Planner;

/* One UID, as the three snapshots see it (any of them may be NULL, not all). */
static void
plan_uid (Planner *p, guint32 uid, const NmsPlanMessage *srv, const NmsPlanMessage *st,
          const NmsPlanMessage *loc, int local_index)
{
    NmsPlanDirection dir = p->policy->direction;
    NmsAction a;

    if (srv != NULL && loc != NULL) {
        plan_flags (p->out, srv, st, loc, local_index, dir);
    } else if (srv != NULL && st != NULL) {
        /* Deleted locally since the last sync. Without permission to delete on the server the
         * state keeps it, so a pull does not bring it back either. */
        if ((dir & NMS_PLAN_PUSH) && p->policy->delete_server) {
            a = action (NMS_ACTION_DELETE_SERVER, uid, -1);
            p->sum.deletions_server++;
            g_array_append_val (p->out, a);
        }
    } else if (srv != NULL) {
        /* Marked \Deleted and never seen: a message the user deleted (or moved, on a server
         * without UIDPLUS: the original stays marked) and an EXPUNGE has not removed yet. */
        if ((dir & NMS_PLAN_PULL) && !has (srv->flags, 'T')) {
            a = action (NMS_ACTION_DOWNLOAD, uid, -1);
            g_strlcpy (a.state_flags, srv->flags, sizeof a.state_flags);
            g_strlcpy (a.local_flags, srv->flags, sizeof a.local_flags);
            g_array_append_val (p->downloads, a);
        }
    } else if (st != NULL && loc != NULL) {
        if ((dir & NMS_PLAN_PULL) && p->policy->delete_local) {
            a = action (NMS_ACTION_DELETE_LOCAL, uid, local_index);
            p->sum.deletions_local++;
            g_array_append_val (p->out, a);
        }
    } else if (st != NULL) {
        a = action (NMS_ACTION_FORGET, uid, -1);
        g_array_append_val (p->out, a);
    } else if (dir & NMS_PLAN_PUSH) {
        /* A file whose UID neither side knows (another tool's, an older UIDVALIDITY's): its
         * only copy may be this one, so upload it rather than ignore or delete it. */
        a = action (NMS_ACTION_UPLOAD, uid, local_index);
        g_strlcpy (a.local_flags, loc->flags, sizeof a.local_flags);
        g_array_append_val (p->uploads, a);
    }
}

void
nms_plan_drop_kind (GArray *actions, NmsActionKind kind)
{
    for (guint i = actions->len; i-- > 0;) {
        if (g_array_index (actions, NmsAction, i).kind == kind)
            g_array_remove_index (actions, i);
    }
}

gboolean
nms_plan_too_many (guint deletions, guint known)
{
    return deletions >= GUARD_MIN_DELETIONS && deletions * 2 > known;
}

GArray *
nms_plan_folder (const NmsPlanMessage *server, gsize n_server, const NmsPlanMessage *state,
                 gsize n_state, const NmsPlanMessage *local, gsize n_local,
                 const NmsPlanPolicy *policy, NmsPlanSummary *summary_out)
{
    Planner p = {
        .out = g_array_new (FALSE, TRUE, sizeof (NmsAction)),
        .uploads = g_array_new (FALSE, TRUE, sizeof (NmsAction)),
        .downloads = g_array_new (FALSE, TRUE, sizeof (NmsAction)),
        .policy = policy,
        .sum = { .known = (guint) n_state },
    };
    gsize i = 0, j = 0, k = 0;

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
        plan_uid (&p, uid, srv, st, loc, local_index);
    }

    if (!policy->force && !policy->local_guard_later &&
        nms_plan_too_many (p.sum.deletions_local, p.sum.known)) {
        p.sum.guard_local = TRUE;
        nms_plan_drop_kind (p.out, NMS_ACTION_DELETE_LOCAL);
    }
    if (!policy->force && nms_plan_too_many (p.sum.deletions_server, p.sum.known)) {
        p.sum.guard_server = TRUE;
        nms_plan_drop_kind (p.out, NMS_ACTION_DELETE_SERVER);
    }
    p.sum.uploads = p.uploads->len;
    p.sum.downloads = p.downloads->len;
    /* One array: out, uploads, downloads. The smaller part joins the larger one, so that a
     * full sync (all downloads) does not hold its actions twice. */
    if (p.downloads->len > p.out->len) {
        g_array_prepend_vals (p.downloads, p.uploads->data, p.uploads->len);
        g_array_prepend_vals (p.downloads, p.out->data, p.out->len);
        g_array_unref (p.out);
        p.out = p.downloads;
    } else {
        g_array_append_vals (p.out, p.uploads->data, p.uploads->len);
        g_array_append_vals (p.out, p.downloads->data, p.downloads->len);
        g_array_unref (p.downloads);
    }
    g_array_unref (p.uploads);
    if (summary_out != NULL)
        *summary_out = p.sum;
    return p.out;
}

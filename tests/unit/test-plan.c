/* SPDX-License-Identifier: GPL-3.0-or-later
 * The pull planner as pure data: snapshots in, actions out. */
#include "nms-build.h"

#include <string.h>

#include "sync/plan.h"
#include "sync/sync-private.h"

static NmsPlanMessage
m (guint32 uid, const char *flags)
{
    NmsPlanMessage x = { .uid = uid };
    g_strlcpy (x.flags, flags, sizeof x.flags);
    return x;
}

static const NmsPlanPolicy pull_policy = { NMS_PLAN_PULL, TRUE, TRUE, FALSE, FALSE };
static const NmsPlanPolicy pull_forced = { NMS_PLAN_PULL, TRUE, TRUE, TRUE, FALSE };
static const NmsPlanPolicy sync_policy = { NMS_PLAN_SYNC, TRUE, TRUE, FALSE, FALSE };
static const NmsPlanPolicy push_policy = { NMS_PLAN_PUSH, TRUE, TRUE, FALSE, FALSE };

/* A pull plan, as the pull tests below were first written for. */
static GArray *
plan (const NmsPlanMessage *srv, gsize ns, const NmsPlanMessage *st, gsize nst,
      const NmsPlanMessage *loc, gsize nl, gboolean force, NmsPlanSummary *sum)
{
    return nms_plan_folder (srv, ns, st, nst, loc, nl, force ? &pull_forced : &pull_policy, sum);
}

#define ACT(a, i) (&g_array_index ((a), NmsAction, (i)))

static void
test_merge_flags (void)
{
    char out[8];

    nms_plan_merge_flags ("S", "S", "FS", out); /* server added F */
    g_assert_cmpstr (out, ==, "FS");
    nms_plan_merge_flags ("FS", "FS", "S", out); /* server removed F */
    g_assert_cmpstr (out, ==, "S");
    nms_plan_merge_flags ("RS", "S", "FS", out); /* local R kept, server F added */
    g_assert_cmpstr (out, ==, "FRS");
    nms_plan_merge_flags ("", "S", "S", out); /* local removed S, server unchanged: stays */
    g_assert_cmpstr (out, ==, "");
    nms_plan_merge_flags ("Sa", "S", "", out); /* server removed S; keyword letter a kept */
    g_assert_cmpstr (out, ==, "a");
}

static void
test_first_pull_downloads_all (void)
{
    NmsPlanMessage srv[] = { m (1, "S"), m (2, ""), m (5, "FS") };
    NmsPlanSummary sum;
    g_autoptr (GArray) a = plan (srv, 3, NULL, 0, NULL, 0, FALSE, &sum);

    g_assert_cmpuint (a->len, ==, 3);
    g_assert_cmpuint (sum.downloads, ==, 3);
    for (guint i = 0; i < 3; i++) {
        g_assert_cmpint (ACT (a, i)->kind, ==, NMS_ACTION_DOWNLOAD);
        g_assert_cmpuint (ACT (a, i)->uid, ==, srv[i].uid);
        g_assert_cmpstr (ACT (a, i)->state_flags, ==, srv[i].flags);
    }
}

static void
test_unchanged_plans_nothing (void)
{
    NmsPlanMessage x[] = { m (1, "S"), m (2, ""), m (3, "FRS") };
    g_autoptr (GArray) a = plan (x, 3, x, 3, x, 3, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 0);
}

static void
test_server_flag_change_renames (void)
{
    NmsPlanMessage srv[] = { m (1, "FS"), m (2, "S") };
    NmsPlanMessage st[] = { m (1, "S"), m (2, "") };
    NmsPlanMessage loc[] = { m (1, "S"), m (2, "S") }; /* 2: local already has S */
    g_autoptr (GArray) a = plan (srv, 2, st, 2, loc, 2, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 2);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_UPDATE);
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "FS");
    g_assert_cmpint (ACT (a, 0)->local_index, ==, 0);
    g_assert_cmpint (ACT (a, 1)->kind, ==, NMS_ACTION_UPDATE);
    g_assert_cmpstr (ACT (a, 1)->local_flags, ==, "S"); /* no rename needed */
    g_assert_cmpstr (ACT (a, 1)->state_flags, ==, "S");
    g_assert_cmpstr (ACT (a, 1)->add, ==, "");          /* a pull stores nothing */
}

static void
test_expunge_deletes_local (void)
{
    NmsPlanMessage srv[] = { m (2, "S") };
    NmsPlanMessage st[] = { m (1, "S"), m (2, "S"), m (3, "") };
    NmsPlanMessage loc[] = { m (1, "S"), m (2, "S") }; /* 3 already gone locally */
    g_autoptr (GArray) a = plan (srv, 1, st, 3, loc, 2, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 2);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_DELETE_LOCAL);
    g_assert_cmpuint (ACT (a, 0)->uid, ==, 1);
    g_assert_cmpint (ACT (a, 1)->kind, ==, NMS_ACTION_FORGET);
    g_assert_cmpuint (ACT (a, 1)->uid, ==, 3);
}

static void
test_lost_commit_adopts (void)
{
    /* UID 4 landed on disk but its state commit was lost; the server since added F. */
    NmsPlanMessage srv[] = { m (4, "FS") };
    NmsPlanMessage loc[] = { m (4, "S") };
    g_autoptr (GArray) a = plan (srv, 1, NULL, 0, loc, 1, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 1);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_ADOPT);
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "FS");
}

static void
test_local_deletion_not_redownloaded (void)
{
    NmsPlanMessage srv[] = { m (1, "S") };
    NmsPlanMessage st[] = { m (1, "S") };
    g_autoptr (GArray) a = plan (srv, 1, st, 1, NULL, 0, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 0);
}

/* Marked \Deleted on the server and never seen here: a deletion or a move (without UIDPLUS the
 * original stays marked) awaiting an expunge. Not downloaded, by pull or sync; a message the
 * state knows keeps syncing its flags, T included. */
static void
test_deleted_unknown_not_downloaded (void)
{
    NmsPlanMessage srv[] = { m (1, "ST"), m (2, "S"), m (3, "T") };
    NmsPlanMessage st[] = { m (3, "") };
    NmsPlanMessage loc[] = { m (3, "") };
    NmsPlanSummary sum;
    g_autoptr (GArray) a = plan (srv, 3, st, 1, loc, 1, FALSE, &sum);
    g_autoptr (GArray) b = nms_plan_folder (srv, 3, st, 1, loc, 1, &sync_policy, NULL);

    g_assert_cmpuint (sum.downloads, ==, 1);
    g_assert_cmpuint (a->len, ==, 2);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_UPDATE);
    g_assert_cmpuint (ACT (a, 0)->uid, ==, 3);
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "T");
    g_assert_cmpint (ACT (a, 1)->kind, ==, NMS_ACTION_DOWNLOAD);
    g_assert_cmpuint (ACT (a, 1)->uid, ==, 2);
    g_assert_cmpuint (b->len, ==, 2);
    g_assert_cmpuint (ACT (b, 1)->uid, ==, 2);
}

static void
test_unknown_local_uid_left_alone (void)
{
    NmsPlanMessage loc[] = { m (9, "S") };
    g_autoptr (GArray) a = plan (NULL, 0, NULL, 0, loc, 1, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 0);
}

static void
test_mass_deletion_guard (void)
{
    g_autoptr (GArray) st = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    NmsPlanMessage keep[] = { m (20, "S") };
    NmsPlanSummary sum;
    g_autoptr (GArray) held = NULL, forced = NULL;

    for (guint32 uid = 1; uid <= 20; uid++) {
        NmsPlanMessage x = m (uid, "S");
        g_array_append_val (st, x);
    }
    /* 19 of 20 expunged on the server: held back. */
    held = plan (keep, 1, (NmsPlanMessage *) st->data, st->len, (NmsPlanMessage *) st->data,
                 st->len, FALSE, &sum);
    g_assert_true (sum.guard_local);
    g_assert_cmpuint (sum.deletions_local, ==, 19);
    g_assert_cmpuint (held->len, ==, 0);
    forced = plan (keep, 1, (NmsPlanMessage *) st->data, st->len, (NmsPlanMessage *) st->data,
                   st->len, TRUE, &sum);
    g_assert_false (sum.guard_local);
    g_assert_cmpuint (forced->len, ==, 19);
}

/* With the local guard deferred (server-side moves are subtracted first, server-moves.c) the
 * planner keeps every DELETE_LOCAL; the server side keeps its own guard. */
static void
test_local_guard_later (void)
{
    static const NmsPlanPolicy later = { NMS_PLAN_SYNC, TRUE, TRUE, FALSE, TRUE };
    g_autoptr (GArray) st = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    NmsPlanMessage keep[] = { m (20, "S") };
    NmsPlanSummary sum;
    g_autoptr (GArray) a = NULL;

    for (guint32 uid = 1; uid <= 20; uid++) {
        NmsPlanMessage x = m (uid, "S");
        g_array_append_val (st, x);
    }
    a = nms_plan_folder (keep, 1, (NmsPlanMessage *) st->data, st->len,
                         (NmsPlanMessage *) st->data, st->len, &later, &sum);
    g_assert_false (sum.guard_local);
    g_assert_cmpuint (sum.deletions_local, ==, 19);
    g_assert_cmpuint (a->len, ==, 19);
    g_assert_true (nms_plan_too_many (19, 20));
    g_assert_false (nms_plan_too_many (9, 10));
    g_assert_false (nms_plan_too_many (10, 20));
}

static void
test_guard_needs_ten (void)
{
    NmsPlanMessage st[] = { m (1, ""), m (2, ""), m (3, "") };
    NmsPlanSummary sum;
    g_autoptr (GArray) a = plan (NULL, 0, st, 3, st, 3, FALSE, &sum);

    g_assert_false (sum.guard_local);
    g_assert_cmpuint (a->len, ==, 3);
}

static void
test_downloads_come_last (void)
{
    NmsPlanMessage srv[] = { m (1, "FS"), m (2, "") };
    NmsPlanMessage st[] = { m (1, "S") };
    g_autoptr (GArray) a = plan (srv, 2, st, 1, st, 1, FALSE, NULL);

    g_assert_cmpuint (a->len, ==, 2);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_UPDATE);
    g_assert_cmpint (ACT (a, 1)->kind, ==, NMS_ACTION_DOWNLOAD);
}

static void
test_sync_flags_both_ways (void)
{
    /* 1: local added F; 2: server added R; 3: local removed S, server added F. */
    NmsPlanMessage srv[] = { m (1, "S"), m (2, "RS"), m (3, "FS") };
    NmsPlanMessage st[] = { m (1, "S"), m (2, "S"), m (3, "S") };
    NmsPlanMessage loc[] = { m (1, "FS"), m (2, "S"), m (3, "") };
    g_autoptr (GArray) a = nms_plan_folder (srv, 3, st, 3, loc, 3, &sync_policy, NULL);

    g_assert_cmpuint (a->len, ==, 3);
    g_assert_cmpstr (ACT (a, 0)->add, ==, "F");
    g_assert_cmpstr (ACT (a, 0)->remove, ==, "");
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "FS");
    g_assert_cmpstr (ACT (a, 0)->state_flags, ==, "FS");
    g_assert_cmpstr (ACT (a, 1)->add, ==, "");
    g_assert_cmpstr (ACT (a, 1)->local_flags, ==, "RS");
    g_assert_cmpstr (ACT (a, 1)->state_flags, ==, "RS");
    g_assert_cmpstr (ACT (a, 2)->remove, ==, "S");
    g_assert_cmpstr (ACT (a, 2)->local_flags, ==, "F");
    g_assert_cmpstr (ACT (a, 2)->state_flags, ==, "F");
}

static void
test_merge_is_symmetric (void)
{
    static const char *const sets[] = { "", "S", "F", "FS", "RS", "DFRS" };
    char x[8], y[8];

    /* For every combination of three flag sets, the side that changed a letter wins, so the
     * merge does not depend on which side is called "local". */
    for (guint i = 0; i < G_N_ELEMENTS (sets); i++)
        for (guint j = 0; j < G_N_ELEMENTS (sets); j++)
            for (guint k = 0; k < G_N_ELEMENTS (sets); k++) {
                nms_plan_merge_flags (sets[i], sets[j], sets[k], x);
                nms_plan_merge_flags (sets[k], sets[j], sets[i], y);
                g_assert_cmpstr (x, ==, y);
            }
}

static void
test_push_keeps_server_changes_pending (void)
{
    /* Local added F, server added R: a push sends F, leaves the local file alone and records
     * the local flags, so the next pull still sees R as new. */
    NmsPlanMessage srv[] = { m (1, "RS") };
    NmsPlanMessage st[] = { m (1, "S") };
    NmsPlanMessage loc[] = { m (1, "FS") };
    g_autoptr (GArray) a = nms_plan_folder (srv, 1, st, 1, loc, 1, &push_policy, NULL);

    g_assert_cmpuint (a->len, ==, 1);
    g_assert_cmpstr (ACT (a, 0)->add, ==, "F");
    g_assert_cmpstr (ACT (a, 0)->remove, ==, "");
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "FS");
    g_assert_cmpstr (ACT (a, 0)->state_flags, ==, "FS");
}

static void
test_sync_local_deletion_deletes_on_server (void)
{
    NmsPlanMessage srv[] = { m (1, "S"), m (2, "S") };
    NmsPlanMessage st[] = { m (1, "S"), m (2, "S") };
    NmsPlanMessage loc[] = { m (2, "S") };
    NmsPlanPolicy keep = sync_policy;
    g_autoptr (GArray) a = nms_plan_folder (srv, 2, st, 2, loc, 1, &sync_policy, NULL);
    g_autoptr (GArray) b = NULL;

    g_assert_cmpuint (a->len, ==, 1);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_DELETE_SERVER);
    g_assert_cmpuint (ACT (a, 0)->uid, ==, 1);
    keep.delete_server = FALSE; /* delete = local: the server copy stays, nothing is planned */
    b = nms_plan_folder (srv, 2, st, 2, loc, 1, &keep, NULL);
    g_assert_cmpuint (b->len, ==, 0);
}

static void
test_delete_policy_local (void)
{
    NmsPlanMessage st[] = { m (1, "S") };
    NmsPlanPolicy keep = sync_policy;
    g_autoptr (GArray) a = NULL;

    keep.delete_local = FALSE;
    a = nms_plan_folder (NULL, 0, st, 1, st, 1, &keep, NULL);
    g_assert_cmpuint (a->len, ==, 0);
}

/* More downloads than the rest: the planner joins the other parts in front of the downloads'
 * own array (so that a full sync holds its actions once); the order stays updates, uploads,
 * downloads, each in uid order. */
static void
test_order_with_many_downloads (void)
{
    NmsPlanMessage srv[] = { m (1, "FS"), m (3, ""), m (4, "S"), m (5, "") };
    NmsPlanMessage st[] = { m (1, "S") };
    NmsPlanMessage loc[] = { m (1, "S"), m (2, "F") };
    g_autoptr (GArray) a = nms_plan_folder (srv, 4, st, 1, loc, 2, &sync_policy, NULL);

    g_assert_cmpuint (a->len, ==, 5);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_UPDATE);
    g_assert_cmpuint (ACT (a, 0)->uid, ==, 1);
    g_assert_cmpint (ACT (a, 1)->kind, ==, NMS_ACTION_UPLOAD);
    g_assert_cmpuint (ACT (a, 1)->uid, ==, 2);
    g_assert_cmpint (ACT (a, 1)->local_index, ==, 1);
    for (guint i = 2; i < 5; i++) {
        g_assert_cmpint (ACT (a, i)->kind, ==, NMS_ACTION_DOWNLOAD);
        g_assert_cmpuint (ACT (a, i)->uid, ==, i + 1);
    }
    g_assert_cmpstr (ACT (a, 3)->state_flags, ==, "S");
}

static void
test_unknown_uid_uploaded_by_push (void)
{
    NmsPlanMessage loc[] = { m (9, "FS") };
    g_autoptr (GArray) a = nms_plan_folder (NULL, 0, NULL, 0, loc, 1, &sync_policy, NULL);

    g_assert_cmpuint (a->len, ==, 1);
    g_assert_cmpint (ACT (a, 0)->kind, ==, NMS_ACTION_UPLOAD);
    g_assert_cmpstr (ACT (a, 0)->local_flags, ==, "FS");
}

static void
test_server_guard_separate (void)
{
    g_autoptr (GArray) st = g_array_new (FALSE, TRUE, sizeof (NmsPlanMessage));
    NmsPlanMessage one[] = { m (20, "S") };
    NmsPlanSummary sum;
    g_autoptr (GArray) a = NULL;

    for (guint32 uid = 1; uid <= 20; uid++) {
        NmsPlanMessage x = m (uid, "S");
        g_array_append_val (st, x);
    }
    /* 19 of 20 deleted locally: the server deletions are held back. */
    a = nms_plan_folder ((NmsPlanMessage *) st->data, st->len, (NmsPlanMessage *) st->data,
                         st->len, one, 1, &sync_policy, &sum);
    g_assert_true (sum.guard_server);
    g_assert_false (sum.guard_local);
    g_assert_cmpuint (sum.deletions_server, ==, 19);
    g_assert_cmpuint (a->len, ==, 0);
}

/* QRESYNC: the agreed messages minus VANISHED, with the changed flags and new uids. */
static void
test_server_from_changes (void)
{
    g_autoptr (GArray) saved = g_array_new (FALSE, TRUE, sizeof (NmsStateMessage));
    g_autoptr (GArray) changed = g_array_new (FALSE, TRUE, sizeof (NmsImapMessageInfo));
    g_autoptr (GArray) vanished = g_array_new (FALSE, FALSE, sizeof (guint32));
    g_autoptr (GArray) out = NULL;
    const guint32 saved_uids[] = { 1, 2, 3, 5, 8 };
    const guint32 gone[] = { 2, 8 };
    const struct {
        guint32 uid;
        const char *flags;
    } news[] = { { 1, "FS" }, { 4, "" }, { 9, "S" } }, want[] = {
        { 1, "FS" }, { 3, "S" }, { 4, "" }, { 5, "S" }, { 9, "S" }
    };

    for (gsize i = 0; i < G_N_ELEMENTS (saved_uids); i++) {
        NmsStateMessage sm = { .uid = saved_uids[i], .flags = "S" };
        g_array_append_val (saved, sm);
    }
    for (gsize i = 0; i < G_N_ELEMENTS (news); i++) {
        NmsImapMessageInfo info = { .uid = news[i].uid };
        g_strlcpy (info.flags, news[i].flags, sizeof info.flags);
        g_array_append_val (changed, info);
    }
    g_array_append_vals (vanished, gone, G_N_ELEMENTS (gone));
    out = nms_sync_server_from_changes (saved, changed, vanished);
    g_assert_cmpuint (out->len, ==, G_N_ELEMENTS (want));
    for (gsize i = 0; i < G_N_ELEMENTS (want); i++) {
        g_assert_cmpuint (g_array_index (out, NmsImapMessageInfo, i).uid, ==, want[i].uid);
        g_assert_cmpstr (g_array_index (out, NmsImapMessageInfo, i).flags, ==, want[i].flags);
    }
}

/* The signature of the keyword letters is the same whatever order the table was filled in
 * (a GHashTable iterates in an order that depends on it), and sorted by letter. */
static void
test_keywords_signature_stable (void)
{
    static const char *const pairs[][2] = {
        { "$Junk", "a" },  { "$NotJunk", "b" }, { "$Forwarded", "c" }, { "$MDNSent", "d" },
        { "$label1", "e" }, { "$label2", "f" }, { "NonJunk", "g" },    { "$Phishing", "h" },
    };
    const char *want = "a=$Junk b=$NotJunk c=$Forwarded d=$MDNSent e=$label1 f=$label2 "
                       "g=NonJunk h=$Phishing";
    const guint n = G_N_ELEMENTS (pairs);

    for (guint start = 0; start < n; start++) {
        for (guint step = 1; step < n; step += 2) { /* odd steps visit every pair once */
            g_autoptr (GHashTable) letters = g_hash_table_new (g_str_hash, g_str_equal);
            g_autofree char *sig = NULL;

            for (guint k = 0; k < n; k++) {
                guint i = (start + k * step) % n;
                g_hash_table_insert (letters, (gpointer) pairs[i][0], (gpointer) pairs[i][1]);
            }
            sig = nms_sync_keywords_signature (letters);
            g_assert_cmpstr (sig, ==, want);
        }
    }
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/plan/merge-flags", test_merge_flags);
    g_test_add_func ("/plan/first-pull-downloads-all", test_first_pull_downloads_all);
    g_test_add_func ("/plan/unchanged-plans-nothing", test_unchanged_plans_nothing);
    g_test_add_func ("/plan/server-flag-change-renames", test_server_flag_change_renames);
    g_test_add_func ("/plan/expunge-deletes-local", test_expunge_deletes_local);
    g_test_add_func ("/plan/deleted-unknown-not-downloaded", test_deleted_unknown_not_downloaded);
    g_test_add_func ("/plan/lost-commit-adopts", test_lost_commit_adopts);
    g_test_add_func ("/plan/local-deletion-not-redownloaded", test_local_deletion_not_redownloaded);
    g_test_add_func ("/plan/unknown-local-uid-left-alone", test_unknown_local_uid_left_alone);
    g_test_add_func ("/plan/mass-deletion-guard", test_mass_deletion_guard);
    g_test_add_func ("/plan/guard-needs-ten", test_guard_needs_ten);
    g_test_add_func ("/plan/local-guard-later", test_local_guard_later);
    g_test_add_func ("/plan/downloads-come-last", test_downloads_come_last);
    g_test_add_func ("/plan/order-with-many-downloads", test_order_with_many_downloads);
    g_test_add_func ("/plan/sync-flags-both-ways", test_sync_flags_both_ways);
    g_test_add_func ("/plan/merge-is-symmetric", test_merge_is_symmetric);
    g_test_add_func ("/plan/push-keeps-server-changes-pending",
                     test_push_keeps_server_changes_pending);
    g_test_add_func ("/plan/sync-local-deletion-deletes-on-server",
                     test_sync_local_deletion_deletes_on_server);
    g_test_add_func ("/plan/delete-policy-local", test_delete_policy_local);
    g_test_add_func ("/plan/unknown-uid-uploaded-by-push", test_unknown_uid_uploaded_by_push);
    g_test_add_func ("/plan/server-guard-separate", test_server_guard_separate);
    g_test_add_func ("/plan/server-from-qresync-changes", test_server_from_changes);
    g_test_add_func ("/sync/keywords-signature-stable", test_keywords_signature_stable);
    return g_test_run ();
}

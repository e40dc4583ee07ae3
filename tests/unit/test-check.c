/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync check: the spool defects found in a temp folder (maildir/defects.c) and the plan of
 * safe repairs made from a report (check/fix.c), which is pure data. */
#include "nms-build.h"

#include <string.h>
#include <sys/stat.h>
#include <utime.h>

#include "check/check.h"
#include "maildir/maildir.h"
#include "testutil.h"

static void
put (const char *dir, const char *name, const char *content, gint64 age_s)
{
    g_autofree char *path = g_build_filename (dir, name, NULL);
    struct utimbuf t;

    g_assert_true (g_file_set_contents (path, content, -1, NULL));
    if (age_s > 0) {
        t.actime = t.modtime = (time_t) (g_get_real_time () / G_USEC_PER_SEC - age_s);
        g_assert_cmpint (utime (path, &t), ==, 0);
    }
}

static guint
count_kind (GPtrArray *defects, NmsMaildirDefectKind kind)
{
    guint n = 0;

    for (guint i = 0; i < defects->len; i++)
        n += ((NmsMaildirDefect *) g_ptr_array_index (defects, i))->kind == kind;
    return n;
}

static void
test_defects (void)
{
    g_autofree char *dir = g_dir_make_tmp ("nms-check-XXXXXX", NULL);
    g_autofree char *cur = g_build_filename (dir, "cur", NULL);
    g_autofree char *new = g_build_filename (dir, "new", NULL);
    g_autofree char *tmp = g_build_filename (dir, "tmp", NULL);
    g_autofree char *stray = g_build_filename (dir, "stray", NULL);
    g_autofree char *child = g_build_filename (dir, "child", "cur", NULL);
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) scan = NULL, defects = NULL;
    const char *mail = "Subject: x\nMessage-ID: <a@b>\n\nbody\n";
    const char *other = "Subject: y\nMessage-ID: <c@b>\n\nbody\n";

    g_assert_cmpint (g_mkdir_with_parents (cur, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (new, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (tmp, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (stray, 0700), ==, 0);
    g_assert_cmpint (g_mkdir_with_parents (child, 0700), ==, 0); /* a verbatim child folder */
    put (cur, "1.M1P1.h,U=1:2,S", mail, 0);
    put (cur, "2.M1P1.h,U=1:2,", mail, 0);
    put (cur, "3.M1P1.h:2,S", "", 0);
    put (cur, "4.M1P1.h,U=01:2,S", mail, 0);
    put (tmp, "old", mail, 3 * 24 * 3600);
    put (tmp, "young", "", 0);
    put (dir, "5.M1P1.h,U=5:2,S", other, 7200); /* misfiled, to cur/ */
    put (stray, "6.M1P1.h", other, 7200);         /* misfiled, to new/ */
    put (dir, "8.M1P1.h", mail, 7200);            /* misfiled, a copy of cur/1: left */
    put (dir, "9.M1P1.h", other, 60);             /* misfiled, maybe being written: left */
    put (dir, "dovecot-uidlist", "3 V1 N1\n", 0); /* not mail */
    put (dir, "maildirfolder", "", 0);
    put (dir, "notes.txt", "Todo: reply to Bob\nand Alice\n", 0); /* a header, but no mail */
    g_autofree char *child_dir = g_path_get_dirname (child);
    put (child_dir, "7.M1P1.h:2,", mail, 0);    /* a file in a child folder's directory */

    scan = nms_maildir_scan (dir, &error);
    g_assert_no_error (error);
    defects = nms_maildir_defects (dir, scan, g_get_real_time () / G_USEC_PER_SEC, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (count_kind (defects, NMS_MAILDIR_DEFECT_TMP_OLD), ==, 1);
    g_assert_cmpuint (count_kind (defects, NMS_MAILDIR_DEFECT_EMPTY), ==, 1);
    g_assert_cmpuint (count_kind (defects, NMS_MAILDIR_DEFECT_DUPLICATE_UID), ==, 2);
    g_assert_cmpuint (count_kind (defects, NMS_MAILDIR_DEFECT_BAD_NAME), ==, 1);
    g_assert_cmpuint (count_kind (defects, NMS_MAILDIR_DEFECT_MISFILED), ==, 4);
    for (guint i = 0; i < defects->len; i++) {
        NmsMaildirDefect *d = g_ptr_array_index (defects, i);

        if (d->kind != NMS_MAILDIR_DEFECT_MISFILED)
            continue;
        if (g_str_has_suffix (d->path, "/8.M1P1.h")) {
            g_assert_true (g_str_has_prefix (d->problem, "copy of "));
            g_assert_true (g_str_has_suffix (d->problem, "/cur/1.M1P1.h,U=1:2,S: left") ||
                           g_str_has_suffix (d->problem, "/cur/2.M1P1.h,U=1:2,: left"));
            continue;
        }
        if (g_str_has_suffix (d->path, "/9.M1P1.h")) {
            g_assert_cmpstr (d->problem, ==, "recent: left");
            continue;
        }
        g_assert_null (d->problem);
        g_assert_true (g_str_has_suffix (d->target, strstr (d->path, ":2,") ? "/cur/5.M1P1.h,U=5:2,S"
                                                                            : "/new/6.M1P1.h"));
        g_assert_true (nms_maildir_refile (d->path, d->target, &error));
        g_assert_no_error (error);
        g_assert_true (g_file_test (d->target, G_FILE_TEST_IS_REGULAR));
    }
    nms_test_rm_rf (dir);
}

static NmsCheckIssue *
issue (NmsCheckReport *r, NmsCheckKind kind, const char *object)
{
    NmsCheckIssue *i = g_new0 (NmsCheckIssue, 1);

    i->kind = kind;
    i->folder = g_strdup ("INBOX");
    i->object = g_strdup (object);
    g_ptr_array_add (r->issues, i);
    return i;
}

static NmsCheckReport *
report_new (void)
{
    NmsCheckReport *r = g_new0 (NmsCheckReport, 1);

    r->account = g_strdup ("a");
    r->folders = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_check_folder_free);
    r->issues = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_check_issue_free);
    return r;
}

static void
test_plan (void)
{
    g_autoptr (NmsCheckReport) r = report_new ();
    g_autoptr (GPtrArray) plan = NULL;
    NmsCheckIssue *i;

    issue (r, NMS_CHECK_MISFILED, "/m/x:2,S")->target = g_strdup ("/m/cur/x:2,S");
    issue (r, NMS_CHECK_MISFILED, "/m/odd");                 /* no target: left */
    i = issue (r, NMS_CHECK_MISFILED, "/m/y");               /* recent: left */
    i->target = g_strdup ("/m/new/y"), i->note = g_strdup ("recent: left");
    issue (r, NMS_CHECK_TMP_OLD, "/m/tmp/e")->empty = TRUE;
    issue (r, NMS_CHECK_TMP_OLD, "/m/tmp/full");             /* content: never removed */
    issue (r, NMS_CHECK_EMPTY, "/m/cur/e")->empty = TRUE;    /* not a tmp/ file: left */
    /* uid 1: the state pairs p1; d1 is another message (fixed), c1 a byte copy (left) */
    i = issue (r, NMS_CHECK_DUPLICATE_UID, "/m/cur/p1,U=1");
    i->uid = 1, i->paired = TRUE, i->message_id = g_strdup ("a@b");
    i = issue (r, NMS_CHECK_DUPLICATE_UID, "/m/cur/d1,U=1");
    i->uid = 1, i->message_id = g_strdup ("other@b");
    i = issue (r, NMS_CHECK_DUPLICATE_UID, "/m/cur/c1,U=1");
    i->uid = 1, i->message_id = g_strdup ("a@b");
    /* uid 2: the state pairs neither: nothing to go by */
    i = issue (r, NMS_CHECK_DUPLICATE_UID, "/m/cur/e2,U=2");
    i->uid = 2, i->message_id = g_strdup ("x@b");
    i = issue (r, NMS_CHECK_DUPLICATE_UID, "/m/cur/f2,U=2");
    i->uid = 2, i->message_id = g_strdup ("y@b");
    issue (r, NMS_CHECK_NOTMUCH_STALE, "/m/cur/s:2,")->target = g_strdup ("/m/cur/s:2,S");
    issue (r, NMS_CHECK_NOTMUCH_STALE, "/m/cur/gone");       /* nowhere to point: left */
    issue (r, NMS_CHECK_BAD_NAME, "/m/cur/bad");
    issue (r, NMS_CHECK_STATE_GONE, "uid=9 x");

    plan = nms_check_plan (r);
    g_assert_cmpuint (plan->len, ==, 4);
    g_assert_cmpint (((NmsCheckFix *) plan->pdata[0])->kind, ==, NMS_CHECK_FIX_REFILE);
    g_assert_cmpstr (((NmsCheckFix *) plan->pdata[0])->target, ==, "/m/cur/x:2,S");
    g_assert_cmpint (((NmsCheckFix *) plan->pdata[1])->kind, ==, NMS_CHECK_FIX_REMOVE_TMP);
    g_assert_cmpstr (((NmsCheckFix *) plan->pdata[1])->path, ==, "/m/tmp/e");
    g_assert_cmpint (((NmsCheckFix *) plan->pdata[2])->kind, ==, NMS_CHECK_FIX_DROP_UID);
    g_assert_cmpstr (((NmsCheckFix *) plan->pdata[2])->path, ==, "/m/cur/d1,U=1");
    g_assert_cmpint (((NmsCheckFix *) plan->pdata[3])->kind, ==, NMS_CHECK_FIX_NOTMUCH_RENAME);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/check/defects", test_defects);
    g_test_add_func ("/check/plan", test_plan);
    return g_test_run ();
}

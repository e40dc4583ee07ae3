/* SPDX-License-Identifier: GPL-3.0-or-later
 * nms_plan_moves: which local files moved between folders by another tool become server moves,
 * how the server carries them out and where the copy is looked for without COPYUID; and
 * nms_plan_take_moved: which local files a message moved on the server takes along. */
#include "nms-build.h"

#include "sync/plan.h"

static const NmsMoveServer dovecot = { .has_move = TRUE, .has_uidplus = TRUE };
static const NmsMoveServer bare = { .has_move = FALSE, .has_uidplus = FALSE };
static const NmsMoveServer uidplus_only = { .has_move = FALSE, .has_uidplus = TRUE };

/* A file now in @dest whose message the state records as @uid of @source. */
static NmsMoveCandidate
moved (const char *dest, const char *base, const char *source, guint32 uid)
{
    return (NmsMoveCandidate) { .dest = dest, .base = base, .source = source, .uid = uid,
                                .source_on_server = TRUE, .dest_has_status = TRUE,
                                .dest_uidnext = 8 };
}

#define MOVE(a, i) (&g_array_index ((a), NmsMove, (i)))

static void
test_plain_move (void)
{
    NmsMoveCandidate c[] = { moved ("Junk", "1.a.host", "INBOX", 3) };
    g_autoptr (GArray) moves = nms_plan_moves (c, G_N_ELEMENTS (c), &dovecot);

    g_assert_cmpuint (moves->len, ==, 1);
    g_assert_cmpuint (MOVE (moves, 0)->candidate, ==, 0);
    g_assert_cmpint (MOVE (moves, 0)->method, ==, NMS_MOVE_BY_MOVE);
    /* a copy made by this run lands at or above the UIDNEXT of the start of the run */
    g_assert_cmpuint (MOVE (moves, 0)->search_from, ==, 8);
}

static void
test_without_move_or_uidplus (void)
{
    NmsMoveCandidate c[] = { moved ("Junk", "1.a.host", "INBOX", 3) };
    g_autoptr (GArray) marked = nms_plan_moves (c, 1, &bare);
    g_autoptr (GArray) expunged = nms_plan_moves (c, 1, &uidplus_only);

    /* still a move (no upload): COPY, and the original stays marked \Deleted */
    g_assert_cmpuint (marked->len, ==, 1);
    g_assert_cmpint (MOVE (marked, 0)->method, ==, NMS_MOVE_BY_COPY_MARK);
    g_assert_cmpuint (expunged->len, ==, 1);
    g_assert_cmpint (MOVE (expunged, 0)->method, ==, NMS_MOVE_BY_COPY_EXPUNGE);
}

static void
test_onto_existing_copy (void)
{
    /* Another client may have moved the message the same way before the run: the server then
     * moves nothing and the copy is older than the UIDNEXT of the start, so the executor looks
     * from UID 1 too; without STATUS it looks from UID 1 at once. */
    NmsMoveCandidate c[] = { moved ("Junk", "1.a.host", "INBOX", 3),
                             moved ("Trash", "2.b.host", "INBOX", 4) };
    g_autoptr (GArray) moves = NULL;

    c[1].dest_has_status = FALSE;
    moves = nms_plan_moves (c, G_N_ELEMENTS (c), &dovecot);
    g_assert_cmpuint (moves->len, ==, 2);
    g_assert_cmpuint (MOVE (moves, 0)->search_from, ==, 8);
    g_assert_true (MOVE (moves, 0)->search_older);
    g_assert_cmpuint (MOVE (moves, 1)->search_from, ==, 1);
    g_assert_false (MOVE (moves, 1)->search_older);
}

static void
test_collision (void)
{
    /* The user copied one file into two folders and removed the original: one message, moved
     * once (the first file); the other file is a copy, uploaded as a new message. */
    NmsMoveCandidate c[] = { moved ("Archive", "1.a.host", "INBOX", 3),
                             moved ("Junk", "1.a.host", "INBOX", 3),
                             moved ("Junk", "2.b.host", "INBOX", 5) };
    g_autoptr (GArray) moves = nms_plan_moves (c, G_N_ELEMENTS (c), &dovecot);

    g_assert_cmpuint (moves->len, ==, 2);
    g_assert_cmpuint (MOVE (moves, 0)->candidate, ==, 0);
    g_assert_cmpuint (MOVE (moves, 1)->candidate, ==, 2);
}

static void
test_nothing_to_do (void)
{
    NmsMoveCandidate c[] = {
        moved ("Junk", "1.a.host", "INBOX", 3), /* still in INBOX too: a copy */
        moved ("Junk", "2.b.host", "Local", 4), /* its old folder is not on the server */
        moved ("Junk", "3.c.host", NULL, 0),    /* unknown to the state: a new file */
        moved ("Junk", "4.d.host", "Junk", 6),  /* the state places it there already */
    };
    g_autoptr (GArray) none = nms_plan_moves (NULL, 0, &dovecot);
    g_autoptr (GArray) moves = NULL;

    c[0].source_has_file = TRUE;
    c[1].source_on_server = FALSE;
    moves = nms_plan_moves (c, G_N_ELEMENTS (c), &dovecot);
    g_assert_cmpuint (none->len, ==, 0);
    g_assert_cmpuint (moves->len, ==, 0);
}

static void
test_take_moved (void)
{
    /* message 0: moved from INBOX (its file is there); message 1: the state records it in
     * two folders, the first of which lost its file; message 2: no file anywhere (downloaded);
     * message 3: a record without a unique part */
    NmsTakeSource s[] = {
        { .message = 0, .folder = "INBOX", .base = "1.a.host", .has_file = TRUE },
        { .message = 1, .folder = "Archive", .base = "2.b.host", .has_file = FALSE },
        { .message = 1, .folder = "INBOX", .base = "2.b.host", .has_file = TRUE },
        { .message = 1, .folder = "Sent", .base = "2.c.host", .has_file = TRUE },
        { .message = 2, .folder = "INBOX", .base = "3.c.host", .has_file = FALSE },
        { .message = 3, .folder = "INBOX", .base = "", .has_file = TRUE },
    };
    g_autoptr (GArray) take = nms_plan_take_moved (s, G_N_ELEMENTS (s));
    g_autoptr (GArray) none = nms_plan_take_moved (NULL, 0);

    /* every usable file in order: the executor links the first of each message it can */
    g_assert_cmpuint (take->len, ==, 3);
    g_assert_cmpuint (g_array_index (take, guint, 0), ==, 0);
    g_assert_cmpuint (g_array_index (take, guint, 1), ==, 2);
    g_assert_cmpuint (g_array_index (take, guint, 2), ==, 3);
    g_assert_cmpuint (none->len, ==, 0);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/plan/moves/plain", test_plain_move);
    g_test_add_func ("/plan/moves/without-move-or-uidplus", test_without_move_or_uidplus);
    g_test_add_func ("/plan/moves/onto-existing-copy", test_onto_existing_copy);
    g_test_add_func ("/plan/moves/collision", test_collision);
    g_test_add_func ("/plan/moves/nothing-to-do", test_nothing_to_do);
    g_test_add_func ("/plan/moves/take-moved", test_take_moved);
    return g_test_run ();
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pairing by content as pure data: local and server keys in, pairs out. */
#include "nms-build.h"

#include "sync/pair.h"

static NmsPairKey
k (const char *id, guint64 size, const char *digest)
{
    NmsPairKey x = { .message_id = id, .size = size, .digest = digest };
    return x;
}

static void
assert_pair (GArray *pairs, guint i, guint l, guint s)
{
    g_assert_cmpuint (i, <, pairs->len);
    g_assert_cmpuint (g_array_index (pairs, NmsPair, i).local, ==, l);
    g_assert_cmpuint (g_array_index (pairs, NmsPair, i).server, ==, s);
}

/* The ",U=" of an mbsync spool plays no part: only Message-ID and size do. */
static void
test_unique (void)
{
    NmsPairKey local[] = { k ("c@x", 30, NULL), k ("a@x", 10, NULL), k ("only@local", 5, NULL) };
    NmsPairKey server[] = { k ("a@x", 10, NULL), k ("b@x", 20, NULL), k ("c@x", 30, NULL) };
    g_autoptr (GArray) need_l = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) need_s = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) pairs = nms_pair_match (local, 3, server, 3, need_l, need_s);

    g_assert_cmpuint (pairs->len, ==, 2);
    assert_pair (pairs, 0, 0, 2);
    assert_pair (pairs, 1, 1, 0);
    g_assert_cmpuint (need_l->len, ==, 0);
    g_assert_cmpuint (need_s->len, ==, 0);
}

/* Same Message-ID, other size (a list copy with another footer): not the same message. */
static void
test_size_differs (void)
{
    NmsPairKey local[] = { k ("a@x", 11, NULL) };
    NmsPairKey server[] = { k ("a@x", 10, NULL) };
    g_autoptr (GArray) pairs = nms_pair_match (local, 1, server, 1, NULL, NULL);

    g_assert_cmpuint (pairs->len, ==, 0);
}

/* Two server messages share Message-ID and size: no pair until digests say which. */
static void
test_collision_needs_digest (void)
{
    NmsPairKey local[] = { k ("d@x", 40, NULL) };
    NmsPairKey server[] = { k ("d@x", 40, NULL), k ("d@x", 40, NULL), k ("e@x", 1, NULL) };
    g_autoptr (GArray) need_l = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) need_s = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) pairs = nms_pair_match (local, 1, server, 3, need_l, need_s);
    g_autoptr (GArray) again = NULL;

    g_assert_cmpuint (pairs->len, ==, 0);
    g_assert_cmpuint (need_l->len, ==, 1);
    g_assert_cmpuint (need_s->len, ==, 2);
    g_assert_cmpuint (g_array_index (need_s, guint, 0), ==, 0);
    g_assert_cmpuint (g_array_index (need_s, guint, 1), ==, 1);

    local[0].digest = "B";
    server[0].digest = "A";
    server[1].digest = "B";
    again = nms_pair_match (local, 1, server, 3, NULL, NULL);
    g_assert_cmpuint (again->len, ==, 1);
    assert_pair (again, 0, 0, 1);
}

/* Two identical copies on each side: each digest pairs once. */
static void
test_duplicates_pair_once_each (void)
{
    NmsPairKey local[] = { k ("d@x", 40, "A"), k ("d@x", 40, "A"), k ("d@x", 40, "A") };
    NmsPairKey server[] = { k ("d@x", 40, "A"), k ("d@x", 40, "A") };
    g_autoptr (GArray) pairs = nms_pair_match (local, 3, server, 2, NULL, NULL);

    g_assert_cmpuint (pairs->len, ==, 2);
    assert_pair (pairs, 0, 0, 0);
    assert_pair (pairs, 1, 1, 1);
}

/* No Message-ID: only a digest pairs, even when the size is unique. */
static void
test_no_message_id (void)
{
    NmsPairKey local[] = { k (NULL, 7, NULL), k ("x@x", 7, NULL) };
    NmsPairKey server[] = { k (NULL, 7, NULL) };
    g_autoptr (GArray) need_l = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) need_s = g_array_new (FALSE, FALSE, sizeof (guint));
    g_autoptr (GArray) pairs = nms_pair_match (local, 2, server, 1, need_l, need_s);
    g_autoptr (GArray) again = NULL;

    g_assert_cmpuint (pairs->len, ==, 0);
    g_assert_cmpuint (need_l->len, ==, 1);
    g_assert_cmpuint (g_array_index (need_l, guint, 0), ==, 0);
    g_assert_cmpuint (need_s->len, ==, 1);
    local[0].digest = "Z";
    server[0].digest = "Y";
    again = nms_pair_match (local, 2, server, 1, NULL, NULL);
    g_assert_cmpuint (again->len, ==, 0); /* different bodies: upload and download both */
}

static void
test_empty (void)
{
    NmsPairKey server[] = { k ("a@x", 1, NULL) };
    g_autoptr (GArray) pairs = nms_pair_match (NULL, 0, server, 1, NULL, NULL);

    g_assert_cmpuint (pairs->len, ==, 0);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);
    g_test_add_func ("/pair/unique", test_unique);
    g_test_add_func ("/pair/size-differs", test_size_differs);
    g_test_add_func ("/pair/collision-needs-digest", test_collision_needs_digest);
    g_test_add_func ("/pair/duplicates-pair-once-each", test_duplicates_pair_once_each);
    g_test_add_func ("/pair/no-message-id", test_no_message_id);
    g_test_add_func ("/pair/empty", test_empty);
    return g_test_run ();
}

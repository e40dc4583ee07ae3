/* SPDX-License-Identifier: GPL-3.0-or-later
 * Pairing by content (pair.h): groups both sides by (size, Message-ID), then pairs within
 * each group. A group of one on each side is a pair; anything else needs digests, because
 * two messages with one Message-ID and size may still differ (a resent message, a list copy
 * with other headers of the same length) and pairing them wrongly moves flags and deletions
 * to the wrong message. */
#include "nms-build.h"

#include "sync/pair.h"

#include <string.h>

typedef struct {
    GArray *local;  /* guint indexes */
    GArray *server; /* guint indexes */
} Group;

static void
group_free (Group *g)
{
    g_array_unref (g->local);
    g_array_unref (g->server);
    g_free (g);
}

static char *
group_key (const NmsPairKey *k)
{
    /* NUL cannot occur in a Message-ID, so "size\0id" never collides with another key;
     * '\n' is used for readability and cannot occur either (unfolded, no CR/LF). */
    return k->message_id != NULL
               ? g_strdup_printf ("%" G_GUINT64_FORMAT "\n%s", k->size, k->message_id)
               : g_strdup_printf ("%" G_GUINT64_FORMAT, k->size);
}

static Group *
group_of (GHashTable *groups, GPtrArray *order, const NmsPairKey *k)
{
    char *key = group_key (k);
    Group *g = g_hash_table_lookup (groups, key);

    if (g != NULL) {
        g_free (key);
        return g;
    }
    g = g_new0 (Group, 1);
    g->local = g_array_new (FALSE, FALSE, sizeof (guint));
    g->server = g_array_new (FALSE, FALSE, sizeof (guint));
    g_hash_table_insert (groups, key, g);
    g_ptr_array_add (order, g);
    return g;
}

static void
add_pair (GArray *pairs, guint l, guint s)
{
    NmsPair p = { .local = l, .server = s };
    g_array_append_val (pairs, p);
}

/* Pairs by digest inside an ambiguous group; asks for the digests that are missing. */
static void
pair_by_digest (const Group *g, const NmsPairKey *local, const NmsPairKey *server,
                GArray *pairs, GArray *need_local, GArray *need_server)
{
    g_autofree gboolean *taken = g_new0 (gboolean, g->server->len);

    for (guint i = 0; i < g->local->len; i++) {
        guint l = g_array_index (g->local, guint, i);

        if (local[l].digest == NULL) {
            if (need_local != NULL)
                g_array_append_val (need_local, l);
            continue;
        }
        for (guint j = 0; j < g->server->len; j++) {
            guint s = g_array_index (g->server, guint, j);

            if (!taken[j] && server[s].digest != NULL &&
                strcmp (server[s].digest, local[l].digest) == 0) {
                taken[j] = TRUE;
                add_pair (pairs, l, s);
                break;
            }
        }
    }
    for (guint j = 0; j < g->server->len; j++) {
        guint s = g_array_index (g->server, guint, j);

        if (server[s].digest == NULL) {
            if (need_server != NULL)
                g_array_append_val (need_server, s);
        }
    }
}

static int
cmp_pair_local (gconstpointer a, gconstpointer b)
{
    guint x = ((const NmsPair *) a)->local, y = ((const NmsPair *) b)->local;
    return x < y ? -1 : x > y;
}

GArray *
nms_pair_match (const NmsPairKey *local, gsize n_local, const NmsPairKey *server,
                gsize n_server, GArray *need_local_out, GArray *need_server_out)
{
    g_autoptr (GHashTable) groups =
        g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) group_free);
    g_autoptr (GPtrArray) order = g_ptr_array_new ();
    GArray *pairs = g_array_new (FALSE, FALSE, sizeof (NmsPair));

    for (guint i = 0; i < n_server; i++)
        g_array_append_val (group_of (groups, order, &server[i])->server, i);
    for (guint i = 0; i < n_local; i++) {
        char *key = group_key (&local[i]);
        Group *g = g_hash_table_lookup (groups, key);

        g_free (key);
        if (g != NULL) /* a local key no server key shares never pairs */
            g_array_append_val (g->local, i);
    }
    for (guint i = 0; i < order->len; i++) {
        const Group *g = g_ptr_array_index (order, i);
        guint l, s;

        if (g->local->len == 0)
            continue;
        l = g_array_index (g->local, guint, 0);
        s = g_array_index (g->server, guint, 0);
        if (g->local->len == 1 && g->server->len == 1 && local[l].message_id != NULL)
            add_pair (pairs, l, s);
        else
            pair_by_digest (g, local, server, pairs, need_local_out, need_server_out);
    }
    g_array_sort (pairs, cmp_pair_local);
    return pairs;
}

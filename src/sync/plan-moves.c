/* SPDX-License-Identifier: GPL-3.0-or-later
 * The planner of moves between folders, pure data:
 * - files another tool moved between local folders (a mail client, a script, notmuch rules):
 *   which files are moves, how the server carries them out and where the executor (moves.c)
 *   looks for the copy when the server does not say its UID (NmsMoveCandidate -> NmsMove);
 * - messages another client moved on the server: which local files a new server message may
 *   take along instead of a download (server-moves.c; NmsTakeSource -> indices). */
#include "nms-build.h"

#include "sync/plan.h"

#include <string.h>

static NmsMoveMethod
method_of (const NmsMoveServer *server)
{
    if (server->has_move)
        return NMS_MOVE_BY_MOVE;
    return server->has_uidplus ? NMS_MOVE_BY_COPY_EXPUNGE : NMS_MOVE_BY_COPY_MARK;
}

static gboolean
is_move (const NmsMoveCandidate *c)
{
    return c->source != NULL && c->uid != 0 && strcmp (c->source, c->dest) != 0 &&
           c->source_on_server && !c->source_has_file;
}

/* "<source>\n<uid>": the message a move takes from its folder. */
static char *
message_key (const NmsMoveCandidate *c)
{
    return g_strdup_printf ("%s\n%u", c->source, c->uid);
}

GArray *
nms_plan_moves (const NmsMoveCandidate *candidates, guint n_candidates,
                const NmsMoveServer *server)
{
    GArray *moves = g_array_new (FALSE, TRUE, sizeof (NmsMove));
    g_autoptr (GHashTable) claimed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    for (guint i = 0; i < n_candidates; i++) {
        const NmsMoveCandidate *c = &candidates[i];
        NmsMove move = { .candidate = i, .method = method_of (server), .search_from = 1 };

        if (!is_move (c) || !g_hash_table_add (claimed, message_key (c)))
            continue;
        if (c->dest_has_status && c->dest_uidnext > 1)
            move.search_from = c->dest_uidnext;
        move.search_older = move.search_from > 1;
        g_array_append_val (moves, move);
    }
    return moves;
}

GArray *
nms_plan_take_moved (const NmsTakeSource *sources, guint n_sources)
{
    GArray *takes = g_array_new (FALSE, FALSE, sizeof (guint));

    for (guint i = 0; i < n_sources; i++)
        if (sources[i].has_file && sources[i].base != NULL && sources[i].base[0] != '\0')
            g_array_append_val (takes, i);
    return takes;
}

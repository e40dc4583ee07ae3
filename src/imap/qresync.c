/* SPDX-License-Identifier: GPL-3.0-or-later
 * QRESYNC (RFC 7162): ENABLE once per session, then SELECT with the folder's last UIDVALIDITY
 * and modseq, so the server reports only the flags that changed and the UIDs that vanished
 * since, instead of every message's flags. libetpan's mailimap_select_qresync() forgets the
 * parentheses around the parameter (Dovecot then ignores it, LIBRARIES.md 1.2), so the SELECT
 * is sent raw and parsed with mailimap_parse_response(), which stores every FETCH and VANISHED
 * of the reply in the session (LIBRARIES.md 1.4). */
#include "nms-build.h"

#include "imap/imap.h"

#include <stdlib.h>
#include <string.h>

#include "imap/imap-private.h"

void
nms_imap_qresync_enable (NmsImapSession *session)
{
    struct mailimap_capability_data *want, *enabled = NULL;
    clist *caps;
    int r;

    g_return_if_fail (session != NULL);
    if (session->qresync_tried)
        return;
    session->qresync_tried = TRUE;
    /* RFC 5161: ENABLE is valid only in the authenticated state, before any SELECT. */
    if (session->dead || !nms_imap_session_has_capability (session, "QRESYNC") ||
        session->imap->imap_state != MAILIMAP_STATE_AUTHENTICATED)
        return;
    caps = clist_new ();
    if (caps == NULL ||
        clist_append (caps, mailimap_capability_new (MAILIMAP_CAPABILITY_NAME, NULL,
                                                     strdup ("QRESYNC"))) < 0)
        g_error ("out of memory");
    want = mailimap_capability_data_new (caps);
    r = mailimap_enable (session->imap, want, &enabled);
    mailimap_capability_data_free (want);
    if (r == MAILIMAP_NO_ERROR) {
        for (clistiter *it = enabled != NULL && enabled->cap_list != NULL
                                 ? clist_begin (enabled->cap_list)
                                 : NULL;
             it != NULL; it = clist_next (it)) {
            struct mailimap_capability *cap = clist_content (it);
            if (cap->cap_type == MAILIMAP_CAPABILITY_NAME && cap->cap_data.cap_name != NULL &&
                g_ascii_strcasecmp (cap->cap_data.cap_name, "QRESYNC") == 0)
                session->qresync = TRUE;
        }
    } else if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE ||
               r == MAILIMAP_ERROR_FATAL) {
        session->dead = TRUE; /* the next command reports the lost connection */
    }
    if (enabled != NULL)
        mailimap_capability_data_free (enabled);
}

gboolean
nms_imap_qresync_enabled (NmsImapSession *session)
{
    return session != NULL && session->qresync;
}

typedef struct {
    guint32 first;
    guint32 last;
} Range;

static gint
cmp_range (gconstpointer a, gconstpointer b)
{
    const Range *x = a, *y = b;

    return x->first < y->first ? -1 : x->first > y->first;
}

/* Every VANISHED range of the reply (RFC 7162 §3.2.10), sorted by first uid. The ranges are
 * never expanded: a hostile "1:4294967295" costs nothing. */
static GArray *
vanished_ranges (clist *extensions)
{
    GArray *ranges = g_array_new (FALSE, FALSE, sizeof (Range));

    for (clistiter *it = extensions ? clist_begin (extensions) : NULL; it != NULL;
         it = clist_next (it)) {
        struct mailimap_extension_data *ext = clist_content (it);
        struct mailimap_qresync_vanished *v;

        if (ext == NULL || ext->ext_extension == NULL ||
            ext->ext_extension->ext_id != MAILIMAP_EXTENSION_QRESYNC ||
            ext->ext_type != MAILIMAP_QRESYNC_TYPE_VANISHED || (v = ext->ext_data) == NULL ||
            v->qr_known_uids == NULL)
            continue;
        for (clistiter *s = clist_begin (v->qr_known_uids->set_list); s != NULL;
             s = clist_next (s)) {
            struct mailimap_set_item *item = clist_content (s);
            /* libetpan stores "*" as 0 */
            guint32 a = item->set_first != 0 ? item->set_first : G_MAXUINT32;
            guint32 b = item->set_last != 0 ? item->set_last : G_MAXUINT32;
            Range r = { MIN (a, b), MAX (a, b) };

            g_array_append_val (ranges, r);
        }
    }
    g_array_sort (ranges, cmp_range);
    return ranges;
}

/* The uids of @known (sorted) that lie in one of @ranges (sorted by first; they may overlap):
 * one pass over both. */
static GArray *
known_vanished (GArray *ranges, const guint32 *known, guint n_known)
{
    GArray *uids = g_array_new (FALSE, FALSE, sizeof (guint32));
    guint64 reach = 0; /* the highest last uid of the ranges that start at or below uid */
    guint j = 0;

    for (guint i = 0; i < n_known; i++) {
        for (; j < ranges->len && g_array_index (ranges, Range, j).first <= known[i]; j++)
            reach = MAX (reach, g_array_index (ranges, Range, j).last);
        if (known[i] != 0 && reach >= known[i])
            g_array_append_val (uids, known[i]);
    }
    return uids;
}

static gint
cmp_info (gconstpointer a, gconstpointer b)
{
    guint32 x = ((const NmsImapMessageInfo *) a)->uid;
    guint32 y = ((const NmsImapMessageInfo *) b)->uid;

    return x < y ? -1 : x > y;
}

/* The FETCH responses of the reply: uid and flags, sorted, the last one of a uid winning. */
static GArray *
changed_messages (NmsImapSession *s, clist *fetches)
{
    GArray *all = g_array_new (FALSE, TRUE, sizeof (NmsImapMessageInfo));
    GArray *out = g_array_new (FALSE, TRUE, sizeof (NmsImapMessageInfo));

    for (clistiter *it = fetches ? clist_begin (fetches) : NULL; it != NULL;
         it = clist_next (it)) {
        struct mailimap_msg_att *att = clist_content (it);
        NmsImapMessageInfo info = { 0 };

        if (att == NULL || (info.uid = nms_imap_msg_att_uid (att)) == 0 ||
            !nms_imap_msg_att_letters (s, att, info.flags))
            continue;
        g_array_append_val (all, info);
    }
    /* a stable sort keeps arrival order among equal uids: the later reply wins */
    g_array_sort (all, cmp_info);
    for (guint i = 0; i < all->len; i++) {
        if (i + 1 < all->len && g_array_index (all, NmsImapMessageInfo, i + 1).uid ==
                                    g_array_index (all, NmsImapMessageInfo, i).uid)
            continue;
        g_array_append_val (out, g_array_index (all, NmsImapMessageInfo, i));
    }
    g_array_unref (all);
    return out;
}

/* Sends the raw SELECT and parses its reply into the session, as mailimap_select() would. */
static int
send_select (NmsImapSession *s, const char *command)
{
    int r, state;

    if (s->imap->imap_selection_info != NULL)
        mailimap_selection_info_free (s->imap->imap_selection_info);
    s->imap->imap_selection_info = mailimap_selection_info_new ();
    s->imap->imap_state = MAILIMAP_STATE_AUTHENTICATED;
    if ((r = nms_imap_raw_command (s->imap, command, &state)) != MAILIMAP_NO_ERROR)
        return r;
    if (state != MAILIMAP_RESP_COND_STATE_OK)
        return MAILIMAP_ERROR_SELECT;
    s->imap->imap_state = MAILIMAP_STATE_SELECTED;
    return MAILIMAP_NO_ERROR;
}

gboolean
nms_imap_select_qresync (NmsImapSession *session, const char *wire_name, gboolean read_only,
                         guint32 uidvalidity, guint64 modseq, const guint32 *known,
                         guint n_known, NmsImapFolderState *state_out, GArray **changed_out,
                         GArray **vanished_out, GError **error)
{
    g_autofree char *quoted = NULL, *command = NULL;
    g_autoptr (GArray) ranges = NULL;
    struct mailimap_selection_info *sel;
    struct mailimap_response_info *info;
    int r;

    g_return_val_if_fail (session != NULL && wire_name != NULL && state_out != NULL, FALSE);
    g_return_val_if_fail (session->qresync && uidvalidity != 0 && modseq != 0, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    *changed_out = *vanished_out = NULL;
    if ((quoted = nms_imap_quote_name (wire_name)) == NULL)
        return nms_imap_select (session, wire_name, read_only, state_out, error);
    command = g_strdup_printf ("%s %s (QRESYNC (%u %" G_GUINT64_FORMAT "))",
                               read_only ? "EXAMINE" : "SELECT", quoted, uidvalidity, modseq);
    if ((r = send_select (session, command)) != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("%s '%s' (QRESYNC)",
                                                 read_only ? "EXAMINE" : "SELECT", wire_name);
        return nms_imap_session_fail (session, r, what, error);
    }
    sel = session->imap->imap_selection_info;
    info = session->imap->imap_response_info;
    if (sel == NULL || sel->sel_uidvalidity == 0) {
        session->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "server '%s' sent no UIDVALIDITY for folder '%s'", session->host, wire_name);
        return FALSE;
    }
    state_out->uidvalidity = sel->sel_uidvalidity;
    state_out->uidnext = sel->sel_uidnext;
    state_out->exists = sel->sel_exists;
    if (sel->sel_uidvalidity != uidvalidity)
        return TRUE; /* RFC 7162 §3.2.5.2: the server then ignores the parameter */
    ranges = vanished_ranges (info != NULL ? info->rsp_extension_list : NULL);
    *changed_out = changed_messages (session, info != NULL ? info->rsp_fetch_list : NULL);
    *vanished_out = known_vanished (ranges, known, n_known);
    return TRUE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The folder list with every folder's STATUS in one round trip: LIST-STATUS (RFC 5819) where
 * the server has it, else LIST followed by one STATUS per folder, pipelined in one write. Both
 * are sent raw and parsed with mailimap_response_parse(), which keeps every STATUS reply
 * (libetpan's own calls keep only the last one, LIBRARIES.md 1.2 and 1.4). */
#include "nms-build.h"

#include "imap/imap.h"

#include <string.h>

#include "imap/imap-private.h"

/* Exported by libetpan 1.9.4, declared in no installed header (LIBRARIES.md 1.1). */
int mailimap_response_parse (mailstream *fd, MMAPString *buffer,
                             struct mailimap_parser_context *parser_ctx, size_t *indx,
                             struct mailimap_response **result, size_t progr_rate,
                             progress_function *progr_fun);

/* STATUS commands per write: keeps the replies well below what socket buffers hold, so the
 * server never blocks writing while we are still writing. */
#define STATUS_BATCH 200

/* Writes @line and CRLF; returns FALSE when the stream failed. */
static gboolean
write_line (mailimap *imap, const char *line)
{
    return mailstream_write (imap->imap_stream, line, strlen (line)) >= 0 &&
           mailstream_write (imap->imap_stream, "\r\n", 2) >= 0;
}

int
nms_imap_read_response (mailimap *imap, struct mailimap_response **resp_out)
{
    struct mailimap_parser_context *ctx;
    size_t indx = 0;
    int r;

    if (mailimap_read_line (imap) == NULL)
        return MAILIMAP_ERROR_STREAM;
    ctx = mailimap_parser_context_new (imap);
    r = mailimap_response_parse (imap->imap_stream, imap->imap_stream_buffer, ctx, &indx,
                                 resp_out, 0, NULL);
    mailimap_parser_context_free (ctx);
    return r;
}

/* The tagged state of @resp when its tag is @tag: MAILIMAP_RESP_COND_STATE_OK/NO/BAD; -1 for
 * a BYE or a foreign tag (the session is out of step). */
static int
tagged_state (struct mailimap_response *resp, const char *tag)
{
    struct mailimap_response_done *done = resp->rsp_resp_done;

    if (done == NULL || done->rsp_type != MAILIMAP_RESP_DONE_TYPE_TAGGED ||
        done->rsp_data.rsp_tagged == NULL || done->rsp_data.rsp_tagged->rsp_tag == NULL ||
        g_ascii_strcasecmp (done->rsp_data.rsp_tagged->rsp_tag, tag) != 0 ||
        done->rsp_data.rsp_tagged->rsp_cond_state == NULL)
        return -1;
    return done->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
}

static void
apply_status (NmsImapFolder *f, struct mailimap_mailbox_data_status *st)
{
    for (clistiter *it = st->st_info_list ? clist_begin (st->st_info_list) : NULL; it != NULL;
         it = clist_next (it)) {
        struct mailimap_status_info *info = clist_content (it);
        struct mailimap_extension_data *ext = info->st_ext_data;

        switch (info->st_att) {
        case MAILIMAP_STATUS_ATT_UIDVALIDITY:
            f->uidvalidity = info->st_value;
            break;
        case MAILIMAP_STATUS_ATT_UIDNEXT:
            f->uidnext = info->st_value;
            break;
        case MAILIMAP_STATUS_ATT_MESSAGES:
            f->messages = info->st_value;
            break;
        case MAILIMAP_STATUS_ATT_EXTENSION:
            /* HIGHESTMODSEQ is 64 bits and comes as a CONDSTORE extension (LIBRARIES 1.2) */
            if (ext != NULL && ext->ext_extension != NULL &&
                ext->ext_extension->ext_id == MAILIMAP_EXTENSION_CONDSTORE &&
                ext->ext_type == MAILIMAP_CONDSTORE_TYPE_STATUS_INFO && ext->ext_data != NULL) {
                struct mailimap_condstore_status_info *cs = ext->ext_data;
                f->highestmodseq = cs->cs_highestmodseq_value;
            }
            break;
        default:
            break;
        }
    }
    /* RFC 3501 §2.3.1.1: without a UIDVALIDITY nothing about this folder can be compared */
    f->has_status = f->uidvalidity != 0;
}

/* The folder name of a STATUS reply as LIST gave it. libetpan 1.9.4 hands over a quoted
 * name with its quotes and backslashes ("\"My Folder\""), and INBOX in the case the server
 * chose. (transfer full) */
char *
nms_imap_status_name (const char *raw)
{
    gsize len = strlen (raw);
    GString *name;

    if (g_ascii_strcasecmp (raw, "INBOX") == 0 || g_ascii_strcasecmp (raw, "\"INBOX\"") == 0)
        return g_strdup ("INBOX");
    if (len < 2 || raw[0] != '"' || raw[len - 1] != '"')
        return g_strdup (raw);
    name = g_string_sized_new (len);
    for (gsize i = 1; i + 1 < len; i++) {
        if (raw[i] == '\\' && i + 2 < len)
            i++;
        g_string_append_c (name, raw[i]);
    }
    return g_string_free (name, FALSE);
}

/* The mailbox data of type @type (MAILIMAP_MAILBOX_DATA_LIST, _STATUS) that @item carries,
 * or NULL. */
static struct mailimap_mailbox_data *
mailbox_data (struct mailimap_cont_req_or_resp_data *item, int type)
{
    struct mailimap_response_data *data;
    struct mailimap_mailbox_data *mbd;

    if (item->rsp_type != MAILIMAP_RESP_RESP_DATA ||
        (data = item->rsp_data.rsp_resp_data) == NULL ||
        data->rsp_type != MAILIMAP_RESP_DATA_TYPE_MAILBOX_DATA ||
        (mbd = data->rsp_data.rsp_mailbox_data) == NULL || mbd->mbd_type != type)
        return NULL;
    return mbd;
}

/* Fills the folders of @by_wire (wire name -> NmsImapFolder) from every STATUS in @resp. */
static void
take_statuses (struct mailimap_response *resp, GHashTable *by_wire)
{
    clist *list = resp->rsp_cont_req_or_resp_data_list;

    for (clistiter *it = list ? clist_begin (list) : NULL; it != NULL; it = clist_next (it)) {
        struct mailimap_mailbox_data *mbd =
            mailbox_data (clist_content (it), MAILIMAP_MAILBOX_DATA_STATUS);
        g_autofree char *name = NULL;
        NmsImapFolder *f;

        if (mbd == NULL || mbd->mbd_data.mbd_status == NULL ||
            mbd->mbd_data.mbd_status->st_mailbox == NULL)
            continue;
        name = nms_imap_status_name (mbd->mbd_data.mbd_status->st_mailbox);
        f = g_hash_table_lookup (by_wire, name);
        if (f != NULL && f->problem == NULL)
            apply_status (f, mbd->mbd_data.mbd_status);
    }
}

/* The folders of every LIST reply in @resp. */
static GPtrArray *
take_folders (NmsImapSession *s, struct mailimap_response *resp, gboolean nul_seen,
              const GByteArray *raw)
{
    GPtrArray *folders = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_imap_folder_free);
    clist *list = resp->rsp_cont_req_or_resp_data_list;

    for (clistiter *it = list ? clist_begin (list) : NULL; it != NULL; it = clist_next (it)) {
        struct mailimap_mailbox_data *mbd =
            mailbox_data (clist_content (it), MAILIMAP_MAILBOX_DATA_LIST);
        struct mailimap_mailbox_list *mb = mbd != NULL ? mbd->mbd_data.mbd_list : NULL;

        if (mb == NULL || mb->mb_name == NULL)
            continue;
        g_ptr_array_add (folders, nms_imap_folder_from_list (s, mb, nul_seen, raw));
    }
    return folders;
}

static GHashTable *
index_by_wire (GPtrArray *folders)
{
    GHashTable *by_wire = g_hash_table_new (g_str_hash, g_str_equal);

    for (guint i = 0; i < folders->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (folders, i);
        g_hash_table_insert (by_wire, f->wire_name, f);
    }
    return by_wire;
}

static const char *
status_items (NmsImapSession *s)
{
    return nms_imap_session_has_capability (s, "CONDSTORE")
               ? "UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ"
               : "UIDVALIDITY UIDNEXT MESSAGES";
}

/* Turns a failed read or parse (@r), or a reply with a foreign tag or a BYE, into @error: the
 * session is out of step either way. */
static gboolean
out_of_step (NmsImapSession *s, int r, const char *what, GError **error)
{
    return nms_imap_session_fail (s, r != MAILIMAP_NO_ERROR ? r : MAILIMAP_ERROR_PROTOCOL, what,
                                  error);
}

/* LIST "" "*" RETURN (SPECIAL-USE STATUS (...)) in one command (RFC 5819). */
static GPtrArray *
list_status (NmsImapSession *s, GError **error)
{
    g_autofree char *cmd = g_strdup_printf (
        "LIST \"\" \"*\" RETURN (%sSTATUS (%s))",
        nms_imap_session_has_capability (s, "SPECIAL-USE") ? "SPECIAL-USE " : "", status_items (s));
    g_autofree char *tag = NULL;
    g_autoptr (GByteArray) raw = NULL;
    g_autoptr (GPtrArray) folders = NULL;
    g_autoptr (GHashTable) by_wire = NULL;
    struct mailimap_response *resp = NULL;
    gboolean nul_seen, complete;
    int r, state = -1;

    nms_imap_capture_start (s->imap);
    r = nms_imap_raw_send (s->imap, cmd);
    tag = g_strdup_printf ("%d", s->imap->imap_tag);
    if (r == MAILIMAP_NO_ERROR &&
        (r = nms_imap_read_response (s->imap, &resp)) == MAILIMAP_NO_ERROR)
        state = tagged_state (resp, tag);
    raw = nms_imap_capture_stop (s->imap, &nul_seen, &complete);
    if (r != MAILIMAP_NO_ERROR || state != MAILIMAP_RESP_COND_STATE_OK) {
        if (resp != NULL)
            mailimap_response_free (resp);
        /* A NO or BAD to our own tag leaves the session in step: the caller falls back. */
        if (r == MAILIMAP_NO_ERROR && state >= 0)
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                         "server '%s' refused LIST-STATUS", s->host);
        else
            out_of_step (s, r, "LIST-STATUS", error);
        return NULL;
    }
    folders = take_folders (s, resp, nul_seen, complete ? raw : NULL);
    by_wire = index_by_wire (folders);
    take_statuses (resp, by_wire);
    mailimap_response_free (resp);
    nms_imap_list_names_finish (s, folders);
    return g_steal_pointer (&folders);
}

/* 8-bit or control characters mean a hostile name: that folder then simply has no status. */
char *
nms_imap_quote_name (const char *wire_name)
{
    GString *q = g_string_new ("\"");

    for (const char *p = wire_name; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || (guchar) *p >= 0x7f) {
            g_string_free (q, TRUE);
            return NULL;
        }
        if (*p == '"' || *p == '\\')
            g_string_append_c (q, '\\');
        g_string_append_c (q, *p);
    }
    g_string_append_c (q, '"');
    return g_string_free (q, FALSE);
}

/* STATUS for @todo (NmsImapFolder, transfer none): written in one go with our own tags
 * (letters, so they never collide with libetpan's numbers), then every reply read in order.
 * A NO for one folder (deleted meanwhile) leaves that folder without status. */
static gboolean
status_batch (NmsImapSession *s, GPtrArray *todo, guint first, guint n, GError **error)
{
    g_autoptr (GHashTable) by_wire = g_hash_table_new (g_str_hash, g_str_equal);
    gboolean ok = TRUE;
    guint sent = 0;

    for (guint i = first; i < first + n; i++) {
        NmsImapFolder *f = g_ptr_array_index (todo, i);
        g_autofree char *quoted = nms_imap_quote_name (f->wire_name);
        g_autofree char *line = g_strdup_printf ("N%u STATUS %s (%s)", i, quoted, status_items (s));

        g_hash_table_insert (by_wire, f->wire_name, f);
        if (!write_line (s->imap, line))
            return nms_imap_session_fail (s, MAILIMAP_ERROR_STREAM, "STATUS", error);
        sent++;
    }
    if (mailstream_flush (s->imap->imap_stream) < 0)
        return nms_imap_session_fail (s, MAILIMAP_ERROR_STREAM, "STATUS", error);
    for (guint i = first; i < first + sent; i++) {
        g_autofree char *tag = g_strdup_printf ("N%u", i);
        struct mailimap_response *resp = NULL;
        int r = nms_imap_read_response (s->imap, &resp);
        int state = r == MAILIMAP_NO_ERROR ? tagged_state (resp, tag) : -1;

        /* every reply is read even after a NO, so the session stays in step */
        if (r == MAILIMAP_NO_ERROR && state == MAILIMAP_RESP_COND_STATE_OK)
            take_statuses (resp, by_wire);
        if (resp != NULL)
            mailimap_response_free (resp);
        if (r != MAILIMAP_NO_ERROR || state < 0) {
            ok = out_of_step (s, r, "STATUS", error);
            break;
        }
    }
    return ok;
}

/* One STATUS per folder that can have one, pipelined. */
static gboolean
status_each (NmsImapSession *s, GPtrArray *folders, GError **error)
{
    g_autoptr (GPtrArray) todo = g_ptr_array_new ();

    for (guint i = 0; i < folders->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (folders, i);
        g_autofree char *quoted = f->problem == NULL ? nms_imap_quote_name (f->wire_name) : NULL;

        if (quoted != NULL && !f->noselect)
            g_ptr_array_add (todo, f);
    }
    for (guint i = 0; i < todo->len; i += STATUS_BATCH) {
        if (!status_batch (s, todo, i, MIN (STATUS_BATCH, todo->len - i), error))
            return FALSE;
    }
    return TRUE;
}

GPtrArray *
nms_imap_list_status (NmsImapSession *session, GError **error)
{
    g_autoptr (GPtrArray) folders = NULL;

    g_return_val_if_fail (session != NULL, NULL);
    if (!nms_imap_session_check_alive (session, error))
        return NULL;
    if (nms_imap_session_has_capability (session, "LIST-STATUS")) {
        g_autoptr (GError) local = NULL;

        if ((folders = list_status (session, &local)) != NULL)
            return g_steal_pointer (&folders);
        if (!g_error_matches (local, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO)) {
            g_propagate_error (error, g_steal_pointer (&local));
            return NULL;
        }
    }
    /* Without CONDSTORE no STATUS can prove a folder unchanged (a flag change moves none of
     * its other values), so a STATUS per folder would only cost the server work. */
    if ((folders = nms_imap_list (session, error)) == NULL ||
        (nms_imap_session_has_capability (session, "CONDSTORE") &&
         !status_each (session, folders, error)))
        return NULL;
    return g_steal_pointer (&folders);
}

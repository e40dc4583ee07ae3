/* SPDX-License-Identifier: GPL-3.0-or-later
 * The commands that change the server: APPEND, UID STORE, UID EXPUNGE, UID MOVE (or COPY,
 * STORE and EXPUNGE), CREATE; plus the Message-ID fetch that finds messages again after an
 * APPEND without APPENDUID or a UIDVALIDITY change. UIDs a server reports (APPENDUID,
 * COPYUID) are only passed on when they name exactly what was asked for: a wrong UID would
 * pair a local file with another message, while 0 only makes the caller search. */
#include "nms-build.h"

#include "imap/imap.h"

#include <string.h>

#include "imap/imap-private.h"
#include "maildir/maildir.h"

/* Ranges per UID STORE / UID EXPUNGE: at most ~11 KB per command line, well below the
 * 8 KB-64 KB line limits servers use (Dovecot: imap_max_line_length = 64k). */
#define SET_MAX_RANGES 500

/* ---- small helpers ---------------------------------------------------------------------- */

/* The libetpan flag for IMAP flag @name ("\\Seen", "$Forwarded"). (transfer full) */
static struct mailimap_flag *
flag_from_name (const char *name)
{
    static const struct {
        const char *name;
        struct mailimap_flag *(*make) (void);
    } system[] = {
        { "\\Answered", mailimap_flag_new_answered }, { "\\Flagged", mailimap_flag_new_flagged },
        { "\\Deleted", mailimap_flag_new_deleted },   { "\\Seen", mailimap_flag_new_seen },
        { "\\Draft", mailimap_flag_new_draft },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (system); i++) {
        if (g_ascii_strcasecmp (name, system[i].name) == 0)
            return system[i].make ();
    }
    if (name[0] == '\\')
        return mailimap_flag_new_flag_extension (g_strdup (name + 1));
    return mailimap_flag_new_flag_keyword (g_strdup (name));
}

/* The IMAP flags of Maildir @letters, keyword letters through the session's map (letters
 * without an IMAP meaning are skipped); NULL when none is left. (transfer full) */
static struct mailimap_flag_list *
flag_list_from_letters (const NmsImapSession *session, const char *letters)
{
    struct mailimap_flag_list *list = NULL;
    g_autofree char *sorted = nms_maildir_flags_normalize (letters != NULL ? letters : "");

    for (const char *p = sorted; *p != '\0'; p++) {
        const char *name = g_ascii_islower (*p) ? nms_imap_letter_keyword (session, *p)
                                                : nms_maildir_flag_to_imap (*p);

        if (name == NULL)
            continue;
        if (list == NULL)
            list = mailimap_flag_list_new_empty ();
        if (mailimap_flag_list_add (list, flag_from_name (name)) != MAILIMAP_NO_ERROR)
            g_error ("out of memory");
    }
    return list;
}

/* The number of leading @uids (sorted, unique) that make at most SET_MAX_RANGES ranges. */
static guint
batch_length (const guint32 *uids, guint n)
{
    guint ranges = 0;
    guint i = 0;

    while (i < n && ranges < SET_MAX_RANGES) {
        while (i + 1 < n && uids[i + 1] == uids[i] + 1)
            i++;
        i++;
        ranges++;
    }
    return i;
}

/* The single uid of @set, or 0 when it names none or several. */
static guint32
single_uid (const struct mailimap_set *set)
{
    struct mailimap_set_item *item;

    if (set == NULL || set->set_list == NULL || clist_count (set->set_list) != 1)
        return 0;
    item = clist_content (clist_begin (set->set_list));
    /* 0 stands for "*" in libetpan's sets */
    if (item == NULL || item->set_first != item->set_last)
        return 0;
    return item->set_first;
}

/* The extension data of type @type (MAILIMAP_UIDPLUS_RESP_CODE_*) in the last reply, when
 * exactly one came; NULL for none or several (a server that contradicts itself). */
static void *
uidplus_code (NmsImapSession *s, int type)
{
    struct mailimap_response_info *info = s->imap->imap_response_info;
    void *found = NULL;

    if (info == NULL || info->rsp_extension_list == NULL)
        return NULL;
    for (clistiter *it = clist_begin (info->rsp_extension_list); it != NULL;
         it = clist_next (it)) {
        struct mailimap_extension_data *ext = clist_content (it);

        if (ext == NULL || ext->ext_extension != &mailimap_extension_uidplus ||
            ext->ext_type != type)
            continue;
        if (found != NULL)
            return NULL;
        found = ext->ext_data;
    }
    return found;
}

/* APPENDUID of the last reply (RFC 4315 §3): 0, 0 unless it names one uid. */
static void
read_appenduid (NmsImapSession *s, guint32 *uidvalidity_out, guint32 *uid_out)
{
    struct mailimap_uidplus_resp_code_apnd *apnd =
        uidplus_code (s, MAILIMAP_UIDPLUS_RESP_CODE_APND);
    guint32 uid = apnd != NULL ? single_uid (apnd->uid_set) : 0;

    *uidvalidity_out = 0;
    *uid_out = 0;
    if (uid != 0 && apnd->uid_uidvalidity != 0) {
        *uidvalidity_out = apnd->uid_uidvalidity;
        *uid_out = uid;
    }
}

/* COPYUID of the last reply (RFC 4315 §3, sent by COPY and by MOVE, RFC 6851 §4.3): 0, 0
 * unless its source set is exactly @src_uid and its destination set one uid. */
static void
read_copyuid (NmsImapSession *s, guint32 src_uid, guint32 *uidvalidity_out, guint32 *uid_out)
{
    struct mailimap_uidplus_resp_code_copy *copy =
        uidplus_code (s, MAILIMAP_UIDPLUS_RESP_CODE_COPY);
    guint32 dest = copy != NULL ? single_uid (copy->uid_dest_set) : 0;

    *uidvalidity_out = 0;
    *uid_out = 0;
    if (dest != 0 && copy->uid_uidvalidity != 0 && single_uid (copy->uid_source_set) == src_uid) {
        *uidvalidity_out = copy->uid_uidvalidity;
        *uid_out = dest;
    }
}

/* Stops a capture whose bytes serve only to quote a refusal. (transfer full) */
static GByteArray *
capture_stop (NmsImapSession *s)
{
    gboolean nul_seen;
    gboolean complete;
    GByteArray *raw = nms_imap_capture_stop (s->imap, &nul_seen, &complete);

    if (raw != NULL && !complete)
        g_clear_pointer (&raw, g_byte_array_unref); /* its last line may be missing */
    return raw;
}

/* ---- APPEND ----------------------------------------------------------------------------- */

/* @date as an IMAP date-time in local time with its UTC offset. (transfer full) */
static struct mailimap_date_time *
date_time_from_unix (gint64 date)
{
    g_autoptr (GDateTime) dt = g_date_time_new_from_unix_local (date);
    gint64 offset;
    int zone;

    if (dt == NULL) /* out of GDateTime's range: let the server pick the time */
        return NULL;
    offset = g_date_time_get_utc_offset (dt) / G_USEC_PER_SEC / 60; /* minutes */
    zone = (int) ((ABS (offset) / 60) * 100 + ABS (offset) % 60);
    return mailimap_date_time_new (g_date_time_get_day_of_month (dt), g_date_time_get_month (dt),
                                   g_date_time_get_year (dt), g_date_time_get_hour (dt),
                                   g_date_time_get_minute (dt), g_date_time_get_second (dt),
                                   offset < 0 ? -zone : zone);
}

gboolean
nms_imap_append (NmsImapSession *session, const char *wire_name, const char *path,
                 const char *flags, gint64 date, guint32 *uidvalidity_out, guint32 *uid_out,
                 GError **error)
{
    g_autoptr (GMappedFile) file = NULL;
    g_autoptr (GByteArray) raw = NULL;
    g_autoptr (GError) local = NULL;
    struct mailimap_flag_list *flag_list;
    struct mailimap_date_time *date_time;
    const char *data;
    int r;

    g_return_val_if_fail (session != NULL && wire_name != NULL && path != NULL, FALSE);
    g_return_val_if_fail (uidvalidity_out != NULL && uid_out != NULL, FALSE);
    *uidvalidity_out = 0;
    *uid_out = 0;
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    file = g_mapped_file_new (path, FALSE, &local);
    if (file == NULL) {
        g_set_error (error, G_FILE_ERROR, local->code, "cannot append '%s' to folder '%s': %s",
                     path, wire_name, local->message);
        return FALSE;
    }
    /* An empty file maps to NULL contents. */
    data = g_mapped_file_get_length (file) > 0 ? g_mapped_file_get_contents (file) : "";
    flag_list = flag_list_from_letters (session, flags);
    date_time = date_time_from_unix (date);
    /* libetpan announces the literal with its CRLF size (mailstream_get_data_crlf_size) and
     * sends it through mailstream_send_data_crlf, which turns every bare LF (and bare CR)
     * into CRLF on the way out, line by line from the mapping. */
    nms_imap_capture_start (session->imap);
    r = mailimap_append (session->imap, wire_name, flag_list, date_time, data,
                         g_mapped_file_get_length (file));
    raw = capture_stop (session);
    if (flag_list != NULL)
        mailimap_flag_list_free (flag_list);
    if (date_time != NULL)
        mailimap_date_time_free (date_time);
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("APPEND to '%s'", wire_name);
        return nms_imap_session_fail_reply (session, r, what, raw, error);
    }
    read_appenduid (session, uidvalidity_out, uid_out);
    return TRUE;
}

/* ---- UID STORE and UID EXPUNGE ---------------------------------------------------------- */

/* UID STORE @set +FLAGS.SILENT / -FLAGS.SILENT @list (consumed). */
static gboolean
store_one (NmsImapSession *s, struct mailimap_set *set, gboolean add,
           struct mailimap_flag_list *list, GError **error)
{
    struct mailimap_store_att_flags *att =
        add ? mailimap_store_att_flags_new_add_flags_silent (list)
            : mailimap_store_att_flags_new_remove_flags_silent (list);
    g_autoptr (GByteArray) raw = NULL;
    int r;

    nms_imap_capture_start (s->imap);
    r = mailimap_uid_store (s->imap, set, att);
    raw = capture_stop (s);
    mailimap_store_att_flags_free (att); /* frees @list too */
    if (r != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail_reply (s, r, add ? "UID STORE +FLAGS" : "UID STORE -FLAGS",
                                            raw, error);
    return TRUE;
}

gboolean
nms_imap_store_flags (NmsImapSession *session, const guint32 *uids, guint n_uids,
                      const char *add, const char *remove, GError **error)
{
    g_autoptr (GArray) todo = NULL;

    g_return_val_if_fail (session != NULL && (uids != NULL || n_uids == 0), FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    todo = nms_imap_sorted_unique (uids, n_uids);
    for (guint i = 0; i < todo->len;) {
        const guint32 *batch = &g_array_index (todo, guint32, i);
        guint n = batch_length (batch, todo->len - i);
        struct mailimap_set *set = nms_imap_set_from_sorted (batch, n);
        struct mailimap_flag_list *plus = flag_list_from_letters (session, add);
        struct mailimap_flag_list *minus = flag_list_from_letters (session, remove);
        gboolean ok = TRUE;

        if (plus != NULL)
            ok = store_one (session, set, TRUE, g_steal_pointer (&plus), error);
        if (ok && minus != NULL)
            ok = store_one (session, set, FALSE, g_steal_pointer (&minus), error);
        if (minus != NULL)
            mailimap_flag_list_free (minus);
        mailimap_set_free (set);
        if (!ok)
            return FALSE;
        i += n;
    }
    return TRUE;
}

gboolean
nms_imap_expunge_uids (NmsImapSession *session, const guint32 *uids, guint n_uids,
                       GError **error)
{
    g_autoptr (GArray) todo = NULL;

    g_return_val_if_fail (session != NULL && (uids != NULL || n_uids == 0), FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    if (!nms_imap_session_has_capability (session, "UIDPLUS")) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                     "server '%s' lacks UIDPLUS: cannot expunge single messages", session->host);
        return FALSE;
    }
    todo = nms_imap_sorted_unique (uids, n_uids);
    for (guint i = 0; i < todo->len;) {
        const guint32 *batch = &g_array_index (todo, guint32, i);
        guint n = batch_length (batch, todo->len - i);
        struct mailimap_set *set = nms_imap_set_from_sorted (batch, n);
        g_autoptr (GByteArray) raw = NULL;
        int r;

        nms_imap_capture_start (session->imap);
        r = mailimap_uid_expunge (session->imap, set);
        raw = capture_stop (session);
        mailimap_set_free (set);
        if (r != MAILIMAP_NO_ERROR)
            return nms_imap_session_fail_reply (session, r, "UID EXPUNGE", raw, error);
        i += n;
    }
    return TRUE;
}

/* ---- MOVE ------------------------------------------------------------------------------- */

/* UID MOVE or UID COPY (@move FALSE) of @uid to @dest, reading COPYUID. */
static gboolean
move_or_copy (NmsImapSession *s, guint32 uid, const char *dest, gboolean move,
              guint32 *uidvalidity_out, guint32 *uid_out, GError **error)
{
    struct mailimap_set *set = mailimap_set_new_single (uid);
    g_autoptr (GByteArray) raw = NULL;
    int r;

    nms_imap_capture_start (s->imap);
    /* Not mailimap_uidplus_uid_*: they take the first COPYUID without looking at it and
     * detach its sets; read_copyuid() checks every one. */
    r = move ? mailimap_uid_move (s->imap, set, dest) : mailimap_uid_copy (s->imap, set, dest);
    raw = capture_stop (s);
    mailimap_set_free (set);
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what =
            g_strdup_printf ("UID %s of message %u to '%s'", move ? "MOVE" : "COPY", uid, dest);
        return nms_imap_session_fail_reply (s, r, what, raw, error);
    }
    read_copyuid (s, uid, uidvalidity_out, uid_out);
    return TRUE;
}

gboolean
nms_imap_move (NmsImapSession *session, guint32 uid, const char *dest_wire_name,
               guint32 *dest_uidvalidity_out, guint32 *dest_uid_out, gboolean *expunged_out,
               GError **error)
{
    g_return_val_if_fail (session != NULL && uid != 0 && dest_wire_name != NULL, FALSE);
    g_return_val_if_fail (dest_uidvalidity_out != NULL && dest_uid_out != NULL, FALSE);
    g_return_val_if_fail (expunged_out != NULL, FALSE);
    *dest_uidvalidity_out = 0;
    *dest_uid_out = 0;
    *expunged_out = FALSE;
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    if (nms_imap_session_has_capability (session, "MOVE") && !session->no_move) {
        *expunged_out = move_or_copy (session, uid, dest_wire_name, TRUE, dest_uidvalidity_out,
                                      dest_uid_out, error);
        return *expunged_out;
    }
    /* RFC 6851 §3.3 describes MOVE as this sequence, minus its atomicity: a failure after
     * the COPY leaves the message in both folders, which the next sync sees as a copy. */
    if (!move_or_copy (session, uid, dest_wire_name, FALSE, dest_uidvalidity_out, dest_uid_out,
                       error) ||
        !nms_imap_store_flags (session, &uid, 1, "T", NULL, error))
        return FALSE;
    /* Without UIDPLUS only a plain EXPUNGE exists, which would also remove every message
     * other clients marked \Deleted: the original stays marked, the move is still done. */
    if (!nms_imap_session_has_capability (session, "UIDPLUS"))
        return TRUE;
    *expunged_out = nms_imap_expunge_uids (session, &uid, 1, error);
    return *expunged_out;
}

/* ---- CREATE and folder names ------------------------------------------------------------ */

/* Sets *@exists_out when LIST shows @wire_name as a folder. */
static gboolean
folder_exists (NmsImapSession *s, const char *wire_name, gboolean *exists_out, GError **error)
{
    clist *result = NULL;
    int r = mailimap_list (s->imap, "", wire_name, &result);

    *exists_out = FALSE;
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("LIST '%s'", wire_name);
        return nms_imap_session_fail (s, r, what, error);
    }
    for (clistiter *it = clist_begin (result); it != NULL; it = clist_next (it)) {
        struct mailimap_mailbox_list *mb = clist_content (it);

        /* a wildcard in @wire_name may list other folders too */
        if (mb != NULL && mb->mb_name != NULL && strcmp (mb->mb_name, wire_name) == 0)
            *exists_out = TRUE;
    }
    mailimap_list_result_free (result);
    return TRUE;
}

gboolean
nms_imap_create (NmsImapSession *session, const char *wire_name, GError **error)
{
    g_autoptr (GByteArray) raw = NULL;
    g_autoptr (GError) refused = NULL;
    g_autofree char *what = NULL;
    gboolean exists;
    int r;

    g_return_val_if_fail (session != NULL && wire_name != NULL, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    nms_imap_capture_start (session->imap);
    r = mailimap_create (session->imap, wire_name);
    raw = capture_stop (session);
    if (r == MAILIMAP_NO_ERROR)
        return TRUE;
    what = g_strdup_printf ("CREATE '%s'", wire_name);
    nms_imap_session_fail_reply (session, r, what, raw, &refused);
    if (!g_error_matches (refused, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO)) {
        g_propagate_error (error, g_steal_pointer (&refused));
        return FALSE;
    }
    /* RFC 5530 ALREADYEXISTS is optional, and the wording is the server's: ask LIST. */
    if (strstr (refused->message, "[ALREADYEXISTS]") != NULL)
        return TRUE;
    if (!folder_exists (session, wire_name, &exists, error))
        return FALSE;
    if (!exists)
        g_propagate_error (error, g_steal_pointer (&refused));
    return exists;
}

/* ---- UID FETCH of Message-IDs ----------------------------------------------------------- */

void
nms_imap_message_ident_free (NmsImapMessageIdent *ident)
{
    if (ident == NULL)
        return;
    g_free (ident->message_id);
    g_free (ident);
}

typedef struct {
    GPtrArray *idents;
    guint32 first;
} IdentFetch;

static void
ident_att_handler (struct mailimap_msg_att *att, void *ctx)
{
    IdentFetch *f = ctx;
    struct mailimap_msg_att_static *size =
        nms_imap_msg_att_static (att, MAILIMAP_MSG_ATT_RFC822_SIZE);
    struct mailimap_msg_att_static *st =
        nms_imap_msg_att_static (att, MAILIMAP_MSG_ATT_BODY_SECTION);
    struct mailimap_msg_att_body_section *sec = st != NULL ? st->att_data.att_body_section : NULL;
    guint32 uid = nms_imap_msg_att_uid (att);
    NmsImapMessageIdent *ident;

    /* unsolicited FETCHes (flag changes) carry no size; "n:*" returns the highest message
     * even below n (RFC 3501 §6.4.8) */
    if (uid < f->first || size == NULL)
        return;
    ident = g_new0 (NmsImapMessageIdent, 1);
    ident->uid = uid;
    ident->size = size->att_data.att_rfc822_size;
    if (sec != NULL && sec->sec_body_part != NULL)
        ident->message_id = nms_maildir_message_id_parse (sec->sec_body_part, sec->sec_length);
    g_ptr_array_add (f->idents, ident);
}

static gint
cmp_ident (gconstpointer a, gconstpointer b)
{
    const NmsImapMessageIdent *x = *(NmsImapMessageIdent *const *) a;
    const NmsImapMessageIdent *y = *(NmsImapMessageIdent *const *) b;

    return x->uid < y->uid ? -1 : x->uid > y->uid;
}

static struct mailimap_fetch_type *
ident_fetch_type (void)
{
    struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty ();
    clist *fields = clist_new ();

    if (fields == NULL || clist_append (fields, g_strdup ("MESSAGE-ID")) < 0)
        g_error ("out of memory");
    mailimap_fetch_type_new_fetch_att_list_add (type, mailimap_fetch_att_new_uid ());
    mailimap_fetch_type_new_fetch_att_list_add (type, mailimap_fetch_att_new_rfc822_size ());
    mailimap_fetch_type_new_fetch_att_list_add (
        type, mailimap_fetch_att_new_body_peek_section (
                  mailimap_section_new_header_fields (mailimap_header_list_new (fields))));
    return type;
}

GPtrArray *
nms_imap_fetch_idents (NmsImapSession *session, guint32 first, GError **error)
{
    g_autoptr (GPtrArray) idents = NULL;
    g_autoptr (GPtrArray) unique = NULL;
    IdentFetch f;
    struct mailimap_fetch_type *type;
    struct mailimap_set *set;
    int r;

    g_return_val_if_fail (session != NULL, NULL);
    if (!nms_imap_session_check_alive (session, error))
        return NULL;
    idents = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_imap_message_ident_free);
    f.idents = idents;
    f.first = MAX (first, 1);
    set = mailimap_set_new_interval (f.first, 0); /* first:* */
    type = ident_fetch_type ();
    /* No body handler: the header fields stay in the parsed response, one message at a time. */
    r = nms_imap_uid_fetch_streaming (session, set, type, ident_att_handler, NULL, &f);
    mailimap_fetch_type_free (type);
    mailimap_set_free (set);
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("UID FETCH %u:* (Message-IDs)", f.first);
        nms_imap_session_fail (session, r, what, error);
        return NULL;
    }
    /* n log n; a uid reported twice keeps its last report */
    g_ptr_array_sort (idents, cmp_ident);
    unique = g_ptr_array_new_full (idents->len, (GDestroyNotify) nms_imap_message_ident_free);
    for (guint i = 0; i < idents->len; i++) {
        NmsImapMessageIdent *e = g_ptr_array_index (idents, i);

        if (i + 1 < idents->len &&
            ((NmsImapMessageIdent *) g_ptr_array_index (idents, i + 1))->uid == e->uid)
            continue;
        g_ptr_array_add (unique, g_steal_pointer (&idents->pdata[i]));
    }
    return g_steal_pointer (&unique);
}

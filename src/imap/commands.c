/* SPDX-License-Identifier: GPL-3.0-or-later
 * The commands a pull needs: LIST, SELECT/EXAMINE, UID FETCH of flags and sizes, and
 * UID FETCH of bodies streamed chunk by chunk. Everything is copied out of libetpan's
 * structures before the next command frees them (LIBRARIES.md 1.3.7). */
#include "nms-build.h"

#include "imap/imap.h"

#include <stdbool.h>
#include <string.h>

#include "imap/imap-private.h"
#include "maildir/maildir.h"

/* UIDs per UID FETCH of bodies: keeps each command line short (a few KB at worst). */
#define BODY_BATCH 200

void
nms_imap_folder_free (NmsImapFolder *folder)
{
    if (folder == NULL)
        return;
    g_free (folder->name);
    g_free (folder->wire_name);
    g_free (folder->problem);
    g_free (folder->special_use);
    g_free (folder);
}

/* ---- LIST ---------------------------------------------------------------------------------- */

static gboolean
is_noselect (struct mailimap_mbx_list_flags *flags)
{
    if (flags == NULL)
        return FALSE;
    if (flags->mbf_type == MAILIMAP_MBX_LIST_FLAGS_SFLAG &&
        flags->mbf_sflag == MAILIMAP_MBX_LIST_SFLAG_NOSELECT)
        return TRUE;
    for (clistiter *it = clist_begin (flags->mbf_oflags); it != NULL; it = clist_next (it)) {
        struct mailimap_mbx_list_oflag *of = clist_content (it);
        const char *ext = of->of_flag_ext;

        if (of->of_type != MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT || ext == NULL)
            continue;
        /* libetpan strips the backslash of extension flags; accept it either way. */
        if (*ext == '\\')
            ext++;
        /* RFC 5258 §3: \NonExistent implies \Noselect */
        if (g_ascii_strcasecmp (ext, "NonExistent") == 0 ||
            g_ascii_strcasecmp (ext, "Noselect") == 0)
            return TRUE;
    }
    return FALSE;
}

/* The RFC 6154 special-use attribute among @flags ("\\Junk"), or NULL. (transfer full) */
static char *
special_use (struct mailimap_mbx_list_flags *flags)
{
    static const char *const uses[] = { "All", "Archive", "Drafts", "Flagged", "Junk", "Sent",
                                        "Trash" };

    for (clistiter *it = flags ? clist_begin (flags->mbf_oflags) : NULL; it != NULL;
         it = clist_next (it)) {
        struct mailimap_mbx_list_oflag *of = clist_content (it);
        const char *ext = of->of_flag_ext;

        if (of->of_type != MAILIMAP_MBX_LIST_OFLAG_FLAG_EXT || ext == NULL)
            continue;
        if (*ext == '\\') /* libetpan strips it; accept it either way */
            ext++;
        for (gsize i = 0; i < G_N_ELEMENTS (uses); i++) {
            if (g_ascii_strcasecmp (ext, uses[i]) == 0)
                return g_strconcat ("\\", uses[i], NULL);
        }
    }
    return NULL;
}

/* TRUE when the raw reply holds @name followed by a NUL byte: libetpan cut a longer name there. */
static gboolean
cut_at_nul (const GByteArray *raw, const char *name)
{
    gsize len = strlen (name) + 1; /* with the NUL */

    return raw != NULL && memmem (raw->data, raw->len, name, len) != NULL;
}

/* The first personal namespace's prefix, "" without one or when NAMESPACE fails: the prefix
 * only makes names nicer, and INBOX.Sent stays a working name. (transfer full) */
static char *
ask_prefix (NmsImapSession *session)
{
    struct mailimap_namespace_data *ns = NULL;
    struct mailimap_namespace_info *info = NULL;
    char *prefix;

    if (nms_imap_session_has_capability (session, "NAMESPACE") &&
        mailimap_namespace (session->imap, &ns) == MAILIMAP_NO_ERROR && ns != NULL &&
        ns->ns_personal != NULL && ns->ns_personal->ns_data_list != NULL &&
        clist_begin (ns->ns_personal->ns_data_list) != NULL)
        info = clist_content (clist_begin (ns->ns_personal->ns_data_list));
    prefix = g_strdup (info != NULL && info->ns_prefix != NULL ? info->ns_prefix : "");
    if (ns != NULL)
        mailimap_namespace_data_free (ns);
    return prefix;
}

/* TRUE when a folder of @folders is a child of INBOX ("INBOX.Sent"): the mark of a personal
 * namespace under INBOX, the one case worth a NAMESPACE round trip. */
static gboolean
inbox_children (GPtrArray *folders)
{
    for (guint i = 0; i < folders->len; i++) {
        NmsImapFolder *f = g_ptr_array_index (folders, i);

        if (f->delimiter != '\0' && g_ascii_strncasecmp (f->wire_name, "INBOX", 5) == 0 &&
            f->wire_name[5] == f->delimiter && f->wire_name[6] != '\0')
            return TRUE;
    }
    return FALSE;
}

static void
folder_name (NmsImapSession *session, NmsImapFolder *f)
{
    g_autoptr (GError) local = NULL;

    if (f->nul_cut)
        return;
    g_clear_pointer (&f->name, g_free);
    g_clear_pointer (&f->problem, g_free);
    f->name = nms_imap_folder_name_from_wire (f->wire_name, f->delimiter, session->prefix, &local);
    if (f->name == NULL)
        f->problem = g_strdup (local->message);
}

void
nms_imap_folders_rename (NmsImapSession *session, GPtrArray *folders)
{
    for (guint i = 0; i < folders->len; i++)
        folder_name (session, g_ptr_array_index (folders, i));
}

void
nms_imap_list_names_finish (NmsImapSession *session, GPtrArray *folders)
{
    if (session->prefix != NULL)
        return;
    session->prefix = inbox_children (folders) ? ask_prefix (session) : g_strdup ("");
    if (*session->prefix != '\0')
        nms_imap_folders_rename (session, folders);
}

NmsImapFolder *
nms_imap_folder_from_list (NmsImapSession *session, struct mailimap_mailbox_list *mb,
                           gboolean nul_seen, const GByteArray *raw)
{
    NmsImapFolder *f = g_new0 (NmsImapFolder, 1);

    /* nms_imap_folder_wire_name() needs it; servers use one delimiter per namespace */
    if (session->delimiter == 0)
        session->delimiter = mb->mb_delimiter;
    f->wire_name = g_strdup (mb->mb_name);
    f->delimiter = mb->mb_delimiter;
    f->noselect = is_noselect (mb->mb_flag);
    f->special_use = special_use (mb->mb_flag);
    if (nul_seen && (raw == NULL || cut_at_nul (raw, f->wire_name))) {
        f->nul_cut = TRUE;
        f->problem = g_strdup ("the server sent a folder name containing a NUL byte");
        return f;
    }
    folder_name (session, f);
    return f;
}

GPtrArray *
nms_imap_list (NmsImapSession *session, GError **error)
{
    g_autoptr (GPtrArray) folders = NULL;
    g_autoptr (GByteArray) raw = NULL;
    clist *result = NULL;
    gboolean nul_seen;
    gboolean complete;
    int r;

    g_return_val_if_fail (session != NULL, NULL);
    if (!nms_imap_session_check_alive (session, error))
        return NULL;
    nms_imap_capture_start (session->imap);
    r = mailimap_list (session->imap, "", "*", &result);
    raw = nms_imap_capture_stop (session->imap, &nul_seen, &complete);
    if (r != MAILIMAP_NO_ERROR) {
        nms_imap_session_fail (session, r, "LIST", error);
        return NULL;
    }
    folders = g_ptr_array_new_with_free_func ((GDestroyNotify) nms_imap_folder_free);
    for (clistiter *it = clist_begin (result); it != NULL; it = clist_next (it)) {
        struct mailimap_mailbox_list *mb = clist_content (it);

        if (mb == NULL || mb->mb_name == NULL)
            continue;
        g_ptr_array_add (folders,
                         nms_imap_folder_from_list (session, mb, nul_seen, complete ? raw : NULL));
    }
    mailimap_list_result_free (result);
    nms_imap_list_names_finish (session, folders);
    return g_steal_pointer (&folders);
}

/* ---- SELECT -------------------------------------------------------------------------------- */

gboolean
nms_imap_select (NmsImapSession *session, const char *wire_name, gboolean read_only,
                 NmsImapFolderState *state_out, GError **error)
{
    struct mailimap_selection_info *sel;
    int r;

    g_return_val_if_fail (session != NULL && wire_name != NULL && state_out != NULL, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    r = read_only ? mailimap_examine (session->imap, wire_name)
                  : mailimap_select (session->imap, wire_name);
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("%s '%s'", read_only ? "EXAMINE" : "SELECT",
                                                 wire_name);
        return nms_imap_session_fail (session, r, what, error);
    }
    sel = session->imap->imap_selection_info;
    if (sel == NULL || sel->sel_uidvalidity == 0) {
        /* RFC 3501 §2.3.1.1: without a UIDVALIDITY no UID can be trusted */
        session->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "server '%s' sent no UIDVALIDITY for folder '%s'", session->host, wire_name);
        return FALSE;
    }
    state_out->uidvalidity = sel->sel_uidvalidity;
    state_out->uidnext = sel->sel_uidnext;
    state_out->exists = sel->sel_exists;
    return TRUE;
}

/* ---- helpers for FETCH --------------------------------------------------------------------- */

struct mailimap_msg_att_static *
nms_imap_msg_att_static (struct mailimap_msg_att *att, int type)
{
    for (clistiter *it = clist_begin (att->att_list); it != NULL; it = clist_next (it)) {
        struct mailimap_msg_att_item *item = clist_content (it);

        if (item->att_type == MAILIMAP_MSG_ATT_ITEM_STATIC && item->att_data.att_static != NULL &&
            item->att_data.att_static->att_type == type)
            return item->att_data.att_static;
    }
    return NULL;
}

/* The UID of a FETCH response, 0 when it has none. */
guint32
nms_imap_msg_att_uid (struct mailimap_msg_att *att)
{
    struct mailimap_msg_att_static *st = nms_imap_msg_att_static (att, MAILIMAP_MSG_ATT_UID);

    return st != NULL ? st->att_data.att_uid : 0;
}

static struct mailimap_msg_att_dynamic *
msg_att_dynamic (struct mailimap_msg_att *att)
{
    for (clistiter *it = clist_begin (att->att_list); it != NULL; it = clist_next (it)) {
        struct mailimap_msg_att_item *item = clist_content (it);

        if (item->att_type == MAILIMAP_MSG_ATT_ITEM_DYNAMIC)
            return item->att_data.att_dyn;
    }
    return NULL;
}

static const char *
system_flag_name (int type)
{
    switch (type) {
    case MAILIMAP_FLAG_ANSWERED:
        return "\\Answered";
    case MAILIMAP_FLAG_FLAGGED:
        return "\\Flagged";
    case MAILIMAP_FLAG_DELETED:
        return "\\Deleted";
    case MAILIMAP_FLAG_SEEN:
        return "\\Seen";
    case MAILIMAP_FLAG_DRAFT:
        return "\\Draft";
    default:
        return NULL;
    }
}

/* Maildir letters for a FLAGS list: system flags by type, keywords ($Forwarded) by name, and
 * the keywords the session maps to letters (a-z) as those letters. */
static void
flags_to_letters (const NmsImapSession *session, struct mailimap_msg_att_dynamic *dyn,
                  char letters[NMS_MAILDIR_FLAGS_SIZE])
{
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    g_autoptr (GString) keyword_letters = g_string_new (NULL);
    g_autofree char *maildir = NULL, *all = NULL;

    if (dyn != NULL && dyn->att_list != NULL) {
        for (clistiter *it = clist_begin (dyn->att_list); it != NULL; it = clist_next (it)) {
            struct mailimap_flag_fetch *ff = clist_content (it);
            struct mailimap_flag *fl = ff != NULL ? ff->fl_flag : NULL;

            if (ff == NULL || ff->fl_type != MAILIMAP_FLAG_FETCH_OTHER || fl == NULL)
                continue;
            if (fl->fl_type == MAILIMAP_FLAG_KEYWORD && fl->fl_data.fl_keyword != NULL &&
                nms_imap_keyword_letter (session, fl->fl_data.fl_keyword) != 0)
                g_string_append_c (keyword_letters,
                                   nms_imap_keyword_letter (session, fl->fl_data.fl_keyword));
            else if (fl->fl_type == MAILIMAP_FLAG_KEYWORD && fl->fl_data.fl_keyword != NULL)
                g_ptr_array_add (names, g_strdup (fl->fl_data.fl_keyword));
            else if (fl->fl_type == MAILIMAP_FLAG_EXTENSION && fl->fl_data.fl_extension != NULL)
                g_ptr_array_add (names, g_strconcat ("\\", fl->fl_data.fl_extension, NULL));
            else if (system_flag_name (fl->fl_type) != NULL)
                g_ptr_array_add (names, g_strdup (system_flag_name (fl->fl_type)));
        }
    }
    maildir = nms_maildir_flags_from_imap ((const char *const *) names->pdata, names->len);
    all = g_strconcat (maildir != NULL ? maildir : "", keyword_letters->str, NULL);
    g_free (maildir);
    maildir = nms_maildir_flags_normalize (all);
    g_strlcpy (letters, maildir, NMS_MAILDIR_FLAGS_SIZE);
}

gboolean
nms_imap_msg_att_letters (const NmsImapSession *session, struct mailimap_msg_att *att,
                          char letters[NMS_MAILDIR_FLAGS_SIZE])
{
    struct mailimap_msg_att_dynamic *dyn = msg_att_dynamic (att);

    if (dyn == NULL)
        return FALSE;
    flags_to_letters (session, dyn, letters);
    return TRUE;
}

/* A set of sorted, unique @uids, with runs coalesced into ranges ("1:5,9"). */
struct mailimap_set *
nms_imap_set_from_sorted (const guint32 *uids, guint n)
{
    struct mailimap_set *set = mailimap_set_new_empty ();

    for (guint i = 0; i < n;) {
        guint j = i;

        while (j + 1 < n && uids[j + 1] == uids[j] + 1)
            j++;
        if (mailimap_set_add_interval (set, uids[i], uids[j]) != MAILIMAP_NO_ERROR)
            g_error ("out of memory");
        i = j + 1;
    }
    return set;
}

gint
nms_imap_cmp_uid (gconstpointer a, gconstpointer b)
{
    guint32 x = *(const guint32 *) a;
    guint32 y = *(const guint32 *) b;

    return x < y ? -1 : x > y;
}

static void
no_progress (size_t current, size_t maximum, void *context)
{
}

/* libetpan reads a whole reply into the session's stream buffer before the tagged line ends
 * it (about 80 bytes per message for UID FETCH 1:* (UID FLAGS)) and never shrinks that buffer:
 * each connection would keep its biggest folder's reply for the rest of the run (issue 15).
 * A fresh, empty buffer once a big reply is over; between commands nothing points into it. */
#define STREAM_BUFFER_KEEP (64 * 1024)

static void
shrink_stream_buffer (mailimap *imap)
{
    MMAPString *fresh;

    if (imap->imap_stream_buffer == NULL ||
        imap->imap_stream_buffer->allocated_len <= STREAM_BUFFER_KEEP ||
        (fresh = mmap_string_new ("")) == NULL)
        return;
    mmap_string_free (imap->imap_stream_buffer);
    imap->imap_stream_buffer = fresh;
}

/* Runs UID FETCH @set @type with @att_fn called for every FETCH response as it completes
 * (and then freed), so memory stays bounded, and @body_fn (may be NULL) for every chunk of a
 * body. libetpan calls the att handler only when a progress callback is set (LIBRARIES.md
 * 1.5). Restores the handlers either way. */
int
nms_imap_uid_fetch_streaming (NmsImapSession *s, struct mailimap_set *set,
                              struct mailimap_fetch_type *type, mailimap_msg_att_handler *att_fn,
                              mailimap_msg_body_handler *body_fn, void *ctx)
{
    clist *result = NULL;
    int r;

    mailimap_set_progress_callback (s->imap, no_progress, no_progress, ctx);
    mailimap_set_msg_att_handler (s->imap, att_fn, ctx);
    mailimap_set_msg_body_handler (s->imap, body_fn, ctx);
    r = mailimap_uid_fetch (s->imap, set, type, &result);
    mailimap_set_msg_body_handler (s->imap, NULL, NULL);
    mailimap_set_msg_att_handler (s->imap, NULL, NULL);
    mailimap_set_progress_callback (s->imap, NULL, NULL, NULL);
    /* On failure 1.9.4 has already freed the list but leaves *result pointing at it. */
    if (r == MAILIMAP_NO_ERROR && result != NULL)
        mailimap_fetch_list_free (result);
    shrink_stream_buffer (s->imap);
    return r;
}

/* ---- UID FETCH flags and sizes ------------------------------------------------------------- */

typedef struct {
    NmsImapMessageInfo info;
    guint seq; /* arrival order: a later FETCH of the same uid is more recent */
} InfoEntry;

typedef struct {
    GArray *entries;
    const NmsImapSession *session;
} InfoFetch;

static void
info_att_handler (struct mailimap_msg_att *att, void *ctx)
{
    InfoFetch *fetch = ctx;
    GArray *entries = fetch->entries;
    struct mailimap_msg_att_static *size =
        nms_imap_msg_att_static (att, MAILIMAP_MSG_ATT_RFC822_SIZE);
    struct mailimap_msg_att_dynamic *dyn = msg_att_dynamic (att);
    InfoEntry e = { { 0 }, entries->len };

    e.info.uid = nms_imap_msg_att_uid (att);
    /* An unsolicited FETCH (a flag change from another client) may lack the UID; the
     * solicited reply for that message carries both. */
    if (e.info.uid == 0 || dyn == NULL)
        return;
    e.info.size = size != NULL ? size->att_data.att_rfc822_size : 0;
    flags_to_letters (fetch->session, dyn, e.info.flags);
    g_array_append_val (entries, e);
}

static gint
cmp_info_entry (gconstpointer a, gconstpointer b)
{
    const InfoEntry *x = a;
    const InfoEntry *y = b;

    if (x->info.uid != y->info.uid)
        return x->info.uid < y->info.uid ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

GArray *
nms_imap_fetch_infos (NmsImapSession *session, guint32 first, GError **error)
{
    g_autoptr (GArray) entries = g_array_new (FALSE, FALSE, sizeof (InfoEntry));
    g_autoptr (GArray) infos = NULL;
    struct mailimap_fetch_type *type;
    struct mailimap_set *set;
    int r;

    g_return_val_if_fail (session != NULL, NULL);
    if (!nms_imap_session_check_alive (session, error))
        return NULL;
    first = MAX (first, 1);
    set = mailimap_set_new_interval (first, 0); /* first:* */
    type = mailimap_fetch_type_new_fetch_att_list_empty ();
    mailimap_fetch_type_new_fetch_att_list_add (type, mailimap_fetch_att_new_uid ());
    mailimap_fetch_type_new_fetch_att_list_add (type, mailimap_fetch_att_new_flags ());
    /* No RFC822.SIZE: nothing needs it, and a server may have to open every message file to
     * tell it (Dovecot does when its cache lacks it), failing the whole folder over one
     * broken message that the body fetch would skip on its own (t716). */
    r = nms_imap_uid_fetch_streaming (session, set, type, info_att_handler, NULL,
                                      &(InfoFetch) { entries, session });
    mailimap_fetch_type_free (type);
    mailimap_set_free (set);
    if (r != MAILIMAP_NO_ERROR) {
        g_autofree char *what = g_strdup_printf ("UID FETCH %u:* (flags)", first);
        nms_imap_session_fail (session, r, what, error);
        return NULL;
    }
    /* n log n for any folder size; of several replies for one uid the last one wins */
    g_array_sort (entries, cmp_info_entry);
    infos = g_array_sized_new (FALSE, FALSE, sizeof (NmsImapMessageInfo), entries->len);
    for (guint i = 0; i < entries->len; i++) {
        const InfoEntry *e = &g_array_index (entries, InfoEntry, i);

        /* "n:*" also returns the highest message when n is above it (RFC 3501 §6.4.8) */
        if (e->info.uid < first)
            continue;
        if (i + 1 < entries->len &&
            g_array_index (entries, InfoEntry, i + 1).info.uid == e->info.uid)
            continue;
        g_array_append_val (infos, e->info);
    }
    return g_steal_pointer (&infos);
}

/* ---- UID FETCH bodies ---------------------------------------------------------------------- */

typedef struct {
    NmsImapSession *session;
    const NmsImapBodySink *sink;
    gpointer user_data;
    const guint32 *batch;  /* sorted, unique: the uids of the current command */
    guint n_batch;
    gboolean *delivered;   /* parallel to @batch */
    gboolean streamed;     /* the current message got bytes through the body handler */
    GError *error;         /* set once: every later callback does nothing */
    gboolean aborted;      /* @error came from the sink, not from the server */
} BodyFetch;

static bool
body_handler (int att_type, struct mailimap_msg_att_body_section *section, const char *bytes,
              size_t len, void *ctx)
{
    BodyFetch *bf = ctx;

    if (bf->error != NULL)
        return false; /* abort the command: the session is then dead */
    bf->streamed = TRUE;
    if (len == 0)
        return true;
    if (!bf->sink->chunk (bytes, len, bf->user_data, &bf->error)) {
        if (bf->error == NULL)
            g_set_error_literal (&bf->error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_ABORTED,
                                 "the receiver of a message body gave up");
        bf->aborted = TRUE;
        return false;
    }
    return true;
}

static void
body_protocol_error (BodyFetch *bf, const char *fmt, guint32 uid)
{
    g_set_error (&bf->error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL, fmt, bf->session->host,
                 uid);
}

/* Fires after each FETCH response is complete. A response without body is an unsolicited
 * flag update and is ignored; a body for a uid not asked for (or asked for and already
 * delivered) is a hostile or broken server: its bytes already went to the sink as the
 * current message, so stop instead of naming them. */
static void
body_att_handler (struct mailimap_msg_att *att, void *ctx)
{
    BodyFetch *bf = ctx;
    struct mailimap_msg_att_static *st =
        nms_imap_msg_att_static (att, MAILIMAP_MSG_ATT_BODY_SECTION);
    struct mailimap_msg_att_body_section *sec = st != NULL ? st->att_data.att_body_section : NULL;
    gboolean streamed = bf->streamed;
    guint32 uid = nms_imap_msg_att_uid (att);
    guint32 *hit;

    bf->streamed = FALSE;
    if (bf->error != NULL || (st == NULL && !streamed))
        return;
    hit = bsearch (&uid, bf->batch, bf->n_batch, sizeof (guint32), nms_imap_cmp_uid);
    if (uid == 0) {
        g_set_error (&bf->error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "server '%s' sent a message body without UID", bf->session->host);
        return;
    }
    if (hit == NULL) {
        body_protocol_error (bf, "server '%s' sent message UID %u that was not requested", uid);
        return;
    }
    if (bf->delivered[hit - bf->batch]) {
        body_protocol_error (bf, "server '%s' sent message UID %u twice", uid);
        return;
    }
    bf->delivered[hit - bf->batch] = TRUE;
    /* 1.9.4 hands even a quoted-string body to the body handler (byte by byte, unescaped);
     * should a body still end up only in the parsed response, deliver it from there. */
    if (!streamed && sec != NULL && sec->sec_body_part != NULL && sec->sec_length > 0 &&
        !bf->sink->chunk (sec->sec_body_part, sec->sec_length, bf->user_data, &bf->error)) {
        bf->aborted = TRUE;
    } else if (!bf->sink->done (uid, bf->user_data, &bf->error)) {
        bf->aborted = TRUE;
    }
    if (bf->aborted && bf->error == NULL)
        g_set_error_literal (&bf->error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_ABORTED,
                             "the receiver of a message body gave up");
}

static struct mailimap_fetch_type *
body_fetch_type (void)
{
    struct mailimap_fetch_type *type = mailimap_fetch_type_new_fetch_att_list_empty ();

    mailimap_fetch_type_new_fetch_att_list_add (type, mailimap_fetch_att_new_uid ());
    mailimap_fetch_type_new_fetch_att_list_add (
        type, mailimap_fetch_att_new_body_peek_section (mailimap_section_new (NULL)));
    return type;
}

/* One UID FETCH for @n sorted, unique uids. Returns the libetpan code; bf->error may be set
 * even when the command itself succeeded. */
static int
fetch_batch (BodyFetch *bf, const guint32 *uids, guint n)
{
    struct mailimap_set *set = nms_imap_set_from_sorted (uids, n);
    struct mailimap_fetch_type *type = body_fetch_type ();
    g_autofree gboolean *delivered = g_new0 (gboolean, n);
    int r;

    bf->batch = uids;
    bf->n_batch = n;
    bf->delivered = delivered;
    bf->streamed = FALSE;
    r = nms_imap_uid_fetch_streaming (bf->session, set, type, body_att_handler, body_handler, bf);
    bf->delivered = NULL;
    mailimap_fetch_type_free (type);
    mailimap_set_free (set);
    return r;
}

/* The uids sorted and without duplicates (transfer full). */
GArray *
nms_imap_sorted_unique (const guint32 *uids, guint n)
{
    GArray *a = g_array_sized_new (FALSE, FALSE, sizeof (guint32), n);
    guint out = 0;

    g_array_append_vals (a, uids, n);
    g_array_sort (a, nms_imap_cmp_uid);
    for (guint i = 0; i < a->len; i++) {
        guint32 u = g_array_index (a, guint32, i);

        if (u != 0 && (out == 0 || g_array_index (a, guint32, out - 1) != u))
            g_array_index (a, guint32, out++) = u;
    }
    g_array_set_size (a, out);
    return a;
}

gboolean
nms_imap_fetch_bodies (NmsImapSession *session, const guint32 *uids, guint n_uids,
                       const NmsImapBodySink *sink, gpointer user_data, GError **error)
{
    g_autoptr (GArray) todo = NULL;
    g_autoptr (GError) refused = NULL; /* the first NO: reported after the other batches */
    BodyFetch bf = { session, sink, user_data, NULL, 0, NULL, FALSE, NULL, FALSE };

    g_return_val_if_fail (session != NULL && sink != NULL && (uids != NULL || n_uids == 0), FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    todo = nms_imap_sorted_unique (uids, n_uids);
    for (guint i = 0; i < todo->len; i += BODY_BATCH) {
        guint n = MIN (BODY_BATCH, todo->len - i);
        const guint32 *batch = &g_array_index (todo, guint32, i);
        int r = fetch_batch (&bf, batch, n);

        if (bf.error != NULL) {
            /* The reply may be cut short (the body handler aborted it) with the rest left
             * unread, and the caller's message is half written: start over. */
            session->dead = TRUE;
            if (bf.aborted) {
                g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_ABORTED,
                             "fetching from '%s' stopped: %s", session->host, bf.error->message);
                g_error_free (bf.error);
            } else {
                g_propagate_error (error, bf.error);
            }
            return FALSE;
        }
        if (r == MAILIMAP_ERROR_UID_FETCH) {
            /* Dovecot: "NO Some messages could not be FETCHed": the others arrived */
            if (refused == NULL)
                nms_imap_session_fail (session, r, "UID FETCH (bodies)", &refused);
            continue;
        }
        if (r != MAILIMAP_NO_ERROR)
            return nms_imap_session_fail (session, r, "UID FETCH (bodies)", error);
    }
    if (refused != NULL) {
        g_propagate_error (error, g_steal_pointer (&refused));
        return FALSE;
    }
    return TRUE;
}

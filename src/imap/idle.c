/* SPDX-License-Identifier: GPL-3.0-or-later
 * Waiting for the server to say that something changed (nmsync watch): NOTIFY SET (RFC 5465),
 * IDLE (RFC 2177) started and ended raw, and the untagged responses pushed meanwhile turned
 * into "folder X changed" / "the folder list changed". IDLE ends with a raw DONE and the whole
 * reply is parsed with mailimap_response_parse(): libetpan's mailimap_idle_done() keeps only
 * the last STATUS of a burst (LIBRARIES.md 1.2, 1.7). Nothing here waits on the socket: the
 * caller polls nms_imap_idle_fd() with its own wake-up descriptor. */
#include "nms-build.h"

#include "imap/imap.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "imap/frame.h"
#include "imap/imap-private.h"
#include "maildir/maildir.h"

/* Exported by libetpan 1.9.4, declared in no installed header (LIBRARIES.md 1.1). */
int mailimap_response_parse (mailstream *fd, MMAPString *buffer,
                             struct mailimap_parser_context *parser_ctx, size_t *indx,
                             struct mailimap_response **result, size_t progr_rate,
                             progress_function *progr_fun);

/* Untagged lines a server may send between IDLE and its "+" before nmsync gives up. */
#define MAX_LINES_BEFORE_CONTINUATION 64

void
nms_imap_push_init (NmsImapPush *push)
{
    memset (push, 0, sizeof *push);
    push->folders = g_ptr_array_new_with_free_func (g_free);
}

void
nms_imap_push_clear (NmsImapPush *push)
{
    g_clear_pointer (&push->folders, g_ptr_array_unref);
    push->selected = FALSE;
    push->folder_list = FALSE;
    push->unknown = FALSE;
}

static void
add_folder (NmsImapPush *push, char *name)
{
    for (guint i = 0; i < push->folders->len; i++) {
        if (strcmp (g_ptr_array_index (push->folders, i), name) == 0) {
            g_free (name);
            return;
        }
    }
    g_ptr_array_add (push->folders, name);
}

/* Adds the folder called @wire (as the server wrote it) to @push; FALSE when the name does not
 * decode. */
static gboolean
take_name (const char *wire, char delim, const char *prefix, NmsImapPush *push)
{
    g_autofree char *encoded = NULL;
    char *name;

    /* what libetpan makes of a literal name ("{0}" CRLF and the rest) must not pass as one,
     * nor an empty name */
    if (*wire == '\0' || nms_maildir_has_control_char (wire))
        return FALSE;

    /* Dovecot 2.3.19 names a folder in a NOTIFY STATUS in UTF-8, as a literal, where LIST
     * and everything else use modified UTF-7 (seen with "Entwürfe.alt"): take 8-bit UTF-8
     * as meant, by encoding it the way the name should have come. */
    if (g_utf8_validate (wire, -1, NULL) && !g_str_is_ascii (wire))
        wire = encoded = nms_utf7_encode (wire);
    name = nms_imap_folder_name_from_wire (wire, delim != 0 ? delim : '/', prefix, NULL);
    if (name == NULL)
        return FALSE;
    /* modified UTF-7 can spell a control character ("&ABA-" is U+0010): no folder nmsync
     * syncs has one (nms_maildir_folder_to_path() refuses it), so the name stays unknown and
     * the next run looks at every folder (found by fuzz-push) */
    if (nms_maildir_has_control_char (name)) {
        g_free (name);
        return FALSE;
    }
    add_folder (push, name);
    return TRUE;
}

/* A pushed STATUS names a folder other than the selected one (NOTIFY). Returns FALSE when its
 * name does not decode: libetpan 1.9.4 turns a mailbox name sent as a literal into "{0}"
 * (Dovecot sends 8-bit names so), which scan_literal_names() then finds in the raw bytes. */
static gboolean
take_status (struct mailimap_mailbox_data_status *st, char delim, const char *prefix,
             NmsImapPush *push)
{
    g_autofree char *wire = NULL;

    if (st == NULL || st->st_mailbox == NULL)
        return TRUE;
    wire = nms_imap_status_name (st->st_mailbox);
    return take_name (wire, delim, prefix, push);
}

/* The longest folder name taken from a literal; longer ones stay "unknown". */
#define MAX_LITERAL_NAME 1024

/* Finds "* STATUS {N}" CRLF followed by N bytes in @raw, the bytes of a response, and adds
 * those names to @push. Returns how many it added. Pure code over untrusted bytes (fuzzed). */
static guint
scan_literal_names (const char *raw, gsize len, char delim, const char *prefix,
                    NmsImapPush *push)
{
    static const char head[] = "* STATUS {";
    const gsize head_len = sizeof head - 1;
    const char *p = raw;
    const char *end = raw + len;
    guint found = 0;

    while (p < end) {
        const char *eol = memchr (p, '\n', (gsize) (end - p));
        const char *next = eol != NULL ? eol + 1 : end;
        const char *q = p + head_len;
        guint64 n = 0;

        if ((gsize) (next - p) > head_len && g_ascii_strncasecmp (p, head, head_len) == 0) {
            while (q < next && g_ascii_isdigit (*q) && n <= MAX_LITERAL_NAME)
                n = n * 10 + (guint64) (*q++ - '0');
            if (q < next && *q == '+')
                q++;
            if (q + 3 == next && q[0] == '}' && q[1] == '\r' && n > 0 && n <= MAX_LITERAL_NAME &&
                (gsize) (end - next) >= n && memchr (next, '\0', n) == NULL) {
                g_autofree char *wire = g_strndup (next, n);

                if (strpbrk (wire, "\r\n") == NULL && take_name (wire, delim, prefix, push))
                    found++;
                next += n;
            }
        }
        p = next;
    }
    return found;
}

/* Returns FALSE for a STATUS whose name does not decode. */
static gboolean
take_mailbox_data (struct mailimap_mailbox_data *mbd, char delim, const char *prefix,
                   NmsImapPush *push)
{
    switch (mbd->mbd_type) {
    case MAILIMAP_MAILBOX_DATA_STATUS:
        return take_status (mbd->mbd_data.mbd_status, delim, prefix, push);
    case MAILIMAP_MAILBOX_DATA_LIST:
    case MAILIMAP_MAILBOX_DATA_LSUB:
        /* RFC 5465 §5.4 MailboxName: created, deleted (\NonExistent) or renamed */
        push->folder_list = TRUE;
        break;
    case MAILIMAP_MAILBOX_DATA_EXISTS:
        push->selected = TRUE;
        break;
    default:
        break; /* FLAGS, RECENT, SEARCH: nothing changed that a sync would see */
    }
    return TRUE;
}

/* Collects what the untagged data of @resp reports, and with @raw (the bytes it was parsed
 * from; may be NULL) the names libetpan lost. */
static void
collect (struct mailimap_response *resp, const char *raw, gsize raw_len, char delim,
         const char *prefix, NmsImapPush *push)
{
    clist *list = resp->rsp_cont_req_or_resp_data_list;
    guint bad = 0;

    for (clistiter *it = list ? clist_begin (list) : NULL; it != NULL; it = clist_next (it)) {
        struct mailimap_cont_req_or_resp_data *item = clist_content (it);
        struct mailimap_response_data *data;

        if (item->rsp_type != MAILIMAP_RESP_RESP_DATA ||
            (data = item->rsp_data.rsp_resp_data) == NULL)
            continue;
        switch (data->rsp_type) {
        case MAILIMAP_RESP_DATA_TYPE_MAILBOX_DATA:
            if (data->rsp_data.rsp_mailbox_data != NULL &&
                !take_mailbox_data (data->rsp_data.rsp_mailbox_data, delim, prefix, push))
                bad++;
            break;
        case MAILIMAP_RESP_DATA_TYPE_MESSAGE_DATA:
            /* EXPUNGE, or FETCH: a flag change (RFC 3501 §7.4) */
            push->selected = TRUE;
            break;
        case MAILIMAP_RESP_DATA_TYPE_EXTENSION_DATA:
            /* VANISHED (QRESYNC) and the like: only the selected folder has such news */
            push->selected = TRUE;
            break;
        default:
            break; /* OK "Still here", CAPABILITY, ... */
        }
    }
    if (bad > 0 && raw != NULL)
        bad -= MIN (bad, scan_literal_names (raw, raw_len, delim, prefix, push));
    if (bad > 0)
        push->unknown = TRUE;
}

/* A mailstream low driver over bytes in memory, for parsing without a server. */
typedef struct {
    const char *data;
    gsize len;
    gsize pos;
} MemStream;

static ssize_t
mem_read (mailstream_low *low, void *buf, size_t count)
{
    MemStream *m = low->data;
    gsize n = MIN (count, m->len - m->pos);

    if (n == 0)
        return -1; /* EOF: an error, never 0 (LIBRARIES.md 1.3.1) */
    memcpy (buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t) n;
}

static ssize_t
mem_write (mailstream_low *low, const void *buf, size_t count)
{
    (void) low;
    (void) buf;
    return (ssize_t) count;
}

static int
mem_close (mailstream_low *low)
{
    (void) low;
    return 0;
}

static int
mem_get_fd (mailstream_low *low)
{
    (void) low;
    return -1;
}

static void
mem_free (mailstream_low *low)
{
    g_free (low->data);
    free (low);
}

static mailstream_low_driver mem_driver = {
    .mailstream_read = mem_read,
    .mailstream_write = mem_write,
    .mailstream_close = mem_close,
    .mailstream_get_fd = mem_get_fd,
    .mailstream_free = mem_free,
};

/* FALSE when a '{' is followed by more than 10 digits anywhere in @data: libetpan 1.9.4's
 * number parser overflows (LIBRARIES.md 1.8) and it allocates what it parsed, also where the
 * framing guard sees no literal (a "{N}" not at the end of a line; found by fuzz-push). */
static gboolean
literal_sizes_sane (const char *data, gsize len)
{
    for (gsize i = 0; i < len; i++) {
        gsize digits = 0;

        if (data[i] != '{')
            continue;
        while (i + 1 + digits < len && g_ascii_isdigit (data[i + 1 + digits]))
            digits++;
        if (digits > 10)
            return FALSE;
    }
    return TRUE;
}

gboolean
nms_imap_push_parse (const char *data, gsize len, char delim, const char *prefix,
                     NmsImapPush *push, GError **error)
{
    g_autoptr (mailimap) imap = mailimap_new (0, NULL);
    MemStream *m = g_new0 (MemStream, 1);
    mailstream_low *low;
    struct mailimap_response *resp = NULL;
    NmsImapFrame frame;
    int r;

    /* the framing guard a session has on its stream (frame.h): libetpan allocates a literal
     * of any announced size up front */
    nms_imap_frame_init (&frame, 0);
    if (!nms_imap_frame_feed (&frame, data, len)) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "refusing the pushed responses: %s", nms_imap_frame_reason (&frame));
        nms_imap_frame_clear (&frame);
        g_free (m);
        return FALSE;
    }
    nms_imap_frame_clear (&frame);
    if (!literal_sizes_sane (data, len)) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "refusing the pushed responses: a literal size of more than 10 digits");
        g_free (m);
        return FALSE;
    }
    m->data = data;
    m->len = len;
    low = mailstream_low_new (m, &mem_driver);
    imap->imap_stream = mailstream_new (low, 8192);
    r = nms_imap_read_response (imap, &resp);
    if (r != MAILIMAP_NO_ERROR) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "cannot parse the pushed responses (libetpan error %d)", r);
        return FALSE;
    }
    collect (resp, data, len, delim, prefix, push);
    mailimap_response_free (resp);
    return TRUE;
}

gboolean
nms_imap_notify_set (NmsImapSession *session, GError **error)
{
    int r, state = -1;

    g_return_val_if_fail (session != NULL, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    if (!nms_imap_session_has_capability (session, "NOTIFY")) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                     "server '%s' does not offer NOTIFY", session->host);
        return FALSE;
    }
    /* RFC 5465 §5.3 and RFC 7162: with CONDSTORE enabled a flag change in another folder
     * comes as a STATUS carrying HIGHESTMODSEQ; without it Dovecot says nothing when no
     * UNSEEN count moves (a \Flagged added). */
    if (nms_imap_session_has_capability (session, "CONDSTORE")) {
        r = nms_imap_raw_command (session->imap, "ENABLE CONDSTORE", &state);
        if (r != MAILIMAP_NO_ERROR)
            return nms_imap_session_fail (session, r, "ENABLE CONDSTORE", error);
    }
    /* No "selected" filter: nothing is selected on this connection, so every personal
     * folder, INBOX included, reports as a STATUS. */
    r = nms_imap_raw_command (session->imap,
                              "NOTIFY SET (personal (MessageNew MessageExpunge FlagChange "
                              "MailboxName))",
                              &state);
    if (r != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail (session, r, "NOTIFY SET", error);
    if (state != MAILIMAP_RESP_COND_STATE_OK) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                     "server '%s' refused NOTIFY SET: %s", session->host,
                     session->imap->imap_response != NULL ? session->imap->imap_response : "");
        return FALSE;
    }
    return TRUE;
}

/* An untagged line that came before IDLE's "+", parsed as a response of its own. Lines that
 * announce a literal cannot be parsed alone: the session is then given up. */
static gboolean
take_early_line (NmsImapSession *s, const char *line, NmsImapPush *push, GError **error)
{
    gsize len = strlen (line);
    g_autofree char *text = NULL;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > 0 && line[len - 1] == '}')
        return nms_imap_session_fail (s, MAILIMAP_ERROR_PARSE, "IDLE", error);
    if (g_ascii_strncasecmp (line, "* BYE", 5) == 0) {
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "server '%s' closed the connection: %.*s", s->host, (int) MIN (len, 200),
                     line);
        return FALSE;
    }
    text = g_strdup_printf ("%.*s\r\nX OK done\r\n", (int) len, line);
    if (!nms_imap_push_parse (text, strlen (text), s->delimiter, nms_imap_session_get_prefix (s),
                              push, NULL))
        return nms_imap_session_fail (s, MAILIMAP_ERROR_PARSE, "IDLE", error);
    return TRUE;
}

gboolean
nms_imap_idle_start (NmsImapSession *session, NmsImapPush *push, GError **error)
{
    int r;
    int on = 1;

    g_return_val_if_fail (session != NULL && push != NULL, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    /* libetpan 1.9.4 sets no TCP keepalive (LIBRARIES.md 1.3.8): a connection that died
     * silently (NAT timeout, suspend) would otherwise wait until the next re-IDLE. A tunnel's
     * socketpair refuses it, which is harmless. */
    (void) setsockopt (nms_imap_idle_fd (session), SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    if ((r = nms_imap_raw_send (session->imap, "IDLE")) != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail (session, r, "IDLE", error);
    for (int i = 0; i < MAX_LINES_BEFORE_CONTINUATION; i++) {
        const char *line = mailimap_read_line (session->imap);

        if (line == NULL)
            return nms_imap_session_fail (session, MAILIMAP_ERROR_STREAM, "IDLE", error);
        if (line[0] == '+')
            return TRUE;
        if (line[0] != '*') {
            /* the tagged reply: IDLE refused */
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                         "server '%s' refused IDLE: %.*s", session->host,
                         (int) MIN (strcspn (line, "\r\n"), 200), line);
            return FALSE;
        }
        if (!take_early_line (session, line, push, error))
            return FALSE;
    }
    return nms_imap_session_fail (session, MAILIMAP_ERROR_PROTOCOL, "IDLE", error);
}

int
nms_imap_idle_fd (NmsImapSession *session)
{
    g_return_val_if_fail (session != NULL, -1);
    if (session->imap == NULL || session->imap->imap_stream == NULL)
        return -1;
    return mailstream_low_get_fd (mailstream_get_low (session->imap->imap_stream));
}

gboolean
nms_imap_idle_buffered (NmsImapSession *session)
{
    g_return_val_if_fail (session != NULL, FALSE);
    if (session->imap == NULL || session->imap->imap_stream == NULL)
        return FALSE;
    /* Bytes mailstream or the COMPRESS layer hold already do not wake poll (LIBRARIES 1.7). */
    return session->imap->imap_stream->read_buffer_len > 0 ||
           nms_imap_compress_buffered (session->imap);
}

gboolean
nms_imap_idle_done (NmsImapSession *session, NmsImapPush *push, GError **error)
{
    g_autofree char *tag = NULL;
    g_autoptr (GByteArray) raw = NULL;
    struct mailimap_response *resp = NULL;
    struct mailimap_response_done *done;
    gboolean nul_seen, complete;
    int r;

    g_return_val_if_fail (session != NULL && push != NULL, FALSE);
    if (!nms_imap_session_check_alive (session, error))
        return FALSE;
    if (mailstream_write (session->imap->imap_stream, "DONE\r\n", 6) < 0 ||
        mailstream_flush (session->imap->imap_stream) < 0)
        return nms_imap_session_fail (session, MAILIMAP_ERROR_STREAM, "DONE", error);
    nms_imap_capture_start (session->imap);
    r = nms_imap_read_response (session->imap, &resp);
    raw = nms_imap_capture_stop (session->imap, &nul_seen, &complete);
    if (r != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail (session, r, "IDLE", error);
    collect (resp, raw != NULL ? (const char *) raw->data : NULL, raw != NULL ? raw->len : 0,
             session->delimiter, nms_imap_session_get_prefix (session), push);
    done = resp->rsp_resp_done;
    tag = g_strdup_printf ("%d", session->imap->imap_tag);
    if (done != NULL && done->rsp_type == MAILIMAP_RESP_DONE_TYPE_FATAL) {
        mailimap_response_free (resp);
        session->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "server '%s' closed the connection: %s", session->host,
                     nms_imap_guard_bye (session->imap) != NULL
                         ? nms_imap_guard_bye (session->imap) : "BYE");
        return FALSE;
    }
    if (done == NULL || done->rsp_type != MAILIMAP_RESP_DONE_TYPE_TAGGED ||
        done->rsp_data.rsp_tagged == NULL || done->rsp_data.rsp_tagged->rsp_tag == NULL ||
        strcmp (done->rsp_data.rsp_tagged->rsp_tag, tag) != 0) {
        mailimap_response_free (resp);
        return nms_imap_session_fail (session, MAILIMAP_ERROR_PROTOCOL, "IDLE", error);
    }
    mailimap_response_free (resp);
    return TRUE;
}

void
nms_imap_idle_abandon (NmsImapSession *session)
{
    g_autofree char *logout = NULL;

    if (session == NULL || session->dead || session->imap == NULL ||
        session->imap->imap_stream == NULL)
        return;
    /* Written, not waited for: a stop must not hang on a server that went silent. */
    logout = g_strdup_printf ("DONE\r\nZ%d LOGOUT\r\n", session->imap->imap_tag + 1);
    if (mailstream_write (session->imap->imap_stream, logout, strlen (logout)) >= 0)
        (void) mailstream_flush (session->imap->imap_stream);
    session->dead = TRUE;
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * One IMAP session: connecting per TLS mode or through a tunnel, certificate checks before
 * LOGIN, capabilities, logout, and the single translation of libetpan codes into GErrors. */
#include "nms-build.h"

#include "imap/imap.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "imap/imap-private.h"

G_DEFINE_QUARK (nms-imap-error-quark, nms_imap_error)

void
nms_imap_global_init (void)
{
    /* libetpan writes with send() without MSG_NOSIGNAL (LIBRARIES.md 1.3.4). */
    signal (SIGPIPE, SIG_IGN);
    gnutls_global_init ();
}

static const char *
response_text (NmsImapSession *s)
{
    const char *text = s->imap != NULL ? s->imap->imap_response : NULL;

    return (text != NULL && *text != '\0') ? text : "no reason given";
}

/* The one translation of libetpan codes; @text is the server's reason. */
static gboolean
fail_with_text (NmsImapSession *s, int r, const char *what, const char *text, GError **error)
{
    const char *broken = nms_imap_compress_failure (s->imap);

    /* A read error from the COMPRESS layer reaches libetpan as STREAM or, mid-line, PARSE. */
    if (broken != NULL && (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_PARSE)) {
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "compressed connection to '%s' broke during %s: %s", s->host, what, broken);
        return FALSE;
    }
    switch (r) {
    case MAILIMAP_ERROR_STREAM:
        s->dead = TRUE;
        if (s->imap != NULL && nms_imap_guard_reason (s->imap) != NULL) {
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                         "server '%s' sent a reply nmsync refuses during %s: %s", s->host, what,
                         nms_imap_guard_reason (s->imap));
            break;
        }
        if (s->imap != NULL && nms_imap_guard_bye (s->imap) != NULL) {
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                         "server '%s' closed the connection during %s: %s", s->host, what,
                         nms_imap_guard_bye (s->imap));
            break;
        }
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "connection to '%s' lost or timed out during %s", s->host, what);
        break;
    case MAILIMAP_ERROR_FATAL:
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                     "server '%s' closed the connection during %s: %s", s->host, what,
                     text);
        break;
    case MAILIMAP_ERROR_PARSE:
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "cannot parse the reply of '%s' to %s", s->host, what);
        break;
    case MAILIMAP_ERROR_PROTOCOL:
        /* A tagged BAD or a reply with a foreign tag: in the second case the session is out
         * of step, and the two are indistinguishable here, so both end the session. */
        s->dead = TRUE;
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_PROTOCOL,
                     "server '%s' rejected %s or answered out of step: %s", s->host, what,
                     text);
        break;
    case MAILIMAP_ERROR_MEMORY:
        g_error ("out of memory in libetpan during %s", what);
        break;
    case MAILIMAP_ERROR_BAD_STATE:
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO,
                     "%s is not possible in the current state of the session with '%s'", what,
                     s->host);
        break;
    default:
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_NO, "server '%s' refused %s: %s",
                     s->host, what, text);
        break;
    }
    return FALSE;
}

gboolean
nms_imap_session_fail (NmsImapSession *s, int r, const char *what, GError **error)
{
    return fail_with_text (s, r, what, response_text (s), error);
}

/* The text after "<tag> NO " or "<tag> BAD " when that is the last line of @raw: at most
 * 400 bytes, control characters replaced, valid UTF-8. NULL otherwise. */
static char *
tagged_reply_text (NmsImapSession *s, const GByteArray *raw)
{
    g_autofree char *tag = g_strdup_printf ("%d ", s->imap->imap_tag);
    const char *data = (const char *) raw->data;
    const char *end = data + raw->len;
    const char *line;
    char *text;

    if (end > data && end[-1] == '\n')
        end--;
    if (end > data && end[-1] == '\r')
        end--;
    for (line = end; line > data && line[-1] != '\n'; line--)
        ;
    if ((gsize) (end - line) < strlen (tag) || strncmp (line, tag, strlen (tag)) != 0)
        return NULL;
    line += strlen (tag);
    if (end - line >= 3 && g_ascii_strncasecmp (line, "NO ", 3) == 0)
        line += 3;
    else if (end - line >= 4 && g_ascii_strncasecmp (line, "BAD ", 4) == 0)
        line += 4;
    else
        return NULL;
    text = g_utf8_make_valid (line, MIN (end - line, 400));
    for (char *p = text; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    return text;
}

gboolean
nms_imap_session_fail_reply (NmsImapSession *s, int r, const char *what, const GByteArray *raw,
                             GError **error)
{
    g_autofree char *text = NULL;

    if (raw != NULL && s->imap != NULL)
        text = tagged_reply_text (s, raw);
    return fail_with_text (s, r, what, text != NULL ? text : response_text (s), error);
}

gboolean
nms_imap_session_check_alive (NmsImapSession *s, GError **error)
{
    if (!s->dead && s->imap != NULL && s->imap->imap_stream != NULL)
        return TRUE;
    g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_STREAM,
                 "connection to '%s' was lost earlier", s->host);
    return FALSE;
}

gboolean
nms_imap_session_has_capability (NmsImapSession *session, const char *name)
{
    struct mailimap_capability_data *caps;

    g_return_val_if_fail (session != NULL && name != NULL, FALSE);
    if (session->imap == NULL || session->imap->imap_connection_info == NULL)
        return FALSE;
    caps = session->imap->imap_connection_info->imap_capability;
    if (caps == NULL || caps->cap_list == NULL)
        return FALSE;
    for (clistiter *it = clist_begin (caps->cap_list); it != NULL; it = clist_next (it)) {
        struct mailimap_capability *cap = clist_content (it);

        if (cap->cap_type == MAILIMAP_CAPABILITY_NAME && cap->cap_data.cap_name != NULL &&
            g_ascii_strcasecmp (cap->cap_data.cap_name, name) == 0)
            return TRUE;
        if (cap->cap_type == MAILIMAP_CAPABILITY_AUTH_TYPE && cap->cap_data.cap_auth_type != NULL &&
            g_ascii_strncasecmp (name, "AUTH=", 5) == 0 &&
            g_ascii_strcasecmp (cap->cap_data.cap_auth_type, name + 5) == 0)
            return TRUE;
    }
    return FALSE;
}

/* Asks for CAPABILITY again: after STARTTLS the earlier list must be discarded (RFC 3501
 * §6.2.1), and after LOGIN servers announce more. libetpan 1.9.4's mailimap_capability()
 * copies the stored list without checking it, and crashes when a server answers OK without
 * an untagged CAPABILITY: send it as a custom command instead, which stores what comes back
 * (if anything) in imap_connection_info, where has_capability() reads it. */
static void
forget_capabilities (NmsImapSession *s)
{
    struct mailimap_connection_info *info = s->imap->imap_connection_info;

    if (info != NULL && info->imap_capability != NULL) {
        mailimap_capability_data_free (info->imap_capability);
        info->imap_capability = NULL;
    }
}

static gboolean
has_capabilities (NmsImapSession *s)
{
    struct mailimap_connection_info *info = s->imap->imap_connection_info;

    return info != NULL && info->imap_capability != NULL &&
           info->imap_capability->cap_list != NULL &&
           clist_count (info->imap_capability->cap_list) > 0;
}

static gboolean
refresh_capabilities (NmsImapSession *s, GError **error)
{
    int r;

    forget_capabilities (s);
    r = mailimap_custom_command (s->imap, "CAPABILITY");
    if (r != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail (s, r, "CAPABILITY", error);
    return TRUE;
}

/* libetpan waits with select(): an fd >= FD_SETSIZE aborts the process under FORTIFY
 * (LIBRARIES.md 1.3.3). */
static gboolean
check_fd (int fd, const char *host, int port, GError **error)
{
    if (fd >= 0 && fd < FD_SETSIZE)
        return TRUE;
    g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                 "cannot connect to '%s:%d': too many open files (descriptor %d is beyond %d)",
                 host, port, fd, FD_SETSIZE);
    return FALSE;
}

/* libetpan's TCP connect selects on the new socket itself, so look at the next free
 * descriptor before handing it the job. */
static gboolean
probe_next_fd (const char *host, int port, GError **error)
{
    int probe = fcntl (0, F_DUPFD_CLOEXEC, 0);
    gboolean ok;

    if (probe < 0)
        probe = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    ok = check_fd (probe, host, port, error);
    if (probe >= 0)
        close (probe);
    return ok;
}

/* libetpan connects without blocking and keeps neither errno nor SO_ERROR, so the cause is
 * pieced together: the resolver's answer, else how long the attempt took. */
static const char *
refused_cause (const char *host, gint64 elapsed_us, time_t timeout)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int r = getaddrinfo (host, NULL, &hints, &res);

    if (r != 0)
        return r == EAI_SYSTEM ? g_strerror (errno) : gai_strerror (r);
    freeaddrinfo (res);
    if (elapsed_us >= (gint64) timeout * G_USEC_PER_SEC - G_USEC_PER_SEC / 2)
        return "timed out";
    return "connection refused or host unreachable";
}

static gboolean
connect_failed (NmsImapSession *s, int r, const char *cause, int port, GError **error)
{
    switch (r) {
    case MAILIMAP_ERROR_CONNECTION_REFUSED:
        break;
    case MAILIMAP_ERROR_SSL:
        cause = "TLS handshake failed";
        break;
    case MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION:
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                     "cannot connect to '%s:%d': the server refused the connection: %s",
                     s->host, port, response_text (s));
        return FALSE;
    case MAILIMAP_ERROR_STREAM:
        cause = "connection closed or timed out before the greeting";
        break;
    case MAILIMAP_ERROR_PARSE:
        cause = "the greeting is not IMAP";
        break;
    default:
        cause = "unexpected error";
        break;
    }
    g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT, "cannot connect to '%s:%d': %s",
                 s->host, port, cause);
    return FALSE;
}

static void
set_sni (struct mailstream_ssl_context *ctx, void *data)
{
    mailstream_ssl_set_server_name (ctx, data);
}

/* Exported by libetpan 1.9.4, but its header (connect.h) is not installed. */
int mail_tcp_connect_timeout (const char *server, uint16_t port, time_t timeout);

/* How long a plain connection waits for the greeting before asking whether the port talks
 * IMAPS instead: servers greet at once, and an IMAPS port waits for the client's handshake,
 * so without this `tls = starttls` on port 993 would sit out the whole timeout. */
#define GREETING_PROBE_S 3

static gboolean
readable_within (int fd, int seconds)
{
    fd_set set;
    struct timeval tv = { .tv_sec = seconds };
    int r;

    do {
        FD_ZERO (&set);
        FD_SET (fd, &set);
        r = select (fd + 1, &set, NULL, NULL, &tv);
    } while (r < 0 && errno == EINTR);
    return r != 0;
}

/* A second connection tries a TLS handshake and an IMAP greeting under it. */
static gboolean
talks_imaps (const NmsAccount *a, int port)
{
    g_autoptr (mailimap) probe = mailimap_new (0, NULL);
    int r;

    if (probe == NULL || !probe_next_fd (a->host, port, NULL))
        return FALSE;
    mailimap_set_timeout (probe, GREETING_PROBE_S);
    r = mailimap_ssl_connect_with_callback (probe, a->host, (uint16_t) port, set_sni, a->host);
    return r == MAILIMAP_NO_ERROR_AUTHENTICATED || r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED;
}

/* A plain TCP connection (tls = starttls or none) up to the greeting. A server silent for
 * GREETING_PROBE_S seconds that completes a TLS handshake on a second connection talks IMAPS:
 * said at once. Otherwise the greeting is awaited for the rest of the timeout (a slow server,
 * or a tarpit). */
static int
connect_plain (NmsImapSession *s, const NmsAccount *a, int port, GError **error)
{
    time_t timeout = mailimap_get_timeout (s->imap);
    mailstream *stream;
    int fd = mail_tcp_connect_timeout (a->host, (uint16_t) port, timeout);

    if (fd < 0)
        return MAILIMAP_ERROR_CONNECTION_REFUSED;
    if (!check_fd (fd, s->host, port, error)) {
        close (fd);
        return -1;
    }
    if (!readable_within (fd, (int) MIN (timeout, GREETING_PROBE_S)) && talks_imaps (a, port)) {
        close (fd);
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                     "cannot connect to '%s:%d': port %d talks IMAPS (TLS from the first byte), "
                     "not plain IMAP; set tls = imaps for this account", s->host, port, port);
        return -1;
    }
    stream = mailstream_socket_open_timeout (fd, timeout);
    if (stream == NULL) {
        close (fd);
        g_error ("out of memory");
    }
    return mailimap_connect (s->imap, stream);
}

/* Returns the libetpan greeting result (>= 0: authenticated or not) or -1 with @error. */
static int
connect_tcp (NmsImapSession *s, const NmsAccount *a, int port, GError **error)
{
    gint64 start;
    int r;

    if (!probe_next_fd (s->host, port, error))
        return -1;
    start = g_get_monotonic_time ();
    if (a->tls == NMS_TLS_IMAPS)
        r = mailimap_ssl_connect_with_callback (s->imap, a->host, (uint16_t) port, set_sni,
                                                a->host);
    else
        r = connect_plain (s, a, port, error);
    if (r == -1)
        return -1;
    if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        connect_failed (s, r,
                        r == MAILIMAP_ERROR_CONNECTION_REFUSED
                            ? refused_cause (a->host, g_get_monotonic_time () - start,
                                             mailimap_get_timeout (s->imap))
                            : NULL,
                        port, error);
        return -1;
    }
    if (!check_fd (mailstream_low_get_fd (mailstream_get_low (s->imap->imap_stream)), s->host,
                   port, error))
        return -1;
    nms_imap_install_eof_guard (s->imap);
    if (a->tls == NMS_TLS_IMAPS && !nms_imap_tls_verify (s->imap, a->host, a->ca_file, error))
        return -1;
    return r;
}

/* STARTTLS is required: never a silent downgrade to plain text. */
static gboolean
start_tls (NmsImapSession *s, const NmsAccount *a, GError **error)
{
    int r;

    if (s->imap->imap_connection_info == NULL ||
        s->imap->imap_connection_info->imap_capability == NULL) {
        if (!refresh_capabilities (s, error))
            return FALSE;
    }
    if (!nms_imap_session_has_capability (s, "STARTTLS")) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "server '%s' does not offer STARTTLS; refusing to log in without TLS",
                     s->host);
        return FALSE;
    }
    r = mailimap_socket_starttls_with_callback (s->imap, set_sni, a->host);
    if (r != MAILIMAP_NO_ERROR) {
        if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_SSL) {
            s->dead = TRUE;
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "STARTTLS with '%s' failed: TLS handshake failed (libetpan error %d)",
                         s->host, r);
            return FALSE;
        }
        /* NO or BAD: still no TLS, so this is a TLS failure (exit 3), not a skipped folder */
        g_autoptr (GError) refused = NULL;

        s->dead = TRUE;
        nms_imap_session_fail (s, r, "STARTTLS", &refused);
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                     "%s; refusing to log in without TLS", refused->message);
        return FALSE;
    }
    /* The TLS layer replaced the guarded socket driver: guard it again. */
    nms_imap_install_eof_guard (s->imap);
    if (!nms_imap_tls_verify (s->imap, a->host, a->ca_file, error))
        return FALSE;
    return refresh_capabilities (s, error);
}

static void
dup_stdout_fd (GSubprocessLauncher *l, int fd)
{
    int copy = fcntl (fd, F_DUPFD_CLOEXEC, 3);

    if (copy >= 0)
        g_subprocess_launcher_take_stdout_fd (l, copy);
}

static void stop_tunnel (GSubprocess *p);

/* Why a tunnel gave no greeting, in words: how its command ended and the last line it wrote
 * on stderr (read into the log), so that "-q" and the journal still say why ssh failed.
 * Waits for the command as nms_imap_session_free() would. (transfer full) */
static char *
tunnel_failure (NmsImapSession *s)
{
    g_autofree char *last = NULL;
    g_autofree char *ended = NULL;

    stop_tunnel (s->tunnel);
    last = nms_imap_tunnel_stderr_stop (g_steal_pointer (&s->tunnel_stderr));
    if (g_subprocess_get_if_exited (s->tunnel) && g_subprocess_get_exit_status (s->tunnel) != 0)
        ended = g_strdup_printf ("the command exited with status %d",
                                 g_subprocess_get_exit_status (s->tunnel));
    else if (g_subprocess_get_if_signaled (s->tunnel))
        ended = g_strdup_printf ("the command was killed by signal %d",
                                 g_subprocess_get_term_sig (s->tunnel));
    else
        ended = g_strdup ("no IMAP greeting (did the command fail?)");
    return last != NULL ? g_strdup_printf ("%s: %s", ended, last) : g_steal_pointer (&ended);
}

/* A socketpair, not a pipe: libetpan always writes with send() (LIBRARIES.md 1.6). */
static int
connect_tunnel (NmsImapSession *s, const NmsAccount *a, GError **error)
{
    g_autoptr (GSubprocessLauncher) l = NULL;
    g_autoptr (GError) local = NULL;
    mailstream *stream;
    int sv[2];
    int r;

    if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                     "cannot start tunnel '%s': socketpair: %s", a->tunnel, g_strerror (errno));
        return -1;
    }
    if (sv[0] >= FD_SETSIZE) {
        close (sv[0]);
        close (sv[1]);
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                     "cannot start tunnel '%s': too many open files (descriptor beyond %d)",
                     a->tunnel, FD_SETSIZE);
        return -1;
    }
    /* With a log, the command's stderr is a pipe read into it: written straight to ours, an
     * ssh warning would land in the middle of the status line, without the account's name. */
    l = g_subprocess_launcher_new (s->log != NULL && s->log->line != NULL
                                       ? G_SUBPROCESS_FLAGS_STDERR_PIPE
                                       : G_SUBPROCESS_FLAGS_NONE);
    dup_stdout_fd (l, sv[1]);
    g_subprocess_launcher_take_stdin_fd (l, sv[1]);
    s->tunnel = g_subprocess_launcher_spawn (l, &local, "/bin/sh", "-c", a->tunnel, NULL);
    g_clear_object (&l); /* closes our copies of the child's end */
    if (s->tunnel == NULL) {
        close (sv[0]);
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT,
                     "cannot start tunnel '%s': %s", a->tunnel, local->message);
        return -1;
    }
    s->tunnel_stderr = nms_imap_tunnel_stderr_start (s->tunnel, s->log);
    stream = mailstream_socket_open_timeout (sv[0], mailimap_get_timeout (s->imap));
    if (stream == NULL) {
        close (sv[0]);
        g_error ("out of memory");
    }
    r = mailimap_connect (s->imap, stream);
    if (r != MAILIMAP_NO_ERROR_AUTHENTICATED && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        g_autofree char *why = r == MAILIMAP_ERROR_DONT_ACCEPT_CONNECTION
                                   ? g_strdup ("the server said BYE")
                                   : tunnel_failure (s);

        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_CONNECT, "tunnel '%s' failed: %s",
                     a->tunnel, why);
        return -1;
    }
    nms_imap_install_eof_guard (s->imap);
    return r;
}

static gboolean
login (NmsImapSession *s, const NmsAccount *a, const char *password, GError **error)
{
    int r;

    if (a->user == NULL || password == NULL) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_AUTH,
                     "cannot log in to '%s': %s", s->host,
                     a->tunnel != NULL ? "the tunnel did not preauthenticate and no user and "
                                         "password are configured"
                                       : "no user or password");
        return FALSE;
    }
    /* libetpan marks the password as private in its wire log; we never put it in errors. */
    r = mailimap_login (s->imap, a->user, password);
    if (r == MAILIMAP_ERROR_LOGIN) {
        g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_AUTH,
                     "server '%s' refused the login of user '%s': %s", s->host, a->user,
                     response_text (s));
        return FALSE;
    }
    if (r != MAILIMAP_NO_ERROR)
        return nms_imap_session_fail (s, r, "LOGIN", error);
    return TRUE;
}

static int
default_port (NmsTlsMode tls)
{
    return tls == NMS_TLS_IMAPS ? 993 : 143;
}

static gboolean
connect_and_login (NmsImapSession *s, const NmsAccount *account, const char *password,
                   int port, GError **error)
{
    int r;

    if (account->tunnel != NULL)
        r = connect_tunnel (s, account, error);
    else
        r = connect_tcp (s, account, port, error);
    if (r < 0)
        return FALSE;
    if (account->tunnel == NULL && account->tls == NMS_TLS_STARTTLS) {
        if (r == MAILIMAP_NO_ERROR_AUTHENTICATED) {
            /* PREAUTH before STARTTLS is the downgrade of RFC 9051 §7.1.2 */
            g_set_error (error, NMS_IMAP_ERROR, NMS_IMAP_ERROR_TLS,
                         "server '%s' sent PREAUTH on a plain connection; refusing it "
                         "without TLS", s->host);
            return FALSE;
        }
        if (!start_tls (s, account, error))
            return FALSE;
    }
    if (r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        /* What the server said before login is stale afterwards. Most servers (Dovecot
         * among them) put the new list into LOGIN's OK ([CAPABILITY ...]), which libetpan
         * stores: then no CAPABILITY command, one round trip less per connection. */
        forget_capabilities (s);
        if (!login (s, account, password, error))
            return FALSE;
    }
    if (!has_capabilities (s) && !refresh_capabilities (s, error))
        return FALSE;
    if (!nms_imap_compress_start (s, account, error))
        return FALSE;
    /* ENABLE QRESYNC waits for the first folder that needs it (nms_imap_qresync_prepare):
     * a run with nothing to do saves the round trip. */
    return TRUE;
}

NmsImapSession *
nms_imap_session_connect (const NmsAccount *account, const char *password, GError **error)
{
    return nms_imap_session_connect_logged (account, password, NULL, error);
}

NmsImapSession *
nms_imap_session_connect_logged (const NmsAccount *account, const char *password,
                                 NmsImapLog *log, GError **error)
{
    g_autoptr (NmsImapSession) s = g_new0 (NmsImapSession, 1);
    int port = account->port > 0 ? account->port : default_port (account->tls);

    g_return_val_if_fail (account->tunnel != NULL || account->host != NULL, NULL);
    g_return_val_if_fail (port > 0 && port <= 65535, NULL);
    /* A tunnel has no host: messages name the account, which the user knows the server by. */
    s->host = account->tunnel != NULL ? g_strdup_printf ("%s (tunnel)", account->name)
                                      : g_strdup (account->host);
    s->imap = mailimap_new (0, NULL);
    if (s->imap == NULL)
        g_error ("out of memory");
    /* Before connecting: it covers connect, the TLS handshake and every later wait. */
    mailimap_set_timeout (s->imap, account->timeout > 0 ? account->timeout : 60);
    s->log = log;
    s->trace = nms_imap_trace_attach (s->imap, log);
    if (!connect_and_login (s, account, password, port, error)) {
        /* No LOGOUT either to a server that failed verification or broke off. */
        s->dead = TRUE;
        return NULL;
    }
    return g_steal_pointer (&s);
}

/* Waits up to 2 s for the tunnel command to exit after its socket closed, then kills it. */
static void
stop_tunnel (GSubprocess *p)
{
    for (int i = 0; i < 40 && g_subprocess_get_identifier (p) != NULL; i++)
        g_usleep (50 * 1000);
    if (g_subprocess_get_identifier (p) != NULL)
        g_subprocess_force_exit (p);
    g_subprocess_wait (p, NULL, NULL);
}

void
nms_imap_session_set_keywords (NmsImapSession *session, GHashTable *letters)
{
    GHashTableIter it;
    gpointer keyword, letter;

    for (int i = 0; i < 26; i++)
        g_clear_pointer (&session->keywords[i], g_free);
    if (letters == NULL)
        return;
    g_hash_table_iter_init (&it, letters);
    while (g_hash_table_iter_next (&it, &keyword, &letter)) {
        const char *l = letter;
        if (l[0] >= 'a' && l[0] <= 'z' && l[1] == '\0')
            session->keywords[l[0] - 'a'] = g_strdup (keyword);
    }
}

char
nms_imap_keyword_letter (const NmsImapSession *s, const char *name)
{
    for (int i = 0; i < 26; i++) {
        /* RFC 3501 §2.3.2: flag names are case-insensitive. */
        if (s->keywords[i] != NULL && g_ascii_strcasecmp (s->keywords[i], name) == 0)
            return (char) ('a' + i);
    }
    return 0;
}

const char *
nms_imap_letter_keyword (const NmsImapSession *s, char c)
{
    return c >= 'a' && c <= 'z' ? s->keywords[c - 'a'] : NULL;
}

void
nms_imap_session_free (NmsImapSession *session)
{
    if (session == NULL)
        return;
    if (session->imap != NULL) {
        if (!session->dead && session->imap->imap_stream != NULL &&
            session->imap->imap_state != MAILIMAP_STATE_DISCONNECTED)
            mailimap_logout (session->imap);
        mailimap_free (session->imap); /* closes the socket: the tunnel sees EOF */
    }
    nms_imap_trace_free (session->trace);
    if (session->tunnel != NULL) {
        stop_tunnel (session->tunnel);
        g_object_unref (session->tunnel);
    }
    g_free (nms_imap_tunnel_stderr_stop (session->tunnel_stderr));
    nms_imap_session_set_keywords (session, NULL);
    g_free (session->host);
    g_free (session->prefix);
    g_free (session);
}

char
nms_imap_session_get_delimiter (NmsImapSession *session)
{
    return session->delimiter;
}

void
nms_imap_session_set_delimiter (NmsImapSession *session, char delimiter)
{
    session->delimiter = delimiter;
}

const char *
nms_imap_session_get_prefix (NmsImapSession *session)
{
    return session->prefix != NULL ? session->prefix : "";
}

void
nms_imap_session_set_prefix (NmsImapSession *session, const char *prefix)
{
    g_free (session->prefix);
    session->prefix = g_strdup (prefix != NULL ? prefix : "");
}

int
nms_imap_raw_send (mailimap *imap, const char *command)
{
    int r = mailimap_send_current_tag (imap);

    if (r != MAILIMAP_NO_ERROR)
        return r;
    if (mailstream_write (imap->imap_stream, command, strlen (command)) < 0 ||
        mailstream_write (imap->imap_stream, "\r\n", 2) < 0 ||
        mailstream_flush (imap->imap_stream) < 0)
        return MAILIMAP_ERROR_STREAM;
    return MAILIMAP_NO_ERROR;
}

int
nms_imap_raw_command (mailimap *imap, const char *command, int *state_out)
{
    struct mailimap_response *resp = NULL;
    struct mailimap_response_done *done;
    int r = nms_imap_raw_send (imap, command);

    if (r != MAILIMAP_NO_ERROR)
        return r;
    if (mailimap_read_line (imap) == NULL)
        return MAILIMAP_ERROR_STREAM;
    if ((r = mailimap_parse_response (imap, &resp)) != MAILIMAP_NO_ERROR)
        return r;
    done = resp->rsp_resp_done;
    if (done == NULL || done->rsp_type != MAILIMAP_RESP_DONE_TYPE_TAGGED ||
        done->rsp_data.rsp_tagged == NULL || done->rsp_data.rsp_tagged->rsp_cond_state == NULL)
        r = MAILIMAP_ERROR_PROTOCOL;
    else
        *state_out = done->rsp_data.rsp_tagged->rsp_cond_state->rsp_type;
    mailimap_response_free (resp);
    return r;
}

/* SPDX-License-Identifier: GPL-3.0-or-later */
/* fakeimap: a scripted IMAP server for faults a real Dovecot will not produce on demand
 * (hangs mid-literal, NO on FETCH, broken greetings, huge lines, broken deflate data, ...).
 * Script format and options: tests/tools/README.md.
 *
 *   fakeimap [--timeout SECS] [--log FILE] --stdio SCRIPT
 *   fakeimap [--timeout SECS] [--log FILE] --port-file FILE [--connections N] SCRIPT
 *
 * Exit status: 0 the client disconnected or the script closed the connection, 1 usage or
 * script error, 2 timeout (accept, read or write), 3 like 0 but some command matched no rule.
 */
#define G_LOG_DOMAIN "fakeimap"

#include <errno.h>
#include <glib.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_SLEEP_SECS 60.0
#define MAX_REPEAT_COUNT 1000000000ULL
#define MAX_REPEAT_BYTES (4ULL << 30)
#define MAX_LITERAL (1ULL << 30)
#define MAX_KEEP (1U << 20) /* bytes of a command kept for matching and logging */

typedef enum {
    ACT_LINE,   /* text + CRLF, no escapes */
    ACT_SEND,   /* send:TEXT: escapes, + CRLF */
    ACT_RAW,    /* raw:TEXT: escapes, no CRLF */
    ACT_REPEAT, /* repeat N TEXT: escapes, no CRLF, N times */
    ACT_SLEEP,
    ACT_CLOSE,
    ACT_DEFLATE, /* from here on: output raw-deflated, input inflated (RFC 4978) */
    ACT_CUT,     /* cut:TEXT: escapes; only the first half of its compressed bytes */
} ActKind;

typedef struct {
    ActKind kind;
    GString *text;
    guint64 count;
    double secs;
} Action;

typedef struct {
    char *prefix; /* "" matches everything */
    gboolean once;
    gboolean used;
    int lineno;
    GPtrArray *actions;
} Rule;

typedef struct {
    int in_fd;
    int out_fd;
    int timeout_ms;
    char buf[65536];
    gsize start;
    gsize end;
    FILE *log;
    z_stream *zin;  /* NULL until a `deflate` action: then the client's bytes are inflated */
    z_stream *zout; /* and ours deflated, each write ending in a sync flush */
    unsigned char raw[65536]; /* compressed input not inflated yet (zin->next_in) */
} Conn;

enum { IO_OK = 1, IO_EOF = 0, IO_TIMEOUT = -1, IO_ERROR = -2 };

static void
action_free (gpointer p)
{
    Action *a = p;
    if (a->text)
        g_string_free (a->text, TRUE);
    g_free (a);
}

static void
rule_free (gpointer p)
{
    Rule *r = p;
    g_free (r->prefix);
    g_ptr_array_unref (r->actions);
    g_free (r);
}

static Rule *
rule_new (const char *prefix, gboolean once, int lineno)
{
    Rule *r = g_new0 (Rule, 1);
    r->prefix = g_strdup (prefix);
    r->once = once;
    r->lineno = lineno;
    r->actions = g_ptr_array_new_with_free_func (action_free);
    return r;
}

static int
hexval (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* \r \n \t \\ \xNN; anything else after a backslash is kept as is. */
static GString *
unescape (const char *s)
{
    GString *out = g_string_new (NULL);
    for (const char *p = s; *p; p++) {
        if (*p != '\\' || p[1] == '\0') {
            g_string_append_c (out, *p);
            continue;
        }
        switch (p[1]) {
        case 'r':
            g_string_append_c (out, '\r');
            p++;
            break;
        case 'n':
            g_string_append_c (out, '\n');
            p++;
            break;
        case 't':
            g_string_append_c (out, '\t');
            p++;
            break;
        case '\\':
            g_string_append_c (out, '\\');
            p++;
            break;
        case 'x':
            if (hexval (p[2]) >= 0 && hexval (p[3]) >= 0) {
                g_string_append_c (out, (char) (hexval (p[2]) * 16 + hexval (p[3])));
                p += 3;
                break;
            }
            /* fall through */
        default:
            g_string_append_c (out, *p);
            break;
        }
    }
    return out;
}

static gboolean
parse_action (const char *s, Action *a, GError **error)
{
    if (g_str_has_prefix (s, "raw:")) {
        a->kind = ACT_RAW;
        a->text = unescape (s + 4);
    } else if (g_str_has_prefix (s, "send:")) {
        a->kind = ACT_SEND;
        a->text = unescape (s + 5);
    } else if (g_str_has_prefix (s, "cut:")) {
        a->kind = ACT_CUT;
        a->text = unescape (s + 4);
    } else if (strcmp (s, "close") == 0) {
        a->kind = ACT_CLOSE;
    } else if (strcmp (s, "deflate") == 0) {
        a->kind = ACT_DEFLATE;
    } else if (g_str_has_prefix (s, "sleep ")) {
        char *end = NULL;
        a->kind = ACT_SLEEP;
        a->secs = g_ascii_strtod (s + 6, &end);
        if (end == s + 6 || *end != '\0' || !(a->secs >= 0 && a->secs <= MAX_SLEEP_SECS)) {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         "sleep wants 0..%g seconds", MAX_SLEEP_SECS);
            return FALSE;
        }
    } else if (g_str_has_prefix (s, "repeat ")) {
        char *end = NULL;
        a->kind = ACT_REPEAT;
        a->count = g_ascii_strtoull (s + 7, &end, 10);
        if (end == s + 7 || *end != ' ' || a->count > MAX_REPEAT_COUNT) {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         "repeat wants N (at most %llu) and TEXT",
                         (unsigned long long) MAX_REPEAT_COUNT);
            return FALSE;
        }
        a->text = unescape (end + 1);
        if (a->text->len == 0 || a->count * a->text->len > MAX_REPEAT_BYTES) {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         "repeat: empty TEXT or more than %llu bytes in total",
                         (unsigned long long) MAX_REPEAT_BYTES);
            return FALSE;
        }
    } else {
        a->kind = ACT_LINE;
        a->text = g_string_new (s);
    }
    return TRUE;
}

/* Returns the rules; the greeting is rules[0] (prefix NULL semantics: never matched). */
static GPtrArray *
parse_script (const char *path, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    if (!g_file_get_contents (path, &data, &len, error))
        return NULL;

    g_autoptr (GPtrArray) rules = g_ptr_array_new_with_free_func (rule_free);
    Rule *greeting = rule_new ("", FALSE, 0);
    g_ptr_array_add (rules, greeting);
    gboolean have_greeting = FALSE;
    Rule *cur = NULL;
    /* Split in place: g_strsplit() calls strstr() per line, which ASan checks against the
     * whole rest of the buffer, so a script of 100,000 lines took minutes under ASan. */
    char *next = data;
    int lineno = 0;

    while (next != NULL) {
        char *line = next;
        char *nl = strchr (line, '\n');
        if (nl != NULL)
            *nl = '\0';
        next = nl != NULL ? nl + 1 : NULL;
        lineno++;
        gsize l = strlen (line);
        if (l > 0 && line[l - 1] == '\r')
            line[--l] = '\0';
        if (line[0] == ' ' || line[0] == '\t') {
            const char *s = line;
            while (*s == ' ' || *s == '\t')
                s++;
            if (*s == '\0')
                continue;
            if (!cur) {
                g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                             "%s:%d: action outside of 'greeting' or 'on'", path, lineno);
                return NULL;
            }
            Action *a = g_new0 (Action, 1);
            g_autoptr (GError) e = NULL;
            if (!parse_action (s, a, &e)) {
                action_free (a);
                g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%d: %s", path, lineno,
                             e->message);
                return NULL;
            }
            g_ptr_array_add (cur->actions, a);
            continue;
        }
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (strcmp (line, "greeting") == 0 || g_str_has_prefix (line, "greeting ")) {
            if (have_greeting) {
                g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                             "%s:%d: second greeting", path, lineno);
                return NULL;
            }
            have_greeting = TRUE;
            cur = greeting;
            if (line[8] == ' ' && line[9] != '\0') {
                Action *a = g_new0 (Action, 1);
                a->kind = ACT_LINE;
                a->text = g_string_new (line + 9);
                g_ptr_array_add (cur->actions, a);
            }
        } else if (strcmp (line, "on") == 0 || g_str_has_prefix (line, "on ")) {
            const char *p = line + 2;
            gboolean once = FALSE;
            while (*p == ' ')
                p++;
            if (g_str_has_prefix (p, "once ") || strcmp (p, "once") == 0) {
                once = TRUE;
                p += 4;
                while (*p == ' ')
                    p++;
            }
            if (strcmp (p, "*") == 0)
                p = "";
            cur = rule_new (p, once, lineno);
            g_ptr_array_add (rules, cur);
        } else {
            g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                         "%s:%d: expected 'greeting', 'on', an indented action or '#': %s",
                         path, lineno, line);
            return NULL;
        }
    }
    if (!have_greeting) {
        Action *a = g_new0 (Action, 1);
        a->kind = ACT_LINE;
        a->text = g_string_new ("* OK fakeimap ready");
        g_ptr_array_add (greeting->actions, a);
    }
    return g_steal_pointer (&rules);
}

/* ---- I/O with timeouts ---- */

static int
wait_fd (int fd, short events, int timeout_ms)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    for (;;) {
        int r = poll (&pfd, 1, timeout_ms);
        if (r > 0)
            return IO_OK;
        if (r == 0)
            return IO_TIMEOUT;
        if (errno != EINTR)
            return IO_ERROR;
    }
}

static int
write_all (Conn *c, const char *data, gsize len)
{
    while (len > 0) {
        int w = wait_fd (c->out_fd, POLLOUT, c->timeout_ms);
        if (w != IO_OK)
            return w;
        ssize_t n = write (c->out_fd, data, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return (errno == EPIPE || errno == ECONNRESET) ? IO_EOF : IO_ERROR;
        }
        data += n;
        len -= (gsize) n;
    }
    return IO_OK;
}

/* Reads what the client sent (at most @cap bytes) into @dst; *@n_out: how many. */
static int
read_fd (Conn *c, void *dst, gsize cap, gsize *n_out)
{
    int w = wait_fd (c->in_fd, POLLIN, c->timeout_ms);
    if (w != IO_OK)
        return w;
    for (;;) {
        ssize_t n = read (c->in_fd, dst, cap);
        if (n > 0) {
            *n_out = (gsize) n;
            return IO_OK;
        }
        if (n == 0)
            return IO_EOF;
        if (errno != EINTR)
            return errno == ECONNRESET ? IO_EOF : IO_ERROR;
    }
}

/* After `deflate`: inflates into buf until at least one byte came out. */
static int
fill_inflate (Conn *c)
{
    for (;;) {
        c->zin->next_out = (unsigned char *) c->buf + c->end;
        c->zin->avail_out = (uInt) (sizeof c->buf - c->end);
        int z = inflate (c->zin, Z_SYNC_FLUSH);
        gsize got = sizeof c->buf - c->end - c->zin->avail_out;
        if (z != Z_OK && z != Z_BUF_ERROR) {
            g_printerr ("fakeimap: the client's compressed data is corrupt (%s)\n",
                        c->zin->msg ? c->zin->msg : zError (z));
            return IO_ERROR;
        }
        c->end += got;
        if (got > 0)
            return IO_OK;
        if (z == Z_OK && c->zin->avail_in > 0)
            continue;
        gsize have = c->zin->avail_in, n = 0;
        if (have > 0)
            memmove (c->raw, c->zin->next_in, have);
        c->zin->next_in = c->raw;
        int r = read_fd (c, c->raw + have, sizeof c->raw - have, &n);
        if (r != IO_OK)
            return r;
        c->zin->avail_in = (uInt) (have + n);
    }
}

static int
fill (Conn *c)
{
    if (c->start > 0 && c->start == c->end)
        c->start = c->end = 0;
    if (c->end == sizeof c->buf) {
        memmove (c->buf, c->buf + c->start, c->end - c->start);
        c->end -= c->start;
        c->start = 0;
    }
    if (c->zin)
        return fill_inflate (c);
    gsize n = 0;
    int r = read_fd (c, c->buf + c->end, sizeof c->buf - c->end, &n);
    if (r == IO_OK)
        c->end += n;
    return r;
}

/* Deflates @len bytes with a sync flush. (transfer full) */
static GByteArray *
deflate_bytes (Conn *c, const char *data, gsize len)
{
    GByteArray *out = g_byte_array_new ();
    unsigned char chunk[16384];
    c->zout->next_in = (unsigned char *) data;
    c->zout->avail_in = (uInt) len;
    do {
        c->zout->next_out = chunk;
        c->zout->avail_out = sizeof chunk;
        deflate (c->zout, Z_SYNC_FLUSH);
        g_byte_array_append (out, chunk, (guint) (sizeof chunk - c->zout->avail_out));
    } while (c->zout->avail_out == 0);
    return out;
}

static int write_all (Conn *c, const char *data, gsize len);

/* Everything fakeimap sends goes through here: deflated after a `deflate` action. */
static int
send_out (Conn *c, const char *data, gsize len)
{
    if (!c->zout)
        return write_all (c, data, len);
    g_autoptr (GByteArray) z = deflate_bytes (c, data, len);
    return write_all (c, (const char *) z->data, z->len);
}

/* RFC 4978: compression starts with the byte after the OK; anything the client already sent
 * behind the COMPRESS command is compressed. */
static void
start_deflate (Conn *c)
{
    if (c->zin)
        return;
    c->zin = g_new0 (z_stream, 1);
    c->zout = g_new0 (z_stream, 1);
    if (inflateInit2 (c->zin, -15) != Z_OK ||
        deflateInit2 (c->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) !=
            Z_OK)
        g_error ("zlib init failed");
    gsize have = c->end - c->start;
    memcpy (c->raw, c->buf + c->start, have);
    c->zin->next_in = c->raw;
    c->zin->avail_in = (uInt) have;
    c->start = c->end = 0;
}

/* One line without its CRLF/LF; at most MAX_KEEP bytes are kept. */
static int
read_line (Conn *c, GString *out)
{
    for (;;) {
        char *nl = memchr (c->buf + c->start, '\n', c->end - c->start);
        gsize take = nl ? (gsize) (nl - (c->buf + c->start)) : c->end - c->start;
        if (out->len < MAX_KEEP)
            g_string_append_len (out, c->buf + c->start, MIN (take, MAX_KEEP - out->len));
        c->start += take;
        if (nl) {
            c->start++;
            if (out->len > 0 && out->str[out->len - 1] == '\r')
                g_string_truncate (out, out->len - 1);
            return IO_OK;
        }
        int r = fill (c);
        if (r != IO_OK)
            return (r == IO_EOF && out->len > 0) ? IO_OK : r;
    }
}

static int
read_bytes (Conn *c, guint64 n, GString *out)
{
    while (n > 0) {
        if (c->start == c->end) {
            int r = fill (c);
            if (r != IO_OK)
                return r;
        }
        gsize take = (gsize) MIN ((guint64) (c->end - c->start), n);
        if (out->len < MAX_KEEP)
            g_string_append_len (out, c->buf + c->start, MIN (take, MAX_KEEP - out->len));
        c->start += take;
        n -= take;
    }
    return IO_OK;
}

/* If line ends with {N}, {N+} or ~{N}: sets *n, *sync and returns TRUE. */
static gboolean
literal_at_end (const GString *line, guint64 *n, gboolean *sync)
{
    if (line->len < 3 || line->str[line->len - 1] != '}')
        return FALSE;
    const char *open = g_strrstr (line->str, "{");
    if (!open)
        return FALSE;
    const char *p = open + 1;
    const char *close = line->str + line->len - 1;
    *sync = TRUE;
    if (close[-1] == '+' || close[-1] == '-') {
        *sync = FALSE;
        close--;
    }
    if (p == close)
        return FALSE;
    guint64 v = 0;
    for (; p < close; p++) {
        if (*p < '0' || *p > '9' || v > MAX_LITERAL)
            return FALSE;
        v = v * 10 + (guint64) (*p - '0');
    }
    if (v > MAX_LITERAL)
        return FALSE;
    *n = v;
    return TRUE;
}

/* A whole command: lines joined with their literals (CRLF kept between the parts). */
static int
read_command (Conn *c, GString *cmd)
{
    g_string_truncate (cmd, 0);
    for (int parts = 0; parts < 10000; parts++) {
        g_autoptr (GString) line = g_string_new (NULL);
        int r = read_line (c, line);
        if (r != IO_OK)
            return (r == IO_EOF && cmd->len > 0) ? IO_OK : r;
        if (cmd->len < MAX_KEEP)
            g_string_append_len (cmd, line->str, MIN (line->len, MAX_KEEP - cmd->len));
        guint64 n = 0;
        gboolean sync = TRUE;
        if (!literal_at_end (line, &n, &sync))
            return IO_OK;
        if (sync) {
            r = send_out (c, "+ go ahead\r\n", 12);
            if (r != IO_OK)
                return r;
        }
        g_string_append (cmd, "\r\n");
        r = read_bytes (c, n, cmd);
        if (r != IO_OK)
            return r;
    }
    return IO_OK;
}

/* ---- running the script ---- */

static GString *
subst_tag (const GString *text, const char *tag)
{
    GString *out = g_string_sized_new (text->len);
    for (gsize i = 0; i < text->len;) {
        if (text->len - i >= 4 && memcmp (text->str + i, "$TAG", 4) == 0) {
            g_string_append (out, tag);
            i += 4;
        } else {
            g_string_append_c (out, text->str[i++]);
        }
    }
    return out;
}

static gboolean
rule_matches (const Rule *r, const char *command)
{
    gsize pl = strlen (r->prefix);
    if (pl == 0)
        return TRUE;
    if (g_ascii_strncasecmp (command, r->prefix, pl) != 0)
        return FALSE;
    /* "LIST" must not match "LISTRIGHTS": a prefix ending in a letter/digit ends a word. */
    if (g_ascii_isalnum (r->prefix[pl - 1]) && g_ascii_isalnum (command[pl]))
        return FALSE;
    return TRUE;
}

/* Returns IO_OK to go on, IO_EOF when the connection is to be closed, or an error. */
static int
run_actions (Conn *c, const Rule *r, const char *tag)
{
    for (guint i = 0; i < r->actions->len; i++) {
        const Action *a = g_ptr_array_index (r->actions, i);
        int w = IO_OK;
        switch (a->kind) {
        case ACT_LINE:
        case ACT_SEND: {
            g_autoptr (GString) s = subst_tag (a->text, tag);
            g_string_append (s, "\r\n");
            w = send_out (c, s->str, s->len);
            break;
        }
        case ACT_RAW: {
            g_autoptr (GString) s = subst_tag (a->text, tag);
            w = send_out (c, s->str, s->len);
            break;
        }
        case ACT_CUT: {
            g_autoptr (GString) s = subst_tag (a->text, tag);
            if (!c->zout) {
                w = write_all (c, s->str, s->len / 2);
                break;
            }
            g_autoptr (GByteArray) z = deflate_bytes (c, s->str, s->len);
            w = write_all (c, (const char *) z->data, z->len / 2);
            break;
        }
        case ACT_DEFLATE:
            start_deflate (c);
            break;
        case ACT_REPEAT: {
            g_autoptr (GString) s = subst_tag (a->text, tag);
            g_autoptr (GString) chunk = g_string_new (NULL);
            guint64 per_chunk = MAX (1, 65536 / s->len);
            for (guint64 k = 0; k < MIN (per_chunk, a->count); k++)
                g_string_append_len (chunk, s->str, s->len);
            guint64 left = a->count;
            while (left > 0 && w == IO_OK) {
                guint64 now = MIN (left, per_chunk);
                w = send_out (c, chunk->str, now * s->len);
                left -= now;
            }
            break;
        }
        case ACT_SLEEP:
            g_usleep ((gulong) (a->secs * G_USEC_PER_SEC));
            break;
        case ACT_CLOSE:
            return IO_EOF;
        }
        if (w != IO_OK)
            return w;
    }
    return IO_OK;
}

static int
serve (Conn *c, GPtrArray *rules)
{
    int unmatched = 0;
    int r = run_actions (c, g_ptr_array_index (rules, 0), "");
    if (r == IO_EOF)
        return 0;
    g_autoptr (GString) cmd = g_string_new (NULL);
    while (r == IO_OK) {
        r = read_command (c, cmd);
        if (r != IO_OK)
            break;
        if (c->log) {
            fprintf (c->log, "C: %s\n", cmd->str);
            fflush (c->log);
        }
        const char *sp = strchr (cmd->str, ' ');
        g_autofree char *tag = sp ? g_strndup (cmd->str, (gsize) (sp - cmd->str)) : g_strdup ("");
        const char *command = sp ? sp + 1 : cmd->str;
        Rule *match = NULL;
        for (guint i = 1; i < rules->len; i++) {
            Rule *rule = g_ptr_array_index (rules, i);
            if (rule->once && rule->used)
                continue;
            if (rule_matches (rule, command)) {
                match = rule;
                break;
            }
        }
        if (!match) {
            unmatched++;
            g_printerr ("fakeimap: unmatched command: %.200s\n", cmd->str);
            g_autofree char *bad = g_strdup_printf ("%s BAD unexpected command\r\n",
                                                    *tag ? tag : "*");
            r = send_out (c, bad, strlen (bad));
            continue;
        }
        match->used = TRUE;
        r = run_actions (c, match, tag);
        /* Like a real server: the connection ends after the reply to LOGOUT. */
        if (r == IO_OK && g_ascii_strncasecmp (command, "LOGOUT", 6) == 0 &&
            (command[6] == '\0' || command[6] == ' '))
            r = IO_EOF;
    }
    if (r == IO_TIMEOUT) {
        g_printerr ("fakeimap: timed out after %d ms\n", c->timeout_ms);
        return 2;
    }
    if (r == IO_ERROR) {
        g_printerr ("fakeimap: I/O error: %s\n", g_strerror (errno));
        return 2;
    }
    return unmatched ? 3 : 0;
}

/* Listens on 127.0.0.1 on an ephemeral port and writes the port to @port_file. */
static int
listen_on (const char *port_file)
{
    int s = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
        g_printerr ("fakeimap: socket: %s\n", g_strerror (errno));
        return -1;
    }
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind (s, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (s, 4) < 0 ||
        getsockname (s, (struct sockaddr *) &sa, &sl) < 0) {
        g_printerr ("fakeimap: bind/listen: %s\n", g_strerror (errno));
        close (s);
        return -1;
    }
    g_autofree char *tmp = g_strdup_printf ("%s.tmp", port_file);
    g_autofree char *text = g_strdup_printf ("%u\n", (unsigned) ntohs (sa.sin_port));
    g_autoptr (GError) error = NULL;
    if (!g_file_set_contents (tmp, text, -1, &error) || rename (tmp, port_file) < 0) {
        g_printerr ("fakeimap: cannot write %s: %s\n", port_file,
                    error ? error->message : g_strerror (errno));
        close (s);
        return -1;
    }
    return s;
}

static int
accept_one (int s, int timeout_ms)
{
    if (wait_fd (s, POLLIN, timeout_ms) != IO_OK) {
        g_printerr ("fakeimap: no connection within %d ms\n", timeout_ms);
        return -2;
    }
    int fd = accept4 (s, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        g_printerr ("fakeimap: accept: %s\n", g_strerror (errno));
    return fd;
}

/* Serves @n connections in turn on @port_file's port; the rules ("once") carry over. */
static int
serve_tcp (Conn *c, GPtrArray *rules, const char *port_file, int n)
{
    int s = listen_on (port_file);
    int status = 0;

    if (s < 0)
        return 1;
    for (int i = 0; i < n && status != 2; i++) {
        int fd = accept_one (s, c->timeout_ms);
        int r;
        if (fd < 0) {
            status = fd == -2 ? 2 : 1;
            break;
        }
        c->in_fd = c->out_fd = fd;
        c->start = c->end = 0;
        r = serve (c, rules);
        shutdown (fd, SHUT_RDWR);
        close (fd);
        if (c->zin) {
            inflateEnd (c->zin);
            deflateEnd (c->zout);
            g_clear_pointer (&c->zin, g_free);
            g_clear_pointer (&c->zout, g_free);
        }
        status = MAX (status, r);
    }
    close (s);
    return status;
}

int
main (int argc, char **argv)
{
    gboolean stdio_mode = FALSE;
    g_autofree char *port_file = NULL;
    g_autofree char *log_file = NULL;
    int timeout = 30;
    int connections = 1;
    GOptionEntry entries[] = {
        { "stdio", 0, 0, G_OPTION_ARG_NONE, &stdio_mode, "Speak IMAP on stdin/stdout", NULL },
        { "port-file", 0, 0, G_OPTION_ARG_FILENAME, &port_file,
          "Listen on 127.0.0.1, write the port to FILE, serve one connection", "FILE" },
        { "connections", 0, 0, G_OPTION_ARG_INT, &connections,
          "With --port-file: serve N connections one after the other (default 1)", "N" },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
          "Seconds to wait for accept/read/write (default 30)", "SECS" },
        { "log", 0, 0, G_OPTION_ARG_FILENAME, &log_file,
          "Append each client command to FILE as 'C: ...'", "FILE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr (GOptionContext) ctx = g_option_context_new ("SCRIPT");
    g_option_context_add_main_entries (ctx, entries, NULL);
    g_autoptr (GError) error = NULL;
    if (!g_option_context_parse (ctx, &argc, &argv, &error)) {
        g_printerr ("fakeimap: %s\n", error->message);
        return 1;
    }
    if (argc != 2 || stdio_mode == (port_file != NULL) || timeout <= 0 || timeout > 3600 ||
        connections < 1 || connections > 100) {
        g_printerr ("usage: fakeimap [--timeout SECS] [--log FILE] (--stdio | --port-file FILE "
                    "[--connections N]) SCRIPT\n");
        return 1;
    }
    g_autoptr (GPtrArray) rules = parse_script (argv[1], &error);
    if (!rules) {
        g_printerr ("fakeimap: %s\n", error->message);
        return 1;
    }
    signal (SIGPIPE, SIG_IGN);

    Conn *c = g_new0 (Conn, 1);
    c->timeout_ms = timeout * 1000;
    if (log_file) {
        c->log = fopen (log_file, "a");
        if (!c->log) {
            g_printerr ("fakeimap: %s: %s\n", log_file, g_strerror (errno));
            g_free (c);
            return 1;
        }
    }
    int status;
    if (stdio_mode) {
        c->in_fd = STDIN_FILENO;
        c->out_fd = STDOUT_FILENO;
        status = serve (c, rules);
    } else {
        status = serve_tcp (c, rules, port_file, connections);
    }
    if (c->log)
        fclose (c->log);
    if (c->zin) {
        inflateEnd (c->zin);
        deflateEnd (c->zout);
        g_free (c->zin);
        g_free (c->zout);
    }
    g_free (c);
    return status;
}

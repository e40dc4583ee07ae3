/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync import-mbsyncrc`: reads an mbsync configuration (isync 1.4, mbsync(1)) into stores,
 * accounts and channels, then writes one nmsync [account] per Channel that pairs an IMAP store
 * with a Maildir store. What has no nmsync equivalent becomes a comment
 * "# mbsyncrc:LINE: not translated: ..." next to the account it concerns, so nothing is
 * dropped silently. The input is the user's file, not hostile, but it is parsed as if it were:
 * the output is always valid UTF-8 that nmsync's own loader reads line by line. */
#include "config/config.h"

#include "config/config-private.h"

#include <string.h>

typedef struct {
    MbsyncConfig cfg;
    ChannelOptions global;
    Store *store; /* the open section, or NULL */
    Channel *channel;
} Parser;

static void
channel_options_clear (ChannelOptions *o)
{
    g_free (o->create);
    g_free (o->expunge);
    g_free (o->remove);
    g_free (o->sync);
    g_free (o->sync_state);
}

static void
store_free (Store *s)
{
    g_free (s->name);
    g_free (s->host);
    g_free (s->port);
    g_free (s->user);
    if (s->pass != NULL)
        explicit_bzero (s->pass, strlen (s->pass));
    g_free (s->pass);
    g_free (s->pass_cmd);
    g_free (s->tunnel);
    g_free (s->ssl_type);
    g_free (s->ca_file);
    g_free (s->timeout);
    g_free (s->account);
    g_free (s->path);
    g_free (s->inbox);
    g_free (s->subfolders);
    g_free (s->flatten);
    g_ptr_array_unref (s->notes);
    g_free (s);
}

static void
channel_free (Channel *c)
{
    g_free (c->name);
    g_free (c->far);
    g_free (c->near);
    g_ptr_array_unref (c->patterns);
    channel_options_clear (&c->opt);
    g_ptr_array_unref (c->notes);
    g_free (c);
}

/* Text from the input, made safe for a comment line: valid UTF-8, no control characters. */
char *
nms_mbsyncrc_printable (const char *s)
{
    char *valid = g_utf8_make_valid (s, -1);

    for (char *p = valid; *p != '\0'; p++)
        if ((guchar) *p < 0x20 || *p == 0x7f)
            *p = '?';
    return valid;
}

/* Adds "# mbsyncrc:LINE: WHY" to @notes. */
void
nms_mbsyncrc_note (GPtrArray *notes, int line, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    g_autofree char *safe = NULL;
    va_list ap;

    va_start (ap, fmt);
    why = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    safe = nms_mbsyncrc_printable (why);
    g_ptr_array_add (notes, g_strdup_printf ("# mbsyncrc:%d: %s", line, safe));
}

/* Splits a line into words as mbsync's get_arg() does: blanks separate words, double quotes
 * group (anywhere in a word) and a backslash takes the next character literally. NULL for an
 * unterminated quote. (transfer full) */
static char **
split_words (const char *line)
{
    g_autoptr (GPtrArray) words = g_ptr_array_new_with_free_func (g_free);
    const char *p = line;

    for (;;) {
        g_autoptr (GString) w = g_string_new (NULL);
        gboolean quoted = FALSE, escaped = FALSE;

        while (g_ascii_isspace (*p))
            p++;
        if (*p == '\0')
            break;
        for (; *p != '\0'; p++) {
            if (escaped) {
                escaped = FALSE;
                g_string_append_c (w, *p);
            } else if (*p == '\\') {
                escaped = TRUE;
            } else if (*p == '"') {
                quoted = !quoted;
            } else if (!quoted && g_ascii_isspace (*p)) {
                break;
            } else {
                g_string_append_c (w, *p);
            }
        }
        if (quoted || escaped)
            return NULL;
        g_ptr_array_add (words, g_string_free (g_steal_pointer (&w), FALSE));
    }
    g_ptr_array_add (words, NULL);
    return (char **) g_ptr_array_free (g_steal_pointer (&words), FALSE);
}

/* The rest of the words joined by one space: a value mbsync reads as one argument. */
static char *
value_of (char **words)
{
    return words[1] != NULL ? g_strjoinv (" ", words + 1) : NULL;
}

gboolean
nms_mbsyncrc_is (const char *word, const char *name)
{
    return g_ascii_strcasecmp (word, name) == 0;
}

/* Sets *@slot to the value of @words (the last one given wins, as in mbsync). */
static void
set (char **slot, int *line_slot, char **words, int line)
{
    g_free (*slot);
    *slot = value_of (words);
    if (line_slot != NULL)
        *line_slot = line;
}

static gboolean
channel_option (ChannelOptions *o, char **words, int line)
{
    if (nms_mbsyncrc_is (words[0], "Create"))
        set (&o->create, &o->create_line, words, line);
    else if (nms_mbsyncrc_is (words[0], "Expunge"))
        set (&o->expunge, &o->expunge_line, words, line);
    else if (nms_mbsyncrc_is (words[0], "Remove"))
        set (&o->remove, &o->remove_line, words, line);
    else if (nms_mbsyncrc_is (words[0], "Sync"))
        set (&o->sync, &o->sync_line, words, line);
    else if (nms_mbsyncrc_is (words[0], "SyncState"))
        set (&o->sync_state, &o->sync_state_line, words, line);
    else
        return FALSE;
    return TRUE;
}

/* Options of an IMAPAccount, also allowed in an IMAPStore without "Account". */
static gboolean
account_option (Store *s, char **words, int line)
{
    const char *k = words[0];

    if (nms_mbsyncrc_is (k, "Host"))
        set (&s->host, &s->host_line, words, line);
    else if (nms_mbsyncrc_is (k, "Port"))
        set (&s->port, &s->port_line, words, line);
    else if (nms_mbsyncrc_is (k, "User"))
        set (&s->user, NULL, words, line);
    else if (nms_mbsyncrc_is (k, "Pass"))
        set (&s->pass, &s->pass_line, words, line);
    else if (nms_mbsyncrc_is (k, "PassCmd"))
        set (&s->pass_cmd, NULL, words, line);
    else if (nms_mbsyncrc_is (k, "Tunnel"))
        set (&s->tunnel, NULL, words, line);
    else if (nms_mbsyncrc_is (k, "SSLType"))
        set (&s->ssl_type, &s->ssl_line, words, line);
    else if (nms_mbsyncrc_is (k, "CertificateFile"))
        set (&s->ca_file, &s->ca_line, words, line);
    else if (nms_mbsyncrc_is (k, "Timeout"))
        set (&s->timeout, &s->timeout_line, words, line);
    else if (nms_mbsyncrc_is (k, "UseIMAPS"))
        s->use_imaps = words[1] != NULL && nms_mbsyncrc_is (words[1], "yes");
    else if (nms_mbsyncrc_is (k, "RequireSSL"))
        s->require_ssl_no = words[1] != NULL && nms_mbsyncrc_is (words[1], "no");
    else
        return FALSE;
    return TRUE;
}

static gboolean
store_option (Store *s, char **words, int line)
{
    const char *k = words[0];

    if (s->kind != SECTION_MAILDIR_STORE && account_option (s, words, line))
        return TRUE;
    if (s->kind == SECTION_IMAP_STORE && nms_mbsyncrc_is (k, "Account"))
        set (&s->account, &s->account_line, words, line);
    else if (s->kind != SECTION_ACCOUNT && nms_mbsyncrc_is (k, "Path"))
        set (&s->path, &s->path_line, words, line);
    else if (s->kind == SECTION_MAILDIR_STORE && nms_mbsyncrc_is (k, "Inbox"))
        set (&s->inbox, &s->inbox_line, words, line);
    else if (s->kind == SECTION_MAILDIR_STORE && nms_mbsyncrc_is (k, "SubFolders"))
        set (&s->subfolders, &s->subfolders_line, words, line);
    else if (s->kind == SECTION_MAILDIR_STORE && nms_mbsyncrc_is (k, "Flatten"))
        set (&s->flatten, &s->flatten_line, words, line);
    else
        return FALSE;
    return TRUE;
}

static void
channel_line (Channel *c, char **words, int line)
{
    const char *k = words[0];

    if (nms_mbsyncrc_is (k, "Far") || nms_mbsyncrc_is (k, "Master"))
        set (&c->far, &c->far_line, words, line);
    else if (nms_mbsyncrc_is (k, "Near") || nms_mbsyncrc_is (k, "Slave"))
        set (&c->near, &c->near_line, words, line);
    else if (nms_mbsyncrc_is (k, "Pattern") || nms_mbsyncrc_is (k, "Patterns")) {
        for (int i = 1; words[i] != NULL; i++)
            g_ptr_array_add (c->patterns, g_strdup (words[i]));
        c->patterns_line = line;
    } else if (!channel_option (&c->opt, words, line)) {
        nms_mbsyncrc_note (c->notes, line, "not translated: %s%s%s", k, words[1] != NULL ? " " : "",
                           words[1] != NULL ? words[1] : "");
    }
}

/* Opens a section for a section-starting keyword; FALSE when @words is not one. */
static gboolean
open_section (Parser *p, char **words, int line)
{
    static const char *const kinds[] = { "IMAPAccount", "IMAPStore", "MaildirStore" };
    const char *name = words[1] != NULL ? words[1] : "";

    for (int i = 0; i < 3; i++) {
        if (nms_mbsyncrc_is (words[0], kinds[i])) {
            p->channel = NULL;
            p->store = g_new0 (Store, 1);
            p->store->kind = (StoreKind) i;
            p->store->name = g_strdup (name);
            p->store->line = line;
            p->store->notes = g_ptr_array_new_with_free_func (g_free);
            g_ptr_array_add (p->cfg.stores, p->store);
            return TRUE;
        }
    }
    if (nms_mbsyncrc_is (words[0], "Channel")) {
        Channel *c = g_new0 (Channel, 1);

        c->name = g_strdup (name);
        c->line = line;
        c->patterns = g_ptr_array_new_with_free_func (g_free);
        c->notes = g_ptr_array_new_with_free_func (g_free);
        c->opt.create = g_strdup (p->global.create);
        c->opt.expunge = g_strdup (p->global.expunge);
        c->opt.remove = g_strdup (p->global.remove);
        c->opt.sync = g_strdup (p->global.sync);
        c->opt.sync_state = g_strdup (p->global.sync_state);
        c->opt.create_line = p->global.create_line;
        c->opt.expunge_line = p->global.expunge_line;
        c->opt.remove_line = p->global.remove_line;
        c->opt.sync_line = p->global.sync_line;
        c->opt.sync_state_line = p->global.sync_state_line;
        g_ptr_array_add (p->cfg.channels, c);
        p->store = NULL;
        p->channel = c;
        return TRUE;
    }
    if (nms_mbsyncrc_is (words[0], "Group")) {
        g_autofree char *safe = nms_mbsyncrc_printable (name);

        nms_mbsyncrc_note (
            p->cfg.notes, line,
            "Group %s ignored: nmsync syncs every account, or those named on its command line",
            safe);
        p->store = NULL;
        p->channel = NULL;
        return TRUE; /* its Channel(s) lines are read as global lines and ignored */
    }
    return FALSE;
}

static void
read_line (Parser *p, char *text, int line)
{
    g_auto (GStrv) words = NULL;

    while (g_ascii_isspace (*text))
        text++;
    if (*text == '#')
        return;
    if (*text == '\0') { /* mbsync(1): a section ends at an empty line */
        p->store = NULL;
        p->channel = NULL;
        return;
    }
    words = split_words (text);
    if (words == NULL) {
        nms_mbsyncrc_note (p->cfg.notes, line, "not translated: a line with an unterminated '\"'");
        return;
    }
    if (open_section (p, words, line))
        return;
    if (p->store != NULL) {
        if (!store_option (p->store, words, line))
            nms_mbsyncrc_note (p->store->notes, line, "not translated: %s%s%s", words[0],
                               words[1] != NULL ? " " : "", words[1] != NULL ? words[1] : "");
    } else if (p->channel != NULL) {
        channel_line (p->channel, words, line);
    } else if (nms_mbsyncrc_is (words[0], "Channel") || nms_mbsyncrc_is (words[0], "Channels")) {
        /* a Group's members, after an empty line mbsync would reject them: ignored too */
    } else if (!channel_option (&p->global, words, line)) {
        nms_mbsyncrc_note (p->cfg.notes, line, "not translated: %s%s%s", words[0],
                           words[1] != NULL ? " " : "", words[1] != NULL ? words[1] : "");
    }
}

char *
nms_config_import_mbsyncrc (const char *path, const char *text)
{
    g_autoptr (GString) out = g_string_new (NULL);
    g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
    g_autofree char *safe_path = nms_mbsyncrc_printable (path);
    Parser p = { 0 };

    p.cfg.stores = g_ptr_array_new_with_free_func ((GDestroyNotify) store_free);
    p.cfg.channels = g_ptr_array_new_with_free_func ((GDestroyNotify) channel_free);
    p.cfg.notes = g_ptr_array_new_with_free_func (g_free);
    for (int i = 0; lines[i] != NULL; i++) {
        gsize n = strlen (lines[i]);

        if (n > 0 && lines[i][n - 1] == '\r')
            lines[i][n - 1] = '\0';
        read_line (&p, lines[i], i + 1);
    }

    g_string_append_printf (out,
                            "# nmsync config made by 'nmsync import-mbsyncrc' from %s.\n"
                            "# Read the comments, then see MIGRATING FROM MBSYNC in "
                            "nmsync(1).\n",
                            safe_path);
    for (guint i = 0; i < p.cfg.notes->len; i++)
        g_string_append_printf (out, "%s\n", (char *) p.cfg.notes->pdata[i]);
    nms_mbsyncrc_write (&p.cfg, out);
    g_ptr_array_unref (p.cfg.stores);
    g_ptr_array_unref (p.cfg.channels);
    g_ptr_array_unref (p.cfg.notes);
    channel_options_clear (&p.global);
    return g_string_free (g_steal_pointer (&out), FALSE);
}

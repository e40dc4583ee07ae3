/* SPDX-License-Identifier: GPL-3.0-or-later
 * The second half of `nmsync import-mbsyncrc`: one [account] per mbsync Channel that pairs an
 * IMAP store with a Maildir store, read by mbsyncrc.c. Each value is checked the way
 * nms_config_load() will check it; what cannot pass becomes a "not translated" comment (or a
 * FIXME value that the comment names), so the output always loads - except an account whose
 * folder directories nmsync would not find where mbsync keeps them (Flatten, SubFolders
 * Legacy, Inbox elsewhere, a far folder in the Maildir root):
 * its "maildir = FIXME-ROOT" does not load until the user decides, as adopt and sync would
 * download those folders a second time. */
#include "config/config.h"

#include "config/config-private.h"

#include <gio/gio.h>
#include <string.h>

/* A value as GKeyFile reads it back: backslashes doubled, a leading blank and control
 * characters escaped. */
static void
put (GString *out, const char *key, const char *value)
{
    g_autofree char *valid = g_utf8_make_valid (value, -1);

    g_string_append_printf (out, "%s = ", key);
    for (const char *v = valid; *v != '\0'; v++) {
        if (*v == '\\')
            g_string_append (out, "\\\\");
        else if (*v == '\n')
            g_string_append (out, "\\n");
        else if (*v == '\t')
            g_string_append (out, "\\t");
        else if (*v == '\r')
            g_string_append (out, "\\r");
        else if (v == valid && *v == ' ')
            g_string_append (out, "\\s");
        else if ((guchar) *v < 0x20 || *v == 0x7f)
            g_string_append_c (out, '?');
        else
            g_string_append_c (out, *v);
    }
    g_string_append_c (out, '\n');
}

static Store *
find_store (const MbsyncConfig *p, const char *name, gboolean account)
{
    for (guint i = 0; i < p->stores->len; i++) {
        Store *s = p->stores->pdata[i];

        if ((s->kind == SECTION_ACCOUNT) == account && strcmp (s->name, name) == 0)
            return s;
    }
    return NULL;
}

/* Splits ":store:box" into the store and the box ("" when omitted). */
static gboolean
parse_ref (const char *ref, char **store_out, char **box_out)
{
    const char *colon;

    if (ref == NULL || ref[0] != ':' || (colon = strchr (ref + 1, ':')) == NULL || colon == ref + 1)
        return FALSE;
    *store_out = g_strndup (ref + 1, colon - ref - 1);
    *box_out = g_strdup (colon + 1);
    return TRUE;
}

/* mbsync's None|Far|Near|Both (Master|Slave the old spelling of Far|Near, several words
 * allowed: "Far Near") as nmsync's sides, the IMAP store being on the far side or not. */
static const char *
sides (const char *value, gboolean imap_far)
{
    gboolean far = FALSE, near = FALSE;
    g_auto (GStrv) words = g_strsplit_set (value != NULL ? value : "None", " \t", -1);

    for (char **w = words; *w != NULL; w++) {
        far = far || nms_mbsyncrc_is (*w, "Far") || nms_mbsyncrc_is (*w, "Master")
              || nms_mbsyncrc_is (*w, "Both");
        near = near || nms_mbsyncrc_is (*w, "Near") || nms_mbsyncrc_is (*w, "Slave")
               || nms_mbsyncrc_is (*w, "Both");
    }
    if (!imap_far) {
        gboolean t = far;

        far = near;
        near = t;
    }
    return far && near ? "both" : far ? "server" : near ? "local" : "none";
}

/* As nms_config_load() decides it: "localhost" or a loopback address. */
static gboolean
is_loopback (const char *host)
{
    g_autoptr (GInetAddress) addr = NULL;

    if (g_ascii_strcasecmp (host, "localhost") == 0)
        return TRUE;
    addr = g_inet_address_new_from_string (host);
    return addr != NULL && g_inet_address_get_is_loopback (addr);
}

/* A valid account name: nmsync refuses '/', '[', blanks and control characters. */
static char *
account_name (const char *name)
{
    g_autofree char *valid = g_utf8_make_valid (*name != '\0' ? name : "mbsync", -1);
    GString *s = g_string_new (NULL);

    for (const char *c = valid; *c != '\0'; c = g_utf8_next_char (c)) {
        gunichar u = g_utf8_get_char (c);

        if (u == '/' || u == '[' || u == ']' || g_unichar_isspace (u) || g_unichar_iscntrl (u))
            g_string_append_c (s, '-');
        else
            g_string_append_unichar (s, u);
    }
    if (strcmp (s->str, ".") == 0 || strcmp (s->str, "..") == 0)
        g_string_append (s, "-mbsync");
    return g_string_free (s, FALSE);
}

/* A path nmsync accepts: "~/x" and absolute ones as they are (mbsync and nmsync both expand
 * "~/"), without the trailing '/' mbsync's Path prefixes carry. NULL when it cannot be one. */
static char *
local_path (const char *path)
{
    g_autofree char *p = g_strdup (path);
    gsize n = strlen (p);

    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    if (strcmp (p, "~") == 0 || g_str_has_prefix (p, "~/") || g_path_is_absolute (p))
        return g_steal_pointer (&p);
    return NULL;
}

typedef struct {
    const MbsyncConfig *p;
    const Channel *c;
    GString *out;
    GPtrArray *notes; /* the account's comment lines, written after its keys */
    char *unsafe;     /* why nmsync's folder directories would not be mbsync's, or NULL */
    int unsafe_line;
} Writer;

/* Records that the account cannot adopt mbsync's spool as it is (the first reason wins):
 * its maildir key is then written as FIXME, so that the config does not load until the
 * user decides, instead of a sync that downloads those folders a second time. */
static void
set_unsafe (Writer *w, int line, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
static void
set_unsafe (Writer *w, int line, const char *fmt, ...)
{
    va_list ap;

    if (w->unsafe != NULL)
        return;
    va_start (ap, fmt);
    w->unsafe = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    w->unsafe_line = line;
}

static void
write_connection (Writer *w, const Store *imap, const Store *acc)
{
    const Store *s = acc != NULL ? acc : imap;
    const char *host = s->host;
    gboolean tunnel = s->tunnel != NULL && *s->tunnel != '\0';
    const char *tls;
    guint64 port = 0;

    if (host != NULL && g_str_has_prefix (host, "imaps:"))
        host += strlen ("imaps:");
    if (tunnel)
        put (w->out, "tunnel", s->tunnel);
    if (host != NULL && *host != '\0' && strpbrk (host, " \t#") == NULL)
        put (w->out, "host", host);
    else if (!tunnel) {
        nms_mbsyncrc_note (w->notes, s->line,
                           "not translated: no usable Host in %s %s: fill in host",
                           acc != NULL ? "IMAPAccount" : "IMAPStore", s->name);
        put (w->out, "host", "FIXME");
    }
    if (s->ssl_type != NULL)
        tls = nms_mbsyncrc_is (s->ssl_type, "IMAPS")  ? "imaps"
              : nms_mbsyncrc_is (s->ssl_type, "None") ? "none"
                                                      : "starttls";
    else if (tunnel)
        tls = "none";
    else
        tls = (s->use_imaps || (s->host != NULL && g_str_has_prefix (s->host, "imaps:")))
                  ? "imaps"
                  : "starttls";
    if (strcmp (tls, "none") == 0 && !tunnel && (host == NULL || !is_loopback (host))) {
        nms_mbsyncrc_note (w->notes, s->ssl_line,
                           "not translated: SSLType None to a remote host: nmsync "
                           "never sends a password in clear, starttls used instead");
        tls = "starttls";
    }
    if (s->require_ssl_no && strcmp (tls, "none") != 0)
        nms_mbsyncrc_note (w->notes, s->line,
                           "not translated: RequireSSL no: nmsync never falls back to "
                           "plain text");
    if (!tunnel || s->ssl_type != NULL)
        put (w->out, "tls", tls);
    if (s->port != NULL) {
        if (g_ascii_string_to_unsigned (s->port, 10, 1, 65535, &port, NULL))
            put (w->out, "port", s->port);
        else
            nms_mbsyncrc_note (w->notes, s->port_line,
                               "not translated: Port %s is not a port number", s->port);
    }
    if (s->user != NULL && *s->user != '\0')
        put (w->out, "user", s->user);
    else if (!tunnel) {
        nms_mbsyncrc_note (w->notes, s->line,
                           "not translated: no User (mbsync asks for it or runs UserCmd)"
                           ": fill in user");
        put (w->out, "user", "FIXME");
    }
    if (s->pass_cmd != NULL && *s->pass_cmd != '\0')
        /* mbsync's leading '+' means: the command talks to the terminal. */
        put (w->out, "password-command", s->pass_cmd + (s->pass_cmd[0] == '+'));
    else if (s->pass != NULL && *s->pass != '\0') {
        put (w->out, "password", s->pass);
        nms_mbsyncrc_note (w->notes, s->pass_line,
                           "note: the password was copied: chmod 600 this file, or use "
                           "password-command");
    } else if (!tunnel)
        nms_mbsyncrc_note (w->notes, s->line,
                           "not translated: no Pass or PassCmd (mbsync asks at the "
                           "terminal, nmsync does not): add password-command");
    if (s->ca_file != NULL) {
        g_autofree char *ca = local_path (s->ca_file);

        if (ca != NULL) {
            put (w->out, "ca-file", ca);
            nms_mbsyncrc_note (w->notes, s->ca_line,
                               "note: mbsync trusts CertificateFile besides the "
                               "system CAs; nmsync's ca-file replaces them");
        } else
            nms_mbsyncrc_note (w->notes, s->ca_line,
                               "not translated: CertificateFile %s (not an absolute "
                               "or ~/ path)",
                               s->ca_file);
    }
    if (s->timeout != NULL) {
        guint64 t = 0;

        if (g_ascii_string_to_unsigned (s->timeout, 10, 1, 3600, &t, NULL))
            put (w->out, "timeout", s->timeout);
        else
            nms_mbsyncrc_note (w->notes, s->timeout_line,
                               "not translated: Timeout %s (nmsync: 1 to 3600 "
                               "seconds)",
                               s->timeout);
    }
    if (imap->path != NULL && *imap->path != '\0')
        nms_mbsyncrc_note (w->notes, imap->path_line,
                           "not translated: Path %s of IMAPStore %s (a prefix of "
                           "server folder names)",
                           imap->path, imap->name);
}

/* The Maildir root of the account (transfer full), its layout in *@pp_out; NULL when the
 * Channel cannot be an account (a mailbox prefix with Patterns), with a note saying why. */
static char *
maildir_of (Writer *w, const Store *md, const char *near_box, const char *far_box, gboolean *pp_out)
{
    const Channel *c = w->c;
    const char *sub = md->subfolders;
    gboolean pp = sub != NULL && nms_mbsyncrc_is (sub, "Maildir++");
    const char *inbox = md->inbox != NULL ? md->inbox : "~/Maildir";
    g_autofree char *root = NULL;
    char *path;

    if (c->patterns->len == 0) {
        /* One folder: the far box (INBOX when omitted) into one Maildir. */
        gboolean near_inbox = *near_box == '\0' || nms_mbsyncrc_is (near_box, "INBOX");

        root = near_inbox ? g_strdup (inbox)
                          : g_strconcat (pp                 ? inbox
                                         : md->path != NULL ? md->path
                                                            : "",
                                         pp ? "/." : "", near_box, NULL);
        pp = TRUE;
        if (*far_box != '\0' && !nms_mbsyncrc_is (far_box, "INBOX"))
            set_unsafe (w, c->far_line,
                        "the far folder '%s' lands in the Maildir's root with mbsync; nmsync "
                        "keeps only INBOX there, '%s' would go to .%s",
                        far_box, far_box, far_box);
    } else {
        if (*near_box != '\0' || *far_box != '\0') {
            g_autofree char *why = g_strdup_printf ("a mailbox prefix with Patterns (':%s' far, "
                                                    "':%s' near)",
                                                    far_box, near_box);
            g_autofree char *name = nms_mbsyncrc_printable (c->name);

            nms_mbsyncrc_note (w->notes, c->line, "not translated: Channel %s: %s", name, why);
            return NULL;
        }
        root = g_strdup (pp ? inbox : md->path != NULL ? md->path : inbox);
        if (sub == NULL)
            nms_mbsyncrc_note (w->notes, c->line,
                               "note: no SubFolders in MaildirStore %s: verbatim assumed",
                               md->name);
        else if (nms_mbsyncrc_is (sub, "Legacy"))
            set_unsafe (w, md->subfolders_line,
                        "SubFolders Legacy: mbsync keeps a nested folder Top/Sub in Top/.Sub, "
                        "nmsync's layout verbatim in Top/Sub");
        if (!pp && md->path != NULL) {
            g_autofree char *a = local_path (inbox);
            g_autofree char *b = local_path (md->path);
            g_autofree char *ours = g_strconcat (b != NULL ? b : md->path, "/INBOX", NULL);

            if (a == NULL || strcmp (a, ours) != 0)
                set_unsafe (w, md->inbox_line != 0 ? md->inbox_line : md->line,
                            "Inbox %s: with layout verbatim nmsync keeps INBOX in %s", inbox,
                            ours);
        }
        /* mbsync's Flatten writes the server's "Archive/2024" as one directory
         * "Archive<SEP>2024"; nmsync's verbatim layout nests it, Maildir++ has ".Archive.2024"
         * (the same only for Flatten "."). */
        if (md->flatten != NULL && !(pp && strcmp (md->flatten, ".") == 0))
            set_unsafe (w, md->flatten_line,
                        "Flatten %s: mbsync keeps a nested folder as one directory "
                        "(Archive%s2024), nmsync's layout %s does not",
                        md->flatten, md->flatten, pp ? "maildir++" : "verbatim");
    }
    path = local_path (root);
    if (path == NULL) {
        nms_mbsyncrc_note (w->notes, md->line,
                           "not translated: Maildir path %s is relative; made ~/%s", root, root);
        path = g_strconcat ("~/", root, NULL);
    }
    *pp_out = pp;
    return path;
}

/* The "folders" patterns, quoted where they hold blanks or start with '#'. nmsync's patterns
 * cannot hold a '"': such a list is not translated. */
static void
write_folders (Writer *w, const char *far_box)
{
    g_autoptr (GString) v = g_string_new (NULL);
    g_auto (GStrv) parsed = NULL;
    g_autoptr (GError) error = NULL;
    const char *inbox[] = { *far_box != '\0' ? far_box : "INBOX", NULL };
    const char *const *pats
        = w->c->patterns->len > 0 ? (const char *const *) w->c->patterns->pdata : inbox;
    guint n = w->c->patterns->len > 0 ? w->c->patterns->len : 1;
    gboolean quote_inside = FALSE;

    for (guint i = 0; i < n; i++) {
        gboolean neg = pats[i][0] == '!' && pats != inbox;
        const char *body = pats[i] + neg;

        quote_inside = quote_inside || strchr (body, '"') != NULL;
        if (v->len > 0)
            g_string_append_c (v, ' ');
        if (strpbrk (body, " \t") != NULL || body[0] == '#' || body[0] == '!')
            g_string_append_printf (v, "%s\"%s\"", neg ? "!" : "", body);
        else
            g_string_append (v, pats[i]);
    }
    parsed = quote_inside ? NULL : nms_config_patterns_parse (v->str, &error);
    if (parsed == NULL) {
        nms_mbsyncrc_note (w->notes,
                           w->c->patterns_line != 0 ? w->c->patterns_line : w->c->far_line,
                           "not translated: Patterns (%s): all folders selected",
                           error != NULL ? error->message : "a '\"' inside a pattern");
        put (w->out, "folders", "*");
        return;
    }
    put (w->out, "folders", v->str);
}

static void
write_options (Writer *w, gboolean imap_far)
{
    const ChannelOptions *o = &w->c->opt;

    put (w->out, "create", sides (o->create, imap_far));
    put (w->out, "delete", sides (o->expunge, imap_far));
    if (o->remove != NULL && strcmp (sides (o->remove, imap_far), "none") != 0)
        nms_mbsyncrc_note (w->notes, o->remove_line,
                           "not translated: Remove %s: nmsync never deletes a "
                           "folder; it reports one gone on either side",
                           o->remove);
    if (o->sync != NULL && !nms_mbsyncrc_is (o->sync, "All"))
        nms_mbsyncrc_note (w->notes, o->sync_line,
                           "not translated: Sync %s: nmsync syncs new messages, "
                           "flags and deletions both ways (see delete)",
                           o->sync);
    if (o->sync_state != NULL && strcmp (o->sync_state, "*") != 0)
        nms_mbsyncrc_note (w->notes, o->sync_state_line,
                           "note: SyncState %s: run adopt with "
                           "--mbsync-state %s",
                           o->sync_state, o->sync_state);
    else if (o->sync_state == NULL)
        nms_mbsyncrc_note (w->notes, w->c->line,
                           "note: mbsync keeps its state in ~/.mbsync/ (no SyncState): "
                           "run adopt with --mbsync-state ~/.mbsync/");
}

/* A Channel that cannot become an account: a comment saying why, nothing else. */
static void
skip_channel (Writer *w, const char *why)
{
    g_autofree char *name = nms_mbsyncrc_printable (w->c->name);

    nms_mbsyncrc_note (w->notes, w->c->line, "not translated: Channel %s: %s", name, why);
}

static const Store *
imap_account_of (Writer *w, const Store *imap)
{
    const Store *acc;

    if (imap->account == NULL)
        return NULL;
    acc = find_store (w->p, imap->account, TRUE);
    if (acc == NULL)
        nms_mbsyncrc_note (w->notes, imap->account_line,
                           "not translated: Account %s: no such IMAPAccount", imap->account);
    return acc;
}

/* One Channel as one [account]: @names holds the account names and @roots the Maildir roots
 * of the accounts written so far, so that two never share a name or a Maildir. */
static void
write_channel (Writer *w, GHashTable *names, GHashTable *roots)
{
    g_autofree char *fs = NULL, *fb = NULL, *ns = NULL, *nb = NULL;
    g_autofree char *root = NULL;
    const Store *far, *near, *imap, *md, *acc;
    g_autofree char *name = account_name (w->c->name);
    gboolean pp = TRUE;
    const char *other;

    if (!parse_ref (w->c->far, &fs, &fb) || !parse_ref (w->c->near, &ns, &nb))
        return skip_channel (w, "Far and Near must both be :store:[mailbox]");
    far = find_store (w->p, fs, FALSE);
    near = find_store (w->p, ns, FALSE);
    if (far == NULL || near == NULL)
        return skip_channel (w, "a store it names is not defined");
    if ((far->kind == SECTION_MAILDIR_STORE) == (near->kind == SECTION_MAILDIR_STORE))
        return skip_channel (w, "nmsync syncs an IMAP store with a Maildir store");
    if (g_hash_table_contains (names, name))
        return skip_channel (w, "its name is taken by an earlier account");
    imap = far->kind == SECTION_MAILDIR_STORE ? near : far;
    md = far->kind == SECTION_MAILDIR_STORE ? far : near;
    root = maildir_of (w, md, far == md ? fb : nb, far == md ? nb : fb, &pp);
    if (root == NULL)
        return;
    if ((other = g_hash_table_lookup (roots, root)) != NULL) {
        g_autofree char *why
            = g_strdup_printf ("its Maildir %s is account %s's already", root, other);
        return skip_channel (w, why);
    }
    g_hash_table_add (names, g_strdup (name));
    g_hash_table_insert (roots, g_strdup (root), g_strdup (name));

    g_string_append_printf (w->out, "\n[account %s]\n", name);
    acc = imap_account_of (w, imap);
    write_connection (w, imap, acc);
    if (w->unsafe != NULL) {
        g_autofree char *fixme = g_strconcat ("FIXME-", root, NULL);

        /* Not loadable (not an absolute path): adopt and sync would download the folders
         * whose directories differ a second time, beside mbsync's. */
        put (w->out, "maildir", fixme);
        nms_mbsyncrc_note (w->notes, w->unsafe_line,
                           "NOT LOADABLE (maildir = FIXME): %s; adopt would not find those "
                           "folders and sync would download them again (duplicates). Rename "
                           "the directories to nmsync's layout and set maildir = %s, or keep "
                           "mbsync for this channel and delete this account",
                           w->unsafe, root);
    } else {
        put (w->out, "maildir", root);
    }
    put (w->out, "layout", pp ? "maildir++" : "verbatim");
    write_folders (w, far == md ? nb : fb);
    write_options (w, far == imap);
    for (guint i = 0; i < imap->notes->len; i++)
        g_ptr_array_add (w->notes, g_strdup (imap->notes->pdata[i]));
    for (guint i = 0; i < md->notes->len; i++)
        g_ptr_array_add (w->notes, g_strdup (md->notes->pdata[i]));
    for (guint i = 0; acc != NULL && i < acc->notes->len; i++)
        g_ptr_array_add (w->notes, g_strdup (acc->notes->pdata[i]));
}

void
nms_mbsyncrc_write (const MbsyncConfig *p, GString *out)
{
    g_autoptr (GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr (GHashTable) roots = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 0; i < p->channels->len; i++) {
        g_autoptr (GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
        Writer w = { p, p->channels->pdata[i], out, notes, NULL, 0 };
        const Channel *c = w.c;

        write_channel (&w, names, roots);
        g_free (w.unsafe);
        for (guint j = 0; j < c->notes->len; j++)
            g_ptr_array_add (notes, g_strdup (c->notes->pdata[j]));
        for (guint j = 0; j < notes->len; j++)
            g_string_append_printf (out, "%s\n", (char *) notes->pdata[j]);
    }
    if (p->channels->len == 0)
        g_string_append (out, "# no Channel found: nothing to translate\n");
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Reads the config file into an NmsConfig. GKeyFile decodes the values, but it reports no line
 * numbers, silently keeps the last of two equal keys and accepts any key, so a scan of the raw
 * text runs first: it checks the syntax, the group and key names and duplicates, line by line,
 * and remembers where each key is for the value checks that follow. */
#include "config/config.h"
#include "config/config-private.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/ini.h"

G_DEFINE_QUARK (nms-config-error-quark, nms_config_error)

/* A config file is a few hundred bytes; the cap keeps "-c /dev/zero" from eating memory. */
#define MAX_CONFIG_SIZE (1024 * 1024)

static const char *const general_keys[] = { "rules", "notmuch-config", "state", NULL };

static const char *const account_keys[] = {
    "host",   "port",    "tls",         "user",     "password", "password-command",
    "tunnel", "ca-file", "maildir",     "layout",   "folders",  "timeout",
    "create", "delete",  "connections", "compress", "max-deletions", "watch-interval",
    "watch-folders", NULL,
};

static const char *const tls_names[] = { "imaps", "starttls", "none", NULL };
static const char *const layout_names[] = { "maildir++", "verbatim", NULL };
static const char *const direction_names[] = { "both", "local", "server", "none", NULL };
/* In NmsCompress order. */
static const char *const compress_names[] = { "auto", "yes", "no", NULL };

typedef struct {
    int line;
    gsize trailing_space; /* whitespace at the end of the raw line, which GKeyFile keeps */
} KeyInfo;

typedef struct {
    char *name;          /* between the brackets */
    const char *account; /* the NAME of "[account NAME]", inside @name; NULL for [general] */
    int line;
    GHashTable *keys;    /* key -> KeyInfo */
} Group;

typedef struct {
    const char *path;
    GPtrArray *groups;   /* Group, in file order */
    GKeyFile *kf;
} Loader;

static gboolean fail_at (GError **error, const char *path, int line, const char *fmt, ...)
    G_GNUC_PRINTF (4, 5);

static gboolean
fail_at (GError **error, const char *path, int line, const char *fmt, ...)
{
    g_autofree char *why = NULL;
    va_list ap;

    va_start (ap, fmt);
    why = g_strdup_vprintf (fmt, ap);
    va_end (ap);
    g_set_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PARSE, "%s:%d: %s", path, line, why);
    return FALSE;
}

static void
group_free (Group *g)
{
    g_free (g->name);
    g_hash_table_unref (g->keys);
    g_free (g);
}

static void
account_free (NmsAccount *a)
{
    if (a == NULL)
        return;
    g_free (a->name);
    g_free (a->host);
    g_free (a->user);
    if (a->password != NULL)
        explicit_bzero (a->password, strlen (a->password));
    g_free (a->password);
    g_free (a->password_command);
    g_free (a->tunnel);
    g_free (a->ca_file);
    g_free (a->maildir);
    g_strfreev (a->folders);
    g_strfreev (a->watch_folders);
    g_free (a);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsAccount, account_free)

void
nms_config_free (NmsConfig *config)
{
    if (config == NULL)
        return;
    g_free (config->path);
    g_free (config->state_dir);
    g_strfreev (config->rules);
    g_free (config->notmuch_config);
    g_ptr_array_unref (config->accounts);
    g_ptr_array_unref (config->warnings);
    g_free (config);
}

/* $HOME is read on every call, unlike g_get_home_dir(), which caches its first answer. */
static const char *
home_dir (void)
{
    const char *home = g_getenv ("HOME");

    return home != NULL && g_path_is_absolute (home) ? home : g_get_home_dir ();
}

/* $@var if it is set to an absolute path (the XDG spec says to ignore relative ones), else
 * ~/@fallback. (transfer full) */
static char *
xdg_dir (const char *var, const char *fallback)
{
    const char *dir = g_getenv (var);

    if (dir != NULL && g_path_is_absolute (dir))
        return g_strdup (dir);
    return g_build_filename (home_dir (), fallback, NULL);
}

char *
nms_config_find_path (const char *cli_path)
{
    const char *env = g_getenv ("NMSYNC_CONFIG");
    g_autofree char *dir = NULL;

    if (cli_path != NULL && *cli_path != '\0')
        return g_strdup (cli_path);
    if (env != NULL && *env != '\0')
        return g_strdup (env);
    dir = xdg_dir ("XDG_CONFIG_HOME", ".config");
    return g_build_filename (dir, "nmsync", "config", NULL);
}

int
nms_config_default_port (NmsTlsMode tls)
{
    return tls == NMS_TLS_IMAPS ? 993 : 143;
}

NmsAccount *
nms_config_find_account (const NmsConfig *config, const char *name)
{
    g_return_val_if_fail (config != NULL && name != NULL, NULL);
    for (guint i = 0; i < config->accounts->len; i++) {
        NmsAccount *a = config->accounts->pdata[i];

        if (strcmp (a->name, name) == 0)
            return a;
    }
    return NULL;
}

/* ---- reading and scanning -------------------------------------------------------------- */

static gboolean
account_name_valid (const char *name)
{
    if (*name == '\0' || strcmp (name, ".") == 0 || strcmp (name, "..") == 0)
        return FALSE;
    for (const char *p = name; *p != '\0'; p = g_utf8_next_char (p)) {
        gunichar c = g_utf8_get_char (p);

        if (c == '/' || c == '[' || g_unichar_isspace (c) || g_unichar_iscntrl (c))
            return FALSE;
    }
    return TRUE;
}

/* A "[NAME]" line (util/ini.c read it as GKeyFile does: the name ends at the first ']'). */
static gboolean
scan_group (gpointer data, const char *name, int line, GError **error)
{
    Loader *l = data;
    Group *g = g_new0 (Group, 1);

    g->name = g_strdup (name);
    g->line = line;
    g->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_ptr_array_add (l->groups, g);

    if (g_str_has_prefix (g->name, "account ")) {
        g->account = g->name + strlen ("account ");
        if (!account_name_valid (g->account))
            return fail_at (error, l->path, line,
                            "[%s]: an account name must be non-empty, without '/' or whitespace",
                            g->name);
    } else if (strcmp (g->name, "account") == 0) {
        return fail_at (error, l->path, line, "[account]: the group needs a name: [account NAME]");
    } else if (strcmp (g->name, "general") != 0) {
        return fail_at (error, l->path, line,
                        "unknown group [%s]; expected [general] or [account NAME]", g->name);
    }
    for (guint i = 0; i + 1 < l->groups->len; i++) {
        Group *other = l->groups->pdata[i];

        if (strcmp (other->name, g->name) == 0)
            return fail_at (error, l->path, line, "[%s] given twice, first on line %d", g->name,
                            other->line);
    }
    return TRUE;
}

static gboolean
scan_key (gpointer data, const char *key, const char *value, int line, GError **error)
{
    Loader *l = data;
    Group *g = l->groups->len > 0 ? l->groups->pdata[l->groups->len - 1] : NULL;
    KeyInfo *info, *other;
    const char *end;

    if (g == NULL)
        return fail_at (error, l->path, line,
                        "key '%s': outside any group; put it under [general] or [account NAME]",
                        key);
    if (!g_strv_contains (g->account != NULL ? account_keys : general_keys, key))
        return fail_at (error, l->path, line, "key '%s': unknown key in [%s]", key, g->name);
    other = g_hash_table_lookup (g->keys, key);
    if (other != NULL)
        return fail_at (error, l->path, line, "key '%s': given twice in [%s], first on line %d",
                        key, g->name, other->line);

    info = g_new0 (KeyInfo, 1);
    info->line = line;
    for (end = value + strlen (value); end > value && g_ascii_isspace (end[-1]); end--)
        info->trailing_space++;
    g_hash_table_insert (g->keys, g_strdup (key), info);
    return TRUE;
}

/* Checks every line the way GKeyFile will read it, so that each mistake is reported with its
 * line number: GKeyFile's own errors carry none. */
static gboolean
scan (Loader *l, const char *text, gsize len, GError **error)
{
    const NmsIniSyntax syntax = {
        .path = l->path,
        .section_word = "group",
        .domain = NMS_CONFIG_ERROR,
        .code = NMS_CONFIG_ERROR_PARSE,
    };

    return nms_ini_parse (text, len, &syntax, scan_group, scan_key, l, error);
}

/* ---- values ----------------------------------------------------------------------------- */

static int
key_line (const Group *g, const char *key)
{
    KeyInfo *info = g_hash_table_lookup (g->keys, key);

    return info != NULL ? info->line : g->line;
}

/* People copy "port = 993  # default" from examples; GKeyFile keeps the comment in the value. */
static const char *
comment_hint (const char *value)
{
    return strchr (value, '#') != NULL ? " (a '#' starts a comment only at the beginning of a line)"
                                       : "";
}

/* The value of @key, or NULL in *@value_out when the key is absent. Empty values are errors.
 * No message quotes the value: it may be a password. */
static gboolean
get_value (const Loader *l, const Group *g, const char *key, char **value_out, GError **error)
{
    KeyInfo *info = g_hash_table_lookup (g->keys, key);
    g_autoptr (GError) local = NULL;
    char *value;
    gsize len;

    *value_out = NULL;
    if (info == NULL)
        return TRUE;
    /* On a bad escape GKeyFile sets the error but still returns a string. */
    value = g_key_file_get_string (l->kf, g->name, key, &local);
    if (local != NULL) {
        g_free (value);
        return fail_at (error, l->path, info->line,
                        "key '%s': invalid escape sequence (write a backslash as '\\\\')", key);
    }
    len = strlen (value);
    value[len - MIN (len, info->trailing_space)] = '\0';
    if (*value == '\0') {
        g_free (value);
        return fail_at (error, l->path, info->line, "key '%s': empty value", key);
    }
    *value_out = value;
    return TRUE;
}

/* Sets *@index_out to the position of the value in @names; leaves it alone if absent. */
static gboolean
get_choice (const Loader *l, const Group *g, const char *key, const char *const *names,
            int *index_out, GError **error)
{
    g_autofree char *value = NULL;
    g_autofree char *list = NULL;

    if (!get_value (l, g, key, &value, error))
        return FALSE;
    if (value == NULL)
        return TRUE;
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp (value, names[i]) == 0) {
            *index_out = i;
            return TRUE;
        }
    }
    list = g_strjoinv (", ", (char **) names);
    return fail_at (error, l->path, key_line (g, key), "key '%s': '%s' is not one of %s%s", key,
                    value, list, comment_hint (value));
}

/* Sets *@out to the value, a decimal number from @min to @max; leaves it alone if absent. */
static gboolean
get_number (const Loader *l, const Group *g, const char *key, int min, int max, int *out,
            GError **error)
{
    g_autofree char *value = NULL;
    guint64 n;

    if (!get_value (l, g, key, &value, error))
        return FALSE;
    if (value == NULL)
        return TRUE;
    if (!g_ascii_string_to_unsigned (value, 10, min, max, &n, NULL))
        return fail_at (error, l->path, key_line (g, key),
                        "key '%s': '%s' is not a number from %d to %d%s", key, value, min, max,
                        comment_hint (value));
    *out = (int) n;
    return TRUE;
}

/* "max-deletions = N" (messages) or "P%" (of the account's messages), 0..1000000 / 0..100. */
static gboolean
get_max_deletions (const Loader *l, const Group *g, NmsAccount *a, GError **error)
{
    g_autofree char *value = NULL;
    gboolean percent;
    guint64 n;

    if (!get_value (l, g, "max-deletions", &value, error))
        return FALSE;
    if (value == NULL)
        return TRUE;
    percent = g_str_has_suffix (value, "%");
    if (percent)
        value[strlen (value) - 1] = '\0';
    if (!g_ascii_string_to_unsigned (value, 10, 0, percent ? 100 : 1000000, &n, NULL))
        return fail_at (error, l->path, key_line (g, "max-deletions"),
                        "key 'max-deletions': '%s%s' is not a number of messages (0 to 1000000) "
                        "or a percentage (0%% to 100%%)%s", value, percent ? "%" : "",
                        comment_hint (value));
    a->max_deletions = percent ? 0 : (guint) n;
    a->max_deletions_percent = percent ? (guint) n : 0;
    return TRUE;
}

/* "~" and "~/..." become $HOME and $HOME/...; other paths stay as they are. */
static gboolean
get_path (const Loader *l, const Group *g, const char *key, char **path_out, GError **error)
{
    g_autofree char *value = NULL;

    *path_out = NULL;
    if (!get_value (l, g, key, &value, error))
        return FALSE;
    if (value == NULL)
        return TRUE;
    if (value[0] == '~' && value[1] != '\0' && value[1] != '/')
        return fail_at (error, l->path, key_line (g, key),
                        "key '%s': only '~' and '~/' are expanded, not '~user'", key);
    if (value[0] == '~')
        *path_out = g_build_filename (home_dir (), value + 1, NULL);
    else
        *path_out = g_steal_pointer (&value);
    return TRUE;
}

static gboolean
is_loopback (const char *host)
{
    g_autoptr (GInetAddress) addr = NULL;

    if (g_ascii_strcasecmp (host, "localhost") == 0)
        return TRUE;
    addr = g_inet_address_new_from_string (host);
    return addr != NULL && g_inet_address_get_is_loopback (addr);
}

static gboolean
has_space_or_control (const char *s)
{
    for (; *s != '\0'; s++)
        if (g_ascii_isspace (*s) || g_ascii_iscntrl (*s))
            return TRUE;
    return FALSE;
}

/* ---- groups ----------------------------------------------------------------------------- */

static gboolean
load_general (const Loader *l, const Group *g, NmsConfig *config, GError **error)
{
    KeyInfo *rules = g_hash_table_lookup (g->keys, "rules");
    g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
    g_autofree char *state = NULL;

    if (!get_path (l, g, "state", &state, error)
        || !get_path (l, g, "notmuch-config", &config->notmuch_config, error))
        return FALSE;
    if (state != NULL) {
        g_free (config->state_dir);
        config->state_dir = g_steal_pointer (&state);
    }
    if (rules != NULL) {
        g_autoptr (GError) local = NULL;
        g_auto (GStrv) items = g_key_file_get_string_list (l->kf, g->name, "rules", NULL, &local);

        if (local != NULL || items == NULL)
            return fail_at (error, l->path, rules->line,
                            "key 'rules': invalid escape sequence (write a backslash as '\\\\')");
        for (int i = 0; items[i] != NULL; i++) {
            char *item = g_strstrip (items[i]);

            if (*item == '\0')
                continue;
            if (item[0] == '~' && item[1] != '\0' && item[1] != '/')
                return fail_at (error, l->path, rules->line,
                                "key 'rules': only '~' and '~/' are expanded, not '~user'");
            g_ptr_array_add (list, item[0] == '~'
                                       ? g_build_filename (home_dir (), item + 1, NULL)
                                       : g_strdup (item));
        }
    }
    g_ptr_array_add (list, NULL);
    g_strfreev (config->rules);
    config->rules = (char **) g_ptr_array_free (g_steal_pointer (&list), FALSE);
    return TRUE;
}

/* How to reach the server: host, port, tls, user and the password or the tunnel. */
static gboolean
load_connection (const Loader *l, const Group *g, NmsAccount *a, GError **error)
{
    int tls;

    if (!get_value (l, g, "tunnel", &a->tunnel, error)
        || !get_value (l, g, "host", &a->host, error)
        || !get_value (l, g, "user", &a->user, error)
        || !get_value (l, g, "password", &a->password, error)
        || !get_value (l, g, "password-command", &a->password_command, error))
        return FALSE;
    if (a->tunnel == NULL && (a->host == NULL || a->user == NULL))
        return fail_at (error, l->path, g->line, "[%s]: missing key '%s' (or give 'tunnel')",
                        g->name, a->host == NULL ? "host" : "user");
    if (a->host != NULL && has_space_or_control (a->host))
        return fail_at (error, l->path, key_line (g, "host"),
                        "key 'host': '%s' is not a host name or address%s", a->host,
                        comment_hint (a->host));
    if (a->password != NULL && a->password_command != NULL)
        return fail_at (error, l->path, key_line (g, "password"),
                        "key 'password': cannot be combined with password-command (line %d)",
                        key_line (g, "password-command"));

    /* A tunnel is a pipe to a preauthenticated imapd: plain IMAP unless the config says
     * otherwise (e.g. a tunnel to a TLS port through a proxy). */
    tls = a->tunnel != NULL ? NMS_TLS_NONE : NMS_TLS_IMAPS;
    if (!get_choice (l, g, "tls", tls_names, &tls, error))
        return FALSE;
    a->tls = tls;
    a->port = nms_config_default_port (a->tls);
    if (!get_number (l, g, "port", 1, 65535, &a->port, error))
        return FALSE;
    if (a->tls == NMS_TLS_NONE && a->tunnel == NULL && !is_loopback (a->host))
        return fail_at (error, l->path, key_line (g, "tls"),
                        "key 'tls': plain text only to a loopback host or through a tunnel");
    if (!get_path (l, g, "ca-file", &a->ca_file, error))
        return FALSE;
    /* Said now, as a config error: at connect time it would read as a TLS failure (exit 3)
     * after the Maildir and the state were made. */
    if (a->ca_file != NULL && access (a->ca_file, R_OK) != 0)
        return fail_at (error, l->path, key_line (g, "ca-file"),
                        "key 'ca-file': cannot read '%s': %s", a->ca_file, g_strerror (errno));
    return TRUE;
}

/* Where the mail goes on disk, what to sync, and how. */
static gboolean
load_local (const Loader *l, const Group *g, NmsAccount *a, GError **error)
{
    g_autofree char *folders = NULL;
    g_autoptr (GError) local = NULL;
    int layout = NMS_MAILDIR_LAYOUT_MAILDIRPP;
    int create = NMS_SIDES_BOTH, delete_sides = NMS_SIDES_BOTH;
    int compress = NMS_COMPRESS_AUTO;

    if (!get_path (l, g, "maildir", &a->maildir, error))
        return FALSE;
    if (a->maildir == NULL)
        return fail_at (error, l->path, g->line, "[%s]: missing key 'maildir'", g->name);
    if (!g_path_is_absolute (a->maildir))
        return fail_at (error, l->path, key_line (g, "maildir"),
                        "key 'maildir': '%s' is not an absolute path", a->maildir);
    if (!get_choice (l, g, "layout", layout_names, &layout, error))
        return FALSE;
    a->layout = layout == 0 ? NMS_MAILDIR_LAYOUT_MAILDIRPP : NMS_MAILDIR_LAYOUT_VERBATIM;

    if (!get_value (l, g, "folders", &folders, error))
        return FALSE;
    a->folders = folders != NULL ? nms_config_patterns_parse (folders, &local)
                                 : g_strdupv ((char *[]) { (char *) "*", NULL });
    if (a->folders == NULL)
        return fail_at (error, l->path, key_line (g, "folders"), "key 'folders': %s",
                        local->message);

    a->timeout = 60;
    /* Each connection through a tunnel is one more login of its command (an ssh session). */
    a->connections = a->tunnel != NULL ? 1 : 4;
    a->max_deletions = 200;
    a->max_deletions_percent = 2;
    /* direction_names is in NmsSides order. */
    if (!get_number (l, g, "timeout", 1, 3600, &a->timeout, error)
        || !get_choice (l, g, "create", direction_names, &create, error)
        || !get_choice (l, g, "delete", direction_names, &delete_sides, error)
        || !get_number (l, g, "connections", 1, 16, &a->connections, error)
        || !get_choice (l, g, "compress", compress_names, &compress, error)
        || !get_max_deletions (l, g, a, error))
        return FALSE;
    a->compress = (NmsCompress) compress;
    a->create = (NmsSides) create;
    a->delete_sides = (NmsSides) delete_sides;
    return TRUE;
}

/* The keys of nmsync watch. */
static gboolean
load_watch (const Loader *l, const Group *g, NmsAccount *a, GError **error)
{
    g_autofree char *folders = NULL;
    g_autoptr (GError) local = NULL;

    a->watch_interval = 300;
    if (!get_number (l, g, "watch-interval", 1, 86400, &a->watch_interval, error) ||
        !get_value (l, g, "watch-folders", &folders, error))
        return FALSE;
    a->watch_folders = folders != NULL ? nms_config_patterns_parse (folders, &local)
                                       : g_strdupv ((char *[]) { (char *) "INBOX", NULL });
    if (a->watch_folders == NULL)
        return fail_at (error, l->path, key_line (g, "watch-folders"), "key 'watch-folders': %s",
                        local->message);
    return TRUE;
}

static NmsAccount *
load_account (const Loader *l, const Group *g, GError **error)
{
    g_autoptr (NmsAccount) a = g_new0 (NmsAccount, 1);

    a->name = g_strdup (g->account);
    a->line = g->line;
    if (!load_connection (l, g, a, error) || !load_local (l, g, a, error) ||
        !load_watch (l, g, a, error))
        return NULL;
    return g_steal_pointer (&a);
}

static NmsConfig *
config_new (const char *path)
{
    NmsConfig *config = g_new0 (NmsConfig, 1);
    g_autofree char *state_home = xdg_dir ("XDG_STATE_HOME", ".local/state");

    config->path = g_strdup (path);
    config->rules = g_new0 (char *, 1);
    config->accounts = g_ptr_array_new_with_free_func ((GDestroyNotify) account_free);
    config->warnings = g_ptr_array_new_with_free_func (g_free);
    config->state_dir = g_build_filename (state_home, "nmsync", NULL);
    return config;
}

/* After a successful scan every line is one GKeyFile accepts, so a failure here is a
 * disagreement between the scan and GLib. GLib's message quotes the offending line, which
 * may hold a password, so it is not passed on. */
static gboolean
load_key_file (Loader *l, const char *text, GError **error)
{
    g_autoptr (GError) local = NULL;

    l->kf = g_key_file_new ();
    if (!g_key_file_load_from_data (l->kf, text, -1, G_KEY_FILE_NONE, &local)) {
        g_set_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PARSE,
                     "%s: not a valid key file (%s)", l->path,
                     g_error_matches (local, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_PARSE)
                         ? "syntax error"
                         : "unreadable value");
        return FALSE;
    }
    return TRUE;
}

NmsConfig *
nms_config_load (const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr (GError) local = NULL;
    gsize len = 0;
    g_autoptr (NmsConfig) config = NULL;
    Loader l = { .path = path };
    gboolean has_password = FALSE, ok;
    struct stat st;
    const char *text;

    g_return_val_if_fail (path != NULL, NULL);
    data = nms_fs_read_bounded (path, MAX_CONFIG_SIZE, "config file", &len, &st, &local);
    if (data == NULL) {
        g_set_error_literal (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_NOT_FOUND, local->message);
        return NULL;
    }
    /* GKeyFile would take a UTF-8 byte order mark for part of the first line (the scan skips
     * it too). */
    text = g_str_has_prefix (data, "\xEF\xBB\xBF") ? data + 3 : data;

    l.groups = g_ptr_array_new_with_free_func ((GDestroyNotify) group_free);
    ok = scan (&l, data, len, error) && load_key_file (&l, text, error);
    config = config_new (path);
    for (guint i = 0; ok && i < l.groups->len; i++) {
        const Group *g = l.groups->pdata[i];
        NmsAccount *a;

        if (g->account == NULL) {
            ok = load_general (&l, g, config, error);
            continue;
        }
        a = load_account (&l, g, error);
        ok = a != NULL;
        if (ok) {
            g_ptr_array_add (config->accounts, a);
            has_password = has_password || a->password != NULL;
        }
    }
    g_ptr_array_unref (l.groups);
    if (l.kf != NULL)
        g_key_file_free (l.kf);
    if (!ok)
        return NULL;

    if (has_password && (st.st_mode & 077) != 0)
        g_ptr_array_add (config->warnings,
                         g_strdup_printf ("%s: contains a password but is readable by others; "
                                          "chmod 600 it",
                                          path));
    return g_steal_pointer (&config);
}

/* ---- passwords -------------------------------------------------------------------------- */

/* The first line of @bytes, made valid UTF-8, control characters replaced, at most 200
 * characters: enough to say why a command failed without flooding the terminal. */
static char *
first_line_of (GBytes *bytes)
{
    gsize len = 0;
    const char *data = bytes != NULL ? g_bytes_get_data (bytes, &len) : NULL;
    const char *nl = data != NULL ? memchr (data, '\n', len) : NULL;
    g_autofree char *valid = g_utf8_make_valid (data != NULL ? data : "",
                                                nl != NULL ? nl - data : (gssize) len);
    g_autofree char *line = NULL;

    for (char *p = valid; *p != '\0'; p++)
        if (g_ascii_iscntrl (*p))
            *p = ' ';
    line = g_utf8_substring (valid, 0, MIN (g_utf8_strlen (valid, -1), 200));
    return g_strdup (g_strstrip (line));
}

static char *
password_failed (const NmsAccount *a, GSubprocess *proc, GBytes *err_bytes, GError **error)
{
    g_autofree char *why = NULL;
    g_autofree char *err_line = first_line_of (err_bytes);

    if (g_subprocess_get_if_signaled (proc))
        why = g_strdup_printf ("was killed by signal %d", g_subprocess_get_term_sig (proc));
    else if (g_subprocess_get_exit_status (proc) != 0)
        why = g_strdup_printf ("failed with exit status %d", g_subprocess_get_exit_status (proc));
    else
        why = g_strdup ("printed no password (exit status 0)");
    g_set_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PASSWORD,
                 "account '%s': password-command %s%s%s", a->name, why,
                 *err_line != '\0' ? ": " : "", err_line);
    return NULL;
}

/* Runs password-command with its stdin inherited, so that a command that prompts still can.
 * g_subprocess_communicate() rather than its _utf8 variant: a locale-encoded message on
 * stderr must not hide the exit status. The copy of stdout is wiped before it is freed. */
static char *
run_password_command (const NmsAccount *a, GError **error)
{
    g_autoptr (GError) local = NULL;
    g_autoptr (GSubprocess) proc = NULL;
    g_autoptr (GBytes) out_bytes = NULL;
    g_autoptr (GBytes) err_bytes = NULL;
    g_autofree char *out = NULL;
    char *password = NULL;
    const char *nl;
    gsize len = 0, line_len;

    proc = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE
                                 | G_SUBPROCESS_FLAGS_STDIN_INHERIT,
                             &local, "/bin/sh", "-c", a->password_command, NULL);
    if (proc == NULL || !g_subprocess_communicate (proc, NULL, NULL, &out_bytes, &err_bytes,
                                                   &local)) {
        g_set_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PASSWORD,
                     "account '%s': cannot run password-command: %s", a->name, local->message);
        return NULL;
    }
    out = g_bytes_unref_to_data (g_steal_pointer (&out_bytes), &len);
    nl = out != NULL ? memchr (out, '\n', len) : NULL;
    line_len = nl != NULL ? (gsize) (nl - out) : len;
    if (line_len > 0 && out[line_len - 1] == '\r')
        line_len--;
    if (g_subprocess_get_successful (proc) && line_len > 0
        && memchr (out, '\0', line_len) == NULL)
        password = g_strndup (out, line_len);
    if (out != NULL)
        explicit_bzero (out, len);
    if (password == NULL && g_subprocess_get_successful (proc) && line_len > 0) {
        g_set_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PASSWORD,
                     "account '%s': password-command printed a NUL byte", a->name);
        return NULL;
    }
    return password != NULL ? password : password_failed (a, proc, err_bytes, error);
}

char *
nms_account_get_password (const NmsAccount *account, GError **error)
{
    g_return_val_if_fail (account != NULL, NULL);
    if (account->password != NULL)
        return g_strdup (account->password);
    if (account->password_command == NULL)
        return g_strdup ("");
    return run_password_command (account, error);
}

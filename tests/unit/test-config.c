/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for src/config: loading, every error message with its line, the lookup order,
 * "~" expansion, password handling and folder patterns. Temp dirs only, no network. */
#include "config/config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "testutil.h"

typedef struct {
    char *dir;
} Fixture;

/* Four lines, so that a key appended to it is on line 5. */
#define ACCOUNT "[account work]\nhost = 127.0.0.1\nuser = alice\nmaildir = /srv/mail\n"
#define SECRET "S3cret-hunter2"


/* $HOME for the whole run, set in main() before GSubprocess starts any thread: setenv() is
 * not thread-safe. Tests that change the environment put it back before they return. */
static char *home;

static void
setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;

    f->dir = g_dir_make_tmp ("nmsync-test-config-XXXXXX", &error);
    g_assert_no_error (error);
}

static void
teardown (Fixture *f, gconstpointer data)
{
    nms_test_rm_rf (f->dir);
    g_free (f->dir);
}

static char *
write_file (Fixture *f, const char *text, int mode)
{
    g_autoptr (GError) error = NULL;
    char *path = g_build_filename (f->dir, "config", NULL);

    g_file_set_contents (path, text, -1, &error);
    g_assert_no_error (error);
    g_assert_cmpint (g_chmod (path, mode), ==, 0);
    return path;
}

static NmsConfig *
load_ok (Fixture *f, const char *text)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = write_file (f, text, 0600);
    NmsConfig *config = nms_config_load (path, &error);

    g_assert_no_error (error);
    g_assert_nonnull (config);
    g_assert_cmpstr (config->path, ==, path);
    return config;
}

/* @expected is the message without its leading "PATH:". */
static void
assert_parse_error (Fixture *f, const char *text, const char *expected)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = write_file (f, text, 0600);
    g_autoptr (NmsConfig) config = nms_config_load (path, &error);
    g_autofree char *want = g_strdup_printf ("%s:%s", path, expected);

    g_assert_null (config);
    g_assert_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PARSE);
    g_assert_cmpstr (error->message, ==, want);
    g_assert_null (strstr (error->message, SECRET));
}

static void
test_full (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (
        f, "# nmsync\n"
           "[general]\n"
           "rules = ~/rules/a; /etc/nmsync/b ;\n"
           "notmuch-config = ~/.notmuch-config\n"
           "state = /var/lib/nmsync\n"
           "\n"
           "[account work]\n"
           "host = imap.example.org\n"
           "port = 1993\n"
           "tls = starttls\n"
           "user = alice  \t\n"
           "password-command = pass imap.example.org\n"
           "ca-file = ~/ca.pem\n"
           "maildir = ~/Maildir/work\n"
           "layout = verbatim\n"
           "folders = * !register \"Sent Items\" !\"Old Mail\"\n"
           "timeout = 120\n"
           "create = both\n"
           "delete = none\n"
           "connections = 4\n"
           "compress = no\n"
           "  # indented comment\n"
           "[account home]\n"
           "tunnel = ssh -q mail.example.org /usr/lib/dovecot/imap\n"
           "maildir = /srv/mail/home/\n"
           "password = \\s" SECRET "\\s  \n");
    g_autofree char *rules_a = g_build_filename (home, "rules", "a", NULL);
    g_autofree char *notmuch = g_build_filename (home, ".notmuch-config", NULL);
    g_autofree char *ca = g_build_filename (home, "ca.pem", NULL);
    g_autofree char *maildir = g_build_filename (home, "Maildir", "work", NULL);
    const char *const rules[] = { rules_a, "/etc/nmsync/b", NULL };
    const char *const folders[] = { "*", "!register", "Sent Items", "!Old Mail", NULL };
    NmsAccount *a, *h;

    g_assert_cmpstrv (c->rules, rules);
    g_assert_cmpstr (c->notmuch_config, ==, notmuch);
    g_assert_cmpstr (c->state_dir, ==, "/var/lib/nmsync");
    g_assert_cmpuint (c->warnings->len, ==, 0);
    g_assert_cmpuint (c->accounts->len, ==, 2);

    a = c->accounts->pdata[0];
    g_assert_true (nms_config_find_account (c, "work") == a);
    g_assert_cmpstr (a->name, ==, "work");
    g_assert_cmpstr (a->host, ==, "imap.example.org");
    g_assert_cmpint (a->port, ==, 1993);
    g_assert_cmpint (a->tls, ==, NMS_TLS_STARTTLS);
    g_assert_cmpstr (a->user, ==, "alice");
    g_assert_null (a->password);
    g_assert_cmpstr (a->password_command, ==, "pass imap.example.org");
    g_assert_null (a->tunnel);
    g_assert_cmpstr (a->ca_file, ==, ca);
    g_assert_cmpstr (a->maildir, ==, maildir);
    g_assert_cmpint (a->layout, ==, NMS_MAILDIR_LAYOUT_VERBATIM);
    g_assert_cmpstrv (a->folders, folders);
    g_assert_cmpint (a->timeout, ==, 120);
    g_assert_cmpint (a->compress, ==, NMS_COMPRESS_NO);
    g_assert_cmpint (a->line, ==, 7);

    h = c->accounts->pdata[1];
    g_assert_true (nms_config_find_account (c, "home") == h);
    g_assert_null (nms_config_find_account (c, "play"));
    g_assert_cmpstr (h->name, ==, "home");
    g_assert_null (h->host);
    g_assert_null (h->user);
    g_assert_cmpstr (h->tunnel, ==, "ssh -q mail.example.org /usr/lib/dovecot/imap");
    g_assert_cmpint (h->tls, ==, NMS_TLS_NONE);
    g_assert_cmpint (h->port, ==, 143);
    /* Escaped blanks are kept, the raw trailing ones dropped. */
    g_assert_cmpstr (h->password, ==, " " SECRET " ");
    g_assert_null (h->password_command);
    g_assert_cmpstr (h->maildir, ==, "/srv/mail/home/");
    g_assert_cmpint (h->compress, ==, NMS_COMPRESS_AUTO);
    g_assert_cmpint (h->line, ==, 23);
}

static void
test_defaults (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (f, "[account a]\nhost = imap.example.org\nuser = u\n"
                                          "maildir = /m/a\n"
                                          "[account b]\nhost = imap.example.org\nuser = u\n"
                                          "maildir = /m/b\ntls = starttls\n");
    g_autofree char *state = g_build_filename (home, "xdg-state", "nmsync", NULL);
    const char *const star[] = { "*", NULL };
    NmsAccount *a = c->accounts->pdata[0], *b = c->accounts->pdata[1];

    g_assert_cmpstr (c->state_dir, ==, state);
    g_assert_nonnull (c->rules);
    g_assert_null (c->rules[0]);
    g_assert_null (c->notmuch_config);
    g_assert_cmpint (a->tls, ==, NMS_TLS_IMAPS);
    g_assert_cmpint (a->port, ==, 993);
    g_assert_cmpint (b->tls, ==, NMS_TLS_STARTTLS);
    g_assert_cmpint (b->port, ==, 143);
    g_assert_cmpint (a->layout, ==, NMS_MAILDIR_LAYOUT_MAILDIRPP);
    g_assert_cmpstrv (a->folders, star);
    g_assert_cmpint (a->timeout, ==, 60);
    g_assert_null (a->password);
    g_assert_null (a->password_command);
    g_assert_null (a->tunnel);
    g_assert_null (a->ca_file);
    g_assert_cmpint (a->line, ==, 1);
    g_assert_cmpint (b->line, ==, 5);
    g_assert_cmpint (nms_config_default_port (NMS_TLS_IMAPS), ==, 993);
    g_assert_cmpint (nms_config_default_port (NMS_TLS_STARTTLS), ==, 143);
}

static void
test_state_default_home (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = NULL;
    g_autofree char *state = g_build_filename (home, ".local", "state", "nmsync", NULL);

    g_autofree char *saved = g_strdup (g_getenv ("XDG_STATE_HOME"));

    g_unsetenv ("XDG_STATE_HOME");
    c = load_ok (f, "[general]\n");
    g_setenv ("XDG_STATE_HOME", saved, TRUE);
    g_assert_cmpstr (c->state_dir, ==, state);
    g_assert_cmpuint (c->accounts->len, ==, 0);
}

static void
test_empty_file (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (f, "");

    g_assert_cmpuint (c->accounts->len, ==, 0);
}

static void
test_find_path (Fixture *f, gconstpointer data)
{
    g_autofree char *home_default = g_build_filename (home, ".config", "nmsync", "config", NULL);
    g_autofree char *p = NULL;

    p = nms_config_find_path (NULL);
    g_assert_cmpstr (p, ==, home_default);
    g_clear_pointer (&p, g_free);

    g_setenv ("XDG_CONFIG_HOME", "relative/is/ignored", TRUE);
    p = nms_config_find_path (NULL);
    g_assert_cmpstr (p, ==, home_default);
    g_clear_pointer (&p, g_free);

    g_setenv ("XDG_CONFIG_HOME", "/xdg", TRUE);
    p = nms_config_find_path (NULL);
    g_assert_cmpstr (p, ==, "/xdg/nmsync/config");
    g_clear_pointer (&p, g_free);

    g_setenv ("NMSYNC_CONFIG", "", TRUE);
    p = nms_config_find_path (NULL);
    g_assert_cmpstr (p, ==, "/xdg/nmsync/config");
    g_clear_pointer (&p, g_free);

    g_setenv ("NMSYNC_CONFIG", "/env/config", TRUE);
    p = nms_config_find_path (NULL);
    g_assert_cmpstr (p, ==, "/env/config");
    g_clear_pointer (&p, g_free);

    p = nms_config_find_path ("/cli/config");
    g_assert_cmpstr (p, ==, "/cli/config");
    g_unsetenv ("NMSYNC_CONFIG");
    g_unsetenv ("XDG_CONFIG_HOME");
}

static void
test_tilde (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (f, "[general]\nrules = ~\nstate = ~/st\n"
                                          "[account a]\ntunnel = t\nmaildir = ~\n");
    g_autofree char *st = g_build_filename (home, "st", NULL);
    NmsAccount *a = c->accounts->pdata[0];

    g_assert_cmpstr (c->rules[0], ==, home);
    g_assert_null (c->rules[1]);
    g_assert_cmpstr (c->state_dir, ==, st);
    g_assert_cmpstr (a->maildir, ==, home);
    assert_parse_error (f, "[account a]\ntunnel = t\nmaildir = ~bob/Mail\n",
                        "3: key 'maildir': only '~' and '~/' are expanded, not '~user'");
}

static void
test_not_found (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = g_build_filename (f->dir, "missing", NULL);
    g_autofree char *want = g_strdup_printf ("cannot open config file '%s': %s", path,
                                             g_strerror (ENOENT));

    g_assert_null (nms_config_load (path, &error));
    g_assert_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_NOT_FOUND);
    g_assert_cmpstr (error->message, ==, want);
}

static void
test_line_endings (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (f, "\xEF\xBB\xBF[account a]\r\nhost = localhost\r\n"
                                          "user = u\r\nmaildir = /m\r\n");
    NmsAccount *a = c->accounts->pdata[0];

    g_assert_cmpstr (a->host, ==, "localhost");
    g_assert_cmpstr (a->maildir, ==, "/m");
    assert_parse_error (f, "[general]\r\nstate = /s\r\nbogus = 1\r\n",
                        "3: key 'bogus': unknown key in [general]");
}

static void
test_error_unknown_key (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, "[general]\n\n[account work]\nhost = h\nuser = u\nmaildir = /m\nprot = 1\n",
                        "7: key 'prot': unknown key in [account work]");
    assert_parse_error (f, "[general]\nhost = h\n", "2: key 'host': unknown key in [general]");
    assert_parse_error (f, ACCOUNT "host[de] = x\n",
                        "5: key 'host[de]': unknown key in [account work]");
    assert_parse_error (f, "host = x\n",
                        "1: key 'host': outside any group; put it under [general] or "
                        "[account NAME]");
}

static void
test_error_unknown_group (Fixture *f, gconstpointer data)
{
    const char *expected = "2: unknown group [acount work]; expected [general] or [account NAME]";

    assert_parse_error (f, "[general]\n[acount work]\n", expected);
    assert_parse_error (f, "# x\n[General]\n",
                        "2: unknown group [General]; expected [general] or [account NAME]");
    assert_parse_error (f, "[account]\n", "1: [account]: the group needs a name: [account NAME]");
    assert_parse_error (f, "[account ]\n",
                        "1: [account ]: an account name must be non-empty, without '/' or "
                        "whitespace");
    assert_parse_error (f, "[account a/b]\n",
                        "1: [account a/b]: an account name must be non-empty, without '/' or "
                        "whitespace");
    assert_parse_error (f, "[account a b]\n",
                        "1: [account a b]: an account name must be non-empty, without '/' or "
                        "whitespace");
    assert_parse_error (f, "[account ..]\n",
                        "1: [account ..]: an account name must be non-empty, without '/' or "
                        "whitespace");
}

static void
test_error_syntax (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, "[general]\n# ok\n; not ok\n",
                        "3: not a key = value line, group or comment; comments start with '#'");
    assert_parse_error (f, ACCOUNT "port\n", "5: not a key = value line, group or comment");
    assert_parse_error (f, ACCOUNT " = 3\n", "5: not a key = value line, group or comment");
    assert_parse_error (f, "[general] # x\n", "1: not a key = value line, group or comment");
    assert_parse_error (f, "[general\n", "1: not a key = value line, group or comment");
    assert_parse_error (f, "[general]\nstate = /\xff\n", "2: not valid UTF-8 text");
    {
        g_autoptr (GError) error = NULL;
        g_autofree char *path = g_build_filename (f->dir, "config", NULL);
        g_autofree char *want = g_strdup_printf ("%s:3: not valid UTF-8 text", path);
        g_autoptr (NmsConfig) c = NULL;

        /* A NUL must not end the text early and hide the rest of the file. */
        g_file_set_contents (path, "[general]\n\n#\0\nbogus = 1\n", 24, &error);
        g_assert_no_error (error);
        c = nms_config_load (path, &error);
        g_assert_null (c);
        g_assert_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PARSE);
        g_assert_cmpstr (error->message, ==, want);
    }
    assert_parse_error (f, ACCOUNT "tunnel = a\\xb\n",
                        "5: key 'tunnel': invalid escape sequence (write a backslash as '\\\\')");
    assert_parse_error (f, ACCOUNT "ca-file =  \n", "5: key 'ca-file': empty value");
}

static void
test_error_port (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "port = 0\n",
                        "5: key 'port': '0' is not a number from 1 to 65535");
    assert_parse_error (f, ACCOUNT "port = 65536\n",
                        "5: key 'port': '65536' is not a number from 1 to 65535");
    assert_parse_error (f, ACCOUNT "port = -1\n",
                        "5: key 'port': '-1' is not a number from 1 to 65535");
    assert_parse_error (f, ACCOUNT "port = 99x\n",
                        "5: key 'port': '99x' is not a number from 1 to 65535");
    assert_parse_error (f, ACCOUNT "port = 993   # default\n",
                        "5: key 'port': '993   # default' is not a number from 1 to 65535 "
                        "(a '#' starts a comment only at the beginning of a line)");
}

static void
test_error_values (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "tls = ssl\n",
                        "5: key 'tls': 'ssl' is not one of imaps, starttls, none");
    assert_parse_error (f, ACCOUNT "tls = IMAPS\n",
                        "5: key 'tls': 'IMAPS' is not one of imaps, starttls, none");
    assert_parse_error (f, ACCOUNT "layout = mh\n",
                        "5: key 'layout': 'mh' is not one of maildir++, verbatim");
    assert_parse_error (f, ACCOUNT "timeout = 0\n",
                        "5: key 'timeout': '0' is not a number from 1 to 3600");
    assert_parse_error (f, ACCOUNT "timeout = 3601\n",
                        "5: key 'timeout': '3601' is not a number from 1 to 3600");
    assert_parse_error (f, "[account work]\nhost = a b\nuser = u\nmaildir = /m\n",
                        "2: key 'host': 'a b' is not a host name or address");
    assert_parse_error (f, ACCOUNT "folders = INBOX # only the inbox\n",
                        "5: key 'folders': '#' starts a comment only at the beginning of a line; "
                        "quote a pattern that starts with '#'");
    assert_parse_error (f, ACCOUNT "folders = \"Sent Items\n",
                        "5: key 'folders': unterminated '\"'");
    assert_parse_error (f, ACCOUNT "folders = * !\n",
                        "5: key 'folders': '!' without a pattern after it");
    assert_parse_error (f, ACCOUNT "folders = * \"\"\n", "5: key 'folders': empty pattern");
}

/* "connections": default 4, 1..16, anything else names the file and line. */
static void
test_connections (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) dflt = load_ok (f, ACCOUNT);
    g_autoptr (NmsConfig) one = load_ok (f, ACCOUNT "connections = 1\n");
    g_autoptr (NmsConfig) most = load_ok (f, ACCOUNT "connections = 16\n");

    g_assert_cmpint (((NmsAccount *) g_ptr_array_index (dflt->accounts, 0))->connections, ==, 4);
    g_assert_cmpint (((NmsAccount *) g_ptr_array_index (one->accounts, 0))->connections, ==, 1);
    g_assert_cmpint (((NmsAccount *) g_ptr_array_index (most->accounts, 0))->connections, ==, 16);
    assert_parse_error (f, ACCOUNT "connections = 0\n",
                        "5: key 'connections': '0' is not a number from 1 to 16");
    assert_parse_error (f, ACCOUNT "connections = 17\n",
                        "5: key 'connections': '17' is not a number from 1 to 16");
    assert_parse_error (f, ACCOUNT "connections = -2\n",
                        "5: key 'connections': '-2' is not a number from 1 to 16");
    assert_parse_error (f, ACCOUNT "connections = four\n",
                        "5: key 'connections': 'four' is not a number from 1 to 16");
    assert_parse_error (f, ACCOUNT "timeout = 9\nconnections =\n",
                        "6: key 'connections': empty value");
}

/* A tunnel account opens one connection (each is one more login of its command) unless
 * told otherwise. */
static void
test_connections_tunnel (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) dflt = load_ok (f, "[account t]\ntunnel = ssh h imapd\nmaildir = /m\n");
    g_autoptr (NmsConfig) three =
        load_ok (f, "[account t]\ntunnel = ssh h imapd\nmaildir = /m\nconnections = 3\n");

    g_assert_cmpint (((NmsAccount *) g_ptr_array_index (dflt->accounts, 0))->connections, ==, 1);
    g_assert_cmpint (((NmsAccount *) g_ptr_array_index (three->accounts, 0))->connections, ==, 3);
}

/* A ca-file that cannot be read is a config error naming the file, not a TLS failure later. */
static void
test_ca_file_missing (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "ca-file = /nonexistent/ca.pem\n",
                        "5: key 'ca-file': cannot read '/nonexistent/ca.pem': "
                        "No such file or directory");
}

/* nmsync watch's keys: watch-interval 1..86400 (default 300), watch-folders patterns (default
 * INBOX only). */
static void
test_watch_keys (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) dflt = load_ok (f, ACCOUNT);
    g_autoptr (NmsConfig) set = load_ok (f, ACCOUNT "watch-interval = 30\n"
                                                   "watch-folders = Work/* \"Sent Items\" !Work/old\n");
    NmsAccount *d = g_ptr_array_index (dflt->accounts, 0);
    NmsAccount *a = g_ptr_array_index (set->accounts, 0);

    g_assert_cmpint (d->watch_interval, ==, 300);
    g_assert_cmpstrv (d->watch_folders, ((const char *const[]) { "INBOX", NULL }));
    g_assert_cmpint (a->watch_interval, ==, 30);
    g_assert_cmpstrv (a->watch_folders,
                      ((const char *const[]) { "Work/*", "Sent Items", "!Work/old", NULL }));
    g_assert_true (nms_config_folder_selected (a->watch_folders, "Work/new", '/'));
    g_assert_false (nms_config_folder_selected (a->watch_folders, "Work/old", '/'));
    assert_parse_error (f, ACCOUNT "watch-interval = 0\n",
                        "5: key 'watch-interval': '0' is not a number from 1 to 86400");
    assert_parse_error (f, ACCOUNT "watch-interval = 5m\n",
                        "5: key 'watch-interval': '5m' is not a number from 1 to 86400");
    assert_parse_error (f, ACCOUNT "watch-folders = \"Sent\n", "5: key 'watch-folders': unterminated '\"'");
}

static void
test_create_delete (Fixture *f, gconstpointer data)
{
    g_autoptr (NmsConfig) c = load_ok (f, ACCOUNT "create = server\ndelete = local\n");

    g_assert_cmpuint (c->accounts->len, ==, 1);
    assert_parse_error (f, ACCOUNT "create = yes\n",
                        "5: key 'create': 'yes' is not one of both, local, server, none");
    assert_parse_error (f, ACCOUNT "delete = all\n",
                        "5: key 'delete': 'all' is not one of both, local, server, none");
}

static void
test_compress (Fixture *f, gconstpointer data)
{
    const char *const names[] = { "auto", "yes", "no" };
    const NmsCompress values[] = { NMS_COMPRESS_AUTO, NMS_COMPRESS_YES, NMS_COMPRESS_NO };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autofree char *text = g_strdup_printf (ACCOUNT "compress = %s\n", names[i]);
        g_autoptr (NmsConfig) c = load_ok (f, text);

        g_assert_cmpint (((NmsAccount *) c->accounts->pdata[0])->compress, ==, values[i]);
    }
    assert_parse_error (f, ACCOUNT "compress = maybe\n",
                        "5: key 'compress': 'maybe' is not one of auto, yes, no");
    assert_parse_error (f, ACCOUNT "compress = YES\n",
                        "5: key 'compress': 'YES' is not one of auto, yes, no");
    assert_parse_error (f, ACCOUNT "compress =\n", "5: key 'compress': empty value");
}

static void
test_tls_none (Fixture *f, gconstpointer data)
{
    const char *const loopback[] = { "127.0.0.1", "127.0.0.2", "127.255.0.9", "::1",
                                     "localhost", "LocalHost" };
    const char *const remote[] = { "imap.example.org", "10.0.0.1", "::2", "localhost.example.org",
                                   "128.0.0.1" };

    for (gsize i = 0; i < G_N_ELEMENTS (loopback); i++) {
        g_autofree char *text = g_strdup_printf ("[account a]\nhost = %s\nuser = u\nmaildir = /m\n"
                                                 "tls = none\n",
                                                 loopback[i]);
        g_autoptr (NmsConfig) c = load_ok (f, text);
        NmsAccount *a = c->accounts->pdata[0];

        g_assert_cmpint (a->tls, ==, NMS_TLS_NONE);
        g_assert_cmpint (a->port, ==, 143);
    }
    for (gsize i = 0; i < G_N_ELEMENTS (remote); i++) {
        g_autofree char *text = g_strdup_printf ("[account a]\nhost = %s\nuser = u\nmaildir = /m\n"
                                                 "tls = none\n",
                                                 remote[i]);

        assert_parse_error (f, text,
                            "5: key 'tls': plain text only to a loopback host or through a tunnel");
    }
    {
        g_autoptr (NmsConfig) c = load_ok (f, "[account a]\nhost = imap.example.org\nuser = u\n"
                                              "maildir = /m\ntls = none\ntunnel = ssh -q x imapd\n");

        g_assert_cmpint (((NmsAccount *) c->accounts->pdata[0])->tls, ==, NMS_TLS_NONE);
    }
}

static void
test_error_password_both (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "password-command = pass x\npassword = " SECRET "\n",
                        "6: key 'password': cannot be combined with password-command (line 5)");
}

static void
test_error_missing (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, "[general]\n\n[account work]\nhost = h\nuser = u\n",
                        "3: [account work]: missing key 'maildir'");
    assert_parse_error (f, "[account work]\nuser = u\nmaildir = /m\n",
                        "1: [account work]: missing key 'host' (or give 'tunnel')");
    assert_parse_error (f, "[account work]\nhost = h\nmaildir = /m\n",
                        "1: [account work]: missing key 'user' (or give 'tunnel')");
}

static void
test_error_relative_maildir (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, "[account work]\nhost = h\nuser = u\nmaildir = Mail/work\n",
                        "4: key 'maildir': 'Mail/work' is not an absolute path");
}

static void
test_error_duplicates (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "host = other\n",
                        "5: key 'host': given twice in [account work], first on line 2");
    assert_parse_error (f, ACCOUNT "\n[account home]\ntunnel = t\nmaildir = /h\n" ACCOUNT,
                        "9: [account work] given twice, first on line 1");
    assert_parse_error (f, "[general]\n[general]\n", "2: [general] given twice, first on line 1");
}

static void
test_password_warning (Fixture *f, gconstpointer data)
{
    const char *text = ACCOUNT "password = " SECRET "\n";
    g_autoptr (GError) error = NULL;
    g_autofree char *path = write_file (f, text, 0644);
    g_autoptr (NmsConfig) c = nms_config_load (path, &error);
    g_autofree char *want = g_strdup_printf ("%s: contains a password but is readable by others; "
                                             "chmod 600 it",
                                             path);
    g_autoptr (NmsConfig) c600 = NULL;
    g_autoptr (NmsConfig) c640 = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (c->warnings->len, ==, 1);
    g_assert_cmpstr (c->warnings->pdata[0], ==, want);
    g_assert_null (strstr (c->warnings->pdata[0], SECRET));

    g_assert_cmpint (g_chmod (path, 0640), ==, 0);
    c640 = nms_config_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (c640->warnings->len, ==, 1);

    g_assert_cmpint (g_chmod (path, 0600), ==, 0);
    c600 = nms_config_load (path, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (c600->warnings->len, ==, 0);
}

static void
test_no_warning_without_password (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = write_file (f, ACCOUNT "password-command = pass x\n", 0644);
    g_autoptr (NmsConfig) c = nms_config_load (path, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (c->warnings->len, ==, 0);
}

/* The value is never quoted, whatever goes wrong around it. */
static void
test_password_not_in_errors (Fixture *f, gconstpointer data)
{
    assert_parse_error (f, ACCOUNT "password = " SECRET "\nbogus = 1\n",
                        "6: key 'bogus': unknown key in [account work]");
    assert_parse_error (f, ACCOUNT "password = " SECRET "\npassword = " SECRET "\n",
                        "6: key 'password': given twice in [account work], first on line 5");
    assert_parse_error (f, ACCOUNT "password = " SECRET "\\x\n",
                        "5: key 'password': invalid escape sequence (write a backslash as '\\\\')");
    assert_parse_error (f, ACCOUNT "password " SECRET "\n",
                        "5: not a key = value line, group or comment");
}

static char *
password_of (const char *password, const char *command, GError **error)
{
    NmsAccount a = { .name = (char *) "work",
                     .password = (char *) password,
                     .password_command = (char *) command };

    return nms_account_get_password (&a, error);
}

static void
test_password_get (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *plain = password_of (SECRET, NULL, &error);
    g_autofree char *none = password_of (NULL, NULL, &error);
    g_autofree char *first = password_of (NULL, "printf 'pw one\\nsecond line\\n'", &error);
    g_autofree char *crlf = password_of (NULL, "printf 'pw\\r\\n'; echo noise >&2", &error);
    g_autofree char *no_newline = password_of (NULL, "printf %s " SECRET, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (plain, ==, SECRET);
    g_assert_cmpstr (none, ==, "");
    g_assert_cmpstr (first, ==, "pw one");
    g_assert_cmpstr (crlf, ==, "pw");
    g_assert_cmpstr (no_newline, ==, SECRET);
}

static void
assert_password_error (const char *command, const char *expected)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *pw = password_of (NULL, command, &error);

    g_assert_null (pw);
    g_assert_error (error, NMS_CONFIG_ERROR, NMS_CONFIG_ERROR_PASSWORD);
    g_assert_cmpstr (error->message, ==, expected);
}

static void
test_password_command_fails (Fixture *f, gconstpointer data)
{
    assert_password_error ("echo " SECRET "; echo 'no entry for imap' >&2; echo more >&2; exit 3",
                           "account 'work': password-command failed with exit status 3: "
                           "no entry for imap");
    assert_password_error ("exit 5", "account 'work': password-command failed with exit status 5");
    assert_password_error ("true",
                           "account 'work': password-command printed no password (exit status 0)");
    assert_password_error ("echo; echo " SECRET,
                           "account 'work': password-command printed no password (exit status 0)");
    assert_password_error ("echo locked >&2; kill -9 $$",
                           "account 'work': password-command was killed by signal 9: locked");
}

static void
test_folders_basic (Fixture *f, gconstpointer data)
{
    char *star[] = { "*", NULL };
    char *pct[] = { "%", NULL };
    char *sub[] = { "a/%", NULL };
    char *none[] = { NULL };

    g_assert_true (nms_config_folder_selected (NULL, "INBOX", '/'));
    g_assert_true (nms_config_folder_selected (star, "a/b/c", '/'));
    g_assert_true (nms_config_folder_selected (star, "", '/'));
    g_assert_true (nms_config_folder_selected (pct, "a", '/'));
    g_assert_false (nms_config_folder_selected (pct, "a/b", '/'));
    g_assert_true (nms_config_folder_selected (pct, "a/b", '.'));
    g_assert_false (nms_config_folder_selected (pct, "a.b", '.'));
    g_assert_true (nms_config_folder_selected (pct, "a/b", '\0'));
    g_assert_true (nms_config_folder_selected (sub, "a/b", '/'));
    g_assert_false (nms_config_folder_selected (sub, "a/b/c", '/'));
    g_assert_false (nms_config_folder_selected (sub, "a", '/'));
    g_assert_false (nms_config_folder_selected (none, "INBOX", '/'));
}

static void
test_folders_exclude_order (Fixture *f, gconstpointer data)
{
    char *excl[] = { "*", "!register", NULL };
    char *order[] = { "!Trash", "*", NULL };
    char *reinclude[] = { "*", "!Trash*", "Trash/keep", NULL };
    char *only[] = { "INBOX", "Sent", NULL };

    g_assert_true (nms_config_folder_selected (excl, "INBOX", '/'));
    g_assert_false (nms_config_folder_selected (excl, "register", '/'));
    g_assert_true (nms_config_folder_selected (excl, "register/old", '/'));
    g_assert_true (nms_config_folder_selected (order, "Trash", '/'));
    g_assert_false (nms_config_folder_selected (reinclude, "Trash", '/'));
    g_assert_false (nms_config_folder_selected (reinclude, "Trash/x", '/'));
    g_assert_true (nms_config_folder_selected (reinclude, "Trash/keep", '/'));
    g_assert_true (nms_config_folder_selected (only, "Sent", '/'));
    g_assert_false (nms_config_folder_selected (only, "Drafts", '/'));
    g_assert_false (nms_config_folder_selected (only, "sent", '/'));
}

static void
test_folders_inbox_case (Fixture *f, gconstpointer data)
{
    char *lower[] = { "inbox", NULL };
    char *subs[] = { "INBOX/*", NULL };
    char *upper[] = { "INBOX", NULL };
    char *exclude[] = { "*", "!inbox", NULL };

    g_assert_true (nms_config_folder_selected (lower, "INBOX", '/'));
    g_assert_true (nms_config_folder_selected (upper, "Inbox", '/'));
    g_assert_false (nms_config_folder_selected (lower, "inboxes", '/'));
    g_assert_false (nms_config_folder_selected (lower, "INBOX/sub", '/'));
    g_assert_true (nms_config_folder_selected (subs, "inbox/sub", '/'));
    g_assert_true (nms_config_folder_selected (subs, "Inbox/a/b", '/'));
    g_assert_false (nms_config_folder_selected (subs, "Archive/inbox/x", '/'));
    g_assert_false (nms_config_folder_selected (exclude, "InBoX", '/'));
    g_assert_true (nms_config_folder_selected (exclude, "Sent", '/'));
}

/* Exponential by nature, but fine on the tiny inputs below: the reference to check against. */
static gboolean
reference_match (const char *p, const char *s, char delim)
{
    if (*p == '\0')
        return *s == '\0';
    if (*p == '*' || *p == '%') {
        if (reference_match (p + 1, s, delim))
            return TRUE;
        return *s != '\0' && (*p == '*' || *s != delim) && reference_match (p, s + 1, delim);
    }
    return *s == *p && reference_match (p + 1, s + 1, delim);
}

static void
random_string (char *buf, int max, const char *alphabet)
{
    int n = g_test_rand_int_range (0, max + 1);

    for (int i = 0; i < n; i++)
        buf[i] = alphabet[g_test_rand_int_range (0, strlen (alphabet))];
    buf[n] = '\0';
}

static void
test_folders_matches_reference (Fixture *f, gconstpointer data)
{
    for (int i = 0; i < 20000; i++) {
        char pat[8], name[10];
        char *patterns[] = { pat, NULL };

        random_string (pat, 7, "ab/*%");
        random_string (name, 9, "ab/");
        if (pat[0] == '!')
            continue;
        if (nms_config_folder_selected (patterns, name, '/') != reference_match (pat, name, '/'))
            g_error ("pattern '%s' on '%s' disagrees with the reference", pat, name);
    }
}

static void
test_folders_pathological (Fixture *f, gconstpointer data)
{
    char *star[] = { "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", NULL };
    char *pct[] = { "%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%a%b", NULL };
    char *mixed[] = { "*a%a*a%a*a%a*a%a*a%a*a%a*a%a*a%a*/*b", NULL };
    g_autofree char *name = g_strnfill (200000, 'a');
    g_autoptr (GTimer) timer = g_timer_new ();

    g_assert_false (nms_config_folder_selected (star, name, '/'));
    g_assert_false (nms_config_folder_selected (pct, name, '/'));
    g_assert_false (nms_config_folder_selected (mixed, name, '/'));
    name[100000] = '/';
    name[199999] = 'b';
    g_assert_true (nms_config_folder_selected (star, name, '/'));
    g_assert_false (nms_config_folder_selected (pct, name, '/'));
    g_assert_true (nms_config_folder_selected (mixed, name, '/'));
    /* Backtracking would take longer than the universe; the linear scan takes milliseconds. */
    g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 10.0);
}

#define ADD(name, fn) g_test_add (name, Fixture, NULL, setup, fn, teardown)

int
main (int argc, char **argv)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *state = NULL;
    int status;

    g_test_init (&argc, &argv, NULL);
    home = g_dir_make_tmp ("nmsync-test-home-XXXXXX", &error);
    g_assert_no_error (error);
    state = g_build_filename (home, "xdg-state", NULL);
    g_setenv ("HOME", home, TRUE);
    g_setenv ("XDG_STATE_HOME", state, TRUE);
    {
        g_autofree char *ca = g_build_filename (home, "ca.pem", NULL);

        g_file_set_contents (ca, "", 0, &error); /* ca-file must name a readable file */
        g_assert_no_error (error);
    }
    g_unsetenv ("XDG_CONFIG_HOME");
    g_unsetenv ("NMSYNC_CONFIG");

    ADD ("/config/load/full", test_full);
    ADD ("/config/load/defaults", test_defaults);
    ADD ("/config/load/state-default-home", test_state_default_home);
    ADD ("/config/load/empty-file", test_empty_file);
    ADD ("/config/load/tilde", test_tilde);
    ADD ("/config/load/not-found", test_not_found);
    ADD ("/config/load/line-endings", test_line_endings);
    ADD ("/config/load/create-delete", test_create_delete);
    ADD ("/config/load/compress", test_compress);
    ADD ("/config/load/connections", test_connections);
    ADD ("/config/load/connections-tunnel", test_connections_tunnel);
    ADD ("/config/load/ca-file-missing", test_ca_file_missing);
    ADD ("/config/load/watch-keys", test_watch_keys);
    ADD ("/config/load/tls-none", test_tls_none);
    ADD ("/config/find-path", test_find_path);
    ADD ("/config/error/unknown-key", test_error_unknown_key);
    ADD ("/config/error/unknown-group", test_error_unknown_group);
    ADD ("/config/error/syntax", test_error_syntax);
    ADD ("/config/error/port", test_error_port);
    ADD ("/config/error/values", test_error_values);
    ADD ("/config/error/password-both", test_error_password_both);
    ADD ("/config/error/missing", test_error_missing);
    ADD ("/config/error/relative-maildir", test_error_relative_maildir);
    ADD ("/config/error/duplicates", test_error_duplicates);
    ADD ("/config/password/warning", test_password_warning);
    ADD ("/config/password/no-warning-without-password", test_no_warning_without_password);
    ADD ("/config/password/not-in-errors", test_password_not_in_errors);
    ADD ("/config/password/get", test_password_get);
    ADD ("/config/password/command-fails", test_password_command_fails);
    ADD ("/config/folders/basic", test_folders_basic);
    ADD ("/config/folders/exclude-order", test_folders_exclude_order);
    ADD ("/config/folders/inbox-case", test_folders_inbox_case);
    ADD ("/config/folders/matches-reference", test_folders_matches_reference);
    ADD ("/config/folders/pathological", test_folders_pathological);
    status = g_test_run ();
    nms_test_rm_rf (home);
    g_free (home);
    return status;
}

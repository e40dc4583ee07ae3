/* SPDX-License-Identifier: GPL-3.0-or-later
 * The config file (INI, read with GKeyFile) into plain structs. Every error names the file,
 * the line and the key: "FILE:LINE: key 'x': why". */
#pragma once

#include <glib.h>

#include "maildir/maildir.h"

#define NMS_CONFIG_ERROR (nms_config_error_quark ())
GQuark nms_config_error_quark (void);

typedef enum {
    NMS_CONFIG_ERROR_NOT_FOUND, /* no config file at any of the places looked at */
    NMS_CONFIG_ERROR_PARSE,     /* syntax, unknown group or key, bad value, missing key */
    NMS_CONFIG_ERROR_PASSWORD,  /* password-command failed or printed nothing */
} NmsConfigError;

typedef enum {
    NMS_TLS_IMAPS,    /* implicit TLS, default port 993 */
    NMS_TLS_STARTTLS, /* port 143, STARTTLS required (never a silent downgrade) */
    NMS_TLS_NONE,     /* plain text: only to a loopback host (checked at load) */
} NmsTlsMode;

/* Which side nmsync may change, for "create" (folders) and "delete" (messages). */
typedef enum {
    NMS_SIDES_BOTH,
    NMS_SIDES_LOCAL,  /* only the Maildir */
    NMS_SIDES_SERVER, /* only the server */
    NMS_SIDES_NONE,
} NmsSides;

/* "compress": whether to ask for COMPRESS=DEFLATE (RFC 4978). */
typedef enum {
    NMS_COMPRESS_AUTO, /* when offered, unless the server is on loopback or behind a tunnel */
    NMS_COMPRESS_YES,  /* whenever the server offers it */
    NMS_COMPRESS_NO,
} NmsCompress;

#define NMS_SIDES_ALLOW_LOCAL(s) ((s) == NMS_SIDES_BOTH || (s) == NMS_SIDES_LOCAL)
#define NMS_SIDES_ALLOW_SERVER(s) ((s) == NMS_SIDES_BOTH || (s) == NMS_SIDES_SERVER)

typedef struct {
    char *name;             /* from "[account NAME]" */
    char *host;             /* required unless tunnel */
    int port;               /* 0 in the file means: default for @tls */
    NmsTlsMode tls;
    char *user;             /* required unless tunnel */
    char *password;         /* NULL unless given */
    char *password_command; /* NULL unless given; run through /bin/sh -c */
    char *tunnel;           /* NULL unless given; run through /bin/sh -c, preauthenticated */
    char *ca_file;          /* NULL: the system CA store */
    char *maildir;          /* required; "~" expanded, absolute */
    NmsMaildirLayout layout;
    char **folders;         /* patterns in order; default { "*", NULL } */
    int timeout;            /* seconds for each network wait; default 60 */
    int line;               /* line of the "[account ...]" header, for later messages */
    NmsSides create;        /* "create": where new folders may be created; default both */
    NmsSides delete_sides;  /* "delete": where messages may be deleted; default both */
    NmsCompress compress;   /* "compress": default auto */
    int connections;        /* "connections": IMAP connections a run may open, 1..16; default 4 */
    /* "max-deletions": a run deletes at most MAX (max_deletions, max_deletions_percent % of
     * the account's messages) on each side unless --force; default 200 and 2 %. */
    guint max_deletions;
    guint max_deletions_percent;
    /* nmsync watch: "watch-interval", seconds between LIST-STATUS sweeps (1..86400, default
     * 300); "watch-folders", patterns like "folders" naming the folders that get an IDLE
     * connection of their own where the server lacks NOTIFY (default { "INBOX", NULL }). */
    int watch_interval;
    char **watch_folders;
} NmsAccount;

typedef struct {
    char *path;             /* the file that was read */
    char *state_dir;        /* "state" key, default $XDG_STATE_HOME/nmsync; "~" expanded */
    char **rules;           /* "rules" key (';'-separated), may be empty */
    char *notmuch_config;   /* NULL: notmuch's own lookup */
    GPtrArray *accounts;    /* NmsAccount, in file order */
    GPtrArray *warnings;    /* char*: e.g. a password in a group/world-readable file */
} NmsConfig;

/* Which file to read: @cli_path (-c), else $NMSYNC_CONFIG, else
 * $XDG_CONFIG_HOME/nmsync/config (XDG default ~/.config). (transfer full) */
char *nms_config_find_path (const char *cli_path);

/* Reads and validates @path. Unknown groups and keys, missing required keys, bad values
 * (port not 1..65535, tls not imaps|starttls|none, tls=none to a non-loopback host, both
 * password and password-command, layout not maildir++|verbatim, compress not auto|yes|no, a
 * duplicate account) fail with PARSE and a message "PATH:LINE: key 'KEY': why" (or
 * "PATH:LINE: why" for lines without a key). A file that does not exist fails with NOT_FOUND naming it. (transfer full) */
NmsConfig *nms_config_load (const char *path, GError **error);
void nms_config_free (NmsConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsConfig, nms_config_free)

/* The account called @name, or NULL. (transfer none) */
NmsAccount *nms_config_find_account (const NmsConfig *config, const char *name);

/* The default port for @tls (993 or 143). */
int nms_config_default_port (NmsTlsMode tls);

/* The password: @account->password, or the first line of password-command's output
 * (without its newline). Fails with PASSWORD naming the account and the command's exit status
 * and stderr, never the password itself. NULL password and no command: returns "". (transfer full) */
char *nms_account_get_password (const NmsAccount *account, GError **error);

/* TRUE when the decoded folder name @folder is selected by @patterns: patterns are tried in
 * order, the last one that matches decides; "!pat" excludes. "*" matches any characters,
 * "%" any characters except @delim. INBOX matches case-insensitively. */
gboolean nms_config_folder_selected (char *const *patterns, const char *folder, char delim);

/* `nmsync import-mbsyncrc`: the text of an nmsync config equivalent to the mbsync
 * configuration @text (mbsync(1), isync 1.4; @path only names it in the first comment). Each
 * Channel between an IMAP store and a Maildir store becomes an [account NAME] (IMAPAccount/
 * IMAPStore/MaildirStore options, Patterns, SubFolders, Inbox/Path, Create, Expunge; Far/Near
 * and the old Master/Slave spelling); every option, Channel or Group it cannot translate is a
 * comment line "# mbsyncrc:LINE: not translated: why" after the account it concerns, and
 * things to know are "# mbsyncrc:LINE: note: ...". Never fails: the result is valid UTF-8 in
 * which every line is a comment, a group or a key nms_config_load() knows. (transfer full) */
char *nms_config_import_mbsyncrc (const char *path, const char *text);

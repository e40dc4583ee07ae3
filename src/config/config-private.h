/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared between config.c and patterns.c only. */
#pragma once

#include <glib.h>

/* Splits the value of a "folders" key into patterns, in order. Whitespace separates patterns;
 * double quotes group one that contains spaces or starts with '#' ("Sent Items", !"Old Mail")
 * and are removed. Fails with NMS_CONFIG_ERROR_PARSE and a bare reason (no path, line or key:
 * the caller prefixes them) on an empty list, an empty pattern, a lone '!', an unterminated
 * quote, or an unquoted pattern starting with '#', which is almost always a comment the user
 * meant to end the line with. (transfer full) */
char **nms_config_patterns_parse (const char *value, GError **error);

/* ---- mbsyncrc.c and mbsyncrc-write.c: an mbsync configuration, as read ---- */

/* Channel options allowed before any section, as defaults for the Channels after them. */
typedef struct {
    char *create, *expunge, *remove, *sync, *sync_state;
    int create_line, expunge_line, remove_line, sync_line, sync_state_line;
} ChannelOptions;

typedef enum { SECTION_ACCOUNT, SECTION_IMAP_STORE, SECTION_MAILDIR_STORE } StoreKind;

/* An IMAPAccount, IMAPStore or MaildirStore; each string is NULL when not given. */
typedef struct {
    StoreKind kind;
    char *name;
    int line;
    char *host, *port, *user, *pass, *pass_cmd, *tunnel, *ssl_type, *ca_file, *timeout;
    int host_line, port_line, ssl_line, timeout_line, ca_line, pass_line;
    gboolean use_imaps, require_ssl_no;
    char *account;              /* IMAPStore: "Account NAME" */
    int account_line;
    char *path, *inbox, *subfolders, *flatten;
    int path_line, inbox_line, subfolders_line, flatten_line;
    GPtrArray *notes;           /* char*: finished comment lines */
} Store;

typedef struct {
    char *name;
    int line;
    char *far, *near;           /* ":store:box" as written */
    int far_line, near_line;
    GPtrArray *patterns;        /* char*, in order (Pattern and Patterns add up) */
    int patterns_line;
    ChannelOptions opt;
    GPtrArray *notes;
} Channel;

/* The whole file: what mbsync-write.c turns into accounts. */
typedef struct {
    GPtrArray *stores;          /* Store*, in file order */
    GPtrArray *channels;        /* Channel*, in file order */
    GPtrArray *notes;           /* char*: comment lines for global options and Groups */
} MbsyncConfig;

/* Adds "# mbsyncrc:LINE: WHY" to @notes, WHY made printable. */
void nms_mbsyncrc_note (GPtrArray *notes, int line, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
/* @s as valid UTF-8 without control characters, for a comment line. (transfer full) */
char *nms_mbsyncrc_printable (const char *s);
gboolean nms_mbsyncrc_is (const char *word, const char *name);
/* Appends an [account] (or comments saying why not) per Channel of @cfg to @out. */
void nms_mbsyncrc_write (const MbsyncConfig *cfg, GString *out);

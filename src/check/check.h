/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync check` and `nmsync status`: what an account's server, Maildir, notmuch database and
 * sync state say, side by side, and the defects a sync tool or a crash leaves (a report); the
 * safe repairs of those defects (a plan, pure data, then its execution, one repair at a time);
 * and the state's own summary (no network, no lock). Uses sync/ for the server, maildir/,
 * notmuch/ and state/; prints nothing. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "notmuch/notmuch.h"
#include "util/context.h"

typedef enum {
    NMS_CHECK_TMP_OLD,       /* a file in tmp/ older than 36 h */
    NMS_CHECK_EMPTY,         /* an empty message file in cur/ or new/ */
    NMS_CHECK_MISFILED,      /* a message outside cur/ and new/ */
    NMS_CHECK_DUPLICATE_UID, /* a ",U=" two files of the folder carry */
    NMS_CHECK_BAD_NAME,      /* a file name that does not parse */
    NMS_CHECK_SERVER_ONLY,   /* a Message-ID the server folder has and the local one not */
    NMS_CHECK_LOCAL_ONLY,    /* a Message-ID the local folder has and the server one not */
    NMS_CHECK_NOTMUCH_STALE, /* a file name notmuch lists that is not there */
    NMS_CHECK_STATE_GONE,    /* a message the state pairs with a file that is not there */
} NmsCheckKind;

/* The stable keyword of @kind in check's output ("tmp-old", "empty", "misfiled",
 * "duplicate-uid", "bad-name", "server-only", "local-only", "notmuch-stale", "state-gone"). */
const char *nms_check_kind_name (NmsCheckKind kind);

typedef struct {
    NmsCheckKind kind;
    char *folder;     /* decoded folder name; "" when the file lies in no known folder */
    char *object;     /* an absolute path, a Message-ID (lowercased), or "uid=N BASE" */
    char *target;     /* MISFILED: where it belongs; NOTMUCH_STALE: the file with the same
                       * unique part found in the Maildir; else NULL */
    guint32 uid;      /* DUPLICATE_UID: the uid */
    gboolean empty;   /* the file has no bytes */
    gboolean paired;  /* DUPLICATE_UID: the state pairs this very file with @uid */
    char *message_id; /* DUPLICATE_UID: the file's Message-ID, lowercased, or NULL */
    char *note;       /* MISFILED: why --fix leaves it ("recent: left", "copy of PATH: left"),
                       * NULL when --fix refiles it */
} NmsCheckIssue;

void nms_check_issue_free (NmsCheckIssue *issue);

typedef struct {
    char *name;
    gint64 server;  /* messages on the server; -1: not known (no such server folder) */
    gint64 local;   /* message files in cur/ and new/; -1: no local folder */
    gint64 notmuch; /* messages notmuch lists with a file in the folder; -1: no database */
    guint issues;
} NmsCheckFolder;

void nms_check_folder_free (NmsCheckFolder *folder);

typedef struct {
    char *account;
    GPtrArray *folders; /* NmsCheckFolder, sorted by name */
    GPtrArray *issues;  /* NmsCheckIssue, by folder */
} NmsCheckReport;

void nms_check_report_free (NmsCheckReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsCheckReport, nms_check_report_free)

typedef struct {
    char **folders; /* NULL: every folder the account's patterns select; else these names */
    NmsDb *db;      /* the notmuch database, or NULL (no notmuch column, no notmuch issues) */
    gint64 now;     /* seconds since the epoch (tmp/ ages) */
} NmsCheckOptions;

/* Checks @account: the server (nms_sync_check_server: EXAMINE, one UID FETCH of Message-IDs
 * per folder), each local folder's files (nms_maildir_defects), the notmuch file names under
 * the account's Maildir (one query) and the state's messages (a private copy: nothing is
 * written). Changes nothing anywhere. Fails when the server cannot be reached (the IMAP or
 * password error) or the state or database cannot be read. (transfer full) */
NmsCheckReport *nms_check_account (NmsContext *ctx, const NmsConfig *config,
                                   const NmsAccount *account, const NmsCheckOptions *options,
                                   GError **error);

/* ---- fix.c: the safe repairs ------------------------------------------------------------ */

typedef enum {
    NMS_CHECK_FIX_REFILE,         /* move misfiled @path to @target (cur/ or new/, same name) */
    NMS_CHECK_FIX_REMOVE_TMP,     /* remove the empty old tmp/ file @path */
    NMS_CHECK_FIX_DROP_UID,       /* drop ",U=" from @path, a duplicate the state does not
                                   * pair: the next sync pairs it by content or uploads it */
    NMS_CHECK_FIX_NOTMUCH_RENAME, /* notmuch's stale file name @path is now @target */
} NmsCheckFixKind;

typedef struct {
    NmsCheckFixKind kind;
    char *folder;
    char *path;
    char *target; /* REFILE, NOTMUCH_RENAME; DROP_UID: filled in when done */
} NmsCheckFix;

void nms_check_fix_free (NmsCheckFix *fix);
/* "refile", "remove", "drop-uid", "notmuch-rename". */
const char *nms_check_fix_name (NmsCheckFixKind kind);

/* The safe repairs of @report's issues, pure: misfiled files into cur/ (a name with an info)
 * or new/; empty tmp/ files older than 36 h removed; of files sharing a ",U=", the ones the
 * state does not pair lose it when the state pairs another one and their Message-ID differs
 * from that one's (a byte copy would be uploaded again: left for the user); notmuch's stale
 * names moved to the file with the same unique part. Nothing else: no message file with
 * content is ever removed. (transfer full: GPtrArray of NmsCheckFix, with free func) */
GPtrArray *nms_check_plan (const NmsCheckReport *report);

/* Carries out @fix, durably (one rename or removal), then tells @db (may be NULL) of the
 * file's new name as an in-place rename, tags kept. A crash in between leaves notmuch with a
 * stale name, which the next check finds and repairs. FALSE with @error naming the file; the
 * file is then where it was. */
gboolean nms_check_fix_run (NmsCheckFix *fix, NmsDb *db, GError **error);

/* ---- status.c: the state's summary ------------------------------------------------------ */

typedef struct {
    char *name;
    guint64 messages;    /* the messages the state pairs */
    guint intents;       /* pending intents (a crash cut an action in half) */
} NmsStatusFolder;

typedef struct {
    char *account;
    gboolean exists;    /* a state file exists (else never synced) */
    char *last_sync;    /* ISO 8601 UTC of the last successful sync, or NULL */
    char *last_error;   /* the last failure's one-line message, or NULL */
    char *last_error_at; /* ISO 8601 UTC of that failure, or NULL */
    GPtrArray *folders; /* NmsStatusFolder, sorted */
} NmsStatus;

void nms_status_free (NmsStatus *status);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsStatus, nms_status_free)

/* Reads @account's state in @state_dir without writing anything (no lock, no network): a
 * private copy, so a running sync is neither disturbed nor waited for. (transfer full) */
NmsStatus *nms_status_read (const char *state_dir, const NmsAccount *account, GError **error);

/* What a sync records (cli/pipeline.c): the time of the last successful sync (the mtime of
 * <state dir>/<account>.synced, no database write; older versions wrote the meta key
 * NMS_STATUS_KEY_LAST_SYNC, still read), the last failure's message and time (meta keys).
 * Records @failure (NULL: success) for @account. */
#define NMS_STATUS_KEY_LAST_SYNC "last-sync"
#define NMS_STATUS_KEY_LAST_ERROR "last-error"
#define NMS_STATUS_KEY_LAST_ERROR_AT "last-error-at"
gboolean nms_status_record (const char *state_dir, const NmsAccount *account,
                            const char *failure, GError **error);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The command line: global options, the command table, output and exit codes. */
#pragma once

#include <glib.h>

#include "apply/apply.h"
#include "rules/rules.h"
#include "sync/sync.h"
#include "config/config.h"
#include "util/context.h"

/* Exit codes (nmsync(1), DESIGN.md section 3). */
enum {
    NMS_EXIT_OK = 0,
    NMS_EXIT_SKIPPED = 1, /* done, but some messages or folders were skipped (each named) */
    NMS_EXIT_USAGE = 2,   /* usage or config error */
    NMS_EXIT_CONNECT = 3, /* cannot connect or log in */
    NMS_EXIT_LOCKED = 4,  /* another nmsync holds the account lock */
};

typedef struct {
    const char *config_path; /* -c, or NULL */
    int verbosity;
    gboolean dry_run;
    gboolean force;
    gboolean no_sandbox;     /* --no-sandbox */
    gboolean no_rules;       /* --no-rules: sync without its rule stages */
    gboolean all;            /* --all: apply the rules to every message */
    gboolean json;           /* --json: one JSON object per account instead of the summary */
    gboolean fix;            /* check --fix: carry out the safe repairs */
    gboolean trace;          /* --trace (or -vvv): the IMAP conversation on stderr */
    gboolean adopt;          /* `adopt`: a pull that pairs a Maildir nmsync has no state for */
    const char *mbsync_state; /* --mbsync-state DIR (adopt), or NULL */
    gboolean clean;          /* --clean (adopt): remove mbsync's files of adopted folders */
    gboolean keep_local;     /* --local-only=keep (adopt): unpaired files are never uploaded */
    char **args;             /* ACCOUNT[/FOLDER] arguments after the command */
    const NmsConfig *config; /* loaded by main() for a command that needs it (transfer none) */
} NmsCliOptions;

/* ---- output.c ---- */

/* Sets up @ctx to write messages to stderr and, on a terminal, a status line updated in
 * place; with @json each account's summary is one JSON object on stdout (--json). */
void nms_output_init (NmsContext *ctx, int verbosity, gboolean json);
/* Starts the status line for an account. */
void nms_output_account_begin (NmsContext *ctx, const char *account);
/* Ends it: clears the status line and prints the one-line summary for the account (with the
 * server side's counts when @pushed, and what the rule stages did when @rules). */
void nms_output_account_end (NmsContext *ctx, const char *account, const char *failure,
                             gboolean pushed, const NmsApplyCounts *rules);
void nms_output_finish (NmsContext *ctx);
/* On a terminal (and unless -q): @text as the status line until the next output (watch,
 * between runs). */
void nms_output_status (NmsContext *ctx, const char *text);

/* ---- confine.c: the Landlock sandbox of a run ---- */

#include "notmuch/notmuch.h"

/* A password that password-command printed before the sandbox went up, or why it did not. */
typedef struct {
    char *password; /* (owned, zeroed when freed) or NULL with @error */
    GError *error;
} NmsPrefetched;

void nms_prefetched_free (NmsPrefetched *p);

/* TRUE when a sync would be confined: no --no-sandbox, and the kernel offers Landlock. */
gboolean nms_confine_wanted (const NmsCliOptions *options);
/* Runs @fn (@data) in a child process forked now, before the sandbox goes up, and waits for
 * it: for the accounts whose tunnel command must not inherit the sandbox. Returns the child's
 * exit status (@fn's return value); a child killed by a signal ends this process alike. */
int nms_confine_run_outside (NmsContext *ctx, int (*fn) (gpointer data), gpointer data);
/* Confines a sync, pull or push of @accounts (NmsAccount, transfer none) unless --no-sandbox,
 * the kernel lacks Landlock, or an account uses a tunnel (its command would inherit the
 * sandbox); each case is said at -v. First runs every password-command of @accounts, storing
 * the outcome in @prefetched (account name -> NmsPrefetched): the run must use these. Creates
 * the Maildirs and the state directory when missing. */
void nms_confine_sync (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
                       GPtrArray *accounts, GHashTable *prefetched);
/* Confines `nmsync apply` (the database @db is open) to the Maildirs of the accounts it
 * handles, the state directory and @db's directory. */
void nms_confine_apply (NmsContext *ctx, const NmsCliOptions *options, const NmsConfig *config,
                        NmsDb *db);

/* ---- cmd-sync.c ---- */


/* How long a command waits for an account lock another nmsync holds (nmsync(1)): 30 s, so
 * that a sync the timer starts during an apply (or the post-new hook's apply during a sync)
 * waits for it instead of failing, while a run stuck behind a long one still ends with exit 4
 * well before a timer's next tick. */
#define NMS_CLI_LOCK_WAIT_S 30
/* $NMSYNC_LOCK_WAIT (seconds, 0 to 3600), else NMS_CLI_LOCK_WAIT_S, in milliseconds. */
guint nms_cli_lock_wait_ms (void);
/* NMSYNC_TEST_CRASH_AFTER=N: the test hook that kills nmsync dead after N steps; 0 off. */
guint nms_cli_crash_after (void);

/* Finds and loads the config (-c, $NMSYNC_CONFIG, XDG), printing its warnings on stderr.
 * Returns NULL after printing the error (exit status 2). (transfer full) */
NmsConfig *nms_cli_load_config (const NmsCliOptions *options);

/* The account lock (the one sync, pull, push and apply take), waiting up to
 * nms_cli_lock_wait_ms for another nmsync that holds it (said at -v). The fd, or -1 with
 * @error (NMS_STATE_ERROR_LOCKED when another nmsync kept it). */
int nms_cli_lock_account (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                          GError **error);

/* ---- pipeline.c: one account's run, for sync, pull, push, adopt and watch ---- */

typedef struct {
    NmsPlanDirection direction;
    gboolean force, adopt;
    gboolean adopt_clean, adopt_keep_local; /* adopt --clean, --local-only=keep */
    gboolean trace;          /* --trace or -vvv: the IMAP conversation through the context */
    const char *mbsync_state;
    const NmsRules *rules;   /* NULL: no rule stages (pull, push, --no-rules) */
    char **keywords;         /* from nms_cli_rule_keywords, or NULL */
    char **folders;          /* NULL: every folder; else only these in the IMAP stage (the rule
                              * stages still see every changed message; when the first one
                              * moves or re-flags files, the IMAP stage takes every folder) */
    gboolean rules_only;     /* the rule stage under the lock, and no IMAP unless it moved or
                              * re-flagged files (watch: a tag change) */
    const NmsPrefetched *prefetched; /* the account's password from before the sandbox, or NULL */
    NmsSyncFileFunc on_file; /* also told of every local file the IMAP stage writes; NULL */
    gpointer on_file_data;
} NmsPipelineOptions;

/* Runs the pipeline for @account (DESIGN.md section 1): under the account lock (taken only
 * for a run with rules: the IMAP stage takes it itself otherwise; never in a dry run) the rule
 * stage, the IMAP stage with its indexer, the rule stage again. Reports through @ctx and ends
 * with the account's summary line (nms_output_account_end). Returns the account's exit
 * status (NMS_EXIT_*). */
int nms_cli_pipeline_run (NmsContext *ctx, const NmsConfig *config, const NmsAccount *account,
                          const NmsPipelineOptions *options);
/* The exit status an account-level failure stands for. */
int nms_cli_failure_status (const GError *error);
/* The rule set every command finds the same way (nms_apply_rule_files), or NULL when there is
 * none. A rule file that does not load is reported on stderr, and the run goes on without
 * rules or keywords. (transfer full) */
NmsRules *nms_cli_load_rules (const NmsConfig *config);
/* The IMAP keywords the [keywords] rules of @rules name, to sync as Maildir letters a-z, or
 * NULL. (transfer full) */
char **nms_cli_rule_keywords (const NmsRules *rules);
/* A first sync with notmuch set up but no database yet creates it, as a first `notmuch new`
 * would, so that what the sync downloads is indexed in process; said at normal verbosity, and
 * so is a database that cannot be made (the files land either way; `notmuch new` indexes
 * them). Without any notmuch config nmsync is a plain sync tool: said at -v by the indexer.
 * Tried before the sandbox (the database may live outside what it lets us write) and, when
 * that failed, once more after it (@last), which has created the Maildir the database usually
 * lives in. FALSE when it should be tried again. */
gboolean nms_cli_ensure_database (NmsContext *ctx, const NmsConfig *config, gboolean last);

/* ---- commands ---- */
int nms_cmd_pull (const NmsCliOptions *options);
int nms_cmd_push (const NmsCliOptions *options);
int nms_cmd_sync (const NmsCliOptions *options);
int nms_cmd_adopt (const NmsCliOptions *options);
int nms_cmd_apply (const NmsCliOptions *options);
int nms_cmd_rules (const NmsCliOptions *options);
int nms_cmd_check (const NmsCliOptions *options);
int nms_cmd_status (const NmsCliOptions *options);
int nms_cmd_import_mbsyncrc (const NmsCliOptions *options);
int nms_cmd_watch (const NmsCliOptions *options);

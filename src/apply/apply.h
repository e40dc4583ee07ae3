/* SPDX-License-Identifier: GPL-3.0-or-later
 * The rules executor's pieces outside the command (nmsync apply, src/cli/cmd-apply.c): what
 * it needs to survive a kill -9 at any point. Uses maildir/ and the notmuch file events; never
 * IMAP. */
#pragma once

#include <glib.h>

#include "config/config.h"
#include "notmuch/notmuch.h"
#include "rules/rules.h"
#include "util/context.h"

/* ---- files.c: filenames notmuch lists that are gone ---------------------------------------
 * An apply renames a file, then tells notmuch; notmuch (Xapian) commits only when the database
 * is closed. A kill -9 in between leaves notmuch with the old filename of every file the run
 * renamed or moved. The next apply finds each such file again by its unique part (the name up
 * to the first ',' or ':', which a move or a flag change keeps) among the account's folders,
 * checks its Message-ID, and updates notmuch in place before it decides anything, so the
 * message is looked at where it really is. The same repairs a rename by another program
 * (mbsync adding ",U=", a mail client moving a file) that no `notmuch new` has seen yet. */

typedef struct _NmsApplyFiles NmsApplyFiles;

/* For the account whose folders are the directories @folder_dirs (absolute, NULL-terminated,
 * copied): the index of its files is built on first need, by one scan of each folder.
 * (transfer full) */
NmsApplyFiles *nms_apply_files_new (char *const *folder_dirs);
void nms_apply_files_free (NmsApplyFiles *files);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsApplyFiles, nms_apply_files_free)

/* Resolves @paths, the filenames notmuch lists for message @id: each one in cur/ or new/ of
 * one of the account's folders that no longer exists is replaced by the account's file with
 * the same unique part when that file carries Message-ID @id (or none) and is not listed
 * already, else dropped. Filenames outside the account and existing ones are kept, in order.
 * For each change an event is appended to @events (GArray of NmsFileEvent; the caller owns
 * the strings): RENAMED old -> found, or STALE old, but only when another file of the
 * message exists: a name not found again (renamed once more by another program meanwhile)
 * gets no event, as removing a message's last filename deletes it and its tags. Returns the resolved filenames
 * (transfer full, NULL-terminated), or NULL with @error when a folder cannot be read. */
char **nms_apply_files_resolve (NmsApplyFiles *files, const char *id, char *const *paths,
                                GArray *events, GError **error);

/* ---- account.c: one account as the rules see it ------------------------------------------ */

typedef struct {
    const NmsAccount *account;
    GPtrArray *folders;   /* NmsMaildirFolder */
    GHashTable *by_dir;   /* absolute folder dir -> name (transfer none) */
    GPtrArray *names;     /* char* (transfer none), NULL-terminated */
    GPtrArray *resolved;  /* char*, same indexes as rules->folders, entries may be NULL */
    GPtrArray *otherwise; /* char*, the rules' "otherwise" resolved, the same way */
    GPtrArray *matches;   /* GHashTable of ids, or NULL for a rule without match */
    GHashTable *roles;    /* special-use role -> folder, from the account's last sync */
    NmsRules rules;       /* the rules, with [keywords] as flag rules on this account's letters:
                           * the arrays are borrowed, only rules.flags is this account's own */
    GPtrArray *keyword_flags; /* NmsFlagRule made for [keywords] (owned) */
    NmsApplyFiles *files; /* where filenames notmuch lists that are gone went */
} NmsApplyAccount;

/* Loads @account's folders (from its Maildir), its roles and keyword letters (from its sync
 * state in @state_dir: keywords without a letter get one, except in a @dry_run, which creates
 * and writes no state), and per folder rule of @rules the ids among @candidates (a notmuch
 * query) its match selects. @rules and @db must outlive @acct. */
gboolean nms_apply_account_load (NmsApplyAccount *acct, const NmsAccount *account,
                                 const char *state_dir, const NmsRules *rules, NmsDb *db,
                                 const char *candidates, gboolean dry_run, GError **error);
void nms_apply_account_clear (NmsApplyAccount *acct);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (NmsApplyAccount, nms_apply_account_clear)

/* The first of @paths in cur/ or new/ of one of the account's folders, and that folder's name
 * (both transfer none), or NULL. */
const char *nms_apply_account_file (const NmsApplyAccount *acct, char *const *paths,
                                    const char **folder_out);
/* The index of the first folder rule (with a folder in this account) whose match selects
 * message @id, or -1. */
int nms_apply_account_first_match (const NmsApplyAccount *acct, const char *id);

/* ---- run.c: the executor, for `nmsync apply` and the rule stages of `nmsync sync` ---------- */

/* The rule files every command uses: [general] rules of @config, else the ';'-separated
 * `nmsync.rules` of notmuch's config (read from @db, or when @db is NULL from the database
 * notmuch's lookup finds, opened read-only); NULL when neither names any. (transfer full) */
char **nms_apply_rule_files (const NmsConfig *config, NmsDb *db);

typedef struct {
    guint looked_at, moved, reflagged, retagged;
} NmsApplyCounts;

typedef struct {
    gboolean all;      /* every message, not only those changed since the last run */
    guint crash_after; /* test hook NMSYNC_TEST_CRASH_AFTER: SIGKILL after that many steps */
} NmsApplyRunOptions;

/* TRUE when no message of @db (open read-only is enough) changed since @account's last run
 * (the same test nms_apply_run() starts with): a rule stage then has nothing to do and need
 * not open the database for writing. FALSE when something changed, the last run was on
 * another database, there was none, or the count fails. */
gboolean nms_apply_unchanged (NmsDb *db, const NmsAccount *account);

/* Runs @rules on @account's messages in @db (open writable, unless ctx->dry_run: then only
 * says what it would change) that changed since the account's last run, adding to @counts.
 * The caller holds the account lock. A skipped message is named through @ctx and keeps the
 * account's candidates for the next run (the revision is stored only after a clean run).
 * FALSE with @error when the account's folders, state or the query fail. */
gboolean nms_apply_run (NmsContext *ctx, const NmsConfig *config, const NmsRules *rules,
                        NmsDb *db, const NmsAccount *account, const NmsApplyRunOptions *options,
                        NmsApplyCounts *counts, GError **error);

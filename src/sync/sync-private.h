/* SPDX-License-Identifier: GPL-3.0-or-later
 * What the files of src/sync/ share: the run, the folders, intents with the crash hook. */
#pragma once

#include <glib.h>

#include "imap/imap.h"
#include "maildir/maildir.h"
#include "state/state.h"
#include "sync/pair.h"
#include "sync/plan.h"
#include "sync/sync.h"

typedef struct _NmsSyncPool NmsSyncPool;
typedef struct _NmsSyncBudget NmsSyncBudget;
typedef struct _NmsSyncLater NmsSyncLater;

/* One account's run; with several connections, each worker has a copy (workers.c). */
typedef struct {
    NmsContext *ctx;
    const NmsConfig *config;
    const NmsAccount *account;
    const NmsSyncOptions *options;
    NmsPlanPolicy policy;
    char *password;
    NmsImapSession *session; /* NULL after a lost connection, until reconnected */
    char delimiter;          /* the server's hierarchy delimiter, once a LIST told it; 0 before */
    char *prefix;            /* the personal namespace prefix stripped from folder names ("" for
                              * none); NULL before the first session chose it (account.c) */
    char **patterns;         /* the account's folder patterns with that prefix left out, or NULL
                              * to use them as written */
    NmsState *state;
    guint steps;             /* intents recorded and actions done, for crash_after */
    GHashTable *keyword_letters; /* keyword -> letter, for every session (state/) */
    GHashTable *pending_moves; /* moves found but not done (a dry run, or a move that failed),
                                * as nms_sync_pending_move_key() strings: the folders leave the
                                * file and the message alone (a dry run plans as if the move had
                                * been done); a failed move is retried by the next run */
    NmsSyncPool *pool;       /* the workers this run is one of (workers.c); NULL outside them */
    NmsSyncBudget *budget;   /* the account-wide deletion guard, shared by the workers */
    char *root_id;           /* root.c: the binding to write once logged in; NULL: none */
    gboolean root_marker_missing;
    GPtrArray *folders;      /* the run's folders (Folder, transfer none), once chosen; workers
                              * read only their names, wire names and directories */
    NmsSyncLater *later;     /* local deletions deferred to the end of the run, shared by the
                              * workers (server-moves.c); NULL: none deferred (dry run, push) */
    guint adopt_exact, adopt_content; /* adopt: files of the current folder paired exactly and
                                       * by content (each worker syncs one folder at a time) */
} Run;

/* A folder taking part in the run. */
typedef struct {
    char *name;      /* decoded, '/' between levels */
    char *wire_name; /* for SELECT; NULL while the folder exists only locally */
    char *relpath;   /* under the Maildir root */
    char *dir;       /* absolute local directory */
    gboolean local;  /* the local directory exists (with cur/ and new/) */
    gboolean replaced; /* the state knows another directory under this name (inode, birth
                        * time): its missing files are not deletions, they are downloaded again */
    /* incremental.c: the server's STATUS at the start of the run (has_status FALSE: none) */
    gboolean has_status;
    guint32 uidvalidity, uidnext, messages;
    guint64 highestmodseq;
    gint64 cur_mtime_ns, new_mtime_ns; /* cur/ and new/ before any scan; 0: unknown, too recent */
    gboolean local_changed; /* the local side may differ from the last complete sync */
    gboolean clean;         /* neither side changed, no intent pending: not selected, not scanned */
    gboolean local_from_state; /* cur/ and new/ are as the last complete sync saw them: the
                                * local side is read from the state, cur/ and new/ are not
                                * scanned (folder.c) */
    GPtrArray *prescan; /* the scan of cur/ and new/ taken for the deletion guard's count
                         * (guard.c) or the move search (moves.c), after the mtimes above were
                         * read and before any folder sync: the move search and then the
                         * folder's snapshot take it instead of reading the directories again.
                         * NULL: none (the folder is read when it is synced) */
    guint64 weight;  /* how much work the folder may be: the pool takes heavy folders first */
} Folder;

/* ---- account.c: one account's run: the folders, intents, the connection ---- */
void nms_sync_folder_free (Folder *folder);

/* Records @intent durably, then counts a step. Returns the id, or 0 with @error set. */
gint64 nms_sync_intent (Run *run, const NmsStateIntent *intent, GError **error);

/* After these errors the connection cannot be used again. */
gboolean nms_sync_session_lost (const GError *error);

/* Reconnects when the connection was lost (run->session NULL). */
gboolean nms_sync_connect (Run *run, GError **error);

/* ---- workers.c: the folder loop: in turn or in a pool of workers ---- */
/* Counts a step (an intent recorded, or an action done) and, when the test hook
 * NMSYNC_TEST_CRASH_AFTER (options->crash_after) names it, stops the process dead with
 * SIGKILL: no cleanup, no state commit, exactly like a crash. Workers share one count. */
void nms_sync_step (Run *run);

/* Tells options->on_file about a local file change (one call at a time across workers). */
void nms_sync_file_event (Run *run, NmsFileEventKind kind, const char *path,
                          const char *old_path);

/* Syncs @folders: in turn over the run's connection when account->connections is 1 (or
 * there is one folder), else in a pool of up to that many workers, heaviest folder first.
 * A failed folder is skipped and named; a full disk stops the run (the other workers finish
 * their current folder) and is returned in @fatal. */
void nms_sync_workers_run (Run *run, GPtrArray *folders, GError **fatal);

/* ---- root.c: the Maildir the state was written for ---- */
/* Writes what nms_sync_root_check found missing (the marker, the recorded root and layout),
 * once the server has answered and before anything else is written. */
gboolean nms_sync_root_bind (Run *run, GError **error);

/* Checks that the account's Maildir is the one the state was written for (the marker file in
 * its root, the recorded root and layout) before anything on either side changes, and binds a
 * new state (or one written before the marker existed) to it (nms_sync_root_bind). Fails with
 * NMS_SYNC_ERROR_MAILDIR and a sentence saying what to do. Writes nothing on a dry run. */
gboolean nms_sync_root_check (Run *run, GError **error);

/* Records @folder's directory (its inode and birth time now) as the one the state describes. */
gboolean nms_sync_root_record_folder (Run *run, const Folder *folder, GError **error);

/* Folders whose local directory is gone while the state remembers messages in them are a
 * folder event, never message deletions: each is named and taken out of @folders. A
 * directory replaced by another one under the same name is marked (Folder.replaced). */
void nms_sync_root_check_folders (Run *run, GPtrArray *folders);

/* ---- guard.c: the mass-deletion guards ---- */
NmsSyncBudget *nms_sync_budget_new (void);
void nms_sync_budget_free (NmsSyncBudget *budget);

/* Before the folders run: a lower bound of each side's deletions from the STATUS counts and
 * the file counts of changed local folders; a side whose bound passes the limit deletes
 * nothing in this run. */
void nms_sync_guard_estimate (Run *run, GPtrArray *folders);

/* After the per-folder guard (@sum says what it held back): drops a side's deletions that a
 * guard holds, each folder named: held on an earlier run (guards hold until the deletions are
 * undone or --force), or past the account's max-deletions. Local deletions are decided at the
 * end of the run instead when they wait there (run->later). */
void nms_sync_guard_plan (Run *run, const Folder *folder, GArray *plan,
                          const NmsPlanSummary *sum);

/* The same for @n local deletions of @folder decided at the end of the run (server-moves.c);
 * @tripped: the per-folder guard held them back. TRUE: do none of them. */
gboolean nms_sync_guard_later (Run *run, const char *folder, guint n, gboolean tripped);

/* Says that the per-folder guard holds back @n local deletions of @folder's @known messages
 * (at planning time, or at the end of the run for deferred ones). */
void nms_sync_guard_report_local (Run *run, const char *folder, guint n, guint known);

/* ---- incremental.c: skipping unchanged folders, QRESYNC snapshots ---- */
/* Copies @status (from nms_imap_list_status) into @folder. */
void nms_sync_folder_take_status (Folder *folder, const NmsImapFolder *status);

/* The keyword -> letter map @letters as one string, "letter=keyword" pairs sorted, the same
 * whatever the table's order (stored: a change means every folder is looked at once).
 * (transfer full) */
char *nms_sync_keywords_signature (GHashTable *letters);

/* Stats every folder's cur/ and new/ (before anything scans them) and decides which folders
 * are clean: the server's STATUS equals what the last complete sync recorded (with a nonzero
 * HIGHESTMODSEQ: without CONDSTORE nothing proves the server unchanged), the directory mtimes
 * equal the recorded ones, and no intent is pending. Of the others, those whose local side
 * alone is unchanged (the same test without the STATUS) get local_from_state. Call after
 * crash recovery. */
void nms_sync_find_clean (Run *run, GPtrArray *folders);

/* The folder's record before its actions start: HIGHESTMODSEQ 0, so that a crash or a skip
 * leaves the folder "not known complete" and the next run takes the full path. */
gboolean nms_sync_folder_mark_dirty (Run *run, const Folder *folder, guint32 uidvalidity,
                                     guint32 uidnext, GError **error);

/* After the folder's actions: records @uidnext (from SELECT) and, when the sync was
 * @complete (nothing skipped, both directions) and the STATUS is for @uidvalidity, the STATUS
 * and the mtimes seen before the scan, so that the next run can skip the folder. */
gboolean nms_sync_folder_mark_synced (Run *run, const Folder *folder, guint32 uidvalidity,
                                      guint32 uidnext, gboolean complete, GError **error);
/* The record nms_sync_folder_mark_synced writes, without writing it. */
void nms_sync_folder_synced_value (Run *run, const Folder *folder, guint32 uidvalidity,
                                   guint32 uidnext, gboolean complete,
                                   NmsStateFolder *value_out);

/* The server snapshot QRESYNC gives: the agreed messages @saved (NmsStateMessage, sorted)
 * without @vanished (sorted uids), with the flags of @changed (NmsImapMessageInfo, sorted)
 * applied and its new uids added. (transfer full: GArray of NmsImapMessageInfo, sorted) */
GArray *nms_sync_server_from_changes (GArray *saved, GArray *changed, GArray *vanished);

/* ---- folder.c: one folder's sync ---- */
/* The local snapshot of a scanned folder: files that carry a UID, sorted, as plan input, with
 * the matching entries; files with a UID repeated are reported and left out. Files without a
 * UID go to @fresh_out (new local messages). */
GArray *nms_sync_local_snapshot (Run *run, const Folder *folder, GPtrArray *scan,
                                 GPtrArray **entries_out, GPtrArray **fresh_out);

/* Removes every entry of @uid from @messages (NmsPlanMessage). */
void nms_sync_plan_drop_uid (GArray *messages, guint32 uid);

/* Syncs one folder in the run's direction. FALSE with @error for a folder-level failure. */
gboolean nms_sync_folder (Run *run, Folder *folder, GError **error);

/* ---- transfer.c: downloads, uploads and the lookups they share ---- */
/* A new connection (the old one is dropped) with @folder selected again. FALSE when the
 * folder is not the same any more (UIDVALIDITY no longer @uidvalidity) or the server cannot
 * be reached. */
gboolean nms_sync_reselect (Run *run, const Folder *folder, guint32 uidvalidity, GError **error);

/* Downloads the DOWNLOAD actions of @plan into @folder, selected with @uidvalidity. When the
 * server drops the connection in the middle, the rest is fetched one message at a time over
 * new connections, so that only a message the server cannot deliver is skipped. */
gboolean nms_sync_download (Run *run, const Folder *folder, guint32 uidvalidity, GArray *plan,
                            GError **error);

/* Gives the file at @path the UID @uid (0 drops it) unless it carries it already. Returns the
 * path it has afterwards. (transfer full) */
char *nms_sync_give_uid (const char *path, guint32 uid, GError **error);
/* The same, the directory fsyncs left out when @durable is FALSE: the caller fsyncs the
 * folder's cur/ and new/ (nms_maildir_folder_sync_dirs) before it records the new name. */
char *nms_sync_give_uid_full (const char *path, guint32 uid, gboolean durable, GError **error);

/* The last message in @idents (sorted by uid) that the state does not know in @folder and
 * that has @message_id (NULL matches only messages without one) and @size: the newest, since
 * an older one may be an original left marked \Deleted by a move on a server without UIDPLUS
 * (or another client's copy). 0 when none. */
guint32 nms_sync_find_ident (Run *run, const char *folder, GPtrArray *idents,
                             const char *message_id, guint64 size);

/* TRUE when @uid, which the server named (APPENDUID, COPYUID) for a message nmsync just
 * stored in @folder, can be new there: nonzero, under the UIDVALIDITY the state holds for
 * @folder (when it holds one and @uidvalidity is not 0), at or above @uidnext (0: the UIDNEXT
 * the state last saw), and not a UID the state already holds there. Otherwise says so in a
 * warning; the caller then finds the message by Message-ID. */
gboolean nms_sync_uid_is_new (Run *run, const char *folder, guint32 uidvalidity, guint32 uidnext,
                              guint32 uid);

/* A file whose name cannot take ",U=<uid>" and flags (nms_maildir_name_fits(): a foreign name
 * near NAME_MAX, or one notmuch could not index) is renamed in place to a fresh nmsync name,
 * and @e follows it (path and name). Callers do this before any intent or server command, so
 * that the rename after the upload cannot fail and upload the message again next run; they
 * tell the index of the renames as one (see finish_move). TRUE when nothing had to change. */
gboolean nms_sync_fit_name (Run *run, const Folder *folder, NmsMaildirEntry *e, GError **error);

/* Uploads one local file (APPEND) and gives it the new UID; records intent and state. */
gboolean nms_sync_upload (Run *run, const Folder *folder, guint32 uidnext,
                          NmsMaildirEntry *entry, GError **error);

/* The local file in @folder whose unique part is @base (with or without a UID), or NULL.
 * (transfer full) */
char *nms_sync_find_local (const Folder *folder, const char *base, GError **error);

/* Finishes or drops an APPEND intent left by a crash. */
gboolean nms_sync_recover_append (Run *run, const Folder *folder, const NmsStateIntent *intent,
                                  GError **error);

/* ---- content.c: pairing by content (the matching itself is pair.c) ---- */
/* The entries of @scan whose file carries no ",U=" nmsync gave: none at all, or one that
 * @saved (sorted NmsStateMessage) does not record with the file's unique part.
 * (transfer container: the entries stay @scan's) */
GPtrArray *nms_sync_pair_candidates (GArray *saved, GPtrArray *scan);

/* Pairs the files @candidates with the server messages @idents (NmsImapMessageIdent) by
 * Message-ID and CRLF size; where those collide or are missing, by body digest (reads those
 * files, fetches those bodies). Nothing is renamed. (transfer full: GArray of NmsPair) */
GArray *nms_sync_pair_match (Run *run, const Folder *folder, GPtrArray *candidates,
                             GPtrArray *idents, GError **error);

/* The pairing of a folder sync, before its plan: the files of @scan that carry no UID nmsync
 * gave are paired with the messages of @server (NmsImapMessageInfo, sorted) that @saved does
 * not hold (one UID FETCH of their sizes and Message-IDs, only when there are such files). A
 * file that pairs is renamed in place to the server's UID and recorded as agreed at the flags
 * both sides share (the plan then merges the rest: nothing lost on either side); @saved and
 * the entry follow. A file that does not pair loses its foreign ",U=" (renamed; uid 0 in
 * memory): a new local message. A dry run renames and records nothing and says so. When
 * the server cannot give the sizes and Message-IDs (a message it cannot read), the files are
 * taken out of @scan for this run (*@held_out TRUE, named in a warning): never uploaded
 * unpaired. FALSE only for a folder-level failure. */
gboolean nms_sync_pair_folder (Run *run, const Folder *folder, guint32 uidvalidity,
                               GArray *server, GArray *saved, GPtrArray *scan,
                               gboolean *held_out, GError **error);

/* ---- adopt.c: an existing spool paired exactly ---- */
typedef struct {
    guint local;  /* index into the candidates */
    guint32 uid;  /* the server's UID for it */
} NmsAdoptPair;

/* The candidates (content.c) that another program's records in @folder's directory pair
 * exactly with server messages of @server (sorted NmsImapMessageInfo): dovecot-uidlist of a
 * copy of the server's Dovecot Maildir, .mbsyncstate of an mbsync spool, each only under the
 * server's @uidvalidity. No I/O beyond reading those files. (transfer full: GArray of
 * NmsAdoptPair, by ascending local index) */
GArray *nms_sync_adopt_exact (Run *run, const Folder *folder, guint32 uidvalidity,
                              GArray *server, GPtrArray *candidates);

/* adopt starts from a state that records no message: else fails (NMS_SYNC_ERROR_MAILDIR)
 * saying how to start over. */
gboolean nms_sync_adopt_check (Run *run, GError **error);

/* adopt's line per folder, the same with -n: what paired how (run->adopt_exact, _content),
 * what @plan downloads, and the @local_only files left for the next sync to upload. */
void nms_sync_adopt_report (Run *run, const Folder *folder, GArray *plan, guint local_only);
/* adopt --clean, once @folder is adopted completely (its state committed, nothing skipped):
 * removes mbsync's files of the folder (.mbsyncstate*, .uidvalidity in its directory, its
 * state file in --mbsync-state DIR), each named at -v; with -n names them and removes
 * nothing. A file that cannot be removed is a warning: the adopt itself is done. */
void nms_sync_adopt_clean (Run *run, const Folder *folder);
/* adopt of a copy of the server's Dovecot Maildir: Dovecot writes IMAP keywords as letters
 * a-z mapped by the folder's dovecot-keywords, nmsync as its own letters (state/). Rewrites,
 * in memory only, the flags of the @candidates (NmsMaildirEntry) without ",U=" into nmsync's
 * letters; a keyword nmsync does not sync loses its letter. The file takes the new letters in
 * the same rename that gives it its UID (content.c), so that a crash never leaves a name
 * whose letters could be read as Dovecot's a second time. No-op without dovecot-keywords. */
void nms_sync_adopt_keywords (Run *run, const Folder *folder, GPtrArray *candidates);
/* The files of @fresh (NmsMaildirEntry without a UID, in @folder) that pair with nothing:
 * - adopt --local-only=keep records their unique parts in the state as kept local-only files,
 *   each named at -v (with -n: said, nothing recorded);
 * - adopt without it forgets such a record (one an interrupted adopt may have left);
 * - any other run removes the recorded ones from @fresh, so that no sync uploads them. */
gboolean nms_sync_adopt_local_only (Run *run, const Folder *folder, GPtrArray *fresh,
                                    GError **error);
/* The flags in the name of @path, or NULL. (transfer full) */
char *nms_sync_adopt_flags_on_disk (const char *path);

/* ---- moves.c: files moved between folders by another tool (planned by plan-moves.c) ---- */
/* The key of a move found but not done: "F\n<folder>\n<base>" for the file in its new folder,
 * "U\n<folder>\n<uid>" for the message in its old one. (transfer full) */
char *nms_sync_pending_move_key (char kind, const char *folder, const char *base, guint32 uid);

/* Finds local files moved between folders by another tool and moves them on the server.
 * The scans it took of folders that no move concerns become their ->prescan. */
void nms_sync_moves (Run *run, GPtrArray *folders);

/* Finishes or drops a MOVE intent left by a crash. */
gboolean nms_sync_recover_move (Run *run, GPtrArray *folders, const NmsStateIntent *intent,
                                GError **error);

/* ---- server-moves.c: messages another client moved between folders on the server ---- */
NmsSyncLater *nms_sync_later_new (void);
void nms_sync_later_free (NmsSyncLater *later);

/* Moves the DELETE_LOCAL actions of @plan (files in @entries) to the run's deferred deletions
 * (thread-safe), with @known, the messages the state knew in @folder, for the guard. Returns
 * how many; 0 without run->later. */
guint nms_sync_later_defer (Run *run, const Folder *folder, GArray *plan, GPtrArray *entries,
                            guint known);

/* Decides, from the STATUS of the run's @folders, whether any folder the state knows can have
 * lost messages since its last sync (no STATUS: it can): without, no message can have been
 * moved on the server, and nms_sync_take_moved asks the server nothing. Before the workers. */
void nms_sync_later_watch (Run *run, GPtrArray *folders);

/* Before @folder's downloads: each new server message whose Message-ID and size the state
 * records in another folder gets that folder's file as a hard link (one UID FETCH of sizes and
 * Message-IDs); its DOWNLOAD action leaves @plan. */
gboolean nms_sync_take_moved (Run *run, const Folder *folder, guint32 uidvalidity, GArray *plan,
                              GError **error);

/* After every folder: the deferred deletions. A file taken along by another folder is a
 * move (never counted for the guard, reported per folder pair); the rest face the guard. A
 * dry run says what would be deleted and moved (by what its take steps said), at the end. */
/* @folder was synced completely but for its deferred deletions: @value (its complete record,
 * nms_sync_folder_synced_value) is written with them, in their transaction, when every one of
 * them is done; until then the folder stays "not known complete". Thread-safe. */
void nms_sync_later_complete (Run *run, const Folder *folder, const NmsStateFolder *value);

void nms_sync_later_finish (Run *run);

/* ---- repair.c: a changed UIDVALIDITY ---- */
/* UIDVALIDITY of @folder changed from @old to @uidvalidity: pairs local files with server
 * messages by Message-ID and size, renames them to the new UIDs and rewrites the state. */
gboolean nms_sync_repair (Run *run, const Folder *folder, guint32 old, guint32 uidvalidity,
                          GError **error);

/* ---- vanished.c: files renamed by a mail client during the run ---- */
/* TRUE when @path no longer exists (renamed or deleted by another program since the scan). */
gboolean nms_sync_vanished (const char *path);

/* Before @folder is planned: moves between folders made by another program after the run's
 * move detection (nms_sync_moves) are left for the next run, which moves them on the server.
 * A message of @saved (the folder's state) whose file is not in @scan but whose unique part
 * is now in another folder of the run leaves @server and @agreed (no deletion, no guard
 * count); a file of @scan whose unique part the state records in another folder of the run,
 * which no longer holds it, leaves @scan (no upload, no pairing of its ",U=" with this
 * folder's UIDs). Each is named in a warning. Returns TRUE when anything was held back: the
 * folder is then not recorded as completely synced. */
gboolean nms_sync_hold_moves (Run *run, const Folder *folder, GArray *saved, GPtrArray *scan,
                              GArray *server, GArray *agreed);

/* Looks at @folder's files again before its DELETE_SERVER actions run, and drops those whose
 * file is there after all (missed by the scan while a mail client renamed it), each with a
 * warning. Rescans while the directories change under the scan (bounded). */
void nms_sync_confirm_deletions (Run *run, const Folder *folder, GArray *plan);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Maildir: file names (unique part, ",U=<uid>", ":2,<flags>"), flag letters and their IMAP
 * names, folder name <-> directory mapping (refusing names that would escape the root),
 * modified UTF-7 (RFC 3501 §5.1.3), delivery through tmp/ and directory scans. */
#pragma once

#include <glib.h>

#define NMS_MAILDIR_ERROR (nms_maildir_error_quark ())
GQuark nms_maildir_error_quark (void);

typedef enum {
    NMS_MAILDIR_ERROR_BAD_NAME,    /* a file name we cannot safely parse or rename */
    NMS_MAILDIR_ERROR_BAD_FOLDER,  /* a folder name that would escape the root or has control chars */
    NMS_MAILDIR_ERROR_BAD_UTF7,    /* invalid modified UTF-7 */
    NMS_MAILDIR_ERROR_IO,
    NMS_MAILDIR_ERROR_NOSPACE,     /* ENOSPC/EDQUOT while writing */
} NmsMaildirError;

typedef enum {
    NMS_MAILDIR_LAYOUT_MAILDIRPP, /* INBOX is the root, "a/b" is "<root>/.a.b" */
    NMS_MAILDIR_LAYOUT_VERBATIM,  /* INBOX is "<root>/INBOX", "a/b" is "<root>/a/b" */
} NmsMaildirLayout;

/* ---- file names ---------------------------------------------------------------------- */

/* A parsed file name "<base>[,U=<uid>][,X=...]:2,<flags>".
 * @base: everything before the info, without the ",U=<uid>" field (other ",X=" fields stay);
 * @uid: 0 when there is no ",U=" field; @flags: the letters after ":2," (NULL when the
 * name has no ":2," info at all, "" when it has no flags). */
typedef struct {
    char *base;
    guint32 uid;
    char *flags;
} NmsMaildirName;

/* Parses a file name (a basename, not a path). The info is after the last ":2,"; a name
 * without one has flags NULL and keeps everything else (also a ":1,..." info) in the base,
 * only its ",U=" field is still taken out. Fails with BAD_NAME for an empty name, "." or "..",
 * a name with '/', an empty part before the first ',' or the info, more than one ",U=", a
 * ",U=" that is not a decimal number in 1..2^32-1 without leading zeros, flags that are not
 * sorted, unique ASCII letters, or a name without info whose unique part ends in ":2" (adding
 * ",U=" would turn it into info). Renaming any of these could lose information. (transfer full) */
NmsMaildirName *nms_maildir_name_parse (const char *filename, GError **error);
/* Formats @name back: "<base>,U=<uid>:2,<flags>" (the ",U=" only when uid != 0, ":2,..." only
 * when flags != NULL). (transfer full) */
char *nms_maildir_name_format (const NmsMaildirName *name);
/* A new name: a fresh unique base "<sec>.M<usec>P<pid>Q<n>.<host>" (in host, '/', ':' and ','
 * are written "\057", "\072" and "\054"), @uid, and @flags (NULL or sorted letters).
 * (transfer full) */
NmsMaildirName *nms_maildir_name_new (guint32 uid, const char *flags);

/* The longest file name nmsync gives a message file, ",U=<uid>" and flags included: NAME_MAX
 * (255) less what notmuch needs to index the file. Its Xapian term "XFDIRENTRY<dir id>:<name>"
 * holds at most 245 bytes, and a longer one makes libnotmuch end the process (LIBRARIES.md
 * 6b); with a directory id of up to 10 digits that leaves 224 bytes for the name. */
#define NMS_MAILDIR_NAME_MAX 224
/* TRUE when @name, given any UID (10 digits) and six more flag letters, is still at most
 * NMS_MAILDIR_NAME_MAX bytes long. Every name nms_maildir_name_new() makes fits. */
gboolean nms_maildir_name_fits (const NmsMaildirName *name);
void nms_maildir_name_free (NmsMaildirName *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirName, nms_maildir_name_free)

/* Room for a flag string: the six system letters, up to 26 keyword letters (a-z), the NUL. */
#define NMS_MAILDIR_FLAGS_SIZE 40

/* ---- flags ----------------------------------------------------------------------------- */

/* Maildir letters <-> IMAP system flags (mbsync 1.4 and notmuch agree):
 * D \Draft, F \Flagged, P $Forwarded, R \Answered, S \Seen, T \Deleted.
 * Returns the sorted, de-duplicated letters for a list of IMAP flags; unknown flags and
 * keywords are ignored (keywords are not Maildir letters). (transfer full) */
char *nms_maildir_flags_from_imap (const char *const *imap_flags, gsize n);
/* The IMAP flag for a Maildir letter, or NULL for a letter with no IMAP meaning. */
const char *nms_maildir_flag_to_imap (char letter);
/* Sorts and de-duplicates @flags (any ASCII letters; other bytes are dropped). (transfer full) */
char *nms_maildir_flags_normalize (const char *flags);
/* TRUE when @flags contains @letter. @flags may be NULL. */
gboolean nms_maildir_flags_has (const char *flags, char letter);

/* ---- folder names ---------------------------------------------------------------------- */

/* Decodes modified UTF-7 (RFC 3501 §5.1.3) into UTF-8. Fails with BAD_UTF7 on anything not
 * strictly valid (unterminated "&", bad base64, non-zero padding bits, an encoded printable
 * ASCII character or NUL, invalid UTF-16 surrogates, a raw byte >= 0x80 or control character)
 * or not canonical (two adjacent "&...-" sequences): every accepted name re-encodes to the same
 * bytes, so two server names never share a directory. (transfer full) */
char *nms_utf7_decode (const char *mutf7, GError **error);
/* Encodes UTF-8 into modified UTF-7. @utf8 must be valid UTF-8. (transfer full) */
char *nms_utf7_encode (const char *utf8);

/* TRUE when @s holds a control character (< 0x20, or 0x7f), which no folder name nmsync
 * accepts (nms_maildir_folder_to_path()). */
gboolean nms_maildir_has_control_char (const char *s);

/* Maps a decoded server folder name (UTF-8, hierarchy delimiter @delim, e.g. '/' or '.', or 0
 * for a flat namespace: the name is one component) to a path relative to the Maildir root:
 * "" for INBOX in maildir++, ".a.b" for "a/b" in maildir++, "a/b" in verbatim. Refuses with
 * BAD_FOLDER (naming the folder): empty components, "." or ".." components, a leading
 * delimiter (absolute), control characters (< 0x20, 0x7f), '/' inside a component, and in
 * maildir++ a '.' inside a component; also names that are not UTF-8, components that start
 * with '.' or are "cur", "new" or "tmp" in verbatim layout, components over 255 bytes, names
 * over 4096 bytes, maildir++ directory names (".a.b") over 255 bytes, and a @delim that is not
 * printable ASCII. Only the exact name INBOX is matched case-insensitively; "INBOX/x" is
 * ".INBOX.x" or "INBOX/x". (transfer full) */
char *nms_maildir_folder_to_path (const char *folder, char delim, NmsMaildirLayout layout,
                                  GError **error);

/* Creates <root>/<relpath>/{cur,new,tmp} (and, in maildir++ for a subfolder, i.e. when the
 * last component of @relpath starts with '.', the "maildirfolder" marker), mode 0700, and
 * fsyncs the new directories up to @root. Existing directories are fine. Returns the absolute
 * folder directory. IO or NOSPACE on failure. (transfer full) */
char *nms_maildir_folder_ensure (const char *root, const char *relpath, GError **error);

/* ---- delivery ---------------------------------------------------------------------------- */

typedef struct _NmsMaildirDelivery NmsMaildirDelivery;

/* Opens a new file in @folder_dir/tmp/ (O_EXCL, 0600), named so that a later run can tell it
 * was nmsync's (nms_maildir_tmp_cleanup()). (transfer full) */
NmsMaildirDelivery *nms_maildir_delivery_begin (const char *folder_dir, GError **error);
/* Appends @len bytes as they came from the wire: every CRLF becomes LF (also when the CR
 * ends one chunk and the LF starts the next); a lone CR is kept. Buffered, never holds the
 * whole message. NOSPACE on a full disk. */
gboolean nms_maildir_delivery_write (NmsMaildirDelivery *d, const char *buf, gsize len,
                                     GError **error);
/* Bytes written to the file so far (after CRLF -> LF), buffered ones included; a CR that ends
 * the last chunk is counted once the next byte (or commit) shows it is not part of a CRLF. */
guint64 nms_maildir_delivery_size (const NmsMaildirDelivery *d);
/* Flushes and fsyncs the file, then renames it into cur/ (or new/ when @into_new) as
 * nms_maildir_name_format (@name), and fsyncs that directory. Returns the final absolute path.
 * Never replaces an existing file (IO error "File exists"). NOSPACE when ENOSPC/EDQUOT shows
 * at the last write, the fsync or the close. On failure the tmp file is removed and nothing is
 * in cur/ or new/. Frees @d either way.
 * Crash safety: before the rename only tmp/ holds the file (ignored, cleaned up later); after
 * it the file is complete and durable. (transfer full) */
char *nms_maildir_delivery_commit (NmsMaildirDelivery *d, const NmsMaildirName *name,
                                   gboolean into_new, GError **error);
/* Removes the tmp file and frees @d. Accepts NULL. */
void nms_maildir_delivery_abort (NmsMaildirDelivery *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirDelivery, nms_maildir_delivery_abort)

/* Removes what killed nmsync runs left in @folder_dir/tmp/: files whose name says that
 * nmsync wrote them (nms_maildir_delivery_begin() names them
 * "<sec>.M<usec>P<pid>Q<n>.<host>,nmsync-tmp") on this host, in a process that no longer
 * exists. Everything else stays: other programs' files (the Maildir convention gives them 36
 * hours), nmsync's of a running process or of another host, anything not a plain file. A
 * missing tmp/ is fine. *@removed_out (may be NULL) counts the files removed, also on error.
 * IO when tmp/ cannot be read or a file cannot be removed (the message names it). */
gboolean nms_maildir_tmp_cleanup (const char *folder_dir, guint *removed_out, GError **error);
/* Deliveries into one folder made durable together: a batch costs one syncfs and one fsync of
 * cur/ and of new/, instead of an fsync of each file and of its directory. */
typedef struct _NmsMaildirBatch NmsMaildirBatch;

/* An empty batch for the folder at @folder_dir. (transfer full) */
NmsMaildirBatch *nms_maildir_batch_new (const char *folder_dir);
/* Removes the tmp files of deliveries not committed, and frees @b. Accepts NULL. */
void nms_maildir_batch_free (NmsMaildirBatch *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirBatch, nms_maildir_batch_free)
/* Deliveries added and not committed yet. */
guint nms_maildir_batch_size (const NmsMaildirBatch *b);
/* Finishes @d (transfer full; begun in the batch's folder): writes what is pending and closes
 * the file, still in tmp/ and not fsynced, to become nms_maildir_name_format (@name) in cur/
 * (or new/ when @into_new) at the commit. NOSPACE when ENOSPC/EDQUOT shows at the last write
 * or the close; on failure the tmp file is removed. Nothing reaches cur/ or new/ here. */
gboolean nms_maildir_batch_add (NmsMaildirBatch *b, NmsMaildirDelivery *d,
                                const NmsMaildirName *name, gboolean into_new, GError **error);
/* Makes the data of every added file durable (syncfs), renames them into place in the order
 * added (never replacing a file), then fsyncs cur/ and new/. @delivered_out gets the final
 * paths of the files now durable in place (transfer full), also on failure: when the data
 * cannot be synced none; when a rename fails those before it (the others are removed, and the
 * error names the file); when a directory fsync fails none (the renamed files are removed
 * again). The batch is empty afterwards. Crash safety: see delivery.c. */
gboolean nms_maildir_batch_commit (NmsMaildirBatch *b, GPtrArray **delivered_out,
                                   GError **error);

/* ---- changing files ------------------------------------------------------------------ */

/* Renames @path (in cur/ or new/) so that its flags are @flags (sorted), keeping the base and
 * the ",U=" field, durably. A file in new/ moves to cur/ when @flags contains S; otherwise it
 * stays in its directory. Only the info changes: the part before ":2," is kept byte for byte
 * (":2,<flags>" is appended to a name without info). Returns the new absolute path (equal to
 * @path when nothing changed). BAD_NAME when the name does not parse or the file is not in cur/
 * or new/; IO when @path is missing or the target exists (never replaced); when only the final
 * directory fsync fails the file has moved and the message names that directory.
 * (transfer full) */
char *nms_maildir_set_flags (const char *path, const char *flags, GError **error);

/* Renames @path (in cur/ or new/) in place to a fresh nms_maildir_name_new() name with the
 * same flags and no ",U=", durably, never replacing a file: for a foreign name too long to
 * take a ",U=" (nms_maildir_name_fits() FALSE). Returns the new absolute path; on error the
 * file has not moved (unless only the directory fsync failed: the message says so).
 * (transfer full) */
char *nms_maildir_rename_fresh (const char *path, GError **error);

/* Removes @path and fsyncs its directory. A file already gone is not an error. */
gboolean nms_maildir_remove (const char *path, GError **error);

/* The same with the directory fsyncs left out when @durable is FALSE: for many changes in
 * one folder, made durable together by nms_maildir_folder_sync_dirs() before they are
 * recorded anywhere. */
char *nms_maildir_set_flags_full (const char *path, const char *flags, gboolean durable,
                                  GError **error);
char *nms_maildir_set_uid_full (const char *path, guint32 uid, gboolean durable, GError **error);
gboolean nms_maildir_remove_full (const char *path, gboolean durable, GError **error);
/* The modification time of @folder_dir/@sub (cur or new) in nanoseconds; 0 when it cannot
 * be read. Every file added to, removed from or renamed in the directory changes it. */
gint64 nms_maildir_subdir_mtime_ns (const char *folder_dir, const char *sub);
/* fsyncs @folder_dir's cur/ and new/ (a missing one is skipped). */
gboolean nms_maildir_folder_sync_dirs (const char *folder_dir, GError **error);

/* ---- scans ------------------------------------------------------------------------------- */

typedef struct {
    char *path;           /* absolute */
    char *subdir;         /* "cur" or "new" */
    NmsMaildirName *name; /* NULL exactly when @problem is set */
    char *problem;        /* NULL, or why this file is left alone (a parse error, a symlink) */
} NmsMaildirEntry;

void nms_maildir_entry_free (NmsMaildirEntry *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirEntry, nms_maildir_entry_free)

/* Lists the regular files in @folder_dir/cur and @folder_dir/new (not tmp/, not dot files,
 * not directories or other special files), sorted by path, each with its parsed name, or with
 * @problem set for names that do not parse and for symbolic links, which are not followed
 * (those are never renamed or deleted by nmsync). A missing folder directory, cur/ or new/
 * is an IO error (never an empty folder: an unmounted disk is not a deletion). Safe against a mail client renaming files meanwhile: new/ is read
 * before cur/ (a file moving new/ -> cur/ is seen at least once), and a file seen under two
 * names that share the unique part, one of them gone, is listed once, under the one left.
 * A rename within one directory during the walk can still hide a file (readdir gives no
 * guarantee): callers that would delete a message because its file is missing look again.
 * (transfer full: GPtrArray of NmsMaildirEntry, with free func) */
GPtrArray *nms_maildir_scan (const char *folder_dir, GError **error);

/* ---- push, moves and re-pairing ------------------------------------------------------ */

/* The file's Message-ID, parsed from its header only (GMime; the header is read up to the
 * first empty line, at most 1 MiB), unfolded and without <>. *message_id_out is NULL, and the
 * call still succeeds, when the file has none or is not mail at all (also: no header because
 * the file starts with an empty line, an empty ID, an ID that is not UTF-8). IO error naming
 * @path when it cannot be opened or read or is not a regular file. (*message_id_out: transfer
 * full) */
gboolean nms_maildir_message_id (const char *path, char **message_id_out, GError **error);

/* The Message-ID in a message header (@len bytes, LF or CRLF, folded or not), as notmuch 0.37
 * parses it: from the first '<' up to the next '>' without blanks, else the trimmed raw value.
 * NULL when there is no Message-ID field, or it is empty or not UTF-8. (transfer full) */
char *nms_maildir_message_id_parse (const char *header, gsize len);

/* The size the message has with CRLF line ends (what a server reports as RFC822.SIZE for the
 * copy nmsync uploads): bytes plus the LFs that no CR precedes. Reads the file in 64 KiB
 * chunks. IO error naming @path as for nms_maildir_message_id(). */
gboolean nms_maildir_crlf_size (const char *path, guint64 *size_out, GError **error);
/* mbsync adds an "X-TUID: <id>" header field to every message it stores in a Maildir (to find
 * it again), which the server's copy does not have. The CRLF size of that field's line in
 * @header (0: none), and the same for the file at @path (IO error as above). */
gsize nms_maildir_tuid_size (const char *header, gsize len);
gboolean nms_maildir_message_tuid_size (const char *path, gsize *size_out, GError **error);

/* Renames @path so that it carries ",U=@uid" (@uid 0: drops the field), keeping the rest of
 * the name and its directory; durable, never overwrites. An existing ",U=" field is replaced
 * where it stands, a new one is appended to the base (before ":2,"). Returns the new path
 * (@path itself when the name already says so). BAD_NAME when the name does not parse; IO
 * when @path is missing or the target exists (the message names both); when only the final
 * directory fsync fails the file has moved and the message names that directory.
 * (transfer full) */
char *nms_maildir_set_uid (const char *path, guint32 uid, GError **error);

/* Moves @path into @dest_folder_dir/cur/: ",U=" dropped, the rest of the base and the ":2,"
 * flags kept (a name without info gets ":2,"; a base too long to take a ",U=" later, see
 * nms_maildir_name_fits(), is replaced by a fresh one), durable (file and both directories fsynced),
 * never overwrites. Returns the new path. BAD_NAME when the name does not parse; IO (or
 * NOSPACE) when @path is missing, the target exists (the message names both) or a rename or
 * fsync fails; when only a directory fsync fails the file has moved and the message names
 * that directory. (transfer full) */
char *nms_maildir_move (const char *path, const char *dest_folder_dir, GError **error);
/* The same with the file's flags set to @flags (sorted; NULL: kept) in the same rename, and,
 * when @durable is FALSE, neither the file's data nor the directories fsynced: for many moves
 * made durable together (nms_maildir_sync_data() before the renames, then
 * nms_maildir_folder_sync_dirs() of both folders) before they are recorded anywhere. */
char *nms_maildir_move_full (const char *path, const char *dest_folder_dir, const char *flags,
                             gboolean durable, GError **error);
/* Makes the data of every file on the filesystem holding directory @dir durable (one syncfs,
 * which reports writeback errors since Linux 5.8): for a batch of files other programs may
 * have written, before they are renamed into another folder. IO naming @dir on failure. */
gboolean nms_maildir_sync_data (const char *dir, GError **error);

typedef struct {
    char *name;    /* decoded folder name, '/' between levels ("INBOX", "Archive/2024") */
    char *relpath; /* relative to the root, as nms_maildir_folder_to_path gives it */
} NmsMaildirFolder;

void nms_maildir_folder_free (NmsMaildirFolder *folder);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirFolder, nms_maildir_folder_free)

/* The folders under @root: every directory with cur/ and new/ (maildir++: the root itself is
 * INBOX when it has cur/, ".a.b" is "a/b", ".notmuch" is skipped; verbatim: "a/b" is "a/b",
 * "INBOX" is INBOX, found by a walk of at most 32 levels that skips dot directories and cur/,
 * new/, tmp/). Symbolic links are not followed. A directory is listed only when
 * nms_maildir_folder_to_path (name, '/', layout) gives back exactly its relpath, so names that
 * cannot be mapped back (not UTF-8, an empty component, "inbox" or ".INBOX") are skipped.
 * Sorted by name (strcmp). A missing @root gives an empty array; IO when @root cannot be read
 * (verbatim: also any subdirectory, except one we may not open (EACCES, e.g. a root-owned
 * lost+found), which is skipped with whatever it holds).
 * (transfer full: GPtrArray of NmsMaildirFolder, with free func) */
GPtrArray *nms_maildir_list_folders (const char *root, NmsMaildirLayout layout, GError **error);

/* ---- defects a sync tool or a crash leaves in a folder (nmsync check) ---------------------- */

typedef enum {
    NMS_MAILDIR_DEFECT_TMP_OLD,       /* a file in tmp/ older than NMS_MAILDIR_TMP_AGE_S */
    NMS_MAILDIR_DEFECT_EMPTY,         /* an empty file in cur/ or new/ */
    NMS_MAILDIR_DEFECT_MISFILED,      /* a message file in the folder directory itself or in a
                                       * stray subdirectory instead of cur/ or new/ */
    NMS_MAILDIR_DEFECT_DUPLICATE_UID, /* a ",U=" that another file of the folder carries too */
    NMS_MAILDIR_DEFECT_BAD_NAME,      /* a name in cur/ or new/ that does not parse */
} NmsMaildirDefectKind;

/* The Maildir convention's grace period for tmp/ files (maildir(5)): 36 hours. */
#define NMS_MAILDIR_TMP_AGE_S (36 * 3600)

/* A misfiled file modified more recently than this may still be being written (by a program
 * that does not write via tmp/): it is not refiled. */
#define NMS_MAILDIR_MISFILED_AGE_S 3600

typedef struct {
    NmsMaildirDefectKind kind;
    char *path;     /* absolute */
    gboolean empty; /* the file has no bytes */
    guint32 uid;    /* DUPLICATE_UID: the repeated uid */
    char *base;     /* the name's unique part when it parses, else NULL */
    char *target;   /* MISFILED: where it belongs, <folder>/cur/<name> when the name has an info
                     * (":2,"), else <folder>/new/<name>; NULL when the name does not parse */
    char *problem;  /* BAD_NAME: why; MISFILED: why it is not to be refiled ("recent: left",
                     * "copy of PATH: left"), NULL when the refile is safe */
} NmsMaildirDefect;

void nms_maildir_defect_free (NmsMaildirDefect *defect);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (NmsMaildirDefect, nms_maildir_defect_free)

/* The defects of the folder at @folder_dir, whose cur/ and new/ @scan (nms_maildir_scan)
 * lists, at time @now (seconds since the epoch): tmp/ files older than
 * NMS_MAILDIR_TMP_AGE_S, empty files of @scan, names of @scan that do not parse, files of
 * @scan sharing a ",U=" (every one of them), and misfiled messages: regular files in
 * @folder_dir itself or in a subdirectory of it that is no folder (no cur/) and not a dot
 * directory, whose name parses and that look like mail: a header field first, and a From:,
 * Date:, Message-ID: or Received: field in the header (so Dovecot's, mbsync's and nmsync's
 * own files there, or a user's notes, are not taken for mail); a misfiled file modified less
 * than NMS_MAILDIR_MISFILED_AGE_S ago, or with the bytes of a file of @scan, gets a ->problem
 * (its refile is unsafe). Reads directories, the first bytes of such files, and the whole of
 * a misfiled file and of the files of @scan as large as it; changes nothing. A missing tmp/ is fine; IO when @folder_dir
 * cannot be read. (transfer full: GPtrArray of NmsMaildirDefect, with free func) */
GPtrArray *nms_maildir_defects (const char *folder_dir, GPtrArray *scan, gint64 now,
                                GError **error);

/* Moves the misfiled file @path to @target (a cur/ or new/ path of the same folder), keeping
 * its name, durably, never replacing a file: IO naming both when @target exists. */
gboolean nms_maildir_refile (const char *path, const char *target, GError **error);

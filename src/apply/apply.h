/* SPDX-License-Identifier: GPL-3.0-or-later
 * The rules executor's pieces outside the command (nmsync apply, src/cli/cmd-apply.c): what
 * it needs to survive a kill -9 at any point. Uses maildir/ and the notmuch file events; never
 * IMAP. */
#pragma once

#include <glib.h>

#include "notmuch/notmuch.h"

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
 * the strings): RENAMED old -> found, or REMOVED old. Returns the resolved filenames
 * (transfer full, NULL-terminated), or NULL with @error when a folder cannot be read. */
char **nms_apply_files_resolve (NmsApplyFiles *files, const char *id, char *const *paths,
                                GArray *events, GError **error);

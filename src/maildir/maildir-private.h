/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared between the files of src/maildir/ only: the unique-name generator, the strict flag
 * check and the translation of util/fs errors into NMS_MAILDIR_ERROR codes. */
#pragma once

#include <glib.h>

/* A fresh unique part "<sec>.M<usec>P<pid>Q<n>.<host>"; used for new names and for tmp/ files.
 * (transfer full) */
char *nms_maildir_unique_base (void);

/* This host's name as it appears in unique parts: '/', ':' and ',' written "\057", "\072" and
 * "\054" ("localhost" when empty). (transfer full) */
char *nms_maildir_escaped_host (void);

/* The name of a tmp/ file of this process: "<unique part>" + NMS_MAILDIR_TMP_SUFFIX, so that a
 * later run can tell its own leftovers (tmp.c). (transfer full) */
char *nms_maildir_tmp_name (void);
#define NMS_MAILDIR_TMP_SUFFIX ",nmsync-tmp"

/* TRUE when @flags consists of ASCII letters in strictly ascending order (so also unique);
 * "" is valid. */
gboolean nms_maildir_flags_valid (const char *flags);

/* Moves @fs_error (an NMS_FS_ERROR, or any other error) into @error as an NMS_MAILDIR_ERROR:
 * NMS_FS_ERROR_NOSPACE becomes NMS_MAILDIR_ERROR_NOSPACE, everything else
 * NMS_MAILDIR_ERROR_IO; the message is kept. Takes ownership of @fs_error. Returns FALSE. */
gboolean nms_maildir_propagate_fs_error (GError **error, GError *fs_error);

/* Sets @error from errno @err as nms_fs_set_error() would ("@what '@path': strerror"), with
 * the NMS_MAILDIR_ERROR code that nms_maildir_propagate_fs_error() picks. Returns FALSE. */
gboolean nms_maildir_io_error (GError **error, int err, const char *what, const char *path);

/* @s made safe to quote in an error message: control characters (and, when @s is not valid
 * UTF-8, bytes >= 0x80) become "\xNN"; past 200 bytes it is cut (never inside a UTF-8
 * character) and ends in "... (N bytes)". (transfer full) */
char *nms_maildir_escape_for_message (const char *s);

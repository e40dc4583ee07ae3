/* SPDX-License-Identifier: GPL-3.0-or-later
 * What a run did to a local file (added, renamed, removed): the one event type a sync reports
 * (src/sync/ never calls notmuch) and the notmuch indexer applies, so neither side translates
 * the other's enum. Plain data, no nmsync knowledge beyond that. */
#pragma once

#include <glib.h>

typedef enum {
    NMS_FILE_ADDED,   /* a new file at @path (a downloaded message landed there) */
    NMS_FILE_RENAMED, /* the file at @old_path is now at @path (flags, UID, or moved) */
    NMS_FILE_REMOVED, /* the file at @path is gone (deleted) */
    NMS_FILE_STALE,   /* a filename notmuch lists is gone (another program renamed it): it
                       * goes only while the message has another filename in the database,
                       * never its last one (that would delete the message and its tags) */
} NmsFileEventKind;

typedef struct {
    NmsFileEventKind kind;
    char *path;     /* absolute */
    char *old_path; /* absolute, RENAMED only */
} NmsFileEvent;

/* Frees the paths @event owns and sets them to NULL. */
void nms_file_event_clear (NmsFileEvent *event);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * The file event shared by sync/ (which reports it) and notmuch/ (which indexes it). */
#include "nms-build.h"

#include "util/file-event.h"

void
nms_file_event_clear (NmsFileEvent *event)
{
    g_clear_pointer (&event->path, g_free);
    g_clear_pointer (&event->old_path, g_free);
}

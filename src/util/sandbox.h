/* SPDX-License-Identifier: GPL-3.0-or-later
 * Write confinement with Landlock (Linux 5.13+): after nms_sandbox_restrict_writes() the
 * calling thread, and every thread and process it starts later, may create, write, truncate,
 * rename or remove files only beneath the given paths. Reads and execution stay allowed. No
 * nmsync knowledge: the caller chooses the paths. */
#pragma once

#include <glib.h>

#define NMS_SANDBOX_ERROR (nms_sandbox_error_quark ())
GQuark nms_sandbox_error_quark (void);

typedef enum {
    NMS_SANDBOX_ERROR_UNSUPPORTED, /* the kernel has no Landlock, or it is disabled */
    NMS_SANDBOX_ERROR_FAILED,      /* a path could not be opened, or a Landlock call failed */
} NmsSandboxError;

/* The Landlock ABI version the running kernel offers, or 0 when it offers none (kernel too old,
 * or Landlock not enabled at boot). */
int nms_sandbox_abi (void);

/* Restricts writes as described above to beneath each of @paths (NULL-terminated; existing
 * files or directories: a directory covers everything below it, symbolic links in @paths are
 * followed). Every write-type right the running ABI knows is confined: writing and truncating
 * files, making and removing files, directories, sockets, FIFOs, devices and symbolic links,
 * renaming or linking across directories (REFER) and ioctl on devices. Also sets
 * no_new_privs (required by Landlock): programs started later cannot gain privileges through
 * set-user-ID bits. Threads that already exist are NOT restricted (the kernel confines only the
 * calling thread), so call it before starting any. Returns the ABI version in effect (> 0), or 0
 * with @error set (UNSUPPORTED, or FAILED naming the path or the call): nothing was restricted
 * then. */
int nms_sandbox_restrict_writes (const char *const *paths, GError **error);

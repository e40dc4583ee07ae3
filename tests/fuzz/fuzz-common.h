/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared by the libFuzzer targets: a NUL-terminated copy of the input, criticals made fatal
 * (a g_return_if_fail reached from hostile bytes is a bug in the parser, not in the input),
 * and the temp file the file-based parsers read. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The input as a C string (transfer full), or NULL when it has an embedded NUL: the parsers
 * take C strings, so such inputs cannot reach them. */
static inline char *
fuzz_cstring (const uint8_t *data, size_t size)
{
    if (memchr (data, '\0', size) != NULL)
        return NULL;
    return g_strndup ((const char *) data, size);
}

/* Warnings and below are expected for bad input and only slow the fuzzer down. */
static inline void
fuzz_quiet_log (const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL))
        g_log_default_handler (domain, level, message, data);
}

static inline void
fuzz_setup_glib (void)
{
    g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL);
    g_log_set_default_handler (fuzz_quiet_log, NULL);
}

/* libFuzzer's entry points. Every target is its own program that includes this header once,
 * so the shared initialisation is defined here; each target defines LLVMFuzzerTestOneInput. */
int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    fuzz_setup_glib ();
    return 0;
}

/* One temp file per process, created on the first call and rewritten with @data each time.
 * Returns its path (transfer none); traps when /tmp is unusable, since then every run would
 * test nothing. */
static inline const char *
fuzz_write_tmp (const uint8_t *data, size_t size)
{
    static char *path;

    if (path == NULL) {
        int fd = g_file_open_tmp ("nmsync-fuzz-XXXXXX", &path, NULL);

        if (fd < 0)
            __builtin_trap ();
        close (fd);
    }
    if (!g_file_set_contents (path, (const char *) data, (gssize) size, NULL))
        __builtin_trap ();
    return path;
}

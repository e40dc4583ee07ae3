/* SPDX-License-Identifier: GPL-3.0-or-later
 * Shared between config.c and patterns.c only. */
#pragma once

#include <glib.h>

/* Splits the value of a "folders" key into patterns, in order. Whitespace separates patterns;
 * double quotes group one that contains spaces or starts with '#' ("Sent Items", !"Old Mail")
 * and are removed. Fails with NMS_CONFIG_ERROR_PARSE and a bare reason (no path, line or key:
 * the caller prefixes them) on an empty list, an empty pattern, a lone '!', an unterminated
 * quote, or an unquoted pattern starting with '#', which is almost always a comment the user
 * meant to end the line with. (transfer full) */
char **nms_config_patterns_parse (const char *value, GError **error);

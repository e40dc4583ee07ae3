/* SPDX-License-Identifier: GPL-3.0-or-later
 * The little JSON nmsync writes (--json): strings escaped per RFC 8259, numbers that do not
 * depend on the locale. No parser, no dependency. */
#pragma once

#include <glib.h>

/* Appends @s (NULL: null) to @out as a JSON string: '"' and '\' escaped, control characters
 * as \n \t \r \b \f or \u00XX, and bytes that are not UTF-8 (a file name can hold any) as
 * U+FFFD, so that the output is always valid JSON. (g_strescape is not JSON: it writes octal
 * escapes and escapes every non-ASCII byte.) */
void nms_json_append_string (GString *out, const char *s);
/* Appends "@key": to @out, @key escaped as above. */
void nms_json_append_key (GString *out, const char *key);
/* Appends @value with @decimals decimals, '.' whatever the locale. */
void nms_json_append_double (GString *out, double value, int decimals);

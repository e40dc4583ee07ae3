/* SPDX-License-Identifier: GPL-3.0-or-later
 * The one line-numbered INI reader, shared by the config file (config/) and the rule files
 * (rules/): it checks the lines' syntax and hands each section header and each key = value
 * line, with its line number, to the caller, which knows the names and checks the values.
 * GKeyFile reports no line numbers, merges repeated sections and silently keeps the last of
 * two equal keys, so both formats need this. */
#pragma once

#include <glib.h>

/* How a format spells what the reader checks. */
typedef struct {
    const char *path;         /* named in every error: "PATH:LINE: why" */
    const char *section_word; /* the word the messages use: "group" or "section" */
    gboolean name_to_last_bracket; /* the name ends at the last ']' ("[folder [Gmail]/Spam]");
                                    * else at the first, as GKeyFile reads it */
    gboolean hint_comment_after_section; /* "[x] # c" says that '#' starts a comment only at
                                          * the beginning of a line; else it is a bad line */
    GQuark domain;            /* the caller's error domain and parse error code */
    int code;
} NmsIniSyntax;

/* A "[NAME]" line. Blanks inside the brackets are kept. */
typedef gboolean (*NmsIniSectionFunc) (gpointer data, const char *name, int line,
                                       GError **error);
/* A "KEY = VALUE" line: @key without its surrounding blanks (never empty); @value is all
 * that follows the first '=', blanks included (the caller decides what they mean). */
typedef gboolean (*NmsIniKeyFunc) (gpointer data, const char *key, const char *value, int line,
                                   GError **error);

/* Reads @len bytes of @text (a NUL-terminated buffer): an optional UTF-8 byte order mark, then
 * lines ending in "\n" or "\r\n". Blank lines and lines whose first non-blank is '#' are
 * comments; every other line is a section or a key, given to the callbacks in file order.
 * Fails, with syntax->domain and ->code and "PATH:LINE: why", on text that is not UTF-8 (a NUL
 * byte included), a ';' comment, a malformed section or key line, or the first callback that
 * fails (its error is passed on as it is). */
gboolean nms_ini_parse (const char *text, gsize len, const NmsIniSyntax *syntax,
                        NmsIniSectionFunc on_section, NmsIniKeyFunc on_key, gpointer data,
                        GError **error);

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Maildir flag letters and their IMAP system flags, as mbsync 1.4 (drv_imap.c Flags[]) and
 * notmuch agree on them. Letters are always kept sorted and unique, as the Maildir spec asks. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>

#include "maildir/maildir-private.h"

static const struct {
    char letter;
    const char *imap;
} flag_map[] = {
    { 'D', "\\Draft" },    { 'F', "\\Flagged" }, { 'P', "$Forwarded" },
    { 'R', "\\Answered" }, { 'S', "\\Seen" },    { 'T', "\\Deleted" },
};

static gboolean
is_letter (char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

gboolean
nms_maildir_flags_valid (const char *flags)
{
    g_return_val_if_fail (flags != NULL, FALSE);

    for (const char *p = flags; *p != '\0'; p++) {
        if (!is_letter (*p))
            return FALSE;
        if (p > flags && (guchar) p[-1] >= (guchar) *p)
            return FALSE;
    }
    return TRUE;
}

/* Collects letters into a set indexed by byte and writes them out in ASCII order. */
static char *
letters_from_set (const gboolean set[128])
{
    GString *s = g_string_new (NULL);

    for (int c = 0; c < 128; c++) {
        if (set[c])
            g_string_append_c (s, (char) c);
    }
    return g_string_free (s, FALSE);
}

char *
nms_maildir_flags_from_imap (const char *const *imap_flags, gsize n)
{
    gboolean set[128] = { FALSE };

    g_return_val_if_fail (imap_flags != NULL || n == 0, NULL);

    /* RFC 3501 §2.3.2: flag names are case-insensitive. */
    for (gsize i = 0; i < n; i++) {
        for (gsize j = 0; j < G_N_ELEMENTS (flag_map); j++) {
            if (imap_flags[i] != NULL && g_ascii_strcasecmp (imap_flags[i], flag_map[j].imap) == 0)
                set[(int) flag_map[j].letter] = TRUE;
        }
    }
    return letters_from_set (set);
}

const char *
nms_maildir_flag_to_imap (char letter)
{
    for (gsize j = 0; j < G_N_ELEMENTS (flag_map); j++) {
        if (flag_map[j].letter == letter)
            return flag_map[j].imap;
    }
    return NULL;
}

char *
nms_maildir_flags_normalize (const char *flags)
{
    gboolean set[128] = { FALSE };

    g_return_val_if_fail (flags != NULL, NULL);

    for (const char *p = flags; *p != '\0'; p++) {
        if (is_letter (*p))
            set[(int) *p] = TRUE;
    }
    return letters_from_set (set);
}

gboolean
nms_maildir_flags_has (const char *flags, char letter)
{
    return flags != NULL && letter != '\0' && strchr (flags, letter) != NULL;
}

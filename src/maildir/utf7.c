/* SPDX-License-Identifier: GPL-3.0-or-later
 * Modified UTF-7 for IMAP folder names (RFC 3501 §5.1.3). The decoder accepts only the
 * canonical form that the encoder produces: two server names that decoded to the same UTF-8
 * name would share one local directory, and a name we cannot re-encode byte for byte would
 * not address the server's folder any more. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>

#include "maildir/maildir-private.h"

/* RFC 3501 §5.1.3: base64 (RFC 2045) with ',' in place of '/'. */
static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

typedef struct {
    const char *whole; /* the input, for error messages */
    GString *out;
    gunichar high;     /* a pending high surrogate, or 0 */
} Decoder;

static gboolean
bad_utf7 (GError **error, const char *mutf7, const char *cause)
{
    g_autofree char *quoted = nms_maildir_escape_for_message (mutf7);

    g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_UTF7,
                 "modified utf-7 name '%s': %s", quoted, cause);
    return FALSE;
}

static int
b64_value (char c)
{
    const char *p = c != '\0' ? strchr (b64_chars, c) : NULL;

    return p != NULL ? (int) (p - b64_chars) : -1;
}

static gboolean
is_printable_ascii (gunichar c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* Takes one UTF-16 code unit from a shift sequence. */
static gboolean
decode_unit (Decoder *dec, gunichar unit, GError **error)
{
    gunichar c = unit;

    if (dec->high != 0) {
        if (unit < 0xdc00 || unit > 0xdfff)
            return bad_utf7 (error, dec->whole, "high surrogate without low surrogate");
        c = 0x10000 + ((dec->high - 0xd800) << 10) + (unit - 0xdc00);
        dec->high = 0;
    } else if (unit >= 0xd800 && unit <= 0xdbff) {
        dec->high = unit;
        return TRUE;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        return bad_utf7 (error, dec->whole, "low surrogate without high surrogate");
    }
    if (c == 0)
        return bad_utf7 (error, dec->whole, "encodes a NUL character");
    if (is_printable_ascii (c))
        return bad_utf7 (error, dec->whole, "encodes a printable ASCII character");
    g_string_append_unichar (dec->out, c);
    return TRUE;
}

/* Decodes the shift sequence after an '&' at @src up to its '-'; *end_out is past the '-'. */
static gboolean
decode_shift (Decoder *dec, const char *src, const char **end_out, GError **error)
{
    guint32 bits = 0;
    int nbits = 0;
    const char *p;

    for (p = src; *p != '-'; p++) {
        int v = b64_value (*p);

        if (*p == '\0')
            return bad_utf7 (error, dec->whole, "unterminated '&' sequence");
        if (v < 0)
            return bad_utf7 (error, dec->whole, "invalid character in '&' sequence");
        bits = (bits << 6) | (guint32) v;
        nbits += 6;
        if (nbits >= 16) {
            nbits -= 16;
            if (!decode_unit (dec, (bits >> nbits) & 0xffff, error))
                return FALSE;
            bits &= (1u << nbits) - 1;
        }
    }
    if (p == src)
        g_string_append_c (dec->out, '&');
    else if (nbits >= 6)
        return bad_utf7 (error, dec->whole, "'&' sequence ends inside a UTF-16 unit");
    else if (bits != 0)
        return bad_utf7 (error, dec->whole, "non-zero padding bits in '&' sequence");
    else if (dec->high != 0)
        return bad_utf7 (error, dec->whole, "high surrogate without low surrogate");
    *end_out = p + 1;
    return TRUE;
}

/* Decodes one literal character or one whole shift sequence at *@p and advances *@p. */
static gboolean
decode_next (Decoder *dec, const char **p, GError **error)
{
    const char *start = *p;
    guchar c = (guchar) *start;

    if (c >= 0x80)
        return bad_utf7 (error, dec->whole, "raw byte >= 0x80");
    if (!is_printable_ascii (c))
        return bad_utf7 (error, dec->whole, "raw control character");
    if (c != '&') {
        g_string_append_c (dec->out, (char) c);
        (*p)++;
        return TRUE;
    }
    if (!decode_shift (dec, start + 1, p, error))
        return FALSE;
    /* The encoder writes a run of non-ASCII characters as one sequence; "&AOk-&AOk-" would
     * be a second spelling of "&AOkA6Q-". */
    if (*p - start > 2 && (*p)[0] == '&' && (*p)[1] != '-')
        return bad_utf7 (error, dec->whole, "two adjacent '&' sequences");
    return TRUE;
}

char *
nms_utf7_decode (const char *mutf7, GError **error)
{
    Decoder dec = { mutf7, NULL, 0 };
    const char *p = mutf7;

    g_return_val_if_fail (mutf7 != NULL, NULL);

    dec.out = g_string_new (NULL);
    while (*p != '\0') {
        if (!decode_next (&dec, &p, error)) {
            g_string_free (dec.out, TRUE);
            return NULL;
        }
    }
    return g_string_free (dec.out, FALSE);
}

/* Encodes the run of characters at @p that cannot represent themselves as one "&...-" shift
 * sequence; returns the first character after the run. */
static const char *
encode_run (const char *p, GString *out)
{
    guint32 bits = 0;
    int nbits = 0;

    g_string_append_c (out, '&');
    while (*p != '\0' && !is_printable_ascii (g_utf8_get_char (p))) {
        gunichar c = g_utf8_get_char (p);
        gunichar units[2] = { c, 0 };
        int n = 1;

        if (c >= 0x10000) {
            units[0] = 0xd800 + ((c - 0x10000) >> 10);
            units[1] = 0xdc00 + ((c - 0x10000) & 0x3ff);
            n = 2;
        }
        for (int i = 0; i < n; i++) {
            bits = (bits << 16) | units[i];
            nbits += 16;
            while (nbits >= 6) {
                nbits -= 6;
                g_string_append_c (out, b64_chars[(bits >> nbits) & 0x3f]);
            }
            bits &= (1u << nbits) - 1;
        }
        p = g_utf8_next_char (p);
    }
    if (nbits > 0)
        g_string_append_c (out, b64_chars[(bits << (6 - nbits)) & 0x3f]);
    g_string_append_c (out, '-');
    return p;
}

char *
nms_utf7_encode (const char *utf8)
{
    GString *out;
    const char *p = utf8;

    g_return_val_if_fail (utf8 != NULL && g_utf8_validate (utf8, -1, NULL), NULL);

    out = g_string_new (NULL);
    while (*p != '\0') {
        gunichar c = g_utf8_get_char (p);

        if (!is_printable_ascii (c)) {
            p = encode_run (p, out);
            continue;
        }
        if (c == '&')
            g_string_append (out, "&-");
        else
            g_string_append_c (out, (char) c);
        p++;
    }
    return g_string_free (out, FALSE);
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for folder names: modified UTF-7 (RFC 3501 §5.1.3) with known vectors, canonical
 * encoding, strict rejection of every class of invalid input and randomised round trips; then
 * the mapping of decoded names to paths under the Maildir root, hostile names included. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>

static const struct {
    const char *mutf7;
    const char *utf8;
} vectors[] = {
    { "", "" },
    { "INBOX", "INBOX" },
    { "&ZeVnLIqe-", "日本語" },
    { "Entw&APw-rfe", "Entwürfe" },
    { "&-", "&" },
    { "&-&-", "&&" },
    { "a&-b", "a&b" },
    { "&AOk-&-", "é&" },
    { "&-&AOk-", "&é" },
    { "&AOkA6Q-", "éé" },
    { "&AOkA6QDp-", "ééé" },
    { "&AOk-x&AOk-", "éxé" },
    { "&ANw-/&AN8-", "Ü/ß" },
    { "~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語" }, /* RFC 3501 §5.1.3 */
    { "&2D3eAA-", "\xf0\x9f\x98\x80" },                                /* U+1F600, a pair */
    { "&AAE-", "\x01" },                                              /* controls are encoded */
    { "&AB8-", "\x1f" },
    { "&AH8-", "\x7f" },
    { "a&AAk-b", "a\tb" },
    { " ~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}", " ~!\"#$%'()*+,-./:;<=>?@[\\]^_`{|}" },
};

static void
test_decode_vectors (void)
{
    for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *utf8 = nms_utf7_decode (vectors[i].mutf7, &error);

        g_assert_no_error (error);
        g_assert_cmpstr (utf8, ==, vectors[i].utf8);
    }
}

static void
test_encode_vectors (void)
{
    /* The encoder's output is canonical: exactly the spelling in the table. */
    for (gsize i = 0; i < G_N_ELEMENTS (vectors); i++) {
        g_autofree char *mutf7 = nms_utf7_encode (vectors[i].utf8);

        g_assert_cmpstr (mutf7, ==, vectors[i].mutf7);
    }
}

static const struct {
    const char *mutf7;
    const char *cause; /* expected end of the message */
} invalid[] = {
    /* unterminated shift */
    { "&", "unterminated '&' sequence" },
    { "abc&", "unterminated '&' sequence" },
    { "&AOk", "unterminated '&' sequence" },
    { "a&ZeV", "unterminated '&' sequence" },
    /* characters outside the modified base64 alphabet */
    { "&AO/-", "invalid character in '&' sequence" }, /* RFC 2045 '/' is ',' here */
    { "&AOk=-", "invalid character in '&' sequence" },
    { "&AO*-", "invalid character in '&' sequence" },
    { "&&-", "invalid character in '&' sequence" },
    { "&AO k-", "invalid character in '&' sequence" },
    /* odd number of bytes: the sequence stops inside a UTF-16 unit */
    { "&A-", "'&' sequence ends inside a UTF-16 unit" },
    { "&AO-", "'&' sequence ends inside a UTF-16 unit" },
    { "&AOkA-", "'&' sequence ends inside a UTF-16 unit" },
    { "&AOkA6QD-", "'&' sequence ends inside a UTF-16 unit" },
    /* leftover bits that are not zero */
    { "&AOl-", "non-zero padding bits in '&' sequence" },
    { "&AOkA6R-", "non-zero padding bits in '&' sequence" },
    /* printable US-ASCII must represent itself */
    { "&AGE-", "encodes a printable ASCII character" },     /* 'a' */
    { "&ACY-", "encodes a printable ASCII character" },     /* '&' has to be "&-" */
    { "&ACA-", "encodes a printable ASCII character" },     /* ' ' */
    { "&AH4-", "encodes a printable ASCII character" },     /* '~' */
    { "&AOkAYQ-", "encodes a printable ASCII character" }, /* 'a' after an é */
    /* NUL */
    { "&AAA-", "encodes a NUL character" },
    /* surrogates */
    { "&2D0-", "high surrogate without low surrogate" },
    { "&2D0A6Q-", "high surrogate without low surrogate" },
    { "&2D3YPQ-", "high surrogate without low surrogate" },
    { "&3gA-", "low surrogate without high surrogate" },
    { "&3gDYPQ-", "low surrogate without high surrogate" },
    { "&2D0-&3gA-", "high surrogate without low surrogate" },
    /* raw bytes that must be encoded */
    { "Entw\xc3\xbcrfe", "raw byte >= 0x80" },
    { "\xff", "raw byte >= 0x80" },
    { "a\tb", "raw control character" },
    { "a\x7f", "raw control character" },
    { "\n", "raw control character" },
    /* a second spelling of "&AOkA6Q-" */
    { "&AOk-&AOk-", "two adjacent '&' sequences" },
};

static void
test_decode_invalid (void)
{
    for (gsize i = 0; i < G_N_ELEMENTS (invalid); i++) {
        g_autoptr (GError) error = NULL;
        g_autofree char *utf8 = nms_utf7_decode (invalid[i].mutf7, &error);

        if (utf8 != NULL)
            g_error ("'%s' decoded to '%s'", invalid[i].mutf7, utf8);
        g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_UTF7);
        g_assert_true (g_str_has_prefix (error->message, "modified utf-7 name '"));
        if (!g_str_has_suffix (error->message, invalid[i].cause))
            g_error ("'%s': got '%s', want '%s'", invalid[i].mutf7, error->message,
                     invalid[i].cause);
        /* The message itself is always valid UTF-8, whatever the input was. */
        g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_error_quotes_input (void)
{
    g_autoptr (GError) error = NULL;

    g_assert_null (nms_utf7_decode ("x&AGE-", &error));
    g_assert_cmpstr (error->message, ==,
                     "modified utf-7 name 'x&AGE-': encodes a printable ASCII character");
    g_clear_error (&error);
    /* Control characters and invalid bytes are escaped in the message. */
    g_assert_null (nms_utf7_decode ("a\tb", &error));
    g_assert_cmpstr (error->message, ==, "modified utf-7 name 'a\\x09b': raw control character");
    g_clear_error (&error);
    g_assert_null (nms_utf7_decode ("a\xff", &error));
    g_assert_cmpstr (error->message, ==, "modified utf-7 name 'a\\xff': raw byte >= 0x80");
}

/* A random code point from ranges that exercise every encoder path, never NUL or a
 * surrogate (those are not characters). */
static gunichar
random_char (void)
{
    switch (g_test_rand_int_range (0, 6)) {
    case 0:
        return (gunichar) g_test_rand_int_range (0x20, 0x7f); /* printable ASCII */
    case 1:
        return '&';
    case 2:
        return (gunichar) g_test_rand_int_range (1, 0x20); /* controls */
    case 3:
        return (gunichar) g_test_rand_int_range (0x80, 0x800);
    case 4: {
        gunichar c = (gunichar) g_test_rand_int_range (0x800, 0x10000);
        return (c >= 0xd800 && c <= 0xdfff) ? 0xfffd : c;
    }
    default:
        return (gunichar) g_test_rand_int_range (0x10000, 0x110000);
    }
}

static gboolean
is_printable_ascii_string (const char *s)
{
    for (const char *p = s; *p != '\0'; p++) {
        if ((guchar) *p < 0x20 || (guchar) *p > 0x7e)
            return FALSE;
    }
    return TRUE;
}

static void
test_random_round_trip (void)
{
    for (int round = 0; round < 2000; round++) {
        g_autoptr (GString) utf8 = g_string_new (NULL);
        g_autoptr (GError) error = NULL;
        g_autofree char *mutf7 = NULL;
        g_autofree char *back = NULL;
        int len = g_test_rand_int_range (0, 24);

        for (int i = 0; i < len; i++)
            g_string_append_unichar (utf8, random_char ());
        mutf7 = nms_utf7_encode (utf8->str);
        g_assert_true (is_printable_ascii_string (mutf7));
        back = nms_utf7_decode (mutf7, &error);
        g_assert_no_error (error);
        g_assert_cmpstr (back, ==, utf8->str);
    }
}

static void
test_random_decode_is_canonical (void)
{
    /* Whatever the decoder accepts re-encodes to exactly the same bytes, so two server names
     * can never share one local directory; what it returns is valid UTF-8 without NUL. */
    static const char alphabet[] = "&&&---AAAOk6QDp2D3eg,+/=a \t\xc3";
    int accepted = 0;

    for (int round = 0; round < 20000; round++) {
        char input[12];
        int len = g_test_rand_int_range (0, (int) sizeof input);
        g_autoptr (GError) error = NULL;
        g_autofree char *utf8 = NULL;

        for (int i = 0; i < len; i++)
            input[i] = alphabet[g_test_rand_int_range (0, (int) sizeof alphabet - 1)];
        input[len] = '\0';
        utf8 = nms_utf7_decode (input, &error);
        if (utf8 == NULL) {
            g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_UTF7);
            continue;
        }
        g_assert_no_error (error);
        g_assert_true (g_utf8_validate (utf8, -1, NULL));
        {
            g_autofree char *again = nms_utf7_encode (utf8);
            g_assert_cmpstr (again, ==, input);
        }
        accepted++;
    }
    /* The alphabet is chosen so that a good share of the inputs is valid. */
    g_assert_cmpint (accepted, >, 100);
}

/* ---- folder names ------------------------------------------------------------------------ */

#define PP NMS_MAILDIR_LAYOUT_MAILDIRPP
#define VERBATIM NMS_MAILDIR_LAYOUT_VERBATIM

static void
assert_folder (const char *folder, char delim, NmsMaildirLayout layout, const char *expected)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = nms_maildir_folder_to_path (folder, delim, layout, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (path, ==, expected);
}

/* Asserts that @folder is refused; returns the message. */
static char *
refused (const char *folder, char delim, NmsMaildirLayout layout)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = nms_maildir_folder_to_path (folder, delim, layout, &error);

    if (path != NULL)
        g_error ("folder '%s' (delim %d, layout %d) mapped to '%s'", folder, delim, layout, path);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER);
    g_assert_true (g_str_has_prefix (error->message, "folder '"));
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    return g_strdup (error->message);
}

static void
assert_refused (const char *folder, char delim, NmsMaildirLayout layout)
{
    g_free (refused (folder, delim, layout));
}

static void
test_folder_maildirpp (void)
{
    assert_folder ("INBOX", '/', PP, "");
    assert_folder ("inbox", '/', PP, "");
    assert_folder ("InBoX", '.', PP, "");
    assert_folder ("INBOX", '\0', PP, "");
    assert_folder ("a", '/', PP, ".a");
    assert_folder ("a/b", '/', PP, ".a.b");
    assert_folder ("a/b/c", '/', PP, ".a.b.c");
    assert_folder ("INBOX/x", '/', PP, ".INBOX.x");
    assert_folder ("Inbox/x", '/', PP, ".Inbox.x");
    assert_folder ("INBOXES", '/', PP, ".INBOXES");
    assert_folder ("Entwürfe", '/', PP, ".Entwürfe");
    assert_folder ("a b", '/', PP, ".a b");
    assert_folder ("cur", '/', PP, ".cur"); /* ".cur" cannot collide with "cur" */
    assert_folder ("a.b", '.', PP, ".a.b");
    assert_folder ("x", '\0', PP, ".x");
}

static void
test_folder_verbatim (void)
{
    assert_folder ("INBOX", '/', VERBATIM, "INBOX");
    assert_folder ("inbox", '/', VERBATIM, "INBOX");
    assert_folder ("a", '/', VERBATIM, "a");
    assert_folder ("a/b", '/', VERBATIM, "a/b");
    assert_folder ("INBOX/x", '/', VERBATIM, "INBOX/x");
    assert_folder ("a.b", '/', VERBATIM, "a.b");
    assert_folder ("a.b", '.', VERBATIM, "a/b");
    assert_folder ("a.b", '\0', VERBATIM, "a.b");
    assert_folder ("Entwürfe/日本語", '/', VERBATIM, "Entwürfe/日本語");
    assert_folder ("curious/newer", '/', VERBATIM, "curious/newer");
}

static void
test_folder_hostile (void)
{
    g_autofree char *long_component = g_strnfill (256, 'x');
    g_autofree char *max_component = g_strnfill (254, 'x');
    g_autofree char *max_expected = g_strconcat (".", max_component, NULL);
    g_autofree char *component_255 = g_strnfill (255, 'x');
    g_autoptr (GString) long_total = g_string_new (NULL);
    static const char *const both[] = {
        "", "..", ".", "../x", "x/..", "a/../../b", "a/./b", "/abs", "/", "a//b", "a/", "//",
        "a\x01b", "a\nb", "a\x7f", "\t", "\xff", "a\xc3", "\xc0\xae\xc0\xae",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (both); i++) {
        assert_refused (both[i], '/', PP);
        assert_refused (both[i], '/', VERBATIM);
    }
    /* maildir++: a '.' inside a component would read back as a hierarchy level. */
    assert_refused ("a.b", '/', PP);
    assert_refused (".a", '/', PP);
    /* ".notmuch" is notmuch's database directory; deeper names and verbatim are fine. */
    assert_refused ("notmuch", '/', PP);
    assert_folder ("notmuch/x", '/', PP, ".notmuch.x");
    assert_folder ("notmuch", '/', VERBATIM, "notmuch");
    assert_refused ("a.", '/', PP);
    assert_refused ("a.b", '\0', PP);
    /* verbatim: hidden directories and Maildir's own directories. */
    assert_refused (".hidden", '/', VERBATIM);
    assert_refused ("a/.b", '/', VERBATIM);
    assert_refused ("cur", '/', VERBATIM);
    assert_refused ("a/new", '/', VERBATIM);
    assert_refused ("tmp/x", '/', VERBATIM);
    /* '/' is a path separator whatever the server's delimiter. */
    assert_refused ("a/b", '.', PP);
    assert_refused ("a/b", '.', VERBATIM);
    assert_refused ("a/b", '\0', PP);
    assert_refused ("a/b", '\0', VERBATIM);
    assert_refused ("..", '\0', VERBATIM);
    assert_refused (".x", '.', PP);
    assert_refused ("x..y", '.', VERBATIM);
    /* A delimiter must be printable ASCII (RFC 3501 QUOTED-CHAR). */
    assert_refused ("a\x01" "b", '\x01', VERBATIM);
    assert_refused ("a\xc3\xa9", (char) 0xc3, PP);
    /* lengths */
    assert_refused (long_component, '/', VERBATIM);
    assert_refused (long_component, '/', PP);
    assert_folder (max_component, '/', PP, max_expected);
    assert_folder (component_255, '/', VERBATIM, component_255);
    assert_refused (component_255, '/', PP); /* 256 bytes with the leading '.' */
    for (int i = 0; i < 20; i++)
        g_string_append (long_total, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                                     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                                     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                                     "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy/");
    g_string_truncate (long_total, long_total->len - 1);
    g_assert_cmpuint (long_total->len, >, 4096);
    assert_refused (long_total->str, '/', VERBATIM);
    /* maildir++ makes one directory entry of all components: it must fit in 255 bytes. */
    assert_refused ("yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy/"
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
                    "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                    '/', PP);
}

static void
test_folder_messages (void)
{
    static const struct {
        const char *folder;
        char delim;
        NmsMaildirLayout layout;
        const char *message;
    } cases[] = {
        { "a/../b", '/', PP, "folder 'a/../b': component '..' not allowed" },
        { "/abs", '/', VERBATIM, "folder '/abs': starts with the delimiter '/'" },
        { "a//b", '/', PP, "folder 'a//b': empty component" },
        { "a\x01" "b", '/', PP, "folder 'a\\x01b': control character in component 'a\\x01b'" },
        { "a.b", '/', PP, "folder 'a.b': '.' inside component 'a.b' (maildir++ layout)" },
        { "x/cur", '/', VERBATIM, "folder 'x/cur': component 'cur' collides with a maildir "
                                  "directory" },
        { "a/b", '.', VERBATIM, "folder 'a/b': '/' inside component 'a/b'" },
        { "\xff", '/', PP, "folder '\\xff': not valid UTF-8" },
        { "", '/', PP, "folder '': empty name" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *message = refused (cases[i].folder, cases[i].delim, cases[i].layout);
        g_assert_cmpstr (message, ==, cases[i].message);
    }
}

static void
test_server_name_to_path (void)
{
    /* The whole way of a server's folder name: LIST gives modified UTF-7, the path is UTF-8. */
    g_autoptr (GError) error = NULL;
    g_autofree char *utf8 = nms_utf7_decode ("Entw&APw-rfe/&ZeVnLIqe-", &error);
    g_autofree char *pp = NULL;
    g_autofree char *verbatim = NULL;

    g_assert_no_error (error);
    pp = nms_maildir_folder_to_path (utf8, '/', PP, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (pp, ==, ".Entwürfe.日本語");
    verbatim = nms_maildir_folder_to_path (utf8, '/', VERBATIM, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (verbatim, ==, "Entwürfe/日本語");
    g_clear_pointer (&utf8, g_free);
    /* An encoded control character decodes fine but is no directory name. */
    utf8 = nms_utf7_decode ("a&AAE-b", &error);
    g_assert_no_error (error);
    g_assert_null (nms_maildir_folder_to_path (utf8, '/', PP, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER);
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/utf7/decode/vectors", test_decode_vectors);
    g_test_add_func ("/utf7/encode/vectors", test_encode_vectors);
    g_test_add_func ("/utf7/decode/invalid", test_decode_invalid);
    g_test_add_func ("/utf7/decode/error-quotes-input", test_error_quotes_input);
    g_test_add_func ("/utf7/round-trip/random", test_random_round_trip);
    g_test_add_func ("/utf7/decode/random-is-canonical", test_random_decode_is_canonical);
    g_test_add_func ("/maildir/folder/maildirpp", test_folder_maildirpp);
    g_test_add_func ("/maildir/folder/verbatim", test_folder_verbatim);
    g_test_add_func ("/maildir/folder/hostile", test_folder_hostile);
    g_test_add_func ("/maildir/folder/messages", test_folder_messages);
    g_test_add_func ("/maildir/folder/server-name-to-path", test_server_name_to_path);
    return g_test_run ();
}

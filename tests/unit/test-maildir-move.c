/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for the push, move and re-pairing part of src/maildir: Message-ID from the header,
 * CRLF size, setting the ",U=" field, moves between folders and listing folders. Each test
 * works in a private directory from g_dir_make_tmp(), removed afterwards. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* "Ünïcödé" and "日本" (GCC writes string literals in UTF-8). */
#define UMLAUTS "\u00dcn\u00efc\u00f6d\u00e9"
#define NIHON "\u65e5\u672c"

typedef struct {
    char *root;
} Fixture;


static void
fixture_setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;

    f->root = g_dir_make_tmp ("nmsync-test-maildir-move-XXXXXX", &error);
    g_assert_no_error (error);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
    nms_test_rm_rf (f->root);
    g_assert_false (g_file_test (f->root, G_FILE_TEST_EXISTS));
    g_free (f->root);
}

/* Writes @len bytes (-1: a string) to @root/@rel, creating directories. (transfer full) */
static char *
put (const Fixture *f, const char *rel, const char *contents, gssize len)
{
    g_autoptr (GError) error = NULL;
    char *path = g_build_filename (f->root, rel, NULL);
    g_autofree char *dir = g_path_get_dirname (path);

    g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    g_file_set_contents (path, contents, len, &error);
    g_assert_no_error (error);
    return path;
}

/* Creates @root/@rel/{cur,new,tmp}, or only the given subdirectories when @subdirs is set. */
static void
mkfolder (const Fixture *f, const char *rel, const char *subdirs)
{
    g_auto (GStrv) subs = g_strsplit (subdirs != NULL ? subdirs : "cur new tmp", " ", -1);

    for (guint i = 0; subs[i] != NULL; i++) {
        g_autofree char *dir = g_build_filename (f->root, rel, subs[i], NULL);
        g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
    }
}

static char *
contents_of (const char *path)
{
    g_autoptr (GError) error = NULL;
    char *contents = NULL;

    g_file_get_contents (path, &contents, NULL, &error);
    g_assert_no_error (error);
    return contents;
}

static void
assert_message_id (const Fixture *f, const char *contents, gssize len, const char *expected)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, "msg", contents, len);
    g_autofree char *id = NULL;

    g_assert_true (nms_maildir_message_id (path, &id, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (id, ==, expected);
}

static void
test_message_id_found (Fixture *f, gconstpointer data)
{
    assert_message_id (f, "From: a@b\nMessage-ID: <simple@x.example>\nSubject: s\n\nbody\n", -1,
                       "simple@x.example");
    assert_message_id (f, "Message-Id:\n  <folded.id@x.example>\nSubject: s\n\nbody\n", -1,
                       "folded.id@x.example");
    assert_message_id (f, "Subject: s\r\nMessage-ID: <crlf@x.example>\r\n\r\nbody\r\n", -1,
                       "crlf@x.example");
    assert_message_id (f, "Message-ID: (a comment) <commented@x.example>\n\n", -1,
                       "commented@x.example");
    /* A file that is all header, without a final newline. */
    assert_message_id (f, "Message-ID: <eof@x.example>", -1, "eof@x.example");
}

static void
test_message_id_none (Fixture *f, gconstpointer data)
{
    static const char binary[] = { '\x7f', 'E', 'L',  'F',  '\x02', '\x01', '\0', '\0', '\xff',
                                   '\xfe', ':', '\n', '\0', '\x80', '\n',   '\n', 'x' };

    assert_message_id (f, "Subject: no id\nFrom: a@b\n\nbody\n", -1, NULL);
    /* Only the header counts: an ID in the body is not the message's. */
    assert_message_id (f, "Subject: s\n\nMessage-ID: <in-body@x.example>\n", -1, NULL);
    assert_message_id (f, "Subject: s\r\n\r\nMessage-ID: <in-body@x.example>\r\n", -1, NULL);
    /* No header at all when the first line is empty. */
    assert_message_id (f, "\nMessage-ID: <after-empty-line@x.example>\n", -1, NULL);
    assert_message_id (f, "\r\nMessage-ID: <after-empty-line@x.example>\r\n", -1, NULL);
    assert_message_id (f, "", 0, NULL);
    assert_message_id (f, binary, sizeof binary, NULL);
    /* notmuch keeps a value without a usable <id> as it is ("better than none"), so do we. */
    assert_message_id (f, "Message-ID: <>\n\n", -1, "<>");
}

/* A header larger than one read, and one beyond the 1 MiB cap. */
static void
test_message_id_large_header (Fixture *f, gconstpointer data)
{
    g_autoptr (GString) s = g_string_new ("Subject: big\n");
    g_autofree char *pad = g_strnfill (70, 'p');

    while (s->len < 100 * 1024)
        g_string_append_printf (s, "X-Pad: %s\n", pad);
    g_string_append (s, "Message-ID: <late@x.example>\n\nbody\n");
    assert_message_id (f, s->str, (gssize) s->len, "late@x.example");

    g_string_truncate (s, 0);
    while (s->len < 1100 * 1024)
        g_string_append_printf (s, "X-Pad: %s\n", pad);
    g_string_append (s, "Message-ID: <beyond-cap@x.example>\n\nbody\n");
    assert_message_id (f, s->str, (gssize) s->len, NULL);
}

static void
test_message_id_errors (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->root, "missing", NULL);
    g_autofree char *dir = g_build_filename (f->root, "adir", NULL);
    char *id = NULL;
    guint64 size = 1;

    g_assert_false (nms_maildir_message_id (missing, &id, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
    g_assert_null (id);
    g_clear_error (&error);

    g_assert_cmpint (mkdir (dir, 0700), ==, 0);
    g_assert_false (nms_maildir_message_id (dir, &id, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, dir));
    g_clear_error (&error);

    g_assert_false (nms_maildir_crlf_size (missing, &size, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
    g_clear_error (&error);

    if (getuid () != 0) {
        g_autofree char *locked = put (f, "locked", "Message-ID: <a@b>\n\n", -1);

        g_assert_cmpint (chmod (locked, 0), ==, 0);
        g_assert_false (nms_maildir_message_id (locked, &id, &error));
        g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
        g_assert_nonnull (strstr (error->message, locked));
    }
}

static guint64
crlf_size_of (const Fixture *f, const char *contents, gssize len)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, "msg", contents, len);
    guint64 size = G_MAXUINT64;

    g_assert_true (nms_maildir_crlf_size (path, &size, &error));
    g_assert_no_error (error);
    return size;
}

static void
test_crlf_size (Fixture *f, gconstpointer data)
{
    g_assert_cmpuint (crlf_size_of (f, "", 0), ==, 0);
    g_assert_cmpuint (crlf_size_of (f, "a\nb\n", -1), ==, 6);
    g_assert_cmpuint (crlf_size_of (f, "a\r\nb\r\n", -1), ==, 6);
    g_assert_cmpuint (crlf_size_of (f, "no newline", -1), ==, 10);
    g_assert_cmpuint (crlf_size_of (f, "\n", -1), ==, 2);
    /* LF, CRLF, a lone CR, LF: libetpan's APPEND sends the lone CR as CRLF too (a\rb\nc, 5
     * bytes, goes out as {7}), so it counts one more byte. */
    g_assert_cmpuint (crlf_size_of (f, "a\nb\r\nc\rd\n", -1), ==, 12);
    g_assert_cmpuint (crlf_size_of (f, "a\rb\nc", -1), ==, 7);
    g_assert_cmpuint (crlf_size_of (f, "ends in CR\r", -1), ==, 12);
}

/* mbsync's X-TUID field: its CRLF line size, only in the header, whatever the line ends. */
static void
test_tuid_size (Fixture *f, gconstpointer data)
{
    static const char lf[] = "From: a\nX-TUID: 1jW5I1Ubnegc\nSubject: s\n\nbody\n";
    static const char crlf[] = "From: a\r\nX-TUID: 1jW5I1Ubnegc\r\n\r\nbody\r\n";
    static const char body_only[] = "From: a\n\nX-TUID: 1jW5I1Ubnegc\n";
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, "tuid", lf, -1);
    gsize size = 0;

    (void) data;
    g_assert_cmpuint (nms_maildir_tuid_size (lf, strlen (lf)), ==, strlen ("X-TUID: 1jW5I1Ubnegc\r\n"));
    g_assert_cmpuint (nms_maildir_tuid_size (crlf, strlen (crlf)), ==, 22);
    g_assert_cmpuint (nms_maildir_tuid_size ("From: a\n", 8), ==, 0);
    g_assert_true (nms_maildir_message_tuid_size (path, &size, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (size, ==, 22);
    g_free (path);
    path = put (f, "tuid2", body_only, -1);
    g_assert_true (nms_maildir_message_tuid_size (path, &size, &error));
    g_assert_cmpuint (size, ==, 0);
}

/* The 64 KiB read boundary: a CR that ends one chunk pairs with the LF that starts the next. */
static void
test_crlf_size_chunk_boundary (Fixture *f, gconstpointer data)
{
    const gsize chunk = 64 * 1024;
    g_autofree char *buf = g_malloc (chunk + 2);

    memset (buf, 'x', chunk + 2);
    buf[chunk - 1] = '\r';
    buf[chunk] = '\n';
    g_assert_cmpuint (crlf_size_of (f, buf, (gssize) (chunk + 2)), ==, chunk + 2);

    buf[chunk - 1] = 'x';
    g_assert_cmpuint (crlf_size_of (f, buf, (gssize) (chunk + 2)), ==, chunk + 3);

    buf[chunk - 1] = '\n';
    buf[chunk] = 'x';
    g_assert_cmpuint (crlf_size_of (f, buf, (gssize) chunk), ==, chunk + 1);
}

/* Several chunks of random line ends against a direct count. */
static void
test_crlf_size_random (Fixture *f, gconstpointer data)
{
    const gsize len = 300 * 1024 + 17;
    g_autofree char *buf = g_malloc (len);
    g_autoptr (GRand) rand = g_rand_new_with_seed (42);
    guint64 expected = len;

    for (gsize i = 0; i < len; i++) {
        static const char alphabet[] = { 'a', '\r', '\n', '\n', 'b' };

        buf[i] = alphabet[g_rand_int_range (rand, 0, G_N_ELEMENTS (alphabet))];
    }
    /* A direct count: every LF without a CR before it, and every CR without an LF after it,
     * gains one byte. */
    for (gsize i = 0; i < len; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
            expected++;
        if (buf[i] == '\r' && (i + 1 == len || buf[i + 1] != '\n'))
            expected++;
    }
    g_assert_cmpuint (crlf_size_of (f, buf, (gssize) len), ==, expected);
}

/* Sets the uid of cur/@from and checks the new name and that the file moved with its content. */
static void
assert_set_uid (const Fixture *f, const char *from, guint32 uid, const char *to)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *rel = g_build_filename ("cur", from, NULL);
    g_autofree char *path = put (f, rel, from, -1);
    g_autofree char *expected = g_build_filename (f->root, "cur", to, NULL);
    g_autofree char *got = nms_maildir_set_uid (path, uid, &error);
    g_autofree char *contents = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (got, ==, expected);
    contents = contents_of (got);
    g_assert_cmpstr (contents, ==, from);
    g_assert_true (strcmp (from, to) == 0 || !g_file_test (path, G_FILE_TEST_EXISTS));
    g_assert_cmpint (unlink (got), ==, 0);
}

static void
test_set_uid (Fixture *f, gconstpointer data)
{
    assert_set_uid (f, "1699.M1P7.host,S=100:2,S", 42, "1699.M1P7.host,S=100,U=42:2,S");
    assert_set_uid (f, "1699.M1P7.host:2,", 4294967295u, "1699.M1P7.host,U=4294967295:2,");
    /* An existing field is replaced where it stands. */
    assert_set_uid (f, "1699.host,U=5,S=100:2,FS", 77, "1699.host,U=77,S=100:2,FS");
    assert_set_uid (f, "1699.host,S=100,U=5:2,FS", 0, "1699.host,S=100:2,FS");
    assert_set_uid (f, "1699.host,U=5,S=100:2,FS", 0, "1699.host,S=100:2,FS");
    assert_set_uid (f, "1699.host", 9, "1699.host,U=9");
    assert_set_uid (f, "1699.host,U=9", 0, "1699.host");
    /* Nothing to change: the same path, the file untouched. */
    assert_set_uid (f, "1699.host,U=9:2,S", 9, "1699.host,U=9:2,S");
    assert_set_uid (f, "1699.host:2,S", 0, "1699.host:2,S");
}

static void
test_set_uid_refuses_overwrite (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, "cur/1699.host,U=5:2,S", "mine", -1);
    g_autofree char *other = put (f, "cur/1699.host,U=6:2,S", "other", -1);
    g_autofree char *got = nms_maildir_set_uid (path, 6, &error);
    g_autofree char *mine = NULL;
    g_autofree char *theirs = NULL;

    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, other));
    mine = contents_of (path);
    theirs = contents_of (other);
    g_assert_cmpstr (mine, ==, "mine");
    g_assert_cmpstr (theirs, ==, "other");
}

static void
test_set_uid_errors (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *bad = put (f, "cur/1699.host,U=01:2,S", "x", -1);
    g_autofree char *missing = g_build_filename (f->root, "cur", "gone:2,S", NULL);
    g_autofree char *got = nms_maildir_set_uid (bad, 3, &error);

    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME);
    g_assert_true (g_file_test (bad, G_FILE_TEST_IS_REGULAR));
    g_clear_error (&error);

    got = nms_maildir_set_uid (missing, 3, &error);
    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
}

/* Moves @src_rel into the folder "dest" and checks where it lands and that it kept its data. */
static void
assert_move (const Fixture *f, const char *src_rel, const char *expected_name)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, src_rel, src_rel, -1);
    g_autofree char *dest = g_build_filename (f->root, "dest", NULL);
    g_autofree char *expected = g_build_filename (dest, "cur", expected_name, NULL);
    g_autofree char *got = nms_maildir_move (path, dest, &error);
    g_autofree char *contents = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (got, ==, expected);
    g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
    contents = contents_of (got);
    g_assert_cmpstr (contents, ==, src_rel);
    g_assert_cmpint (unlink (got), ==, 0);
}

static void
test_move (Fixture *f, gconstpointer data)
{
    mkfolder (f, "src", NULL);
    mkfolder (f, "dest", NULL);
    assert_move (f, "src/cur/1699.M1P7.host,S=12,U=42,W=13:2,FS", "1699.M1P7.host,S=12,W=13:2,FS");
    assert_move (f, "src/cur/1699.M1P7.host,U=42:2,", "1699.M1P7.host:2,");
    assert_move (f, "src/new/1699.M1P7.host,U=3", "1699.M1P7.host:2,");
    assert_move (f, "src/new/1699.M1P7.host", "1699.M1P7.host:2,");
    assert_move (f, "src/new/1700.M1P7.host,S=5:2,", "1700.M1P7.host,S=5:2,");
    assert_move (f, "src/cur/1701.host,U=1:2,DFPRST", "1701.host:2,DFPRST");
    /* Within the same folder only the uid goes. */
    assert_move (f, "dest/cur/1702.host,U=8:2,S", "1702.host:2,S");
}

static void
test_move_refuses_overwrite (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put (f, "src/cur/1699.host,U=4:2,S", "mine", -1);
    g_autofree char *other = put (f, "dest/cur/1699.host:2,S", "other", -1);
    g_autofree char *dest = g_build_filename (f->root, "dest", NULL);
    g_autofree char *got = nms_maildir_move (path, dest, &error);
    g_autofree char *mine = NULL;
    g_autofree char *theirs = NULL;

    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, path));
    g_assert_nonnull (strstr (error->message, other));
    mine = contents_of (path);
    theirs = contents_of (other);
    g_assert_cmpstr (mine, ==, "mine");
    g_assert_cmpstr (theirs, ==, "other");
}

static void
test_move_errors (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *bad = put (f, "src/cur/1699.host:2,SF", "x", -1);
    g_autofree char *missing = g_build_filename (f->root, "src", "cur", "gone:2,", NULL);
    g_autofree char *dest = g_build_filename (f->root, "dest", NULL);
    g_autofree char *no_cur = g_build_filename (f->root, "nowhere", NULL);
    g_autofree char *ok = put (f, "src/cur/1700.host,U=2:2,", "y", -1);
    char *got;

    mkfolder (f, "dest", NULL);
    got = nms_maildir_move (bad, dest, &error);
    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME);
    g_assert_true (g_file_test (bad, G_FILE_TEST_IS_REGULAR));
    g_clear_error (&error);

    got = nms_maildir_move (missing, dest, &error);
    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
    g_clear_error (&error);

    got = nms_maildir_move (ok, no_cur, &error);
    g_assert_null (got);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_true (g_file_test (ok, G_FILE_TEST_IS_REGULAR));
}

/* The listed folders as "name=relpath" joined by ' ', each checked to round-trip. */
static char *
listing (const Fixture *f, NmsMaildirLayout layout)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) folders = nms_maildir_list_folders (f->root, layout, &error);
    g_autoptr (GString) s = g_string_new (NULL);

    g_assert_no_error (error);
    g_assert_nonnull (folders);
    for (guint i = 0; i < folders->len; i++) {
        const NmsMaildirFolder *folder = g_ptr_array_index (folders, i);
        g_autofree char *back = nms_maildir_folder_to_path (folder->name, '/', layout, &error);

        g_assert_no_error (error);
        g_assert_cmpstr (back, ==, folder->relpath);
        g_string_append_printf (s, "%s%s=%s", i > 0 ? " " : "", folder->name, folder->relpath);
    }
    return g_strdup (s->str);
}

/* Junk both layouts must skip. */
static void
make_common_junk (const Fixture *f)
{
    g_autofree char *link_target = g_build_filename (f->root, "Archive", NULL);
    g_autofree char *link = g_build_filename (f->root, "link", NULL);
    g_autofree char *dot_link = g_build_filename (f->root, ".link", NULL);
    /* Plain files where folders could be: skipped. */
    g_free (put (f, ".file", "x", -1));
    g_free (put (f, "file", "x", -1));

    mkfolder (f, ".notmuch", NULL);
    mkfolder (f, ".bad\xff", NULL);
    mkfolder (f, "bad\xff", NULL);
    mkfolder (f, "bad\xff/ok", NULL);
    mkfolder (f, ".ctl\x01", NULL);
    mkfolder (f, "ctl\x01", NULL);
    g_assert_cmpint (symlink (link_target, link), ==, 0);
    g_assert_cmpint (symlink (link_target, dot_link), ==, 0);
}

static void
test_list_maildirpp (Fixture *f, gconstpointer data)
{
    g_autofree char *got = NULL;

    mkfolder (f, "", NULL);
    mkfolder (f, ".Archive", NULL);
    mkfolder (f, ".Archive.2024", NULL);
    mkfolder (f, "." UMLAUTS "." NIHON, NULL);
    mkfolder (f, ".Sent", "cur new");
    mkfolder (f, ".NoNew", "cur tmp");
    mkfolder (f, ".a..b", NULL);
    mkfolder (f, "..x", NULL);
    mkfolder (f, ".trailing.", NULL);
    mkfolder (f, ".INBOX", NULL);
    mkfolder (f, ".inbox", NULL);
    mkfolder (f, "Plain", NULL);
    mkfolder (f, "Archive", NULL);
    make_common_junk (f);
    got = listing (f, NMS_MAILDIR_LAYOUT_MAILDIRPP);
    g_assert_cmpstr (got, ==,
                     "Archive=.Archive Archive/2024=.Archive.2024 INBOX= Sent=.Sent " UMLAUTS
                     "/" NIHON "="
                     "." UMLAUTS "." NIHON);
}

static void
test_list_maildirpp_no_inbox (Fixture *f, gconstpointer data)
{
    g_autofree char *got = NULL;

    mkfolder (f, "", "new tmp");
    mkfolder (f, ".Archive", NULL);
    got = listing (f, NMS_MAILDIR_LAYOUT_MAILDIRPP);
    g_assert_cmpstr (got, ==, "Archive=.Archive");
}

static void
test_list_verbatim (Fixture *f, gconstpointer data)
{
    g_autofree char *got = NULL;

    mkfolder (f, "", NULL); /* the root itself is no folder in this layout */
    mkfolder (f, "INBOX", NULL);
    mkfolder (f, "Archive", NULL);
    mkfolder (f, "Archive/2024", NULL);
    mkfolder (f, "Archive/cur/nested", NULL);
    mkfolder (f, "Archive/.hidden", NULL);
    mkfolder (f, UMLAUTS "/" NIHON, NULL);
    mkfolder (f, "a/b/c/d", "cur new");
    mkfolder (f, "a/b/nonew", "cur");
    mkfolder (f, ".hidden/x", NULL);
    mkfolder (f, "inbox", NULL);
    mkfolder (f, "inbox/child", NULL);
    mkfolder (f, "cur/x", NULL);
    mkfolder (f, "tmp/y", NULL);
    make_common_junk (f);
    got = listing (f, NMS_MAILDIR_LAYOUT_VERBATIM);
    g_assert_cmpstr (got, ==,
                     "Archive=Archive Archive/2024=Archive/2024 INBOX=INBOX a/b/c/d=a/b/c/d "
                     "inbox/child=inbox/child " UMLAUTS "/" NIHON "=" UMLAUTS "/" NIHON);
}

/* The walk stops at 32 levels; an unreadable directory (not as root) is skipped. */
static void
test_list_verbatim_limits (Fixture *f, gconstpointer data)
{
    g_autoptr (GString) rel = g_string_new ("d");
    g_autofree char *got = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *locked = NULL;

    for (int level = 2; level <= 32; level++)
        g_string_append (rel, "/d");
    mkfolder (f, rel->str, NULL);
    expected = g_strdup_printf ("%s=%s", rel->str, rel->str);
    g_string_append (rel, "/d");
    mkfolder (f, rel->str, NULL);
    if (getuid () != 0) {
        mkfolder (f, "locked/inside", NULL);
        locked = g_build_filename (f->root, "locked", NULL);
        g_assert_cmpint (chmod (locked, 0), ==, 0);
    }
    got = listing (f, NMS_MAILDIR_LAYOUT_VERBATIM);
    g_assert_cmpstr (got, ==, expected);
}

static void
test_list_root_missing_or_bad (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->root, "missing", NULL);
    g_autofree char *file = put (f, "file", "x", -1);
    GPtrArray *folders;

    for (int layout = NMS_MAILDIR_LAYOUT_MAILDIRPP; layout <= NMS_MAILDIR_LAYOUT_VERBATIM;
         layout++) {
        folders = nms_maildir_list_folders (missing, (NmsMaildirLayout) layout, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (folders->len, ==, 0);
        g_ptr_array_unref (folders);

        folders = nms_maildir_list_folders (file, (NmsMaildirLayout) layout, &error);
        g_assert_null (folders);
        g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
        g_assert_nonnull (strstr (error->message, file));
        g_clear_error (&error);
    }
}

/* Folders made through folder_to_path + folder_ensure are listed under the same names. */
static void
test_list_round_trip (Fixture *f, gconstpointer data)
{
    static const char *const names[] = {
        "Archive",    "Archive/2024", "Archive/2024/Q1", "INBOX",           "INBOX/child",
        "Sent Items", "a&b",          "x-y_z",           UMLAUTS "/" NIHON,
    };

    for (int layout = NMS_MAILDIR_LAYOUT_MAILDIRPP; layout <= NMS_MAILDIR_LAYOUT_VERBATIM;
         layout++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (GString) expected = g_string_new (NULL);
        g_autofree char *got = NULL;
        g_autofree char *sub = g_strdup_printf ("layout%d", layout);
        g_autofree char *root = g_build_filename (f->root, sub, NULL);
        const Fixture nested = { root };

        for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
            g_autofree char *rel = nms_maildir_folder_to_path (names[i], '/', layout, &error);
            g_autofree char *dir = NULL;

            g_assert_no_error (error);
            dir = nms_maildir_folder_ensure (root, rel, &error);
            g_assert_no_error (error);
            g_string_append_printf (expected, "%s%s=%s", i > 0 ? " " : "", names[i], rel);
        }
        got = listing (&nested, (NmsMaildirLayout) layout);
        g_assert_cmpstr (got, ==, expected->str);
    }
}

static void
test_folder_free (void)
{
    g_autoptr (NmsMaildirFolder) folder = g_new0 (NmsMaildirFolder, 1);

    folder->name = g_strdup ("a/b");
    folder->relpath = g_strdup (".a.b");
    nms_maildir_folder_free (NULL);
}

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    ADD ("/maildir/message-id/found", test_message_id_found);
    ADD ("/maildir/message-id/none", test_message_id_none);
    ADD ("/maildir/message-id/large-header", test_message_id_large_header);
    ADD ("/maildir/message-id/errors", test_message_id_errors);
    ADD ("/maildir/crlf-size/basic", test_crlf_size);
    ADD ("/maildir/crlf-size/chunk-boundary", test_crlf_size_chunk_boundary);
    ADD ("/maildir/crlf-size/random", test_crlf_size_random);
    ADD ("/maildir/tuid-size", test_tuid_size);
    ADD ("/maildir/set-uid/names", test_set_uid);
    ADD ("/maildir/set-uid/refuses-overwrite", test_set_uid_refuses_overwrite);
    ADD ("/maildir/set-uid/errors", test_set_uid_errors);
    ADD ("/maildir/move/names", test_move);
    ADD ("/maildir/move/refuses-overwrite", test_move_refuses_overwrite);
    ADD ("/maildir/move/errors", test_move_errors);
    ADD ("/maildir/list-folders/maildirpp", test_list_maildirpp);
    ADD ("/maildir/list-folders/maildirpp-no-inbox", test_list_maildirpp_no_inbox);
    ADD ("/maildir/list-folders/verbatim", test_list_verbatim);
    ADD ("/maildir/list-folders/verbatim-limits", test_list_verbatim_limits);
    ADD ("/maildir/list-folders/root-missing-or-bad", test_list_root_missing_or_bad);
    ADD ("/maildir/list-folders/round-trip", test_list_round_trip);
    g_test_add_func ("/maildir/list-folders/free", test_folder_free);
    return g_test_run ();
}

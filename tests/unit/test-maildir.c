/* SPDX-License-Identifier: GPL-3.0-or-later
 * Unit tests for src/maildir: file names and the ",U=" field, flag letters, folder creation,
 * delivery, scans, flag renames, removal (folder names are tested in test-utf7.c).
 * File-system tests run in a private directory from g_dir_make_tmp(), removed afterwards. */
#include "nms-build.h"

#include "maildir/maildir.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Only for the fs -> maildir error translation, which no public call lets a test trigger
 * without a full disk. */
#include "maildir/maildir-private.h"
#include "util/fs.h"

#include "testutil.h"

typedef struct {
    char *root;
    char *folder; /* root with cur/, new/ and tmp/ */
} Fixture;


static void
fixture_setup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;

    f->root = g_dir_make_tmp ("nmsync-test-maildir-XXXXXX", &error);
    g_assert_no_error (error);
    f->folder = nms_maildir_folder_ensure (f->root, "", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (f->folder, ==, f->root);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
    nms_test_rm_rf (f->root);
    g_assert_false (g_file_test (f->root, G_FILE_TEST_EXISTS));
    g_free (f->root);
    g_free (f->folder);
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The sorted entries of @dir joined by ' ' ("" when empty or missing). */
static char *
list_dir (const char *dir)
{
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    GDir *d = g_dir_open (dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
        g_ptr_array_add (names, g_strdup (name));
    if (d != NULL)
        g_dir_close (d);
    g_ptr_array_sort (names, compare_strings);
    g_ptr_array_add (names, NULL);
    return g_strjoinv (" ", (char **) names->pdata);
}

static char *
list_sub (const Fixture *f, const char *sub)
{
    g_autofree char *dir = g_build_filename (f->folder, sub, NULL);

    return list_dir (dir);
}

static void
assert_sub (const Fixture *f, const char *sub, const char *expected)
{
    g_autofree char *listing = list_sub (f, sub);

    g_assert_cmpstr (listing, ==, expected);
}

static char *
put_file (const char *dir, const char *sub, const char *name, const char *contents)
{
    g_autoptr (GError) error = NULL;
    char *path = g_build_filename (dir, sub, name, NULL);

    g_file_set_contents (path, contents, -1, &error);
    g_assert_no_error (error);
    return path;
}

static char *
read_file (const char *path, gsize *len_out)
{
    g_autoptr (GError) error = NULL;
    char *contents = NULL;

    g_file_get_contents (path, &contents, len_out, &error);
    g_assert_no_error (error);
    return contents;
}

/* ---- names ------------------------------------------------------------------------------ */

static void
assert_parses (const char *filename, const char *base, guint32 uid, const char *flags)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) n = nms_maildir_name_parse (filename, &error);

    g_assert_no_error (error);
    g_assert_nonnull (n);
    g_assert_cmpstr (n->base, ==, base);
    g_assert_cmpuint (n->uid, ==, uid);
    g_assert_cmpstr (n->flags, ==, flags);
}

static void
test_name_parse (void)
{
    assert_parses ("1795553263.26103_2.vm,U=2:2,", "1795553263.26103_2.vm", 2, ""); /* mbsync */
    assert_parses ("1699.M1P7.host,S=123,W=130:2,FS", "1699.M1P7.host,S=123,W=130", 0, "FS");
    assert_parses ("1699.M1P7.host,S=123,U=42,W=130:2,S", "1699.M1P7.host,S=123,W=130", 42, "S");
    assert_parses ("1699.M1P7.host,U=7,S=1:2,DFPRSTab", "1699.M1P7.host,S=1", 7, "DFPRSTab");
    assert_parses ("x,U=1:2,Sa", "x", 1, "Sa"); /* 'S' < 'a' in ASCII */
    assert_parses ("x,U=4294967295:2,", "x", G_MAXUINT32, "");
    /* ",X=" fields that only look like a uid stay in the base. */
    assert_parses ("x,u=3,UID=4:2,", "x,u=3,UID=4", 0, "");
    assert_parses ("U=5:2,S", "U=5", 0, "S"); /* the unique part is not a field */
}

static void
test_name_parse_without_info (void)
{
    /* No ":2,": no flags we know of, everything stays in the base (except ",U="). */
    assert_parses ("1699.M1P7.host", "1699.M1P7.host", 0, NULL);
    assert_parses ("1699.M1P7.host,U=9", "1699.M1P7.host", 9, NULL);
    assert_parses ("1699.M1P7.host:1,xyz", "1699.M1P7.host:1,xyz", 0, NULL);
    assert_parses ("x:22", "x:22", 0, NULL); /* ("x:2" alone is refused: see parse-bad) */
    /* The info separator is the last ":2,". */
    assert_parses ("a:2,b:2,S", "a:2,b", 0, "S");
}

static void
test_name_parse_bad (void)
{
    static const char *const bad[] = {
        "",                      /* empty */
        "a/b",                   /* a path, not a name */
        "/x:2,S",                /* absolute */
        ".",                     /* directories */
        "..",
        ":2,S",                  /* empty unique part */
        ",U=5:2,S",
        "x,U=0:2,S",             /* uid 0 is no uid */
        "x,U=4294967296:2,S",    /* beyond 2^32-1 */
        "x,U=99999999999999999999:2,", /* overflow */
        "x,U=:2,S",              /* empty */
        "x,U=12x:2,S",           /* not decimal */
        "x,U=-1:2,S",
        "x,U=+1:2,S",
        "x,U= 1:2,S",
        "x,U=007:2,S",           /* would not format back to the same name */
        "x,U=1,U=2:2,S",         /* duplicate */
        "x,U=1,S=3,U=1:2,S",     /* duplicate, even with the same value */
        "a,U=7,X=1:2",           /* no info, base ends in ":2": a ",U=" would read as info */
        "1700000000.M1P2.host,U=42,:2",
        "t:2",                   /* the same without a UID: giving it one would break it */
        "x,U=1:2,SF",            /* unsorted */
        "x,U=1:2,SS",            /* repeated */
        "x,U=1:2,aS",            /* unsorted in ASCII */
        "x,U=1:2,S1",            /* not a letter */
        "x,U=1:2,S,",
        "x:2,S,U=1",             /* ",U=" after the info */
        "x:2,\xc3\xa9",          /* non-ASCII */
    };

    for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsMaildirName) n = nms_maildir_name_parse (bad[i], &error);

        if (n != NULL)
            g_error ("'%s' parsed", bad[i]);
        g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME);
        g_assert_true (g_str_has_prefix (error->message, "file name '"));
        g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
}

static void
test_name_parse_messages (void)
{
    g_autoptr (GError) error = NULL;

    g_assert_null (nms_maildir_name_parse ("x,U=1,U=2:2,S", &error));
    g_assert_cmpstr (error->message, ==, "file name 'x,U=1,U=2:2,S': more than one ',U=' field");
    g_clear_error (&error);
    g_assert_null (nms_maildir_name_parse ("x,U=1:2,SF", &error));
    g_assert_cmpstr (error->message, ==,
                     "file name 'x,U=1:2,SF': flags are not sorted unique letters");
    g_clear_error (&error);
    g_assert_null (nms_maildir_name_parse ("x,U=0:2,S", &error));
    g_assert_cmpstr (error->message, ==, "file name 'x,U=0:2,S': ',U=' is not a uid");
}

static void
test_name_round_trip (void)
{
    static const char *const names[] = {
        "1795553263.26103_2.vm,U=2:2,",
        "1699.M1P7.host,S=123,W=130:2,FS",
        "1699.M1P7.host,S=123,W=130,U=42:2,DFPRSTab",
        "1699.M1P7.host",
        "1699.M1P7.host,U=1",
        "a:2,b:2,S",
        "x,U=4294967295:2,",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (names); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsMaildirName) n = nms_maildir_name_parse (names[i], &error);
        g_autofree char *back = NULL;

        g_assert_no_error (error);
        back = nms_maildir_name_format (n);
        g_assert_cmpstr (back, ==, names[i]);
    }
}

static void
test_name_uid_drop_and_set (void)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) n
        = nms_maildir_name_parse ("1699.M1P7.host,S=10,U=42,W=12:2,FS", &error);
    g_autofree char *dropped = NULL;
    g_autofree char *set = NULL;

    g_assert_no_error (error);
    /* A move to another folder (LIBRARIES.md §5): strip exactly ",U=<n>", keep the rest. */
    n->uid = 0;
    dropped = nms_maildir_name_format (n);
    g_assert_cmpstr (dropped, ==, "1699.M1P7.host,S=10,W=12:2,FS");
    /* A uid is always written last in the base. */
    n->uid = 7;
    set = nms_maildir_name_format (n);
    g_assert_cmpstr (set, ==, "1699.M1P7.host,S=10,W=12,U=7:2,FS");
}

static void
test_name_format (void)
{
    NmsMaildirName n = { (char *) "b", 0, NULL };
    g_autofree char *plain = nms_maildir_name_format (&n);
    g_autofree char *empty_flags = NULL;
    g_autofree char *full = NULL;

    g_assert_cmpstr (plain, ==, "b");
    n.flags = (char *) "";
    empty_flags = nms_maildir_name_format (&n);
    g_assert_cmpstr (empty_flags, ==, "b:2,");
    n.uid = 3;
    n.flags = (char *) "RS";
    full = nms_maildir_name_format (&n);
    g_assert_cmpstr (full, ==, "b,U=3:2,RS");
}

/* The host part as the Maildir spec writes it ("\057" for '/', "\072" for ':', "\054" for ','). */
static char *
expected_host (void)
{
    GString *s = g_string_new (NULL);

    for (const char *p = g_get_host_name (); *p != '\0'; p++) {
        if (*p == '/' || *p == ':' || *p == ',')
            g_string_append_printf (s, "\\%03o", (unsigned) (guchar) *p);
        else
            g_string_append_c (s, *p);
    }
    return g_string_free (s, FALSE);
}

static void
test_name_new (void)
{
    g_autoptr (NmsMaildirName) a = nms_maildir_name_new (12, "FS");
    g_autoptr (NmsMaildirName) b = nms_maildir_name_new (0, NULL);
    g_autofree char *host = expected_host ();
    g_autofree char *host_re = g_regex_escape_string (host, -1);
    g_autofree char *pattern
        = g_strdup_printf ("^[0-9]+\\.M[0-9]+P%ldQ[0-9]+\\.%s$", (long) getpid (), host_re);
    g_autofree char *formatted = nms_maildir_name_format (a);
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) again = NULL;

    g_assert_true (g_regex_match_simple (pattern, a->base, 0, 0));
    g_assert_true (g_regex_match_simple (pattern, b->base, 0, 0));
    g_assert_cmpstr (a->base, !=, b->base);
    g_assert_null (strchr (a->base, '/'));
    g_assert_null (strchr (a->base, ':'));
    g_assert_null (strchr (a->base, ','));
    g_assert_cmpuint (a->uid, ==, 12);
    g_assert_cmpstr (a->flags, ==, "FS");
    g_assert_cmpuint (b->uid, ==, 0);
    g_assert_null (b->flags);
    /* What we create, we can parse back. */
    again = nms_maildir_name_parse (formatted, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (again->base, ==, a->base);
    g_assert_cmpuint (again->uid, ==, 12);
    g_assert_cmpstr (again->flags, ==, "FS");
}

static void
test_name_new_unique (void)
{
    g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

    /* Thousands within the same microsecond must still differ: the counter does that. */
    for (int i = 0; i < 5000; i++) {
        NmsMaildirName *n = nms_maildir_name_new (0, NULL);

        g_assert_true (g_hash_table_add (seen, g_steal_pointer (&n->base)));
        nms_maildir_name_free (n);
    }
    g_assert_cmpuint (g_hash_table_size (seen), ==, 5000);
}

/* ---- flags ------------------------------------------------------------------------------ */

static void
test_flags_from_imap (void)
{
    const char *seen_flagged[] = { "\\Seen", "\\Flagged" };
    const char *all[] = { "\\Deleted", "\\Seen", "\\Answered", "$Forwarded", "\\Flagged",
                          "\\Draft" };
    const char *mixed[] = { "\\SEEN", "$forwarded", "\\Recent", "$Junk", "NonJunk", "\\seen",
                            "\\answered" };
    g_autofree char *a = nms_maildir_flags_from_imap (seen_flagged, G_N_ELEMENTS (seen_flagged));
    g_autofree char *b = nms_maildir_flags_from_imap (all, G_N_ELEMENTS (all));
    g_autofree char *c = nms_maildir_flags_from_imap (mixed, G_N_ELEMENTS (mixed));
    g_autofree char *d = nms_maildir_flags_from_imap (NULL, 0);
    g_autofree char *e = nms_maildir_flags_from_imap (all, 1);

    g_assert_cmpstr (a, ==, "FS");
    g_assert_cmpstr (b, ==, "DFPRST");
    /* Case-insensitive (RFC 3501 §2.3.2); \Recent and keywords have no letter; dedupe. */
    g_assert_cmpstr (c, ==, "PRS");
    g_assert_cmpstr (d, ==, "");
    g_assert_cmpstr (e, ==, "T"); /* only the first @n entries are read */
}

static void
test_flags_to_imap (void)
{
    g_assert_cmpstr (nms_maildir_flag_to_imap ('D'), ==, "\\Draft");
    g_assert_cmpstr (nms_maildir_flag_to_imap ('F'), ==, "\\Flagged");
    g_assert_cmpstr (nms_maildir_flag_to_imap ('P'), ==, "$Forwarded");
    g_assert_cmpstr (nms_maildir_flag_to_imap ('R'), ==, "\\Answered");
    g_assert_cmpstr (nms_maildir_flag_to_imap ('S'), ==, "\\Seen");
    g_assert_cmpstr (nms_maildir_flag_to_imap ('T'), ==, "\\Deleted");
    g_assert_null (nms_maildir_flag_to_imap ('s'));
    g_assert_null (nms_maildir_flag_to_imap ('a'));
    g_assert_null (nms_maildir_flag_to_imap ('X'));
    g_assert_null (nms_maildir_flag_to_imap ('\0'));
}

static void
test_flags_both_ways (void)
{
    for (const char *l = "DFPRST"; *l != '\0'; l++) {
        const char *imap = nms_maildir_flag_to_imap (*l);
        g_autofree char *back = nms_maildir_flags_from_imap (&imap, 1);
        char expected[2] = { *l, '\0' };

        g_assert_cmpstr (back, ==, expected);
    }
}

static void
test_flags_normalize_and_has (void)
{
    static const char *const cases[][2] = {
        { "", "" },       { "S", "S" },     { "SFS", "FS" },   { "baSF", "FSab" },
        { "TSRPFD", "DFPRST" }, { "S1-F,", "FS" }, { "zzaA", "Aaz" },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autofree char *got = nms_maildir_flags_normalize (cases[i][0]);
        g_assert_cmpstr (got, ==, cases[i][1]);
    }
    g_assert_true (nms_maildir_flags_has ("FS", 'S'));
    g_assert_true (nms_maildir_flags_has ("FS", 'F'));
    g_assert_false (nms_maildir_flags_has ("FS", 'R'));
    g_assert_false (nms_maildir_flags_has ("FS", 's'));
    g_assert_false (nms_maildir_flags_has ("", 'S'));
    g_assert_false (nms_maildir_flags_has (NULL, 'S'));
    g_assert_false (nms_maildir_flags_has ("FS", '\0'));
}

/* ---- folder creation ----------------------------------------------------------------------- */

/* @dir has cur/, new/ and tmp/ (mode 0700), and the maildirfolder marker iff @marker. */
static void
assert_maildir (const char *dir, gboolean marker)
{
    static const char *const subdirs[] = { "cur", "new", "tmp" };
    g_autofree char *marker_path = g_build_filename (dir, "maildirfolder", NULL);

    for (gsize i = 0; i < G_N_ELEMENTS (subdirs); i++) {
        g_autofree char *sub = g_build_filename (dir, subdirs[i], NULL);
        struct stat st;

        g_assert_cmpint (lstat (sub, &st), ==, 0);
        g_assert_true (S_ISDIR (st.st_mode));
        g_assert_cmpint (st.st_mode & 0777, ==, 0700);
    }
    g_assert_cmpint (g_file_test (marker_path, G_FILE_TEST_IS_REGULAR), ==, marker);
}

static void
test_folder_ensure (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *sub = nms_maildir_folder_ensure (f->root, ".a.b", &error);
    g_autofree char *expected_sub = g_build_filename (f->root, ".a.b", NULL);
    g_autofree char *verbatim = NULL;
    g_autofree char *expected_verbatim = g_build_filename (f->root, "x", "y", NULL);
    g_autofree char *x = g_build_filename (f->root, "x", NULL);
    g_autofree char *top = NULL;
    g_autofree char *listing = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (sub, ==, expected_sub);
    assert_maildir (sub, TRUE);
    listing = list_dir (sub);
    g_assert_cmpstr (listing, ==, "cur maildirfolder new tmp");
    /* The root (INBOX in maildir++) gets no marker: it is not a subfolder. */
    assert_maildir (f->root, FALSE);
    verbatim = nms_maildir_folder_ensure (f->root, "x/y", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (verbatim, ==, expected_verbatim);
    assert_maildir (verbatim, FALSE);
    /* The verbatim parent is a plain directory, not a Maildir. */
    top = list_dir (x);
    g_assert_cmpstr (top, ==, "y");
}

static void
test_folder_ensure_idempotent (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *first = nms_maildir_folder_ensure (f->root, ".a", &error);
    g_autofree char *msg = NULL;
    g_autofree char *second = NULL;
    g_autofree char *contents = NULL;

    g_assert_no_error (error);
    msg = put_file (first, "cur", "1.M1P1Q1.h,U=1:2,S", "keep me");
    second = nms_maildir_folder_ensure (f->root, ".a", &error);
    g_assert_no_error (error);
    g_assert_cmpstr (second, ==, first);
    contents = read_file (msg, NULL);
    g_assert_cmpstr (contents, ==, "keep me");
    assert_maildir (second, TRUE);
}

static void
test_folder_ensure_new_root (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *root = g_build_filename (f->root, "deep", "mail", NULL);
    g_autofree char *dir = nms_maildir_folder_ensure (root, ".Junk", &error);
    g_autofree char *listing = NULL;

    g_assert_no_error (error);
    assert_maildir (dir, TRUE);
    /* Only the folder asked for becomes a Maildir; the root is just its parent. */
    listing = list_dir (root);
    g_assert_cmpstr (listing, ==, ".Junk");
}

static void
test_folder_ensure_blocked (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *blocker = put_file (f->root, ".x", NULL, "not a directory");
    g_autofree char *dir = nms_maildir_folder_ensure (f->root, ".x", &error);

    g_assert_null (dir);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, blocker));
    g_assert_true (g_file_test (blocker, G_FILE_TEST_IS_REGULAR));
}

/* ---- delivery ------------------------------------------------------------------------------- */

/* The whole-message meaning of the wire -> disk conversion: CRLF -> LF, any other CR kept. */
static GString *
reference_convert (const char *in, gsize len)
{
    GString *out = g_string_sized_new (len);

    for (gsize i = 0; i < len; i++) {
        if (!(in[i] == '\r' && i + 1 < len && in[i + 1] == '\n'))
            g_string_append_c (out, in[i]);
    }
    return out;
}

static NmsMaildirName *
fixed_name (const char *base, guint32 uid, const char *flags)
{
    NmsMaildirName *n = g_new0 (NmsMaildirName, 1);

    n->base = g_strdup (base);
    n->uid = uid;
    n->flags = g_strdup (flags);
    return n;
}

static void
assert_file (const char *path, const char *expected, gsize expected_len)
{
    gsize len = 0;
    g_autofree char *contents = read_file (path, &len);

    g_assert_cmpmem (contents, len, expected, expected_len);
}

static void
test_delivery_exact (Fixture *f, gconstpointer data)
{
    static const char wire[] = "From: a\r\nSubject: x\r\n\r\nbody\r\n";
    static const char disk[] = "From: a\nSubject: x\n\nbody\n";
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) name = fixed_name ("1.M1P1Q1.h", 5, "S");
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);
    g_autofree char *tmp_list = NULL;
    g_autofree char *tmp_path = NULL;
    g_autofree char *path = NULL;
    g_autofree char *expected = g_build_filename (f->folder, "cur", "1.M1P1Q1.h,U=5:2,S", NULL);
    struct stat st;

    g_assert_no_error (error);
    /* The file is created in tmp/ at once, private to the user. */
    tmp_list = list_sub (f, "tmp");
    g_assert_true (g_regex_match_simple ("^[0-9]+\\.M[0-9]+P[0-9]+Q[0-9]+\\.[^ /]+$", tmp_list,
                                         0, 0));
    tmp_path = g_build_filename (f->folder, "tmp", tmp_list, NULL);
    g_assert_cmpint (stat (tmp_path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);

    g_assert_true (nms_maildir_delivery_write (d, wire, strlen (wire), &error));
    g_assert_no_error (error);
    g_assert_cmpuint (nms_maildir_delivery_size (d), ==, strlen (disk));
    path = nms_maildir_delivery_commit (d, name, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (path, ==, expected);
    assert_file (path, disk, strlen (disk));
    g_assert_cmpint (stat (path, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0600);
    assert_sub (f, "tmp", "");
    assert_sub (f, "new", "");
}

static void
test_delivery_crlf_chunks (Fixture *f, gconstpointer data)
{
    static const struct {
        const char *chunks[4];
        const char *expected;
    } cases[] = {
        { { "a\r", "\nb" }, "a\nb" },         /* CRLF split across chunks */
        { { "a\r", "b" }, "a\rb" },           /* lone CR at a chunk end */
        { { "a\r", "\r\nb" }, "a\r\nb" },     /* lone CR, then a CRLF */
        { { "a\r", "", "\n" }, "a\n" },       /* an empty chunk in between changes nothing */
        { { "a\rb\r\n" }, "a\rb\n" },
        { { "\r\r\n" }, "\r\n" },
        { { "abc\r" }, "abc\r" },             /* a CR at the very end stays */
        { { "abc", "\r" }, "abc\r" },
        { { "\r", "\r", "\r" }, "\r\r\r" },
        { { "\n\r\n\r" }, "\n\n\r" },
        { { "x\r\n", "\r\n", "\r", "\n" }, "x\n\n\n" },
        { { NULL }, "" },                     /* an empty message */
    };

    for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsMaildirName) name = nms_maildir_name_new ((guint32) i + 1, "");
        NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);
        g_autoptr (GString) all = g_string_new (NULL);
        g_autofree char *path = NULL;
        guint64 expected_size;

        g_assert_no_error (error);
        for (int c = 0; c < 4 && cases[i].chunks[c] != NULL; c++) {
            g_string_append (all, cases[i].chunks[c]);
            g_assert_true (nms_maildir_delivery_write (d, cases[i].chunks[c],
                                                       strlen (cases[i].chunks[c]), &error));
            g_assert_no_error (error);
        }
        /* A final CR is counted once commit knows nothing follows it. */
        expected_size = strlen (cases[i].expected)
                        - (all->len > 0 && all->str[all->len - 1] == '\r' ? 1 : 0);
        g_assert_cmpuint (nms_maildir_delivery_size (d), ==, expected_size);
        path = nms_maildir_delivery_commit (d, name, TRUE, &error);
        g_assert_no_error (error);
        assert_file (path, cases[i].expected, strlen (cases[i].expected));
    }
}

static void
test_delivery_random_chunks (Fixture *f, gconstpointer data)
{
    static const char alphabet[] = "\r\r\n\nab";
    char wire[3000];
    g_autoptr (GString) expected = NULL;

    for (gsize i = 0; i < sizeof wire; i++)
        wire[i] = alphabet[g_test_rand_int_range (0, (int) sizeof alphabet - 1)];
    expected = reference_convert (wire, sizeof wire);
    /* Byte by byte first, then random chunk sizes: the result must not depend on them. */
    for (int round = 0; round < 20; round++) {
        g_autoptr (GError) error = NULL;
        g_autoptr (NmsMaildirName) name = nms_maildir_name_new ((guint32) round + 1, NULL);
        NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);
        g_autofree char *path = NULL;
        gsize pos = 0;

        g_assert_no_error (error);
        while (pos < sizeof wire) {
            gsize n = round == 0 ? 1 : (gsize) g_test_rand_int_range (0, 64);

            n = MIN (n, sizeof wire - pos);
            g_assert_true (nms_maildir_delivery_write (d, wire + pos, n, &error));
            pos += n;
        }
        path = nms_maildir_delivery_commit (d, name, TRUE, &error);
        g_assert_no_error (error);
        assert_file (path, expected->str, expected->len);
    }
}

static void
test_delivery_new_vs_cur (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) unseen = fixed_name ("1.M1P1Q1.h", 1, "");
    g_autoptr (NmsMaildirName) plain = fixed_name ("2.M1P1Q1.h", 0, NULL);
    NmsMaildirDelivery *a = nms_maildir_delivery_begin (f->folder, &error);
    NmsMaildirDelivery *b = nms_maildir_delivery_begin (f->folder, &error);
    g_autofree char *tmp_list = list_sub (f, "tmp");
    g_autofree char *pa = NULL;
    g_autofree char *pb = NULL;

    g_assert_no_error (error);
    /* Two deliveries at once get two different tmp files. */
    g_assert_nonnull (strchr (tmp_list, ' '));
    g_assert_true (nms_maildir_delivery_write (a, "A", 1, &error));
    g_assert_true (nms_maildir_delivery_write (b, "B", 1, &error));
    pa = nms_maildir_delivery_commit (a, unseen, TRUE, &error);
    g_assert_no_error (error);
    pb = nms_maildir_delivery_commit (b, plain, FALSE, &error);
    g_assert_no_error (error);
    /* mbsync writes ":2," even in new/ (LIBRARIES.md §5); without flags there is no info. */
    assert_sub (f, "new", "1.M1P1Q1.h,U=1:2,");
    assert_sub (f, "cur", "2.M1P1Q1.h");
    assert_sub (f, "tmp", "");
    assert_file (pa, "A", 1);
    assert_file (pb, "B", 1);
}

/* A batch: nothing reaches cur/ or new/ before the commit; the commit lands every file under
 * its name, in order, complete, and empties tmp/; a rename that would replace a file stops
 * the batch there (the files before it land), and a batch freed uncommitted leaves nothing. */
static void
test_delivery_batch (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirBatch) b = nms_maildir_batch_new (f->folder);
    g_autoptr (NmsMaildirName) unseen = fixed_name ("1.M1P1Q1.h", 1, "");
    g_autoptr (NmsMaildirName) seen = fixed_name ("2.M1P1Q1.h", 2, "S");
    g_autoptr (NmsMaildirName) again = fixed_name ("2.M1P1Q1.h", 2, "S");
    g_autoptr (NmsMaildirName) after = fixed_name ("3.M1P1Q1.h", 3, "S");
    g_autoptr (NmsMaildirName) fourth = fixed_name ("4.M1P1Q1.h", 4, "");
    g_autofree char *kept = g_build_filename (f->folder, "cur", "2.M1P1Q1.h,U=2:2,S", NULL);
    g_autofree char *third = g_build_filename (f->folder, "cur", "3.M1P1Q1.h,U=3:2,S", NULL);
    g_autoptr (GPtrArray) paths = NULL;
    NmsMaildirDelivery *d;

    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_delivery_write (d, "A\r\n", 3, &error));
    g_assert_true (nms_maildir_batch_add (b, d, unseen, TRUE, &error));
    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_delivery_write (d, "B\r", 2, &error));
    g_assert_true (nms_maildir_batch_add (b, d, seen, FALSE, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (nms_maildir_batch_size (b), ==, 2);
    assert_sub (f, "cur", "");
    assert_sub (f, "new", "");
    g_assert_true (nms_maildir_batch_commit (b, &paths, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (paths->len, ==, 2);
    g_assert_true (g_str_has_suffix (g_ptr_array_index (paths, 0), "/new/1.M1P1Q1.h,U=1:2,"));
    g_assert_true (g_str_has_suffix (g_ptr_array_index (paths, 1), "/cur/2.M1P1Q1.h,U=2:2,S"));
    assert_file (g_ptr_array_index (paths, 0), "A\n", 2);
    assert_file (g_ptr_array_index (paths, 1), "B\r", 2);
    assert_sub (f, "tmp", "");
    g_assert_cmpuint (nms_maildir_batch_size (b), ==, 0);
    g_clear_pointer (&paths, g_ptr_array_unref);

    /* The second file would replace one: the first lands, the second and third do not. */
    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_batch_add (b, d, fourth, TRUE, &error));
    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_batch_add (b, d, again, FALSE, &error));
    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_batch_add (b, d, after, FALSE, &error));
    g_assert_no_error (error);
    g_assert_false (nms_maildir_batch_commit (b, &paths, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_cmpuint (paths->len, ==, 1);
    g_assert_true (g_str_has_suffix (g_ptr_array_index (paths, 0), "/new/4.M1P1Q1.h,U=4:2,"));
    assert_file (g_ptr_array_index (paths, 0), "", 0);
    assert_sub (f, "tmp", "");
    assert_file (kept, "B\r", 2);
    g_assert_false (g_file_test (third, G_FILE_TEST_EXISTS));
    g_clear_error (&error);
    g_clear_pointer (&paths, g_ptr_array_unref);

    /* Freed before the commit: the tmp files go, nothing lands. */
    d = nms_maildir_delivery_begin (f->folder, &error);
    g_assert_true (nms_maildir_batch_add (b, d, after, FALSE, &error));
    g_assert_no_error (error);
    g_clear_pointer (&b, nms_maildir_batch_free);
    assert_sub (f, "tmp", "");
    g_assert_false (g_file_test (third, G_FILE_TEST_EXISTS));
}

static void
test_delivery_abort (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);

    g_assert_no_error (error);
    g_assert_true (nms_maildir_delivery_write (d, "partial\r", 8, &error));
    nms_maildir_delivery_abort (d);
    nms_maildir_delivery_abort (NULL);
    {
        /* Leaving a scope with a g_autoptr delivery aborts it too. */
        g_autoptr (NmsMaildirDelivery) scoped = nms_maildir_delivery_begin (f->folder, &error);
        g_assert_no_error (error);
        g_assert_true (nms_maildir_delivery_write (scoped, "x", 1, &error));
    }
    assert_sub (f, "tmp", "");
    assert_sub (f, "cur", "");
    assert_sub (f, "new", "");
}

static void
test_delivery_refuses_overwrite (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) name = fixed_name ("1.M1P1Q1.h", 3, "S");
    g_autofree char *existing = put_file (f->folder, "cur", "1.M1P1Q1.h,U=3:2,S", "old");
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);
    g_autofree char *path = NULL;

    g_assert_no_error (error);
    g_assert_true (nms_maildir_delivery_write (d, "new", 3, &error));
    path = nms_maildir_delivery_commit (d, name, FALSE, &error);
    g_assert_null (path);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, existing));
    g_assert_nonnull (strstr (error->message, g_strerror (EEXIST)));
    assert_file (existing, "old", 3);
    assert_sub (f, "tmp", "");
    assert_sub (f, "cur", "1.M1P1Q1.h,U=3:2,S");
}

static void
test_delivery_large (Fixture *f, gconstpointer data)
{
    const gsize total = 5 * 1024 * 1024;
    const gsize chunk = 64 * 1024;
    g_autofree char *wire = g_malloc (total);
    g_autoptr (GString) expected = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (NmsMaildirName) name = nms_maildir_name_new (1, "S");
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);
    g_autofree char *path = NULL;
    int split_crlf = 0;

    g_assert_no_error (error);
    /* 77 characters and CRLF per line: 79 does not divide 64 KiB, so CRLFs straddle chunks. */
    for (gsize i = 0; i < total; i++)
        wire[i] = i % 79 == 77 ? '\r' : i % 79 == 78 ? '\n' : (char) ('a' + i % 26);
    expected = reference_convert (wire, total);
    for (gsize pos = 0; pos < total; pos += chunk) {
        gsize n = MIN (chunk, total - pos);

        split_crlf += wire[pos + n - 1] == '\r' && pos + n < total;
        g_assert_true (nms_maildir_delivery_write (d, wire + pos, n, &error));
        g_assert_no_error (error);
    }
    g_assert_cmpint (split_crlf, >, 0);
    g_assert_cmpuint (nms_maildir_delivery_size (d), ==, expected->len);
    path = nms_maildir_delivery_commit (d, name, FALSE, &error);
    g_assert_no_error (error);
    assert_file (path, expected->str, expected->len);
}

static void
test_delivery_begin_missing (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *folder = g_build_filename (f->root, ".nope", NULL);
    g_autofree char *tmp = g_build_filename (folder, "tmp", NULL);
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (folder, &error);

    g_assert_null (d);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, tmp));
}

/* A process id that no process has: a child that has exited and been reaped. */
static pid_t
dead_pid (void)
{
    pid_t pid = fork ();

    g_assert_cmpint (pid, >=, 0);
    if (pid == 0)
        _exit (0);
    g_assert_cmpint (waitpid (pid, NULL, 0), ==, pid);
    return pid;
}

/* Writes tmp/@name; returns @name (transfer full: takes it). */
static char *
put_tmp (const Fixture *f, char *name)
{
    g_autofree char *path = g_build_filename (f->folder, "tmp", name, NULL);

    g_assert_true (g_file_set_contents (path, "partial", -1, NULL));
    return name;
}

/* Only nmsync's own leftovers of a process that is gone are removed. */
static void
test_tmp_cleanup (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *host = nms_maildir_escaped_host ();
    g_autofree char *tmp = g_build_filename (f->folder, "tmp", NULL);
    g_autofree char *own_dir = NULL, *keep = NULL, *kept = NULL;
    pid_t dead = dead_pid ();
    g_autofree char *gone = g_strdup_printf ("1700000000.M1P%dQ3.%s,nmsync-tmp", (int) dead, host);
    g_autofree char *live = put_tmp (f, g_strdup_printf ("1700000000.M2P%dQ1.%s,nmsync-tmp",
                                                          (int) getppid (), host));
    g_autofree char *other_host = put_tmp (f, g_strdup_printf (
                                              "1700000000.M3P%dQ1.%s.elsewhere,nmsync-tmp",
                                              (int) dead, host));
    g_autofree char *foreign = put_tmp (f, g_strdup_printf ("1700000000.M4P%dQ1.%s",
                                                             (int) dead, host));
    g_autofree char *dovecot = put_tmp (f, g_strdup ("1700000000.M5P1.mailhost,S=7"));
    g_autofree char *no_pid = put_tmp (f, g_strdup_printf ("1700000000.M6PQ1.%s,nmsync-tmp", host));
    guint removed = 99;
    NmsMaildirDelivery *d = nms_maildir_delivery_begin (f->folder, &error);

    g_assert_no_error (error);
    g_free (put_tmp (f, g_strdup (gone)));
    /* A directory with one of our names is not a file: kept. */
    own_dir = g_strdup_printf ("1700000000.M7P%dQ9.%s,nmsync-tmp", (int) dead, host);
    {
        g_autofree char *p = g_build_filename (tmp, own_dir, NULL);
        g_assert_cmpint (mkdir (p, 0700), ==, 0);
    }
    g_assert_true (nms_maildir_tmp_cleanup (f->folder, &removed, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (removed, ==, 1);
    {
        g_autofree char *p = g_build_filename (tmp, gone, NULL);
        g_assert_false (g_file_test (p, G_FILE_TEST_EXISTS));
    }
    kept = list_dir (tmp);
    /* This process's own delivery in progress stays too: 8 entries minus the one removed. */
    g_assert_nonnull (strstr (kept, live));
    g_assert_nonnull (strstr (kept, other_host));
    g_assert_nonnull (strstr (kept, foreign));
    g_assert_nonnull (strstr (kept, dovecot));
    g_assert_nonnull (strstr (kept, no_pid));
    g_assert_nonnull (strstr (kept, own_dir));
    keep = g_strdup_printf ("P%dQ", (int) getpid ());
    g_assert_nonnull (strstr (kept, keep));
    nms_maildir_delivery_abort (d);
    /* No tmp/ at all is fine. */
    {
        g_autofree char *none = g_build_filename (f->root, ".none", NULL);
        g_assert_true (nms_maildir_tmp_cleanup (none, &removed, &error));
        g_assert_cmpuint (removed, ==, 0);
    }
}

static void
test_error_translation (void)
{
    g_autoptr (GError) nospace = NULL;
    g_autoptr (GError) io = NULL;
    GError *fs_error = NULL;

    /* ENOSPC/EDQUOT from write, fsync or close all reach delivery through NMS_FS_ERROR. */
    nms_fs_set_error (&fs_error, ENOSPC, "cannot fsync", "/m/tmp/1");
    g_assert_false (nms_maildir_propagate_fs_error (&nospace, fs_error));
    g_assert_error (nospace, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_NOSPACE);
    g_assert_cmpstr (nospace->message, ==, "cannot fsync '/m/tmp/1': No space left on device");
    fs_error = NULL;
    nms_fs_set_error (&fs_error, EDQUOT, "cannot close", "/m/tmp/1");
    g_clear_error (&nospace);
    nms_maildir_propagate_fs_error (&nospace, fs_error);
    g_assert_error (nospace, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_NOSPACE);
    fs_error = NULL;
    nms_fs_set_error (&fs_error, EIO, "cannot write", "/m/tmp/1");
    nms_maildir_propagate_fs_error (&io, fs_error);
    g_assert_error (io, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
}

/* ---- scans ---------------------------------------------------------------------------------- */

static void
test_scan (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) entries = NULL;
    g_autofree char *a = put_file (f->folder, "cur", "2.M1P1Q1.h,U=2:2,FS", "");
    g_autofree char *b = put_file (f->folder, "cur", "1.M1P1Q1.h,U=1:2,S", "");
    g_autofree char *c = put_file (f->folder, "new", "3.M1P1Q1.h,U=3:2,", "");
    g_autofree char *bad = put_file (f->folder, "new", "4.M1P1Q1.h:2,SF", "");
    g_autofree char *t = put_file (f->folder, "tmp", "5.M1P1Q1.h:2,S", "");
    g_autofree char *hidden = put_file (f->folder, "cur", ".hidden:2,S", "");
    g_autofree char *subdir = g_build_filename (f->folder, "cur", "6.M1P1Q1.h:2,S", NULL);
    g_autofree char *link = g_build_filename (f->folder, "cur", "7.M1P1Q1.h:2,S", NULL);
    NmsMaildirEntry *e;

    g_assert_cmpint (mkdir (subdir, 0700), ==, 0);
    g_assert_cmpint (symlink (b, link), ==, 0);
    entries = nms_maildir_scan (f->folder, &error);
    g_assert_no_error (error);
    /* Sorted by path: cur/ before new/, names in byte order; tmp/, dot files and directories
     * are not listed. */
    g_assert_cmpuint (entries->len, ==, 5);
    e = entries->pdata[0];
    g_assert_cmpstr (e->path, ==, b);
    g_assert_cmpstr (e->subdir, ==, "cur");
    g_assert_cmpuint (e->name->uid, ==, 1);
    g_assert_cmpstr (e->name->flags, ==, "S");
    g_assert_null (e->problem);
    e = entries->pdata[1];
    g_assert_cmpstr (e->path, ==, a);
    g_assert_cmpstr (e->name->base, ==, "2.M1P1Q1.h");
    g_assert_cmpstr (e->name->flags, ==, "FS");
    e = entries->pdata[2];
    /* A symbolic link is reported, not followed. */
    g_assert_cmpstr (e->path, ==, link);
    g_assert_null (e->name);
    g_assert_cmpstr (e->problem, ==, "symbolic link, not followed");
    e = entries->pdata[3];
    g_assert_cmpstr (e->path, ==, c);
    g_assert_cmpstr (e->subdir, ==, "new");
    g_assert_cmpstr (e->name->flags, ==, "");
    e = entries->pdata[4];
    g_assert_cmpstr (e->path, ==, bad);
    g_assert_null (e->name);
    g_assert_cmpstr (e->problem, ==,
                     "file name '4.M1P1Q1.h:2,SF': flags are not sorted unique letters");
    g_assert_true (g_file_test (t, G_FILE_TEST_EXISTS));
    g_assert_true (g_file_test (hidden, G_FILE_TEST_EXISTS));
}

static void
test_scan_missing (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->root, ".missing", NULL);
    g_autofree char *partial = g_build_filename (f->root, ".partial", NULL);
    g_autofree char *partial_new = g_build_filename (partial, "new", NULL);
    g_autoptr (GPtrArray) none = nms_maildir_scan (missing, &error);
    g_autoptr (GPtrArray) some = NULL;
    g_autoptr (GPtrArray) empty = NULL;

    (void) data;
    /* A missing folder is an error, never an empty folder: its messages are not deleted. */
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_null (none);
    g_clear_error (&error);
    /* Only new/ exists: cur/ may be on a disk that went away; an error as well. */
    g_assert_cmpint (g_mkdir_with_parents (partial_new, 0700), ==, 0);
    g_free (put_file (partial, "new", "1.M1P1Q1.h,U=1:2,", ""));
    some = nms_maildir_scan (partial, &error);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_null (some);
    g_clear_error (&error);
    empty = nms_maildir_scan (f->folder, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (empty->len, ==, 0);
}

static void
test_scan_not_a_directory (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *folder = g_build_filename (f->root, ".odd", NULL);
    g_autofree char *cur = NULL;
    g_autoptr (GPtrArray) entries = NULL;

    g_autofree char *new_dir = g_build_filename (folder, "new", NULL);

    g_assert_cmpint (g_mkdir_with_parents (new_dir, 0700), ==, 0);
    cur = put_file (folder, "cur", NULL, "a file where cur/ should be");
    entries = nms_maildir_scan (folder, &error);
    g_assert_null (entries);
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, cur));
}

/* ---- flag changes and removal ------------------------------------------------------------- */

static char *
set_flags_ok (const char *path, const char *flags)
{
    g_autoptr (GError) error = NULL;
    char *result = nms_maildir_set_flags (path, flags, &error);

    g_assert_no_error (error);
    g_assert_nonnull (result);
    return result;
}

static void
test_set_flags_new_to_cur (Fixture *f, gconstpointer data)
{
    g_autofree char *path = put_file (f->folder, "new", "1.M1P1Q1.h,U=1:2,", "body");
    g_autofree char *expected = g_build_filename (f->folder, "cur", "1.M1P1Q1.h,U=1:2,S", NULL);
    g_autofree char *moved = set_flags_ok (path, "S");

    /* Seen: out of new/, ",U=" kept. */
    g_assert_cmpstr (moved, ==, expected);
    assert_sub (f, "new", "");
    assert_file (moved, "body", 4);
}

static void
test_set_flags_stays (Fixture *f, gconstpointer data)
{
    g_autofree char *in_new = put_file (f->folder, "new", "1.M1P1Q1.h,U=1:2,", "");
    g_autofree char *in_cur = put_file (f->folder, "cur", "2.M1P1Q1.h,U=2:2,FS", "");
    g_autofree char *want_new = g_build_filename (f->folder, "new", "1.M1P1Q1.h,U=1:2,F", NULL);
    g_autofree char *want_cur = g_build_filename (f->folder, "cur", "2.M1P1Q1.h,U=2:2,", NULL);
    g_autofree char *flagged = set_flags_ok (in_new, "F");
    g_autofree char *unseen = set_flags_ok (in_cur, "");

    /* Without S a new/ message stays in new/; a cur/ message never goes back to new/. */
    g_assert_cmpstr (flagged, ==, want_new);
    g_assert_cmpstr (unseen, ==, want_cur);
    assert_sub (f, "new", "1.M1P1Q1.h,U=1:2,F");
    assert_sub (f, "cur", "2.M1P1Q1.h,U=2:2,");
}

static void
test_set_flags_unchanged (Fixture *f, gconstpointer data)
{
    g_autofree char *path = put_file (f->folder, "cur", "1.M1P1Q1.h,U=1:2,FS", "x");
    g_autofree char *same = set_flags_ok (path, "FS");

    g_assert_cmpstr (same, ==, path);
    g_assert_true (same != path);
    assert_sub (f, "cur", "1.M1P1Q1.h,U=1:2,FS");
}

static void
test_set_flags_keeps_fields (Fixture *f, gconstpointer data)
{
    g_autofree char *path = put_file (f->folder, "cur", "1.M1P7.h,S=10,U=5,W=12:2,S", "");
    g_autofree char *bare = put_file (f->folder, "new", "2.M1P7.h", "");
    g_autofree char *want = g_build_filename (f->folder, "cur", "1.M1P7.h,S=10,U=5,W=12:2,FRS",
                                              NULL);
    g_autofree char *want_bare = g_build_filename (f->folder, "cur", "2.M1P7.h:2,S", NULL);
    g_autofree char *renamed = set_flags_ok (path, "FRS");
    g_autofree char *renamed_bare = set_flags_ok (bare, "S");

    /* Only the info changes: ",U=" and the other fields stay where they were. */
    g_assert_cmpstr (renamed, ==, want);
    /* A name without info gets one. */
    g_assert_cmpstr (renamed_bare, ==, want_bare);
}

static void
test_set_flags_errors (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *missing = g_build_filename (f->folder, "cur", "9.M1P1Q1.h,U=9:2,", NULL);
    g_autofree char *bad = put_file (f->folder, "cur", "1.M1P1Q1.h,U=1:2,SF", "");
    g_autofree char *in_tmp = put_file (f->folder, "tmp", "2.M1P1Q1.h:2,", "");
    g_autofree char *src = put_file (f->folder, "new", "3.M1P1Q1.h,U=3:2,", "mine");
    g_autofree char *dst = put_file (f->folder, "cur", "3.M1P1Q1.h,U=3:2,S", "theirs");

    g_assert_null (nms_maildir_set_flags (missing, "S", &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, missing));
    g_clear_error (&error);
    /* A name we cannot parse is never renamed. */
    g_assert_null (nms_maildir_set_flags (bad, "S", &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME);
    g_assert_true (g_file_test (bad, G_FILE_TEST_EXISTS));
    g_clear_error (&error);
    g_assert_null (nms_maildir_set_flags (in_tmp, "S", &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_NAME);
    g_assert_true (g_file_test (in_tmp, G_FILE_TEST_EXISTS));
    g_clear_error (&error);
    /* An existing target is another message: never replaced. */
    g_assert_null (nms_maildir_set_flags (src, "S", &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    assert_file (src, "mine", 4);
    assert_file (dst, "theirs", 6);
}

static void
test_remove (Fixture *f, gconstpointer data)
{
    g_autoptr (GError) error = NULL;
    g_autofree char *path = put_file (f->folder, "cur", "1.M1P1Q1.h,U=1:2,S", "");
    g_autofree char *gone_dir = g_build_filename (f->root, ".gone", "cur", "x", NULL);
    g_autofree char *dir = g_build_filename (f->folder, "cur", NULL);

    g_assert_true (nms_maildir_remove (path, &error));
    g_assert_no_error (error);
    assert_sub (f, "cur", "");
    /* Already gone is fine, also when its directory is gone. */
    g_assert_true (nms_maildir_remove (path, &error));
    g_assert_no_error (error);
    g_assert_true (nms_maildir_remove (gone_dir, &error));
    g_assert_no_error (error);
    /* A directory is not a message file. */
    g_assert_false (nms_maildir_remove (dir, &error));
    g_assert_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_IO);
    g_assert_nonnull (strstr (error->message, dir));
}

#define ADD(name, func) g_test_add (name, Fixture, NULL, fixture_setup, func, fixture_teardown)

/* A server can send a folder name of any size: the error quotes its start and its length. */
static void
test_folder_long_name_message (void)
{
    g_autoptr (GString) utf8 = g_string_new (NULL);
    g_autofree char *ascii = g_strnfill (10000, 'n');
    g_autoptr (GError) error = NULL;
    g_autofree char *path = nms_maildir_folder_to_path (ascii, '/', NMS_MAILDIR_LAYOUT_MAILDIRPP,
                                                        &error);

    g_assert_null (path);
    g_assert_nonnull (error);
    g_assert_cmpuint (strlen (error->message), <, 400);
    g_assert_nonnull (strstr (error->message, "nnnn... (10000 bytes)"));
    g_clear_error (&error);
    for (int i = 0; i < 3000; i++)
        g_string_append (utf8, "\xc3\xa9");
    path = nms_maildir_folder_to_path (utf8->str, '/', NMS_MAILDIR_LAYOUT_VERBATIM, &error);
    g_assert_null (path);
    g_assert_true (g_utf8_validate (error->message, -1, NULL));
    g_assert_nonnull (strstr (error->message, "\xc3\xa9... (6000 bytes)"));
}

int
main (int argc, char **argv)
{
    g_test_init (&argc, &argv, NULL);

    g_test_add_func ("/maildir/name/parse", test_name_parse);
    g_test_add_func ("/maildir/name/parse-without-info", test_name_parse_without_info);
    g_test_add_func ("/maildir/name/parse-bad", test_name_parse_bad);
    g_test_add_func ("/maildir/name/parse-messages", test_name_parse_messages);
    g_test_add_func ("/maildir/name/round-trip", test_name_round_trip);
    g_test_add_func ("/maildir/name/uid-drop-and-set", test_name_uid_drop_and_set);
    g_test_add_func ("/maildir/name/format", test_name_format);
    g_test_add_func ("/maildir/name/new", test_name_new);
    g_test_add_func ("/maildir/name/new-unique", test_name_new_unique);
    g_test_add_func ("/maildir/flags/from-imap", test_flags_from_imap);
    g_test_add_func ("/maildir/flags/to-imap", test_flags_to_imap);
    g_test_add_func ("/maildir/flags/both-ways", test_flags_both_ways);
    g_test_add_func ("/maildir/flags/normalize-and-has", test_flags_normalize_and_has);
    ADD ("/maildir/folder/ensure", test_folder_ensure);
    ADD ("/maildir/folder/ensure-idempotent", test_folder_ensure_idempotent);
    ADD ("/maildir/folder/ensure-new-root", test_folder_ensure_new_root);
    ADD ("/maildir/folder/ensure-blocked", test_folder_ensure_blocked);
    ADD ("/maildir/delivery/exact", test_delivery_exact);
    ADD ("/maildir/delivery/crlf-chunks", test_delivery_crlf_chunks);
    ADD ("/maildir/delivery/random-chunks", test_delivery_random_chunks);
    ADD ("/maildir/delivery/new-vs-cur", test_delivery_new_vs_cur);
    ADD ("/maildir/delivery/abort", test_delivery_abort);
    ADD ("/maildir/delivery/batch", test_delivery_batch);
    ADD ("/maildir/delivery/refuses-overwrite", test_delivery_refuses_overwrite);
    ADD ("/maildir/delivery/large", test_delivery_large);
    ADD ("/maildir/delivery/begin-missing", test_delivery_begin_missing);
    g_test_add_func ("/maildir/delivery/error-translation", test_error_translation);
    g_test_add_func ("/maildir/folder/long-name-message", test_folder_long_name_message);
    ADD ("/maildir/scan/entries", test_scan);
    ADD ("/maildir/scan/missing", test_scan_missing);
    ADD ("/maildir/scan/not-a-directory", test_scan_not_a_directory);
    ADD ("/maildir/set-flags/new-to-cur", test_set_flags_new_to_cur);
    ADD ("/maildir/set-flags/stays", test_set_flags_stays);
    ADD ("/maildir/set-flags/unchanged", test_set_flags_unchanged);
    ADD ("/maildir/set-flags/keeps-fields", test_set_flags_keeps_fields);
    ADD ("/maildir/set-flags/errors", test_set_flags_errors);
    ADD ("/maildir/remove", test_remove);
    ADD ("/maildir/tmp-cleanup", test_tmp_cleanup);
    return g_test_run ();
}

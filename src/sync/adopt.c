/* SPDX-License-Identifier: GPL-3.0-or-later
 * `nmsync adopt`: exact pairing from what another program recorded in a folder directory,
 * before the pairing by content (content.c) takes the rest.
 * - A copy of the server's own Dovecot Maildir: "dovecot-uidlist" maps each file's base name
 *   to its UID and carries the UIDVALIDITY ("3 V<uidvalidity> N<nextuid> ...", then
 *   "<uid> [fields] :<base>", or "<uid> <base>" in the first format).
 * - An mbsync spool: ".mbsyncstate" pairs mbsync's Maildir UIDs (the ",U=" it wrote) with the
 *   server's ("FarUidValidity N" / "NearUidValidity N" header lines, an empty line, then
 *   "<far_uid> <near_uid> <flags>"), and ".uidvalidity" says which Maildir UIDs the names carry;
 *   with SyncState naming a directory (adopt --mbsync-state DIR), the state files are there.
 * A record is used only when its UIDVALIDITY is the server's (and, for mbsync, the Maildir's):
 * otherwise its UIDs name other messages, and the files pair by content. A UID the server no
 * longer has, or that two files claim, pairs nothing. Nothing here writes, except --clean
 * (nms_sync_adopt_clean), which removes mbsync's files once a folder is adopted. */
#include "nms-build.h"

#include "sync/sync-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads @name in @dir; NULL when it is absent or unreadable (then nothing pairs from it). */
static char *
read_record (const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename (dir, name, NULL);
    char *text = NULL;

    if (!g_file_get_contents (path, &text, NULL, NULL))
        return NULL;
    return text;
}

static gboolean
parse_u32 (const char *s, guint32 *out)
{
    char *end = NULL;
    guint64 v;

    if (!g_ascii_isdigit (*s))
        return FALSE;
    v = g_ascii_strtoull (s, &end, 10);
    if (v == 0 || v > G_MAXUINT32 || (*end != '\0' && !g_ascii_isspace (*end)))
        return FALSE;
    *out = (guint32) v;
    return TRUE;
}

/* dovecot-uidlist: base name -> UID (GUINT_TO_POINTER), NULL when absent or not for
 * @uidvalidity (*@other_out: it exists but names another UIDVALIDITY). */
static GHashTable *
dovecot_map (const char *dir, guint32 uidvalidity, gboolean *other_out)
{
    g_autofree char *text = read_record (dir, "dovecot-uidlist");
    g_auto (GStrv) lines = NULL;
    g_autoptr (GHashTable) map = NULL;
    guint32 v = 0;

    if (text == NULL)
        return NULL;
    lines = g_strsplit (text, "\n", -1);
    if (lines[0] == NULL)
        return NULL;
    if (g_str_has_prefix (lines[0], "1 ")) {
        parse_u32 (lines[0] + 2, &v);
    } else {
        g_auto (GStrv) fields = g_strsplit (lines[0], " ", -1);

        for (char **f = fields; *f != NULL; f++) {
            if ((*f)[0] == 'V')
                parse_u32 (*f + 1, &v);
        }
    }
    if (v != uidvalidity) {
        *other_out = TRUE;
        return NULL;
    }
    map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
    for (char **l = lines + 1; *l != NULL; l++) {
        const char *base = strstr (*l, " :");
        guint32 uid;

        if (!parse_u32 (*l, &uid))
            continue;
        if (base != NULL)
            base += 2;
        else if ((base = strchr (*l, ' ')) != NULL)
            base++;
        if (base != NULL && *base != '\0')
            g_hash_table_insert (map, g_strdup (g_strchomp ((char *) base)), GUINT_TO_POINTER (uid));
    }
    return g_steal_pointer (&map);
}

/* The state file mbsync keeps for @folder in its SyncState directory @state_dir:
 * "<near box>" for a channel's SyncState, ":<far store>:<box>_:<near store>:<near box>" for
 * the global one, '/' in box names written as '!'. NULL when there is none. (transfer full) */
static char *
mbsync_state_path (const char *state_dir, const char *folder)
{
    g_autofree char *box = g_strdelimit (g_strdup (folder), "/", '!');
    g_autofree char *suffix = g_strconcat (":", box, NULL);
    g_autofree char *direct = g_build_filename (state_dir, box, NULL);
    g_autoptr (GDir) dir = NULL;
    const char *name;

    if (g_file_test (direct, G_FILE_TEST_IS_REGULAR))
        return g_steal_pointer (&direct);
    if ((dir = g_dir_open (state_dir, 0, NULL)) == NULL)
        return NULL;
    while ((name = g_dir_read_name (dir)) != NULL) {
        const char *near = strstr (name, "_:");
        const char *near_box = near != NULL ? strchr (near + 2, ':') : NULL;

        if (name[0] == ':' && near_box != NULL && strcmp (near_box, suffix) == 0)
            return g_build_filename (state_dir, name, NULL);
    }
    return NULL;
}

static char *
mbsync_state_text (const char *state_dir, const char *folder)
{
    g_autofree char *path = mbsync_state_path (state_dir, folder);
    char *text = NULL;

    if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
        return NULL;
    return text;
}

/* .mbsyncstate (mbsync 1.4; 1.3 spelled the header Master/Slave): mbsync's Maildir UID ->
 * server UID, NULL when absent or not for @uidvalidity and the Maildir's .uidvalidity. */
static GHashTable *
mbsync_map (const char *dir, const char *state_dir, const char *folder, guint32 uidvalidity,
            gboolean *other_out)
{
    g_autofree char *text = state_dir != NULL ? mbsync_state_text (state_dir, folder)
                                              : read_record (dir, ".mbsyncstate");
    g_autofree char *near_text = read_record (dir, ".uidvalidity");
    g_auto (GStrv) lines = NULL;
    g_autoptr (GHashTable) map = NULL;
    guint32 far_v = 0, near_v = 0, maildir_v = 0;
    char **l;

    if (text == NULL)
        return NULL;
    lines = g_strsplit (text, "\n", -1);
    for (l = lines; *l != NULL && **l != '\0'; l++) {
        if (g_str_has_prefix (*l, "FarUidValidity ") || g_str_has_prefix (*l, "MasterUidValidity "))
            parse_u32 (strchr (*l, ' ') + 1, &far_v);
        else if (g_str_has_prefix (*l, "NearUidValidity ") ||
                 g_str_has_prefix (*l, "SlaveUidValidity "))
            parse_u32 (strchr (*l, ' ') + 1, &near_v);
    }
    if (near_text == NULL || !parse_u32 (near_text, &maildir_v) || far_v != uidvalidity ||
        near_v != maildir_v) {
        *other_out = TRUE;
        return NULL;
    }
    map = g_hash_table_new (NULL, NULL);
    for (; *l != NULL; l++) {
        guint32 far, near;
        const char *sp = strchr (*l, ' ');

        /* 0 on a side: not (yet) propagated; a negative or marked UID does not parse */
        if (sp != NULL && parse_u32 (*l, &far) && parse_u32 (sp + 1, &near))
            g_hash_table_insert (map, GUINT_TO_POINTER (near), GUINT_TO_POINTER (far));
    }
    return g_steal_pointer (&map);
}

static gboolean
on_server (GArray *server, guint32 uid)
{
    guint lo = 0, hi = server->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint32 u = g_array_index (server, NmsImapMessageInfo, mid).uid;

        if (u == uid)
            return TRUE;
        if (u < uid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return FALSE;
}

GArray *
nms_sync_adopt_exact (Run *run, const Folder *folder, guint32 uidvalidity, GArray *server,
                      GPtrArray *candidates)
{
    gboolean other_dovecot = FALSE, other_mbsync = FALSE;
    g_autoptr (GHashTable) dovecot = dovecot_map (folder->dir, uidvalidity, &other_dovecot);
    g_autoptr (GHashTable) mbsync = mbsync_map (folder->dir, run->options->mbsync_state,
                                                folder->name, uidvalidity, &other_mbsync);
    g_autoptr (GHashTable) claims = g_hash_table_new (NULL, NULL); /* uid -> claims + 1 */
    g_autofree guint32 *uid_of = g_new0 (guint32, candidates->len);
    GArray *out = g_array_new (FALSE, FALSE, sizeof (NmsAdoptPair));

    if (other_dovecot || other_mbsync)
        nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                         "%s: %s: %s records another UIDVALIDITY than the server's %u (another "
                         "server, or the folder was recreated): pairing by content",
                         run->account->name, folder->name,
                         other_dovecot ? "dovecot-uidlist" : ".mbsyncstate", uidvalidity);
    if (dovecot == NULL && mbsync == NULL)
        return out;
    for (guint i = 0; i < candidates->len; i++) {
        const NmsMaildirEntry *e = g_ptr_array_index (candidates, i);
        gpointer uid = NULL;

        if (dovecot != NULL)
            uid = g_hash_table_lookup (dovecot, e->name->base);
        if (uid == NULL && mbsync != NULL && e->name->uid != 0)
            uid = g_hash_table_lookup (mbsync, GUINT_TO_POINTER (e->name->uid));
        if (uid == NULL || !on_server (server, GPOINTER_TO_UINT (uid)))
            continue;
        uid_of[i] = GPOINTER_TO_UINT (uid);
        g_hash_table_insert (claims, uid,
                             GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (claims, uid)) + 1));
    }
    for (guint i = 0; i < candidates->len; i++) {
        NmsAdoptPair p = { .local = i, .uid = uid_of[i] };

        /* Two files claiming one UID (a copy the user made): neither is trusted here. */
        if (p.uid != 0 &&
            GPOINTER_TO_UINT (g_hash_table_lookup (claims, GUINT_TO_POINTER (p.uid))) == 1)
            g_array_append_val (out, p);
    }
    return out;
}

gboolean
nms_sync_adopt_check (Run *run, GError **error)
{
    const char *name = run->account->name;
    gboolean any = FALSE;

    /* ACCOUNT/FOLDER: only those folders start over; the others keep what they agreed. */
    for (char **f = run->options->folders; f != NULL && *f != NULL; f++) {
        guint64 count = 0;

        if (!nms_state_folder_message_count (run->state, *f, &count, error))
            return FALSE;
        if (count > 0) {
            g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MAILDIR,
                         "the state of account '%s' already records %" G_GUINT64_FORMAT
                         " messages of folder '%s': adopt pairs folders nmsync holds no state "
                         "for; to start over, move the files '%s.*' out of '%s' and run adopt "
                         "again; nothing was changed",
                         name, count, *f, name, run->config->state_dir);
            return FALSE;
        }
    }
    if (run->options->folders != NULL)
        return TRUE;
    if (!nms_state_has_messages (run->state, &any, error))
        return FALSE;
    if (any) {
        g_autoptr (GPtrArray) names = nms_state_folder_names (run->state, error);
        g_autoptr (GString) held = g_string_new (NULL);

        if (names == NULL)
            return FALSE;
        for (guint i = 0; i < names->len; i++) {
            guint64 count = 0;

            if (!nms_state_folder_message_count (run->state, names->pdata[i], &count, error))
                return FALSE;
            if (count > 0)
                g_string_append_printf (held, "%s'%s'", held->len > 0 ? ", " : "",
                                        (char *) names->pdata[i]);
        }
        /* An interrupted adopt leaves some folders recorded: the others can still be adopted
         * one by one (the check above), or the whole state moved away. */
        g_set_error (error, NMS_SYNC_ERROR, NMS_SYNC_ERROR_MAILDIR,
                     "the state of account '%s' already records messages of %s: adopt pairs "
                     "folders nmsync holds no state for; after an interrupted adopt, run "
                     "'nmsync adopt %s/FOLDER' (same options) for each other folder, or, to "
                     "start over, move the files '%s.*' out of '%s' and run adopt again; "
                     "nothing was changed",
                     name, held->str, name, name, run->config->state_dir);
    }
    return !any;
}

void
nms_sync_adopt_report (Run *run, const Folder *folder, GArray *plan, guint local_only)
{
    guint downloads = 0;

    for (guint i = 0; i < plan->len; i++) {
        if (g_array_index (plan, NmsAction, i).kind == NMS_ACTION_DOWNLOAD)
            downloads++;
    }
    nms_context_log (run->ctx, NMS_LEVEL_WARNING,
                     "%s: %s: %u paired exactly, %u by content, %u %s, %u local-only (%s)",
                     run->account->name, folder->name, run->adopt_exact, run->adopt_content,
                     downloads, run->ctx->dry_run ? "to download" : "downloaded", local_only,
                     run->options->adopt_keep_local ? "kept, never uploaded"
                                                    : "uploaded by the next sync");
}

/* mbsync's own files in a folder directory: its state (".mbsyncstate", with ".new",
 * ".journal" and ".lock" beside it while mbsync runs or after it crashed) and the Maildir
 * UIDVALIDITY it numbers its ",U=" by (".uidvalidity"; ".isyncuidmap.db" with AltMap). */
static gboolean
is_mbsync_file (const char *name)
{
    return g_str_has_prefix (name, ".mbsyncstate") || strcmp (name, ".uidvalidity") == 0
           || strcmp (name, ".isyncuidmap.db") == 0;
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
clean_one (Run *run, const Folder *folder, const char *path)
{
    if (run->ctx->dry_run) {
        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s: would remove mbsync's '%s'",
                         run->account->name, folder->name, path);
        return;
    }
    if (unlink (path) != 0) {
        int err = errno;

        nms_context_log (run->ctx, NMS_LEVEL_WARNING, "%s: %s: cannot remove mbsync's '%s': %s",
                         run->account->name, folder->name, path, g_strerror (err));
        return;
    }
    nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: %s: removed mbsync's '%s'",
                     run->account->name, folder->name, path);
}

void
nms_sync_adopt_clean (Run *run, const Folder *folder)
{
    g_autoptr (GDir) dir = g_dir_open (folder->dir, 0, NULL);
    g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
    const char *name;

    /* Names first, removals after: unlinking while reading the directory may skip entries. */
    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
        if (is_mbsync_file (name))
            g_ptr_array_add (names, g_build_filename (folder->dir, name, NULL));
    }
    g_ptr_array_sort (names, compare_paths);
    if (run->options->mbsync_state != NULL) {
        char *path = mbsync_state_path (run->options->mbsync_state, folder->name);

        if (path != NULL)
            g_ptr_array_add (names, path);
    }
    for (guint i = 0; i < names->len; i++)
        clean_one (run, folder, names->pdata[i]);
}

/* dovecot-keywords ("<index> <keyword>" per line): Dovecot's letter 'a' + index -> keyword.
 * NULL when the folder has none. (transfer full: one-letter string -> keyword) */
static GHashTable *
dovecot_keywords (const char *dir)
{
    g_autofree char *text = read_record (dir, "dovecot-keywords");
    g_auto (GStrv) lines = NULL;
    GHashTable *map;

    if (text == NULL)
        return NULL;
    map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    lines = g_strsplit (text, "\n", -1);
    for (char **l = lines; *l != NULL; l++) {
        char *end = NULL;
        guint64 i = g_ascii_strtoull (*l, &end, 10);

        if (end == *l || *end != ' ' || i > 25 || end[1] == '\0')
            continue;
        g_hash_table_insert (map, g_strdup_printf ("%c", (char) ('a' + i)),
                             g_strdup (g_strchomp (end + 1)));
    }
    return map;
}

/* The letter nmsync gives @keyword (its [keywords] rules), compared as IMAP does: without
 * regard to case; 0 when nmsync does not sync it. */
static char
our_letter (Run *run, const char *keyword)
{
    GHashTableIter it;
    gpointer k, v;

    g_hash_table_iter_init (&it, run->keyword_letters);
    while (g_hash_table_iter_next (&it, &k, &v)) {
        if (g_ascii_strcasecmp (k, keyword) == 0)
            return *(const char *) v;
    }
    return 0;
}

/* Sorts @s in place (ASCII, as Maildir names carry flags) and returns it. */
static char *
sorted_letters (char *s)
{
    gsize n = strlen (s);

    for (gsize i = 1; i < n; i++) { /* insertion sort: at most a few dozen letters */
        for (gsize j = i; j > 0 && s[j - 1] > s[j]; j--) {
            char t = s[j];

            s[j] = s[j - 1];
            s[j - 1] = t;
        }
    }
    return s;
}

/* @flags with Dovecot's keyword letters (@dovecot) turned into nmsync's; a keyword nmsync
 * does not sync loses its letter (else a letter nmsync gives another keyword later would say
 * the wrong one). Sorted, as file names carry them. (transfer full) */
static char *
translate_letters (Run *run, GHashTable *dovecot, const char *flags)
{
    GString *out = g_string_new (NULL);

    for (const char *f = flags; *f != '\0'; f++) {
        char letter[2] = { *f, '\0' };
        const char *keyword;
        char ours;

        if (*f < 'a' || *f > 'z') {
            g_string_append_c (out, *f);
            continue;
        }
        keyword = g_hash_table_lookup (dovecot, letter);
        ours = keyword != NULL ? our_letter (run, keyword) : 0;
        if (ours != 0 && strchr (out->str, ours) == NULL)
            g_string_append_c (out, ours);
    }
    return sorted_letters (g_string_free (out, FALSE));
}

void
nms_sync_adopt_keywords (Run *run, const Folder *folder, GPtrArray *candidates)
{
    g_autoptr (GHashTable) dovecot = dovecot_keywords (folder->dir);
    guint changed = 0;

    if (dovecot == NULL)
        return;
    for (guint i = 0; i < candidates->len; i++) {
        NmsMaildirEntry *e = g_ptr_array_index (candidates, i);
        g_autofree char *ours = NULL;

        /* Dovecot never writes ",U=": a name with one was renamed by nmsync (or another
         * tool) already, and its letters are not Dovecot's any more. */
        if (e->name->uid != 0 || e->name->flags == NULL)
            continue;
        ours = translate_letters (run, dovecot, e->name->flags);
        if (strcmp (ours, e->name->flags) == 0)
            continue;
        g_free (e->name->flags);
        e->name->flags = g_steal_pointer (&ours);
        changed++;
    }
    if (changed > 0)
        nms_context_log (run->ctx, NMS_LEVEL_INFO,
                         "%s: %s: keyword letters of %u files read by Dovecot's "
                         "dovecot-keywords", run->account->name, folder->name, changed);
}

char *
nms_sync_adopt_flags_on_disk (const char *path)
{
    g_autofree char *base = g_path_get_basename (path);
    g_autoptr (NmsMaildirName) name = nms_maildir_name_parse (base, NULL);

    return name != NULL && name->flags != NULL ? g_strdup (name->flags) : NULL;
}

/* The state's record of the kept local-only files of a folder: their unique parts, one per
 * line. */
static char *
kept_key (const Folder *folder)
{
    return g_strconcat ("adopt-kept-local:", folder->name, NULL);
}

static gboolean
keep_local (Run *run, const Folder *folder, GPtrArray *fresh, GError **error)
{
    g_autoptr (GString) bases = g_string_new (NULL);
    g_autofree char *key = kept_key (folder);

    for (guint i = 0; i < fresh->len; i++) {
        const NmsMaildirEntry *e = g_ptr_array_index (fresh, i);

        if (strchr (e->name->base, '\n') != NULL)
            continue;
        g_string_append_printf (bases, "%s\n", e->name->base);
        nms_context_log (run->ctx, NMS_LEVEL_INFO, "%s: %s: %s local-only '%s' (never uploaded)",
                         run->account->name, folder->name,
                         run->ctx->dry_run ? "would keep" : "keeps", e->path);
    }
    if (run->ctx->dry_run || bases->len == 0)
        return TRUE;
    return nms_state_meta_set (run->state, key, bases->str, error);
}

static gboolean
drop_kept (Run *run, const Folder *folder, GPtrArray *fresh, GError **error)
{
    g_autofree char *key = NULL;
    g_autofree char *text = NULL;
    g_auto (GStrv) lines = NULL;
    g_autoptr (GHashTable) kept = NULL;

    if (fresh->len == 0)
        return TRUE;
    key = kept_key (folder);
    if (!nms_state_meta_get (run->state, key, &text, error))
        return FALSE;
    if (text == NULL)
        return TRUE;
    lines = g_strsplit (text, "\n", -1);
    kept = g_hash_table_new (g_str_hash, g_str_equal);
    for (char **l = lines; *l != NULL; l++) {
        if (**l != '\0')
            g_hash_table_add (kept, *l);
    }
    for (guint i = fresh->len; i-- > 0;) {
        const NmsMaildirEntry *e = g_ptr_array_index (fresh, i);

        if (g_hash_table_contains (kept, e->name->base))
            g_ptr_array_remove_index (fresh, i);
    }
    return TRUE;
}

gboolean
nms_sync_adopt_local_only (Run *run, const Folder *folder, GPtrArray *fresh, GError **error)
{
    g_autofree char *key = NULL;

    if (!run->options->adopt)
        return drop_kept (run, folder, fresh, error);
    if (run->options->adopt_keep_local)
        return keep_local (run, folder, fresh, error);
    key = kept_key (folder);
    return run->ctx->dry_run || nms_state_meta_delete (run->state, key, error);
}

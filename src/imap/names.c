/* SPDX-License-Identifier: GPL-3.0-or-later
 * Folder names between the wire and the rest of nmsync, both directions in one place. Above
 * imap/ a folder has one name, whatever the server's hierarchy delimiter: decoded UTF-8 with
 * '/' between levels ("Archives/2012"). The state, the local directories, the rules, the
 * folder patterns and every message use it. A server whose delimiter is '.' (Dovecot's
 * default with Maildir storage, Courier) lists "Archives.2012"; reading that as one level
 * while the Maildir side reads ".Archives.2012" back as "Archives/2012" made one directory
 * two folders.
 *
 * A server whose personal namespace has a prefix (Courier: NAMESPACE (("INBOX." "."))) lists
 * every folder but INBOX under it: "INBOX.Sent". Users know that folder as "Sent" (mbsync's
 * `Path INBOX.`, OfflineIMAP's nametrans), so the prefix is stripped here and put back on the
 * way out; INBOX stays INBOX. */
#include "nms-build.h"

#include "imap/imap.h"

#include <string.h>

#include "imap/imap-private.h"
#include "maildir/maildir.h"

/* TRUE when @prefix is a prefix worth stripping: non-empty and ending with the delimiter. */
static gboolean
usable_prefix (const char *prefix, char delim)
{
    gsize len = prefix != NULL ? strlen (prefix) : 0;

    return len > 0 && delim != '\0' && prefix[len - 1] == delim;
}

char *
nms_imap_folder_name_to_wire (const char *name, char delim, const char *prefix)
{
    g_autofree char *delimited = NULL;
    g_autofree char *wire = NULL;

    g_return_val_if_fail (name != NULL, NULL);
    delimited = g_strdup (name);
    /* No delimiter known (or a flat namespace): '/' is as good as any, and the name goes back
     * as it came. */
    if (delim != '\0' && delim != '/')
        g_strdelimit (delimited, "/", delim);
    wire = nms_utf7_encode (delimited);
    if (!usable_prefix (prefix, delim) || g_ascii_strcasecmp (name, "INBOX") == 0)
        return g_steal_pointer (&wire);
    return g_strconcat (prefix, wire, NULL);
}

char *
nms_imap_folder_name_from_wire (const char *wire_name, char delim, const char *prefix,
                                GError **error)
{
    g_autofree char *name = NULL;

    g_return_val_if_fail (wire_name != NULL, NULL);
    if (usable_prefix (prefix, delim) && g_ascii_strcasecmp (wire_name, "INBOX") != 0) {
        gsize len = strlen (prefix);

        /* Outside the personal namespace (shared folders, "#news."), or a folder whose name
         * without the prefix would be INBOX's: either would come back under another name. */
        if (strncmp (wire_name, prefix, len) != 0 || wire_name[len] == '\0' ||
            g_ascii_strcasecmp (wire_name + len, "INBOX") == 0) {
            g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER,
                         "folder '%s' is outside the personal namespace '%s'", wire_name, prefix);
            return NULL;
        }
        wire_name += len;
    }
    if ((name = nms_utf7_decode (wire_name, error)) == NULL)
        return NULL;
    if (delim == '\0' || delim == '/')
        return g_steal_pointer (&name);
    /* A '/' inside a level would read back as two levels: "a/b" under '.' and the folder b in
     * a ("a.b") would share the name "a/b", and one directory. RFC 3501 §5.1 lets a server
     * allow it, so such a folder is refused by name. */
    if (strchr (name, '/') != NULL) {
        g_set_error (error, NMS_MAILDIR_ERROR, NMS_MAILDIR_ERROR_BAD_FOLDER,
                     "folder '%s': '/' inside a level (the server's hierarchy delimiter is '%c')",
                     name, delim);
        return NULL;
    }
    g_strdelimit (name, (const char[]){ delim, '\0' }, '/');
    return g_steal_pointer (&name);
}

char *
nms_imap_folder_wire_name (NmsImapSession *session, const char *name)
{
    g_return_val_if_fail (session != NULL && name != NULL, NULL);
    return nms_imap_folder_name_to_wire (name, session->delimiter, session->prefix);
}

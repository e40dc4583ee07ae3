/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench/floor HOST PORT USER PASSWORD [imaps]: the cheapest possible no-change check of an
 * account, the floor bench/run holds nmsync's no-change sync against. One IMAP session and
 * nothing more: connect (with `imaps`, TLS from the start, the certificate not checked), log
 * in, one LIST-STATUS read up to its tagged OK, log out. Exit status 0 when the server
 * answered OK, 1 otherwise. */
#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG "F1"

static const char list_status[] =
    TAG " LIST \"\" \"*\" RETURN (STATUS (UIDVALIDITY UIDNEXT MESSAGES HIGHESTMODSEQ))\r\n";

int
main (int argc, char **argv)
{
    mailimap *imap;
    const char *line;
    int r, folders = 0, ok = 0;

    if (argc != 5 && !(argc == 6 && strcmp (argv[5], "imaps") == 0)) {
        fprintf (stderr, "usage: floor HOST PORT USER PASSWORD [imaps]\n");
        return 2;
    }
    imap = mailimap_new (0, NULL);
    if (imap == NULL)
        return 1;
    mailimap_set_timeout (imap, 60);
    if (argc == 6)
        r = mailimap_ssl_connect (imap, argv[1], (uint16_t) atoi (argv[2]));
    else
        r = mailimap_socket_connect (imap, argv[1], (uint16_t) atoi (argv[2]));
    if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
        fprintf (stderr, "floor: cannot connect to %s:%s (libetpan error %d)\n", argv[1], argv[2], r);
        mailimap_free (imap);
        return 1;
    }
    r = mailimap_login (imap, argv[3], argv[4]);
    if (r != MAILIMAP_NO_ERROR) {
        fprintf (stderr, "floor: login failed (libetpan error %d)\n", r);
        mailimap_free (imap);
        return 1;
    }
    /* Our own tag with a letter prefix never collides with libetpan's numeric ones. */
    if (mailstream_write (imap->imap_stream, list_status, sizeof list_status - 1) < 0 ||
        mailstream_flush (imap->imap_stream) < 0) {
        fprintf (stderr, "floor: cannot send LIST\n");
        mailimap_free (imap);
        return 1;
    }
    /* mailimap_read_line returns one response line with any literals it carries. */
    while ((line = mailimap_read_line (imap)) != NULL) {
        if (strncmp (line, "* STATUS ", 9) == 0)
            folders++;
        if (strncmp (line, TAG " ", sizeof TAG) == 0) {
            ok = strncmp (line, TAG " OK", sizeof TAG + 2) == 0;
            break;
        }
    }
    if (!ok)
        fprintf (stderr, "floor: LIST-STATUS failed: %s", line != NULL ? line : "connection lost\n");
    else if (getenv ("FLOOR_VERBOSE") != NULL)
        printf ("%d folders\n", folders);
    mailimap_logout (imap);
    mailimap_free (imap);
    return ok ? 0 : 1;
}

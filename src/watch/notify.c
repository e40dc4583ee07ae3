/* SPDX-License-Identifier: GPL-3.0-or-later
 * sd_notify(3) without libsystemd: one datagram to the AF_UNIX socket systemd names in
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). The protocol is that single
 * datagram of "KEY=VALUE" lines, documented as stable; writing it here keeps the build free of
 * an optional dependency and of two code paths to test. */
#include "nms-build.h"

#include "watch/watch-private.h"

#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

void
nms_watch_notify (const char *state)
{
    const char *path = g_getenv ("NOTIFY_SOCKET");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    socklen_t len;
    size_t n;
    int fd;

    if (path == NULL || (path[0] != '/' && path[0] != '@'))
        return;
    n = strlen (path);
    if (n >= sizeof addr.sun_path)
        return;
    memcpy (addr.sun_path, path, n);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n);
    fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    (void) sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &addr, len);
    close (fd);
}

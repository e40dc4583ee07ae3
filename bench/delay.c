/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench/delay LISTEN-ADDR LISTEN-PORT TARGET-ADDR TARGET-PORT DELAY-MS: a TCP forwarder that
 * holds every chunk of data for DELAY-MS milliseconds before passing it on, in both
 * directions, so that a request and its answer take 2 x DELAY-MS longer: the round-trip time
 * of bench/run's slow link. The kernel here has no netem qdisc; tbf on the veth pair gives the
 * link its rates, this gives it its latency. Each accepted connection gets its own connection
 * to the target; order is kept; at most QUEUE_MAX bytes wait per direction (then reading
 * stops, which is the flow control). Runs until killed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONN 64
#define CHUNK 65536
#define QUEUE_MAX (8 * 1024 * 1024)

typedef struct Chunk {
    struct Chunk *next;
    int64_t due_ns;
    size_t len, off;
    char data[];
} Chunk;

/* One direction: bytes read from `from` wait in the queue until due, then go to `to`. */
typedef struct {
    int from, to;
    Chunk *head, *tail;
    size_t queued;
    int eof;  /* `from` reached end of file: shut down `to` once the queue is empty */
    int done; /* shut down */
} Dir;

typedef struct {
    int used;
    Dir dir[2];
} Conn;

static Conn conns[MAX_CONN];
static int64_t delay_ns;

static int64_t
now_ns (void)
{
    struct timespec t;

    clock_gettime (CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000 + t.tv_nsec;
}

static int
parse_addr (const char *addr, const char *port, struct sockaddr_in *sa)
{
    memset (sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons ((uint16_t) atoi (port));
    return inet_pton (AF_INET, addr, &sa->sin_addr) == 1 ? 0 : -1;
}

static void
conn_close (Conn *c)
{
    for (int d = 0; d < 2; d++) {
        Chunk *k = c->dir[d].head;

        while (k != NULL) {
            Chunk *next = k->next;

            free (k);
            k = next;
        }
    }
    close (c->dir[0].from);
    close (c->dir[0].to);
    memset (c, 0, sizeof *c);
}

static void
conn_open (int listener, const struct sockaddr_in *target)
{
    int one = 1, client, server, i;

    client = accept (listener, NULL, NULL);
    if (client < 0)
        return;
    for (i = 0; i < MAX_CONN && conns[i].used; i++)
        ;
    server = socket (AF_INET, SOCK_STREAM, 0);
    if (i == MAX_CONN || server < 0 ||
        connect (server, (const struct sockaddr *) target, sizeof *target) < 0) {
        fprintf (stderr, "delay: cannot forward a connection: %s\n",
                 i == MAX_CONN ? "too many connections" : strerror (errno));
        close (client);
        if (server >= 0)
            close (server);
        return;
    }
    setsockopt (client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt (server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[i].used = 1;
    conns[i].dir[0] = (Dir) { .from = client, .to = server };
    conns[i].dir[1] = (Dir) { .from = server, .to = client };
}

/* Reads what `from` has into a new chunk. Returns -1 when the connection is broken. */
static int
dir_read (Dir *d, int64_t now)
{
    Chunk *k = malloc (sizeof *k + CHUNK);
    ssize_t n;

    if (k == NULL)
        return -1;
    n = read (d->from, k->data, CHUNK);
    if (n <= 0) {
        free (k);
        if (n == 0) {
            d->eof = 1;
            return 0;
        }
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    }
    *k = (Chunk) { .due_ns = now + delay_ns, .len = (size_t) n };
    if (d->tail != NULL)
        d->tail->next = k;
    else
        d->head = k;
    d->tail = k;
    d->queued += (size_t) n;
    return 0;
}

/* Writes the chunks that are due. Returns -1 when the connection is broken. */
static int
dir_write (Dir *d, int64_t now)
{
    while (d->head != NULL && d->head->due_ns <= now) {
        Chunk *k = d->head;
        ssize_t n = send (d->to, k->data + k->off, k->len - k->off, MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        k->off += (size_t) n;
        d->queued -= (size_t) n;
        if (k->off < k->len)
            return 0;
        d->head = k->next;
        if (d->head == NULL)
            d->tail = NULL;
        free (k);
    }
    if (d->head == NULL && d->eof && !d->done) {
        shutdown (d->to, SHUT_WR);
        d->done = 1;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    struct sockaddr_in listen_sa, target;
    int listener, one = 1;

    if (argc != 6 || parse_addr (argv[1], argv[2], &listen_sa) < 0 ||
        parse_addr (argv[3], argv[4], &target) < 0) {
        fprintf (stderr, "usage: delay LISTEN-ADDR LISTEN-PORT TARGET-ADDR TARGET-PORT DELAY-MS\n");
        return 2;
    }
    delay_ns = (int64_t) atoi (argv[5]) * 1000000;
    signal (SIGPIPE, SIG_IGN);
    listener = socket (AF_INET, SOCK_STREAM, 0);
    setsockopt (listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (listener < 0 || bind (listener, (struct sockaddr *) &listen_sa, sizeof listen_sa) < 0 ||
        listen (listener, 16) < 0) {
        fprintf (stderr, "delay: cannot listen on %s:%s: %s\n", argv[1], argv[2], strerror (errno));
        return 1;
    }
    for (;;) {
        struct pollfd fds[1 + 4 * MAX_CONN];
        int64_t now = now_ns (), next = -1;
        int nfds = 1, timeout;

        fds[0] = (struct pollfd) { .fd = listener, .events = POLLIN };
        for (int i = 0; i < MAX_CONN; i++) {
            for (int j = 0; conns[i].used && j < 2; j++) {
                Dir *d = &conns[i].dir[j];

                /* Two entries per direction: reading `from`, writing `to`. */
                fds[nfds++] = (struct pollfd) {
                    .fd = !d->eof && d->queued < QUEUE_MAX ? d->from : -1, .events = POLLIN };
                fds[nfds++] = (struct pollfd) {
                    .fd = d->head != NULL && d->head->due_ns <= now ? d->to : -1,
                    .events = POLLOUT };
                if (d->head != NULL && d->head->due_ns > now &&
                    (next < 0 || d->head->due_ns < next))
                    next = d->head->due_ns;
            }
        }
        timeout = next < 0 ? -1 : (int) ((next - now + 999999) / 1000000);
        if (poll (fds, (nfds_t) nfds, timeout) < 0 && errno != EINTR) {
            perror ("delay: poll");
            return 1;
        }
        now = now_ns ();
        nfds = 1;
        for (int i = 0; i < MAX_CONN; i++) {
            int broken = 0;

            for (int j = 0; conns[i].used && j < 2; j++) {
                Dir *d = &conns[i].dir[j];

                if (fds[nfds].fd >= 0 && (fds[nfds].revents & (POLLIN | POLLHUP | POLLERR)))
                    broken |= dir_read (d, now) < 0;
                if (!broken)
                    broken |= dir_write (d, now) < 0;
                nfds += 2;
            }
            if (conns[i].used && (broken || (conns[i].dir[0].done && conns[i].dir[1].done)))
                conn_close (&conns[i]);
        }
        if (fds[0].revents & POLLIN)
            conn_open (listener, &target);
    }
}

/* SPDX-License-Identifier: GPL-3.0-or-later
 * bench/measure OUT CMD [ARG...]: runs CMD and appends one line "<wall ns> <peak RSS KiB>
 * <exit status>" to the file OUT; exits with CMD's exit status (128 + signal when killed).
 * Wall time from CLOCK_MONOTONIC around fork and wait, peak RSS from wait4's rusage: a
 * nanosecond clock and a getrusage figure in one process, where GNU time resolves 10 ms.
 * SIGINT, SIGTERM and SIGHUP are passed on to CMD, so stopping bench/run stops the tool. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child;

static void
pass_on (int sig)
{
    if (child > 0)
        kill (child, sig);
}

int
main (int argc, char **argv)
{
    struct sigaction sa = { .sa_handler = pass_on };
    struct timespec t0, t1;
    struct rusage ru;
    int status, code;
    pid_t pid;
    FILE *out;

    if (argc < 3) {
        fprintf (stderr, "usage: measure OUT CMD [ARG...]\n");
        return 2;
    }
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGHUP, &sa, NULL);
    clock_gettime (CLOCK_MONOTONIC, &t0);
    pid = fork ();
    if (pid < 0) {
        perror ("measure: fork");
        return 2;
    }
    if (pid == 0) {
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        signal (SIGHUP, SIG_DFL);
        execvp (argv[2], argv + 2);
        fprintf (stderr, "measure: cannot run %s: %s\n", argv[2], strerror (errno));
        _exit (127);
    }
    child = pid;
    while (wait4 (pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) {
            perror ("measure: wait4");
            return 2;
        }
    }
    clock_gettime (CLOCK_MONOTONIC, &t1);
    code = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
    out = fopen (argv[1], "a");
    if (out == NULL) {
        fprintf (stderr, "measure: cannot open %s: %s\n", argv[1], strerror (errno));
        return 2;
    }
    fprintf (out, "%lld %ld %d\n",
             (long long) (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
             ru.ru_maxrss, code);
    if (fclose (out) != 0)
        return 2;
    return code;
}

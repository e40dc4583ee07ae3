/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync entry point: global options, then the command table. */
#include "config.h"

#include "cli/cli.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "imap/imap.h"

/* What a command needs set up before it runs. */
typedef enum {
    NEEDS_NETWORK = 1 << 0, /* IMAP (libetpan, GnuTLS): global init */
} Needs;

typedef struct {
    const char *name;
    int (*run) (const NmsCliOptions *options);
    Needs needs;
    const char *summary; /* for --help: lines of at most 64 columns, '\n' between them */
} Command;

static const Command commands[] = {
    { "sync", nms_cmd_sync, NEEDS_NETWORK,
      "the whole pipeline (the default): rules (tags -> folders and flags),\n"
      "both ways as one three-way merge per folder, notmuch index, rules\n"
      "(folders and flags -> tags); --no-rules: without the rules" },
    { "pull", nms_cmd_pull, NEEDS_NETWORK,
      "server -> local only: new messages, flag changes, expunges" },
    { "push", nms_cmd_push, NEEDS_NETWORK,
      "local -> server only: new messages, flag changes, deletions, moves" },
    { "adopt", nms_cmd_adopt, NEEDS_NETWORK,
      "pair a Maildir that already holds the mail (a copy of the server's\n"
      "Dovecot Maildir, an mbsync spool, any other) with the server: no\n"
      "re-download, nothing written to the server; then use sync" },
    { "watch", nms_cmd_watch, NEEDS_NETWORK,
      "stay running: sync when the server, the Maildir or notmuch tags\n"
      "change (one pass first; SIGHUP reloads the config, SIGUSR1 syncs\n"
      "everything now, SIGTERM ends it after the current run)" },
    { "apply", nms_cmd_apply, 0,
      "the tag <-> flag <-> folder rules, locally, no network (--all:\n"
      "every message, not only those changed since the last run)" },
    { "rules", nms_cmd_rules, 0,
      "check the rule set: unknown folders, overlaps, rules that undo\n"
      "themselves" },
};

static const char usage_head[] =
    "usage: nmsync [-c FILE] [-v|-q] [-n] [--force] [--no-sandbox] [--no-rules] [--json]\n"
    "              COMMAND [ACCOUNT[/FOLDER]...]\n"
    "\n"
    "commands:\n";

static const char usage_tail[] =
    "\n"
    "options:\n"
    "  -c, --config FILE  config file (default $NMSYNC_CONFIG, then\n"
    "                     $XDG_CONFIG_HOME/nmsync/config)\n"
    "  -v, --verbose      per-folder lines; repeat for more\n"
    "  -q, --quiet        only errors\n"
    "  -n, --dry-run      print what would be done, change nothing\n"
    "      --force        lift the deletion guards (half of a folder, max-deletions)\n"
    "      --no-sandbox   do not confine writes with Landlock (see nmsync(1))\n"
    "      --no-rules     sync without its rule stages\n"
    "      --json         one JSON object per account instead of the summary line\n"
    "      --mbsync-state DIR  adopt: mbsync's SyncState directory\n"
    "  -h, --help         this text;  --version: the version\n"
    "\n"
    "exit status: 0 done, 1 some messages or folders skipped (named on stderr), 2 usage or\n"
    "config error, 3 cannot connect or log in, 4 account locked by another nmsync.\n"
    "See nmsync(1) and nmsync.conf(5).\n";

/* The help text, its command list made from the table. */
static void
print_usage (void)
{
    fputs (usage_head, stdout);
    for (gsize i = 0; i < G_N_ELEMENTS (commands); i++) {
        g_auto (GStrv) lines = g_strsplit (commands[i].summary, "\n", -1);

        for (char **l = lines; *l != NULL; l++)
            printf ("  %-8s %s\n", l == lines ? commands[i].name : "", *l);
    }
    fputs (usage_tail, stdout);
}

static int
usage_error (const char *fmt, const char *arg)
{
    fputs ("nmsync: ", stderr);
    fprintf (stderr, fmt, arg);
    fputs ("\nTry 'nmsync --help'.\n", stderr);
    return NMS_EXIT_USAGE;
}

int
main (int argc, char **argv)
{
    static const struct option long_options[] = {
        { "config", required_argument, NULL, 'c' }, { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },         { "dry-run", no_argument, NULL, 'n' },
        { "force", no_argument, NULL, 'F' },         { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },       { "no-sandbox", no_argument, NULL, 'S' },
        { "no-rules", no_argument, NULL, 'R' },      { "all", no_argument, NULL, 'A' },
        { "json", no_argument, NULL, 'J' },
        { "mbsync-state", required_argument, NULL, 'M' },
        { NULL, 0, NULL, 0 },
    };
    NmsCliOptions options = { 0 };
    const char *command;
    int c;

    setlocale (LC_ALL, "");
    while ((c = getopt_long (argc, argv, "c:vqnh", long_options, NULL)) != -1) {
        switch (c) {
        case 'c':
            options.config_path = optarg;
            break;
        case 'v':
            options.verbosity = MAX (options.verbosity, 0) + 1;
            break;
        case 'q':
            options.verbosity = -1;
            break;
        case 'n':
            options.dry_run = TRUE;
            break;
        case 'F':
            options.force = TRUE;
            break;
        case 'S':
            options.no_sandbox = TRUE;
            break;
        case 'R':
            options.no_rules = TRUE;
            break;
        case 'A':
            options.all = TRUE;
            break;
        case 'J':
            options.json = TRUE;
            break;
        case 'M':
            options.mbsync_state = optarg;
            break;
        case 'h':
            print_usage ();
            return NMS_EXIT_OK;
        case 'V':
            printf ("nmsync %s\n", NMSYNC_VERSION);
            return NMS_EXIT_OK;
        default:
            fputs ("Try 'nmsync --help'.\n", stderr);
            return NMS_EXIT_USAGE;
        }
    }
    command = optind < argc ? argv[optind++] : "sync";
    options.args = &argv[optind];
    for (gsize i = 0; i < G_N_ELEMENTS (commands); i++) {
        if (strcmp (commands[i].name, command) == 0) {
            if (commands[i].needs & NEEDS_NETWORK)
                nms_imap_global_init ();
            return commands[i].run (&options);
        }
    }
    return usage_error ("unknown command '%s'", command);
}

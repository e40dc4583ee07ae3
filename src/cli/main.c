/* SPDX-License-Identifier: GPL-3.0-or-later
 * nmsync entry point: global options, then the command table. */
#include "nms-build.h"

#include "cli/cli.h"

#include <getopt.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "imap/imap.h"

/* What a command needs (git's RUN_SETUP flags, notmuch's mode flags). main() sets up the
 * config and the network before the command runs; the command opens the database and takes
 * the account locks itself, only those its flags name, account locks before notmuch's (the
 * order a sync takes them, so that apply and sync never wait for each other in a circle). */
typedef enum {
    NEEDS_CONFIG = 1 << 0,   /* the config file, loaded once here (options->config) */
    NEEDS_NETWORK = 1 << 1,  /* IMAP (libetpan, GnuTLS): global init */
    NEEDS_DB_READ = 1 << 2,  /* the notmuch database, read-only */
    NEEDS_DB_WRITE = 1 << 3, /* the notmuch database, read-write (indexing, tags) */
    NEEDS_LOCK = 1 << 4,     /* each account's lock in the state directory, while it runs */
} Needs;

#define NEEDS_IMAP_RUN (NEEDS_CONFIG | NEEDS_NETWORK | NEEDS_DB_WRITE | NEEDS_LOCK)

typedef struct {
    const char *name;
    int (*run) (const NmsCliOptions *options);
    Needs needs;
    const char *summary; /* for --help: lines of at most 64 columns, '\n' between them */
} Command;

static const Command commands[] = {
    { "sync", nms_cmd_sync, NEEDS_IMAP_RUN,
      "the whole pipeline (the default): rules (tags -> folders and flags),\n"
      "both ways as one three-way merge per folder, notmuch index, rules\n"
      "(folders and flags -> tags); --no-rules: without the rules" },
    { "pull", nms_cmd_pull, NEEDS_IMAP_RUN,
      "server -> local only: new messages, flag changes, expunges" },
    { "push", nms_cmd_push, NEEDS_IMAP_RUN,
      "local -> server only: new messages, flag changes, deletions, moves" },
    { "adopt", nms_cmd_adopt, NEEDS_IMAP_RUN,
      "pair a Maildir that already holds the mail (a copy of the server's\n"
      "Dovecot Maildir, an mbsync spool, any other) with the server: no\n"
      "re-download, nothing written to the server; then use sync" },
    { "watch", nms_cmd_watch, NEEDS_NETWORK | NEEDS_DB_WRITE | NEEDS_LOCK, /* its own config: SIGHUP reloads it */
      "stay running: sync when the server, the Maildir or notmuch tags\n"
      "change (one pass first; SIGHUP reloads the config, SIGUSR1 syncs\n"
      "everything now, SIGTERM ends it after the current run)" },
    { "apply", nms_cmd_apply, NEEDS_CONFIG | NEEDS_DB_WRITE | NEEDS_LOCK,
      "the tag <-> flag <-> folder rules, locally, no network (--all:\n"
      "every message, not only those changed since the last run)" },
    { "check", nms_cmd_check, NEEDS_CONFIG | NEEDS_NETWORK | NEEDS_DB_WRITE | NEEDS_LOCK,
      "integrity report per folder: server vs Maildir vs notmuch vs state,\n"
      "and spool defects; exit 1 when anything is off (--fix: the safe\n"
      "repairs)" },
    { "status", nms_cmd_status, NEEDS_CONFIG,
      "per account and folder: counts, last sync, pending intents, last\n"
      "error; no network, no lock" },
    { "rules", nms_cmd_rules, NEEDS_CONFIG | NEEDS_DB_READ,
      "check the rule set: unknown folders, overlaps, rules that undo\n"
      "themselves" },
    { "import-mbsyncrc", nms_cmd_import_mbsyncrc, 0,
      "\n"
      "[FILE]: print the nmsync config equivalent to an mbsync config\n"
      "(default ~/.mbsyncrc); what it cannot translate is a comment" },
};

static const char usage_head[] =
    "usage: nmsync [-c FILE] [-v|-q] [-n] [--force] [--no-sandbox] [--no-rules] [--json]\n"
    "              [--trace] [--fix] COMMAND [ACCOUNT[/FOLDER]...]\n"
    "\n"
    "commands:\n";

static const char usage_tail[] =
    "\n"
    "options:\n"
    "  -c, --config FILE  config file (default $NMSYNC_CONFIG, then\n"
    "                     $XDG_CONFIG_HOME/nmsync/config)\n"
    "  -v, --verbose      per-folder lines; repeat for more (-vvv: as --trace)\n"
    "      --trace        the IMAP conversation on stderr, passwords and message\n"
    "                     bodies left out\n"
    "  -q, --quiet        only errors\n"
    "  -n, --dry-run      print what would be done, change nothing\n"
    "      --force        lift the deletion guards (half of a folder, max-deletions)\n"
    "      --no-sandbox   do not confine writes with Landlock (see nmsync(1))\n"
    "      --no-rules     sync without its rule stages\n"
    "      --json         one JSON object per account instead of the summary line\n"
    "      --mbsync-state DIR  adopt: mbsync's SyncState directory\n"
    "      --fix          check: carry out the safe repairs (with -n: print them)\n"
    "      --clean        adopt: remove mbsync's files (.mbsyncstate*, .uidvalidity) of\n"
    "                     each folder adopted completely\n"
    "      --local-only=keep|upload  adopt: files that pair with no server message\n"
    "                     are never uploaded (keep), or by the next sync (upload, default)\n"
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
            printf ("  %-8s%s%s\n", l == lines ? commands[i].name : "", **l != '\0' ? " " : "",
                    *l);
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

/* Sets up what @cmd needs, then runs it. */
static int
run_command (const Command *cmd, NmsCliOptions *options)
{
    g_autoptr (NmsConfig) config = NULL;

    if (cmd->needs & NEEDS_CONFIG) {
        if ((config = nms_cli_load_config (options)) == NULL)
            return NMS_EXIT_USAGE;
        options->config = config;
    }
    if (cmd->needs & NEEDS_NETWORK)
        nms_imap_global_init ();
    return cmd->run (options);
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
        { "json", no_argument, NULL, 'J' },         { "trace", no_argument, NULL, 'T' },
        { "mbsync-state", required_argument, NULL, 'M' },
        { "fix", no_argument, NULL, 'X' },
        { "clean", no_argument, NULL, 'C' },
        { "local-only", required_argument, NULL, 'L' },
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
        case 'X':
            options.fix = TRUE;
            break;
        case 'T':
            options.trace = TRUE;
            break;
        case 'M':
            options.mbsync_state = optarg;
            break;
        case 'C':
            options.clean = TRUE;
            break;
        case 'L':
            if (strcmp (optarg, "keep") != 0 && strcmp (optarg, "upload") != 0)
                return usage_error ("--local-only: '%s' is not keep or upload", optarg);
            options.keep_local = strcmp (optarg, "keep") == 0;
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
    for (gsize i = 0; i < G_N_ELEMENTS (commands); i++)
        if (strcmp (commands[i].name, command) == 0)
            return run_command (&commands[i], &options);
    return usage_error ("unknown command '%s'", command);
}

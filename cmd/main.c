/* SPDX-License-Identifier: MIT */
/* deskdb: dispatch to the subcommand named on the command line. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "serve [-c FILE]                 run the daemon"},
    {"check-config",
     cmd_check_config,
     "check-config [-c FILE]          validate and print the effective config"},
    {"migrate",
     cmd_migrate,
     "migrate up|down [N]|status [-c FILE]  apply or roll back migrations"},
    {"jobs", cmd_jobs, "jobs list | next NAME [-n 10] | run NAME  [-c FILE]"},
    {"op",
     cmd_op,
     "op NAME [--input FILE|-] [--all-or-nothing] [-c FILE]  atomic "
     "operations"},
    {"metrics",
     cmd_metrics,
     "metrics [-c FILE] [--openmetrics]  print one exposition and exit"},
    {"version",
     cmd_version,
     "version                         print the version"},
};

static void
usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: deskdb COMMAND [ARGS]\n\ncommands:\n");
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  deskdb %s\n", commands[i].usage);
    fprintf(out,
            "\n-c defaults to $DESKDB_CONFIG, then ./deskdb.yaml.\n"
            "exit codes: 0 ok, 1 runtime failure, 2 usage or "
            "configuration error\n");
}

int
main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0)
        return cmd_version(argc - 1, argv + 1);
    for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    }
    fprintf(stderr,
            "deskdb: unknown command '%s' (try 'deskdb --help')\n",
            argv[1]);
    return EXIT_USAGE;
}

/* SPDX-License-Identifier: MIT */
/* The subcommands of the deskdb executable, one file each. */
#ifndef DESKDB_CMD_CMD_H
#define DESKDB_CMD_CMD_H

#include <stdbool.h>

#include "core/err.h"

/* Exit codes shared by every subcommand. */
enum {
    EXIT_OK = 0,
    EXIT_RUNTIME = 1, /* the work failed (database down, job failed, ...) */
    EXIT_USAGE = 2,   /* bad arguments or configuration */
};

/* Each takes the arguments after the subcommand name (argv[0] is the
 * subcommand) and returns an exit code. */
int cmd_serve(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_jobs(int argc, char **argv);
int cmd_op(int argc, char **argv);
int cmd_metrics(int argc, char **argv);
int cmd_version(int argc, char **argv);

struct config;

/*
 * Parse a lone "-c FILE" / "--config FILE" / "--config=FILE" at argv[*i],
 * advancing *i.  Returns 1 if consumed, 0 if argv[*i] is something else,
 * -1 on a missing value (already reported).
 */
int cmd_parse_config_opt(int argc, char **argv, int *i, const char **path);

/*
 * The value of "--name VALUE" or "--name=VALUE" at argv[*i] (advancing *i
 * past a separate value), or NULL if argv[*i] is another option; *bad is
 * set, and the problem reported, when the value is missing.
 */
const char *
cmd_option_value(int argc, char **argv, int *i, const char *name, bool *bad);

/* Run the checks that modules make on their own sections (cron schedules,
 * time zones, job SQL, alert expressions); the first failure fills `err`
 * with `file:line:column: message`.  Defined in check_config.c, beside the
 * list of checks. */
int cmd_validate_config(const struct config *cfg, struct deskdb_err *err);

/* Load and validate the configuration (path from -c, $DESKDB_CONFIG or
 * ./deskdb.yaml), report a failure as one line on stderr and return NULL.  Also
 * applies the log settings. */
struct config *cmd_load_config(const char *cli_path);

#endif

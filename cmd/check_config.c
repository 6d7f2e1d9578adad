/* SPDX-License-Identifier: MIT */
/* deskdb check-config: validate the configuration and print it in effect. */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "exporter/alerts.h"
#include "jobs/jobdef.h"

struct validator {
    const char *module;
    int (*run)(const struct config *cfg, struct deskdb_err *err);
};

/*
 * Checks that other modules make on their own sections after the config
 * module's (types, ranges, names, references): jobs/ for schedules, time
 * zones and job SQL, exporter/alerts for rule expressions.  Each reports
 * with config_error_at() so the message carries file:line:column.  The
 * list ends with an empty entry.
 */
static const struct validator validators[] = {
    {"jobs", jobs_check_config},
    {"alerts", alerts_validate_config},
    {NULL, NULL},
};

int
cmd_validate_config(const struct config *cfg, struct deskdb_err *err)
{
    const struct validator *v;
    int rc;

    for (v = validators; v->run != NULL; v++) {
        rc = v->run(cfg, err);
        if (rc < 0)
            return rc;
    }
    return DESKDB_OK;
}

static void
usage(FILE *out)
{
    fprintf(out, "usage: deskdb check-config [-c FILE]\n");
}

int
cmd_check_config(int argc, char **argv)
{
    const char *path = NULL;
    struct config *cfg;
    int i, rc, status = EXIT_OK;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        rc = cmd_parse_config_opt(argc, argv, &i, &path);
        if (rc < 0)
            return EXIT_USAGE;
        if (rc == 0) {
            fprintf(stderr,
                    "deskdb check-config: unexpected argument '%s' (usage: "
                    "deskdb check-config [-c FILE])\n",
                    argv[i]);
            return EXIT_USAGE;
        }
    }
    cfg = cmd_load_config(path);
    if (cfg == NULL)
        return EXIT_USAGE;
    if (config_print(cfg, stdout) < 0) {
        fprintf(stderr, "deskdb check-config: cannot write the output\n");
        status = EXIT_RUNTIME;
    }
    config_destroy(cfg);
    return status;
}

/* SPDX-License-Identifier: MIT */
/* Option and configuration handling shared by the subcommands. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "core/log.h"

int
cmd_parse_config_opt(int argc, char **argv, int *i, const char **path)
{
    const char *a = argv[*i];

    if (strncmp(a, "--config=", 9) == 0) {
        *path = a + 9;
        return 1;
    }
    if (strcmp(a, "-c") != 0 && strcmp(a, "--config") != 0)
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "deskdb %s: %s needs a file name\n", argv[0], a);
        return -1;
    }
    *path = argv[++*i];
    return 1;
}

const char *
cmd_option_value(int argc, char **argv, int *i, const char *name, bool *bad)
{
    size_t len = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, len) != 0)
        return NULL;
    if (a[len] == '=')
        return a + len + 1;
    if (a[len] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "deskdb %s: %s needs a value\n", argv[0], name);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

struct config *
cmd_load_config(const char *cli_path)
{
    struct deskdb_err err;
    struct config *cfg;
    const char *path = config_default_path(cli_path);

    err_clear(&err);
    cfg = config_load(path, &err);
    if (cfg != NULL && cmd_validate_config(cfg, &err) != DESKDB_OK) {
        config_destroy(cfg);
        cfg = NULL;
    }
    if (cfg == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    log_configure((enum log_level)cfg->log.level,
                  cfg->log.format == CONFIG_LOG_JSON ? LOG_FORMAT_JSON
                                                     : LOG_FORMAT_LOGFMT,
                  NULL);
    return cfg;
}

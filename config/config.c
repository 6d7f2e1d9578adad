/* SPDX-License-Identifier: MIT */
/* Placeholder until the config module lands; replaced in full. */
#include <stdlib.h>

#include "config/config.h"

struct config *
config_load(const char *path, struct deskdb_err *err)
{
    (void)path;
    err_set(err, DESKDB_EINVAL, "configuration loading is not built yet");
    return NULL;
}

const char *
config_default_path(const char *cli)
{
    return cli;
}

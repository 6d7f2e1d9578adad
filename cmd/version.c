/* SPDX-License-Identifier: MIT */
/* deskdb version: the version, revision and library versions. */
#include <libpq-fe.h>
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_version(int argc, char **argv)
{
    int pq = PQlibVersion();

    (void)argc;
    (void)argv;
    printf("deskdb %s (revision %s, libpq %d.%d)\n",
           DESKDB_VERSION,
           DESKDB_REVISION,
           pq / 10000,
           pq % 10000);
    return EXIT_OK;
}

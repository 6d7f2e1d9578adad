/* SPDX-License-Identifier: MIT */
/* Placeholder until this subcommand's module lands; replaced in full. */
#include <stdio.h>

#include "cmd/cmd.h"

int
cmd_metrics(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "deskdb %s: not built yet\n", argv[0]);
    return EXIT_RUNTIME;
}

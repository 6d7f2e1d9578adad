/* SPDX-License-Identifier: MIT */
/* deskdb op NAME: run an atomic operation on NDJSON input, one JSON result
 * per line on stdout, a summary on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config/config.h"
#include "core/ops.h"
#include "core/pool.h"

struct args {
    const char *name;
    const char *input; /* NULL or "-": stdin */
    const char *config;
    const char *dealership;
    const char *timeout;
    bool all_or_nothing;
    bool help;
};

static void
usage(FILE *out)
{
    fprintf(out,
            "usage: deskdb op NAME [--input FILE|-] [--all-or-nothing] "
            "[--dealership UUID] [--timeout DURATION] [-c FILE]\n"
            "  NAME               the operation:");
    for (size_t i = 0; ops_at(i) != NULL; i++)
        fprintf(out, "%s %s", i > 0 ? "," : "", ops_name(ops_at(i)));
    fprintf(out,
            "\n"
            "  --input FILE|-     NDJSON input, one record per line "
            "(default: stdin)\n"
            "  --all-or-nothing   the whole input is one transaction\n"
            "  --dealership UUID  refuse records of any other dealership\n"
            "  --timeout DURATION time budget of each transaction "
            "(default: transactions.timeout)\n"
            "  -c FILE            configuration (database.url, pool, "
            "transactions)\n"
            "One JSON result per input line on stdout; exit 0 if every "
            "record was applied or already applied, 1 otherwise.\n");
}

static void
unknown_op(const char *name)
{
    fprintf(stderr, "deskdb op: unknown operation '%s' (", name);
    for (size_t i = 0; ops_at(i) != NULL; i++)
        fprintf(stderr, "%s%s", i > 0 ? ", " : "", ops_name(ops_at(i)));
    fprintf(stderr, ")\n");
}

static int
parse_option(int argc, char **argv, int *i, struct args *a)
{
    const char *v = NULL;
    bool bad = false;

    if (strcmp(argv[*i], "-h") == 0 || strcmp(argv[*i], "--help") == 0) {
        a->help = true;
        return 0;
    }
    if (strcmp(argv[*i], "--all-or-nothing") == 0) {
        a->all_or_nothing = true;
        return 0;
    }
    if ((v = cmd_option_value(argc, argv, i, "--input", &bad)) != NULL)
        a->input = v;
    else if (!bad &&
             (v = cmd_option_value(argc, argv, i, "--dealership", &bad)) !=
                 NULL)
        a->dealership = v;
    else if (!bad &&
             (v = cmd_option_value(argc, argv, i, "--timeout", &bad)) != NULL)
        a->timeout = v;
    if (v != NULL)
        return 0;
    if (!bad)
        fprintf(stderr, "deskdb op: unknown option '%s'\n", argv[*i]);
    return -1;
}

static int
parse_args(int argc, char **argv, struct args *a)
{
    int i, rc;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        rc = cmd_parse_config_opt(argc, argv, &i, &a->config);
        if (rc < 0)
            return -1;
        if (rc > 0)
            continue;
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            if (parse_option(argc, argv, &i, a) < 0)
                return -1;
        } else if (a->name == NULL) {
            a->name = argv[i];
        } else {
            fprintf(stderr, "deskdb op: unexpected argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (a->name == NULL && !a->help) {
        fprintf(stderr, "deskdb op: an operation name is required\n");
        return -1;
    }
    if (a->dealership != NULL && !ops_uuid_valid(a->dealership)) {
        fprintf(stderr, "deskdb op: --dealership must be a UUID\n");
        return -1;
    }
    return 0;
}

/* Options from the configuration and the command line. */
static int
make_options(const struct args *a,
             const struct config *cfg,
             struct ops_options *o)
{
    struct deskdb_err err;
    int64_t ms;

    ops_options_from_config(cfg, o);
    o->dealership = a->dealership;
    o->all_or_nothing = a->all_or_nothing;
    if (a->timeout == NULL)
        return 0;
    err_clear(&err);
    if (config_parse_duration(a->timeout, &ms, &err) != 0 || ms <= 0) {
        fprintf(stderr,
                "deskdb op: --timeout: %s\n",
                err.msg[0] ? err.msg : "must be more than 0");
        return -1;
    }
    o->txn.timeout_ms = ms;
    return 0;
}

static int
run(const struct args *a,
    const struct ops_op *op,
    const struct config *cfg,
    const struct ops_options *o,
    FILE *in)
{
    struct config_pool pc = cfg->pool;
    struct ops_summary sum;
    struct deskdb_err err;
    struct pool *pool;
    int rc;

    /* Records run one after the other: one connection does. */
    pc.min = pc.max > 0 ? 1 : 0;
    err_clear(&err);
    pool = pool_create(&cfg->database, &pc, NULL, NULL, &err);
    if (pool == NULL) {
        fprintf(stderr, "deskdb op: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    rc = ops_run_stream(pool, op, o, in, stdout, &sum, &err);
    pool_destroy(pool);
    fprintf(stderr,
            "deskdb op %s: applied %" PRIu64 ", duplicates %" PRIu64
            ", failed %" PRIu64,
            a->name,
            sum.applied,
            sum.duplicates,
            sum.failed);
    if (sum.not_applied > 0)
        fprintf(stderr, ", not applied %" PRIu64, sum.not_applied);
    if (sum.unknown > 0)
        fprintf(stderr, ", outcome unknown %" PRIu64, sum.unknown);
    fprintf(stderr, "\n");
    if (rc != 0) {
        fprintf(stderr, "deskdb op: %s\n", err.msg);
        return EXIT_RUNTIME;
    }
    return sum.failed + sum.not_applied + sum.unknown > 0 ? EXIT_RUNTIME
                                                          : EXIT_OK;
}

int
cmd_op(int argc, char **argv)
{
    const struct ops_op *op;
    struct config *cfg = NULL;
    struct ops_options o;
    FILE *in = stdin;
    struct args a;
    int code = EXIT_USAGE;

    if (parse_args(argc, argv, &a) < 0)
        return EXIT_USAGE;
    if (a.help) {
        usage(stdout);
        return EXIT_OK;
    }
    op = ops_find(a.name);
    if (op == NULL) {
        unknown_op(a.name);
        return EXIT_USAGE;
    }
    if (a.input != NULL && strcmp(a.input, "-") != 0) {
        in = fopen(a.input, "r");
        if (in == NULL) {
            fprintf(stderr,
                    "deskdb op: cannot open %s: %s\n",
                    a.input,
                    strerror(errno));
            return EXIT_USAGE;
        }
    }
    cfg = cmd_load_config(a.config);
    if (cfg != NULL && make_options(&a, cfg, &o) == 0)
        code = run(&a, op, cfg, &o, in);
    config_destroy(cfg);
    if (in != stdin)
        fclose(in);
    return code;
}

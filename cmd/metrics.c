/* SPDX-License-Identifier: MIT */
/* deskdb metrics: print one exposition of the metrics registry and exit. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/runtime.h"
#include "config/config.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/metrics.h"
#include "exporter/collectors.h"
#include "exporter/expo.h"

static const char usage[] =
    "usage: deskdb metrics [-c FILE] [--openmetrics]\n"
    "  Print the metrics exposition once (Prometheus text 0.0.4, or\n"
    "  OpenMetrics 1.0.0 with --openmetrics) to standard output.\n";

/* Parse the arguments; returns -1 to continue, else an exit code. */
static int
parse_args(int argc, char **argv, const char **path, bool *openmetrics)
{
    int i;
    int r;

    for (i = 1; i < argc; i++) {
        r = cmd_parse_config_opt(argc, argv, &i, path);
        if (r < 0)
            return EXIT_USAGE;
        if (r > 0)
            continue;
        if (strcmp(argv[i], "--openmetrics") == 0) {
            *openmetrics = true;
        } else if (strcmp(argv[i], "-h") == 0 ||
                   strcmp(argv[i], "--help") == 0) {
            fputs(usage, stdout);
            return EXIT_OK;
        } else {
            fprintf(stderr,
                    "deskdb metrics: unknown argument '%s'\n%s",
                    argv[i],
                    usage);
            return EXIT_USAGE;
        }
    }
    return -1;
}

/*
 * Render one exposition: the registry and, when enabled, the PostgreSQL
 * collectors (which also exercise the pool, so its families carry real
 * values).  A database that is down shows as pg_up 0, as in a scrape.
 */
static int
render(struct runtime *rt, enum expo_format fmt, struct buf *body)
{
    struct metrics_snapshot *snap =
        metrics_snapshot_create(rt->metrics,
                                rt->collectors ? collectors_collect : NULL,
                                rt->collectors);
    int rc;

    if (snap == NULL)
        return DESKDB_ENOMEM;
    rc = expo_render(snap, fmt, body);
    metrics_snapshot_destroy(snap);
    return rc;
}

int
cmd_metrics(int argc, char **argv)
{
    const char *path = NULL;
    bool openmetrics = false;
    struct config *cfg = NULL;
    struct runtime rt = {0};
    struct config_pool one_shot;
    struct deskdb_err err;
    struct buf body;
    int status = parse_args(argc, argv, &path, &openmetrics);
    int rc;

    if (status >= 0)
        return status;
    buf_init(&body, EXPO_MAX_BODY);
    status = EXIT_USAGE;
    cfg = cmd_load_config(path);
    if (cfg == NULL)
        goto out;
    status = EXIT_RUNTIME;
    /* One exposition needs one connection, not a warm pool. */
    one_shot = cfg->pool;
    one_shot.min = 1;
    if (one_shot.max > 2)
        one_shot.max = 2;
    err_clear(&err);
    if (runtime_open(&rt, cfg, &one_shot, &err) != DESKDB_OK) {
        fprintf(stderr, "deskdb metrics: %s\n", err.msg);
        goto out;
    }
    /* Connect first, so the pool families describe a working pool rather
     * than one that has not yet opened anything.  A database that is down
     * is reported in the exposition (pg_up 0), not as a failure here. */
    if (pool_health_check(rt.pool, cfg->collectors.timeout_ms, &err) !=
        DESKDB_OK)
        log_warn("metrics", "database health check failed", "err", err.msg);
    rc = render(&rt,
                openmetrics ? EXPO_FORMAT_OPENMETRICS : EXPO_FORMAT_TEXT,
                &body);
    if (rc != DESKDB_OK) {
        fprintf(stderr,
                "deskdb metrics: rendering the exposition failed: %s\n",
                err_code_name(rc));
        goto out;
    }
    if (fwrite(body.data, 1, body.len, stdout) != body.len ||
        fflush(stdout) != 0) {
        fprintf(stderr, "deskdb metrics: writing to standard output failed\n");
        goto out;
    }
    status = EXIT_OK;
out:
    buf_fini(&body);
    runtime_close(&rt, 1000);
    config_destroy(cfg);
    return status;
}

/* SPDX-License-Identifier: MIT */
/* Helpers for the collector integration tests. */
#include "support/colltest.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/pool.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

void
colltest_config(struct config_collectors *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->enabled = CONFIG_COLLECTOR_DATABASE | CONFIG_COLLECTOR_ACTIVITY |
                   CONFIG_COLLECTOR_LOCKS | CONFIG_COLLECTOR_TABLES |
                   CONFIG_COLLECTOR_INDEXES | CONFIG_COLLECTOR_SIZES |
                   CONFIG_COLLECTOR_STATEMENTS | CONFIG_COLLECTOR_REPLICATION |
                   CONFIG_COLLECTOR_SETTINGS;
    cfg->min_interval_ms = 0;
    cfg->timeout_ms = 5000;
    cfg->sizes_interval_ms = 5 * 60 * 1000;
    cfg->max_tables = 500;
    cfg->statements_top = 50;
}

void
colltest_start(struct colltest *t,
               const char *tag,
               const struct config_collectors *cfg,
               const struct clock *clock)
{
    struct deskdb_err err;

    memset(t, 0, sizeof(*t));
    pooltest_config(&t->db, &t->pool_cfg, tag, t->app);
    t->db.application_name = t->app;
    t->pool_cfg.min = 1;
    t->pool_cfg.max = 4;
    t->m = metrics_create();
    assert_non_null(t->m);
    t->pool = pool_create(&t->db, &t->pool_cfg, t->m, NULL, &err);
    if (t->pool == NULL)
        fail_msg("pool_create: %s", err.msg);
    t->c = collectors_create(cfg, t->pool, clock, &err);
    if (t->c == NULL)
        fail_msg("collectors_create: %s", err.msg);
}

void
colltest_stop(struct colltest *t)
{
    collectors_destroy(t->c);
    pool_destroy(t->pool);
    metrics_destroy(t->m);
    memset(t, 0, sizeof(*t));
}

struct metrics_snapshot *
colltest_collect(struct colltest *t)
{
    struct metrics_snapshot *snap =
        metrics_snapshot_create(t->m, collectors_collect, t->c);

    assert_non_null(snap);
    return snap;
}

static bool
sample_matches(const struct metrics_snapshot_family *f,
               const struct metrics_sample *s,
               va_list ap)
{
    const char *name, *value;
    size_t i;

    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        for (i = 0; i < f->n_labels; i++)
            if (strcmp(f->label_names[i], name) == 0)
                break;
        if (i == f->n_labels || strcmp(s->label_values[i], value) != 0)
            return false;
    }
    return true;
}

double
colltest_value(const struct metrics_snapshot *snap, const char *family, ...)
{
    const struct metrics_snapshot_family *f =
        metrics_snapshot_find(snap, family);
    va_list ap;
    size_t i;
    bool match;

    for (i = 0; f != NULL && i < f->n_samples; i++) {
        va_start(ap, family);
        match = sample_matches(f, &f->samples[i], ap);
        va_end(ap);
        if (match)
            return f->samples[i].value;
    }
    return NAN;
}

size_t
colltest_series(const struct metrics_snapshot *snap, const char *family)
{
    const struct metrics_snapshot_family *f =
        metrics_snapshot_find(snap, family);

    return f != NULL ? f->n_samples : 0;
}

double
colltest_success(const struct metrics_snapshot *snap, const char *name)
{
    return colltest_value(snap,
                          "deskdb_collector_success",
                          "collector",
                          name,
                          (const char *)NULL);
}

double
colltest_errors(const struct metrics_snapshot *snap,
                const char *collector,
                const char *reason)
{
    return colltest_value(snap,
                          "deskdb_collector_errors_total",
                          "collector",
                          collector,
                          "reason",
                          reason,
                          (const char *)NULL);
}

struct pg_conn *
colltest_connect_as(const char *application_name)
{
    const char *keys[] = {"dbname", "application_name", NULL};
    const char *values[] = {test_dsn(), application_name, NULL};
    PGconn *c = PQconnectdbParams(keys, values, 1);

    if (PQstatus(c) != CONNECTION_OK)
        fail_msg("connect as %s: %s", application_name, PQerrorMessage(c));
    return c;
}

void
colltest_exec(struct pg_conn *conn, const char *sql)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(conn));
    PQclear(r);
}

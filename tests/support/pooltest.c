/* SPDX-License-Identifier: MIT */
/* Helpers for the pool and transaction integration tests. */
#include "support/pooltest.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/metrics.h"
#include "core/pool.h"
#include "support/testsupport.h"

static _Atomic int64_t manual_now;

void
pooltest_config(struct config_database *db,
                struct config_pool *cfg,
                const char *tag,
                char *app)
{
    snprintf(app, 64, "deskdb-it-%s-%d", tag, (int)getpid());
    memset(db, 0, sizeof(*db));
    db->url = (char *)test_dsn();
    db->application_name = app;
    memset(cfg, 0, sizeof(*cfg));
    cfg->min = 5;
    cfg->max = 20;
    cfg->connect_timeout_ms = 10000;
    cfg->idle_timeout_ms = 30000;
    cfg->max_lifetime_ms = 30 * 60 * 1000;
    cfg->acquire_timeout_ms = 5000;
    cfg->statement_timeout_ms = 30000;
    cfg->query_timeout_ms = 30000;
    cfg->slow_query_threshold_ms = 1000;
    cfg->leak_detection_threshold_ms = 60000;
    cfg->health_check_interval_ms = 30000;
    cfg->query_history = 1000;
    cfg->slow_query_history = 100;
}

static int64_t
manual_mono(void *arg)
{
    (void)arg;
    return atomic_load(&manual_now);
}

static int64_t
system_real(void *arg)
{
    (void)arg;
    return clock_realtime_ns();
}

struct clock
pooltest_manual_clock(int64_t start_ns)
{
    struct clock c = {manual_mono, system_real, NULL};

    atomic_store(&manual_now, start_ns);
    return c;
}

void
pooltest_advance(int64_t ns)
{
    atomic_fetch_add(&manual_now, ns);
}

int64_t
pooltest_now(void)
{
    return atomic_load(&manual_now);
}

int
pooltest_count_app(const char *app)
{
    PGconn *c = test_connect();
    const char *params[] = {app};
    PGresult *r = PQexecParams(c,
                               "SELECT count(*) FROM pg_stat_activity "
                               "WHERE application_name = $1",
                               1,
                               NULL,
                               params,
                               NULL,
                               NULL,
                               0);
    int n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("count backends: %s", PQerrorMessage(c));
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    return n;
}

int
pooltest_terminate_app(const char *app)
{
    PGconn *c = test_connect();
    const char *params[] = {app};
    PGresult *r = PQexecParams(c,
                               "SELECT count(pg_terminate_backend(pid)) "
                               "FROM pg_stat_activity "
                               "WHERE application_name = $1",
                               1,
                               NULL,
                               params,
                               NULL,
                               NULL,
                               0);
    int n;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("terminate backends: %s", PQerrorMessage(c));
    n = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(c);
    for (int i = 0; i < 1000 && pooltest_count_app(app) > 0; i++)
        pooltest_sleep_ms(10);
    return n;
}

bool
pooltest_wait(bool (*pred)(struct pool *), struct pool *p, int timeout_ms)
{
    int64_t end = pooltest_ms() + timeout_ms;

    while (!pred(p)) {
        if (pooltest_ms() >= end)
            return false;
        pooltest_sleep_ms(10);
    }
    return true;
}

double
pooltest_metric(struct metrics *m, const char *family, const char *label_value)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *f;
    double v = -1;

    if (snap == NULL)
        fail_msg("metrics snapshot failed");
    f = metrics_snapshot_find(snap, family);
    for (size_t i = 0; f != NULL && i < f->n_samples; i++) {
        const struct metrics_sample *s = &f->samples[i];
        bool match = label_value == NULL
                         ? f->n_labels == 0
                         : f->n_labels > 0 &&
                               strcmp(s->label_values[0], label_value) == 0;
        if (!match)
            continue;
        v = f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
        break;
    }
    metrics_snapshot_destroy(snap);
    return v;
}

double
pooltest_metric_sum(struct metrics *m, const char *family)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *f;
    double v = 0;

    if (snap == NULL)
        fail_msg("metrics snapshot failed");
    f = metrics_snapshot_find(snap, family);
    for (size_t i = 0; f != NULL && i < f->n_samples; i++)
        v += f->samples[i].value;
    metrics_snapshot_destroy(snap);
    return v;
}

int64_t
pooltest_ms(void)
{
    return clock_monotonic_ns() / NS_PER_MS;
}

void
pooltest_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

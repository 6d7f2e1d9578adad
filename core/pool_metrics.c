/* SPDX-License-Identifier: MIT */
/* What the pool shows: metric families (research/exporters.md B2/B3),
 * the scrape-time gauge collector, stats snapshots and the health check. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/pool_internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Acquire waits up to the acquire timeout. */
static const double acquire_buckets[] = {0.0005,
                                         0.001,
                                         0.0025,
                                         0.005,
                                         0.01,
                                         0.025,
                                         0.05,
                                         0.1,
                                         0.25,
                                         0.5,
                                         1,
                                         2.5,
                                         5,
                                         10,
                                         30};
/* Checkouts from a single query to an hour-long job. */
static const double usage_buckets[] =
    {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
/* Connection setup: TCP, TLS, authentication, SET. */
static const double create_buckets[] =
    {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
/* Statements up to the default query timeout and beyond. */
static const double query_buckets[] = {0.0005,
                                       0.001,
                                       0.0025,
                                       0.005,
                                       0.01,
                                       0.025,
                                       0.05,
                                       0.1,
                                       0.25,
                                       0.5,
                                       1,
                                       2.5,
                                       5,
                                       10,
                                       30,
                                       60};

static int
missing(const char *name, struct deskdb_err *err)
{
    return err_set(err,
                   DESKDB_EINVAL,
                   "metrics: cannot register %s (a family of that name "
                   "exists with another type or labels)",
                   name);
}

#define REQUIRE(expr, name)              \
    do {                                 \
        if ((expr) == NULL)              \
            return missing((name), err); \
    } while (0)

static int
register_closed(struct pool *p, struct deskdb_err *err)
{
    static const char *const labels[] = {"reason", NULL};
    const char *name = "deskdb_pool_connections_closed_total";
    struct metric_family *f =
        metrics_family(p->metrics,
                       METRIC_COUNTER,
                       name,
                       "Pool connections closed, by reason.",
                       labels,
                       NULL,
                       0);

    if (f == NULL)
        return missing(name, err);
    /* Every reason exists from the start, at 0, so rate() works at once. */
    for (int r = 0; r < POOL_CLOSE_NREASONS; r++) {
        const char *values[] = {pool_close_reason_name(r), NULL};
        p->m.closed[r] = metric_series(f, values);
    }
    return 0;
}

static void collect(void *arg, struct metrics_sink *sink);

/* The unlabelled families: where the series goes, and how to make it. */
struct simple_family {
    size_t offset; /* of the struct metric * in struct pool_metrics */
    enum metric_type type;
    const char *name;
    const char *help;
    const double *buckets;
    size_t n_buckets;
};

#define SLOT(field) offsetof(struct pool_metrics, field)

static const struct simple_family simple_families[] = {
    {SLOT(acquire_seconds),
     METRIC_HISTOGRAM,
     "deskdb_pool_acquire_duration_seconds",
     "Time callers waited to check out a connection.",
     acquire_buckets,
     N(acquire_buckets)},
    {SLOT(usage_seconds),
     METRIC_HISTOGRAM,
     "deskdb_pool_usage_duration_seconds",
     "Time connections stayed checked out.",
     usage_buckets,
     N(usage_buckets)},
    {SLOT(create_seconds),
     METRIC_HISTOGRAM,
     "deskdb_pool_connection_create_duration_seconds",
     "Time to open and set up a connection.",
     create_buckets,
     N(create_buckets)},
    {SLOT(acquire_timeouts),
     METRIC_COUNTER,
     "deskdb_pool_acquire_timeouts_total",
     "Checkouts that gave up after the acquire timeout.",
     NULL,
     0},
    {SLOT(created),
     METRIC_COUNTER,
     "deskdb_pool_connections_created_total",
     "Pool connections opened.",
     NULL,
     0},
    {SLOT(connect_errors),
     METRIC_COUNTER,
     "deskdb_pool_connect_errors_total",
     "Failed attempts to open a pool connection.",
     NULL,
     0},
    {SLOT(validation_failures),
     METRIC_COUNTER,
     "deskdb_pool_validation_failures_total",
     "Idle connections found dead when checked.",
     NULL,
     0},
    {SLOT(leaks),
     METRIC_COUNTER,
     "deskdb_pool_leak_suspected_total",
     "Checkouts held longer than leak_detection_threshold.",
     NULL,
     0},
    {SLOT(queries),
     METRIC_COUNTER,
     "deskdb_queries_total",
     "Statements run through the pool.",
     NULL,
     0},
    {SLOT(query_seconds),
     METRIC_HISTOGRAM,
     "deskdb_query_duration_seconds",
     "Statement duration.",
     query_buckets,
     N(query_buckets)},
    {SLOT(slow_queries),
     METRIC_COUNTER,
     "deskdb_slow_queries_total",
     "Statements that took at least slow_query_threshold.",
     NULL,
     0},
};

int
pool_metrics_register(struct pool *p, struct deskdb_err *err)
{
    static const char *const class_label[] = {"sqlstate_class", NULL};
    struct metrics *m = p->metrics;

    for (size_t i = 0; i < N(simple_families); i++) {
        const struct simple_family *sf = &simple_families[i];
        struct metric_family *f = metrics_family(m,
                                                 sf->type,
                                                 sf->name,
                                                 sf->help,
                                                 NULL,
                                                 sf->buckets,
                                                 sf->n_buckets);
        struct metric *s = f != NULL ? metric_series(f, NULL) : NULL;

        if (s == NULL)
            return missing(sf->name, err);
        *(struct metric **)((char *)&p->m + sf->offset) = s;
    }
    p->m.query_errors = metrics_family(
        m,
        METRIC_COUNTER,
        "deskdb_query_errors_total",
        "Failed statements by SQLSTATE class (08: connection lost, 57: "
        "timeout, XX: client-side failure when the server sent none).",
        class_label,
        NULL,
        0);
    if (p->m.query_errors == NULL)
        return missing("deskdb_query_errors_total", err);
    if (register_closed(p, err) != 0)
        return err != NULL ? err->code : DESKDB_EINVAL;
    if (metrics_add_collector(m, collect, p) != 0)
        return err_set(err, DESKDB_ENOMEM, "metrics: out of memory");
    return 0;
}

void
pool_metrics_unregister(struct pool *p)
{
    metrics_remove_collector(p->metrics, collect, p);
}

void
pool_metrics_query_error(struct pool *p, const char *sqlstate_class)
{
    const char *values[] = {sqlstate_class, NULL};

    /* The family lock is taken here, never with the pool lock held. */
    if (p->m.query_errors != NULL)
        metric_inc(metric_series(p->m.query_errors, values));
}

static void
gauge(struct metrics_sink *sink, const char *name, const char *help, double v)
{
    if (metrics_sink_family(sink, METRIC_GAUGE, name, help, NULL) == 0)
        metrics_sink_sample(sink, NULL, v);
}

static void
collect_connections(struct metrics_sink *sink, const struct pool_stats *st)
{
    static const char *const labels[] = {"state", NULL};
    const struct {
        const char *state;
        int n;
    } states[] = {
        {"idle", st->idle},
        {"active", st->active},
        {"connecting", st->connecting},
        {"validating", st->validating},
        {"closing", st->closing},
    };

    if (metrics_sink_family(sink,
                            METRIC_GAUGE,
                            "deskdb_pool_connections",
                            "Pool connections by state; the sum is every "
                            "open or opening connection.",
                            labels) != 0)
        return;
    for (size_t i = 0; i < N(states); i++) {
        const char *values[] = {states[i].state, NULL};
        metrics_sink_sample(sink, values, states[i].n);
    }
}

/* Scrape time: gauges from one snapshot, taken under the pool lock
 * (which is never held while metrics are updated). */
static void
collect(void *arg, struct metrics_sink *sink)
{
    struct pool *p = arg;
    struct pool_stats st;

    pool_snapshot(p, &st);
    collect_connections(sink, &st);
    gauge(sink,
          "deskdb_pool_connections_max",
          "Configured maximum pool size.",
          st.max);
    gauge(sink,
          "deskdb_pool_connections_min",
          "Configured minimum pool size.",
          st.min);
    gauge(sink,
          "deskdb_pool_pending_requests",
          "Callers waiting to check out a connection.",
          st.waiting);
    gauge(sink,
          "deskdb_pool_wait_oldest_seconds",
          "How long the longest-waiting caller has waited.",
          (double)st.oldest_wait_ns / NS_PER_SEC);
    gauge(sink,
          "deskdb_pool_checkout_oldest_seconds",
          "Age of the longest-held checkout.",
          (double)st.oldest_checkout_ns / NS_PER_SEC);
    gauge(sink,
          "deskdb_pool_connections_leak_suspected",
          "Checkouts currently held longer than leak_detection_threshold.",
          st.leak_suspects);
    gauge(sink,
          "deskdb_pool_leak_detection_threshold_seconds",
          "Configured leak_detection_threshold (0: off).",
          (double)p->cfg.leak_detection_threshold_ms / 1000.0);
    txn_registry_collect(p->txn, sink, pool_now(p));
}

void
pool_snapshot(struct pool *p, struct pool_stats *out)
{
    int64_t now = pool_now(p);
    uint64_t q, ns;

    memset(out, 0, sizeof(*out));
    out->min = p->cfg.min;
    out->max = p->cfg.max;
    pthread_mutex_lock(&p->mu);
    out->idle = p->idle.n;
    out->active = p->active.n;
    out->connecting = p->connecting;
    out->validating = p->validating;
    out->closing = p->closing_n;
    out->total = pool_total_locked(p);
    out->waiting = p->waiting;
    out->leak_suspects = p->leak_suspects;
    out->shutting_down = p->closing;
    out->healthy = p->healthy;
    out->health_at_ns = p->health_at_ns;
    memcpy(out->last_connect_error,
           p->last_connect_error,
           sizeof(out->last_connect_error));
    for (struct pool_waiter *w = p->wait_head; w != NULL; w = w->next) {
        if (now - w->since_ns > out->oldest_wait_ns)
            out->oldest_wait_ns = now - w->since_ns;
    }
    for (struct pool_conn *c = p->active.head; c != NULL; c = c->next) {
        if (now - c->checkout_ns > out->oldest_checkout_ns)
            out->oldest_checkout_ns = now - c->checkout_ns;
    }
    pthread_mutex_unlock(&p->mu);

    out->acquires = STAT_GET(p, acquires);
    out->acquire_timeouts = STAT_GET(p, acquire_timeouts);
    out->created = STAT_GET(p, created);
    out->connect_errors = STAT_GET(p, connect_errors);
    out->validation_failures = STAT_GET(p, validation_failures);
    out->leaks_suspected = STAT_GET(p, leaks);
    for (int r = 0; r < POOL_CLOSE_NREASONS; r++)
        out->closed[r] = STAT_GET(p, closed[r]);
    q = STAT_GET(p, queries);
    ns = STAT_GET(p, query_ns);
    out->queries = q;
    out->query_errors = STAT_GET(p, query_errors);
    out->slow_queries = STAT_GET(p, slow_queries);
    out->avg_query_ms = q > 0 ? (double)ns / (double)q / 1e6 : 0.0;
}

int
pool_health_check(struct pool *p, int64_t timeout_ms, struct deskdb_err *err)
{
    int64_t deadline = pool_now(p) + timeout_ms * NS_PER_MS;
    struct pool_conn *c = NULL;
    int rc;

    rc = pool_acquire_timeout(p, &c, timeout_ms, err);
    if (rc == 0) {
        /* Not recorded: a probe every few seconds would crowd real
         * statements out of the query log. */
        rc = pool_conn_run(c, "SELECT 1", 0, NULL, deadline, 0, NULL, err);
        pool_release(p, c);
    }
    pthread_mutex_lock(&p->mu);
    p->healthy = rc == 0;
    p->health_at_ns = clock_real(&p->clock);
    pthread_mutex_unlock(&p->mu);
    if (rc != 0)
        err_prefix(err, "health check");
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* The collectors engine: lifecycle, one collection at a time shared by
 * the scrapes that arrive within min_interval, and the self metrics
 * written with every replay. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "exporter/collectors/internal.h"

#define BUDGET_MARGIN_MS 500
#define BUDGET_MAX_MS                                      \
    (3600 * 1000) /* keeps deadline sums far from overflow \
                   */

static const char errors_help[] =
    "PostgreSQL collector failures by reason: timeout (deadline or scrape "
    "budget), query (the server refused a statement), connection (none "
    "could be checked out, or it was lost) and cardinality_limit (a cap "
    "left rows out; the collector still succeeded).";

/* deskdb_collector_errors_total{collector,reason}: every enabled collector
 * and reason, zeros included, so rate() works from the first failure. */
static void
emit_errors(struct collectors *c, struct metrics_sink *sink)
{
    static const char *const labels[] = {"collector", "reason", NULL};
    const char *values[2];
    size_t i, j;

    if (metrics_sink_family(sink,
                            METRIC_COUNTER,
                            "deskdb_collector_errors_total",
                            errors_help,
                            labels) != 0)
        return;
    for (i = 0; i < COLL_N; i++) {
        if (!(c->cfg.enabled & coll_defs[i].bit))
            continue;
        for (j = 0; j < COLL_REASON_N; j++) {
            values[0] = coll_defs[i].name;
            values[1] = coll_reason_names[j];
            metrics_sink_sample(
                sink,
                values,
                (double)atomic_load_explicit(&c->errors[i][j],
                                             memory_order_relaxed));
        }
    }
}

static int
check_config(const struct config_collectors *cfg, struct deskdb_err *err)
{
    if (cfg->timeout_ms <= 0)
        return err_set(err, DESKDB_EINVAL, "collectors.timeout must be > 0");
    if (cfg->min_interval_ms < 0 || cfg->sizes_interval_ms < 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "collectors.min_interval and sizes_interval must "
                       "be >= 0");
    if (cfg->max_tables < 1 || cfg->statements_top < 1)
        return err_set(err,
                       DESKDB_EINVAL,
                       "collectors.max_tables and statements_top must be "
                       ">= 1");
    return 0;
}

struct collectors *
collectors_create(const struct config_collectors *cfg,
                  struct pool *pool,
                  const struct clock *clock,
                  struct deskdb_err *err)
{
    struct collectors *c;
    pthread_condattr_t attr;

    if (cfg == NULL || pool == NULL) {
        err_set(err, DESKDB_EINVAL, "collectors_create: bad arguments");
        return NULL;
    }
    if (check_config(cfg, err) != 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    c->cfg = *cfg;
    c->pool = pool;
    c->clock = clock != NULL ? *clock : clock_system;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->done_cv, &attr);
    pthread_condattr_destroy(&attr);
    return c;
}

void
collectors_destroy(struct collectors *c)
{
    size_t i;

    if (c == NULL)
        return;
    coll_result_unref(c->last);
    for (i = 0; i < COLL_N; i++)
        rec_unref(c->cache[i].rec);
    coll_stmt_state_free(&c->stmt);
    pthread_cond_destroy(&c->done_cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void
collectors_set_hook(struct collectors *c, collectors_hook_fn fn, void *arg)
{
    c->hook = fn;
    c->hook_arg = arg;
}

uint64_t
collectors_runs(const struct collectors *c)
{
    return atomic_load_explicit(&c->runs, memory_order_relaxed);
}

/* ---- self metrics ---------------------------------------------------------
 */

static void
emit_gauge(struct metrics_sink *sink,
           const char *name,
           const char *help,
           double v)
{
    if (metrics_sink_family(sink, METRIC_GAUGE, name, help, NULL) == 0)
        metrics_sink_sample(sink, NULL, v);
}

enum self_kind { SELF_SUCCESS, SELF_DURATION, SELF_SERIES, SELF_LAST_OK };

static void
emit_per_collector(struct metrics_sink *sink,
                   const struct coll_result *res,
                   enum self_kind kind)
{
    static const char *const labels[] = {"collector", NULL};
    static const struct {
        const char *name, *help;
    } fams[] = {
        [SELF_SUCCESS] = {"deskdb_collector_success",
                          "1 if the PostgreSQL collector succeeded in the "
                          "collection this scrape reports, else 0."},
        [SELF_DURATION] = {"deskdb_collector_duration_seconds",
                           "Seconds the PostgreSQL collector took (for a "
                           "cached collector, the run that produced the "
                           "data)."},
        [SELF_SERIES] = {"deskdb_collector_series",
                         "Series the PostgreSQL collector contributes to "
                         "this scrape."},
        [SELF_LAST_OK] = {"deskdb_collector_last_success_timestamp_seconds",
                          "Unix time of the PostgreSQL collector's last "
                          "successful run (absent until it first "
                          "succeeds)."},
    };
    const struct coll_status *st;
    const char *values[1];
    double v;
    size_t i;

    if (metrics_sink_family(sink,
                            METRIC_GAUGE,
                            fams[kind].name,
                            fams[kind].help,
                            labels) != 0)
        return;
    for (i = 0; i < COLL_N; i++) {
        st = &res->st[i];
        if (!st->enabled)
            continue;
        if (kind == SELF_SUCCESS)
            v = st->ok ? 1 : 0;
        else if (kind == SELF_DURATION)
            v = st->duration_s;
        else if (kind == SELF_SERIES)
            v = (double)rec_samples(st->rec);
        else if (res->last_success_ns[i] > 0)
            v = (double)res->last_success_ns[i] / NS_PER_SEC;
        else
            continue;
        values[0] = coll_defs[i].name;
        metrics_sink_sample(sink, values, v);
    }
}

static void
emit_result(const struct coll_result *res, struct metrics_sink *sink)
{
    static const char *const info_labels[] = {"version",
                                              "server_version_num",
                                              NULL};
    const char *values[2];
    char num[16];
    size_t i;

    emit_gauge(sink,
               "pg_up",
               "1 if PostgreSQL answered during the collection this scrape "
               "reports, else 0.",
               res->pg_up ? 1 : 0);
    if (!res->skipped)
        emit_gauge(sink,
                   "deskdb_scrape_duration_seconds",
                   "Seconds the PostgreSQL collection this scrape reports "
                   "took.",
                   res->duration_s);
    if (res->version_num > 0 &&
        metrics_sink_family(sink,
                            METRIC_GAUGE,
                            "pg_server_info",
                            "PostgreSQL server version, always 1.",
                            info_labels) == 0) {
        snprintf(num, sizeof(num), "%d", res->version_num);
        values[0] = res->version;
        values[1] = num;
        metrics_sink_sample(sink, values, 1);
    }
    emit_per_collector(sink, res, SELF_SUCCESS);
    emit_per_collector(sink, res, SELF_DURATION);
    emit_per_collector(sink, res, SELF_SERIES);
    emit_per_collector(sink, res, SELF_LAST_OK);
    for (i = 0; i < COLL_N; i++)
        if (res->st[i].ok)
            rec_replay(res->st[i].rec, sink);
}

/* ---- sharing --------------------------------------------------------------
 */

static struct coll_result *
result_ref(struct coll_result *res)
{
    if (res != NULL)
        atomic_fetch_add_explicit(&res->refs, 1, memory_order_relaxed);
    return res;
}

/* A scrape that gave up waiting for the running collection. */
static void
emit_skipped(struct collectors *c, struct metrics_sink *sink)
{
    struct coll_result res;
    size_t i;

    memset(&res, 0, sizeof(res));
    res.skipped = true;
    for (i = 0; i < COLL_N; i++)
        res.st[i].enabled = (c->cfg.enabled & coll_defs[i].bit) != 0;
    emit_result(&res, sink);
    emit_errors(c, sink);
}

/* Wait (c->mu held) for the running collection to finish, until
 * `deadline_ns` on CLOCK_MONOTONIC.  True if it finished. */
static bool
wait_running(struct collectors *c, int64_t deadline_ns)
{
    uint64_t gen = c->generation;
    struct timespec ts;

    ts.tv_sec = (time_t)(deadline_ns / NS_PER_SEC);
    ts.tv_nsec = (long)(deadline_ns % NS_PER_SEC);
    while (c->running && c->generation == gen) {
        if (pthread_cond_timedwait(&c->done_cv, &c->mu, &ts) == ETIMEDOUT)
            break;
    }
    return c->generation != gen;
}

void
collectors_collect_with_budget(struct collectors *c,
                               struct metrics_sink *sink,
                               int64_t budget_ms)
{
    struct coll_result *res = NULL, *old;
    int64_t wait_until;
    bool collect = false;

    if (budget_ms <= 0)
        budget_ms = COLLECTORS_DEFAULT_BUDGET_MS;
    if (budget_ms > BUDGET_MAX_MS)
        budget_ms = BUDGET_MAX_MS;
    wait_until = clock_monotonic_ns() + budget_ms * NS_PER_MS;
    pthread_mutex_lock(&c->mu);
    if (c->last != NULL && c->cfg.min_interval_ms > 0 &&
        clock_mono(&c->clock) - c->last->started_ns <
            c->cfg.min_interval_ms * NS_PER_MS) {
        res = result_ref(c->last);
    } else if (c->running) {
        if (wait_running(c, wait_until))
            res = result_ref(c->last);
    } else {
        c->running = true;
        collect = true;
    }
    pthread_mutex_unlock(&c->mu);

    if (collect) {
        res = coll_run(c, budget_ms);
        pthread_mutex_lock(&c->mu);
        old = c->last;
        c->last = result_ref(res);
        c->generation++;
        c->running = false;
        pthread_cond_broadcast(&c->done_cv);
        pthread_mutex_unlock(&c->mu);
        coll_result_unref(old);
    }
    if (res != NULL) {
        emit_result(res, sink);
        emit_errors(c, sink);
    } else {
        emit_skipped(c, sink);
    }
    coll_result_unref(res);
}

void
collectors_collect(void *collectors, struct metrics_sink *sink)
{
    collectors_collect_with_budget(collectors, sink, 0);
}

void
collectors_collect_scrape(void *scrape, struct metrics_sink *sink)
{
    const struct collectors_scrape *s = scrape;

    collectors_collect_with_budget(s->collectors, sink, s->budget_ms);
}

int64_t
collectors_budget_ms(const char *header, int64_t max_ms)
{
    double secs;
    char *end;
    int64_t ms, budget;

    if (max_ms <= 0)
        max_ms = COLLECTORS_DEFAULT_BUDGET_MS;
    if (header == NULL)
        return max_ms;
    secs = coll_strtod(header, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (end == header || *end != '\0' || !isfinite(secs) || secs <= 0)
        return max_ms;
    ms = secs >= (double)max_ms / 1000 ? max_ms : (int64_t)(secs * 1000);
    budget = ms - BUDGET_MARGIN_MS;
    if (budget < ms / 2)
        budget = ms / 2;
    return budget > 0 ? budget : 1;
}

/* SPDX-License-Identifier: MIT */
/* The JSON monitoring API: the seed's /api/db endpoints plus /api/jobs and
 * /api/alerts, built from snapshots of the pool, transactions and query log. */
#include "exporter/api.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/pool.h"
#include "core/querylog.h"
#include "core/txn.h"
#include "exporter/http.h"

struct api {
    struct pool *pool;
    int64_t health_timeout_ms;
    /* The providers may be set while requests are served (a scheduler
     * created by a reload): read and written under `mu`. */
    pthread_mutex_t mu;
    api_json_fn jobs_fn;
    void *jobs_arg;
    api_json_fn alerts_fn;
    void *alerts_arg;
};

struct api *
api_create(struct pool *pool, int64_t health_timeout_ms)
{
    struct api *api = calloc(1, sizeof(*api));

    if (api == NULL)
        return NULL;
    if (pthread_mutex_init(&api->mu, NULL) != 0) {
        free(api);
        return NULL;
    }
    api->pool = pool;
    api->health_timeout_ms = health_timeout_ms;
    return api;
}

void
api_destroy(struct api *api)
{
    if (api == NULL)
        return;
    pthread_mutex_destroy(&api->mu);
    free(api);
}

void
api_set_jobs_provider(struct api *api, api_json_fn fn, void *arg)
{
    pthread_mutex_lock(&api->mu);
    api->jobs_fn = fn;
    api->jobs_arg = arg;
    pthread_mutex_unlock(&api->mu);
}

void
api_set_alerts_provider(struct api *api, api_json_fn fn, void *arg)
{
    pthread_mutex_lock(&api->mu);
    api->alerts_fn = fn;
    api->alerts_arg = arg;
    pthread_mutex_unlock(&api->mu);
}

/* ---- helpers ---------------------------------------------------------- */

/* RFC 3339 UTC with milliseconds, or JSON null for 0. */
static json_t *
json_time(int64_t wall_ns)
{
    char s[64];
    time_t secs;
    struct tm tm;

    if (wall_ns <= 0)
        return json_null();
    secs = (time_t)(wall_ns / NS_PER_SEC);
    gmtime_r(&secs, &tm);
    snprintf(s,
             sizeof(s),
             "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900,
             tm.tm_mon + 1,
             tm.tm_mday,
             tm.tm_hour,
             tm.tm_min,
             tm.tm_sec,
             (int)(wall_ns % NS_PER_SEC / NS_PER_MS));
    return json_string(s);
}

static json_t *
json_ms(int64_t ns)
{
    return json_real((double)ns / 1e6);
}

/* Send `doc` (stolen) as the response body with `status`. */
static void
respond_json(struct http_response *resp, int status, json_t *doc)
{
    char *text = doc ? json_dumps(doc,
                                  JSON_COMPACT | JSON_ENSURE_ASCII |
                                      JSON_REAL_PRECISION(9))
                     : NULL;

    json_decref(doc);
    if (text == NULL) {
        http_response_text(resp, 500, "out of memory");
        return;
    }
    resp->status = status;
    http_response_set_type(resp, HTTP_TYPE_JSON);
    if (buf_puts(&resp->body, text) != DESKDB_OK ||
        buf_putc(&resp->body, '\n') != DESKDB_OK)
        http_response_text(resp, 500, "response too large");
    free(text);
}

static void
respond_error(struct http_response *resp, int status, const char *msg)
{
    respond_json(resp, status, json_pack("{s:s}", "error", msg));
}

/* ?limit=N: API_LIMIT_DEFAULT when absent, -1 (and a 400 sent) if bad. */
static int
parse_limit(const struct http_request *req, struct http_response *resp)
{
    const char *s = http_request_query(req, "limit");
    char *end;
    long v;

    if (s == NULL)
        return API_LIMIT_DEFAULT;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > API_LIMIT_MAX) {
        respond_error(resp, 400, "limit must be an integer from 1 to 1000");
        return -1;
    }
    return (int)v;
}

/* ---- documents -------------------------------------------------------- */

static json_t *
pool_json(const struct pool_stats *s)
{
    json_t *closed = json_object();
    json_t *doc;
    int r;

    for (r = 0; r < POOL_CLOSE_NREASONS; r++)
        json_object_set_new(closed,
                            pool_close_reason_name(r),
                            json_integer((json_int_t)s->closed[r]));
    doc = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:o, s:o, s:b}",
                    "min",
                    s->min,
                    "max",
                    s->max,
                    "total_connections",
                    s->total,
                    "idle_connections",
                    s->idle,
                    "active_connections",
                    s->active,
                    "connecting",
                    s->connecting,
                    "waiting_clients",
                    s->waiting,
                    "leak_suspects",
                    s->leak_suspects,
                    "oldest_wait_ms",
                    json_ms(s->oldest_wait_ns),
                    "oldest_checkout_ms",
                    json_ms(s->oldest_checkout_ns),
                    "shutting_down",
                    s->shutting_down);
    if (doc == NULL)
        return NULL;
    json_object_set_new(doc, "acquires", json_integer((json_int_t)s->acquires));
    json_object_set_new(doc,
                        "acquire_timeouts",
                        json_integer((json_int_t)s->acquire_timeouts));
    json_object_set_new(doc,
                        "connections_created",
                        json_integer((json_int_t)s->created));
    json_object_set_new(doc, "connections_closed", closed);
    json_object_set_new(doc,
                        "connect_errors",
                        json_integer((json_int_t)s->connect_errors));
    json_object_set_new(doc,
                        "validation_failures",
                        json_integer((json_int_t)s->validation_failures));
    json_object_set_new(doc,
                        "leaks_suspected_total",
                        json_integer((json_int_t)s->leaks_suspected));
    json_object_set_new(doc, "queries", json_integer((json_int_t)s->queries));
    json_object_set_new(doc,
                        "failed_queries",
                        json_integer((json_int_t)s->query_errors));
    json_object_set_new(doc,
                        "slow_queries",
                        json_integer((json_int_t)s->slow_queries));
    json_object_set_new(doc, "avg_query_time_ms", json_real(s->avg_query_ms));
    json_object_set_new(doc, "healthy", json_boolean(s->healthy));
    json_object_set_new(doc, "last_health_check", json_time(s->health_at_ns));
    json_object_set_new(doc,
                        "last_connect_error",
                        s->last_connect_error[0]
                            ? json_string(s->last_connect_error)
                            : json_null());
    return doc;
}

static json_t *
txn_json(const struct txn_stats *s)
{
    json_t *retries = json_object();
    json_t *doc;
    int r;

    for (r = 0; r < TXN_RETRY_NREASONS; r++)
        json_object_set_new(retries,
                            txn_retry_reason_name(r),
                            json_integer((json_int_t)s->retries[r]));
    doc = json_object();
    json_object_set_new(doc, "total", json_integer((json_int_t)s->finished));
    json_object_set_new(doc,
                        "committed",
                        json_integer((json_int_t)s->committed));
    json_object_set_new(doc,
                        "rolled_back",
                        json_integer((json_int_t)s->rolled_back));
    json_object_set_new(doc,
                        "commit_unknown",
                        json_integer((json_int_t)s->commit_unknown));
    json_object_set_new(doc, "retried", json_integer((json_int_t)s->retried));
    json_object_set_new(doc, "retries", retries);
    json_object_set_new(
        doc,
        "deadlock_retries",
        json_integer((json_int_t)s->retries[TXN_RETRY_DEADLOCK]));
    json_object_set_new(doc, "in_progress", json_integer(s->in_progress));
    json_object_set_new(doc, "oldest_in_progress_ms", json_ms(s->oldest_ns));
    json_object_set_new(doc, "avg_duration_ms", json_real(s->avg_ms));
    return doc;
}

static json_t *
entry_json(const struct querylog_entry *e)
{
    json_t *doc = json_object();

    json_object_set_new(doc, "seq", json_integer((json_int_t)e->seq));
    json_object_set_new(doc, "at", json_time(e->at_ns));
    json_object_set_new(doc, "duration_ms", json_ms(e->duration_ns));
    json_object_set_new(doc,
                        "rows",
                        e->rows < 0 ? json_null() : json_integer(e->rows));
    json_object_set_new(doc, "params", json_integer(e->nparams));
    json_object_set_new(doc, "status", json_string(err_code_name(e->code)));
    json_object_set_new(doc,
                        "sqlstate",
                        e->sqlstate[0] ? json_string(e->sqlstate)
                                       : json_null());
    json_object_set_new(doc, "sql", json_string(e->sql));
    json_object_set_new(doc, "truncated", json_boolean(e->truncated));
    return doc;
}

/* ---- handlers --------------------------------------------------------- */

static void
handle_health(void *arg,
              const struct http_request *req,
              struct http_response *resp)
{
    struct api *api = arg;
    struct deskdb_err err;
    struct pool_stats s;
    int64_t t0 = clock_monotonic_ns();
    int rc;
    json_t *doc;

    (void)req;
    err_clear(&err);
    rc = pool_health_check(api->pool, api->health_timeout_ms, &err);
    pool_snapshot(api->pool, &s);
    doc = json_pack("{s:s, s:b, s:o, s:o}",
                    "status",
                    rc == 0 ? "healthy" : "unhealthy",
                    "database",
                    rc == 0,
                    "latency_ms",
                    json_ms(clock_monotonic_ns() - t0),
                    "checked_at",
                    json_time(clock_realtime_ns()));
    if (doc != NULL && rc != 0)
        json_object_set_new(doc, "error", json_string(err.msg));
    if (doc != NULL)
        json_object_set_new(doc,
                            "pool",
                            json_pack("{s:i, s:i, s:i, s:i}",
                                      "total_connections",
                                      s.total,
                                      "idle_connections",
                                      s.idle,
                                      "active_connections",
                                      s.active,
                                      "waiting_clients",
                                      s.waiting));
    respond_json(resp, rc == 0 ? 200 : 503, doc);
}

static void
handle_pool(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    struct api *api = arg;
    struct pool_stats s;

    (void)req;
    pool_snapshot(api->pool, &s);
    respond_json(resp, 200, pool_json(&s));
}

static void
handle_txn(void *arg,
           const struct http_request *req,
           struct http_response *resp)
{
    struct api *api = arg;
    struct txn_stats s;

    (void)req;
    txn_stats_snapshot(api->pool, &s);
    respond_json(resp, 200, txn_json(&s));
}

/* The seed's getMetrics(): pool, transactions, queries and health. */
static void
handle_metrics(void *arg,
               const struct http_request *req,
               struct http_response *resp)
{
    struct api *api = arg;
    struct pool_stats ps;
    struct txn_stats ts;
    json_t *doc;

    (void)req;
    pool_snapshot(api->pool, &ps);
    txn_stats_snapshot(api->pool, &ts);
    doc = json_object();
    json_object_set_new(doc, "pool", pool_json(&ps));
    json_object_set_new(doc, "transactions", txn_json(&ts));
    json_object_set_new(doc,
                        "queries",
                        json_pack("{s:I, s:I, s:I, s:f}",
                                  "total",
                                  (json_int_t)ps.queries,
                                  "failed",
                                  (json_int_t)ps.query_errors,
                                  "slow",
                                  (json_int_t)ps.slow_queries,
                                  "avg_time_ms",
                                  ps.avg_query_ms));
    json_object_set_new(doc, "health", json_boolean(ps.healthy));
    json_object_set_new(doc, "last_health_check", json_time(ps.health_at_ns));
    respond_json(resp, 200, doc);
}

static void
respond_ring(struct api *api,
             enum querylog_ring ring,
             const struct http_request *req,
             struct http_response *resp)
{
    struct querylog_entry *entries = NULL;
    size_t n = 0;
    size_t i;
    uint64_t total = 0;
    int limit = parse_limit(req, resp);
    json_t *list;

    if (limit < 0)
        return;
    if (querylog_snapshot(pool_querylog(api->pool),
                          ring,
                          &entries,
                          &n,
                          &total) != DESKDB_OK) {
        respond_error(resp, 500, "out of memory");
        return;
    }
    list = json_array();
    for (i = 0; i < n && i < (size_t)limit; i++)
        json_array_append_new(list, entry_json(&entries[i]));
    free(entries);
    respond_json(resp,
                 200,
                 json_pack("{s:I, s:i, s:o}",
                           "total_recorded",
                           (json_int_t)total,
                           "count",
                           (int)json_array_size(list),
                           "queries",
                           list));
}

static void
handle_history(void *arg,
               const struct http_request *req,
               struct http_response *resp)
{
    respond_ring(arg, QUERYLOG_RECENT, req, resp);
}

static void
handle_slow(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    respond_ring(arg, QUERYLOG_SLOW, req, resp);
}

static void
respond_provider(api_json_fn fn,
                 void *arg,
                 const char *what,
                 struct http_response *resp)
{
    int rc;

    if (fn == NULL) {
        respond_error(resp, 404, what);
        return;
    }
    resp->status = 200;
    http_response_set_type(resp, HTTP_TYPE_JSON);
    rc = fn(arg, &resp->body);
    if (rc != DESKDB_OK) {
        buf_reset(&resp->body);
        respond_error(resp, 500, err_code_name(rc));
    }
}

static void
handle_jobs(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    struct api *api = arg;
    api_json_fn fn;
    void *fn_arg;

    (void)req;
    pthread_mutex_lock(&api->mu);
    fn = api->jobs_fn;
    fn_arg = api->jobs_arg;
    pthread_mutex_unlock(&api->mu);
    respond_provider(fn,
                     fn_arg,
                     "the scheduler is not running in this instance",
                     resp);
}

static void
handle_alerts(void *arg,
              const struct http_request *req,
              struct http_response *resp)
{
    struct api *api = arg;
    api_json_fn fn;
    void *fn_arg;

    (void)req;
    pthread_mutex_lock(&api->mu);
    fn = api->alerts_fn;
    fn_arg = api->alerts_arg;
    pthread_mutex_unlock(&api->mu);
    respond_provider(fn,
                     fn_arg,
                     "alerting is not running in this instance",
                     resp);
}

int
api_register(struct api *api, struct http_server *srv, struct deskdb_err *err)
{
    static const struct {
        const char *path;
        http_handler_fn fn;
    } routes[] = {
        {"/api/db/health", handle_health},
        {"/api/db/metrics", handle_metrics},
        {"/api/db/query-history", handle_history},
        {"/api/db/slow-queries", handle_slow},
        {"/api/db/transaction-stats", handle_txn},
        {"/api/db/pool-metrics", handle_pool},
        {"/api/jobs", handle_jobs},
        {"/api/alerts", handle_alerts},
    };
    size_t i;

    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (http_server_route(srv,
                              routes[i].path,
                              HTTP_ROUTE_AUTH,
                              routes[i].fn,
                              api) != DESKDB_OK)
            return err_set(err,
                           DESKDB_EINVAL,
                           "cannot register route %s",
                           routes[i].path);
    }
    return DESKDB_OK;
}

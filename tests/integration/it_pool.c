/* SPDX-License-Identifier: MIT */
/* Integration tests of the pool against a real PostgreSQL: exhaustion and
 * FIFO waiting, acquire timeouts, terminated backends, a server restart,
 * query timeouts, the query log, health checks and shutdown.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/querylog.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

struct fixture {
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct metrics *metrics;
    struct pool *pool;
};

static struct fixture *
fixture_new(const char *tag)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    pooltest_config(&f->db, &f->cfg, tag, f->app);
    f->metrics = metrics_create();
    assert_non_null(f->metrics);
    return f;
}

static void
fixture_start(struct fixture *f)
{
    struct deskdb_err err;

    f->pool = pool_create(&f->db, &f->cfg, f->metrics, NULL, &err);
    if (f->pool == NULL)
        fail_msg("pool_create: %s", err.msg);
}

static void
fixture_free(struct fixture *f)
{
    pool_destroy(f->pool);
    metrics_destroy(f->metrics);
    free(f);
}

static void
exec_ok(struct pool_conn *c, const char *sql)
{
    struct deskdb_err err;

    if (pool_exec(c, sql, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

static int
backend_pid_sql(struct pool_conn *c)
{
    struct deskdb_err err;
    PGresult *r;
    int pid;

    if (pool_query(c, "SELECT pg_backend_pid()", 0, NULL, &r, &err) != 0)
        fail_msg("pg_backend_pid: %s", err.msg);
    pid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return pid;
}

/* One round of acquire, SELECT 1, release; fails the test on error. */
static void
round_trip(struct pool *p)
{
    struct pool_conn *c;
    struct deskdb_err err;

    if (pool_acquire(p, &c, &err) != 0)
        fail_msg("acquire: %s", err.msg);
    exec_ok(c, "SELECT 1");
    pool_release(p, c);
}

static int waiting_target;

static bool
waiting_reached(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.waiting >= waiting_target;
}

static bool
idle_at_min(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.idle >= st.min && st.connecting == 0;
}

static bool
open_at_min(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.idle + st.active >= st.min;
}

/* ---- FIFO waiting ------------------------------------------------------ */

struct fifo_arg {
    struct pool *pool;
    int id;
    int *order;
    atomic_int *next;
    int rc;
};

static void *
fifo_waiter(void *arg)
{
    struct fifo_arg *a = arg;
    struct pool_conn *c;
    struct deskdb_err err;

    a->rc = pool_acquire(a->pool, &c, &err);
    if (a->rc != 0)
        return NULL;
    /* The pool has one connection, so this runs one waiter at a time. */
    a->order[atomic_fetch_add(a->next, 1)] = a->id;
    a->rc = pool_exec(c, "SELECT 1", &err);
    pool_release(a->pool, c);
    return NULL;
}

static void
test_waiters_are_served_in_fifo_order(void **state)
{
    struct fixture *f = fixture_new("fifo");
    struct fifo_arg args[5];
    pthread_t th[5];
    int order[5];
    atomic_int next = 0;
    struct pool_conn *held;
    struct deskdb_err err;
    struct pool_stats st;

    (void)state;
    f->cfg.min = 0;
    f->cfg.max = 1;
    f->cfg.acquire_timeout_ms = 30000;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &held, &err), 0);
    for (int i = 0; i < 5; i++) {
        args[i] = (struct fifo_arg){f->pool, i, order, &next, -1};
        assert_int_equal(pthread_create(&th[i], NULL, fifo_waiter, &args[i]),
                         0);
        /* Queue them one after the other, so their order is known. */
        waiting_target = i + 1;
        assert_true(pooltest_wait(waiting_reached, f->pool, 10000));
    }
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.waiting, 5);
    assert_true(st.oldest_wait_ns > 0);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_pool_pending_requests", NULL),
        5);
    pool_release(f->pool, held);
    for (int i = 0; i < 5; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].rc, 0);
    }
    for (int i = 0; i < 5; i++)
        assert_int_equal(order[i], i);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.total, 1);
    fixture_free(f);
}

/* ---- exhaustion -------------------------------------------------------- */

struct load_arg {
    struct pool *pool;
    pthread_barrier_t *start;
    int rounds;
    int failures;
    char last_error[512];
};

static void *
load_worker(void *arg)
{
    struct load_arg *a = arg;
    struct pool_conn *c;
    struct deskdb_err err;

    pthread_barrier_wait(a->start);
    for (int i = 0; i < a->rounds; i++) {
        if (pool_acquire(a->pool, &c, &err) != 0) {
            a->failures++;
            snprintf(a->last_error, sizeof(a->last_error), "%s", err.msg);
            continue;
        }
        if (pool_exec(c, "SELECT pg_sleep(0.02)", &err) != 0) {
            a->failures++;
            snprintf(a->last_error, sizeof(a->last_error), "%s", err.msg);
        }
        pool_release(a->pool, c);
    }
    return NULL;
}

static void
test_max_plus_five_callers_all_served(void **state)
{
    enum { MAX = 4, CALLERS = MAX + 5, ROUNDS = 10 };
    struct fixture *f = fixture_new("exhaust");
    struct load_arg args[CALLERS];
    pthread_t th[CALLERS];
    pthread_barrier_t start;
    struct pool_stats st;
    int max_waiting = 0, max_total = 0;

    (void)state;
    f->cfg.min = 1;
    f->cfg.max = MAX;
    f->cfg.acquire_timeout_ms = 30000;
    fixture_start(f);
    pthread_barrier_init(&start, NULL, CALLERS + 1);
    for (int i = 0; i < CALLERS; i++) {
        args[i] = (struct load_arg){.pool = f->pool,
                                    .start = &start,
                                    .rounds = ROUNDS};
        assert_int_equal(pthread_create(&th[i], NULL, load_worker, &args[i]),
                         0);
    }
    pthread_barrier_wait(&start);
    for (int i = 0; i < 100; i++) {
        pool_snapshot(f->pool, &st);
        if (st.waiting > max_waiting)
            max_waiting = st.waiting;
        if (st.total > max_total)
            max_total = st.total;
        pooltest_sleep_ms(5);
    }
    for (int i = 0; i < CALLERS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].failures != 0)
            fail_msg("caller %d: %d failures, last: %s",
                     i,
                     args[i].failures,
                     args[i].last_error);
    }
    pthread_barrier_destroy(&start);
    /* Callers queued visibly, and the pool never grew past max. */
    assert_true(max_waiting >= 1);
    assert_true(max_total <= MAX);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.active, 0);
    assert_true(st.total <= MAX);
    assert_true(st.created <= MAX);
    assert_int_equal(st.acquires, CALLERS * ROUNDS);
    assert_int_equal(st.acquire_timeouts, 0);
    assert_int_equal(pooltest_metric(f->metrics,
                                     "deskdb_pool_acquire_duration_seconds",
                                     NULL),
                     CALLERS * ROUNDS);
    fixture_free(f);
}

static void
test_acquire_timeout_in_about_the_configured_time(void **state)
{
    struct fixture *f = fixture_new("acqtimeout");
    struct pool_conn *a, *b, *c;
    struct deskdb_err err;
    int64_t t0, waited;

    (void)state;
    f->cfg.min = 0;
    f->cfg.max = 2;
    f->cfg.acquire_timeout_ms = 500;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &a, &err), 0);
    assert_int_equal(pool_acquire(f->pool, &b, &err), 0);
    t0 = pooltest_ms();
    assert_int_equal(pool_acquire(f->pool, &c, &err), DESKDB_ETIMEOUT);
    waited = pooltest_ms() - t0;
    /* Generous bounds: the point is "about", not a timing benchmark. */
    assert_true(waited >= 450);
    assert_true(waited < 5000);
    assert_null(c);
    assert_non_null(strstr(err.msg, "timed out"));
    assert_non_null(strstr(err.msg, "total 2, active 2, idle 0"));
    /* A zero timeout does not wait at all. */
    t0 = pooltest_ms();
    assert_int_equal(pool_acquire_timeout(f->pool, &c, 0, &err),
                     DESKDB_ETIMEOUT);
    assert_true(pooltest_ms() - t0 < 1000);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_pool_acquire_timeouts_total", NULL),
        2);
    pool_release(f->pool, a);
    /* A freed connection serves the next caller. */
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    pool_release(f->pool, c);
    pool_release(f->pool, b);
    fixture_free(f);
}

static void
test_connect_failure_is_reported(void **state)
{
    struct fixture *f = fixture_new("refused");
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    int64_t t0;

    (void)state;
    /* Port 1 on loopback: connection refused at once. */
    f->db.url = (char *)"postgresql://postgres:hunter2@127.0.0.1:1/deskdb";
    f->cfg.min = 0;
    f->cfg.acquire_timeout_ms = 500;
    fixture_start(f);
    t0 = pooltest_ms();
    assert_int_equal(pool_acquire(f->pool, &c, &err), DESKDB_ECONN);
    assert_true(pooltest_ms() - t0 < 5000);
    assert_non_null(strstr(err.msg, "connect failed"));
    assert_null(strstr(err.msg, "hunter2"));
    pool_snapshot(f->pool, &st);
    assert_true(st.connect_errors >= 1);
    assert_true(st.last_connect_error[0] != '\0');
    assert_null(strstr(st.last_connect_error, "hunter2"));
    assert_true(pooltest_metric(f->metrics,
                                "deskdb_pool_connect_errors_total",
                                NULL) >= 1);
    assert_int_equal(pool_health_check(f->pool, 300, &err) != 0, 1);
    pool_snapshot(f->pool, &st);
    assert_false(st.healthy);
    fixture_free(f);
}

/* ---- broken connections ------------------------------------------------ */

static uint64_t
closed_dead(const struct pool_stats *st)
{
    return st->closed[POOL_CLOSE_VALIDATION_FAILED] +
           st->closed[POOL_CLOSE_BROKEN];
}

static void
test_terminated_backends_are_replaced(void **state)
{
    struct fixture *f = fixture_new("terminate");
    struct pool_stats before, after;
    struct pool_conn *c;
    struct deskdb_err err;
    int killed, pid;

    (void)state;
    f->cfg.min = 3;
    f->cfg.max = 5;
    fixture_start(f);
    assert_true(pooltest_wait(idle_at_min, f->pool, 10000));
    pool_snapshot(f->pool, &before);
    killed = pooltest_terminate_app(f->app);
    assert_int_equal(killed, 3);
    /* Every caller gets a working connection, without operator action. */
    for (int i = 0; i < 10; i++)
        round_trip(f->pool);
    pool_snapshot(f->pool, &after);
    assert_int_equal(closed_dead(&after) - closed_dead(&before), 3);
    assert_int_equal(after.query_errors, 0);
    assert_int_equal(pooltest_metric(f->metrics,
                                     "deskdb_pool_connections_closed_total",
                                     "validation_failed") +
                         pooltest_metric(f->metrics,
                                         "deskdb_pool_connections_closed_total",
                                         "broken"),
                     3);
    /* The pool refills to min in the background. */
    assert_true(pooltest_wait(open_at_min, f->pool, 10000));

    /* Terminated while checked out: the query fails, the caller learns
     * the connection is gone, and release closes it as broken. */
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    pid = backend_pid_sql(c);
    assert_int_equal(pid, pool_conn_backend_pid(c));
    pooltest_terminate_app(f->app);
    assert_int_equal(pool_exec(c, "SELECT 1", &err), DESKDB_ECONN);
    pool_release(f->pool, c);
    pool_snapshot(f->pool, &after);
    assert_true(after.closed[POOL_CLOSE_BROKEN] >= 1);
    /* Class 57 (57P01, the FATAL the server sent) or 08 (none sent). */
    assert_int_equal(
        pooltest_metric_sum(f->metrics, "deskdb_query_errors_total"),
        1);
    for (int i = 0; i < 5; i++)
        round_trip(f->pool);
    fixture_free(f);
}

static void
test_server_restart_is_survived(void **state)
{
    struct fixture *f = fixture_new("restart");
    struct pool_stats before, after;

    (void)state;
    f->cfg.min = 2;
    f->cfg.max = 4;
    fixture_start(f);
    assert_true(pooltest_wait(idle_at_min, f->pool, 10000));
    round_trip(f->pool);
    pool_snapshot(f->pool, &before);
    assert_int_equal(test_pg_ctl("restart"), 0);
    for (int i = 0; i < 10; i++)
        round_trip(f->pool);
    pool_snapshot(f->pool, &after);
    assert_true(closed_dead(&after) - closed_dead(&before) >= 2);
    assert_true(pooltest_metric(f->metrics,
                                "deskdb_pool_connections_closed_total",
                                "validation_failed") +
                    pooltest_metric(f->metrics,
                                    "deskdb_pool_connections_closed_total",
                                    "broken") >=
                2);
    assert_true(pooltest_wait(open_at_min, f->pool, 10000));
    fixture_free(f);
}

/* ---- query timeout ----------------------------------------------------- */

static void
test_query_timeout_cancels_and_keeps_the_connection(void **state)
{
    struct fixture *f = fixture_new("qtimeout");
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    int64_t t0;
    int pid;

    (void)state;
    f->cfg.min = 1;
    f->cfg.max = 1;
    f->cfg.query_timeout_ms = 300;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    pid = backend_pid_sql(c);
    t0 = pooltest_ms();
    assert_int_equal(pool_exec(c, "SELECT pg_sleep(10)", &err),
                     DESKDB_ETIMEOUT);
    assert_true(pooltest_ms() - t0 < 5000);
    assert_string_equal(err.sqlstate, "57014");
    assert_non_null(strstr(err.msg, "cancelled"));
    /* The same session answers at once afterwards. */
    assert_int_equal(backend_pid_sql(c), pid);
    pool_release(f->pool, c);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    assert_int_equal(backend_pid_sql(c), pid);
    pool_release(f->pool, c);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_TIMEOUT], 0);
    assert_int_equal(st.created, 1);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_query_errors_total", "57"),
        1);
    fixture_free(f);
}

/* A session-level statement_timeout from the pool config is in force. */
static void
test_statement_timeout_is_set_per_connection(void **state)
{
    struct fixture *f = fixture_new("stmt");
    struct pool_conn *c;
    struct deskdb_err err;
    PGresult *r;

    (void)state;
    f->cfg.min = 0;
    f->cfg.statement_timeout_ms = 1234;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    assert_int_equal(pool_query(c, "SHOW statement_timeout", 0, NULL, &r, &err),
                     0);
    assert_string_equal(PQgetvalue(r, 0, 0), "1234ms");
    PQclear(r);
    assert_int_equal(pool_query(c, "SHOW application_name", 0, NULL, &r, &err),
                     0);
    assert_string_equal(PQgetvalue(r, 0, 0), f->app);
    PQclear(r);
    assert_int_equal(pool_exec(c, "SELECT pg_sleep(3)", &err), DESKDB_EPG);
    assert_string_equal(err.sqlstate, "57014");
    pool_release(f->pool, c);
    fixture_free(f);
}

/* ---- query log, metrics, health ---------------------------------------- */

static void
test_query_log_and_statistics(void **state)
{
    struct fixture *f = fixture_new("qlog");
    struct pool_conn *c;
    struct deskdb_err err;
    struct querylog_entry *e;
    struct pool_stats st;
    const char *params[] = {"secret-value-xyz"};
    PGresult *r;
    size_t n;

    (void)state;
    f->cfg.min = 0;
    f->cfg.slow_query_threshold_ms = 200;
    fixture_start(f);
    assert_int_equal(pool_health_check(f->pool, 2000, &err), 0);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    assert_int_equal(pool_query(c, "SELECT length($1)", 1, params, &r, &err),
                     0);
    assert_string_equal(PQgetvalue(r, 0, 0), "16");
    PQclear(r);
    exec_ok(c, "SELECT pg_sleep(0.3)");
    assert_int_equal(pool_exec(c, "SELECT * FROM no_such_table", &err),
                     DESKDB_EPG);
    assert_string_equal(err.sqlstate, "42P01");
    assert_non_null(strstr(err.msg, "no_such_table"));
    exec_ok(c, "CREATE TEMP TABLE ql(x int)");
    exec_ok(c, "INSERT INTO ql SELECT generate_series(1, 7)");
    pool_release(f->pool, c);

    assert_int_equal(querylog_snapshot(pool_querylog(f->pool),
                                       QUERYLOG_RECENT,
                                       &e,
                                       &n,
                                       NULL),
                     0);
    assert_int_equal(n, 5);
    assert_string_equal(e[0].sql,
                        "INSERT INTO ql SELECT generate_series(1, 7)");
    assert_int_equal(e[0].rows, 7);
    assert_string_equal(e[2].sql, "SELECT * FROM no_such_table");
    assert_string_equal(e[2].sqlstate, "42P01");
    assert_int_equal(e[2].code, DESKDB_EPG);
    assert_string_equal(e[4].sql, "SELECT length($1)");
    assert_int_equal(e[4].nparams, 1);
    /* Parameter values are never stored. */
    for (size_t i = 0; i < n; i++)
        assert_null(strstr(e[i].sql, "secret-value-xyz"));
    free(e);
    assert_int_equal(
        querylog_snapshot(pool_querylog(f->pool), QUERYLOG_SLOW, &e, &n, NULL),
        0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].sql, "SELECT pg_sleep(0.3)");
    assert_true(e[0].duration_ns >= 300 * NS_PER_MS);
    free(e);

    pool_snapshot(f->pool, &st);
    assert_true(st.healthy);
    assert_true(st.health_at_ns > 0);
    assert_int_equal(st.queries, 5);
    assert_int_equal(st.query_errors, 1);
    assert_int_equal(st.slow_queries, 1);
    assert_true(st.avg_query_ms >= 20.0);
    assert_int_equal(pooltest_metric(f->metrics, "deskdb_queries_total", NULL),
                     5);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_slow_queries_total", NULL),
        1);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_query_errors_total", "42"),
        1);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_query_duration_seconds", NULL),
        5);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_pool_connections", "idle"),
        1);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_pool_connections_max", NULL),
        20);
    fixture_free(f);
}

static void
test_dirty_connection_is_not_pooled(void **state)
{
    struct fixture *f = fixture_new("dirty");
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    int pid;

    (void)state;
    f->cfg.min = 0;
    f->cfg.max = 1;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    pid = backend_pid_sql(c);
    exec_ok(c, "BEGIN");
    pool_release(f->pool, c);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_DIRTY], 1);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    assert_true(backend_pid_sql(c) != pid);
    pool_release(f->pool, c);
    fixture_free(f);
}

/* ---- shutdown ---------------------------------------------------------- */

struct holder_arg {
    struct pool *pool;
    struct pool_conn *conn;
    int hold_ms;
};

static void *
holder(void *arg)
{
    struct holder_arg *a = arg;

    pooltest_sleep_ms(a->hold_ms);
    pool_release(a->pool, a->conn);
    return NULL;
}

static void
test_shutdown_waits_for_checkouts(void **state)
{
    struct fixture *f = fixture_new("shutdown");
    struct holder_arg h;
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    pthread_t th;
    int64_t t0;

    (void)state;
    f->cfg.min = 2;
    fixture_start(f);
    assert_true(pooltest_wait(idle_at_min, f->pool, 10000));
    h.pool = f->pool;
    h.hold_ms = 400;
    assert_int_equal(pool_acquire(f->pool, &h.conn, &err), 0);
    assert_int_equal(pthread_create(&th, NULL, holder, &h), 0);
    t0 = pooltest_ms();
    assert_int_equal(pool_shutdown(f->pool, 10000), 0);
    assert_true(pooltest_ms() - t0 >= 300);
    pthread_join(th, NULL);
    /* New checkouts fail fast and clearly. */
    t0 = pooltest_ms();
    assert_int_equal(pool_acquire(f->pool, &c, &err), DESKDB_ECLOSED);
    assert_true(pooltest_ms() - t0 < 100);
    assert_non_null(strstr(err.msg, "shutting down"));
    pool_snapshot(f->pool, &st);
    assert_true(st.shutting_down);
    assert_int_equal(st.total, 0);
    assert_int_equal(st.closed[POOL_CLOSE_SHUTDOWN], 2);
    assert_int_equal(pooltest_count_app(f->app), 0);
    fixture_free(f);
}

struct waiter_arg {
    struct pool *pool;
    int rc;
};

static void *
blocked_waiter(void *arg)
{
    struct waiter_arg *a = arg;
    struct pool_conn *c = NULL;
    struct deskdb_err err;

    a->rc = pool_acquire(a->pool, &c, &err);
    if (a->rc == 0)
        pool_release(a->pool, c);
    return NULL;
}

static void
test_shutdown_deadline_aborts_what_is_still_out(void **state)
{
    struct fixture *f = fixture_new("shutdown2");
    struct waiter_arg w;
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    pthread_t th;
    int64_t t0;

    (void)state;
    f->cfg.min = 0;
    f->cfg.max = 1;
    f->cfg.acquire_timeout_ms = 30000;
    fixture_start(f);
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    w.pool = f->pool;
    w.rc = 1;
    assert_int_equal(pthread_create(&th, NULL, blocked_waiter, &w), 0);
    waiting_target = 1;
    assert_true(pooltest_wait(waiting_reached, f->pool, 10000));
    t0 = pooltest_ms();
    assert_int_equal(pool_shutdown(f->pool, 300), DESKDB_ETIMEOUT);
    assert_true(pooltest_ms() - t0 >= 250);
    /* The queued caller was told at once, not after its 30 s. */
    pthread_join(th, NULL);
    assert_int_equal(w.rc, DESKDB_ECLOSED);
    /* The holder's socket was aborted: its next statement fails fast. */
    t0 = pooltest_ms();
    assert_int_equal(pool_exec(c, "SELECT 1", &err), DESKDB_ECONN);
    assert_true(pooltest_ms() - t0 < 2000);
    pool_release(f->pool, c);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.total, 0);
    assert_int_equal(st.closed[POOL_CLOSE_SHUTDOWN], 1);
    fixture_free(f);
}

static void
test_bad_configuration_is_rejected(void **state)
{
    struct fixture *f = fixture_new("badcfg");
    struct deskdb_err err;

    (void)state;
    f->cfg.min = 5;
    f->cfg.max = 2;
    assert_null(pool_create(&f->db, &f->cfg, NULL, NULL, &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "pool.min"));
    f->cfg.min = 0;
    f->cfg.connect_timeout_ms = 0;
    assert_null(pool_create(&f->db, &f->cfg, NULL, NULL, &err));
    assert_non_null(strstr(err.msg, "connect_timeout"));
    f->cfg.connect_timeout_ms = 1000;
    f->db.url = (char *)"postgresql://u:topsecret@host/db?no_such_option=1";
    assert_null(pool_create(&f->db, &f->cfg, NULL, NULL, &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "database.url"));
    assert_null(strstr(err.msg, "topsecret"));
    pool_destroy(NULL);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waiters_are_served_in_fifo_order),
        cmocka_unit_test(test_max_plus_five_callers_all_served),
        cmocka_unit_test(test_acquire_timeout_in_about_the_configured_time),
        cmocka_unit_test(test_connect_failure_is_reported),
        cmocka_unit_test(test_terminated_backends_are_replaced),
        cmocka_unit_test(test_server_restart_is_survived),
        cmocka_unit_test(test_query_timeout_cancels_and_keeps_the_connection),
        cmocka_unit_test(test_statement_timeout_is_set_per_connection),
        cmocka_unit_test(test_query_log_and_statistics),
        cmocka_unit_test(test_dirty_connection_is_not_pooled),
        cmocka_unit_test(test_shutdown_waits_for_checkouts),
        cmocka_unit_test(test_shutdown_deadline_aborts_what_is_still_out),
        cmocka_unit_test(test_bad_configuration_is_rejected),
    };

    log_configure(LOG_WARN, LOG_FORMAT_LOGFMT, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* A stalled backend (SIGSTOP: no server-side or TCP timeout fires, see
 * research/reliability.md #5) is caught by the client-side deadline: the
 * caller gets a timeout, the connection is discarded, the pool goes on.
 * Needs permission to signal the postgres-owned backend (root in CI).
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/txn.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

static int
teardown(void **state)
{
    (void)state;
    test_backend_resume();
    return 0;
}

static int
pid_of(struct pool_conn *c)
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

static void
test_stalled_backend_is_caught_by_the_deadline(void **state)
{
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct metrics *m = metrics_create();
    struct pool *p;
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    int64_t t0, took;
    int pid;

    (void)state;
    pooltest_config(&db, &cfg, "stall", app);
    cfg.min = 0;
    cfg.max = 2;
    cfg.query_timeout_ms = 500;
    /* The server-side timeout is armed too, and cannot fire: the backend
     * is not running. */
    cfg.statement_timeout_ms = 200;
    p = pool_create(&db, &cfg, m, NULL, &err);
    assert_non_null(p);
    assert_int_equal(pool_acquire(p, &c, &err), 0);
    pid = pid_of(c);
    test_backend_stop(pid);

    t0 = pooltest_ms();
    assert_int_equal(pool_exec(c, "SELECT 1", &err), DESKDB_ETIMEOUT);
    took = pooltest_ms() - t0;
    /* query_timeout, then at most the cancel grace (2 s): loosely. */
    assert_true(took >= 450);
    assert_true(took < 6000);
    assert_non_null(strstr(err.msg, "discarded"));
    pool_release(p, c);
    pool_snapshot(p, &st);
    assert_int_equal(st.closed[POOL_CLOSE_TIMEOUT], 1);
    assert_int_equal(
        pooltest_metric(m, "deskdb_pool_connections_closed_total", "timeout"),
        1);

    /* The pool is usable: a new backend answers. */
    assert_int_equal(pool_acquire(p, &c, &err), 0);
    assert_true(pid_of(c) != pid);
    pool_release(p, c);
    assert_int_equal(pool_health_check(p, 2000, &err), 0);
    pool_destroy(p);
    metrics_destroy(m);
}

/* A checkout that must validate an idle connection whose backend stalled
 * still ends by the acquire timeout (the validation ping is bounded by
 * it), and the stalled connection is discarded. */
static void
test_stalled_idle_connection_within_acquire_timeout(void **state)
{
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct pool *p;
    struct pool_conn *c = NULL;
    struct deskdb_err err;
    struct pool_stats st;
    int64_t t0, took;
    int pid;
    int rc;

    (void)state;
    pooltest_config(&db, &cfg, "stallidle", app);
    cfg.min = 0;
    cfg.max = 1;
    cfg.health_check_interval_ms = 3600 * 1000; /* no janitor validation */
    p = pool_create(&db, &cfg, NULL, NULL, &err);
    assert_non_null(p);
    assert_int_equal(pool_acquire(p, &c, &err), 0);
    pid = pid_of(c);
    pool_release(p, c);
    /* Idle long enough that the next checkout validates it. */
    pooltest_sleep_ms(1200);
    test_backend_stop(pid);

    t0 = pooltest_ms();
    rc = pool_acquire_timeout(p, &c, 300, &err);
    took = pooltest_ms() - t0;
    if (took >= 1500)
        fail_msg("acquire with a 300 ms timeout took %lld ms", (long long)took);
    if (rc == 0) {
        assert_true(pid_of(c) != pid);
        pool_release(p, c);
    } else {
        /* out of time, while waiting or while connecting a replacement */
        assert_true(rc == DESKDB_ETIMEOUT || rc == DESKDB_ECONN);
    }
    pool_snapshot(p, &st);
    assert_int_equal(st.validation_failures, 1);
    pool_destroy(p);
}

static int
stall_txn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct pool_conn *c = txn_conn(t);
    int *attempts = arg;

    (*attempts)++;
    if (test_backend_stopped() == 0)
        test_backend_stop(pool_conn_backend_pid(c));
    return txn_exec(t, "SELECT 1", err);
}

/* A stall inside a transaction is a timeout, not a retry: the work may
 * be what stalls the server. */
static void
test_stall_inside_a_transaction_is_not_retried(void **state)
{
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct pool *p;
    struct deskdb_err err;
    struct txn_options opt = {.isolation = CONFIG_ISOLATION_READ_COMMITTED,
                              .max_retries = 3,
                              .backoff_base_ms = 10,
                              .backoff_cap_ms = 50,
                              .timeout_ms = 10000};
    int attempts = 0;
    int64_t t0;

    (void)state;
    pooltest_config(&db, &cfg, "stalltxn", app);
    cfg.min = 0;
    cfg.query_timeout_ms = 500;
    p = pool_create(&db, &cfg, NULL, NULL, &err);
    assert_non_null(p);
    t0 = pooltest_ms();
    assert_int_equal(txn_run(p, &opt, stall_txn, &attempts, &err),
                     DESKDB_ETIMEOUT);
    assert_true(pooltest_ms() - t0 < 8000);
    assert_int_equal(attempts, 1);
    assert_int_equal(pool_health_check(p, 2000, &err), 0);
    pool_destroy(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(
            test_stalled_backend_is_caught_by_the_deadline,
            teardown),
        cmocka_unit_test_teardown(
            test_stalled_idle_connection_within_acquire_timeout,
            teardown),
        cmocka_unit_test_teardown(
            test_stall_inside_a_transaction_is_not_retried,
            teardown),
    };

    log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* The collectors when the database misbehaves: a stalled backend (SIGSTOP)
 * fails one collector within its timeout while the others are served
 * from a fresh connection; a stopped server gives pg_up 0 quickly, and
 * pg_up 1 again once it is back.  Needs permission to signal the
 * postgres-owned backend (root in CI) and restarts the test server.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/pool.h"
#include "support/colltest.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

#define END ((const char *)NULL)

static const char *const all_collectors[] = {"database",
                                             "activity",
                                             "locks",
                                             "tables",
                                             "indexes",
                                             "sizes",
                                             "statements",
                                             "replication",
                                             "settings"};

#define N_COLLECTORS (sizeof(all_collectors) / sizeof(all_collectors[0]))

static void
stop_hook(void *arg, const char *collector, int pid)
{
    const char *victim = arg;

    /* the hook runs before the collector's first statement: the backend
     * stops while idle and never sees the query */
    if (strcmp(collector, victim) != 0 || test_backend_stopped() != 0)
        return;
    test_backend_stop(pid);
}

static int
teardown(void **state)
{
    (void)state;
    test_backend_resume();
    return 0;
}

static void
test_stalled_backend_fails_one_collector(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    struct pool_stats st;
    int64_t t0, took;
    size_t i;

    (void)state;
    colltest_config(&cfg);
    cfg.timeout_ms = 3000;
    colltest_start(&t, "coll-stall", &cfg, NULL);
    collectors_set_hook(t.c, stop_hook, (void *)"activity");

    t0 = pooltest_ms();
    snap = colltest_collect(&t);
    took = pooltest_ms() - t0;
    assert_true(test_backend_stopped() > 0);
    if (took > cfg.timeout_ms + 1000)
        fail_msg("collection took %lld ms with a %lld ms timeout",
                 (long long)took,
                 (long long)cfg.timeout_ms);
    assert_true(colltest_success(snap, "activity") == 0);
    for (i = 0; i < N_COLLECTORS; i++) {
        if (strcmp(all_collectors[i], "activity") != 0 &&
            colltest_success(snap, all_collectors[i]) != 1)
            fail_msg("collector %s failed", all_collectors[i]);
    }
    /* the collectors after the stall ran on another connection */
    assert_true(colltest_value(snap, "pg_up", END) == 1);
    assert_true(colltest_value(snap,
                               "deskdb_collector_series",
                               "collector",
                               "activity",
                               END) == 0);
    assert_int_equal(colltest_series(snap, "pg_stat_activity_backends"), 0);
    assert_true(colltest_series(snap, "pg_locks") > 0);
    assert_true(colltest_errors(snap, "activity", "timeout") == 1);
    assert_true(colltest_errors(snap, "database", "timeout") == 0);
    metrics_snapshot_destroy(snap);
    /* the stalled connection was discarded, not pooled */
    pool_snapshot(t.pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_TIMEOUT], 1);

    /* the next scrape is whole again */
    collectors_set_hook(t.c, NULL, NULL);
    snap = colltest_collect(&t);
    for (i = 0; i < N_COLLECTORS; i++)
        assert_true(colltest_success(snap, all_collectors[i]) == 1);
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

/* The scrape budget bounds the whole collection: a stall in the first
 * collector leaves no time for the others, which fail as timeouts. */
static void
test_budget_bounds_the_collection(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct collectors_scrape scrape;
    struct metrics_snapshot *snap;
    int64_t t0, took;

    (void)state;
    colltest_config(&cfg);
    cfg.timeout_ms = 5000;
    colltest_start(&t, "coll-budget", &cfg, NULL);
    collectors_set_hook(t.c, stop_hook, (void *)"database");
    scrape.collectors = t.c;
    scrape.budget_ms = 3000;
    t0 = pooltest_ms();
    snap = metrics_snapshot_create(t.m, collectors_collect_scrape, &scrape);
    took = pooltest_ms() - t0;
    assert_non_null(snap);
    assert_true(test_backend_stopped() > 0);
    if (took > scrape.budget_ms + 1000)
        fail_msg("collection took %lld ms with a %lld ms budget",
                 (long long)took,
                 (long long)scrape.budget_ms);
    assert_true(colltest_value(snap, "pg_up", END) == 0);
    assert_true(colltest_success(snap, "database") == 0);
    assert_true(colltest_success(snap, "settings") == 0);
    assert_true(colltest_errors(snap, "database", "timeout") == 1);
    assert_true(colltest_errors(snap, "settings", "timeout") == 1);
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

static double
collect_pg_up(struct colltest *t, double *database_ok)
{
    struct metrics_snapshot *snap = colltest_collect(t);
    double up = colltest_value(snap, "pg_up", END);

    *database_ok = colltest_success(snap, "database");
    metrics_snapshot_destroy(snap);
    return up;
}

static void
test_server_down_and_back(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    double ok = 0, up;
    int64_t t0, took, end;
    size_t i;

    (void)state;
    colltest_config(&cfg);
    cfg.timeout_ms = 2000;
    colltest_start(&t, "coll-down", &cfg, NULL);
    assert_true(collect_pg_up(&t, &ok) == 1);

    assert_int_equal(test_pg_ctl("stop"), 0);
    t0 = pooltest_ms();
    snap = colltest_collect(&t);
    took = pooltest_ms() - t0;
    if (took > cfg.timeout_ms + 1000)
        fail_msg("collection took %lld ms with the server down",
                 (long long)took);
    assert_true(colltest_value(snap, "pg_up", END) == 0);
    for (i = 0; i < N_COLLECTORS; i++)
        assert_true(colltest_success(snap, all_collectors[i]) == 0);
    /* nothing stale is served: no PostgreSQL family at all */
    assert_int_equal(colltest_series(snap, "pg_stat_database_numbackends"), 0);
    assert_int_equal(colltest_series(snap, "pg_database_size_bytes"), 0);
    assert_true(colltest_errors(snap, "database", "connection") == 1);
    assert_true(colltest_errors(snap, "sizes", "connection") == 1);
    metrics_snapshot_destroy(snap);

    /* back without restarting anything of ours */
    assert_int_equal(test_pg_ctl("start"), 0);
    t0 = pooltest_ms();
    end = t0 + 10000;
    while ((up = collect_pg_up(&t, &ok)) != 1 && pooltest_ms() < end)
        pooltest_sleep_ms(200);
    if (up != 1)
        fail_msg("pg_up did not come back within 10 s of the restart");
    print_message("pg_up back %lld ms after the restart\n",
                  (long long)(pooltest_ms() - t0));
    assert_true(ok == 1);
    colltest_stop(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_stalled_backend_fails_one_collector,
                                  teardown),
        cmocka_unit_test_teardown(test_budget_bounds_the_collection, teardown),
        cmocka_unit_test_teardown(test_server_down_and_back, teardown),
    };

    log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Integration tests of the pool janitor driven by a manual clock: leak
 * detection, idle timeout, max lifetime, validation of idle connections
 * and connect backoff.  No sleeping for the timeouts themselves.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

#define START_NS (1000 * NS_PER_SEC)

struct fixture {
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct clock clock;
    struct metrics *metrics;
    struct pool *pool;
    FILE *log;
};

static struct fixture *
fixture_new(const char *tag)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    pooltest_config(&f->db, &f->cfg, tag, f->app);
    f->clock = pooltest_manual_clock(START_NS);
    f->metrics = metrics_create();
    assert_non_null(f->metrics);
    /* Checks that care about timing set their own; keep the rest off. */
    f->cfg.health_check_interval_ms = 0;
    f->cfg.leak_detection_threshold_ms = 0;
    f->log = tmpfile();
    assert_non_null(f->log);
    log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, f->log);
    return f;
}

static void
fixture_start(struct fixture *f)
{
    struct deskdb_err err;

    f->pool = pool_create(&f->db, &f->cfg, f->metrics, &f->clock, &err);
    if (f->pool == NULL)
        fail_msg("pool_create: %s", err.msg);
}

static void
fixture_free(struct fixture *f)
{
    pool_destroy(f->pool);
    metrics_destroy(f->metrics);
    log_configure(LOG_WARN, LOG_FORMAT_LOGFMT, NULL);
    fclose(f->log);
    free(f);
}

/* Everything logged so far; caller frees. */
static char *
log_text(struct fixture *f)
{
    long n;
    char *s;

    fflush(f->log);
    n = ftell(f->log);
    s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(f->log);
    assert_int_equal(fread(s, 1, (size_t)n, f->log), (size_t)n);
    fseek(f->log, 0, SEEK_END);
    return s;
}

static int
count_substr(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static bool
idle_at_min(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.idle >= st.min && st.connecting == 0;
}

static int expected_total;

static bool
total_is(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.total == expected_total && st.connecting == 0 &&
           st.closing == 0 && st.validating == 0;
}

static void
test_leak_is_reported_once_and_not_taken_away(void **state)
{
    struct fixture *f = fixture_new("leak");
    struct pool_conn *c;
    struct deskdb_err err;
    struct pool_stats st;
    char site[64], *text;
    int line;

    (void)state;
    f->cfg.min = 0;
    f->cfg.leak_detection_threshold_ms = 1000;
    fixture_start(f);
    line = __LINE__ + 1;
    assert_int_equal(pool_acquire(f->pool, &c, &err), 0);
    snprintf(site, sizeof(site), "it_pool_janitor.c:%d", line);

    pooltest_advance(900 * NS_PER_MS);
    pool_janitor_tick(f->pool, pooltest_now());
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.leaks_suspected, 0);

    pooltest_advance(200 * NS_PER_MS);
    pool_janitor_tick(f->pool, pooltest_now());
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.leaks_suspected, 1);
    assert_int_equal(st.leak_suspects, 1);
    assert_true(st.oldest_checkout_ns >= 1100 * NS_PER_MS);
    /* Once per checkout, however many passes see it. */
    pooltest_advance(5000 * NS_PER_MS);
    pool_janitor_tick(f->pool, pooltest_now());
    pool_janitor_tick(f->pool, pooltest_now());
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.leaks_suspected, 1);
    assert_int_equal(
        pooltest_metric(f->metrics, "deskdb_pool_leak_suspected_total", NULL),
        1);
    assert_int_equal(pooltest_metric(f->metrics,
                                     "deskdb_pool_connections_leak_suspected",
                                     NULL),
                     1);
    assert_true(pooltest_metric(f->metrics,
                                "deskdb_pool_checkout_oldest_seconds",
                                NULL) >= 6.0);
    text = log_text(f);
    assert_int_equal(count_substr(text, "connection leak suspected"), 1);
    assert_non_null(strstr(text, site));
    assert_non_null(strstr(text, "test_leak_is_reported_once_and_not_taken"));
    free(text);

    /* The holder still owns a working connection. */
    assert_int_equal(pool_exec(c, "SELECT 1", &err), 0);
    pool_release(f->pool, c);
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.leak_suspects, 0);
    assert_int_equal(st.idle, 1);
    text = log_text(f);
    assert_non_null(strstr(text, "previously reported leaked connection"));
    free(text);
    fixture_free(f);
}

static void
test_idle_timeout_down_to_min_then_max_lifetime(void **state)
{
    struct fixture *f = fixture_new("idle");
    struct pool_conn *c[3];
    struct deskdb_err err;
    struct pool_stats st;
    int old_pid;

    (void)state;
    f->cfg.min = 1;
    f->cfg.max = 4;
    f->cfg.idle_timeout_ms = 10000;
    f->cfg.max_lifetime_ms = 60000;
    fixture_start(f);
    assert_true(pooltest_wait(idle_at_min, f->pool, 10000));
    for (int i = 0; i < 3; i++)
        assert_int_equal(pool_acquire(f->pool, &c[i], &err), 0);
    old_pid = pool_conn_backend_pid(c[0]);
    for (int i = 0; i < 3; i++)
        pool_release(f->pool, c[i]);
    expected_total = 3;
    assert_true(pooltest_wait(total_is, f->pool, 5000));

    pooltest_advance(5 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.total, 3);

    pooltest_advance(6 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    expected_total = 1;
    assert_true(pooltest_wait(total_is, f->pool, 5000));
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_IDLE_TIMEOUT], 2);
    assert_int_equal(pooltest_metric(f->metrics,
                                     "deskdb_pool_connections_closed_total",
                                     "idle_timeout"),
                     2);
    /* At min, idle connections stay however long they idle. */
    pooltest_advance(20 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_IDLE_TIMEOUT], 2);

    /* Past max_lifetime the last one is replaced by a new backend. */
    pooltest_advance(40 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    expected_total = 1;
    assert_true(pooltest_wait(total_is, f->pool, 5000));
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_MAX_LIFETIME], 1);
    assert_int_equal(pool_acquire(f->pool, &c[0], &err), 0);
    assert_true(pool_conn_backend_pid(c[0]) != old_pid);
    pool_release(f->pool, c[0]);
    fixture_free(f);
}

static void
test_janitor_validates_idle_connections(void **state)
{
    struct fixture *f = fixture_new("validate");
    struct pool_stats st;

    (void)state;
    f->cfg.min = 2;
    f->cfg.max = 4;
    f->cfg.health_check_interval_ms = 5000;
    fixture_start(f);
    assert_true(pooltest_wait(idle_at_min, f->pool, 10000));
    assert_int_equal(pooltest_terminate_app(f->app), 2);
    pooltest_advance(6 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    expected_total = 2;
    assert_true(pooltest_wait(total_is, f->pool, 5000));
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.closed[POOL_CLOSE_VALIDATION_FAILED], 2);
    assert_int_equal(st.validation_failures, 2);
    assert_int_equal(st.idle, 2);
    assert_int_equal(pooltest_count_app(f->app), 2);
    assert_int_equal(pooltest_metric(f->metrics,
                                     "deskdb_pool_validation_failures_total",
                                     NULL),
                     2);
    /* Healthy connections pass validation and stay. */
    pooltest_advance(6 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    assert_true(pooltest_wait(total_is, f->pool, 5000));
    pool_snapshot(f->pool, &st);
    assert_int_equal(st.validation_failures, 2);
    fixture_free(f);
}

static uint64_t
connect_errors(struct pool *p)
{
    struct pool_stats st;

    pool_snapshot(p, &st);
    return st.connect_errors;
}

static bool
has_connect_error(struct pool *p)
{
    return connect_errors(p) >= 1;
}

static uint64_t errors_before;

static bool
more_connect_errors(struct pool *p)
{
    return connect_errors(p) > errors_before;
}

static void
test_refill_backs_off_after_connect_errors(void **state)
{
    struct fixture *f = fixture_new("backoff");
    char *text;

    (void)state;
    f->db.url = (char *)"postgresql://postgres@127.0.0.1:1/deskdb";
    f->cfg.min = 2;
    fixture_start(f);
    assert_true(pooltest_wait(has_connect_error, f->pool, 5000));
    errors_before = connect_errors(f->pool);
    /* Without the clock moving, the janitor does not hammer the server. */
    for (int i = 0; i < 5; i++)
        pool_janitor_tick(f->pool, pooltest_now());
    pooltest_sleep_ms(300);
    assert_int_equal(connect_errors(f->pool), errors_before);
    /* After the longest backoff it tries again. */
    pooltest_advance(31 * NS_PER_SEC);
    pool_janitor_tick(f->pool, pooltest_now());
    assert_true(pooltest_wait(more_connect_errors, f->pool, 5000));
    text = log_text(f);
    assert_non_null(strstr(text, "cannot open a connection"));
    free(text);
    fixture_free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leak_is_reported_once_and_not_taken_away),
        cmocka_unit_test(test_idle_timeout_down_to_min_then_max_lifetime),
        cmocka_unit_test(test_janitor_validates_idle_connections),
        cmocka_unit_test(test_refill_backs_off_after_connect_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

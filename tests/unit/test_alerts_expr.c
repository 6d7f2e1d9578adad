/* SPDX-License-Identifier: MIT */
/* Rule expressions: what parses, where errors point, and what they select
 * from a snapshot, rate() and increase() with counter resets included. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/clock.h"
#include "core/metrics.h"
#include "exporter/alerts/expr.h"

static void
test_parse_valid(void **state)
{
    static const char *const ok[] = {
        "pg_up == 0",
        "deskdb_pool_pending_requests > 5",
        "increase(deskdb_slow_queries_total[5m]) > 100",
        "increase(deskdb_transaction_retries_total{reason=\"deadlock\"}[5m]) "
        "> 10",
        "rate(x_total{a=\"1\", b!=\"2\", c=~\"d.*\", e!~'f|g',}[1m30s]) >= "
        "0.5",
        "  x   <=   -1e3  ",
        "{__name__=\"pg_up\"} != 1",
        "sum(pg_stat_activity_count) > 10",
        "max by (datname) (pg_stat_activity_count) > 10",
        "count(pg_up) by (instance) < 1",
        "avg(rate(x_total[5m])) > +Inf",
        "x:recorded:rate5m > 1",
        "sum == 1", /* a metric that happens to be named sum */
        "x_bucket{le=\"0.5\"} > 3",
        "x{a=`raw\\s`} > 1",
    };
    struct alert_expr *e;
    struct deskdb_err err;
    size_t i, off;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (alert_expr_parse(ok[i], &e, &off, &err) != DESKDB_OK)
            fail_msg("'%s' should parse: %s at %zu", ok[i], err.msg, off);
        alert_expr_destroy(e);
    }
}

struct bad {
    const char *expr;
    size_t offset;
    const char *msg;
};

static void
test_parse_errors(void **state)
{
    static const struct bad bad[] = {
        {"", 0, "expected a metric name"},
        {"pg_up", 5, "expected a comparison"},
        {"pg_up = 0", 6, "expected a comparison"},
        {"pg_up > ", 8, "expected a number, found end of input"},
        {"pg_up > five", 8, "expected a number"},
        {"pg_up > 1 and x", 10, "unexpected 'a' after the expression"},
        {"pg_up{job=\"x} > 1", 10, "unterminated string"},
        {"pg_up{job=x} > 1", 10, "expected a quoted string"},
        {"pg_up{job==\"x\"} > 1", 9, "label matcher operator"},
        {"pg_up{=\"x\"} > 1", 6, "expected a label name"},
        {"pg_up{job=\"x\" env=\"y\"} > 1", 14, "expected ',' or '}'"},
        {"pg_up{job=~\"(\"} > 1", 6, "invalid regular expression"},
        /* fuzz finding: glibc's regcomp() took gigabytes for these */
        {"x{a=~\"#.++++++++++++++++++++\"} > 1", 2, "adjacent repetition"},
        {"x{a=~\"((((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+)+)+\"} > 1",
         2,
         "too complex"},
        {"x{a=~\"(a{0,200}){0,200}\"} > 1", 2, "too complex"},
        {"x{a=~\"(a)\\\\1\"} > 1", 2, "back-references"},
        {"foo(x) > 1", 0, "unknown function 'foo'"},
        {"rate(x_total) > 1", 12, "and a range such as [5m]"},
        {"rate(x_total[5x]) > 1", 13, "bad range"},
        {"rate(x_total[]) > 1", 13, "expected a duration"},
        {"rate(x_total[0s]) > 1", 13, "longer than 0"},
        /* fuzz finding: ranges of centuries overflowed nanoseconds */
        {"rate(x_total[33333333310s]) > 1", 13, "at most 366d"},
        {"rate(x_total[367d]) > 1", 13, "at most 366d"},
        {"rate(x_total[5m] > 1", 17, "to close the function call"},
        {"rate(5) > 1", 5, "takes a metric selector"},
        {"x_total[5m] > 1", 7, "needs rate() or increase()"},
        {"sum(x) without (a) > 1", 7, "'without' is not supported"},
        {"sum by (a (x) > 1", 10, "expected ',' or ')'"},
        {"{job=\"x\"} > 1", 0, "needs a metric name"},
        {"{__name__=~\"x\"} > 1", 1, "__name__ may only be matched once"},
        {"x{a=\"\\q\"} > 1", 5, "unknown escape"},
    };
    struct alert_expr *e;
    struct deskdb_err err;
    size_t i, off;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err_clear(&err);
        if (alert_expr_parse(bad[i].expr, &e, &off, &err) != DESKDB_EINVAL)
            fail_msg("'%s' should not parse", bad[i].expr);
        assert_null(e);
        if (off != bad[i].offset || strstr(err.msg, bad[i].msg) == NULL)
            fail_msg("'%s': got offset %zu '%s', want %zu '%s'",
                     bad[i].expr,
                     off,
                     err.msg,
                     bad[i].offset,
                     bad[i].msg);
    }
}

/* ---- evaluation -------------------------------------------------------- */

struct fx {
    struct metrics *m;
    struct metric_family *conns;
    struct metric *counter;
    struct metric *hist;
};

static int
setup(void **state)
{
    static const char *const labels[] = {"datname", "state", NULL};
    static const double buckets[] = {0.1, 1};
    struct fx *f = calloc(1, sizeof(*f));
    const char *v[][2] = {{"app", "active"}, {"app", "idle"}, {"bi", "idle"}};
    const double vals[] = {3, 10, 4};
    size_t i;

    f->m = metrics_create();
    f->conns = metrics_family(f->m,
                              METRIC_GAUGE,
                              "test_connections",
                              "Connections.",
                              labels,
                              NULL,
                              0);
    for (i = 0; i < 3; i++)
        metric_set(metric_series(f->conns, v[i]), vals[i]);
    f->counter = metrics_counter(f->m, "test_events_total", "Events.");
    f->hist = metrics_histogram(f->m, "test_seconds", "Durations.", buckets, 2);
    metric_observe(f->hist, 0.05);
    metric_observe(f->hist, 0.5);
    metric_observe(f->hist, 5);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    metrics_destroy(f->m);
    free(f);
    return 0;
}

/* Evaluate `text` and return the result; fails the test on error. */
static struct expr_result
eval_at(struct fx *f, const char *text, struct expr_history *h, int64_t now)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(f->m, NULL, NULL);
    struct expr_result r;
    struct alert_expr *e;
    struct deskdb_err err;
    size_t off;

    assert_non_null(snap);
    if (alert_expr_parse(text, &e, &off, &err) != DESKDB_OK)
        fail_msg("%s: %s", text, err.msg);
    assert_int_equal(alert_expr_eval(e, snap, h, now, &r), DESKDB_OK);
    alert_expr_destroy(e);
    metrics_snapshot_destroy(snap);
    return r;
}

static double
only_value(struct expr_result *r)
{
    assert_int_equal(r->n, 1);
    return r->samples[0].value;
}

static void
test_eval_selectors(void **state)
{
    struct fx *f = *state;
    struct expr_result r;

    r = eval_at(f, "test_connections > 3", NULL, 0);
    assert_int_equal(r.n, 2);
    expr_result_fini(&r);
    r = eval_at(f, "test_connections{datname=\"app\"} >= 3", NULL, 0);
    assert_int_equal(r.n, 2);
    expr_result_fini(&r);
    r = eval_at(f, "test_connections{datname!=\"app\"} > 0", NULL, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.samples[0].labels[0].name, "datname");
    assert_string_equal(r.samples[0].labels[0].value, "bi");
    assert_true(only_value(&r) == 4);
    expr_result_fini(&r);
    r = eval_at(f, "test_connections{state=~\"act.*\"} == 3", NULL, 0);
    assert_int_equal(r.n, 1);
    expr_result_fini(&r);
    /* Anchored: "ctive" does not match "active". */
    r = eval_at(f, "test_connections{state=~\"ctive\"} > 0", NULL, 0);
    assert_int_equal(r.n, 0);
    expr_result_fini(&r);
    r = eval_at(f, "test_connections{state!~\"idle\"} > 0", NULL, 0);
    assert_int_equal(r.n, 1);
    expr_result_fini(&r);
    /* A label the family lacks is "". */
    r = eval_at(f, "test_connections{nope=\"\"} > 0", NULL, 0);
    assert_int_equal(r.n, 3);
    expr_result_fini(&r);
    r = eval_at(f, "missing_metric > 0", NULL, 0);
    assert_int_equal(r.n, 0);
    expr_result_fini(&r);
}

static void
test_eval_histogram_and_aggregation(void **state)
{
    struct fx *f = *state;
    struct expr_result r;

    r = eval_at(f, "test_seconds_count == 3", NULL, 0);
    assert_true(only_value(&r) == 3);
    expr_result_fini(&r);
    r = eval_at(f, "test_seconds_sum > 5", NULL, 0);
    assert_true(fabs(only_value(&r) - 5.55) < 1e-9);
    expr_result_fini(&r);
    r = eval_at(f, "test_seconds_bucket{le=\"1\"} == 2", NULL, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.samples[0].labels[0].value, "1");
    expr_result_fini(&r);
    r = eval_at(f, "test_seconds_bucket{le=\"+Inf\"} == 3", NULL, 0);
    assert_int_equal(r.n, 1);
    expr_result_fini(&r);
    r = eval_at(f, "sum(test_connections) > 0", NULL, 0);
    assert_true(only_value(&r) == 17);
    assert_int_equal(r.samples[0].n_labels, 0);
    expr_result_fini(&r);
    r = eval_at(f, "max by (datname) (test_connections) > 0", NULL, 0);
    assert_int_equal(r.n, 2);
    assert_true(r.samples[0].value == 10 && r.samples[1].value == 4);
    assert_string_equal(r.samples[0].labels[0].value, "app");
    expr_result_fini(&r);
    r = eval_at(f, "count(test_connections) by (state) == 2", NULL, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.samples[0].labels[0].value, "idle");
    expr_result_fini(&r);
    r = eval_at(f, "avg(test_connections) > 5", NULL, 0);
    assert_true(only_value(&r) == 17.0 / 3);
    expr_result_fini(&r);
    r = eval_at(f, "min(test_connections) < 4", NULL, 0);
    assert_true(only_value(&r) == 3);
    expr_result_fini(&r);
}

#define S(n) ((int64_t)(n)*NS_PER_SEC)

/* Feed counter readings every 15 s and evaluate increase()/rate(). */
static void
test_eval_increase_and_reset(void **state)
{
    struct fx *f = *state;
    struct expr_history *h = expr_history_create(5 * 60 * 1000);
    struct expr_result r;
    int64_t t = S(1000);

    metric_set(f->counter, 10);
    r = eval_at(f, "increase(test_events_total[5m]) >= 0", h, t);
    assert_int_equal(r.n, 0); /* one reading: no value yet */
    expr_result_fini(&r);
    metric_set(f->counter, 40);
    r = eval_at(f, "increase(test_events_total[5m]) >= 0", h, t + S(15));
    assert_true(only_value(&r) == 30);
    expr_result_fini(&r);
    metric_set(f->counter, 70);
    r = eval_at(f, "rate(test_events_total[5m]) >= 0", h, t + S(30));
    assert_true(only_value(&r) == 2); /* 60 in 30 s */
    expr_result_fini(&r);
    expr_history_destroy(h);

    /* A counter that goes down was reset: 10 -> 50, reset, -> 5 -> 25 is
     * an increase of 40 + 5 + 20. */
    h = expr_history_create(5 * 60 * 1000);
    metrics_destroy(f->m);
    f->m = metrics_create();
    f->counter = metrics_gauge(f->m, "test_events_total_raw", "Raw reading.");
    metric_set(f->counter, 10);
    r = eval_at(f, "increase(test_events_total_raw[5m]) >= 0", h, t);
    expr_result_fini(&r);
    metric_set(f->counter, 50);
    r = eval_at(f, "increase(test_events_total_raw[5m]) >= 0", h, t + S(15));
    expr_result_fini(&r);
    metric_set(f->counter, 5);
    r = eval_at(f, "increase(test_events_total_raw[5m]) >= 0", h, t + S(30));
    assert_true(only_value(&r) == 45);
    expr_result_fini(&r);
    metric_set(f->counter, 25);
    r = eval_at(f, "increase(test_events_total_raw[5m]) > 60", h, t + S(45));
    assert_true(only_value(&r) == 65);
    expr_result_fini(&r);
    /* Six minutes later only readings inside the range count. */
    metric_set(f->counter, 30);
    r = eval_at(f, "increase(test_events_total_raw[5m]) >= 0", h, t + S(400));
    assert_int_equal(r.n, 0);
    expr_result_fini(&r);
    metric_set(f->counter, 36);
    r = eval_at(f, "increase(test_events_total_raw[5m]) >= 0", h, t + S(415));
    assert_true(only_value(&r) == 6);
    expr_result_fini(&r);
    expr_history_destroy(h);
    metrics_destroy(f->m);
    f->m = metrics_create();
}

/* The history is bounded: series beyond the cap are refused, readings
 * beyond the sample cap are thinned, series that stop are forgotten. */
static void
test_history_bounds(void **state)
{
    struct expr_history *h = expr_history_create(60 * 1000);
    double inc;
    int64_t span, t;
    char key[32];
    int i;

    (void)state;
    for (i = 0; i < EXPR_MAX_SERIES; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        assert_true(expr_history_observe(h, key, 1, S(10), &inc, &span));
    }
    assert_false(expr_history_observe(h, "one-more", 1, S(10), &inc, &span));
    assert_int_equal(expr_history_series(h), EXPR_MAX_SERIES);
    /* A reading every millisecond for the range: increase stays exact. */
    for (t = 0; t <= 60000; t++)
        assert_true(expr_history_observe(h,
                                         "s0",
                                         (double)t,
                                         S(11) + t * NS_PER_MS,
                                         &inc,
                                         &span));
    assert_true(inc == 60000);
    assert_true(span <= S(60));
    expr_history_gc(h, S(72));
    assert_int_equal(expr_history_series(h), 1);
    expr_history_destroy(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test_setup_teardown(test_eval_selectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eval_histogram_and_aggregation,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_eval_increase_and_reset,
                                        setup,
                                        teardown),
        cmocka_unit_test(test_history_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

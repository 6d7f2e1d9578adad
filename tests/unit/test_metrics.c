/* SPDX-License-Identifier: MIT */
/* Unit tests for the metrics registry: names, series, updates, caps,
 * snapshots, collectors and concurrent updates.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sched.h>
#include <time.h>

#include "core/metrics.h"

static const char *const no_labels[] = {NULL};
static const char *const pool_label[] = {"pool", NULL};
static const double buckets3[] = {0.1, 1, 10};

static const struct metrics_snapshot_family *
find(const struct metrics_snapshot *snap, const char *name)
{
    const struct metrics_snapshot_family *f = metrics_snapshot_find(snap, name);

    if (f == NULL)
        fail_msg("family %s missing from the snapshot", name);
    return f;
}

/* The sample with label values `v0` (or the only one when NULL). */
static const struct metrics_sample *
sample(const struct metrics_snapshot_family *f, const char *v0)
{
    size_t i;

    for (i = 0; i < f->n_samples; i++) {
        if (v0 == NULL || strcmp(f->samples[i].label_values[0], v0) == 0)
            return &f->samples[i];
    }
    fail_msg("%s{%s} missing", f->name, v0 ? v0 : "");
    return NULL;
}

static double
dropped(const struct metrics_snapshot *snap, const char *reason)
{
    return sample(find(snap, "deskdb_exposition_dropped_series_total"), reason)
        ->value;
}

/* ---- names -------------------------------------------------------------- */

static void
test_name_validation(void **state)
{
    struct metrics *m = metrics_create();

    (void)state;
    assert_true(metrics_name_valid("deskdb_up"));
    assert_true(metrics_name_valid("_x9"));
    assert_false(metrics_name_valid(""));
    assert_false(metrics_name_valid(NULL));
    assert_false(metrics_name_valid("9x"));
    assert_false(metrics_name_valid("job:rate5m"));
    assert_false(metrics_name_valid("pg_settings_a.b"));
    assert_false(metrics_name_valid("caf\xc3\xa9"));
    assert_true(metrics_label_name_valid("pool"));
    assert_false(metrics_label_name_valid("__name__"));
    assert_false(metrics_label_name_valid(""));
    assert_false(metrics_label_name_valid("a-b"));

    /* type and name must fit (promlint's rules) */
    assert_null(metrics_counter(m, "deskdb_queries", "Queries."));
    assert_null(metrics_counter(m, "_total", "Nothing before _total."));
    assert_null(metrics_gauge(m, "deskdb_queries_total", "Not a counter."));
    assert_null(metrics_gauge(m, "pg_locks_count", "Reserved suffix."));
    assert_null(metrics_gauge(m, "deskdb_x_sum", "Reserved suffix."));
    assert_null(metrics_gauge(m, "deskdb_x_bucket", "Reserved suffix."));
    assert_null(metrics_gauge(m, "deskdb_up", ""));
    assert_null(metrics_gauge(m, "deskdb_up", NULL));
    assert_non_null(metrics_counter(m, "deskdb_queries_total", "Queries."));

    /* label names */
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_a",
                               "A.",
                               (const char *[]){"__x", NULL},
                               NULL,
                               0));
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_a",
                               "A.",
                               (const char *[]){"le", NULL},
                               NULL,
                               0));
    assert_null(metrics_family(m,
                               METRIC_HISTOGRAM,
                               "deskdb_h_seconds",
                               "H.",
                               (const char *[]){"le", NULL},
                               buckets3,
                               3));
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_a",
                               "A.",
                               (const char *[]){"quantile", NULL},
                               NULL,
                               0));
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_a",
                               "A.",
                               (const char *[]){"x", "x", NULL},
                               NULL,
                               0));
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_a",
                               "A.",
                               (const char *[]){"", NULL},
                               NULL,
                               0));
    assert_null(metrics_family(
        m,
        METRIC_GAUGE,
        "deskdb_a",
        "A.",
        (const char *[]){"a", "b", "c", "d", "e", "f", "g", "h", "i", NULL},
        NULL,
        0));
    assert_non_null(metrics_family(
        m,
        METRIC_GAUGE,
        "deskdb_a",
        "A.",
        (const char *[]){"a", "b", "c", "d", "e", "f", "g", "h", NULL},
        NULL,
        0));
    metrics_destroy(m);
}

static void
test_histogram_bucket_validation(void **state)
{
    struct metrics *m = metrics_create();
    double many[METRICS_MAX_BUCKETS + 1];
    size_t i;

    (void)state;
    for (i = 0; i <= METRICS_MAX_BUCKETS; i++)
        many[i] = (double)i;
    assert_null(
        metrics_histogram(m, "h_seconds", "H.", (const double[]){1, 0.5}, 2));
    assert_null(
        metrics_histogram(m, "h_seconds", "H.", (const double[]){1, 1}, 2));
    assert_null(
        metrics_histogram(m, "h_seconds", "H.", (const double[]){NAN}, 1));
    assert_null(metrics_histogram(m,
                                  "h_seconds",
                                  "H.",
                                  (const double[]){1, INFINITY},
                                  2));
    assert_null(metrics_histogram(m, "h_seconds", "H.", buckets3, 0));
    assert_null(metrics_histogram(m, "h_seconds", "H.", NULL, 3));
    assert_null(
        metrics_histogram(m, "h_seconds", "H.", many, METRICS_MAX_BUCKETS + 1));
    assert_non_null(
        metrics_histogram(m, "h_seconds", "H.", many, METRICS_MAX_BUCKETS));
    metrics_destroy(m);
}

static void
test_family_reregistration(void **state)
{
    struct metrics *m = metrics_create();
    struct metric_family *f;

    (void)state;
    f = metrics_family(m, METRIC_GAUGE, "deskdb_g", "G.", pool_label, NULL, 0);
    assert_non_null(f);
    assert_ptr_equal(metrics_family(m,
                                    METRIC_GAUGE,
                                    "deskdb_g",
                                    "Other help is fine.",
                                    pool_label,
                                    NULL,
                                    0),
                     f);
    assert_null(
        metrics_family(m, METRIC_GAUGE, "deskdb_g", "G.", no_labels, NULL, 0));
    assert_null(metrics_family(m,
                               METRIC_GAUGE,
                               "deskdb_g",
                               "G.",
                               (const char *[]){"db", NULL},
                               NULL,
                               0));
    assert_non_null(metrics_histogram(m, "deskdb_h", "H.", buckets3, 3));
    assert_null(metrics_histogram(m, "deskdb_h", "H.", buckets3, 2));
    assert_null(metrics_gauge(m, "deskdb_h", "H."));
    metrics_destroy(m);
}

/* ---- series and updates ------------------------------------------------- */

static void
test_series_identity(void **state)
{
    struct metrics *m = metrics_create();
    struct metric_family *f =
        metrics_family(m, METRIC_GAUGE, "deskdb_g", "G.", pool_label, NULL, 0);
    struct metric *a;
    struct metric *b;
    char name[32];
    int i;

    (void)state;
    a = metric_series(f, (const char *[]){"main"});
    b = metric_series(f, (const char *[]){"other"});
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    /* pointers stay valid while the family grows and rehashes */
    for (i = 0; i < 500; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        assert_non_null(metric_series(f, (const char *[]){name}));
    }
    assert_ptr_equal(metric_series(f, (const char *[]){"main"}), a);
    assert_ptr_equal(metric_series(f, (const char *[]){"other"}), b);
    assert_null(metric_series(f, NULL));
    assert_ptr_equal(metric_series(f, (const char *[]){NULL}),
                     metric_series(f, (const char *[]){""}));
    assert_null(metric_series(NULL, NULL));
    /* NULL series are ignored by every update */
    metric_inc(NULL);
    metric_add(NULL, 1);
    metric_set(NULL, 1);
    metric_observe(NULL, 1);
    assert_true(metric_value(NULL) == 0);
    metrics_destroy(m);
}

static void
test_counter_never_decreases(void **state)
{
    struct metrics *m = metrics_create();
    struct metric *c = metrics_counter(m, "deskdb_c_total", "C.");
    struct metric *g = metrics_gauge(m, "deskdb_g", "G.");

    (void)state;
    metric_inc(c);
    metric_add(c, 2.5);
    assert_true(metric_value(c) == 3.5);
    metric_add(c, -10);
    metric_add(c, NAN);
    metric_set(c, 1);
    metric_set(c, NAN);
    assert_true(metric_value(c) == 3.5);
    metric_set(c, 100);
    assert_true(metric_value(c) == 100);
    metric_observe(c, 5);
    assert_true(metric_value(c) == 100);

    metric_set(g, 5);
    metric_add(g, -7.5);
    assert_true(metric_value(g) == -2.5);
    metric_set(g, NAN);
    assert_true(isnan(metric_value(g)));
    metrics_destroy(m);
}

static void
test_histogram_observe(void **state)
{
    struct metrics *m = metrics_create();
    struct metric *h =
        metrics_histogram(m, "deskdb_h_seconds", "H.", buckets3, 3);
    const struct metrics_snapshot_family *f;
    const struct metrics_sample *s;
    struct metrics_snapshot *snap;

    (void)state;
    metric_observe(h, 0.05); /* le 0.1 */
    metric_observe(h, 0.1);  /* le 0.1: bounds are inclusive */
    metric_observe(h, 0.5);  /* le 1 */
    metric_observe(h, 10);   /* le 10 */
    metric_observe(h, 11);   /* +Inf only */
    metric_observe(h, -1);   /* le 0.1 */
    metric_observe(h, NAN);  /* ignored */
    metric_add(h, 5);        /* ignored */
    assert_true(metric_value(h) == 6);
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_non_null(snap);
    f = find(snap, "deskdb_h_seconds");
    assert_int_equal(f->type, METRIC_HISTOGRAM);
    assert_int_equal(f->n_buckets, 3);
    assert_true(f->buckets[1] == 1);
    s = sample(f, NULL);
    assert_int_equal(s->bucket_counts[0], 3);
    assert_int_equal(s->bucket_counts[1], 4);
    assert_int_equal(s->bucket_counts[2], 5);
    assert_int_equal(s->count, 6);
    assert_true(fabs(s->sum - 20.65) < 1e-9);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

static void
test_series_cap(void **state)
{
    struct metrics *m = metrics_create();
    struct metric_family *f = metrics_family(m,
                                             METRIC_COUNTER,
                                             "deskdb_c_total",
                                             "C.",
                                             pool_label,
                                             NULL,
                                             0);
    struct metrics_snapshot *snap;
    char name[32];
    int i;

    (void)state;
    metrics_family_set_max_series(f, 2);
    assert_non_null(metric_series(f, (const char *[]){"a"}));
    assert_non_null(metric_series(f, (const char *[]){"b"}));
    assert_null(metric_series(f, (const char *[]){"c"}));
    assert_null(metric_series(f, (const char *[]){"d"}));
    /* existing series are still found at the cap */
    assert_non_null(metric_series(f, (const char *[]){"a"}));
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_non_null(snap);
    assert_int_equal(find(snap, "deskdb_c_total")->n_samples, 2);
    assert_true(dropped(snap, "limit") == 2);
    assert_true(dropped(snap, "duplicate") == 0);
    assert_true(dropped(snap, "invalid_name") == 0);
    metrics_snapshot_destroy(snap);

    /* a raised cap holds beyond the default, in snapshots too */
    f = metrics_family(m,
                       METRIC_GAUGE,
                       "deskdb_many",
                       "Many.",
                       pool_label,
                       NULL,
                       0);
    metrics_family_set_max_series(f, METRICS_DEFAULT_MAX_SERIES + 500);
    for (i = 0; i < METRICS_DEFAULT_MAX_SERIES + 600; i++) {
        snprintf(name, sizeof(name), "p%d", i);
        metric_set(metric_series(f, (const char *[]){name}), i);
    }
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_int_equal(find(snap, "deskdb_many")->n_samples,
                     METRICS_DEFAULT_MAX_SERIES + 500);
    assert_true(dropped(snap, "limit") == 2 + 100);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

static void
test_series_remove(void **state)
{
    struct metrics *m = metrics_create();
    struct metric_family *f =
        metrics_family(m, METRIC_GAUGE, "deskdb_g", "G.", pool_label, NULL, 0);
    struct metrics_snapshot *snap;
    struct metric *a, *b, *again;

    (void)state;
    metrics_family_set_max_series(f, 2);
    a = metric_series(f, (const char *[]){"main"});
    b = metric_series(f, (const char *[]){"other"});
    metric_set(a, 1);
    metric_set(b, 2);
    metric_series_remove(a);
    metric_series_remove(a); /* twice: no-op */
    metric_series_remove(NULL);
    /* the old pointer stays writable, but is no longer exported */
    metric_set(a, 7);
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_int_equal(find(snap, "deskdb_g")->n_samples, 1);
    assert_string_equal(find(snap, "deskdb_g")->samples[0].label_values[0],
                        "other");
    metrics_snapshot_destroy(snap);
    /* the slot under the cap is free again; the same labels start anew */
    again = metric_series(f, (const char *[]){"main"});
    assert_non_null(again);
    assert_ptr_not_equal(again, a);
    assert_true(metric_value(again) == 0);
    assert_null(metric_series(f, (const char *[]){"third"}));
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_int_equal(find(snap, "deskdb_g")->n_samples, 2);
    assert_true(sample(find(snap, "deskdb_g"), "main")->value == 0);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m); /* frees the removed series too (ASan) */
}

static void
many_collector(void *arg, struct metrics_sink *sink)
{
    char name[32];
    int i;

    (void)arg;
    if (metrics_sink_family(sink, METRIC_GAUGE, "pg_many", "M.", pool_label))
        return;
    for (i = 0; i < METRICS_DEFAULT_MAX_SERIES + 7; i++) {
        snprintf(name, sizeof(name), "t%d", i);
        metrics_sink_sample(sink, (const char *[]){name}, i);
    }
}

static void
test_sink_cap(void **state)
{
    struct metrics *m = metrics_create();
    struct metrics_snapshot *snap;

    (void)state;
    snap = metrics_snapshot_create(m, many_collector, NULL);
    assert_int_equal(find(snap, "pg_many")->n_samples,
                     METRICS_DEFAULT_MAX_SERIES);
    assert_true(dropped(snap, "limit") == 7);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

/* ---- snapshots and collectors ------------------------------------------- */

static void
messy_collector(void *arg, struct metrics_sink *sink)
{
    static const char *const db[] = {"datname", NULL};
    static const double b[] = {1, 2};
    int *runs = arg;

    (*runs)++;
    /* samples before any family are dropped as invalid */
    metrics_sink_sample(sink, NULL, 1);
    /* same name and labels as a registered family: merged */
    assert_int_equal(
        metrics_sink_family(sink, METRIC_GAUGE, "deskdb_g", "G.", pool_label),
        DESKDB_OK);
    metrics_sink_sample(sink, (const char *[]){"zeta"}, 26);
    metrics_sink_sample(sink, (const char *[]){"main"}, 99); /* duplicate */
    /* same name, other labels: the whole family is dropped */
    assert_int_equal(
        metrics_sink_family(sink, METRIC_GAUGE, "deskdb_g", "G.", db),
        DESKDB_OK);
    metrics_sink_sample(sink, (const char *[]){"postgres"}, 1);
    /* invalid names: the family and its samples are skipped */
    assert_int_equal(
        metrics_sink_family(sink, METRIC_GAUGE, "bad name", "B.", NULL),
        DESKDB_EINVAL);
    metrics_sink_sample(sink, NULL, 1);
    metrics_sink_sample(sink, NULL, 2);
    assert_int_equal(metrics_sink_family(sink,
                                         METRIC_GAUGE,
                                         "ok",
                                         "O.",
                                         (const char *[]){"le", NULL}),
                     DESKDB_EINVAL);
    /* a counter cannot go negative; histograms need consistent buckets */
    assert_int_equal(
        metrics_sink_family(sink, METRIC_COUNTER, "pg_x_total", "X.", db),
        DESKDB_OK);
    metrics_sink_sample(sink, (const char *[]){"a"}, -1);
    metrics_sink_sample(sink, (const char *[]){"a"}, NAN);
    metrics_sink_sample(sink, (const char *[]){"b"}, 7);
    assert_int_equal(
        metrics_sink_family(sink, METRIC_HISTOGRAM, "pg_h_seconds", "H.", db),
        DESKDB_OK);
    metrics_sink_histogram(sink,
                           (const char *[]){"a"},
                           b,
                           (const uint64_t[]){1, 2},
                           2,
                           3.5,
                           4);
    metrics_sink_histogram(sink,
                           (const char *[]){"b"},
                           b,
                           (const uint64_t[]){2, 1},
                           2,
                           1,
                           4);
    metrics_sink_histogram(sink,
                           (const char *[]){"c"},
                           (const double[]){1, 3},
                           (const uint64_t[]){1, 2},
                           2,
                           1,
                           4);
    metrics_sink_histogram(sink,
                           (const char *[]){"d"},
                           b,
                           (const uint64_t[]){1, 5},
                           2,
                           1,
                           4);
    metrics_sink_sample(sink, (const char *[]){"e"}, 1);
    /* a gauge named like the OpenMetrics family of a counter clashes */
    assert_int_equal(
        metrics_sink_family(sink, METRIC_GAUGE, "pg_x", "Clash.", NULL),
        DESKDB_OK);
    metrics_sink_sample(sink, NULL, 1);
}

static void
test_snapshot_merges_and_drops(void **state)
{
    struct metrics *m = metrics_create();
    struct metric_family *g =
        metrics_family(m, METRIC_GAUGE, "deskdb_g", "G.", pool_label, NULL, 0);
    const struct metrics_snapshot_family *f;
    struct metrics_snapshot *snap;
    int runs = 0;
    size_t i;

    (void)state;
    metrics_gauge(m, "deskdb_b", "B.");
    metrics_gauge(m, "deskdb_empty_family", "No series yet.");
    metrics_family(m, METRIC_GAUGE, "deskdb_no_series", "N.", pool_label, 0, 0);
    metric_set(metric_series(g, (const char *[]){"main"}), 1);
    metric_set(metric_series(g, (const char *[]){"alpha"}), 2);
    assert_int_equal(metrics_add_collector(m, messy_collector, &runs), 0);
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_non_null(snap);
    assert_int_equal(runs, 1);
    for (i = 1; i < snap->n_families; i++)
        assert_true(strcmp(snap->families[i - 1].name, snap->families[i].name) <
                    0);
    f = find(snap, "deskdb_g");
    assert_int_equal(f->n_samples, 3);
    assert_string_equal(f->samples[0].label_values[0], "alpha");
    assert_string_equal(f->samples[1].label_values[0], "main");
    assert_true(f->samples[1].value == 1); /* the registry's value stays */
    assert_string_equal(f->samples[2].label_values[0], "zeta");
    assert_null(metrics_snapshot_find(snap, "deskdb_no_series"));
    assert_null(metrics_snapshot_find(snap, "bad name"));
    assert_null(metrics_snapshot_find(snap, "pg_x"));
    f = find(snap, "pg_x_total");
    assert_int_equal(f->n_samples, 1);
    assert_true(sample(f, "b")->value == 7);
    f = find(snap, "pg_h_seconds");
    assert_int_equal(f->n_samples, 1);
    assert_int_equal(sample(f, "a")->count, 4);
    /* main twice, postgres (labels differ), pg_x (clash) */
    assert_int_equal(snap->dropped_duplicate, 3);
    /* before a family, 2 under "bad name", -1 and NaN counters, 3 bad
     * histograms, a plain sample in a histogram family */
    assert_int_equal(snap->dropped_invalid, 9);
    assert_true(dropped(snap, "duplicate") == 3);
    assert_true(dropped(snap, "invalid_name") == 9);
    metrics_snapshot_destroy(snap);

    /* the dropped counters are cumulative across snapshots */
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_true(dropped(snap, "duplicate") == 6);
    assert_true(dropped(snap, "invalid_name") == 18);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

static void
histogram_collector(void *arg, struct metrics_sink *sink)
{
    static const double b[] = {5};

    (void)arg;
    if (metrics_sink_family(sink,
                            METRIC_HISTOGRAM,
                            "deskdb_h_seconds",
                            "H.",
                            pool_label) == 0)
        metrics_sink_histogram(sink,
                               (const char *[]){"x"},
                               b,
                               (const uint64_t[]){1},
                               1,
                               2,
                               3);
}

/* A registered histogram without series merges with a collector's of
 * other buckets: the samples and their buckets stay together. */
static void
test_snapshot_merges_histograms(void **state)
{
    struct metrics *m = metrics_create();
    const struct metrics_snapshot_family *f;
    struct metrics_snapshot *snap;

    (void)state;
    assert_non_null(metrics_family(m,
                                   METRIC_HISTOGRAM,
                                   "deskdb_h_seconds",
                                   "H.",
                                   pool_label,
                                   buckets3,
                                   3));
    snap = metrics_snapshot_create(m, histogram_collector, NULL);
    f = find(snap, "deskdb_h_seconds");
    assert_int_equal(f->n_samples, 1);
    assert_int_equal(f->n_buckets, 1);
    assert_true(f->buckets[0] == 5);
    assert_int_equal(sample(f, "x")->count, 3);
    metrics_snapshot_destroy(snap);

    /* with a series of its own, the collector's family is dropped */
    metric_observe(metric_series(metrics_family(m,
                                                METRIC_HISTOGRAM,
                                                "deskdb_h_seconds",
                                                "H.",
                                                pool_label,
                                                buckets3,
                                                3),
                                 (const char *[]){"main"}),
                   1);
    snap = metrics_snapshot_create(m, histogram_collector, NULL);
    f = find(snap, "deskdb_h_seconds");
    assert_int_equal(f->n_samples, 1);
    assert_int_equal(f->n_buckets, 3);
    assert_int_equal(sample(f, "main")->count, 1);
    assert_int_equal(snap->dropped_duplicate, 1);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

static void
test_sink_cleans_utf8(void **state)
{
    static const char *const app[] = {"application_name", NULL};
    struct metrics *m = metrics_create();
    struct metric_family *f = metrics_family(m,
                                             METRIC_GAUGE,
                                             "deskdb_g",
                                             "Help \xc3\x28 text.",
                                             app,
                                             NULL,
                                             0);
    struct metrics_snapshot *snap;
    const struct metrics_snapshot_family *sf;

    (void)state;
    metric_set(metric_series(f, (const char *[]){"ok \xe2\x82\xac"}), 1);
    /* two spellings of the same bad bytes are one series */
    metric_set(metric_series(f, (const char *[]){"x\xff\xfey"}), 2);
    metric_set(metric_series(f, (const char *[]){"x\xc0y"}), 3);
    /* overlong, surrogate, above U+10FFFF and truncated sequences */
    metric_set(metric_series(f, (const char *[]){"\xe0\x80\xaf"}), 4);
    metric_set(metric_series(f, (const char *[]){"\xed\xa0\x80"}), 5);
    metric_set(metric_series(f, (const char *[]){"\xf4\x90\x80\x80"}), 6);
    metric_set(metric_series(f, (const char *[]){"end\xe2\x82"}), 7);
    snap = metrics_snapshot_create(m, NULL, NULL);
    sf = find(snap, "deskdb_g");
    assert_string_equal(sf->help, "Help \xEF\xBF\xBD( text.");
    assert_int_equal(sf->n_samples, 4);
    assert_true(sample(sf, "ok \xe2\x82\xac")->value == 1);
    assert_true(sample(sf, "x\xEF\xBF\xBDy")->value == 3);
    assert_true(sample(sf, "\xEF\xBF\xBD")->value == 6);
    assert_true(sample(sf, "end\xEF\xBF\xBD")->value == 7);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

static void
extra_collector(void *arg, struct metrics_sink *sink)
{
    static const char *const labels[] = {"application_name", NULL};

    (void)arg;
    if (metrics_sink_family(sink, METRIC_GAUGE, "pg_g", "G.", labels) == 0)
        metrics_sink_sample(sink, (const char *[]){"a\x80\x80z"}, 1);
}

static void
counting_collector(void *arg, struct metrics_sink *sink)
{
    (void)sink;
    (*(int *)arg)++;
}

static void
test_collectors(void **state)
{
    struct metrics *m = metrics_create();
    struct metrics_snapshot *snap;
    int a = 0;
    int b = 0;

    (void)state;
    assert_int_equal(metrics_add_collector(m, counting_collector, &a), 0);
    assert_int_equal(metrics_add_collector(m, counting_collector, &b), 0);
    assert_int_equal(metrics_add_collector(m, NULL, &b), DESKDB_EINVAL);
    snap = metrics_snapshot_create(m, extra_collector, NULL);
    assert_string_equal(sample(find(snap, "pg_g"), NULL)->label_values[0],
                        "a\xEF\xBF\xBDz");
    metrics_snapshot_destroy(snap);
    assert_int_equal(a, 1);
    assert_int_equal(b, 1);
    metrics_remove_collector(m, counting_collector, &a);
    metrics_remove_collector(m, counting_collector, NULL); /* absent */
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_null(metrics_snapshot_find(snap, "pg_g"));
    assert_null(metrics_snapshot_find(snap, NULL));
    assert_null(metrics_snapshot_find(NULL, "pg_g"));
    metrics_snapshot_destroy(snap);
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    metrics_snapshot_destroy(NULL);
    metrics_destroy(NULL);
    assert_null(metrics_snapshot_create(NULL, NULL, NULL));
    metrics_destroy(m);
}

static void
test_process_collector(void **state)
{
    struct metrics *m = metrics_create();
    struct metrics_snapshot *snap;
    const struct metrics_snapshot_family *f;
    const struct metrics_sample *s;
    char libpq[32];
    int pq = PQlibVersion();
    double now = (double)time(NULL);

    (void)state;
    assert_int_equal(metrics_add_process_collector(m), DESKDB_OK);
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_non_null(snap);
    f = find(snap, "process_cpu_seconds_total");
    assert_int_equal(f->type, METRIC_COUNTER);
    assert_true(sample(f, NULL)->value >= 0);
    assert_true(
        sample(find(snap, "process_resident_memory_bytes"), NULL)->value >
        4096);
    assert_true(
        sample(find(snap, "process_virtual_memory_bytes"), NULL)->value >=
        sample(find(snap, "process_resident_memory_bytes"), NULL)->value);
    s = sample(find(snap, "process_start_time_seconds"), NULL);
    assert_true(s->value > now - 3600 && s->value <= now + 1);
    assert_true(sample(find(snap, "process_open_fds"), NULL)->value >= 3);
    assert_true(sample(find(snap, "process_max_fds"), NULL)->value >=
                sample(find(snap, "process_open_fds"), NULL)->value);
    assert_true(sample(find(snap, "process_threads"), NULL)->value >= 1);
    f = find(snap, "deskdb_build_info");
    assert_int_equal(f->type, METRIC_GAUGE);
    assert_int_equal(f->n_labels, 3);
    assert_string_equal(f->label_names[0], "version");
    assert_string_equal(f->label_names[1], "revision");
    assert_string_equal(f->label_names[2], "libpq_version");
    s = sample(f, NULL);
    assert_true(s->value == 1);
    assert_true(strlen(s->label_values[0]) > 0);
    assert_true(strlen(s->label_values[1]) > 0);
    snprintf(libpq, sizeof(libpq), "%d.%d", pq / 10000, pq % 10000);
    assert_string_equal(s->label_values[2], libpq);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

/* ---- concurrency -------------------------------------------------------- */

/* Threads never call cmocka's assertions (they longjmp into the main
 * thread's frame); they count problems and the test checks the count. */

#define THREADS    4
#define INCREMENTS 100000

struct shared {
    struct metrics *m;
    struct metric_family *labelled;
    struct metric *counter;
    struct metric *gauge;
    struct metric *hist;
    atomic_bool stop;
    atomic_int problems;
    atomic_int scrapes;
};

static void *
writer(void *arg)
{
    struct shared *sh = arg;
    struct metric *mine = metric_series(sh->labelled, (const char *[]){"x"});
    int i;

    for (i = 0; i < INCREMENTS; i++) {
        metric_inc(sh->counter);
        metric_add(sh->gauge, 1);
        metric_observe(sh->hist, (double)(i % 3));
        metric_inc(mine);
        if (i % 10000 == 0 &&
            metric_series(sh->labelled, (const char *[]){"x"}) != mine)
            atomic_fetch_add(&sh->problems, 1);
    }
    return NULL;
}

/* One scrape: counters must not go backwards and the histogram must be
 * self-consistent.  Returns the counter's value. */
static double
scrape_check(struct shared *sh, double last)
{
    const struct metrics_snapshot_family *c;
    const struct metrics_snapshot_family *h;
    const struct metrics_sample *s;
    struct metrics_snapshot *snap;
    double value = last;

    snap = metrics_snapshot_create(sh->m, NULL, NULL);
    c = metrics_snapshot_find(snap, "deskdb_ops_total");
    h = metrics_snapshot_find(snap, "deskdb_op_seconds");
    if (c == NULL || h == NULL || c->n_samples != 1 || h->n_samples != 1) {
        atomic_fetch_add(&sh->problems, 1);
        goto out;
    }
    value = c->samples[0].value;
    s = &h->samples[0];
    if (value < last || s->bucket_counts[0] > s->bucket_counts[1] ||
        s->bucket_counts[1] > s->count)
        atomic_fetch_add(&sh->problems, 1);
out:
    metrics_snapshot_destroy(snap);
    atomic_fetch_add(&sh->scrapes, 1);
    return value;
}

static void *
reader(void *arg)
{
    struct shared *sh = arg;
    double last = 0;

    while (!atomic_load(&sh->stop))
        last = scrape_check(sh, last);
    return NULL;
}

static void
test_concurrent_updates_are_exact(void **state)
{
    static const double b[] = {0.5, 1.5};
    struct shared sh = {0};
    pthread_t w[THREADS];
    pthread_t r;
    int i;

    (void)state;
    sh.m = metrics_create();
    sh.counter = metrics_counter(sh.m, "deskdb_ops_total", "Ops.");
    sh.gauge = metrics_gauge(sh.m, "deskdb_level", "Level.");
    sh.hist = metrics_histogram(sh.m, "deskdb_op_seconds", "Op time.", b, 2);
    sh.labelled = metrics_family(sh.m,
                                 METRIC_COUNTER,
                                 "deskdb_by_pool_total",
                                 "P.",
                                 pool_label,
                                 0,
                                 0);
    assert_int_equal(metrics_add_process_collector(sh.m), 0);
    assert_int_equal(pthread_create(&r, NULL, reader, &sh), 0);
    for (i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&w[i], NULL, writer, &sh), 0);
    for (i = 0; i < THREADS; i++)
        pthread_join(w[i], NULL);
    atomic_store(&sh.stop, true);
    pthread_join(r, NULL);
    scrape_check(&sh, 0);
    assert_int_equal(atomic_load(&sh.problems), 0);
    assert_true(atomic_load(&sh.scrapes) >= 1);
    assert_true(metric_value(sh.counter) == THREADS * INCREMENTS);
    assert_true(metric_value(sh.gauge) == THREADS * INCREMENTS);
    assert_true(metric_value(sh.hist) == THREADS * INCREMENTS);
    assert_true(
        metric_value(metric_series(sh.labelled, (const char *[]){"x"})) ==
        THREADS * INCREMENTS);
    metrics_destroy(sh.m);
}

/* Removing a collector waits for a snapshot that is running it. */
struct slow {
    struct metrics *m;
    atomic_int entered;
    atomic_int release;
    atomic_int finished;
    atomic_int finished_seen_by_remove;
};

static void
slow_collector(void *arg, struct metrics_sink *sink)
{
    struct slow *s = arg;

    (void)sink;
    atomic_store(&s->entered, 1);
    while (!atomic_load(&s->release))
        sched_yield();
    atomic_store(&s->finished, 1);
}

static void *
snapshot_thread(void *arg)
{
    struct slow *s = arg;

    metrics_snapshot_destroy(metrics_snapshot_create(s->m, NULL, NULL));
    return NULL;
}

static void *
remove_thread(void *arg)
{
    struct slow *s = arg;

    metrics_remove_collector(s->m, slow_collector, s);
    atomic_store(&s->finished_seen_by_remove, atomic_load(&s->finished));
    return NULL;
}

static void
test_remove_waits_for_running_collector(void **state)
{
    struct slow s = {.m = metrics_create()};
    pthread_t snap;
    pthread_t rem;

    (void)state;
    assert_int_equal(metrics_add_collector(s.m, slow_collector, &s), 0);
    assert_int_equal(pthread_create(&snap, NULL, snapshot_thread, &s), 0);
    while (!atomic_load(&s.entered))
        sched_yield();
    assert_int_equal(pthread_create(&rem, NULL, remove_thread, &s), 0);
    atomic_store(&s.release, 1);
    pthread_join(rem, NULL);
    pthread_join(snap, NULL);
    /* when remove returned, the collector had returned too */
    assert_int_equal(atomic_load(&s.finished_seen_by_remove), 1);
    metrics_destroy(s.m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_validation),
        cmocka_unit_test(test_histogram_bucket_validation),
        cmocka_unit_test(test_family_reregistration),
        cmocka_unit_test(test_series_identity),
        cmocka_unit_test(test_counter_never_decreases),
        cmocka_unit_test(test_histogram_observe),
        cmocka_unit_test(test_series_cap),
        cmocka_unit_test(test_series_remove),
        cmocka_unit_test(test_sink_cap),
        cmocka_unit_test(test_snapshot_merges_and_drops),
        cmocka_unit_test(test_snapshot_merges_histograms),
        cmocka_unit_test(test_sink_cleans_utf8),
        cmocka_unit_test(test_collectors),
        cmocka_unit_test(test_process_collector),
        cmocka_unit_test(test_concurrent_updates_are_exact),
        cmocka_unit_test(test_remove_waits_for_running_collector),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

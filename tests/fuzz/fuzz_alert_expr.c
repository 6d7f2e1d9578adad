/* SPDX-License-Identifier: MIT */
/* Fuzz target: alert rule expressions, parsed and evaluated twice (for
 * rate() and increase()) against a small fixed metrics snapshot. */
#include <stdlib.h>
#include <string.h>

#include "core/metrics.h"
#include "exporter/alerts/expr.h"
#include "fuzz.h"

#define NS_PER_S INT64_C(1000000000)

/* A gauge family with labels, a counter and a histogram, made once. */
static struct metrics_snapshot *
fixed_snapshot(double counter_step)
{
    static const char *const labels[] = {"datname", "state", NULL};
    static const double buckets[] = {0.1, 1};
    static struct metrics *m;
    static struct metric *counter;
    const char *v[][2] = {{"app", "active"}, {"app", "idle"}, {"bi", "idle"}};
    struct metrics_snapshot *snap;

    if (m == NULL) {
        struct metric_family *conns;
        struct metric *hist;

        m = metrics_create();
        if (m == NULL)
            fuzz_fail("alert_expr", "metrics_create");
        conns = metrics_family(m,
                               METRIC_GAUGE,
                               "pg_connections",
                               "Connections.",
                               labels,
                               NULL,
                               0);
        for (size_t i = 0; i < 3; i++)
            metric_set(metric_series(conns, v[i]), (double)(3 * i + 1));
        counter = metrics_counter(m, "deskdb_events_total", "Events.");
        hist = metrics_histogram(m, "deskdb_seconds", "Times.", buckets, 2);
        metric_observe(hist, 0.05);
        metric_observe(hist, 5);
    }
    metric_add(counter, counter_step);
    snap = metrics_snapshot_create(m, NULL, NULL);
    if (snap == NULL)
        fuzz_fail("alert_expr", "metrics_snapshot_create");
    return snap;
}

static void
evaluate(const struct alert_expr *e)
{
    struct expr_history *h = NULL;
    struct expr_result r;
    int64_t range = alert_expr_range_ms(e);
    int64_t now = 1700000000 * NS_PER_S;

    if (range > 0 && (h = expr_history_create(range)) == NULL)
        fuzz_fail("alert_expr", "expr_history_create");
    for (int i = 0; i < 2; i++) {
        struct metrics_snapshot *snap = fixed_snapshot(1 + i);

        if (alert_expr_eval(e, snap, h, now + i * 15 * NS_PER_S, &r) != 0)
            fuzz_fail("alert_expr_eval", "failed on a small snapshot");
        expr_result_fini(&r);
        metrics_snapshot_destroy(snap);
    }
    expr_history_destroy(h);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    struct deskdb_err err = {0};
    struct alert_expr *e = NULL;
    size_t off = 0;
    int rc;

    rc = alert_expr_parse(text, &e, &off, &err);
    if (rc < 0) {
        fuzz_check_error("alert_expr_parse", rc, &err);
        if (off > strlen(text))
            fuzz_fail("alert_expr_parse", "error offset past the end");
    } else {
        evaluate(e);
        alert_expr_destroy(e);
    }
    free(text);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* The alert state machine driven by snapshots and a hand-moved clock:
 * pending, firing, flapping, keep_firing_for, resolve and retention,
 * templates, identity, and the seed's four rules. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_alerts.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "exporter/alerts/eval.h"

#define S(n) ((int64_t)(n)*NS_PER_SEC)
#define T0   S(1795562634) /* 2026-11-24T23:23:54Z */
#define L(n, v)                  \
    {                            \
        (char *)(n), (char *)(v) \
    }

static const char rules_yaml[] =
    "alerts:\n"
    "  receivers:\n"
    "    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/hook'}\n"
    "    - {name: am, type: alertmanager, url: 'http://127.0.0.1:9'}\n"
    "  rules:\n"
    "    - name: PoolWaitingClientsHigh\n"
    "      expr: test_waiting > 5\n"
    "      for: 1m\n"
    "      labels: {severity: warning}\n"
    "      annotations:\n"
    "        summary: 'Pool {{ $labels.pool }} has {{ $value }} waiting "
    "clients'\n"
    "      receivers: [ops]\n"
    "    - name: Flappy\n"
    "      expr: test_flap > 0\n"
    "      keep_firing_for: 2m\n"
    "      labels: {severity: critical}\n"
    "    - name: Clash\n"
    "      expr: test_clash > 0\n"
    "      labels: {shard: all}\n";

struct fx {
    struct config *cfg;
    struct metrics *m;
    struct alerts_eval *ev;
    struct metric *waiting;
    struct metric *flap;
};

static struct config *
load(const char *yaml)
{
    struct deskdb_err err;
    struct config *cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &err);

    if (cfg == NULL)
        fail_msg("config: %s", err.msg);
    return cfg;
}

static int
setup(void **state)
{
    static const char *const labels[] = {"instance", "pool", NULL};
    static const char *const shard[] = {"shard", NULL};
    static const char *const v[] = {"db1:9187", "main"};
    static const char *const s1[] = {"1"}, *const s2[] = {"2"};
    struct fx *f = calloc(1, sizeof(*f));
    struct metric_family *fam;
    struct deskdb_err err;

    f->cfg = load(rules_yaml);
    f->m = metrics_create();
    fam = metrics_family(f->m,
                         METRIC_GAUGE,
                         "test_waiting",
                         "Waiting.",
                         labels,
                         NULL,
                         0);
    f->waiting = metric_series(fam, v);
    f->flap = metrics_gauge(f->m, "test_flap", "Flapping.");
    fam = metrics_family(f->m,
                         METRIC_GAUGE,
                         "test_clash",
                         "Clash.",
                         shard,
                         NULL,
                         0);
    metric_set(metric_series(fam, s1), 0);
    metric_set(metric_series(fam, s2), 0);
    f->ev = alerts_eval_create(f->cfg->alerts, &err);
    if (f->ev == NULL)
        fail_msg("%s", err.msg);
    f->ev->track_deleted = true;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    alerts_eval_destroy(f->ev);
    metrics_destroy(f->m);
    config_destroy(f->cfg);
    free(f);
    return 0;
}

static int
tick(struct fx *f, int64_t now)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(f->m, NULL, NULL);
    int failed;

    assert_non_null(snap);
    failed = alerts_eval_tick(f->ev, snap, now);
    metrics_snapshot_destroy(snap);
    return failed;
}

/* The only instance of a rule, or NULL. */
static struct alert_instance *
of_rule(struct alerts_eval *ev, const char *name)
{
    struct alert_instance *found = NULL;
    size_t i;

    for (i = 0; i < ev->n_inst; i++) {
        const char *n = notify_label_get(ev->inst[i]->alert.labels,
                                         ev->inst[i]->alert.n_labels,
                                         "alertname");
        if (strcmp(n, name) == 0) {
            assert_null(found);
            found = ev->inst[i];
        }
    }
    return found;
}

static const char *
annotation(const struct alert_instance *inst, const char *name)
{
    return notify_label_get(inst->alert.annotations,
                            inst->alert.n_annotations,
                            name);
}

static void
test_pending_firing_resolved(void **state)
{
    struct fx *f = *state;
    struct alert_instance *a;

    metric_set(f->waiting, 7);
    assert_int_equal(tick(f, T0), 0);
    a = of_rule(f->ev, "PoolWaitingClientsHigh");
    assert_non_null(a);
    assert_int_equal(a->state, ALERT_PENDING);
    assert_true(a->active_at == T0);
    /* Identity: series labels, rule labels, alertname; byte-exact with
     * Alertmanager 0.25's fingerprint of the same labels. */
    assert_int_equal(a->alert.n_labels, 4);
    assert_string_equal(a->alert.labels[0].name, "alertname");
    assert_string_equal(a->alert.labels[3].name, "severity");
    assert_true(a->alert.fingerprint == UINT64_C(0x815330880a23990a));
    assert_string_equal(annotation(a, "summary"),
                        "Pool main has 7 waiting clients");
    assert_true(a->dirty);
    assert_true(a->sent != NULL);
    assert_true(f->ev->rules[0].to_receiver[0]);
    assert_false(f->ev->rules[0].to_receiver[1]);
    assert_true(f->ev->rules[1].to_receiver[1]); /* none listed: all */

    tick(f, T0 + S(45));
    assert_int_equal(a->state, ALERT_PENDING);
    metric_set(f->waiting, 9);
    tick(f, T0 + S(60));
    assert_int_equal(a->state, ALERT_FIRING);
    assert_true(a->fired_at == T0 + S(60));
    assert_true(a->alert.starts_at_ns == T0 + S(60));
    assert_false(a->alert.resolved);
    assert_string_equal(annotation(a, "summary"),
                        "Pool main has 9 waiting clients");

    metric_set(f->waiting, 2);
    tick(f, T0 + S(75));
    assert_int_equal(a->state, ALERT_RESOLVED);
    assert_true(a->alert.resolved);
    assert_true(a->alert.ends_at_ns == T0 + S(75));
    /* The resolve keeps the last firing value and annotations. */
    assert_string_equal(annotation(a, "summary"),
                        "Pool main has 9 waiting clients");

    /* Kept for 15 minutes, then removed and remembered for deletion. */
    tick(f, T0 + S(75) + S(899));
    assert_non_null(of_rule(f->ev, "PoolWaitingClientsHigh"));
    f->ev->n_deleted = 0;
    tick(f, T0 + S(75) + S(900));
    assert_null(of_rule(f->ev, "PoolWaitingClientsHigh"));
    assert_int_equal(f->ev->n_deleted, 1);
    assert_true(f->ev->deleted[0] == UINT64_C(0x815330880a23990a));
}

static void
test_pending_dropped_and_refire(void **state)
{
    struct fx *f = *state;
    struct alert_instance *a;

    /* A condition shorter than `for` never fires. */
    metric_set(f->waiting, 7);
    tick(f, T0);
    metric_set(f->waiting, 1);
    tick(f, T0 + S(30));
    assert_null(of_rule(f->ev, "PoolWaitingClientsHigh"));
    metric_set(f->waiting, 7);
    tick(f, T0 + S(45));
    a = of_rule(f->ev, "PoolWaitingClientsHigh");
    assert_true(a->active_at == T0 + S(45));
    tick(f, T0 + S(105));
    assert_int_equal(a->state, ALERT_FIRING);
    metric_set(f->waiting, 0);
    tick(f, T0 + S(120));
    assert_int_equal(a->state, ALERT_RESOLVED);
    /* True again within the retention: a new episode that must wait for
     * `for` again. */
    metric_set(f->waiting, 8);
    tick(f, T0 + S(135));
    a = of_rule(f->ev, "PoolWaitingClientsHigh");
    assert_int_equal(a->state, ALERT_PENDING);
    assert_true(a->active_at == T0 + S(135));
    assert_true(a->resolved_at == 0 && !a->alert.resolved);
    tick(f, T0 + S(194));
    assert_int_equal(a->state, ALERT_PENDING);
    tick(f, T0 + S(195));
    assert_int_equal(a->state, ALERT_FIRING);
}

static void
test_keep_firing_for(void **state)
{
    struct fx *f = *state;
    struct alert_instance *a;

    metric_set(f->flap, 1);
    tick(f, T0);
    a = of_rule(f->ev, "Flappy");
    assert_int_equal(a->state, ALERT_FIRING); /* for: 0 fires at once */
    metric_set(f->flap, 0);
    tick(f, T0 + S(15));
    assert_int_equal(a->state, ALERT_FIRING);
    assert_true(a->keep_firing_since == T0 + S(15));
    /* True again: the hold is reset. */
    metric_set(f->flap, 1);
    tick(f, T0 + S(60));
    assert_true(a->keep_firing_since == 0);
    metric_set(f->flap, 0);
    tick(f, T0 + S(75));
    tick(f, T0 + S(75) + S(119));
    assert_int_equal(a->state, ALERT_FIRING);
    tick(f, T0 + S(75) + S(120));
    assert_int_equal(a->state, ALERT_RESOLVED);
    assert_true(a->fired_at == T0);
}

static void
test_duplicate_labelset_fails_rule(void **state)
{
    struct fx *f = *state;
    struct metric_family *fam;
    static const char *const shard[] = {"shard", NULL};
    static const char *const s1[] = {"1"}, *const s2[] = {"2"};

    fam = metrics_family(f->m,
                         METRIC_GAUGE,
                         "test_clash",
                         "Clash.",
                         shard,
                         NULL,
                         0);
    metric_set(metric_series(fam, s1), 1);
    metric_set(metric_series(fam, s2), 1);
    /* shard="all" overrides both series' shard: one label set twice. */
    assert_int_equal(tick(f, T0), 1);
    assert_int_equal(f->ev->failures, 1);
    assert_non_null(of_rule(f->ev, "Clash"));
}

static void
test_templates_and_values(void **state)
{
    static const struct {
        double v;
        const char *text;
    } values[] = {{7, "7"},
                  {0.25, "0.25"},
                  {-3, "-3"},
                  {1.0 / 3, "0.3333333333333333"},
                  {1e20, "1e+20"},
                  {150, "150"}};
    struct notify_label l[] = {L("pool", "main"), L("zone", "b")};
    struct buf b;
    char out[32];
    size_t i, at;

    (void)state;
    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_string_equal(alerts_format_value(values[i].v, out),
                            values[i].text);
    assert_string_equal(alerts_format_value(0.0 / 0.0, out), "NaN");
    assert_string_equal(alerts_format_value(1.0 / 0.0, out), "+Inf");
    buf_init(&b, 1024);
    assert_int_equal(
        alerts_template_render("{{$value}}/{{ .Value }} {{ $labels.pool }} "
                               "{{.Labels.zone}} {{ $labels.none }}!",
                               l,
                               2,
                               7.5,
                               &b),
        DESKDB_OK);
    assert_string_equal(b.data, "7.5/7.5 main b !");
    buf_fini(&b);
    assert_null(alerts_template_check("plain {{ $value }}", &at));
    assert_non_null(alerts_template_check("x {{ humanize $value }}", &at));
    assert_int_equal(at, 2);
    assert_non_null(alerts_template_check("{{ $value ", &at));
    assert_non_null(alerts_template_check("{{ $labels. }}", &at));
}

static void
test_fingerprint_vectors(void **state)
{
    struct notify_label am[] = {L("alertname", "PoolWaitingClientsHigh"),
                                L("instance", "db1:9187"),
                                L("pool", "main"),
                                L("severity", "warning")};
    struct notify_label grafana[] = {L("alertname", "alert1"),
                                     L("lbl1", "val1")};
    struct notify_label captured[] = {L("alertname", "DeadlockRetriesHigh"),
                                      L("severity", "critical")};

    (void)state;
    assert_true(notify_fingerprint(am, 4) == UINT64_C(0x815330880a23990a));
    assert_true(notify_fingerprint(grafana, 2) == UINT64_C(0xfac0861a85de433a));
    assert_true(notify_fingerprint(captured, 2) ==
                UINT64_C(0x0a809394e5e7a81f));
    assert_true(notify_fingerprint(NULL, 0) == UINT64_C(0xcbf29ce484222325));
}

/* The four default rules against synthetic values of the metrics they
 * read. */
static void
test_seed_rules(void **state)
{
    static const char *const reason[] = {"reason", NULL};
    static const char *const deadlock[] = {"deadlock"};
    struct config *cfg = load("alerts: {evaluation_interval: 15s}\n");
    struct metrics *m = metrics_create();
    struct metric *pending, *slow, *dl, *up;
    struct metrics_snapshot *snap;
    struct alerts_eval *ev;
    struct deskdb_err err;
    int64_t t;
    int i;

    (void)state;
    assert_int_equal(cfg->alerts->n_rules, 4);
    ev = alerts_eval_create(cfg->alerts, &err);
    assert_non_null(ev);
    pending = metrics_gauge(m, "deskdb_pool_pending_requests", "Waiting.");
    slow = metrics_counter(m, "deskdb_slow_queries_total", "Slow.");
    dl = metric_series(metrics_family(m,
                                      METRIC_COUNTER,
                                      "deskdb_transaction_retries_total",
                                      "Retries.",
                                      reason,
                                      NULL,
                                      0),
                       deadlock);
    up = metrics_gauge(m, "pg_up", "Up.");
    metric_set(pending, 6);
    metric_set(up, 0);
    for (i = 0; i <= 4; i++) {
        t = T0 + S(15 * i);
        metric_set(slow, 150.0 * i);
        metric_set(dl, 11.0 * i);
        snap = metrics_snapshot_create(m, NULL, NULL);
        assert_int_equal(alerts_eval_tick(ev, snap, t), 0);
        metrics_snapshot_destroy(snap);
    }
    /* After 60 s: every rule fires; the two with `for: 1m` just now. */
    assert_int_equal(ev->n_inst, 4);
    for (i = 0; i < 4; i++)
        assert_int_equal(ev->inst[i]->state, ALERT_FIRING);
    assert_string_equal(
        annotation(of_rule(ev, "DatabasePoolExhausted"), "summary"),
        "Database pool exhausted: 6 clients waiting");
    assert_string_equal(
        annotation(of_rule(ev, "DatabaseSlowQueries"), "summary"),
        "High number of slow queries: 600 in 5 minutes");
    assert_string_equal(
        annotation(of_rule(ev, "DatabaseDeadlockRetries"), "summary"),
        "High transaction contention: 44 deadlock retries in 5 minutes");
    assert_string_equal(
        notify_label_get(
            of_rule(ev, "DatabaseHealthCheckFailed")->alert.labels,
            of_rule(ev, "DatabaseHealthCheckFailed")->alert.n_labels,
            "severity"),
        "critical");
    /* Counters stop growing, the pool drains, the database is back: the
     * window empties out after 5 minutes and everything resolves. */
    metric_set(pending, 0);
    metric_set(up, 1);
    for (i = 5; i <= 26; i++) {
        snap = metrics_snapshot_create(m, NULL, NULL);
        alerts_eval_tick(ev, snap, T0 + S(15 * i));
        metrics_snapshot_destroy(snap);
    }
    for (i = 0; i < 4; i++)
        assert_int_equal(ev->inst[i]->state, ALERT_RESOLVED);
    alerts_eval_destroy(ev);
    metrics_destroy(m);
    config_destroy(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pending_firing_resolved,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pending_dropped_and_refire,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keep_firing_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_labelset_fails_rule,
                                        setup,
                                        teardown),
        cmocka_unit_test(test_templates_and_values),
        cmocka_unit_test(test_fingerprint_vectors),
        cmocka_unit_test(test_seed_rules),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

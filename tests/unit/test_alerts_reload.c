/* SPDX-License-Identifier: MIT */
/* Reloading the alerts: section with a hand-moved clock and no threads:
 * rule states carried over by name, changed, removed and renamed rules,
 * receivers added, removed and changed, and a bad file changing nothing. */
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
#include "exporter/alerts.h"
#include "exporter/alerts/eval.h"
#include "exporter/alerts/internal.h"
#include "exporter/notify/worker.h"

#define S(n) ((int64_t)(n)*NS_PER_SEC)
#define T0   S(1795562634) /* 2026-11-24T23:23:54Z */

#define RECEIVERS                                                    \
    "  receivers:\n"                                                 \
    "    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/a',"  \
    " group_wait: 0s}\n"                                             \
    "    - {name: team, type: webhook, url: 'http://127.0.0.1:9/b'," \
    " group_wait: 0s}\n"

/* Two rules: Waiting (for: 1m) and Flag (fires at once). */
static const char base_yaml[] = "alerts:\n" RECEIVERS "  rules:\n"
                                "    - name: Waiting\n"
                                "      expr: test_waiting > 5\n"
                                "      for: 1m\n"
                                "      labels: {severity: warning}\n"
                                "    - name: Flag\n"
                                "      expr: test_flag > 0\n"
                                "      labels: {severity: critical}\n";

struct fx {
    struct config *cfgs[8];
    size_t n_cfgs;
    struct metrics *m;
    struct metric *waiting;
    struct metric *flag;
    struct alerts_eval *ev;
    struct clock_manual cm;
    struct clock clock;
};

static const struct config_alerts *
load(struct fx *f, const char *yaml)
{
    struct deskdb_err err;
    struct config *cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &err);

    if (cfg == NULL)
        fail_msg("config: %s", err.msg);
    assert_true(f->n_cfgs < 8);
    f->cfgs[f->n_cfgs++] = cfg;
    return cfg->alerts;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct deskdb_err err;

    f->m = metrics_create();
    f->waiting = metrics_gauge(f->m, "test_waiting", "Waiting.");
    f->flag = metrics_gauge(f->m, "test_flag", "Flag.");
    f->ev = alerts_eval_create(load(f, base_yaml), &err);
    assert_non_null(f->ev);
    f->ev->track_deleted = true;
    f->cm.mono_ns = S(1000);
    f->cm.real_ns = T0;
    f->clock = clock_manual_make(&f->cm);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    size_t i;

    alerts_eval_destroy(f->ev);
    metrics_destroy(f->m);
    for (i = 0; i < f->n_cfgs; i++)
        config_destroy(f->cfgs[i]);
    free(f);
    return 0;
}

static void
tick(struct fx *f, int64_t now)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(f->m, NULL, NULL);

    assert_non_null(snap);
    assert_int_equal(alerts_eval_tick(f->ev, snap, now), 0);
    metrics_snapshot_destroy(snap);
}

/* The evaluator of `yaml`, with the state of the current one. */
static void
reload(struct fx *f, const char *yaml, int64_t now)
{
    struct deskdb_err err;
    struct alerts_eval *next = alerts_eval_create(load(f, yaml), &err);

    assert_non_null(next);
    assert_int_equal(alerts_eval_carry(f->ev, next, now), DESKDB_OK);
    assert_int_equal(f->ev->n_inst, 0);
    alerts_eval_destroy(f->ev);
    f->ev = next;
}

/* The only instance named `name` (alertname), or NULL. */
static struct alert_instance *
of(const struct alerts_eval *ev, const char *name)
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

static bool
was_deleted(const struct alerts_eval *ev, uint64_t fp)
{
    size_t i;

    for (i = 0; i < ev->n_deleted; i++) {
        if (ev->deleted[i] == fp)
            return true;
    }
    return false;
}

/* ---- rules ------------------------------------------------------------- */

static void
test_unchanged_rule_keeps_state(void **state)
{
    struct fx *f = *state;
    struct alert_instance *w, *fl;
    int64_t fired_at;

    metric_set(f->waiting, 9);
    metric_set(f->flag, 1);
    tick(f, T0);
    tick(f, T0 + S(40));
    assert_int_equal(of(f->ev, "Waiting")->state, ALERT_PENDING);
    fl = of(f->ev, "Flag");
    assert_int_equal(fl->state, ALERT_FIRING);
    fl->sent[1] = NOTIFY_SENT_FIRING; /* "team" heard it */
    fired_at = fl->fired_at;

    /* Same rules, receivers in another order, a comment-free reformat. */
    reload(f,
           "alerts:\n"
           "  receivers:\n"
           "    - {name: team, type: webhook, url: 'http://127.0.0.1:9/b'}\n"
           "    - {name: ops, type: webhook, url: 'http://127.0.0.1:9/a'}\n"
           "  rules:\n"
           "    - {name: Flag, expr: 'test_flag > 0',"
           " labels: {severity: critical}}\n"
           "    - {name: Waiting, expr: 'test_waiting > 5', for: 1m,"
           " labels: {severity: warning}}\n",
           T0 + S(45));
    w = of(f->ev, "Waiting");
    fl = of(f->ev, "Flag");
    assert_int_equal(w->rule, 1);
    assert_int_equal(fl->rule, 0);
    assert_int_equal(f->ev->rules[0].n_instances, 1);
    assert_int_equal(w->active_at, T0);
    assert_int_equal(fl->state, ALERT_FIRING);
    assert_int_equal(fl->fired_at, fired_at);
    /* What each receiver was told follows its name. */
    assert_int_equal(fl->sent[0], NOTIFY_SENT_FIRING);
    assert_int_equal(fl->sent[1], NOTIFY_SENT_NONE);

    /* `for` goes on from T0: fires at T0+60s, not T0+45s+60s. */
    tick(f, T0 + S(50));
    assert_int_equal(of(f->ev, "Waiting")->state, ALERT_PENDING);
    tick(f, T0 + S(60));
    w = of(f->ev, "Waiting");
    assert_int_equal(w->state, ALERT_FIRING);
    assert_int_equal(w->fired_at, T0 + S(60));
    assert_int_equal(of(f->ev, "Flag")->fired_at, fired_at);
}

static void
test_changed_expression(void **state)
{
    struct fx *f = *state;
    struct alert_instance *w;
    uint64_t old_fp;

    metric_set(f->waiting, 9);
    metric_set(f->flag, 1);
    tick(f, T0);
    old_fp = of(f->ev, "Flag")->alert.fingerprint;
    /* Waiting: another threshold and a longer `for`, same labels: the
     * instance stays, `for` counted from the first activation.  Flag:
     * a new label, so another identity: the old alert resolves at the
     * next evaluation and a new one starts. */
    reload(f,
           "alerts:\n" RECEIVERS "  rules:\n"
           "    - name: Waiting\n"
           "      expr: test_waiting > 3\n"
           "      for: 2m\n"
           "      labels: {severity: warning}\n"
           "    - name: Flag\n"
           "      expr: test_flag > 0\n"
           "      labels: {severity: critical, team: db}\n",
           T0 + S(30));
    assert_int_equal(of(f->ev, "Waiting")->active_at, T0);
    assert_int_equal(alerts_eval_find(f->ev, old_fp)->state, ALERT_FIRING);
    tick(f, T0 + S(60));
    w = of(f->ev, "Waiting");
    assert_int_equal(w->state, ALERT_PENDING);
    assert_int_equal(w->active_at, T0);
    assert_int_equal(alerts_eval_find(f->ev, old_fp)->state, ALERT_RESOLVED);
    assert_int_equal(alerts_eval_find(f->ev, old_fp)->resolved_at, T0 + S(60));
    assert_int_equal(f->ev->n_inst, 3);
    tick(f, T0 + S(120));
    assert_int_equal(of(f->ev, "Waiting")->state, ALERT_FIRING);

    /* The condition no longer holds under the new threshold: resolved. */
    metric_set(f->waiting, 4);
    reload(f, base_yaml, T0 + S(130));
    tick(f, T0 + S(135));
    assert_int_equal(of(f->ev, "Waiting")->state, ALERT_RESOLVED);
}

static void
test_removed_rule_resolves(void **state)
{
    struct fx *f = *state;
    struct alert_instance *fl;
    uint64_t fp_flag, fp_wait;

    metric_set(f->waiting, 9);
    metric_set(f->flag, 1);
    tick(f, T0);
    fl = of(f->ev, "Flag");
    fl->sent[0] = NOTIFY_SENT_FIRING; /* "ops" was told */
    fp_flag = fl->alert.fingerprint;
    fp_wait = of(f->ev, "Waiting")->alert.fingerprint;
    f->ev->n_deleted = 0;
    reload(f, "alerts:\n" RECEIVERS "  rules: []\n", T0 + S(10));
    /* The firing alert resolves at once; the pending one is gone, and so
     * is its row. */
    fl = alerts_eval_find(f->ev, fp_flag);
    assert_non_null(fl);
    assert_int_equal(fl->rule, ALERTS_RULE_GONE);
    assert_int_equal(fl->state, ALERT_RESOLVED);
    assert_true(fl->alert.resolved);
    assert_int_equal(fl->alert.ends_at_ns, T0 + S(10));
    assert_true(fl->dirty);
    assert_null(alerts_eval_find(f->ev, fp_wait));
    assert_true(was_deleted(f->ev, fp_wait));
    /* Kept while "ops" has not been told it resolved... */
    tick(f, T0 + S(20));
    assert_non_null(alerts_eval_find(f->ev, fp_flag));
    assert_false(was_deleted(f->ev, fp_flag));
    /* ...then removed, its row with it. */
    alerts_eval_find(f->ev, fp_flag)->sent[0] = NOTIFY_SENT_RESOLVED;
    tick(f, T0 + S(30));
    assert_null(alerts_eval_find(f->ev, fp_flag));
    assert_true(was_deleted(f->ev, fp_flag));
}

static void
test_renamed_rule(void **state)
{
    struct fx *f = *state;
    uint64_t fp_old;

    metric_set(f->flag, 1);
    tick(f, T0);
    fp_old = of(f->ev, "Flag")->alert.fingerprint;
    reload(f,
           "alerts:\n" RECEIVERS "  rules:\n"
           "    - name: FlagRaised\n"
           "      expr: test_flag > 0\n"
           "      for: 1m\n"
           "      labels: {severity: critical}\n",
           T0 + S(10));
    /* A new name is a new rule: the old alert ends (nobody heard it, so
     * it leaves at the next evaluation) and the new one starts over. */
    assert_int_equal(alerts_eval_find(f->ev, fp_old)->state, ALERT_RESOLVED);
    tick(f, T0 + S(20));
    assert_null(alerts_eval_find(f->ev, fp_old));
    assert_int_equal(of(f->ev, "FlagRaised")->state, ALERT_PENDING);
    assert_int_equal(of(f->ev, "FlagRaised")->active_at, T0 + S(20));
}

static void
test_same_name_matched_by_labels(void **state)
{
    static const char two[] = "alerts:\n" RECEIVERS "  rules:\n"
                              "    - name: Flag\n"
                              "      expr: test_flag > 0\n"
                              "      labels: {severity: warning}\n"
                              "    - name: Flag\n"
                              "      expr: test_flag > 5\n"
                              "      for: 1h\n"
                              "      labels: {severity: critical}\n";
    struct fx *f = *state;
    struct alert_instance *warn;

    reload(f, two, T0);
    metric_set(f->flag, 9);
    tick(f, T0);
    /* Swapped in the file: each keeps its own alert. */
    reload(f,
           "alerts:\n" RECEIVERS "  rules:\n"
           "    - name: Flag\n"
           "      expr: test_flag > 5\n"
           "      for: 1h\n"
           "      labels: {severity: critical}\n"
           "    - name: Flag\n"
           "      expr: test_flag > 0\n"
           "      labels: {severity: warning}\n",
           T0 + S(5));
    assert_int_equal(f->ev->n_inst, 2);
    assert_int_equal(f->ev->rules[0].n_instances, 1);
    assert_int_equal(f->ev->rules[1].n_instances, 1);
    warn = f->ev->inst[0]->rule == 1 ? f->ev->inst[0] : f->ev->inst[1];
    assert_int_equal(warn->state, ALERT_FIRING);
    assert_string_equal(
        notify_label_get(warn->alert.labels, warn->alert.n_labels, "severity"),
        "warning");
}

static void
test_bad_rule_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct deskdb_err err;

    err_clear(&err);
    assert_null(alerts_eval_create(
        load(f, "alerts:\n  rules:\n    - {name: Bad, expr: 'test_flag >'}\n"),
        &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "alerts.rules[0] (Bad)"));
}

/* ---- the alerts object: receivers and metrics --------------------------- */

/* The value of series {l0, l1} of `family`; false if it is not exported. */
static bool
series(struct metrics *m,
       const char *family,
       const char *l0,
       const char *l1,
       double *value)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *fam;
    bool found = false;
    size_t i;

    assert_non_null(snap);
    fam = metrics_snapshot_find(snap, family);
    for (i = 0; fam != NULL && i < fam->n_samples; i++) {
        const struct metrics_sample *s = &fam->samples[i];

        if (strcmp(s->label_values[0], l0) != 0 ||
            (l1 != NULL && strcmp(s->label_values[1], l1) != 0))
            continue;
        *value = s->value;
        found = true;
    }
    metrics_snapshot_destroy(snap);
    return found;
}

/* Queue what the receiver's groups have due now, as its thread would. */
static size_t
flush(struct fx *f, struct notifier *n)
{
    pthread_mutex_lock(&n->lock);
    notifier_flush_due(n, clock_mono(&f->clock));
    pthread_mutex_unlock(&n->lock);
    return notifier_queue_length(n);
}

static char *
json_of(struct alerts *a)
{
    struct buf out;
    char *text;

    buf_init(&out, 1 << 20);
    assert_int_equal(alerts_json(a, &out), DESKDB_OK);
    text = buf_take(&out);
    buf_fini(&out);
    return text;
}

static void
test_alerts_reload_receivers(void **state)
{
    struct fx *f = *state;
    struct deskdb_err err;
    struct alerts *a;
    struct notifier *ops, *team;
    double v = -1;
    char *json;

    a = alerts_create(f->cfgs[0]->alerts, f->m, NULL, NULL, &f->clock, &err);
    assert_non_null(a);
    metric_set(f->flag, 1);
    alerts_round(a);
    assert_true(series(f->m, "deskdb_alert_firing", "Flag", "critical", &v));
    assert_true(v == 1);
    ops = a->notifiers[0];
    team = a->notifiers[1];
    assert_int_equal(flush(f, ops), 1);
    assert_int_equal(flush(f, team), 1);

    /* "team" unchanged, "ops" becomes a Slack receiver, "pager" is new. */
    f->cm.mono_ns += S(5);
    f->cm.real_ns += S(5);
    assert_int_equal(
        alerts_reload(a,
                      load(f,
                           "alerts:\n"
                           "  evaluation_interval: 5s\n"
                           "  receivers:\n"
                           "    - {name: team, type: webhook,"
                           " url: 'http://127.0.0.1:9/b', group_wait: 0s}\n"
                           "    - {name: ops, type: slack,"
                           " url: 'http://127.0.0.1:9/slack', group_wait: 0s}\n"
                           "    - {name: pager, type: webhook,"
                           " url: 'http://127.0.0.1:9/p', group_wait: 0s}\n"
                           "  rules:\n"
                           "    - name: Flag\n"
                           "      expr: test_flag > 0\n"
                           "      labels: {severity: critical}\n"),
                      &err),
        DESKDB_OK);
    assert_int_equal(a->n_notifiers, 3);
    assert_int_equal(a->cfg->evaluation_interval_ms, 5000);
    assert_ptr_equal(a->notifiers[0], team);
    assert_ptr_equal(a->notifiers[1], ops);
    /* The changed receiver kept its queue, rebuilt for Slack. */
    assert_int_equal(notifier_queue_length(ops), 1);
    assert_non_null(strstr(ops->queue->body, "\"blocks\""));
    assert_string_equal(ops->url, "http://127.0.0.1:9/slack");
    assert_int_equal(notifier_queue_length(team), 1);
    /* Flag kept firing: nobody is notified again, the new receiver gets
     * it as a first notification. */
    alerts_round(a);
    assert_int_equal(flush(f, team), 1);
    assert_int_equal(flush(f, a->notifiers[2]), 1);
    json = json_of(a);
    assert_non_null(strstr(json, "{\"name\":\"pager\",\"type\":\"webhook\""));
    assert_non_null(strstr(json, "\"name\":\"Flag\",\"state\":\"firing\""));
    free(json);

    /* "team" removed: what it had queued is dropped and counted, and its
     * series leave the registry. */
    assert_int_equal(alerts_reload(a,
                                   load(f,
                                        "alerts:\n"
                                        "  receivers:\n"
                                        "    - {name: ops, type: slack,"
                                        " url: 'http://127.0.0.1:9/slack'}\n"
                                        "  rules:\n"
                                        "    - name: Flag\n"
                                        "      expr: test_flag > 0\n"
                                        "      labels: {severity: critical}\n"),
                                   &err),
                     DESKDB_OK);
    assert_int_equal(a->n_notifiers, 1);
    assert_int_equal(notifier_queue_length(team), 0);
    assert_true(metric_value(team->m_failed[NOTIFY_REASON_DROPPED]) == 1);
    assert_false(series(f->m,
                        "deskdb_webhook_notifications_failed_total",
                        "team",
                        "dropped",
                        &v));
    assert_false(series(f->m, "deskdb_webhook_queue_length", "team", NULL, &v));
    assert_true(series(f->m, "deskdb_webhook_queue_length", "ops", NULL, &v));
    json = json_of(a);
    assert_null(strstr(json, "\"team\""));
    assert_null(strstr(json, "\"pager\""));
    free(json);
    alerts_destroy(a);
}

static void
test_alerts_reload_rules_and_metrics(void **state)
{
    struct fx *f = *state;
    const struct config_alerts *before;
    struct deskdb_err err;
    struct alerts *a;
    double v = -1;
    char *json;

    a = alerts_create(f->cfgs[0]->alerts, f->m, NULL, NULL, &f->clock, &err);
    assert_non_null(a);
    metric_set(f->flag, 1);
    metric_set(f->waiting, 9);
    alerts_round(a);
    assert_true(series(f->m, "deskdb_alert_firing", "Flag", NULL, &v));

    /* A bad rule: an error, and nothing changes. */
    before = a->cfg;
    err_clear(&err);
    assert_int_equal(
        alerts_reload(
            a,
            load(f, "alerts:\n  rules:\n    - {name: Bad, expr: 'nope >'}\n"),
            &err),
        DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "(Bad)"));
    assert_ptr_equal(a->cfg, before);
    assert_int_equal(a->n_notifiers, 2);
    assert_int_equal(a->ev->n_inst, 2);

    /* Flag removed (gone from /metrics and /api/alerts), Waiting kept
     * pending from its first activation, NewRule added at 0. */
    f->cm.real_ns += S(30);
    assert_int_equal(alerts_reload(a,
                                   load(f,
                                        "alerts:\n" RECEIVERS "  rules:\n"
                                        "    - name: Waiting\n"
                                        "      expr: test_waiting > 5\n"
                                        "      for: 1m\n"
                                        "      labels: {severity: warning}\n"
                                        "    - name: NewRule\n"
                                        "      expr: test_flag > 100\n"),
                                   &err),
                     DESKDB_OK);
    assert_false(series(f->m, "deskdb_alert_firing", "Flag", NULL, &v));
    assert_true(series(f->m, "deskdb_alert_firing", "NewRule", "", &v));
    assert_true(v == 0);
    json = json_of(a);
    assert_null(strstr(json, "\"name\":\"Flag\""));
    assert_non_null(strstr(json, "\"name\":\"Waiting\",\"state\":\"pending\""));
    free(json);
    f->cm.real_ns += S(30);
    alerts_round(a);
    assert_true(series(f->m, "deskdb_alert_firing", "Waiting", NULL, &v));
    assert_true(v == 1);
    alerts_destroy(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_unchanged_rule_keeps_state,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_expression,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_removed_rule_resolves,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_renamed_rule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_name_matched_by_labels,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_rule_changes_nothing,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_reload_receivers,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alerts_reload_rules_and_metrics,
                                        setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Alerts end to end inside the process: rules fire over a real registry,
 * notifications reach a real HTTP receiver on 127.0.0.1 signed, retried
 * with the same webhook-id, timed out without blocking anything else,
 * held back on non-leaders, and resolved after a restart from the state
 * kept in PostgreSQL.
 * ctest-labels: concurrency */
#include <jansson.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/metrics.h"
#include "core/migrate.h"
#include "core/pool.h"
#include "exporter/alerts.h"
#include "exporter/notify/notify.h"
#include "support/pooltest.h"
#include "support/receiver.h"
#include "support/testdb.h"
#include "support/testsupport.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

struct fx {
    struct receiver ops;
    struct receiver slow;
    struct config *cfg;
    struct metrics *m;
    struct metric *value;
    struct alerts *a;
};

/* One webhook receiver "ops" (and "slow" when `slow_url` is set); the
 * rule goes to every receiver. */
static void
load_config(struct fx *f, const char *group_interval, const char *slow_url)
{
    char yaml[2048], slow[512] = "";
    struct deskdb_err err;

    if (slow_url != NULL)
        snprintf(slow,
                 sizeof(slow),
                 "    - name: slow\n"
                 "      type: webhook\n"
                 "      url: %s\n"
                 "      timeout: 500ms\n"
                 "      group_wait: 0s\n"
                 "      group_interval: 1s\n"
                 "      backoff: {base: 10ms, cap: 100ms}\n",
                 slow_url);
    snprintf(yaml,
             sizeof(yaml),
             "alerts:\n"
             "  evaluation_interval: 1s\n"
             "  receivers:\n"
             "    - name: ops\n"
             "      type: webhook\n"
             "      url: %s\n"
             "      secret: " SECRET "\n"
             "      timeout: 2s\n"
             "      group_wait: 0s\n"
             "      group_interval: %s\n"
             "      repeat_interval: 1h\n"
             "      backoff: {base: 10ms, cap: 100ms}\n"
             "%s"
             "  rules:\n"
             "    - name: ItValueHigh\n"
             "      expr: it_value > 5\n"
             "      labels: {severity: critical}\n"
             "      annotations: {summary: 'value is {{ $value }}'}\n",
             f->ops.url,
             group_interval,
             slow);
    f->cfg = config_load_buffer("it.yaml", yaml, strlen(yaml), &err);
    if (f->cfg == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(alerts_validate_config(f->cfg, &err), DESKDB_OK);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    alerts_global_init();
    receiver_start(&f->ops);
    receiver_start(&f->slow);
    f->m = metrics_create();
    f->value = metrics_gauge(f->m, "it_value", "The value the rule reads.");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    alerts_destroy(f->a);
    receiver_stop(&f->ops);
    receiver_stop(&f->slow);
    metrics_destroy(f->m);
    config_destroy(f->cfg);
    free(f);
    return 0;
}

static void
start(struct fx *f, struct pool *pool)
{
    struct deskdb_err err;

    f->a = alerts_create(f->cfg->alerts, f->m, NULL, pool, NULL, &err);
    if (f->a == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(alerts_start(f->a, &err), DESKDB_OK);
}

/* Sum of a family's series whose first labels are l0 (and l1). */
static double
metric_of(struct metrics *m, const char *family, const char *l0, const char *l1)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *f;
    double sum = 0;
    size_t i;

    f = metrics_snapshot_find(snap, family);
    for (i = 0; f != NULL && i < f->n_samples; i++) {
        char **v = f->samples[i].label_values;

        if ((l0 == NULL || strcmp(v[0], l0) == 0) &&
            (l1 == NULL || strcmp(v[1], l1) == 0))
            sum += f->type == METRIC_HISTOGRAM ? (double)f->samples[i].count
                                               : f->samples[i].value;
    }
    metrics_snapshot_destroy(snap);
    return sum;
}

static bool
wait_metric(struct metrics *m,
            const char *family,
            const char *l0,
            const char *l1,
            double at_least)
{
    struct timespec ts = {0, 20 * 1000000};
    int i;

    for (i = 0; i < 250; i++) {
        if (metric_of(m, family, l0, l1) >= at_least)
            return true;
        nanosleep(&ts, NULL);
    }
    return false;
}

static json_t *
body_of(const struct receiver_request *q)
{
    json_error_t jerr;
    json_t *j = json_loads(q->body, 0, &jerr);

    if (j == NULL)
        fail_msg("body is not JSON (%s): %s", jerr.text, q->body);
    return j;
}

static const char *
str_at(json_t *j, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        j = strcmp(key, "0") == 0 ? json_array_get(j, 0)
                                  : json_object_get(j, key);
        path = dot + 1;
    }
    j = json_object_get(j, path);
    return json_is_string(j) ? json_string_value(j) : "";
}

static void
test_signed_delivery_and_resolve(void **state)
{
    struct fx *f = *state;
    struct receiver_request *q;
    char sig[NOTIFY_SIG_LEN];
    struct buf out;
    json_t *j;
    long long ts;

    load_config(f, "1s", NULL);
    metric_set(f->value, 7);
    start(f, NULL);
    assert_int_equal(receiver_wait(&f->ops, 1, 10000), 1);
    q = &f->ops.req[0];
    assert_string_equal(q->path, "/hook");
    assert_string_equal(q->content_type, "application/json");
    assert_memory_equal(q->user_agent, "deskdb/", 7);
    assert_memory_equal(q->webhook_id, "msg_", 4);
    ts = atoll(q->webhook_timestamp);
    assert_true(llabs(ts - (long long)time(NULL)) < 60);
    /* The receiver's side of Standard Webhooks: recompute and compare. */
    assert_int_equal(
        notify_sign(SECRET, q->webhook_id, ts, q->body, q->body_len, sig),
        DESKDB_OK);
    assert_string_equal(q->webhook_signature, sig);
    j = body_of(q);
    assert_string_equal(str_at(j, "status"), "firing");
    assert_string_equal(str_at(j, "receiver"), "ops");
    assert_string_equal(str_at(j, "version"), "4");
    assert_string_equal(str_at(j, "groupKey"),
                        "{}:{alertname=\"ItValueHigh\"}");
    assert_string_equal(str_at(j, "alerts.0.labels.alertname"), "ItValueHigh");
    assert_string_equal(str_at(j, "alerts.0.annotations.summary"),
                        "value is 7");
    assert_string_equal(str_at(j, "alerts.0.endsAt"), "0001-01-01T00:00:00Z");
    json_decref(j);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_total",
                            "ops",
                            NULL,
                            1));
    assert_true(
        wait_metric(f->m, "deskdb_alert_firing", "ItValueHigh", NULL, 1));
    buf_init(&out, 1 << 20);
    assert_int_equal(alerts_json(f->a, &out), DESKDB_OK);
    assert_non_null(strstr(out.data, "\"name\":\"ItValueHigh\""));
    assert_non_null(strstr(out.data, "\"state\":\"firing\""));
    buf_fini(&out);

    metric_set(f->value, 1);
    alerts_evaluate_now(f->a);
    assert_int_equal(receiver_wait(&f->ops, 2, 10000), 2);
    j = body_of(&f->ops.req[1]);
    assert_string_equal(str_at(j, "status"), "resolved");
    assert_string_equal(str_at(j, "notification_reason"),
                        "all alerts resolved");
    assert_string_not_equal(str_at(j, "alerts.0.endsAt"),
                            "0001-01-01T00:00:00Z");
    json_decref(j);
    /* A new notification, a new id. */
    assert_string_not_equal(f->ops.req[1].webhook_id, q->webhook_id);
    assert_true(
        wait_metric(f->m, "deskdb_webhook_queue_length", "ops", NULL, 0));
    assert_int_equal(
        metric_of(f->m, "deskdb_alert_firing", "ItValueHigh", NULL),
        0);
}

static void
test_retry_keeps_webhook_id(void **state)
{
    struct fx *f = *state;

    load_config(f, "1h", NULL);
    receiver_script(&f->ops, 500, -1);
    receiver_script(&f->ops, 429, 1);
    metric_set(f->value, 7);
    start(f, NULL);
    assert_int_equal(receiver_wait(&f->ops, 3, 10000), 3);
    assert_int_equal(f->ops.req[0].status, 500);
    assert_int_equal(f->ops.req[1].status, 429);
    assert_int_equal(f->ops.req[2].status, 200);
    assert_string_equal(f->ops.req[1].webhook_id, f->ops.req[0].webhook_id);
    assert_string_equal(f->ops.req[2].webhook_id, f->ops.req[0].webhook_id);
    /* Retry-After: 1 was waited for, the 500 only backed off. */
    assert_true(f->ops.req[2].at_ms - f->ops.req[1].at_ms >= 900);
    assert_true(f->ops.req[1].at_ms - f->ops.req[0].at_ms < 900);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_total",
                            "ops",
                            NULL,
                            3));
    assert_int_equal(metric_of(f->m,
                               "deskdb_webhook_notifications_failed_total",
                               "ops",
                               "http_5xx"),
                     1);
    assert_int_equal(metric_of(f->m,
                               "deskdb_webhook_notifications_failed_total",
                               "ops",
                               "http_4xx"),
                     1);
    /* Delivered once: nothing more follows. */
    usleep(1500 * 1000);
    assert_int_equal(receiver_count(&f->ops), 3);
}

static void
test_client_error_not_retried(void **state)
{
    struct fx *f = *state;

    load_config(f, "1h", NULL);
    receiver_script(&f->ops, 400, -1);
    metric_set(f->value, 7);
    start(f, NULL);
    assert_int_equal(receiver_wait(&f->ops, 1, 10000), 1);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_failed_total",
                            "ops",
                            "http_4xx",
                            1));
    usleep(1500 * 1000);
    assert_int_equal(receiver_count(&f->ops), 1);
    assert_int_equal(
        metric_of(f->m, "deskdb_webhook_queue_length", "ops", NULL),
        0);
}

/* A redirect is not followed and not retried; a 200 with a body far
 * larger than anyone needs is a delivery, read only up to the cap. */
static void
test_redirect_and_large_answer(void **state)
{
    struct fx *f = *state;

    load_config(f, "1s", NULL);
    receiver_script(&f->ops, 301, -1);
    receiver_script_body(&f->ops, 4 * 1024 * 1024);
    metric_set(f->value, 7);
    start(f, NULL);
    assert_int_equal(receiver_wait(&f->ops, 2, 10000), 2);
    assert_int_equal(f->ops.req[0].status, 301);
    /* The second came from the next group_interval: a new notification. */
    assert_string_not_equal(f->ops.req[1].webhook_id, f->ops.req[0].webhook_id);
    assert_true(f->ops.req[1].at_ms - f->ops.req[0].at_ms >= 900);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_total",
                            "ops",
                            NULL,
                            2));
    assert_int_equal(metric_of(f->m,
                               "deskdb_webhook_notifications_failed_total",
                               "ops",
                               "http_3xx"),
                     1);
    /* Delivered: the group interval passes without another request. */
    usleep(1500 * 1000);
    assert_int_equal(receiver_count(&f->ops), 2);
    assert_int_equal(metric_of(f->m,
                               "deskdb_webhook_notifications_failed_total",
                               "ops",
                               NULL),
                     1);
}

static void
test_hanging_receiver_blocks_nothing(void **state)
{
    struct fx *f = *state;
    double evals;

    load_config(f, "1s", f->slow.url);
    receiver_script(&f->slow, 0, -1); /* never answers */
    metric_set(f->value, 7);
    start(f, NULL);
    /* The other receiver is served while "slow" holds its request. */
    assert_int_equal(receiver_wait(&f->ops, 1, 5000), 1);
    assert_int_equal(receiver_wait(&f->slow, 1, 5000), 1);
    evals = metric_of(f->m, "deskdb_alerts_evaluations_total", NULL, NULL);
    alerts_evaluate_now(f->a);
    assert_true(wait_metric(f->m,
                            "deskdb_alerts_evaluations_total",
                            NULL,
                            NULL,
                            evals + 1));
    /* Cut off after its 500 ms timeout and retried with the same id. */
    assert_int_equal(receiver_wait(&f->slow, 2, 5000), 2);
    assert_string_equal(f->slow.req[1].webhook_id, f->slow.req[0].webhook_id);
    assert_int_equal(f->slow.req[1].status, 200);
    assert_true(f->slow.req[1].at_ms - f->slow.req[0].at_ms >= 450);
    assert_int_equal(metric_of(f->m,
                               "deskdb_webhook_notifications_failed_total",
                               "slow",
                               "timeout"),
                     1);
}

static atomic_bool leader;

static bool
is_leader(void *arg)
{
    (void)arg;
    return atomic_load(&leader);
}

static void
test_only_the_leader_sends(void **state)
{
    struct fx *f = *state;
    struct deskdb_err err;
    struct buf out;

    load_config(f, "1s", NULL);
    metric_set(f->value, 7);
    atomic_store(&leader, false);
    f->a = alerts_create(f->cfg->alerts, f->m, NULL, NULL, NULL, &err);
    assert_non_null(f->a);
    alerts_set_leader_fn(f->a, is_leader, NULL);
    assert_int_equal(alerts_start(f->a, &err), DESKDB_OK);
    assert_true(
        wait_metric(f->m, "deskdb_alert_firing", "ItValueHigh", NULL, 1));
    usleep(1500 * 1000);
    assert_int_equal(receiver_count(&f->ops), 0);
    buf_init(&out, 1 << 20);
    assert_int_equal(alerts_json(f->a, &out), DESKDB_OK);
    assert_non_null(strstr(out.data, "\"state\":\"firing\""));
    buf_fini(&out);
    atomic_store(&leader, true);
    assert_int_equal(receiver_wait(&f->ops, 1, 5000), 1);
}

/* ---- state across restarts --------------------------------------------- */

static struct pool *
state_pool(struct test_db *db,
           struct config_database *dbc,
           struct config_pool *pc)
{
    struct migrate_options o = {0};
    struct migration_set *set;
    struct deskdb_err err;
    struct pool *pool;
    static char app[64];

    test_db_create(db, "deskdb_alerts");
    assert_int_equal(migration_set_load_embedded(&set, &err), DESKDB_OK);
    o.conninfo = db->dsn;
    o.set = set;
    if (migrate_up(&o, NULL, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    migration_set_destroy(set);
    pooltest_config(dbc, pc, "alerts", app);
    dbc->url = db->dsn;
    pc->min = 1;
    pc->max = 4;
    pool = pool_create(dbc, pc, NULL, NULL, &err);
    if (pool == NULL)
        fail_msg("%s", err.msg);
    return pool;
}

static void
test_resolve_after_restart(void **state)
{
    struct fx *f = *state;
    struct config_database dbc;
    struct config_pool pc;
    struct test_db db;
    struct pool *pool = state_pool(&db, &dbc, &pc);
    char *row, *fp;
    json_t *j;

    load_config(f, "1s", NULL);
    metric_set(f->value, 7);
    start(f, pool);
    assert_int_equal(receiver_wait(&f->ops, 1, 10000), 1);
    j = body_of(&f->ops.req[0]);
    fp = strdup(str_at(j, "alerts.0.fingerprint"));
    json_decref(j);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_total",
                            "ops",
                            NULL,
                            1));
    /* Stopping writes what the receiver was told. */
    alerts_destroy(f->a);
    f->a = NULL;
    row = test_db_query_text(&db,
                             "SELECT fingerprint || ' ' || state || ' '"
                             " || (payload->'sent'->>'ops')"
                             " FROM deskdb.alert_state");
    assert_non_null(strstr(row, fp));
    assert_non_null(strstr(row, " firing firing"));
    free(row);

    /* Down while the condition cleared; the new process resolves it. */
    metric_set(f->value, 0);
    start(f, pool);
    assert_int_equal(receiver_wait(&f->ops, 2, 10000), 2);
    j = body_of(&f->ops.req[1]);
    assert_string_equal(str_at(j, "status"), "resolved");
    assert_string_equal(str_at(j, "alerts.0.fingerprint"), fp);
    json_decref(j);
    assert_true(wait_metric(f->m,
                            "deskdb_webhook_notifications_total",
                            "ops",
                            NULL,
                            2));
    alerts_destroy(f->a);
    f->a = NULL;
    row = test_db_query_text(&db,
                             "SELECT state || ' ' ||"
                             " (payload->'sent'->>'ops')"
                             " FROM deskdb.alert_state");
    assert_string_equal(row, "resolved resolved");
    free(row);
    free(fp);
    pool_destroy(pool);
    test_db_drop(&db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signed_delivery_and_resolve,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retry_keeps_webhook_id,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_error_not_retried,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_redirect_and_large_answer,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hanging_receiver_blocks_nothing,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_only_the_leader_sends,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_resolve_after_restart,
                                        setup,
                                        teardown),
    };

    test_dsn();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

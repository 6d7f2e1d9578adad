/* SPDX-License-Identifier: MIT */
/* alerts_reload() while everything runs: the evaluation thread, the
 * delivery threads to a real HTTP receiver and /api/alerts readers, over
 * many reloads; a kept rule is not notified again, a removed one is
 * resolved at the receiver.
 * ctest-labels: concurrency */
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/metrics.h"
#include "exporter/alerts.h"
#include "support/receiver.h"
#include "support/testsupport.h"

#define MAX_CFGS 64

struct fx {
    struct receiver ops;
    struct receiver team;
    struct config *cfgs[MAX_CFGS];
    size_t n_cfgs;
    struct metrics *m;
    struct alerts *a;
    _Atomic bool stop;
    _Atomic long reads;
};

static const char receiver_fmt[] = "    - name: %s\n"
                                   "      type: webhook\n"
                                   "      url: %s\n"
                                   "      group_wait: 0s\n"
                                   "      group_interval: %s\n"
                                   "      repeat_interval: 1h\n"
                                   "      backoff: {base: 10ms, cap: 100ms}\n";

/* Rules: ItHigh (fires) unless `without_high`; ItOther with threshold
 * `other`; "team" as a second receiver when `team`. */
static const struct config_alerts *
load(struct fx *f, bool without_high, int other, bool team)
{
    char yaml[4096], ops[512], tm[512] = "";
    struct deskdb_err err;
    struct config *cfg;

    snprintf(ops, sizeof(ops), receiver_fmt, "ops", f->ops.url, "1s");
    if (team)
        snprintf(tm, sizeof(tm), receiver_fmt, "team", f->team.url, "2s");
    snprintf(yaml,
             sizeof(yaml),
             "alerts:\n"
             "  evaluation_interval: %s\n"
             "  receivers:\n%s%s"
             "  rules:\n"
             "%s"
             "    - name: ItOther\n"
             "      expr: it_value > %d\n"
             "      for: 1h\n",
             team ? "1s" : "2s",
             ops,
             tm,
             without_high ? ""
                          : "    - name: ItHigh\n"
                            "      expr: it_value > 5\n"
                            "      labels: {severity: critical}\n",
             other);
    cfg = config_load_buffer("it.yaml", yaml, strlen(yaml), &err);
    if (cfg == NULL)
        fail_msg("%s", err.msg);
    assert_int_equal(alerts_validate_config(cfg, &err), DESKDB_OK);
    assert_true(f->n_cfgs < MAX_CFGS);
    f->cfgs[f->n_cfgs++] = cfg;
    return cfg->alerts;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    alerts_global_init();
    receiver_start(&f->ops);
    receiver_start(&f->team);
    f->m = metrics_create();
    metric_set(metrics_gauge(f->m, "it_value", "The value the rules read."), 7);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    size_t i;

    alerts_destroy(f->a);
    receiver_stop(&f->ops);
    receiver_stop(&f->team);
    metrics_destroy(f->m);
    for (i = 0; i < f->n_cfgs; i++)
        config_destroy(f->cfgs[i]);
    free(f);
    return 0;
}

/* /api/alerts as often as it answers, while reloads go on. */
static void *
reader_main(void *arg)
{
    struct fx *f = arg;
    struct buf out;

    while (!atomic_load(&f->stop)) {
        buf_init(&out, 1 << 20);
        if (alerts_json(f->a, &out) != DESKDB_OK ||
            strstr(out.data, "\"receivers\":[") == NULL)
            fail_msg("alerts_json failed during a reload");
        buf_fini(&out);
        atomic_fetch_add(&f->reads, 1);
    }
    return NULL;
}

static bool
series_present(struct metrics *m, const char *family, const char *l0)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *fam =
        metrics_snapshot_find(snap, family);
    bool found = false;
    size_t i;

    for (i = 0; fam != NULL && i < fam->n_samples; i++)
        found = found || strcmp(fam->samples[i].label_values[0], l0) == 0;
    metrics_snapshot_destroy(snap);
    return found;
}

/* The notification's status, and its group's alertname into `name`. */
static const char *
status_of(const struct receiver_request *q, char *name, size_t cap)
{
    json_t *j = json_loads(q->body, 0, NULL);
    static char status[32];

    assert_non_null(j);
    snprintf(status,
             sizeof(status),
             "%s",
             json_string_value(json_object_get(j, "status")));
    snprintf(
        name,
        cap,
        "%s",
        json_string_value(
            json_object_get(json_object_get(j, "groupLabels"), "alertname")));
    json_decref(j);
    return status;
}

static void
test_reloads_under_load(void **state)
{
    struct fx *f = *state;
    struct timespec ts = {0, 30 * 1000000};
    struct deskdb_err err;
    pthread_t reader;
    char name[64];
    int i;

    f->a =
        alerts_create(load(f, false, 100, false), f->m, NULL, NULL, NULL, &err);
    assert_non_null(f->a);
    assert_int_equal(alerts_start(f->a, &err), DESKDB_OK);
    assert_int_equal(receiver_wait(&f->ops, 1, 10000), 1);
    assert_string_equal(status_of(&f->ops.req[0], name, sizeof(name)),
                        "firing");
    assert_string_equal(name, "ItHigh");

    assert_int_equal(pthread_create(&reader, NULL, reader_main, f), 0);
    /* ItHigh unchanged throughout; ItOther and "team" come and go. */
    for (i = 0; i < 24; i++) {
        assert_int_equal(
            alerts_reload(f->a, load(f, false, 100 + i, i % 2 == 0), &err),
            DESKDB_OK);
        alerts_evaluate_now(f->a);
        nanosleep(&ts, NULL);
    }
    assert_true(receiver_wait(&f->team, 1, 10000) >= 1);
    /* Past ops' group_interval: still the one notification. */
    ts.tv_sec = 1;
    ts.tv_nsec = 500 * 1000000;
    nanosleep(&ts, NULL);
    assert_int_equal(receiver_count(&f->ops), 1);
    assert_true(series_present(f->m, "deskdb_alert_firing", "ItHigh"));

    /* ItHigh removed: the receiver hears it resolved, the series goes. */
    assert_int_equal(alerts_reload(f->a, load(f, true, 100, false), &err),
                     DESKDB_OK);
    assert_int_equal(receiver_wait(&f->ops, 2, 10000), 2);
    assert_string_equal(status_of(&f->ops.req[1], name, sizeof(name)),
                        "resolved");
    assert_string_equal(name, "ItHigh");
    assert_false(series_present(f->m, "deskdb_alert_firing", "ItHigh"));
    atomic_store(&f->stop, true);
    assert_int_equal(pthread_join(reader, NULL), 0);
    assert_true(atomic_load(&f->reads) > 0);
    alerts_stop(f->a, 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reloads_under_load,
                                        setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

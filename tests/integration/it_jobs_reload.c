/* SPDX-License-Identifier: MIT */
/* Integration tests of scheduler_reload() against PostgreSQL: jobs added,
 * removed and changed with a manual clock, runs in flight across a
 * reload, and reloads racing the loop, the workers and /api/jobs.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/clock.h"
#include "jobs/jobdef.h"
#include "jobs/scheduler.h"
#include "support/jobstest.h"
#include "support/testsupport.h"

#define MINUTELY(name)              \
    "    - name: " name "\n"        \
    "      schedule: '* * * * *'\n" \
    "      type: sql\n"             \
    "      sql: SELECT 1\n"

static struct config *
config_or_fail(const struct jobstest *t, const char *yaml)
{
    struct deskdb_err err;
    struct config *cfg = jobstest_config(t, yaml, 4, &err);

    if (cfg == NULL)
        fail_msg("config: %s", err.msg);
    return cfg;
}

static void
reload_or_fail(struct scheduler *s, const struct config *cfg)
{
    struct deskdb_err err;

    if (scheduler_reload(s, cfg, &err) != 0)
        fail_msg("scheduler_reload: %s", err.msg);
}

/* /api/jobs, parsed. */
static json_t *
jobs_doc(struct scheduler *s)
{
    struct buf b;
    json_error_t jerr;
    json_t *doc;

    buf_init(&b, 1 << 20);
    assert_int_equal(scheduler_json(s, &b), 0);
    doc = json_loads(b.data, 0, &jerr);
    buf_fini(&b);
    assert_non_null(doc);
    return doc;
}

/* The job named `name` in /api/jobs, or NULL. */
static json_t *
doc_job(json_t *doc, const char *name)
{
    json_t *jobs = json_object_get(doc, "jobs"), *j;
    size_t i;

    json_array_foreach(jobs, i, j)
    {
        if (strcmp(json_string_value(json_object_get(j, "name")), name) == 0)
            return j;
    }
    return NULL;
}

/* The next_run of `name` must be `at` (epoch seconds). */
static void
assert_next_run(json_t *doc, const char *name, int64_t at)
{
    char want[JOBS_TIME_MAX];
    json_t *j = doc_job(doc, name);

    if (j == NULL)
        fail_msg("job %s not in /api/jobs", name);
    assert_string_equal(json_string_value(json_object_get(j, "next_run")),
                        jobs_format_utc(at * 1000000, want));
}

/* A scheduler over t's configuration driven by a manual clock. */
static void
use_manual_clock(struct jobstest *t, struct clock_manual *m)
{
    struct clock c = clock_manual_make(m);
    struct deskdb_err err;

    scheduler_destroy(t->sched);
    t->sched =
        scheduler_create(t->cfg, t->pool, t->metrics, &c, t->db.dsn, &err);
    if (t->sched == NULL)
        fail_msg("scheduler: %s", err.msg);
}

static void
tick(struct jobstest *t, struct clock_manual *m, int64_t at_s)
{
    m->real_ns = at_s * NS_PER_SEC;
    m->mono_ns += NS_PER_SEC;
    scheduler_tick(t->sched, m->real_ns);
}

/*
 * Added, removed and changed jobs with a manual clock (no worker runs
 * anything: started runs stay in flight).  A changed schedule counts from
 * the reload, an unchanged one keeps its next fire time, an added job
 * does not catch up, a removed job leaves /api/jobs and /metrics, and a
 * forbid job with a run in flight is not started again after a reload
 * that changed its SQL.
 */
static void
test_reload_set(void **state)
{
    static const char first[] =
        "  leader: {mode: none}\n"
        "  definitions:\n" MINUTELY("keep") MINUTELY("move") MINUTELY("gone");
    static const char second[] =
        "  leader: {mode: none}\n"
        "  definitions:\n" MINUTELY("keep") "    - name: move\n"
                                            "      schedule: '*/5 * * * *'\n"
                                            "      type: sql\n"
                                            "      sql: SELECT 1\n" MINUTELY(
                                                "fresh");
    static const char third[] = "  leader: {mode: none}\n"
                                "  definitions:\n"
                                "    - name: keep\n"
                                "      schedule: '* * * * *'\n"
                                "      type: sql\n"
                                "      timeout: 5s\n"
                                "      sql: SELECT 2\n"
                                "    - name: move\n"
                                "      schedule: '*/5 * * * *'\n"
                                "      type: sql\n"
                                "      sql: SELECT 1\n" MINUTELY("fresh");
    static const char bad[] = "  leader: {mode: none}\n"
                              "  definitions:\n"
                              "    - name: broken\n"
                              "      schedule: '61 * * * *'\n"
                              "      type: sql\n"
                              "      sql: SELECT 1\n";
    struct clock_manual m = {.mono_ns = NS_PER_SEC};
    struct config *cfg2, *cfg3, *cfg_bad;
    struct deskdb_err err;
    struct jobstest t;
    int64_t t0 = (time(NULL) / 300) * 300 + 5;
    json_t *doc;

    (void)state;
    jobstest_setup(&t, "deskdb_reload", NULL, first, 4);
    use_manual_clock(&t, &m);
    cfg2 = config_or_fail(&t, second);
    cfg3 = config_or_fail(&t, third);
    cfg_bad = config_or_fail(&t, bad);

    tick(&t, &m, t0); /* takes the lead: every job starts fresh at t0 */
    assert_int_equal(scheduler_in_flight(t.sched), 0);
    assert_true(
        jt_metric(&t, "deskdb_job_next_run_timestamp_seconds", "gone", NULL) ==
        (double)(t0 + 55));

    /* 70 s later, without a tick in between: keep's 12:01 is still due,
     * fresh's is not (it did not exist), move counts from now. */
    m.real_ns = (t0 + 70) * NS_PER_SEC;
    reload_or_fail(t.sched, cfg2);
    doc = jobs_doc(t.sched);
    assert_int_equal(json_array_size(json_object_get(doc, "jobs")), 3);
    assert_null(doc_job(doc, "gone"));
    assert_next_run(doc, "keep", t0 + 55);
    assert_next_run(doc, "move", t0 - 5 + 300);
    assert_next_run(doc, "fresh", t0 + 115);
    assert_string_equal(
        json_string_value(json_object_get(doc_job(doc, "move"), "schedule")),
        "*/5 * * * *");
    json_decref(doc);
    assert_true(
        jt_metric(&t, "deskdb_job_next_run_timestamp_seconds", "gone", NULL) ==
        -1);
    assert_true(jt_metric(&t, "deskdb_job_skipped_total", "gone", "overlap") ==
                -1);
    assert_int_equal(scheduler_next_fire(t.sched, "gone", t0), INT64_MAX);

    tick(&t, &m, t0 + 70);
    assert_int_equal(scheduler_in_flight(t.sched), 1); /* keep, on time */
    assert_true(
        jt_metric(&t, "deskdb_job_next_run_timestamp_seconds", "fresh", NULL) ==
        (double)(t0 + 115));
    tick(&t, &m, t0 + 116);
    assert_int_equal(scheduler_in_flight(t.sched), 2); /* + fresh */
    assert_true(jt_metric(&t, "deskdb_job_skipped_total", "keep", "overlap") ==
                1);

    /* keep changes (SQL, timeout, not the schedule) with its run in
     * flight: forbid still sees it, and the next fire time is kept. */
    m.real_ns = (t0 + 120) * NS_PER_SEC;
    reload_or_fail(t.sched, cfg3);
    doc = jobs_doc(t.sched);
    assert_next_run(doc, "keep", t0 + 175);
    json_decref(doc);
    tick(&t, &m, t0 + 176);
    assert_int_equal(scheduler_in_flight(t.sched), 2);
    assert_true(jt_metric(&t, "deskdb_job_skipped_total", "keep", "overlap") ==
                2);
    assert_true(jt_metric(&t, "deskdb_job_skipped_total", "fresh", "overlap") ==
                1);

    /* A definition that does not compile changes nothing. */
    assert_int_equal(scheduler_reload(t.sched, cfg_bad, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "broken"));
    doc = jobs_doc(t.sched);
    assert_int_equal(json_array_size(json_object_get(doc, "jobs")), 3);
    assert_null(doc_job(doc, "broken"));
    json_decref(doc);
    tick(&t, &m, t0 + 236);
    assert_true(jt_metric(&t, "deskdb_job_skipped_total", "keep", "overlap") ==
                3);

    jobstest_teardown(&t);
    config_destroy(cfg2);
    config_destroy(cfg3);
    config_destroy(cfg_bad);
}

static const char marks_sql[] =
    "CREATE TABLE it_marks (tag text, run_id bigint,"
    " at timestamptz DEFAULT clock_timestamp());";

#define SLOW(tag)                                                         \
    "    - name: slow\n"                                                  \
    "      schedule: '@every 1s'\n"                                       \
    "      type: sql\n"                                                   \
    "      sql: >-\n"                                                     \
    "        WITH m AS (INSERT INTO it_marks (tag, run_id) VALUES ('" tag \
    "', ${run.id}::bigint)) SELECT pg_sleep(2)\n"

/*
 * Real runs: a reload while `slow` (forbid) and `doomed` run.  slow's run
 * finishes with its old SQL and the next one uses the new SQL, never
 * overlapping; doomed's run finishes and is recorded, and it never fires
 * again; an added job runs; a raised max_concurrent is used.
 */
static void
test_reload_in_flight(void **state)
{
    static const char first[] =
        "  leader: {mode: none}\n"
        "  max_concurrent: 2\n"
        "  definitions:\n" SLOW("v1") "    - name: doomed\n"
                                      "      schedule: '@every 1s'\n"
                                      "      type: sql\n"
                                      "      sql: SELECT pg_sleep(2)\n";
    static const char second[] =
        "  leader: {mode: none}\n"
        "  max_concurrent: 3\n"
        "  definitions:\n" SLOW("v2") "    - name: fresh\n"
                                      "      schedule: '@every 1s'\n"
                                      "      type: sql\n"
                                      "      sql: SELECT 1\n";
    struct config *cfg2;
    struct deskdb_err err;
    struct scheduler_run_info info;
    struct jobstest t;
    long long doomed;
    json_t *doc;

    (void)state;
    jobstest_setup(&t, "deskdb_reload_run", marks_sql, first, 6);
    cfg2 = config_or_fail(&t, second);
    assert_int_equal(scheduler_start(t.sched, &err), 0);
    assert_int_equal(jt_wait_int(&t,
                                 2,
                                 10000,
                                 "SELECT count(DISTINCT job) FROM"
                                 " deskdb.job_runs WHERE status ="
                                 " 'running'"),
                     2);
    reload_or_fail(t.sched, cfg2);
    doomed = jt_int(&t,
                    "SELECT count(*) FROM deskdb.job_runs WHERE job ="
                    " 'doomed'");
    assert_true(doomed >= 1);
    assert_int_equal(scheduler_last_run(t.sched, "doomed", &info),
                     DESKDB_ENOTFOUND);
    assert_true(jt_metric(&t, "deskdb_job_running", "doomed", NULL) == -1);
    doc = jobs_doc(t.sched);
    assert_null(doc_job(doc, "doomed"));
    assert_non_null(doc_job(doc, "fresh"));
    json_decref(doc);

    /* slow's next run uses the new SQL; by then doomed's has finished. */
    assert_true(jt_wait_int(&t,
                            1,
                            10000,
                            "SELECT count(*) FROM it_marks WHERE tag ="
                            " 'v2'") >= 1);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE job"
                            " = 'doomed' AND status <> 'succeeded'"),
                     0);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE job"
                            " = 'doomed'"),
                     doomed);
    assert_true(jt_wait_int(&t,
                            2,
                            5000,
                            "SELECT count(*) FROM deskdb.job_runs WHERE job"
                            " = 'fresh' AND status = 'succeeded'") >= 2);
    assert_int_equal(scheduler_stop(t.sched, 5000), 0);
    /* The run in flight at the reload kept v1; none after it did. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_marks v1 JOIN it_marks"
                            " v2 ON v1.tag = 'v1' AND v2.tag = 'v2' AND"
                            " v1.at > v2.at"),
                     0);
    assert_true(jt_int(&t, "SELECT count(*) FROM it_marks WHERE tag = 'v1'") >=
                1);
    /* forbid across the reload: no two runs of slow overlap. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs a JOIN"
                            " deskdb.job_runs b ON a.job = b.job AND"
                            " a.id < b.id AND b.started_at < a.finished_at"
                            " WHERE a.job = 'slow'"),
                     0);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " status = 'running'"),
                     0);
    jobstest_teardown(&t);
    config_destroy(cfg2);
}

struct reader {
    struct scheduler *sched;
    atomic_bool stop;
    int reads;
};

static void *
read_jobs(void *arg)
{
    struct reader *r = arg;
    struct scheduler_run_info info;
    struct buf b;

    buf_init(&b, 1 << 20);
    while (!atomic_load(&r->stop)) {
        buf_reset(&b);
        assert_int_equal(scheduler_json(r->sched, &b), 0);
        (void)scheduler_last_run(r->sched, "a", &info);
        (void)scheduler_next_fire(r->sched, "b", 0);
        r->reads++;
    }
    buf_fini(&b);
    return NULL;
}

/* Reloads back and forth while the loop plans, workers run and /api/jobs
 * is read (for TSan): every run is recorded once, none is left running. */
static void
test_reload_races(void **state)
{
    static const char one[] = "  leader: {mode: none}\n"
                              "  definitions:\n"
                              "    - name: a\n"
                              "      schedule: '@every 1s'\n"
                              "      type: sql\n"
                              "      sql: SELECT pg_sleep(0.3)\n";
    static const char two[] = "  leader: {mode: none}\n"
                              "  max_concurrent: 1\n"
                              "  definitions:\n"
                              "    - name: a\n"
                              "      schedule: '@every 2s'\n"
                              "      type: sql\n"
                              "      concurrency: allow\n"
                              "      sql: SELECT 1\n"
                              "    - name: b\n"
                              "      schedule: '@every 1s'\n"
                              "      type: sql\n"
                              "      sql: SELECT pg_sleep(0.2)\n";
    struct config *cfg[2];
    struct deskdb_err err;
    struct reader r = {0};
    struct jobstest t;
    pthread_t th;

    (void)state;
    jobstest_setup(&t, "deskdb_reload_race", NULL, one, 6);
    cfg[0] = config_or_fail(&t, one);
    cfg[1] = config_or_fail(&t, two);
    r.sched = t.sched;
    assert_int_equal(scheduler_start(t.sched, &err), 0);
    assert_int_equal(pthread_create(&th, NULL, read_jobs, &r), 0);
    for (int i = 0; i < 30; i++) {
        reload_or_fail(t.sched, cfg[i % 2]);
        jt_sleep_ms(100);
    }
    atomic_store(&r.stop, true);
    pthread_join(th, NULL);
    assert_true(r.reads > 0);
    assert_true(jt_int(&t,
                       "SELECT count(*) FROM deskdb.job_runs WHERE job ="
                       " 'a'") >= 1);
    assert_int_equal(scheduler_stop(t.sched, 5000), 0);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " status NOT IN ('succeeded')"),
                     0);
    assert_int_equal(scheduler_in_flight(t.sched), 0);
    jobstest_teardown(&t);
    config_destroy(cfg[0]);
    config_destroy(cfg[1]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_set),
        cmocka_unit_test(test_reload_in_flight),
        cmocka_unit_test(test_reload_races),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Integration tests of the running scheduler against PostgreSQL: fire
 * times run once each, advisory-lock leadership and take-over, replace
 * and forbid, catch-up after downtime, interrupted runs, history pruning,
 * manual ticks, metrics and /api/jobs.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/pool.h"
#include "jobs/history.h"
#include "jobs/scheduler.h"
#include "support/jobstest.h"
#include "support/testsupport.h"

static const char setup_sql[] =
    "CREATE TABLE it_ticks (sched timestamptz, run_id bigint,"
    " at timestamptz DEFAULT clock_timestamp());";

#define EVERY_SECOND_JOB                                    \
    "    - name: tick\n"                                    \
    "      schedule: '@every 1s'\n"                         \
    "      type: sql\n"                                     \
    "      sql: >-\n"                                       \
    "        INSERT INTO it_ticks (sched, run_id) VALUES\n" \
    "        (${run.scheduled_for}::timestamptz, ${run.id}::bigint)\n"

static const char none_yaml[] = "  leader: {mode: none}\n"
                                "  definitions:\n" EVERY_SECOND_JOB;

static const char lock_yaml[] = "  leader: {mode: advisory_lock, key: 4242}\n"
                                "  definitions:\n" EVERY_SECOND_JOB;

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static void
start(struct jobstest *t)
{
    struct deskdb_err err;

    if (scheduler_start(t->sched, &err) != 0)
        fail_msg("scheduler_start: %s", err.msg);
}

/* Every fire time of `job` is recorded once and ran once. */
static void
assert_exactly_once(const struct jobstest *t)
{
    assert_int_equal(jt_int(t,
                            "SELECT count(*) - count(DISTINCT sched)"
                            " FROM it_ticks"),
                     0);
    assert_int_equal(jt_int(t,
                            "SELECT count(*) FROM it_ticks k JOIN"
                            " deskdb.job_runs r ON r.id = k.run_id AND"
                            " r.scheduled_for = k.sched"),
                     jt_int(t, "SELECT count(*) FROM it_ticks"));
    assert_int_equal(jt_int(t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " job = 'tick' AND status NOT IN"
                            " ('succeeded', 'running')"),
                     0);
}

static void
test_every_second(void **state)
{
    struct jobstest t;
    struct buf b;
    json_t *doc, *job;
    json_error_t jerr;
    long long n;

    (void)state;
    jobstest_setup(&t, "deskdb_sched", setup_sql, none_yaml, 4);
    start(&t);
    n = jt_wait_int(&t, 4, 8000, "SELECT count(*) FROM it_ticks");
    assert_true(n >= 4);
    assert_true(scheduler_is_leader(t.sched));
    assert_int_equal(scheduler_stop(t.sched, 5000), 0);
    assert_exactly_once(&t);
    /* On time: whole seconds, each started within a second of it. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_ticks WHERE"
                            " sched <> date_trunc('second', sched)"
                            " OR at - sched > interval '2 seconds'"),
                     0);
    assert_true(jt_metric(&t, "deskdb_job_runs_total", "tick", NULL) >= 4);
    assert_true(jt_metric(&t,
                          "deskdb_job_last_success_timestamp_seconds",
                          "tick",
                          NULL) > 1.7e9);
    assert_int_equal(jt_metric(&t, "deskdb_job_failures_total", "tick", NULL),
                     0);

    buf_init(&b, 1 << 20);
    assert_int_equal(scheduler_json(t.sched, &b), 0);
    doc = json_loads(b.data, 0, &jerr);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "leader_mode")),
                        "none");
    job = json_array_get(json_object_get(doc, "jobs"), 0);
    assert_string_equal(json_string_value(json_object_get(job, "name")),
                        "tick");
    assert_string_equal(json_string_value(json_object_get(job, "schedule")),
                        "@every 1s");
    assert_string_equal(
        json_string_value(
            json_object_get(json_object_get(job, "last_run"), "status")),
        "succeeded");
    assert_true(json_is_string(json_object_get(job, "last_success")));
    json_decref(doc);
    buf_fini(&b);
    jobstest_teardown(&t);
}

/* Lock sessions of this database, and those inside a transaction. */
static long long
leader_sessions(const struct jobstest *t, bool in_transaction)
{
    return jt_int(t,
                  "SELECT count(*) FROM pg_stat_activity WHERE"
                  " application_name = 'deskdb-leader' AND datname ="
                  " current_database()%s",
                  in_transaction ? " AND state LIKE 'idle in transaction%'"
                                 : "");
}

/* Two instances on one database: one schedules, every fire time runs
 * once, and when the leader goes the other takes over within seconds. */
static void
test_leadership(void **state)
{
    struct jobstest a, b;
    struct jobstest *leader, *follower;
    long long before, after;
    int waited = 0;

    (void)state;
    jobstest_setup(&a, "deskdb_lead", setup_sql, lock_yaml, 4);
    jobstest_second(&a, lock_yaml, &b);
    start(&a);
    start(&b);
    jt_wait_int(&a, 4, 10000, "SELECT count(*) FROM it_ticks");
    assert_true(scheduler_is_leader(a.sched) != scheduler_is_leader(b.sched));
    leader = scheduler_is_leader(a.sched) ? &a : &b;
    follower = leader == &a ? &b : &a;
    assert_true(jt_metric(leader, "deskdb_job_runs_total", "tick", NULL) >= 3);
    assert_true(jt_metric(follower, "deskdb_job_runs_total", "tick", NULL) <=
                0);
    assert_true(jt_metric(follower, "deskdb_scheduler_leader", NULL, NULL) <=
                0);
    /* Two lock sessions, never inside a transaction. */
    for (int i = 0; i < 10; i++) {
        assert_int_equal(leader_sessions(&a, false), 2);
        assert_int_equal(leader_sessions(&a, true), 0);
        jt_sleep_ms(50);
    }

    /* The leader stops: the follower takes over. */
    assert_int_equal(scheduler_stop(leader->sched, 5000), 0);
    before = jt_int(&a, "SELECT count(*) FROM it_ticks");
    while (!scheduler_is_leader(follower->sched) && waited < 6000) {
        jt_sleep_ms(100);
        waited += 100;
    }
    assert_true(scheduler_is_leader(follower->sched));
    assert_true(waited <= 4000);
    after = jt_wait_int(&a, before + 2, 6000, "SELECT count(*) FROM it_ticks");
    assert_true(after >= before + 2);
    assert_true(jt_metric(follower, "deskdb_job_runs_total", "tick", NULL) >=
                2);
    assert_int_equal(scheduler_stop(follower->sched, 5000), 0);
    assert_exactly_once(&a);
    jobstest_free_extra(&b);
    jobstest_teardown(&a);
}

/* replace cancels the run in progress and starts the new one after it;
 * forbid skips while one runs. */
static void
test_replace_and_forbid(void **state)
{
    static const char yaml[] = "  leader: {mode: none}\n"
                               "  definitions:\n"
                               "    - name: slow-replace\n"
                               "      schedule: '@every 2s'\n"
                               "      type: sql\n"
                               "      concurrency: replace\n"
                               "      sql: SELECT pg_sleep(30)\n"
                               "    - name: slow-forbid\n"
                               "      schedule: '@every 1s'\n"
                               "      type: sql\n"
                               "      sql: SELECT pg_sleep(2.5)\n";
    struct jobstest t;
    char *err;

    (void)state;
    jobstest_setup(&t, "deskdb_repl", NULL, yaml, 6);
    start(&t);
    assert_true(jt_wait_int(&t,
                            2,
                            10000,
                            "SELECT count(*) FROM deskdb.job_runs WHERE job ="
                            " 'slow-replace' AND status = 'cancelled'") >= 2);
    assert_true(jt_int(&t,
                       "SELECT count(*) FROM deskdb.job_runs WHERE"
                       " status = 'running' AND job = 'slow-replace'") <= 1);
    err = jt_text(&t,
                  "SELECT error FROM deskdb.job_runs WHERE job ="
                  " 'slow-replace' AND status = 'cancelled' LIMIT 1");
    assert_contains(err, "canceling statement due to user request");
    free(err);
    assert_int_equal(scheduler_stop(t.sched, 0), DESKDB_OK);
    /* Cancelled at stop: nothing left running, in the table or server. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " status = 'running'"),
                     0);
    assert_true(
        jt_metric(&t, "deskdb_job_skipped_total", "slow-forbid", "overlap") >=
        2);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs a JOIN"
                            " deskdb.job_runs b ON a.job = b.job AND"
                            " a.id < b.id AND b.started_at < a.finished_at"
                            " WHERE a.job = 'slow-forbid'"),
                     0);
    jobstest_teardown(&t);
}

/* Down for two hours: run_once runs the latest missed fire time once, as
 * a catch-up; skip runs nothing.  Also: a dead instance's running row is
 * marked interrupted when scheduling starts. */
static void
test_misfire_and_interrupted(void **state)
{
    struct jobstest t;
    char yaml[1024], *s;
    time_t now = time(NULL);
    int minute = (int)((now / 60 + 50) % 60); /* fired 10 minutes ago */

    (void)state;
    snprintf(yaml,
             sizeof(yaml),
             "  leader: {mode: none}\n"
             "  definitions:\n"
             "    - name: once\n"
             "      schedule: '%d * * * *'\n"
             "      type: sql\n"
             "      sql: SELECT 1\n"
             "    - name: skipper\n"
             "      schedule: '%d * * * *'\n"
             "      type: sql\n"
             "      misfire: skip\n"
             "      sql: SELECT 1\n",
             minute,
             minute);
    jobstest_setup(&t, "deskdb_misfire", NULL, yaml, 4);
    jt_exec(&t,
            "INSERT INTO deskdb.job_runs (job, scheduled_for, status,"
            " instance, finished_at) SELECT j, date_trunc('minute', now())"
            " - interval '10 minutes' - interval '2 hours', 'succeeded',"
            " 'old:1', now() - interval '2 hours' FROM unnest(ARRAY['once',"
            " 'skipper']) j;"
            "INSERT INTO deskdb.job_runs (job, scheduled_for, status,"
            " instance, backend_pid) VALUES ('gone', now(), 'running',"
            " 'dead:1', 2147483647)");
    start(&t);
    assert_int_equal(jt_wait_int(&t,
                                 1,
                                 8000,
                                 "SELECT count(*) FROM deskdb.job_runs WHERE"
                                 " job = 'once' AND trigger = 'catchup'"),
                     1);
    s = jt_text(&t,
                "SELECT status || '/' || (scheduled_for ="
                " date_trunc('minute', now()) - interval '10 minutes')"
                " FROM deskdb.job_runs WHERE trigger = 'catchup'");
    /* (A minute boundary may pass between; the status is what counts.) */
    assert_true(strncmp(s, "succeeded/", 10) == 0);
    free(s);
    s = jt_text(&t, "SELECT status FROM deskdb.job_runs WHERE job = 'gone'");
    assert_string_equal(s, "interrupted");
    free(s);
    assert_int_equal(scheduler_stop(t.sched, 5000), 0);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " job = 'skipper'"),
                     1);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_skipped_total", "skipper", "misfire"),
        2);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_skipped_total", "once", "misfire"),
        1);
    jobstest_teardown(&t);
}

/* The planner driven by hand: no thread, a manual wall clock. */
static void
test_manual_ticks(void **state)
{
    struct jobstest t;
    int64_t t0 = (time(NULL) / 60) * 60 * NS_PER_SEC + 5 * NS_PER_SEC;
    static const char yaml[] = "  leader: {mode: none}\n"
                               "  definitions:\n"
                               "    - name: minutely\n"
                               "      schedule: '* * * * *'\n"
                               "      type: sql\n"
                               "      sql: SELECT 1\n";

    (void)state;
    jobstest_setup(&t, "deskdb_tick", NULL, yaml, 2);
    scheduler_tick(t.sched, t0);
    assert_int_equal(scheduler_in_flight(t.sched), 0);
    scheduler_tick(t.sched, t0 + 30 * NS_PER_SEC);
    assert_int_equal(scheduler_in_flight(t.sched), 0);
    scheduler_tick(t.sched, t0 + 56 * NS_PER_SEC);
    assert_int_equal(scheduler_in_flight(t.sched), 1);
    /* forbid: the next minute is skipped while that one waits. */
    scheduler_tick(t.sched, t0 + 116 * NS_PER_SEC);
    assert_int_equal(scheduler_in_flight(t.sched), 1);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_skipped_total", "minutely", "overlap"),
        1);
    assert_true(jt_metric(&t,
                          "deskdb_job_next_run_timestamp_seconds",
                          "minutely",
                          NULL) == (double)(t0 / NS_PER_SEC - 5 + 180));
    jobstest_teardown(&t);
}

/* A lost lock connection stops scheduling at once; the lock is taken
 * again on a new connection. */
static void
test_lost_lock_connection(void **state)
{
    struct jobstest t;

    (void)state;
    jobstest_setup(&t, "deskdb_lost", setup_sql, lock_yaml, 2);
    scheduler_tick(t.sched, clock_realtime_ns());
    assert_true(scheduler_is_leader(t.sched));
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM (SELECT"
                            " pg_terminate_backend(pid) FROM"
                            " pg_stat_activity WHERE application_name ="
                            " 'deskdb-leader' AND datname ="
                            " current_database()) k"),
                     1);
    jt_sleep_ms(1100);
    scheduler_tick(t.sched, clock_realtime_ns());
    assert_false(scheduler_is_leader(t.sched));
    assert_int_equal(scheduler_in_flight(t.sched), 0);
    assert_true(jt_metric(&t, "deskdb_scheduler_leader", NULL, NULL) == 0);
    jt_sleep_ms(1100);
    scheduler_tick(t.sched, clock_realtime_ns());
    assert_true(scheduler_is_leader(t.sched));
    jobstest_teardown(&t);
}

static void
test_history_prune(void **state)
{
    struct jobstest t;
    struct pool_conn *c;
    struct deskdb_err err;
    int64_t deleted, keep[1];
    int marked;

    (void)state;
    jobstest_setup(&t,
                   "deskdb_prune",
                   NULL,
                   "  leader: {mode: none}\n  definitions: []\n",
                   2);
    jt_exec(&t,
            "INSERT INTO deskdb.job_runs (job, scheduled_for, started_at,"
            " finished_at, status, instance) SELECT 'old', now() - g *"
            " interval '1 minute' - interval '20 days', now() - g * interval"
            " '1 minute' - interval '20 days', now() - interval '20 days',"
            " 'succeeded', 'x:1' FROM generate_series(0, 2499) g;"
            "INSERT INTO deskdb.job_runs (job, scheduled_for, started_at,"
            " status, instance) VALUES ('old', now() - interval '30 days',"
            " now() - interval '30 days', 'running', 'x:1'),"
            " ('new', now(), now(), 'succeeded', 'x:1')");
    assert_int_equal(pool_acquire(t.pool, &c, &err), 0);
    assert_int_equal(history_prune(c, 14 * 86400000LL, &deleted, &err), 0);
    assert_int_equal(deleted, HISTORY_PRUNE_BATCH);
    assert_int_equal(history_prune(c, 14 * 86400000LL, &deleted, &err), 0);
    assert_int_equal(deleted, HISTORY_PRUNE_BATCH);
    assert_int_equal(history_prune(c, 14 * 86400000LL, &deleted, &err), 0);
    assert_int_equal(deleted, 499);
    assert_int_equal(history_prune(c, 14 * 86400000LL, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    /* Kept: the latest scheduled run of 'old' (missed-run detection reads
     * it), the running one, and everything recent. */
    assert_int_equal(jt_int(&t, "SELECT count(*) FROM deskdb.job_runs"), 3);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM deskdb.job_runs WHERE"
                            " job = 'old' AND status = 'succeeded' AND"
                            " scheduled_for > now() - interval '21"
                            " days'"),
                     1);

    /* Interrupted: a running row whose backend is gone, unless it is one
     * of ours. */
    keep[0] = jt_int(&t,
                     "SELECT id FROM deskdb.job_runs WHERE status ="
                     " 'running'");
    assert_int_equal(history_reconcile(c, keep, 1, &marked, &err), 0);
    assert_int_equal(marked, 0);
    assert_int_equal(history_reconcile(c, NULL, 0, &marked, &err), 0);
    assert_int_equal(marked, 1);
    pool_release(t.pool, c);
    jobstest_teardown(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_second),
        cmocka_unit_test(test_leadership),
        cmocka_unit_test(test_replace_and_forbid),
        cmocka_unit_test(test_misfire_and_interrupted),
        cmocka_unit_test(test_manual_ticks),
        cmocka_unit_test(test_lost_lock_connection),
        cmocka_unit_test(test_history_prune),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

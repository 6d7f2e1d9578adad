/* SPDX-License-Identifier: MIT */
/* Unit tests for the scheduler's planner, driven by a simulated clock:
 * late and early ticks, concurrency and misfire policies, jitter, @every,
 * and DST days in America/New_York and Australia/Lord_Howe. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/crontest.h"

#include "jobs/civil.h"
#include "jobs/cron.h"
#include "jobs/plan.h"
#include "jobs/tz.h"

#define MAX_ACTIONS 8192
#define MAX_RUNS    64

/* One simulated job: the planner's state, what it decided, and the runs
 * it started (each lasting `duration` seconds unless cancelled). */
struct sim {
    struct plan_job j;
    struct config_job cfg;
    struct tz *tz;
    int64_t duration;
    int64_t cancel_delay; /* replace: a cancelled run ends this much later */
    struct plan_action acts[MAX_ACTIONS];
    size_t n_acts;
    int64_t run_end[MAX_RUNS]; /* running runs: when they end */
    int n_running;
    int max_running;
    int64_t now; /* seconds */
};

static uint64_t rand_value;

static uint64_t
fixed_rand(void *arg)
{
    (void)arg;
    return rand_value;
}

static void
on_action(void *arg, const struct plan_action *a)
{
    struct sim *s = arg;

    assert_true(s->n_acts < MAX_ACTIONS);
    s->acts[s->n_acts++] = *a;
    if (a->kind == PLAN_START) {
        assert_true(s->n_running < MAX_RUNS);
        s->run_end[s->n_running++] = s->now + s->duration;
        if (s->n_running > s->max_running)
            s->max_running = s->n_running;
    } else if (a->kind == PLAN_CANCEL_RUNNING) {
        for (int i = 0; i < s->n_running; i++) {
            if (s->run_end[i] > s->now + s->cancel_delay)
                s->run_end[i] = s->now + s->cancel_delay;
        }
    }
}

static void
sim_init(struct sim *s,
         const char *schedule,
         const char *zone,
         enum config_job_concurrency conc,
         enum config_job_misfire misfire)
{
    struct cron_expr e;
    struct deskdb_err err;
    int col;

    memset(s, 0, sizeof(*s));
    if (cron_parse(schedule, &e, &col, &err) != 0)
        fail_msg("%s: %s", schedule, err.msg);
    if (zone != NULL) {
        s->tz = tz_load_dir(TZ_DEFAULT_TZDIR, zone, &err);
        if (s->tz == NULL)
            fail_msg("%s: %s (install tzdata)", zone, err.msg);
    }
    s->cfg.enabled = true;
    s->cfg.concurrency = conc;
    s->cfg.max_instances = 1;
    s->cfg.misfire = misfire;
    s->cancel_delay = 1;
    plan_job_init(&s->j, &e, s->tz, &s->cfg);
}

static void
sim_fini(struct sim *s)
{
    tz_destroy(s->tz);
}

/* Finish the runs due by `now_ms`, then tick at `now_ms`. */
static void
sim_step_ms(struct sim *s, int64_t now_ms)
{
    int64_t now = now_ms / 1000;

    s->now = now;
    for (int i = 0; i < s->n_running;) {
        if (s->run_end[i] <= now) {
            s->run_end[i] = s->run_end[--s->n_running];
            plan_run_finished(&s->j, 0, now_ms, on_action, s);
            i = 0;
            continue;
        }
        i++;
    }
    plan_tick(&s->j, 0, now_ms, fixed_rand, NULL, on_action, s);
}

static void
sim_step(struct sim *s, int64_t now)
{
    sim_step_ms(s, now * 1000);
}

static void
sim_run(struct sim *s, int64_t from, int64_t to, int64_t step)
{
    for (int64_t t = from; t <= to; t += step)
        sim_step(s, t);
}

static size_t
count(const struct sim *s, enum plan_action_kind kind)
{
    size_t n = 0;

    for (size_t i = 0; i < s->n_acts; i++)
        n += s->acts[i].kind == kind;
    return n;
}

static uint64_t
skipped(const struct sim *s, enum plan_skip_reason reason)
{
    uint64_t n = 0;

    for (size_t i = 0; i < s->n_acts; i++) {
        if (s->acts[i].kind == PLAN_SKIP && s->acts[i].reason == reason)
            n += s->acts[i].count;
    }
    return n;
}

/* The i-th START. */
static const struct plan_action *
start_n(const struct sim *s, size_t n)
{
    for (size_t i = 0; i < s->n_acts; i++) {
        if (s->acts[i].kind == PLAN_START && n-- == 0)
            return &s->acts[i];
    }
    fail_msg("fewer starts than expected");
    return NULL;
}

/* ---- ticks ---------------------------------------------------------- */

static void
test_every_minute_once(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j, false, 0, t0);
    /* Uneven ticks: every 7 s for ten minutes. */
    sim_run(&s, t0, t0 + 605, 7);
    assert_int_equal(count(&s, PLAN_START), 10);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(start_n(&s, i)->scheduled_for, t0 + 60 * (i + 1));
        assert_int_equal(start_n(&s, i)->trigger, PLAN_TRIGGER_SCHEDULE);
    }
    assert_int_equal(count(&s, PLAN_SKIP), 0);
    sim_fini(&s);
}

/* A tick 70 s late still sees the minute it missed, once. */
static void
test_delayed_tick(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:30");

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_SKIP);
    plan_sync(&s.j, false, 0, t0);
    sim_step(&s, t0);
    sim_step(&s, t0 + 70); /* 12:01:40 */
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-06-01 12:01:00"));
    sim_step(&s, t0 + 71);
    sim_step(&s, t0 + 89);
    assert_int_equal(count(&s, PLAN_START), 1);
    sim_step(&s, t0 + 90); /* 12:02:00 */
    assert_int_equal(count(&s, PLAN_START), 2);
    /* A tick at hh:mm:59.999 belongs to that minute. */
    sim_step_ms(&s, (t0 + 149) * 1000 + 999);
    assert_int_equal(count(&s, PLAN_START), 2);
    sim_step(&s, t0 + 150);
    assert_int_equal(count(&s, PLAN_START), 3);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 0);
    sim_fini(&s);
}

/* Stepping the wall clock back never repeats a fire time; a step of more
 * than three hours re-bases the schedule at the new time. */
static void
test_clock_steps_back(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00"), seen;

    (void)state;
    sim_init(&s,
             "*/5 * * * *",
             NULL,
             CONFIG_CONCURRENCY_ALLOW,
             CONFIG_MISFIRE_RUN_ONCE);
    s.cfg.max_instances = 10;
    plan_job_init(&s.j, &s.j.expr, NULL, &s.cfg);
    plan_sync(&s.j, false, 0, t0);
    sim_run(&s, t0, t0 + 1800, 10);
    seen = (int64_t)count(&s, PLAN_START);
    assert_int_equal(seen, 6);
    /* Back ten minutes: the times between are not run again. */
    sim_run(&s, t0 + 1200, t0 + 1800, 10);
    assert_int_equal(count(&s, PLAN_START), 6);
    sim_step(&s, t0 + 2100);
    assert_int_equal(count(&s, PLAN_START), 7);
    assert_int_equal(start_n(&s, 6)->scheduled_for, t0 + 2100);
    for (size_t i = 1; i < 7; i++)
        assert_true(start_n(&s, i)->scheduled_for >
                    start_n(&s, i - 1)->scheduled_for);
    /* Back five hours: re-based, the next fire time after the new now
     * runs rather than waiting five hours. */
    sim_step(&s, t0 - 3 * 3600 + 5);
    assert_int_equal(count(&s, PLAN_START), 7);
    sim_step(&s, t0 - 3 * 3600 + 300);
    assert_int_equal(count(&s, PLAN_START), 8);
    assert_int_equal(start_n(&s, 7)->scheduled_for, t0 - 3 * 3600 + 300);
    sim_fini(&s);
}

static void
test_every_interval(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");

    (void)state;
    sim_init(&s,
             "@every 90s",
             "America/New_York",
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j, false, 0, t0 + 1);
    sim_run(&s, t0 + 1, t0 + 900, 1);
    assert_int_equal(count(&s, PLAN_START), 10);
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(start_n(&s, i)->scheduled_for % 90, 0);
    assert_int_equal(start_n(&s, 1)->scheduled_for -
                         start_n(&s, 0)->scheduled_for,
                     90);
    /* A disabled job plans nothing. */
    s.j.enabled = false;
    sim_run(&s, t0 + 901, t0 + 2000, 1);
    assert_int_equal(count(&s, PLAN_START), 10);
    assert_int_equal(plan_next_fire(&s.j), PLAN_NEVER);
    sim_fini(&s);
}

/* ---- concurrency: a job lasting three times its period --------------- */

static void
run_policy(struct sim *s, enum config_job_concurrency conc, int max)
{
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");

    sim_init(s, "* * * * *", NULL, conc, CONFIG_MISFIRE_RUN_ONCE);
    s->cfg.max_instances = max;
    plan_job_init(&s->j, &s->j.expr, NULL, &s->cfg);
    s->duration = 180;
    plan_sync(&s->j, false, 0, t0 - 1);
    /* Fire times 12:00 .. 12:19: twenty of them. */
    sim_run(s, t0 - 1, t0 + 19 * 60 + 59, 1);
}

static void
test_forbid(void **state)
{
    struct sim s;

    (void)state;
    run_policy(&s, CONFIG_CONCURRENCY_FORBID, 1);
    assert_int_equal(s.max_running, 1);
    assert_int_equal(count(&s, PLAN_START), 7); /* 0, 3, 6 ... 18 min */
    assert_int_equal(skipped(&s, PLAN_SKIP_OVERLAP), 13);
    assert_int_equal(start_n(&s, 1)->scheduled_for -
                         start_n(&s, 0)->scheduled_for,
                     180);
    sim_fini(&s);
}

static void
test_allow(void **state)
{
    struct sim s;

    (void)state;
    run_policy(&s, CONFIG_CONCURRENCY_ALLOW, 2);
    assert_int_equal(s.max_running, 2);
    assert_int_equal(count(&s, PLAN_START) + skipped(&s, PLAN_SKIP_OVERLAP),
                     20);
    assert_true(count(&s, PLAN_START) >= 13);
    sim_fini(&s);
    run_policy(&s, CONFIG_CONCURRENCY_ALLOW, 3);
    assert_int_equal(s.max_running, 3);
    assert_int_equal(count(&s, PLAN_START), 20);
    sim_fini(&s);
}

/* queue: the run behind the running one starts the moment it ends; never
 * more than one waits. */
static void
test_queue(void **state)
{
    struct sim s;
    const struct plan_action *a;

    (void)state;
    run_policy(&s, CONFIG_CONCURRENCY_QUEUE, 1);
    assert_int_equal(s.max_running, 1);
    assert_int_equal(start_n(&s, 0)->trigger, PLAN_TRIGGER_SCHEDULE);
    a = start_n(&s, 1);
    assert_int_equal(a->trigger, PLAN_TRIGGER_QUEUED);
    /* Fire time 12:01 waited, and began when the first run ended. */
    assert_int_equal(a->scheduled_for, crontest_utc("2025-06-01 12:01:00"));
    assert_int_equal(a->start_at_ms / 1000,
                     crontest_utc("2025-06-01 12:03:00"));
    assert_int_equal(count(&s, PLAN_START) + skipped(&s, PLAN_SKIP_OVERLAP) +
                         (s.j.pending ? 1 : 0),
                     20);
    /* One run every three minutes, back to back. */
    assert_int_equal(count(&s, PLAN_START), 7);
    sim_fini(&s);
}

/* replace: each fire time cancels the running run, and its own run begins
 * once that one has ended, never beside it. */
static void
test_replace(void **state)
{
    struct sim s;

    (void)state;
    run_policy(&s, CONFIG_CONCURRENCY_REPLACE, 1);
    assert_int_equal(s.max_running, 1);
    assert_int_equal(count(&s, PLAN_CANCEL_RUNNING), 19);
    assert_int_equal(count(&s, PLAN_START), 20);
    for (size_t i = 1; i < 20; i++) {
        const struct plan_action *a = start_n(&s, i);

        assert_int_equal(a->trigger, PLAN_TRIGGER_QUEUED);
        assert_int_equal(a->start_at_ms / 1000,
                         a->scheduled_for + s.cancel_delay);
    }
    assert_int_equal(skipped(&s, PLAN_SKIP_OVERLAP), 0);
    sim_fini(&s);
}

/* ---- misfires after downtime ---------------------------------------- */

static void
test_misfire_skip(void **state)
{
    struct sim s;

    (void)state;
    sim_init(&s,
             "0 * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_SKIP);
    plan_sync(&s.j,
              true,
              crontest_utc("2025-06-01 09:00:00"),
              crontest_utc("2025-06-01 12:30:00"));
    sim_step(&s, crontest_utc("2025-06-01 12:30:00"));
    assert_int_equal(count(&s, PLAN_START), 0);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 3);
    sim_step(&s, crontest_utc("2025-06-01 13:00:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->trigger, PLAN_TRIGGER_SCHEDULE);
    sim_fini(&s);
}

static void
test_misfire_run_once(void **state)
{
    struct sim s;

    (void)state;
    sim_init(&s,
             "0 * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j,
              true,
              crontest_utc("2025-06-01 09:00:00"),
              crontest_utc("2025-06-01 12:30:00"));
    sim_run(&s,
            crontest_utc("2025-06-01 12:30:00"),
            crontest_utc("2025-06-01 12:40:00"),
            1);
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->trigger, PLAN_TRIGGER_CATCHUP);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-06-01 12:00:00"));
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 2);
    sim_fini(&s);

    /* Back at 12:02: 12:00 is on time and stands for the missed ones. */
    sim_init(&s,
             "0 * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j,
              true,
              crontest_utc("2025-06-01 09:00:00"),
              crontest_utc("2025-06-01 12:02:00"));
    sim_step(&s, crontest_utc("2025-06-01 12:02:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->trigger, PLAN_TRIGGER_SCHEDULE);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 2);
    sim_fini(&s);
}

/* No history: nothing before now is due (no catch-up on a first start). */
static void
test_first_start_no_catchup(void **state)
{
    struct sim s;

    (void)state;
    sim_init(&s,
             "0 * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j, false, 0, crontest_utc("2025-06-01 12:30:00"));
    sim_run(&s,
            crontest_utc("2025-06-01 12:30:00"),
            crontest_utc("2025-06-01 12:59:59"),
            30);
    assert_int_equal(s.n_acts, 0);
    assert_int_equal(plan_next_fire(&s.j), crontest_utc("2025-06-01 13:00:00"));
    sim_fini(&s);
}

/* Thirty days of a one-second job missed: bounded work, one catch-up. */
static void
test_long_downtime(void **state)
{
    struct sim s;
    int64_t now = crontest_utc("2025-06-01 12:00:00");

    (void)state;
    sim_init(&s,
             "@every 1s",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    s.duration = 0;
    plan_sync(&s.j, true, now - 30 * 86400, now);
    sim_step(&s, now);
    /* The late ones (within 5 min) are on time, so no catch-up run; and
     * forbid lets one of them run, not a burst. */
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for, now - PLAN_LATE_GRACE_S);
    assert_int_equal(skipped(&s, PLAN_SKIP_OVERLAP), PLAN_LATE_GRACE_S);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), PLAN_COUNT_MAX);
    sim_fini(&s);

    sim_init(&s,
             "0 3 * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j, true, crontest_utc("2015-06-01 03:00:00"), now);
    sim_step(&s, now);
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-06-01 03:00:00"));
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 3653 - 1);
    sim_fini(&s);
}

/* ---- jitter --------------------------------------------------------- */

static void
test_jitter(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");
    const uint64_t draws[] = {0, 1, 9999, 10000, 10001, UINT64_MAX};

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_ALLOW,
             CONFIG_MISFIRE_RUN_ONCE);
    s.cfg.jitter_ms = 10000;
    s.cfg.max_instances = 100;
    plan_job_init(&s.j, &s.j.expr, NULL, &s.cfg);
    plan_sync(&s.j, false, 0, t0);
    for (size_t i = 0; i < sizeof(draws) / sizeof(draws[0]); i++) {
        const struct plan_action *a;
        int64_t delay;

        rand_value = draws[i];
        sim_step(&s, t0 + 60 * (int64_t)(i + 1));
        a = start_n(&s, i);
        delay = a->start_at_ms - a->scheduled_for * 1000;
        assert_true(delay >= 0 && delay <= 10000);
        assert_int_equal(delay, (int64_t)(draws[i] % 10001));
    }
    sim_fini(&s);
}

/* ---- DST ------------------------------------------------------------ */

/* Starts of `schedule` over a day of 30-second ticks from `from` (UTC). */
static void
dst_day(struct sim *s, const char *schedule, const char *zone, int64_t from)
{
    sim_init(s, schedule, zone, CONFIG_CONCURRENCY_FORBID, CONFIG_MISFIRE_SKIP);
    plan_sync(&s->j, false, 0, from);
    sim_run(s, from, from + 26 * 3600, 30);
}

static void
test_dst_new_york(void **state)
{
    struct sim s;

    (void)state;
    /* Spring forward, 2025-03-09 02:00 EST -> 03:00 EDT: 02:30 does not
     * exist and runs once, when the clock jumps. */
    dst_day(&s,
            "30 2 * * *",
            "America/New_York",
            crontest_utc("2025-03-09 04:00:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-03-09 07:00:00"));
    sim_fini(&s);
    /* Fall back, 2025-11-02 02:00 EDT -> 01:00 EST: 01:30 happens twice
     * and runs once, the first time. */
    dst_day(&s,
            "30 1 * * *",
            "America/New_York",
            crontest_utc("2025-11-02 04:00:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-11-02 05:30:00"));
    sim_fini(&s);
    /* A wildcard job follows real time: both passes of the fold ... */
    dst_day(&s,
            "*/30 * * * *",
            "America/New_York",
            crontest_utc("2025-11-02 04:00:00"));
    assert_int_equal(count(&s, PLAN_START), 26 * 2);
    sim_fini(&s);
    /* ... and no burst for the hour that spring skipped. */
    dst_day(&s,
            "0 * * * *",
            "America/New_York",
            crontest_utc("2025-03-09 05:00:00"));
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-03-09 06:00:00")); /* 01:00 EST */
    assert_int_equal(start_n(&s, 1)->scheduled_for,
                     crontest_utc("2025-03-09 07:00:00")); /* 03:00 EDT */
    assert_int_equal(count(&s, PLAN_START), 26);
    sim_fini(&s);
}

static void
test_dst_lord_howe(void **state)
{
    struct sim s;

    (void)state;
    /* 2025-10-05 02:00 +10:30 -> 02:30 +11: 02:15 is skipped by half an
     * hour and runs once, at 02:30 +11 (15:30 UTC the day before). */
    dst_day(&s,
            "15 2 * * *",
            "Australia/Lord_Howe",
            crontest_utc("2025-10-04 12:00:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-10-04 15:30:00"));
    sim_fini(&s);
    /* 2025-04-06 02:00 +11 -> 01:30 +10:30: 01:45 happens twice and runs
     * once, at 01:45 +11. */
    dst_day(&s,
            "45 1 * * *",
            "Australia/Lord_Howe",
            crontest_utc("2025-04-05 12:00:00"));
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for,
                     crontest_utc("2025-04-05 14:45:00"));
    sim_fini(&s);
}

/* ---- bookkeeping ---------------------------------------------------- */

static void
test_unsync_and_drop(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_QUEUE,
             CONFIG_MISFIRE_RUN_ONCE);
    s.duration = 1000;
    plan_sync(&s.j, false, 0, t0);
    sim_step(&s, t0 + 60);
    sim_step(&s, t0 + 120);
    assert_true(s.j.pending);
    assert_int_equal(s.j.in_flight, 1);
    /* Leadership lost: the pending run is forgotten, and nothing is
     * planned until the next sync. */
    plan_unsync(&s.j);
    assert_false(s.j.pending);
    sim_step(&s, t0 + 180);
    assert_int_equal(count(&s, PLAN_START), 1);
    plan_run_dropped(&s.j);
    assert_int_equal(s.j.in_flight, 0);
    assert_string_equal(plan_trigger_name(PLAN_TRIGGER_CATCHUP), "catchup");
    assert_string_equal(plan_skip_reason_name(PLAN_SKIP_GUARD), "guard");
    sim_fini(&s);
}

/* ---- reload --------------------------------------------------------- */

static struct cron_expr
expr_of(const char *schedule)
{
    struct cron_expr e;
    struct deskdb_err err;
    int col;

    if (cron_parse(schedule, &e, &col, &err) != 0)
        fail_msg("%s: %s", schedule, err.msg);
    return e;
}

/* A new schedule counts from the reload: its fire times before it are
 * not due.  An unchanged schedule keeps its next fire time, even one that
 * has passed without a tick. */
static void
test_redefine_schedule(void **state)
{
    struct sim s;
    struct cron_expr e = expr_of("*/5 * * * *");
    int64_t t0 = crontest_utc("2025-06-01 12:00:05");

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    plan_sync(&s.j, false, 0, t0);
    sim_step(&s, t0);
    assert_int_equal(plan_next_fire(&s.j), t0 + 55);

    /* Same definition at 12:01:10 (no tick since 12:00:05): kept. */
    plan_job_redefine(&s.j, &s.j.expr, NULL, &s.cfg, false, t0 + 65);
    assert_int_equal(plan_next_fire(&s.j), t0 + 55);
    sim_step(&s, t0 + 65);
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(start_n(&s, 0)->scheduled_for, t0 + 55);

    /* Every 5 minutes from 12:03:20: 12:05, not 12:00 or 12:04. */
    plan_job_redefine(&s.j, &e, NULL, &s.cfg, true, t0 + 195);
    assert_int_equal(plan_next_fire(&s.j), t0 - 5 + 300);
    sim_step(&s, t0 + 250);
    assert_int_equal(count(&s, PLAN_START), 1);
    sim_step(&s, t0 + 295);
    assert_int_equal(count(&s, PLAN_START), 2);
    assert_int_equal(start_n(&s, 1)->scheduled_for, t0 - 5 + 300);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 0);

    /* Disabled, then enabled an hour later: no catch-up of that hour. */
    s.cfg.enabled = false;
    plan_job_redefine(&s.j, &e, NULL, &s.cfg, true, t0 + 300);
    assert_int_equal(plan_next_fire(&s.j), PLAN_NEVER);
    sim_step(&s, t0 + 3600);
    s.cfg.enabled = true;
    plan_job_redefine(&s.j, &e, NULL, &s.cfg, true, t0 + 3601);
    assert_int_equal(plan_next_fire(&s.j), t0 - 5 + 3900);
    sim_step(&s, t0 + 3700);
    assert_int_equal(count(&s, PLAN_START), 2);
    assert_int_equal(skipped(&s, PLAN_SKIP_MISFIRE), 0);
    sim_fini(&s);
}

/* Runs in flight stay counted across a reload: forbid does not start a
 * second one, and a queued run still waits for them. */
static void
test_redefine_keeps_in_flight(void **state)
{
    struct sim s;
    int64_t t0 = crontest_utc("2025-06-01 12:00:00");

    (void)state;
    sim_init(&s,
             "* * * * *",
             NULL,
             CONFIG_CONCURRENCY_FORBID,
             CONFIG_MISFIRE_RUN_ONCE);
    s.duration = 150;
    plan_sync(&s.j, false, 0, t0 - 1);
    sim_step(&s, t0);
    assert_int_equal(s.n_running, 1);
    s.cfg.timeout_ms = 5000; /* a change that is not the schedule */
    plan_job_redefine(&s.j, &s.j.expr, NULL, &s.cfg, false, t0 + 10);
    sim_step(&s, t0 + 60);
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(skipped(&s, PLAN_SKIP_OVERLAP), 1);
    /* Now queue: the next fire time waits for the old run. */
    s.cfg.concurrency = CONFIG_CONCURRENCY_QUEUE;
    plan_job_redefine(&s.j, &s.j.expr, NULL, &s.cfg, false, t0 + 70);
    sim_step(&s, t0 + 120);
    assert_int_equal(count(&s, PLAN_START), 1);
    assert_int_equal(s.max_running, 1);
    sim_step(&s, t0 + 150);
    assert_int_equal(count(&s, PLAN_START), 2);
    assert_int_equal(start_n(&s, 1)->trigger, PLAN_TRIGGER_QUEUED);
    assert_int_equal(start_n(&s, 1)->scheduled_for, t0 + 120);
    assert_int_equal(s.max_running, 1);
    sim_fini(&s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_minute_once),
        cmocka_unit_test(test_redefine_schedule),
        cmocka_unit_test(test_redefine_keeps_in_flight),
        cmocka_unit_test(test_delayed_tick),
        cmocka_unit_test(test_clock_steps_back),
        cmocka_unit_test(test_every_interval),
        cmocka_unit_test(test_forbid),
        cmocka_unit_test(test_allow),
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_misfire_skip),
        cmocka_unit_test(test_misfire_run_once),
        cmocka_unit_test(test_first_start_no_catchup),
        cmocka_unit_test(test_long_downtime),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_dst_new_york),
        cmocka_unit_test(test_dst_lord_howe),
        cmocka_unit_test(test_unsync_and_drop),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

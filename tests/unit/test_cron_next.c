/* SPDX-License-Identifier: MIT */
/* Unit tests for cron next-fire times: calendars, leap years and DST. */
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
#include "jobs/tz.h"

#define BIT(n) (UINT64_C(1) << (n))

/* ---- next fire times ---- */

struct next_case {
    const char *zone;
    const char *expr;
    const char *after;    /* UTC */
    const char *fires[7]; /* tz_format() of each fire, in order */
};

static const struct next_case next_cases[] = {
    /* Leap years: 2028 is the next Feb 29; 2100 is not a leap year. */
    {"UTC",
     "0 0 29 2 *",
     "2025-01-01 00:00:00",
     {"2028-02-29 00:00:00 UTC (+00:00)", "2032-02-29 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "0 0 29 2 *",
     "2096-03-01 00:00:00",
     {"2104-02-29 00:00:00 UTC (+00:00)"}},
    /* L: the last day, in leap and common Februaries and 30/31-day months. */
    {"UTC",
     "0 0 L 2 *",
     "2024-01-01 00:00:00",
     {"2024-02-29 00:00:00 UTC (+00:00)", "2025-02-28 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "0 0 L 2 *",
     "2099-12-31 00:00:00",
     {"2100-02-28 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "30 22 L * *",
     "2025-01-31 22:30:00",
     {"2025-02-28 22:30:00 UTC (+00:00)",
      "2025-03-31 22:30:00 UTC (+00:00)",
      "2025-04-30 22:30:00 UTC (+00:00)",
      "2025-05-31 22:30:00 UTC (+00:00)",
      "2025-06-30 22:30:00 UTC (+00:00)"}},
    /* Day-of-month OR day-of-week when both are restricted. */
    {"UTC",
     "0 0 1 * 1",
     "2025-01-01 00:00:00",
     {"2025-01-06 00:00:00 UTC (+00:00)",
      "2025-01-13 00:00:00 UTC (+00:00)",
      "2025-01-20 00:00:00 UTC (+00:00)",
      "2025-01-27 00:00:00 UTC (+00:00)",
      "2025-02-01 00:00:00 UTC (+00:00)",
      "2025-02-03 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "0 0 * * 1",
     "2025-01-27 00:00:00",
     {"2025-02-03 00:00:00 UTC (+00:00)", "2025-02-10 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "0 0 1 * *",
     "2025-01-01 00:00:00",
     {"2025-02-01 00:00:00 UTC (+00:00)", "2025-03-01 00:00:00 UTC (+00:00)"}},
    /* Vixie quirk: "*\/2" in day-of-week is a star field, so AND: days 1-7
     * that are Sun/Tue/Thu/Sat... */
    {"UTC",
     "0 0 1-7 * */2",
     "2025-01-01 00:00:00",
     {"2025-01-02 00:00:00 UTC (+00:00)",
      "2025-01-04 00:00:00 UTC (+00:00)",
      "2025-01-05 00:00:00 UTC (+00:00)",
      "2025-01-07 00:00:00 UTC (+00:00)",
      "2025-02-01 00:00:00 UTC (+00:00)",
      "2025-02-02 00:00:00 UTC (+00:00)"}},
    /* ...while the same days written as a list are an OR. */
    {"UTC",
     "0 0 1-7 * 0,2,4,6",
     "2024-12-31 12:00:00",
     {"2025-01-01 00:00:00 UTC (+00:00)",
      "2025-01-02 00:00:00 UTC (+00:00)",
      "2025-01-03 00:00:00 UTC (+00:00)",
      "2025-01-04 00:00:00 UTC (+00:00)",
      "2025-01-05 00:00:00 UTC (+00:00)",
      "2025-01-06 00:00:00 UTC (+00:00)",
      "2025-01-07 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "30 8 * jan,JUL mon-fri",
     "2025-06-30 12:00:00",
     {"2025-07-01 08:30:00 UTC (+00:00)", "2025-07-02 08:30:00 UTC (+00:00)"}},
    {"UTC",
     "@weekly",
     "2025-12-25 00:00:00",
     {"2025-12-28 00:00:00 UTC (+00:00)", "2026-01-04 00:00:00 UTC (+00:00)"}},
    /* Year rollover. */
    {"UTC",
     "59 23 31 12 *",
     "2025-12-31 23:59:00",
     {"2026-12-31 23:59:00 UTC (+00:00)"}},
    {"UTC",
     "@yearly",
     "2025-12-31 23:59:59",
     {"2026-01-01 00:00:00 UTC (+00:00)", "2027-01-01 00:00:00 UTC (+00:00)"}},
    {"UTC",
     "*/20 23 31 12 *",
     "2025-12-31 23:30:00",
     {"2025-12-31 23:40:00 UTC (+00:00)", "2026-12-31 23:00:00 UTC (+00:00)"}},
    /* Seconds in `after` round up to the next minute. */
    {"UTC",
     "* * * * *",
     "2025-03-01 10:00:01",
     {"2025-03-01 10:01:00 UTC (+00:00)", "2025-03-01 10:02:00 UTC (+00:00)"}},
    /* @every: multiples of the interval since the epoch, zone ignored. */
    {"America/New_York",
     "@every 90s",
     "2025-01-01 00:00:00",
     {"2024-12-31 19:01:30 EST (-05:00)", "2024-12-31 19:03:00 EST (-05:00)"}},
    {"UTC",
     "@every 90s",
     "2025-01-01 00:00:45",
     {"2025-01-01 00:01:30 UTC (+00:00)"}},
    {"America/New_York",
     "@every 1h",
     "2025-11-02 04:30:00",
     {"2025-11-02 01:00:00 EDT (-04:00)",
      "2025-11-02 01:00:00 EST (-05:00)",
      "2025-11-02 02:00:00 EST (-05:00)"}},

    /* New York spring forward, 2025-03-09 02:00 EST -> 03:00 EDT. */
    {"America/New_York",
     "30 2 * * *",
     "2025-03-08 00:00:00",
     {"2025-03-08 02:30:00 EST (-05:00)",
      "2025-03-09 03:00:00 EDT (-04:00)",
      "2025-03-10 02:30:00 EDT (-04:00)"}},
    {"America/New_York",
     "0,30 2 * * *",
     "2025-03-09 06:00:00",
     {"2025-03-09 03:00:00 EDT (-04:00)", "2025-03-10 02:00:00 EDT (-04:00)"}},
    {"America/New_York",
     "*/15 * * * *",
     "2025-03-09 06:30:00",
     {"2025-03-09 01:45:00 EST (-05:00)",
      "2025-03-09 03:00:00 EDT (-04:00)",
      "2025-03-09 03:15:00 EDT (-04:00)"}},
    {"America/New_York",
     "0 * * * *",
     "2025-03-09 05:30:00",
     {"2025-03-09 01:00:00 EST (-05:00)",
      "2025-03-09 03:00:00 EDT (-04:00)",
      "2025-03-09 04:00:00 EDT (-04:00)"}},
    /* Fall back, 2025-11-02 02:00 EDT -> 01:00 EST. */
    {"America/New_York",
     "30 1 * * *",
     "2025-11-01 00:00:00",
     {"2025-11-01 01:30:00 EDT (-04:00)",
      "2025-11-02 01:30:00 EDT (-04:00)",
      "2025-11-03 01:30:00 EST (-05:00)"}},
    /* From inside the second pass: 01:30 EST is not a second run. */
    {"America/New_York",
     "30 1 * * *",
     "2025-11-02 06:10:00",
     {"2025-11-03 01:30:00 EST (-05:00)"}},
    {"America/New_York",
     "0 * * * *",
     "2025-11-02 04:30:00",
     {"2025-11-02 01:00:00 EDT (-04:00)",
      "2025-11-02 01:00:00 EST (-05:00)",
      "2025-11-02 02:00:00 EST (-05:00)"}},
    {"America/New_York",
     "*/10 * * * *",
     "2025-11-02 05:35:00",
     {"2025-11-02 01:40:00 EDT (-04:00)",
      "2025-11-02 01:50:00 EDT (-04:00)",
      "2025-11-02 01:00:00 EST (-05:00)",
      "2025-11-02 01:10:00 EST (-05:00)"}},
    /* Lord Howe: +10:30 <-> +11 on the first Sundays of October and April
     * (2025-10-05 02:00 -> 02:30, 2025-04-06 02:00 -> 01:30). */
    {"Australia/Lord_Howe",
     "15 2 * * *",
     "2025-10-03 00:00:00",
     {"2025-10-04 02:15:00 +1030 (+10:30)",
      "2025-10-05 02:30:00 +11 (+11:00)",
      "2025-10-06 02:15:00 +11 (+11:00)"}},
    {"Australia/Lord_Howe",
     "15 2 * * *",
     "2025-04-04 00:00:00",
     {"2025-04-05 02:15:00 +11 (+11:00)",
      "2025-04-06 02:15:00 +1030 (+10:30)",
      "2025-04-07 02:15:00 +1030 (+10:30)"}},
    {"Australia/Lord_Howe",
     "45 1 * * *",
     "2025-04-04 00:00:00",
     {"2025-04-05 01:45:00 +11 (+11:00)",
      "2025-04-06 01:45:00 +11 (+11:00)",
      "2025-04-07 01:45:00 +1030 (+10:30)"}},
    {"Australia/Lord_Howe",
     "*/15 1 * * *",
     "2025-04-05 14:20:00",
     {"2025-04-06 01:30:00 +11 (+11:00)",
      "2025-04-06 01:45:00 +11 (+11:00)",
      "2025-04-06 01:30:00 +1030 (+10:30)",
      "2025-04-06 01:45:00 +1030 (+10:30)",
      "2025-04-07 01:00:00 +1030 (+10:30)"}},
    /* Kathmandu, +05:45: local :00 and :30 are UTC :15 and :45. */
    {"Asia/Kathmandu",
     "0 9 * * *",
     "2025-01-01 00:00:00",
     {"2025-01-01 09:00:00 +0545 (+05:45)",
      "2025-01-02 09:00:00 +0545 (+05:45)"}},
    {"Asia/Kathmandu",
     "*/30 * * * *",
     "2025-01-01 00:00:00",
     {"2025-01-01 06:00:00 +0545 (+05:45)",
      "2025-01-01 06:30:00 +0545 (+05:45)"}},
    /* Santiago: 2024-09-08 starts DST at 00:00 (-> 01:00), so midnight does
     * not exist; the midnight job runs once, at 01:00. */
    {"America/Santiago",
     "0 0 * * *",
     "2024-09-06 12:00:00",
     {"2024-09-07 00:00:00 -04 (-04:00)",
      "2024-09-08 01:00:00 -03 (-03:00)",
      "2024-09-09 00:00:00 -03 (-03:00)"}},
    /* Santiago fall back 2024-04-07 00:00 -> 2024-04-06 23:00. */
    {"America/Santiago",
     "30 23 * * *",
     "2024-04-05 12:00:00",
     {"2024-04-05 23:30:00 -03 (-03:00)",
      "2024-04-06 23:30:00 -03 (-03:00)",
      "2024-04-07 23:30:00 -04 (-04:00)"}},
    {"America/Santiago",
     "0 0 * * *",
     "2024-04-05 12:00:00",
     {"2024-04-06 00:00:00 -03 (-03:00)",
      "2024-04-07 00:00:00 -04 (-04:00)",
      "2024-04-08 00:00:00 -04 (-04:00)"}},
};

static void
test_next_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
        const struct next_case *c = &next_cases[i];
        struct tz *tz = crontest_zone(c->zone);
        struct cron_expr e = crontest_parse_ok(c->expr);
        int64_t t = crontest_utc(c->after);

        for (size_t k = 0; k < 7 && c->fires[k] != NULL; k++) {
            char buf[TZ_FORMAT_MAX];
            int64_t next;
            int rc = cron_next(&e, tz, t, &next);

            if (rc != 0)
                fail_msg("%s [%s] #%zu: status %d", c->zone, c->expr, k, rc);
            assert_true(next > t);
            assert_int_equal(tz_format(tz, next, buf, sizeof(buf)), 0);
            if (strcmp(buf, c->fires[k]) != 0)
                fail_msg("%s [%s] #%zu:\n got: %s\nwant: %s",
                         c->zone,
                         c->expr,
                         k,
                         buf,
                         c->fires[k]);
            t = next;
        }
        tz_destroy(tz);
    }
}

/* How many times `expr` fires in [from, to) (UTC). */
static int
count_fires(const struct tz *tz, const char *expr, int64_t from, int64_t to)
{
    struct cron_expr e = crontest_parse_ok(expr);
    int64_t t = from - 1;
    int n = 0;

    for (;;) {
        int64_t next;

        assert_int_equal(cron_next(&e, tz, t, &next), 0);
        if (next >= to)
            return n;
        n++;
        t = next;
    }
}

static void
test_dst_day_counts(void **state)
{
    struct tz *ny = crontest_zone("America/New_York");
    struct tz *lh = crontest_zone("Australia/Lord_Howe");
    struct tz *scl = crontest_zone("America/Santiago");
    /* Local midnight to midnight: 23 h on 2025-03-09, 25 h on 2025-11-02. */
    int64_t spring = crontest_utc("2025-03-09 05:00:00");
    int64_t spring_end = crontest_utc("2025-03-10 04:00:00");
    int64_t fall = crontest_utc("2025-11-02 04:00:00");
    int64_t fall_end = crontest_utc("2025-11-03 05:00:00");

    (void)state;
    assert_int_equal(count_fires(ny, "30 2 * * *", spring, spring_end), 1);
    assert_int_equal(count_fires(ny, "30 1 * * *", spring, spring_end), 1);
    assert_int_equal(count_fires(ny, "0 * * * *", spring, spring_end), 23);
    assert_int_equal(count_fires(ny, "*/15 * * * *", spring, spring_end), 92);
    assert_int_equal(count_fires(ny, "*/15 2 * * *", spring, spring_end), 0);
    assert_int_equal(count_fires(ny, "0 0-5 * * *", spring, spring_end), 5);
    assert_int_equal(count_fires(ny, "30 1 * * *", fall, fall_end), 1);
    assert_int_equal(count_fires(ny, "30 2 * * *", fall, fall_end), 1);
    assert_int_equal(count_fires(ny, "0 * * * *", fall, fall_end), 25);
    assert_int_equal(count_fires(ny, "*/10 * * * *", fall, fall_end), 150);
    assert_int_equal(count_fires(ny, "@every 1h", fall, fall_end), 25);
    assert_int_equal(count_fires(ny, "@daily", fall, fall_end), 1);
    /* Lord Howe, 2025-10-05 (23.5 h) and 2025-04-06 (24.5 h). */
    assert_int_equal(count_fires(lh,
                                 "15 2 * * *",
                                 crontest_utc("2025-10-04 13:30:00"),
                                 crontest_utc("2025-10-05 13:00:00")),
                     1);
    assert_int_equal(count_fires(lh,
                                 "*/15 * * * *",
                                 crontest_utc("2025-10-04 13:30:00"),
                                 crontest_utc("2025-10-05 13:00:00")),
                     94);
    assert_int_equal(count_fires(lh,
                                 "45 1 * * *",
                                 crontest_utc("2025-04-05 13:00:00"),
                                 crontest_utc("2025-04-06 13:30:00")),
                     1);
    assert_int_equal(count_fires(lh,
                                 "*/15 * * * *",
                                 crontest_utc("2025-04-05 13:00:00"),
                                 crontest_utc("2025-04-06 13:30:00")),
                     98);
    /* Santiago 2024-09-08 (local 01:00 to midnight, 23 h): midnight runs
     * once, at 01:00. */
    assert_int_equal(count_fires(scl,
                                 "0 0 * * *",
                                 crontest_utc("2024-09-08 00:00:00"),
                                 crontest_utc("2024-09-09 03:00:00")),
                     1);
    tz_destroy(ny);
    tz_destroy(lh);
    tz_destroy(scl);
}

static void
test_never_and_limits(void **state)
{
    struct cron_expr e =
        crontest_parse_ok("0 0 29 2 */7"); /* Feb 29 on a Sunday */
    struct cron_expr daily = crontest_parse_ok("@daily");
    struct cron_expr every = crontest_parse_ok("@every 366d");
    int64_t next = 0;

    (void)state;
    assert_int_equal(
        cron_next(&e, NULL, crontest_utc("2025-01-01 00:00:00"), &next),
        0);
    assert_int_equal(next, crontest_utc("2032-02-29 00:00:00"));
    /* The next one is 2060: beyond the 8-year search, so "never", and
     * *next is left alone. */
    next = 42;
    assert_int_equal(
        cron_next(&e, NULL, crontest_utc("2032-03-01 00:00:00"), &next),
        DESKDB_ENOTFOUND);
    assert_int_equal(next, 42);
    /* The instant range. */
    assert_int_equal(cron_next(&daily, NULL, CRON_TIME_MAX + 1, &next),
                     DESKDB_EINVAL);
    assert_int_equal(cron_next(&daily, NULL, CRON_TIME_MIN - 1, &next),
                     DESKDB_EINVAL);
    assert_int_equal(
        cron_next(&daily, NULL, crontest_utc("9999-12-31 00:00:00"), &next),
        DESKDB_ENOTFOUND);
    assert_int_equal(cron_next(&daily, NULL, CRON_TIME_MIN, &next), 0);
    assert_int_equal(next, CRON_TIME_MIN + 86400);
    assert_int_equal(
        cron_next(&every, NULL, crontest_utc("9999-12-01 00:00:00"), &next),
        DESKDB_ENOTFOUND);
    assert_int_equal(cron_next(&every, NULL, -1, &next), 0);
    assert_int_equal(next, 0);
}

/*
 * An independent oracle: walk real time minute by minute and apply the
 * policy's definitions literally.  A wildcard job fires at u when the wall
 * time at u matches; a fixed-time job fires at u when some matching wall
 * time W was not yet shown before u and is shown at or before u.
 */
static bool
matches_wall(const struct cron_expr *e, int64_t local)
{
    struct civil_time c;
    int64_t days = civil_floor_div(local, 86400);
    bool dom;
    bool dow;

    civil_from_seconds(local, &c);
    if (c.second != 0 || !(e->minute & BIT(c.minute)) ||
        !(e->hour & BIT(c.hour)) || !(e->month & BIT(c.month)))
        return false;
    dom = e->dom_last ? c.day == civil_days_in_month(c.year, c.month)
                      : (e->dom & BIT(c.day)) != 0;
    dow = (e->dow & BIT(civil_weekday(days))) != 0;
    return (e->dom_star || e->dow_star) ? dom && dow : dom || dow;
}

static int64_t
oracle_next(const struct cron_expr *e, const struct tz *tz, int64_t after)
{
    int64_t shown = INT64_MIN; /* the latest wall time shown so far */

    /* Wall times shown in the two days before `after`. */
    for (int64_t u = after - 2 * 86400; u <= after; u += 60) {
        int64_t l = u + tz_offset_at(tz, u);

        if (u > after - 2 * 86400) {
            int64_t before = u - 1 + tz_offset_at(tz, u - 1);
            shown = before > shown ? before : shown;
        }
        shown = l > shown ? l : shown;
    }
    shown = shown > after + tz_offset_at(tz, after)
                ? shown
                : after + tz_offset_at(tz, after);
    for (int64_t u = (after / 60 + 1) * 60; u < after + 40 * 86400; u += 60) {
        int64_t l = u + tz_offset_at(tz, u);
        int64_t before = u - 1 + tz_offset_at(tz, u - 1);

        if (!cron_is_fixed_time(e)) {
            if (matches_wall(e, l))
                return u;
            continue;
        }
        shown = before > shown ? before : shown;
        for (int64_t w = (shown / 60 + 1) * 60; w <= l; w += 60)
            if (matches_wall(e, w))
                return u;
        shown = l > shown ? l : shown;
    }
    return -1;
}

static void
test_next_against_oracle(void **state)
{
    static const char *const zones[] = {"America/New_York",
                                        "Australia/Lord_Howe",
                                        "America/Santiago",
                                        "Asia/Kathmandu",
                                        "Europe/London",
                                        "Antarctica/Troll"};
    static const char *const exprs[] = {"30 2 * * *",
                                        "30 1 * * *",
                                        "*/15 * * * *",
                                        "0 * * * *",
                                        "15 2 * * *",
                                        "0 0 * * *",
                                        "0,30 0-3 * * *",
                                        "*/7 1-3 * * *",
                                        "59 23 * * *",
                                        "0 2 * * 0",
                                        "45 1 1 * 0"};
    uint64_t x = 0x2545f4914f6cdd1du;
    int checked = 0;

    (void)state;
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct tz *tz = crontest_zone(zones[z]);

        for (size_t k = 0; k < sizeof(exprs) / sizeof(exprs[0]); k++) {
            struct cron_expr e = crontest_parse_ok(exprs[k]);

            for (int round = 0; round < 12; round++) {
                struct tz_info info;
                int64_t after;
                int64_t got;
                int64_t want;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                /* Within +-3 h of a transition between 2015 and 2035. */
                after = 1420070400 + (int64_t)(x % (20 * 365 * 86400ULL));
                tz_lookup(tz, after, &info);
                if (info.next_transition != INT64_MAX)
                    after = info.next_transition - 3 * 3600 +
                            (int64_t)((x >> 32) % (6 * 3600));
                want = oracle_next(&e, tz, after);
                assert_int_equal(cron_next(&e, tz, after, &got), 0);
                if (got != want)
                    fail_msg("%s [%s] after %lld: got %lld, oracle %lld",
                             zones[z],
                             exprs[k],
                             (long long)after,
                             (long long)got,
                             (long long)want);
                checked++;
            }
        }
        tz_destroy(tz);
    }
    assert_true(checked > 700);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_dst_day_counts),
        cmocka_unit_test(test_never_and_limits),
        cmocka_unit_test(test_next_against_oracle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

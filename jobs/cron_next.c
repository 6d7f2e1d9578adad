/* SPDX-License-Identifier: MIT */
/* The next fire time of a cron expression in a time zone (DST policy). */
#include "jobs/civil.h"
#include "jobs/cron.h"

#define HORIZON_S (CRON_SEARCH_YEARS * 366 * CIVIL_SECS_PER_DAY)

/* The first set bit at or above `from` in bits 0..max, or -1. */
static int
next_bit(uint64_t bits, int from, int max)
{
    uint64_t rest;

    if (from > max)
        return -1;
    rest = bits >> from;
    if (max < 63)
        rest &= (UINT64_C(1) << (max - from + 1)) - 1;
    return rest == 0 ? -1 : from + __builtin_ctzll(rest);
}

/* Vixie: either field a star field -> both must match; else either. */
static bool
day_matches(const struct cron_expr *e,
            int64_t year,
            int month,
            int day,
            int64_t days)
{
    bool dom = e->dom_last ? day == civil_days_in_month(year, month)
                           : (e->dom & (UINT32_C(1) << day)) != 0;
    bool dow = (e->dow & (1u << civil_weekday(days))) != 0;

    if (e->dom_star || e->dow_star)
        return dom && dow;
    return dom || dow;
}

/* A position on the local calendar, minute resolution. */
struct cursor {
    int64_t days; /* since 1970-01-01 */
    int64_t year;
    int month;
    int day;
    int minute; /* of the day, 0-1439 */
};

static void
cursor_next_day(struct cursor *c)
{
    c->days++;
    c->minute = 0;
    if (++c->day > civil_days_in_month(c->year, c->month)) {
        c->day = 1;
        if (++c->month > 12) {
            c->month = 1;
            c->year++;
        }
    }
}

static void
cursor_next_month(struct cursor *c)
{
    if (++c->month > 12) {
        c->month = 1;
        c->year++;
    }
    c->day = 1;
    c->minute = 0;
    c->days = civil_days_from_date(c->year, c->month, 1);
}

/*
 * The first local time (local seconds, whole minute) at or after `from`
 * that matches the calendar fields and is <= limit.  Skips whole months,
 * days and hours, so a search over years costs a few thousand steps.
 */
static bool
next_match(const struct cron_expr *e, int64_t from, int64_t limit, int64_t *out)
{
    int64_t t = civil_floor_div(from + 59, 60) * 60;
    struct cursor c;

    c.days = civil_floor_div(t, CIVIL_SECS_PER_DAY);
    c.minute = (int)((t - c.days * CIVIL_SECS_PER_DAY) / 60);
    civil_date_from_days(c.days, &c.year, &c.month, &c.day);
    while (c.days * CIVIL_SECS_PER_DAY + c.minute * 60 <= limit) {
        int h;
        int m;

        if (!(e->month & (1u << c.month))) {
            cursor_next_month(&c);
            continue;
        }
        if (!day_matches(e, c.year, c.month, c.day, c.days)) {
            cursor_next_day(&c);
            continue;
        }
        h = next_bit(e->hour, c.minute / 60, 23);
        if (h < 0) {
            cursor_next_day(&c);
            continue;
        }
        m = next_bit(e->minute, h == c.minute / 60 ? c.minute % 60 : 0, 59);
        if (m < 0) {
            c.minute = (h + 1) * 60;
            if (c.minute >= 24 * 60)
                cursor_next_day(&c);
            continue;
        }
        *out = c.days * CIVIL_SECS_PER_DAY + h * 3600 + m * 60;
        return *out <= limit;
    }
    return false;
}

/* Fixed-time jobs: the first matching wall time the clock has not shown
 * yet, fired at the first instant showing it or later. */
static int
next_fixed(const struct cron_expr *e,
           const struct tz *tz,
           int64_t after,
           int64_t *next)
{
    int64_t from = tz_local_high_water(tz, after) + 1;
    int64_t local;

    if (!next_match(e, from, from + HORIZON_S, &local))
        return DESKDB_ENOTFOUND;
    *next = tz_utc_at_or_after_local(tz, local);
    return DESKDB_OK;
}

/* Wildcard jobs: walk stretches of constant offset; within one the wall
 * clock runs forward, so the first match in it is the answer. */
static int
next_wildcard(const struct cron_expr *e,
              const struct tz *tz,
              int64_t after,
              int64_t *next)
{
    int64_t horizon = after + HORIZON_S;
    int64_t u = after + 1;
    struct tz_info info;
    int64_t local;

    for (;;) {
        int64_t end;

        tz_lookup(tz, u, &info);
        end = info.next_transition <= horizon ? info.next_transition
                                              : horizon + 1;
        if (next_match(e, u + info.utoff, end - 1 + info.utoff, &local)) {
            *next = local - info.utoff;
            return DESKDB_OK;
        }
        if (end > horizon)
            return DESKDB_ENOTFOUND;
        u = end;
    }
}

int
cron_next(const struct cron_expr *expr,
          const struct tz *tz,
          int64_t after_utc,
          int64_t *next_utc)
{
    int64_t n;
    int rc;

    if (after_utc < CRON_TIME_MIN || after_utc > CRON_TIME_MAX)
        return DESKDB_EINVAL;
    if (expr->kind == CRON_KIND_EVERY) {
        if (expr->every_s < CRON_EVERY_MIN_S)
            return DESKDB_EINVAL;
        n = (civil_floor_div(after_utc, expr->every_s) + 1) * expr->every_s;
    } else {
        if (tz == NULL)
            tz = tz_utc();
        rc = cron_is_fixed_time(expr) ? next_fixed(expr, tz, after_utc, &n)
                                      : next_wildcard(expr, tz, after_utc, &n);
        if (rc < 0)
            return rc;
    }
    if (n > CRON_TIME_MAX)
        return DESKDB_ENOTFOUND;
    *next_utc = n;
    return DESKDB_OK;
}

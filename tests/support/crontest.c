/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cron, time-zone and scheduler unit tests. */
#include "support/crontest.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>

#include <cmocka.h>

#include "jobs/civil.h"

struct tz *
crontest_zone(const char *name)
{
    struct deskdb_err err;
    struct tz *tz = tz_load_dir(TZ_DEFAULT_TZDIR, name, &err);

    if (tz == NULL)
        fail_msg("%s: %s (install tzdata: scripts/bootstrap)", name, err.msg);
    return tz;
}

int64_t
crontest_utc(const char *text)
{
    struct civil_time c = {0, 0, 0, 0, 0, 0};
    long long y;

    if (sscanf(text,
               "%lld-%d-%d %d:%d:%d",
               &y,
               &c.month,
               &c.day,
               &c.hour,
               &c.minute,
               &c.second) != 6)
        fail_msg("bad time literal %s", text);
    c.year = y;
    assert_true(civil_is_valid(&c));
    return civil_to_seconds(&c);
}

int64_t
crontest_utc_of(int64_t year, int month, int day, int hour, int min)
{
    struct civil_time c = {year, month, day, hour, min, 0};

    return civil_to_seconds(&c);
}

struct cron_expr
crontest_parse_ok(const char *text)
{
    struct cron_expr e;
    struct deskdb_err err;
    int column = -1;

    if (cron_parse(text, &e, &column, &err) != 0)
        fail_msg("\"%s\" rejected: %s", text, err.msg);
    assert_int_equal(column, 0);
    return e;
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for parsing cron expressions: fields, macros and errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "support/crontest.h"

#include "jobs/cron.h"

#define BIT(n) (UINT64_C(1) << (n))

/* ---- parsing ---- */

static void
test_parse_fields(void **state)
{
    struct cron_expr e;

    (void)state;
    e = crontest_parse_ok("1,3-5,10-20/5 * * * *");
    assert_true(e.minute == (BIT(1) | BIT(3) | BIT(4) | BIT(5) | BIT(10) |
                             BIT(15) | BIT(20)));
    assert_false(e.minute_star);
    assert_true(e.hour_star && e.dom_star && e.dow_star);
    assert_true(e.hour == 0xffffff && e.dom == 0xfffffffe &&
                e.month == 0x1ffe && e.dow == 0x7f);

    e = crontest_parse_ok("*/15 9-17 * * mon-fri");
    assert_true(e.minute == (BIT(0) | BIT(15) | BIT(30) | BIT(45)));
    assert_true(e.minute_star);
    assert_true(e.hour == 0x3fe00);
    assert_true(e.dow == 0x3e && !e.dow_star);

    e = crontest_parse_ok("5-59/20 0 * * *");
    assert_true(e.minute == (BIT(5) | BIT(25) | BIT(45)));

    /* 0 and 7 are both Sunday; ranges through 7 wrap onto bit 0. */
    assert_int_equal(crontest_parse_ok("0 0 * * 7").dow, 0x01);
    assert_int_equal(crontest_parse_ok("0 0 * * 5-7").dow, 0x61);
    assert_int_equal(crontest_parse_ok("0 0 * * 0-7").dow, 0x7f);
    assert_int_equal(crontest_parse_ok("0 0 * * SAT,sun").dow, 0x41);
    assert_int_equal(crontest_parse_ok("0 0 * * MON-FRI/2").dow, 0x2a);
    assert_int_equal(crontest_parse_ok("0 0 * Jan,jul,DEC *").month,
                     BIT(1) | BIT(7) | BIT(12));
    assert_int_equal(crontest_parse_ok("0 0 * feb-apr *").month,
                     BIT(2) | BIT(3) | BIT(4));
    assert_int_equal(crontest_parse_ok("*/60 * * * *").minute, BIT(0));

    /* Blanks: tabs, runs of spaces, leading and trailing. */
    e = crontest_parse_ok(" \t0\t 12  *\t* *  ");
    assert_true(e.minute == BIT(0) && e.hour == BIT(12));

    /* Last day of the month. */
    e = crontest_parse_ok("0 0 L * *");
    assert_true(e.dom_last && e.dom == 0 && !e.dom_star);
    assert_true(crontest_parse_ok("0 0 $ * *").dom_last);
    assert_true(crontest_parse_ok("0 0 l 2 *").dom_last);

    /* Feb 29 exists; "30 2" with a restricted weekday is an OR, so it
     * fires on Mondays in February. */
    crontest_parse_ok("0 0 29 2 *");
    crontest_parse_ok("0 0 30 2 1");
    crontest_parse_ok("0 0 31 * *");
}

static void
test_parse_macros(void **state)
{
    static const struct {
        const char *macro;
        const char *same_as;
    } cases[] = {
        {"@yearly", "0 0 1 1 *"},
        {"@annually", "0 0 1 1 *"},
        {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"},
        {"@daily", "0 0 * * *"},
        {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"},
        {"  @Daily\t", "0 0 * * *"},
    };
    struct cron_expr e;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cron_expr a = crontest_parse_ok(cases[i].macro);
        struct cron_expr b = crontest_parse_ok(cases[i].same_as);

        assert_memory_equal(&a, &b, sizeof(a));
    }
    e = crontest_parse_ok("@daily");
    assert_true(cron_is_fixed_time(&e));
    e = crontest_parse_ok("@hourly");
    assert_false(cron_is_fixed_time(&e));

    e = crontest_parse_ok("@every 90s");
    assert_int_equal(e.kind, CRON_KIND_EVERY);
    assert_int_equal(e.every_s, 90);
    assert_false(cron_is_fixed_time(&e));
    assert_int_equal(crontest_parse_ok("@every 1h30m").every_s, 5400);
    assert_int_equal(crontest_parse_ok("@EVERY   5m ").every_s, 300);
    assert_int_equal(crontest_parse_ok("@every 1d2h3m4s").every_s, 93784);
    assert_int_equal(crontest_parse_ok("@every 1s").every_s, 1);
    assert_int_equal(crontest_parse_ok("@every 366d").every_s, 366 * 86400);
    assert_int_equal(crontest_parse_ok("@every 90m").every_s, 5400);
}

struct bad_case {
    const char *text;
    int column;
    const char *message; /* the whole one-line error */
};

static const struct bad_case bad_cases[] = {
    {"", 1, "cron: column 1: empty expression"},
    {"   ", 4, "cron: column 4: empty expression"},
    {"* * * *",
     8,
     "cron: column 8: expected 5 fields (minute hour day-of-month month "
     "day-of-week), found 4"},
    {"* * * * * *",
     11,
     "cron: column 11: unexpected text after the 5th field (expected minute "
     "hour day-of-month month day-of-week)"},
    {"0 0 * * * # nightly", 11, NULL},
    {"0 0 * * *x", 10, "cron: column 10: day-of-week field: unexpected 'x'"},
    {"60 * * * *", 1, "cron: column 1: minute 60 out of range 0-59"},
    {"0,5,9,60 * * * *", 7, "cron: column 7: minute 60 out of range 0-59"},
    {"*/5 0,60 * * *", 7, "cron: column 7: hour 60 out of range 0-23"},
    {"0 24 * * *", 3, "cron: column 3: hour 24 out of range 0-23"},
    {"0 0 0 * *", 5, "cron: column 5: day-of-month 0 out of range 1-31"},
    {"0 0 32 * *", 5, "cron: column 5: day-of-month 32 out of range 1-31"},
    {"0 0 * 0 *", 7, "cron: column 7: month 0 out of range 1-12"},
    {"0 0 * 13 *", 7, "cron: column 7: month 13 out of range 1-12"},
    {"0 0 * * 8", 9, "cron: column 9: day-of-week 8 out of range 0-7"},
    {"99999999999 * * * *",
     1,
     "cron: column 1: minute 99999999999 out of range 0-59"},
    {"*/0 * * * *", 3, "cron: column 3: minute step 0 out of range 1-60"},
    {"*/61 * * * *", 3, "cron: column 3: minute step 61 out of range 1-60"},
    {"0 0 * * */8", 11, "cron: column 11: day-of-week step 8 out of range 1-7"},
    {"*/ * * * *", 3, "cron: column 3: minute step: expected a number"},
    {"5-1 * * * *", 1, "cron: column 1: minute range 5-1 is reversed"},
    {"0 0 * * fri-mon", 9, "cron: column 9: day-of-week range 5-1 is reversed"},
    {"0 0 * * fri-sun",
     9,
     "cron: column 9: day-of-week range 5-0 is reversed (Sunday is also 7: "
     "write it last as 7)"},
    {"5/15 * * * *",
     2,
     "cron: column 2: minute step needs a range or '*' (write 5-59/n or "
     "*/n)"},
    {"0 0 * * */2/3", 12, "cron: column 12: day-of-week field: unexpected '/'"},
    {"0,,5 * * * *", 3, "cron: column 3: minute field: empty list element"},
    {"0, * * * *", 3, "cron: column 3: minute field: empty list element"},
    {"-5 * * * *",
     1,
     "cron: column 1: minute field: expected a number, found '-'"},
    {"0 0 * * 1-", 11, "cron: column 11: day-of-week field: expected a value"},
    {"0 0 ? * *",
     5,
     "cron: column 5: day-of-month field: expected a number, found '?'"},
    {"0 jan * * *",
     3,
     "cron: column 3: hour field takes numbers, not names like 'jan'"},
    {"0 0 * foo *",
     7,
     "cron: column 7: unknown month name 'foo' (use jan-dec)"},
    {"0 0 * * monday",
     9,
     "cron: column 9: unknown day-of-week name 'monday' (use sun-sat)"},
    {"0 0 L,15 * *",
     5,
     "cron: column 5: 'L' (last day of the month) must be the whole "
     "day-of-month field"},
    {"0 0 15L * *", 7, NULL},
    {"0 0 1-L * *", 7, NULL},
    {"0 0 LW * *", 5, NULL},
    {"0 0 30 2 *",
     5,
     "cron: column 5: day-of-month selects no day that exists in the "
     "selected months; the expression would never fire"},
    {"0 0 31 4 *", 5, NULL},
    {"0 0  31  4,6,9,11 *", 6, NULL},
    {"0 0 30,31 2 */2", 5, NULL},
    {"@reboot",
     1,
     "cron: column 1: @reboot is not supported: deskdb has no process-start "
     "jobs, and it would run again on every restart"},
    {"@foo",
     1,
     "cron: column 1: unknown macro '@foo' (use @yearly, @annually, @monthly, "
     "@weekly, @daily, @midnight, @hourly or @every)"},
    /* fuzz finding: quoted text kept its line breaks */
    {"@a\nb",
     1,
     "cron: column 1: unknown macro '@a?b' (use @yearly, @annually, "
     "@monthly, @weekly, @daily, @midnight, @hourly or @every)"},
    {"@", 1, NULL},
    {"@after 5m", 1, NULL},
    {"@daily 0", 8, "cron: column 8: unexpected text after @daily"},
    {"@every",
     7,
     "cron: column 7: @every needs a duration such as 30s, 5m or "
     "1h30m"},
    {"@every 0s",
     8,
     "cron: column 8: @every: the interval must be at least 1s"},
    {"@every 0h0m", 8, NULL},
    {"@every -5m",
     8,
     "cron: column 8: @every: negative durations are not allowed"},
    {"@every 367d",
     8,
     "cron: column 8: @every: the interval must be at most 366d"},
    {"@every 99999999999999999999999999h", 8, NULL},
    {"@every 366d1s", 8, NULL},
    {"@every 5",
     9,
     "cron: column 9: @every: expected a unit d, h, m or s "
     "after 5"},
    {"@every 1.5h", 9, NULL},
    {"@every 30m1h",
     12,
     "cron: column 12: @every: units must go from largest to smallest, each "
     "once (like 1h30m)"},
    {"@every 5m5m", 11, NULL},
    {"@every 500ms",
     11,
     "cron: column 11: @every: 'ms' is not supported; use whole seconds"},
    {"@every 5m extra",
     11,
     "cron: column 11: unexpected text after the @every duration"},
    {"0 0 * * m\xc3\xb6n", 9, NULL},
};

static void
test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct cron_expr e;
        struct deskdb_err err;
        int column = -1;
        int rc = cron_parse(c->text, &e, &column, &err);

        if (rc != DESKDB_EINVAL)
            fail_msg("\"%s\" accepted", c->text);
        assert_int_equal(err.code, DESKDB_EINVAL);
        if (column != c->column)
            fail_msg("\"%s\": column %d, want %d (%s)",
                     c->text,
                     column,
                     c->column,
                     err.msg);
        if (c->message != NULL && strcmp(err.msg, c->message) != 0)
            fail_msg("\"%s\":\n got: %s\nwant: %s",
                     c->text,
                     err.msg,
                     c->message);
        assert_null(strchr(err.msg, '\n'));
        assert_int_equal(cron_parse(c->text, &e, NULL, NULL), DESKDB_EINVAL);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields),
        cmocka_unit_test(test_parse_macros),
        cmocka_unit_test(test_parse_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

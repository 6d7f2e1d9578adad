/* SPDX-License-Identifier: MIT */
/* Unit tests for civil-time arithmetic and the TZif / POSIX TZ time zones. */
/* ctest-labels: concurrency */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/crontest.h"

#include "jobs/civil.h"
#include "jobs/tz.h"

/* Expected values below were produced with `zdump -v` (tzdata 2025b) while
 * writing the test; the test itself never runs zdump. */
struct expect {
    const char *zone;
    int64_t utc;
    int utoff;
    int isdst;
    const char *abbr;
};

/* ---- civil time ---- */

static void
test_civil_known_dates(void **state)
{
    int64_t y;
    int m;
    int d;

    (void)state;
    assert_int_equal(civil_days_from_date(1970, 1, 1), 0);
    assert_int_equal(civil_days_from_date(1969, 12, 31), -1);
    assert_int_equal(civil_days_from_date(2000, 3, 1), 11017);
    assert_int_equal(civil_days_from_date(0, 3, 1), -719468);
    assert_int_equal(civil_days_from_date(2025, 3, 9), 20156);
    assert_int_equal(civil_weekday(civil_days_from_date(2025, 3, 9)), 0);
    assert_int_equal(civil_weekday(civil_days_from_date(1970, 1, 1)), 4);
    assert_int_equal(civil_weekday(civil_days_from_date(1900, 1, 1)), 1);
    assert_true(civil_is_leap_year(2000));
    assert_true(civil_is_leap_year(2024));
    assert_false(civil_is_leap_year(1900));
    assert_false(civil_is_leap_year(2100));
    assert_false(civil_is_leap_year(2025));
    assert_int_equal(civil_days_in_month(2100, 2), 28);
    assert_int_equal(civil_days_in_month(2024, 2), 29);
    assert_int_equal(civil_days_in_month(2025, 4), 30);
    assert_int_equal(civil_days_in_month(2025, 13), 0);
    civil_date_from_days(-719468, &y, &m, &d);
    assert_true(y == 0 && m == 3 && d == 1);
    assert_int_equal(crontest_utc_of(2025, 3, 9, 7, 0), 1741503600);
    assert_int_equal(civil_floor_div(-1, 60), -1);
    assert_int_equal(civil_floor_div(-60, 60), -1);
    assert_int_equal(civil_floor_div(59, 60), 0);
}

static void
test_civil_round_trip(void **state)
{
    struct civil_time c;
    struct civil_time bad = {2025, 2, 29, 0, 0, 0};
    int64_t prev_y = 0;
    int prev_m = 0;
    int prev_d = 0;

    (void)state;
    for (int64_t days = -800000; days <= 800000; days++) {
        int64_t y;
        int m;
        int d;

        civil_date_from_days(days, &y, &m, &d);
        assert_int_equal(civil_days_from_date(y, m, d), days);
        if (days > -800000) {
            /* Consecutive days advance the date by exactly one. */
            bool next = (y == prev_y && m == prev_m && d == prev_d + 1) ||
                        (y == prev_y && m == prev_m + 1 && d == 1 &&
                         prev_d == civil_days_in_month(y, prev_m)) ||
                        (y == prev_y + 1 && m == 1 && d == 1 && prev_m == 12 &&
                         prev_d == 31);
            assert_true(next);
        }
        prev_y = y;
        prev_m = m;
        prev_d = d;
    }
    civil_from_seconds(-1, &c);
    assert_true(c.year == 1969 && c.month == 12 && c.day == 31 &&
                c.hour == 23 && c.minute == 59 && c.second == 59);
    assert_int_equal(civil_to_seconds(&c), -1);
    civil_from_seconds(INT64_MAX, &c); /* total: must not trap */
    civil_from_seconds(INT64_MIN, &c);
    assert_false(civil_is_valid(&bad));
    bad.year = 2024;
    assert_true(civil_is_valid(&bad));
    bad.hour = 24;
    assert_false(civil_is_valid(&bad));
}

/* ---- zone names and loading ---- */

static void
test_zone_names(void **state)
{
    static const char *const good[] = {"America/New_York",
                                       "Etc/GMT+5",
                                       "America/Port-au-Prince",
                                       "UTC",
                                       "America/Argentina/Buenos_Aires"};
    static const char *const bad[] = {"",
                                      "/etc/passwd",
                                      "../etc/passwd",
                                      "America/../../etc/passwd",
                                      "America//New_York",
                                      "America/",
                                      "America/New York",
                                      "Europe/Berlin\n",
                                      "Europe/Ber\xc3\xa4n",
                                      "./UTC",
                                      "America\\New_York"};
    char longname[300];
    struct deskdb_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(tz_validate_name(good[i], &err), DESKDB_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.msg[0] = '\0';
        assert_int_equal(tz_validate_name(bad[i], &err), DESKDB_EINVAL);
        assert_null(tz_load(bad[i], &err));
        assert_int_equal(err.code, DESKDB_EINVAL);
        assert_null(strchr(err.msg, '\n')); /* one line, even for "\n" */
    }
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(tz_validate_name(longname, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 255"));
    longname[TZ_NAME_MAX] = '\0';
    assert_int_equal(tz_validate_name(longname, &err), DESKDB_OK);
}

static void
write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* A scratch zoneinfo directory for the load tests. */
static char scratch_dir[] = "/tmp/deskdb-tz-XXXXXX";
static const char *const scratch_files[] = {"Fifo", "Big", "Junk"};

static int
scratch_setup(void **state)
{
    (void)state;
    memcpy(scratch_dir, "/tmp/deskdb-tz-XXXXXX", sizeof(scratch_dir));
    return mkdtemp(scratch_dir) == NULL ? -1 : 0;
}

static int
scratch_teardown(void **state)
{
    char path[512];

    (void)state;
    for (size_t i = 0; i < sizeof(scratch_files) / sizeof(scratch_files[0]);
         i++) {
        snprintf(path, sizeof(path), "%s/%s", scratch_dir, scratch_files[i]);
        unlink(path);
    }
    snprintf(path, sizeof(path), "%s/Area", scratch_dir);
    rmdir(path);
    return rmdir(scratch_dir);
}

static const char *
scratch_path(const char *name)
{
    static char path[512];

    snprintf(path, sizeof(path), "%s/%s", scratch_dir, name);
    return path;
}

static void
test_load_errors(void **state)
{
    const char *dir = scratch_dir;
    struct deskdb_err err;
    uint8_t *big = calloc(1, TZ_FILE_MAX + 1);

    (void)state;
    assert_non_null(big);
    assert_null(tz_load_dir(dir, "Nowhere/City", &err));
    assert_int_equal(err.code, DESKDB_ENOTFOUND);
    assert_non_null(strstr(err.msg, "unknown time zone \"Nowhere/City\""));

    assert_int_equal(mkdir(scratch_path("Area"), 0700), 0);
    assert_null(tz_load_dir(dir, "Area", &err)); /* a directory */
    assert_int_equal(err.code, DESKDB_ENOTFOUND);

    assert_int_equal(mkfifo(scratch_path("Fifo"), 0600), 0);
    assert_null(tz_load_dir(dir, "Fifo", &err)); /* must not block */
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));

    memcpy(big, "TZif2", 5);
    write_file(scratch_path("Big"), big, TZ_FILE_MAX + 1);
    assert_null(tz_load_dir(dir, "Big", &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "larger than"));

    write_file(scratch_path("Junk"), "not a zone\n", 11);
    assert_null(tz_load_dir(dir, "Junk", &err));
    assert_string_equal(err.msg,
                        "time zone \"Junk\": malformed TZif data: "
                        "truncated header");
    free(big);
}

/* $TZDIR is honoured; UTC is built in and needs no file. */
static void
test_load_tzdir_and_utc(void **state)
{
    struct deskdb_err err;
    struct tz *tz;
    const char *old = getenv("TZDIR");
    char *saved = old ? strdup(old) : NULL;

    (void)state;
    setenv("TZDIR", scratch_dir, 1);
    assert_null(tz_load("America/New_York", &err));
    assert_int_equal(err.code, DESKDB_ENOTFOUND);
    tz = tz_load("UTC", &err);
    assert_non_null(tz);
    assert_int_equal(tz_offset_at(tz, 1741503600), 0);
    assert_string_equal(tz_name(tz), "UTC");
    tz_destroy(tz);
    tz = tz_load("Etc/UTC", &err);
    assert_non_null(tz);
    assert_string_equal(tz_abbr_at(tz, 0), "UTC");
    tz_destroy(tz);
    if (saved != NULL)
        setenv("TZDIR", saved, 1);
    else
        unsetenv("TZDIR");
    free(saved);

    tz_destroy(NULL);
    tz_destroy((struct tz *)tz_utc()); /* documented no-op */
    assert_int_equal(tz_offset_at(tz_utc(), 123456789), 0);
    assert_string_equal(tz_name(tz_utc()), "UTC");
}

/* ---- offsets against zdump ---- */

static const struct expect zdump_table[] = {
    {"America/New_York", INT64_C(-2717650801), -17762, 0, "LMT"},
    {"America/New_York", INT64_C(-2717650800), -18000, 0, "EST"},
    {"America/New_York", INT64_C(1741503599), -18000, 0, "EST"},
    {"America/New_York", INT64_C(1741503600), -14400, 1, "EDT"},
    {"America/New_York", INT64_C(1762063199), -14400, 1, "EDT"},
    {"America/New_York", INT64_C(1762063200), -18000, 0, "EST"},
    /* 2090: beyond the table, from the footer EST5EDT,M3.2.0,M11.1.0 */
    {"America/New_York", INT64_C(3792985199), -18000, 0, "EST"},
    {"America/New_York", INT64_C(3792985200), -14400, 1, "EDT"},
    {"America/New_York", INT64_C(3813544799), -14400, 1, "EDT"},
    {"America/New_York", INT64_C(3813544800), -18000, 0, "EST"},
    {"Australia/Lord_Howe", INT64_C(1743865199), 39600, 1, "+11"},
    {"Australia/Lord_Howe", INT64_C(1743865200), 37800, 0, "+1030"},
    {"Australia/Lord_Howe", INT64_C(1759591799), 37800, 0, "+1030"},
    {"Australia/Lord_Howe", INT64_C(1759591800), 39600, 1, "+11"},
    {"Australia/Lord_Howe", INT64_C(3794741999), 39600, 1, "+11"},
    {"Australia/Lord_Howe", INT64_C(3794742000), 37800, 0, "+1030"},
    {"Australia/Lord_Howe", INT64_C(3810468599), 37800, 0, "+1030"},
    {"Australia/Lord_Howe", INT64_C(3810468600), 39600, 1, "+11"},
    {"Asia/Kathmandu", INT64_C(504901799), 19800, 0, "+0530"},
    {"Asia/Kathmandu", INT64_C(504901800), 20700, 0, "+0545"},
    {"Asia/Kathmandu", INT64_C(1741503600), 20700, 0, "+0545"},
    {"America/Santiago", INT64_C(1712458799), -10800, 1, "-03"},
    {"America/Santiago", INT64_C(1712458800), -14400, 0, "-04"},
    {"America/Santiago", INT64_C(1725767999), -14400, 0, "-04"},
    {"America/Santiago", INT64_C(1725768000), -10800, 1, "-03"},
    /* Samoa skipped 2011-12-30 entirely. */
    {"Pacific/Apia", INT64_C(1325239199), -36000, 1, "-10"},
    {"Pacific/Apia", INT64_C(1325239200), 50400, 1, "+14"},
    /* British Standard Time 1968-71: BST with isdst=0. */
    {"Europe/London", INT64_C(-37242001), 3600, 1, "BST"},
    {"Europe/London", INT64_C(-37242000), 3600, 0, "BST"},
    {"Europe/London", INT64_C(57722400), 0, 0, "GMT"},
    /* Troll: a two-hour DST shift. */
    {"Antarctica/Troll", INT64_C(1743296399), 0, 0, "+00"},
    {"Antarctica/Troll", INT64_C(1743296400), 7200, 1, "+02"},
    {"UTC", INT64_C(3792985200), 0, 0, "UTC"},
};

static void
test_offsets_match_zdump(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(zdump_table) / sizeof(zdump_table[0]); i++) {
        const struct expect *e = &zdump_table[i];
        struct tz *tz = crontest_zone(e->zone);
        struct tz_info info;

        tz_lookup(tz, e->utc, &info);
        if (info.utoff != e->utoff || info.isdst != (e->isdst != 0) ||
            strcmp(info.abbr, e->abbr) != 0)
            fail_msg("%s at %lld: got %d %d %s, want %d %d %s",
                     e->zone,
                     (long long)e->utc,
                     info.utoff,
                     info.isdst,
                     info.abbr,
                     e->utoff,
                     e->isdst,
                     e->abbr);
        assert_int_equal(tz_offset_at(tz, e->utc), e->utoff);
        assert_string_equal(tz_abbr_at(tz, e->utc), e->abbr);
        tz_destroy(tz);
    }
}

static void
test_next_transition(void **state)
{
    struct tz *ny = crontest_zone("America/New_York");
    struct tz *london = crontest_zone("Europe/London");
    struct tz *kath = crontest_zone("Asia/Kathmandu");
    struct tz_info info;

    (void)state;
    tz_lookup(ny, crontest_utc_of(2025, 1, 1, 0, 0), &info);
    assert_int_equal(info.next_transition, 1741503600);
    tz_lookup(ny, 1741503600, &info);
    assert_int_equal(info.next_transition, 1762063200);
    /* From the footer rule: 2090-03-12 07:00 UTC. */
    tz_lookup(ny, crontest_utc_of(2090, 1, 1, 0, 0), &info);
    assert_int_equal(info.next_transition, INT64_C(3792985200));
    /* An isdst-only change is a transition too. */
    tz_lookup(london, INT64_C(-37242001), &info);
    assert_int_equal(info.next_transition, INT64_C(-37242000));
    /* Kathmandu has not changed since 1986. */
    tz_lookup(kath, 1741503600, &info);
    assert_int_equal(info.next_transition, INT64_MAX);
    tz_destroy(ny);
    tz_destroy(london);
    tz_destroy(kath);
}

/* ---- wall time to instants ---- */

struct local_case {
    const char *zone;
    struct civil_time local;
    int n;
    int64_t first;  /* candidate 0, or the gap end when n == 0 */
    int64_t second; /* candidate 1 when n == 2 */
};

static const struct local_case local_cases[] = {
    /* New York spring forward: 02:00-02:59 do not exist. */
    {"America/New_York", {2025, 3, 9, 2, 30, 0}, 0, 1741503600, 0},
    {"America/New_York", {2025, 3, 9, 2, 0, 0}, 0, 1741503600, 0},
    {"America/New_York", {2025, 3, 9, 1, 59, 59}, 1, 1741503599, 0},
    {"America/New_York", {2025, 3, 9, 3, 0, 0}, 1, 1741503600, 0},
    /* Fall back: 01:00-01:59 happen twice (EDT, then EST). */
    {"America/New_York", {2025, 11, 2, 1, 30, 0}, 2, 1762061400, 1762065000},
    {"America/New_York", {2025, 11, 2, 1, 0, 0}, 2, 1762059600, 1762063200},
    {"America/New_York", {2025, 11, 2, 2, 0, 0}, 1, 1762066800, 0},
    {"America/New_York", {2025, 7, 4, 12, 0, 0}, 1, 1751644800, 0},
    /* Far future, from the footer rule. */
    {"America/New_York", {2090, 3, 12, 2, 15, 0}, 0, INT64_C(3792985200), 0},
    /* Lord Howe: 30-minute shifts. */
    {"Australia/Lord_Howe", {2025, 10, 5, 2, 15, 0}, 0, 1759591800, 0},
    {"Australia/Lord_Howe", {2025, 4, 6, 1, 45, 0}, 2, 1743864300, 1743866100},
    {"Australia/Lord_Howe", {2025, 4, 6, 1, 29, 0}, 1, 1743863340, 0},
    /* Santiago: midnight does not exist on 2024-09-08. */
    {"America/Santiago", {2024, 9, 8, 0, 0, 0}, 0, 1725768000, 0},
    {"America/Santiago", {2024, 4, 6, 23, 30, 0}, 2, 1712457000, 1712460600},
    /* Kathmandu 1986: 00:00-00:14 on Jan 1 never happened. */
    {"Asia/Kathmandu", {1986, 1, 1, 0, 10, 0}, 0, 504901800, 0},
    {"Asia/Kathmandu", {2025, 1, 1, 9, 0, 0}, 1, 1735701300, 0},
    /* Samoa: the whole of 2011-12-30 is missing. */
    {"Pacific/Apia", {2011, 12, 30, 12, 0, 0}, 0, 1325239200, 0},
    {"UTC", {2025, 3, 9, 2, 30, 0}, 1, 1741487400, 0},
};

static void
test_local_to_utc(void **state)
{

    (void)state;
    for (size_t i = 0; i < sizeof(local_cases) / sizeof(local_cases[0]); i++) {
        const struct local_case *c = &local_cases[i];
        struct tz *tz = crontest_zone(c->zone);
        int64_t cand[2] = {0, 0};
        int64_t gap_end = -1;
        int n = -1;

        assert_int_equal(tz_local_to_utc(tz, &c->local, cand, &n, &gap_end),
                         DESKDB_OK);
        if (n != c->n)
            fail_msg("case %zu (%s): %d instants, want %d",
                     i,
                     c->zone,
                     n,
                     c->n);
        assert_int_equal(n == 0 ? gap_end : cand[0], c->first);
        if (n == 2)
            assert_int_equal(cand[1], c->second);
        /* The first instant showing this wall time or later agrees. */
        assert_int_equal(
            tz_utc_at_or_after_local(tz, civil_to_seconds(&c->local)),
            c->first);
        tz_destroy(tz);
    }
}

static void
test_local_to_utc_rejects_invalid(void **state)
{
    struct civil_time feb30 = {2025, 2, 30, 0, 0, 0};
    struct civil_time minute60 = {2025, 1, 1, 0, 60, 0};
    int64_t cand[2];
    int n = 7;

    (void)state;
    assert_int_equal(tz_local_to_utc(tz_utc(), &feb30, cand, &n, NULL),
                     DESKDB_EINVAL);
    assert_int_equal(n, 0);
    assert_int_equal(tz_local_to_utc(tz_utc(), &minute60, cand, &n, NULL),
                     DESKDB_EINVAL);
}

static void
test_local_high_water(void **state)
{
    struct tz *ny = crontest_zone("America/New_York");
    int64_t l_0159 = crontest_utc_of(2025, 11, 2, 1, 59) + 59;

    (void)state;
    /* Normal time: the wall clock now. */
    assert_int_equal(tz_local_high_water(ny, 1751644800),
                     1751644800 - 4 * 3600);
    /* 01:15 EST (second pass): the clock already showed 01:59:59 EDT. */
    assert_int_equal(tz_local_high_water(ny, 1762064100), l_0159);
    /* 02:00 EST: caught up. */
    assert_int_equal(tz_local_high_water(ny, 1762066800),
                     crontest_utc_of(2025, 11, 2, 2, 0));
    tz_destroy(ny);
}

static void
test_format(void **state)
{
    struct tz *ny = crontest_zone("America/New_York");
    struct tz *kath = crontest_zone("Asia/Kathmandu");
    struct tz *lh = crontest_zone("Australia/Lord_Howe");
    char buf[TZ_FORMAT_MAX];
    char tiny[10];

    (void)state;
    assert_int_equal(tz_format(ny, 1741503600, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-03-09 03:00:00 EDT (-04:00)");
    assert_int_equal(tz_format(ny, 1741503599, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-03-09 01:59:59 EST (-05:00)");
    assert_int_equal(tz_format(ny, INT64_C(-2717650801), buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1883-11-18 12:03:57 LMT (-04:56:02)");
    assert_int_equal(tz_format(kath, 1735701300, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-01-01 09:00:00 +0545 (+05:45)");
    assert_int_equal(tz_format(lh, 1759591800, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "2025-10-05 02:30:00 +11 (+11:00)");
    assert_int_equal(tz_format(tz_utc(), 0, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "1970-01-01 00:00:00 UTC (+00:00)");
    assert_int_equal(tz_format(ny, 0, tiny, sizeof(tiny)), DESKDB_EINVAL);
    /* Extreme instants stay within TZ_FORMAT_MAX. */
    assert_int_equal(tz_format(ny, INT64_MAX, buf, sizeof(buf)), 0);
    assert_int_equal(tz_format(ny, INT64_MIN, buf, sizeof(buf)), 0);
    tz_destroy(ny);
    tz_destroy(kath);
    tz_destroy(lh);
}

static void
test_extreme_instants(void **state)
{
    static const char *const zones[] = {"America/New_York",
                                        "Australia/Lord_Howe",
                                        "Asia/Kathmandu",
                                        "UTC"};
    const int64_t instants[] = {INT64_MIN,
                                INT64_MIN + 1,
                                -(INT64_C(1) << 59),
                                INT64_MAX - 1,
                                INT64_MAX};
    struct civil_time first = {CIVIL_YEAR_MIN, 1, 1, 0, 0, 0};
    struct civil_time last = {CIVIL_YEAR_MAX, 12, 31, 23, 59, 59};

    (void)state;
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct tz *tz = crontest_zone(zones[z]);
        struct civil_time c;
        struct tz_info info;
        int64_t cand[2];
        int64_t gap;
        int n;

        for (size_t i = 0; i < sizeof(instants) / sizeof(instants[0]); i++) {
            int off = tz_offset_at(tz, instants[i]);

            assert_true(off > -TZ_OFFSET_MAX && off < TZ_OFFSET_MAX);
            tz_lookup(tz, instants[i], &info);
            assert_true(info.next_transition > instants[i] ||
                        info.next_transition == INT64_MAX);
            tz_civil_at(tz, instants[i], &c);
            (void)tz_local_high_water(tz, instants[i]);
            (void)tz_utc_at_or_after_local(tz, instants[i]);
        }
        assert_int_equal(tz_local_to_utc(tz, &first, cand, &n, &gap), 0);
        assert_int_equal(n, 1);
        assert_int_equal(tz_local_to_utc(tz, &last, cand, &n, &gap), 0);
        assert_int_equal(n, 1);
        tz_destroy(tz);
    }
}

/* Zones are immutable: threads share one and load others concurrently. */
struct worker {
    const struct tz *shared;
    int64_t sum;
};

static int64_t
offset_sum(const struct tz *tz)
{
    int64_t sum = 0;

    for (int64_t t = INT64_C(-3000000000); t < INT64_C(4000000000);
         t += 86400 * 3 + 1234)
        sum += tz_offset_at(tz, t) + tz_local_high_water(tz, t) - t;
    return sum;
}

static void *
worker_run(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < 3; i++) {
        struct deskdb_err err;
        struct tz *own = tz_load_dir(TZ_DEFAULT_TZDIR, "Europe/Berlin", &err);

        if (own == NULL)
            return NULL;
        w->sum = offset_sum(w->shared);
        tz_destroy(own);
    }
    return w;
}

static void
test_threads_share_a_zone(void **state)
{
    struct tz *tz = crontest_zone("America/New_York");
    int64_t want = offset_sum(tz);
    pthread_t th[4];
    struct worker w[4];

    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i].shared = tz;
        w[i].sum = 0;
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        void *ret;

        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_ptr_equal(ret, &w[i]);
        assert_int_equal(w[i].sum, want);
    }
    tz_destroy(tz);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_known_dates),
        cmocka_unit_test(test_civil_round_trip),
        cmocka_unit_test(test_zone_names),
        cmocka_unit_test_setup_teardown(test_load_errors,
                                        scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test_setup_teardown(test_load_tzdir_and_utc,
                                        scratch_setup,
                                        scratch_teardown),
        cmocka_unit_test(test_offsets_match_zdump),
        cmocka_unit_test(test_next_transition),
        cmocka_unit_test(test_local_to_utc),
        cmocka_unit_test(test_local_to_utc_rejects_invalid),
        cmocka_unit_test(test_local_high_water),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_extreme_instants),
        cmocka_unit_test(test_threads_share_a_zone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

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

/* ---- helpers: a small TZif writer for synthetic and corrupted files ---- */

struct tzif_type {
    int32_t utoff;
    uint8_t isdst;
    const char *abbr;
};

struct tzif_spec {
    char version; /* 0 (version 1), '2', '3', '4' */
    size_t ntrans;
    const int64_t *trans;
    const uint8_t *idx;
    size_t ntypes;
    const struct tzif_type *types;
    const char *footer; /* version 2+ only */
};

static uint8_t *
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

static uint8_t *
put_block(uint8_t *p, const struct tzif_spec *s, unsigned timesize)
{
    char chars[256];
    size_t nchars = 0;
    uint8_t ind[16];

    memcpy(p, "TZif", 4);
    p[4] = (uint8_t)s->version;
    memset(p + 5, 0, 15);
    for (size_t i = 0; i < s->ntypes; i++) {
        ind[i] = (uint8_t)nchars;
        memcpy(chars + nchars, s->types[i].abbr, strlen(s->types[i].abbr) + 1);
        nchars += strlen(s->types[i].abbr) + 1;
    }
    p = put32(p + 20, 0); /* isutcnt */
    p = put32(p, 0);      /* isstdcnt */
    p = put32(p, 0);      /* leapcnt */
    p = put32(p, (uint32_t)s->ntrans);
    p = put32(p, (uint32_t)s->ntypes);
    p = put32(p, (uint32_t)nchars);
    for (size_t i = 0; i < s->ntrans; i++) {
        if (timesize == 8)
            p = put32(p, (uint32_t)((uint64_t)s->trans[i] >> 32));
        p = put32(p, (uint32_t)s->trans[i]);
    }
    for (size_t i = 0; i < s->ntrans; i++)
        *p++ = s->idx[i];
    for (size_t i = 0; i < s->ntypes; i++) {
        p = put32(p, (uint32_t)s->types[i].utoff);
        *p++ = s->types[i].isdst;
        *p++ = ind[i];
    }
    memcpy(p, chars, nchars);
    return p + nchars;
}

/* Serialize `s` into buf (large enough: 4 KiB for these tests). */
static size_t
tzif_write(const struct tzif_spec *s, uint8_t *buf)
{
    uint8_t *p = put_block(buf, s, 4);

    if (s->version == 0)
        return (size_t)(p - buf);
    p = put_block(p, s, 8);
    *p++ = '\n';
    memcpy(p, s->footer, strlen(s->footer));
    p += strlen(s->footer);
    *p++ = '\n';
    return (size_t)(p - buf);
}

/* A zone with no transitions, only a footer rule. */
static struct tz *
footer_zone(const char *footer, struct deskdb_err *err)
{
    static const struct tzif_type t0 = {0, 0, "UTC"};
    struct tzif_spec s = {'3', 0, NULL, NULL, 1, &t0, footer};
    uint8_t buf[4096];

    return tz_parse(footer, buf, tzif_write(&s, buf), err);
}

/* Parse a copy of exactly len bytes, so ASan catches any read past it. */
static struct tz *
parse_exact(const uint8_t *data, size_t len, struct deskdb_err *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    struct tz *tz;

    assert_non_null(copy);
    memcpy(copy, data, len);
    tz = tz_parse("test", copy, len, err);
    free(copy);
    return tz;
}

static uint8_t *
read_system_zone(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    uint8_t *buf = malloc(TZ_FILE_MAX);

    assert_non_null(buf);
    snprintf(path, sizeof(path), "%s/%s", TZ_DEFAULT_TZDIR, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s missing: install tzdata (scripts/bootstrap)", path);
    *len = fread(buf, 1, TZ_FILE_MAX, f);
    fclose(f);
    return buf;
}

static struct tz *
load(const char *name)
{
    struct deskdb_err err;
    struct tz *tz = tz_load_dir(TZ_DEFAULT_TZDIR, name, &err);

    if (tz == NULL)
        fail_msg("%s: %s (install tzdata: scripts/bootstrap)", name, err.msg);
    return tz;
}

static int64_t
utc_of(int64_t y, int mo, int d, int h, int mi)
{
    struct civil_time c = {y, mo, d, h, mi, 0};

    return civil_to_seconds(&c);
}

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
    assert_int_equal(utc_of(2025, 3, 9, 7, 0), 1741503600);
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

static void
test_load_errors(void **state)
{
    char dir[] = "/tmp/deskdb-tz-XXXXXX";
    char path[512];
    struct deskdb_err err;
    struct tz *tz;
    uint8_t *big = calloc(1, TZ_FILE_MAX + 1);
    const char *old = getenv("TZDIR");
    char *saved = old ? strdup(old) : NULL;

    (void)state;
    assert_non_null(big);
    assert_non_null(mkdtemp(dir));
    assert_null(tz_load_dir(dir, "Nowhere/City", &err));
    assert_int_equal(err.code, DESKDB_ENOTFOUND);
    assert_non_null(strstr(err.msg, "unknown time zone \"Nowhere/City\""));

    snprintf(path, sizeof(path), "%s/Area", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(tz_load_dir(dir, "Area", &err)); /* a directory */
    assert_int_equal(err.code, DESKDB_ENOTFOUND);

    snprintf(path, sizeof(path), "%s/Fifo", dir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(tz_load_dir(dir, "Fifo", &err)); /* must not block */
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "not a regular file"));

    snprintf(path, sizeof(path), "%s/Big", dir);
    memcpy(big, "TZif2", 5);
    write_file(path, big, TZ_FILE_MAX + 1);
    assert_null(tz_load_dir(dir, "Big", &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "larger than"));

    snprintf(path, sizeof(path), "%s/Junk", dir);
    write_file(path, "not a zone\n", 11);
    assert_null(tz_load_dir(dir, "Junk", &err));
    assert_string_equal(err.msg,
                        "time zone \"Junk\": malformed TZif data: "
                        "truncated header");

    /* $TZDIR is honoured; UTC is built in and needs no file. */
    setenv("TZDIR", dir, 1);
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

    unlink(path);
    snprintf(path, sizeof(path), "%s/Big", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/Fifo", dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/Area", dir);
    rmdir(path);
    rmdir(dir);
    free(big);
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
        struct tz *tz = load(e->zone);
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
    struct tz *ny = load("America/New_York");
    struct tz *london = load("Europe/London");
    struct tz *kath = load("Asia/Kathmandu");
    struct tz_info info;

    (void)state;
    tz_lookup(ny, utc_of(2025, 1, 1, 0, 0), &info);
    assert_int_equal(info.next_transition, 1741503600);
    tz_lookup(ny, 1741503600, &info);
    assert_int_equal(info.next_transition, 1762063200);
    /* From the footer rule: 2090-03-12 07:00 UTC. */
    tz_lookup(ny, utc_of(2090, 1, 1, 0, 0), &info);
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

/* ---- POSIX TZ footer rules (zdump on the same strings) ---- */

static const struct expect rule_table[] = {
    {"EST5EDT,M3.2.0,M11.1.0", INT64_C(3730085999), -18000, 0, "EST"},
    {"EST5EDT,M3.2.0,M11.1.0", INT64_C(3730086000), -14400, 1, "EDT"},
    {"EST5EDT,M3.2.0,M11.1.0", INT64_C(3750645599), -14400, 1, "EDT"},
    {"EST5EDT,M3.2.0,M11.1.0", INT64_C(3750645600), -18000, 0, "EST"},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
     INT64_C(3731842799),
     39600,
     1,
     "+11"},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
     INT64_C(3731842800),
     37800,
     0,
     "+1030"},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
     INT64_C(3747569399),
     37800,
     0,
     "+1030"},
    {"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
     INT64_C(3747569400),
     39600,
     1,
     "+11"},
    /* RFC 9636 extension: negative rule times. */
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", INT64_C(3731273999), -10800, 0, "-03"},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", INT64_C(3731274000), -7200, 1, "-02"},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", INT64_C(3750022799), -7200, 1, "-02"},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", INT64_C(3750022800), -10800, 0, "-03"},
    /* Jn (Feb 29 never counted) and n (counted) forms, times past 24 h. */
    {"AAA3BBB,J60/2,300/25", INT64_C(3728955599), -10800, 0, "AAA"},
    {"AAA3BBB,J60/2,300/25", INT64_C(3728955600), -7200, 1, "BBB"},
    {"AAA3BBB,J60/2,300/25", INT64_C(3749770799), -7200, 1, "BBB"},
    {"AAA3BBB,J60/2,300/25", INT64_C(3749770800), -10800, 0, "AAA"},
    {"AAA3BBB,J60/2,59/167", INT64_C(3729459599), -7200, 1, "BBB"},
    {"AAA3BBB,J60/2,59/167", INT64_C(3729459600), -10800, 0, "AAA"},
    {"IST-2IDT,M3.4.4/26,M10.5.0", INT64_C(3731097599), 7200, 0, "IST"},
    {"IST-2IDT,M3.4.4/26,M10.5.0", INT64_C(3731097600), 10800, 1, "IDT"},
    {"IST-2IDT,M3.4.4/26,M10.5.0", INT64_C(3750015599), 10800, 1, "IDT"},
    {"IST-2IDT,M3.4.4/26,M10.5.0", INT64_C(3750015600), 7200, 0, "IST"},
    {"NZST-12NZDT,M9.5.0,M4.1.0/3", INT64_C(3731839199), 46800, 1, "NZDT"},
    {"NZST-12NZDT,M9.5.0,M4.1.0/3", INT64_C(3731839200), 43200, 0, "NZST"},
    {"NZST-12NZDT,M9.5.0,M4.1.0/3", INT64_C(3746959199), 43200, 0, "NZST"},
    {"NZST-12NZDT,M9.5.0,M4.1.0/3", INT64_C(3746959200), 46800, 1, "NZDT"},
    {"<-01>1<+00>,M3.5.0/0,M10.5.0/1", INT64_C(3731273999), -3600, 0, "-01"},
    {"<-01>1<+00>,M3.5.0/0,M10.5.0/1", INT64_C(3731274000), 0, 1, "+00"},
    /* No DST, offsets with minutes and seconds. */
    {"ABC-0:17:30", INT64_C(3731274000), 1050, 0, "ABC"},
    {"<+0330>-3:30", INT64_C(3731274000), 12600, 0, "+0330"},
};

static void
test_footer_rules(void **state)
{
    struct deskdb_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(rule_table) / sizeof(rule_table[0]); i++) {
        const struct expect *e = &rule_table[i];
        struct tz *tz = footer_zone(e->zone, &err);
        struct tz_info info;

        if (tz == NULL)
            fail_msg("%s: %s", e->zone, err.msg);
        tz_lookup(tz, e->utc, &info);
        if (info.utoff != e->utoff || info.isdst != (e->isdst != 0) ||
            strcmp(info.abbr, e->abbr) != 0)
            fail_msg("%s at %lld: got %d %s, want %d %s",
                     e->zone,
                     (long long)e->utc,
                     info.utoff,
                     info.abbr,
                     e->utoff,
                     e->abbr);
        tz_destroy(tz);
    }
}

static void
test_footer_matches_table(void **state)
{
    /* The New York file's footer must agree with its own table where both
     * apply (2007-2037), and a footer-only zone must agree with the file. */
    struct deskdb_err err;
    struct tz *ny = load("America/New_York");
    struct tz *rule = footer_zone("EST5EDT,M3.2.0,M11.1.0", &err);

    (void)state;
    assert_non_null(rule);
    for (int64_t t = utc_of(2008, 1, 1, 0, 0); t < utc_of(2100, 1, 1, 0, 0);
         t += 3 * 3600 + 17) {
        if (tz_offset_at(ny, t) != tz_offset_at(rule, t))
            fail_msg("differs at %lld", (long long)t);
    }
    tz_destroy(ny);
    tz_destroy(rule);
}

static void
test_permanent_dst_rule(void **state)
{
    /* RFC 9636 3.3.1: DST all year when it starts Jan 1 00:00 and ends
     * Dec 31 24:00 plus the DST difference. */
    struct deskdb_err err;
    struct tz *tz = footer_zone("EST5EDT,0/0,J365/25", &err);
    struct tz_info info;

    (void)state;
    assert_non_null(tz);
    for (int64_t t = utc_of(2030, 1, 1, 0, 0); t < utc_of(2036, 1, 1, 0, 0);
         t += 1800)
        assert_int_equal(tz_offset_at(tz, t), -14400);
    tz_lookup(tz, utc_of(2031, 12, 31, 23, 0), &info);
    assert_int_equal(info.next_transition, INT64_MAX);
    tz_destroy(tz);
}

static void
test_bad_footers(void **state)
{
    static const char *const bad[] = {
        "EST",                              /* no offset */
        "ES5",                              /* abbreviation too short */
        "EST5EDT",                          /* DST without a rule */
        "EST5EDT,M3.2.0",                   /* no end */
        "EST5EDT,M13.2.0,M11.1.0",          /* month 13 */
        "EST5EDT,M3.6.0,M11.1.0",           /* week 6 */
        "EST5EDT,M3.2.7,M11.1.0",           /* weekday 7 */
        "EST5EDT,J0,J365",                  /* J is 1-based */
        "EST5EDT,366,J365",                 /* n is 0-365 */
        "EST5EDT,M3.2.0/168,M11.1.0",       /* rule time beyond 167 h */
        "EST25",                            /* offset beyond 24 h */
        "EST5:60",                          /* minutes 60 */
        "<+1030-10:30",                     /* unterminated <...> */
        "EST5EDT,M3.2.0,M11.1.0x",          /* trailing junk */
        "EST5 ",                            /* trailing blank */
        "<+10301234567890123>-10:30",       /* abbreviation too long */
        "EST5EDT4:00:00:00,M3.2.0,M11.1.0", /* hh:mm:ss:?? */
    };
    struct deskdb_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct tz *tz = footer_zone(bad[i], &err);

        if (tz != NULL)
            fail_msg("footer \"%s\" accepted", bad[i]);
        assert_int_equal(err.code, DESKDB_EINVAL);
        assert_non_null(strstr(err.msg, "malformed TZif data"));
    }
}

/* ---- wall time to instants ---- */

struct local_case {
    const char *zone;
    struct civil_time local;
    int n;
    int64_t first;  /* candidate 0, or the gap end when n == 0 */
    int64_t second; /* candidate 1 when n == 2 */
};

static void
test_local_to_utc(void **state)
{
    static const struct local_case cases[] = {
        /* New York spring forward: 02:00-02:59 do not exist. */
        {"America/New_York", {2025, 3, 9, 2, 30, 0}, 0, 1741503600, 0},
        {"America/New_York", {2025, 3, 9, 2, 0, 0}, 0, 1741503600, 0},
        {"America/New_York", {2025, 3, 9, 1, 59, 59}, 1, 1741503599, 0},
        {"America/New_York", {2025, 3, 9, 3, 0, 0}, 1, 1741503600, 0},
        /* Fall back: 01:00-01:59 happen twice (EDT, then EST). */
        {"America/New_York",
         {2025, 11, 2, 1, 30, 0},
         2,
         1762061400,
         1762065000},
        {"America/New_York", {2025, 11, 2, 1, 0, 0}, 2, 1762059600, 1762063200},
        {"America/New_York", {2025, 11, 2, 2, 0, 0}, 1, 1762066800, 0},
        {"America/New_York", {2025, 7, 4, 12, 0, 0}, 1, 1751644800, 0},
        /* Far future, from the footer rule. */
        {"America/New_York",
         {2090, 3, 12, 2, 15, 0},
         0,
         INT64_C(3792985200),
         0},
        /* Lord Howe: 30-minute shifts. */
        {"Australia/Lord_Howe", {2025, 10, 5, 2, 15, 0}, 0, 1759591800, 0},
        {"Australia/Lord_Howe",
         {2025, 4, 6, 1, 45, 0},
         2,
         1743864300,
         1743866100},
        {"Australia/Lord_Howe", {2025, 4, 6, 1, 29, 0}, 1, 1743863340, 0},
        /* Santiago: midnight does not exist on 2024-09-08. */
        {"America/Santiago", {2024, 9, 8, 0, 0, 0}, 0, 1725768000, 0},
        {"America/Santiago",
         {2024, 4, 6, 23, 30, 0},
         2,
         1712457000,
         1712460600},
        /* Kathmandu 1986: 00:00-00:14 on Jan 1 never happened. */
        {"Asia/Kathmandu", {1986, 1, 1, 0, 10, 0}, 0, 504901800, 0},
        {"Asia/Kathmandu", {2025, 1, 1, 9, 0, 0}, 1, 1735701300, 0},
        /* Samoa: the whole of 2011-12-30 is missing. */
        {"Pacific/Apia", {2011, 12, 30, 12, 0, 0}, 0, 1325239200, 0},
        {"UTC", {2025, 3, 9, 2, 30, 0}, 1, 1741487400, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct local_case *c = &cases[i];
        struct tz *tz = load(c->zone);
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
    struct tz *ny = load("America/New_York");
    int64_t l_0159 = utc_of(2025, 11, 2, 1, 59) + 59;

    (void)state;
    /* Normal time: the wall clock now. */
    assert_int_equal(tz_local_high_water(ny, 1751644800),
                     1751644800 - 4 * 3600);
    /* 01:15 EST (second pass): the clock already showed 01:59:59 EDT. */
    assert_int_equal(tz_local_high_water(ny, 1762064100), l_0159);
    /* 02:00 EST: caught up. */
    assert_int_equal(tz_local_high_water(ny, 1762066800),
                     utc_of(2025, 11, 2, 2, 0));
    tz_destroy(ny);
}

static void
test_format(void **state)
{
    struct tz *ny = load("America/New_York");
    struct tz *kath = load("Asia/Kathmandu");
    struct tz *lh = load("Australia/Lord_Howe");
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

/* ---- synthetic and malformed TZif data ---- */

static const int64_t syn_trans[] = {-100000, 0, 86400};
static const uint8_t syn_idx[] = {1, 2, 1};
static const struct tzif_type syn_types[] = {{3600, 0, "AAA"},
                                             {7200, 0, "BBB"},
                                             {10800, 1, "CCC"}};

static size_t
synthetic(uint8_t *buf, char version, const char *footer)
{
    struct tzif_spec s = {version, 3, syn_trans, syn_idx, 3, syn_types, footer};

    return tzif_write(&s, buf);
}

static void
test_synthetic_versions(void **state)
{
    uint8_t buf[4096];
    struct deskdb_err err;
    static const char versions[] = {0, '2', '3', '4'};

    (void)state;
    for (size_t v = 0; v < sizeof(versions); v++) {
        size_t len = synthetic(buf, versions[v], "BBB-2");
        struct tz *tz = parse_exact(buf, len, &err);

        if (tz == NULL)
            fail_msg("version %d: %s", versions[v], err.msg);
        /* Before the first transition: type 0. */
        assert_int_equal(tz_offset_at(tz, -100001), 3600);
        assert_string_equal(tz_abbr_at(tz, -100001), "AAA");
        assert_int_equal(tz_offset_at(tz, -100000), 7200);
        assert_int_equal(tz_offset_at(tz, 0), 10800);
        assert_int_equal(tz_offset_at(tz, 86399), 10800);
        /* After the last: the footer (v2+) or the last type (v1). */
        assert_int_equal(tz_offset_at(tz, 86400 * 365), 7200);
        tz_destroy(tz);
    }
}

static void
expect_malformed(const uint8_t *data, size_t len, const char *why)
{
    struct deskdb_err err;
    struct tz *tz = parse_exact(data, len, &err);

    if (tz != NULL)
        fail_msg("accepted data that should fail with: %s", why);
    assert_int_equal(err.code, DESKDB_EINVAL);
    if (strstr(err.msg, why) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, why);
}

/* Offsets of fields in a version 1 synthetic file (3 transitions, 3 types,
 * 12 designation bytes). */
#define OFF_V1_TIMECNT 32
#define OFF_V1_TYPECNT 36
#define OFF_V1_CHARCNT 40
#define OFF_V1_TIMES   44
#define OFF_V1_IDX     (44 + 3 * 4)
#define OFF_V1_TYPES   (OFF_V1_IDX + 3)

static void
test_malformed_headers(void **state)
{
    uint8_t good[4096];
    uint8_t b[4096];
    size_t len = synthetic(good, 0, NULL);
    size_t len2;

    (void)state;
#define CORRUPT(off, val, why)         \
    do {                               \
        memcpy(b, good, len);          \
        b[off] = (uint8_t)(val);       \
        expect_malformed(b, len, why); \
    } while (0)
    CORRUPT(0, 'X', "bad magic");
    CORRUPT(4, '1', "bad magic or version");
    CORRUPT(OFF_V1_TIMECNT, 0x7f, "counts exceed the file");
    CORRUPT(OFF_V1_TYPECNT + 3, 0, "type count");
    CORRUPT(OFF_V1_CHARCNT + 3, 0, "designation count is zero");
    CORRUPT(OFF_V1_TIMES + 4, 0x80, "not ascending"); /* 0 -> -2^31 */
    CORRUPT(OFF_V1_IDX + 1, 3, "transition type out of range");
    CORRUPT(OFF_V1_TYPES + 4, 2, "bad isdst");
    CORRUPT(OFF_V1_TYPES + 5, 12, "designation index out of range");
    CORRUPT(OFF_V1_TYPES, 0x7f, "UTC offset out of range");
    CORRUPT(len - 1, 'x', "unterminated designation");
#undef CORRUPT
    /* Counts whose data is present but not allowed.  The extra bytes go at
     * the end, where leap records and indicators live. */
#define GROW(off, val, extra, why)               \
    do {                                         \
        memcpy(b, good, len);                    \
        memset(b + len, 2, extra);               \
        b[off] = (uint8_t)(val);                 \
        expect_malformed(b, len + (extra), why); \
    } while (0)
    GROW(31, 1, 8, "leap-second zones");             /* leapcnt = 1 */
    GROW(27, 2, 2, "standard/wall indicator count"); /* isstdcnt = 2 */
    GROW(23, 2, 2, "UT/local indicator count");      /* isutcnt = 2 */
    GROW(27, 3, 3, "bad standard/wall indicator");   /* values must be 0/1 */
#undef GROW
    /* isutcnt = 3 with isstd 0: "UT" requires "standard". */
    memcpy(b, good, len);
    memset(b + len, 0, 3);
    memset(b + len + 3, 1, 3);
    b[27] = 3;
    b[23] = 3;
    expect_malformed(b, len + 6, "UT indicator set without standard");
    /* Version 2: bad footer, missing footer, second header mismatch. */
    len2 = synthetic(b, '2', "BBB-2XYZ");
    expect_malformed(b, len2, "malformed TZif data");
    len2 = synthetic(b, '2', "BBB-2");
    expect_malformed(b, len2 - 7, "footer");
    b[len + 4] = '3';
    expect_malformed(b, len2, "bad second header");
}

/* Every strict prefix of a valid file is rejected cleanly. */
static void
check_truncations(const uint8_t *data, size_t len)
{
    struct deskdb_err err;
    struct tz *tz;

    for (size_t n = 0; n < len; n++) {
        tz = parse_exact(data, n, &err);

        if (tz != NULL)
            fail_msg("prefix of %zu/%zu bytes accepted", n, len);
        assert_int_equal(err.code, DESKDB_EINVAL);
    }
    tz = parse_exact(data, len, &err);
    assert_non_null(tz);
    tz_destroy(tz);
}

static void
test_truncations(void **state)
{
    uint8_t syn[4096];
    size_t len;
    uint8_t *ny = read_system_zone("America/New_York", &len);

    (void)state;
    check_truncations(ny, len);
    free(ny);
    check_truncations(syn, synthetic(syn, '2', "BBB-2"));
}

/* Random byte changes: whatever happens, no crash, no leak, and a zone that
 * is accepted answers every query. */
static void
test_random_corruption(void **state)
{
    size_t len;
    uint8_t *orig = read_system_zone("Australia/Lord_Howe", &len);
    uint8_t *b = malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15u;
    int accepted = 0;

    (void)state;
    assert_non_null(b);
    for (int round = 0; round < 3000; round++) {
        struct deskdb_err err;
        struct tz *tz;
        struct civil_time c = {2025, 4, 6, 1, 45, 0};
        int64_t cand[2];
        int64_t gap;
        int n;
        char buf[TZ_FORMAT_MAX];

        memcpy(b, orig, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b[(x >> 8) % len] = (uint8_t)x;
        }
        tz = parse_exact(b, len, &err);
        if (tz == NULL) {
            assert_true(err.msg[0] != '\0');
            continue;
        }
        accepted++;
        for (int64_t t = -INT64_C(4000000000); t < INT64_C(5000000000);
             t += INT64_C(86400) * 97)
            (void)tz_offset_at(tz, t);
        assert_int_equal(tz_local_to_utc(tz, &c, cand, &n, &gap), 0);
        assert_int_equal(tz_format(tz, 1743865200, buf, sizeof(buf)), 0);
        assert_int_equal(tz_format(tz, INT64_MIN, buf, sizeof(buf)), 0);
        (void)tz_utc_at_or_after_local(tz, INT64_MAX);
        (void)tz_local_high_water(tz, INT64_MAX);
        tz_destroy(tz);
    }
    /* Changes to transition times and unused bytes keep files valid. */
    assert_true(accepted > 0);
    free(b);
    free(orig);
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
        struct tz *tz = load(zones[z]);
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
    struct tz *tz = load("America/New_York");
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
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_offsets_match_zdump),
        cmocka_unit_test(test_next_transition),
        cmocka_unit_test(test_footer_rules),
        cmocka_unit_test(test_footer_matches_table),
        cmocka_unit_test(test_permanent_dst_rule),
        cmocka_unit_test(test_bad_footers),
        cmocka_unit_test(test_local_to_utc),
        cmocka_unit_test(test_local_to_utc_rejects_invalid),
        cmocka_unit_test(test_local_high_water),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_synthetic_versions),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random_corruption),
        cmocka_unit_test(test_extreme_instants),
        cmocka_unit_test(test_threads_share_a_zone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for reading TZif data: footer rules, versions, malformed files. */
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
    struct tz *ny = crontest_zone("America/New_York");
    struct tz *rule = footer_zone("EST5EDT,M3.2.0,M11.1.0", &err);

    (void)state;
    assert_non_null(rule);
    for (int64_t t = crontest_utc_of(2008, 1, 1, 0, 0);
         t < crontest_utc_of(2100, 1, 1, 0, 0);
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
    for (int64_t t = crontest_utc_of(2030, 1, 1, 0, 0);
         t < crontest_utc_of(2036, 1, 1, 0, 0);
         t += 1800)
        assert_int_equal(tz_offset_at(tz, t), -14400);
    tz_lookup(tz, crontest_utc_of(2031, 12, 31, 23, 0), &info);
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
int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_footer_rules),
        cmocka_unit_test(test_footer_matches_table),
        cmocka_unit_test(test_permanent_dst_rule),
        cmocka_unit_test(test_bad_footers),
        cmocka_unit_test(test_synthetic_versions),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_random_corruption),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

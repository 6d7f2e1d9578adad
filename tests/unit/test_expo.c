/* SPDX-License-Identifier: MIT */
/* Unit tests for the exposition writer: golden bodies in both formats,
 * escaping, numbers, negotiation, gzip, and the validator itself. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <zlib.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "exporter/expo.h"
#include "support/expo_lint.h"

/* ---- a fixed snapshot --------------------------------------------------- */

/* The snapshot structs hold plain char pointers; the literals stay unwritten.
 */
#define S(literal) ((char *)(literal))

static char *path_label[] = {S("path"), NULL};
static char *sign_label[] = {S("sign"), NULL};
static char *kind_label[] = {S("kind"), NULL};
static char *pool_label[] = {S("pool"), NULL};

static struct metrics_sample escape_samples[] = {
    {.label_values = (char *[]){S("C:\\DIR\\FILE.TXT"), NULL}, .value = 1},
    {.label_values = (char *[]){S("Cannot find file:\n\"FILE.TXT\""), NULL},
     .value = 2},
    {.label_values = (char *[]){S("app \"x\" \\ y\nz"), NULL},
     .value = 9007199254740992.0},
    {.label_values = (char *[]){S("pg_stat_statements.max"), NULL},
     .value = 1e21},
};
static struct metrics_sample empty_samples[] = {{.value = NAN}};
static struct metrics_sample inf_samples[] = {
    {.label_values = (char *[]){S("neg"), NULL}, .value = -INFINITY},
    {.label_values = (char *[]){S("pos"), NULL}, .value = INFINITY},
};
static double query_buckets[] = {0.005, 1, 2.5};
static struct metrics_sample query_samples[] = {
    {.label_values = (char *[]){S("main"), NULL},
     .bucket_counts = (uint64_t[]){1, 3, 4},
     .sum = 7.25,
     .count = 5},
};
static struct metrics_sample small_samples[] = {
    {.label_values = (char *[]){S("nano"), NULL}, .value = 1e-9},
    {.label_values = (char *[]){S("tenth"), NULL}, .value = 0.1},
};
static double wait_buckets[] = {0.5};
static struct metrics_sample wait_samples[] = {
    {.bucket_counts = (uint64_t[]){0}, .sum = 0, .count = 0},
};

static struct metrics_snapshot_family golden_families[] = {
    {.name = S("deskdb_empty_labels"),
     .help = S("No labels at all."),
     .type = METRIC_GAUGE,
     .samples = empty_samples,
     .n_samples = 1},
    {.name = S("deskdb_escape_total"),
     .help = S("Escaping: back\\slash, \"quotes\" and\na newline."),
     .type = METRIC_COUNTER,
     .label_names = path_label,
     .n_labels = 1,
     .samples = escape_samples,
     .n_samples = 4},
    {.name = S("deskdb_inf"),
     .help = S("Infinities."),
     .type = METRIC_GAUGE,
     .label_names = sign_label,
     .n_labels = 1,
     .samples = inf_samples,
     .n_samples = 2},
    {.name = S("deskdb_query_duration_seconds"),
     .help = S("Query latency."),
     .type = METRIC_HISTOGRAM,
     .label_names = pool_label,
     .n_labels = 1,
     .buckets = query_buckets,
     .n_buckets = 3,
     .samples = query_samples,
     .n_samples = 1},
    {.name = S("deskdb_small"),
     .help = S("Tiny values."),
     .type = METRIC_GAUGE,
     .label_names = kind_label,
     .n_labels = 1,
     .samples = small_samples,
     .n_samples = 2},
    {.name = S("deskdb_wait_seconds"),
     .help = S("Waits."),
     .type = METRIC_HISTOGRAM,
     .buckets = wait_buckets,
     .n_buckets = 1,
     .samples = wait_samples,
     .n_samples = 1},
};

static const struct metrics_snapshot golden = {
    .families = golden_families,
    .n_families = sizeof(golden_families) / sizeof(golden_families[0]),
};

static const char golden_text[] =
    "# HELP deskdb_empty_labels No labels at all.\n"
    "# TYPE deskdb_empty_labels gauge\n"
    "deskdb_empty_labels NaN\n"
    "# HELP deskdb_escape_total Escaping: back\\\\slash, \"quotes\" and\\na "
    "newline.\n"
    "# TYPE deskdb_escape_total counter\n"
    "deskdb_escape_total{path=\"C:\\\\DIR\\\\FILE.TXT\"} 1\n"
    "deskdb_escape_total{path=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 2\n"
    "deskdb_escape_total{path=\"app \\\"x\\\" \\\\ y\\nz\"} "
    "9007199254740992\n"
    "deskdb_escape_total{path=\"pg_stat_statements.max\"} 1e+21\n"
    "# HELP deskdb_inf Infinities.\n"
    "# TYPE deskdb_inf gauge\n"
    "deskdb_inf{sign=\"neg\"} -Inf\n"
    "deskdb_inf{sign=\"pos\"} +Inf\n"
    "# HELP deskdb_query_duration_seconds Query latency.\n"
    "# TYPE deskdb_query_duration_seconds histogram\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"0.005\"} 1\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"1\"} 3\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"2.5\"} 4\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"+Inf\"} 5\n"
    "deskdb_query_duration_seconds_sum{pool=\"main\"} 7.25\n"
    "deskdb_query_duration_seconds_count{pool=\"main\"} 5\n"
    "# HELP deskdb_small Tiny values.\n"
    "# TYPE deskdb_small gauge\n"
    "deskdb_small{kind=\"nano\"} 1e-09\n"
    "deskdb_small{kind=\"tenth\"} 0.1\n"
    "# HELP deskdb_wait_seconds Waits.\n"
    "# TYPE deskdb_wait_seconds histogram\n"
    "deskdb_wait_seconds_bucket{le=\"0.5\"} 0\n"
    "deskdb_wait_seconds_bucket{le=\"+Inf\"} 0\n"
    "deskdb_wait_seconds_sum 0\n"
    "deskdb_wait_seconds_count 0\n";

static const char golden_openmetrics[] =
    "# TYPE deskdb_empty_labels gauge\n"
    "# HELP deskdb_empty_labels No labels at all.\n"
    "deskdb_empty_labels NaN\n"
    "# TYPE deskdb_escape counter\n"
    "# HELP deskdb_escape Escaping: back\\\\slash, \\\"quotes\\\" and\\na "
    "newline.\n"
    "deskdb_escape_total{path=\"C:\\\\DIR\\\\FILE.TXT\"} 1.0\n"
    "deskdb_escape_total{path=\"Cannot find file:\\n\\\"FILE.TXT\\\"\"} 2.0\n"
    "deskdb_escape_total{path=\"app \\\"x\\\" \\\\ y\\nz\"} "
    "9007199254740992.0\n"
    "deskdb_escape_total{path=\"pg_stat_statements.max\"} 1e+21\n"
    "# TYPE deskdb_inf gauge\n"
    "# HELP deskdb_inf Infinities.\n"
    "deskdb_inf{sign=\"neg\"} -Inf\n"
    "deskdb_inf{sign=\"pos\"} +Inf\n"
    "# TYPE deskdb_query_duration_seconds histogram\n"
    "# HELP deskdb_query_duration_seconds Query latency.\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"0.005\"} 1\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"1.0\"} 3\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"2.5\"} 4\n"
    "deskdb_query_duration_seconds_bucket{pool=\"main\",le=\"+Inf\"} 5\n"
    "deskdb_query_duration_seconds_count{pool=\"main\"} 5\n"
    "deskdb_query_duration_seconds_sum{pool=\"main\"} 7.25\n"
    "# TYPE deskdb_small gauge\n"
    "# HELP deskdb_small Tiny values.\n"
    "deskdb_small{kind=\"nano\"} 1e-09\n"
    "deskdb_small{kind=\"tenth\"} 0.1\n"
    "# TYPE deskdb_wait_seconds histogram\n"
    "# HELP deskdb_wait_seconds Waits.\n"
    "deskdb_wait_seconds_bucket{le=\"0.5\"} 0\n"
    "deskdb_wait_seconds_bucket{le=\"+Inf\"} 0\n"
    "deskdb_wait_seconds_count 0\n"
    "deskdb_wait_seconds_sum 0.0\n"
    "# EOF\n";

/* Render `snap`, assert the validator accepts it and return it (free). */
static char *
render_checked(const struct metrics_snapshot *snap, enum expo_format fmt)
{
    struct buf b;
    char msg[256];

    buf_init(&b, EXPO_MAX_BODY);
    assert_int_equal(expo_render(snap, fmt, &b), DESKDB_OK);
    if (expo_lint(b.data != NULL ? b.data : "", b.len, fmt, msg, sizeof(msg)) !=
        0)
        fail_msg("validator rejected our output: %s\n%s", msg, b.data);
    return buf_take(&b);
}

static void
test_golden_text(void **state)
{
    char *body = render_checked(&golden, EXPO_FORMAT_TEXT);

    (void)state;
    assert_string_equal(body, golden_text);
    free(body);
}

static void
test_golden_openmetrics(void **state)
{
    char *body = render_checked(&golden, EXPO_FORMAT_OPENMETRICS);

    (void)state;
    assert_string_equal(body, golden_openmetrics);
    free(body);
}

static void
test_empty_snapshot(void **state)
{
    struct metrics_snapshot none = {0};
    char *body;

    (void)state;
    body = render_checked(&none, EXPO_FORMAT_TEXT);
    assert_string_equal(body, "");
    free(body);
    body = render_checked(&none, EXPO_FORMAT_OPENMETRICS);
    assert_string_equal(body, "# EOF\n");
    free(body);
}

static void
test_render_respects_cap(void **state)
{
    struct buf b;
    size_t cap;

    (void)state;
    /* every cap short of the full body fails, none writes past the cap */
    for (cap = 0; cap < sizeof(golden_text) - 1; cap += 37) {
        buf_init(&b, cap);
        assert_int_equal(expo_render(&golden, EXPO_FORMAT_TEXT, &b),
                         DESKDB_EBUSY);
        assert_true(b.overflow);
        assert_true(b.len <= cap);
        buf_fini(&b);
    }
    buf_init(&b, sizeof(golden_text) - 1);
    assert_int_equal(expo_render(&golden, EXPO_FORMAT_TEXT, &b), DESKDB_OK);
    assert_int_equal(b.len, sizeof(golden_text) - 1);
    buf_fini(&b);
}

/* ---- numbers ------------------------------------------------------------ */

static void
expect_number(double v, enum expo_format fmt, const char *want)
{
    char out[EXPO_NUMBER_MAX];
    size_t n = expo_format_number(v, fmt, out);

    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
}

static void
test_numbers(void **state)
{
    (void)state;
    expect_number(0, EXPO_FORMAT_TEXT, "0");
    expect_number(-0.0, EXPO_FORMAT_TEXT, "-0");
    expect_number(1, EXPO_FORMAT_TEXT, "1");
    expect_number(-42, EXPO_FORMAT_TEXT, "-42");
    expect_number(1.5, EXPO_FORMAT_TEXT, "1.5");
    expect_number(0.1, EXPO_FORMAT_TEXT, "0.1");
    expect_number(0.1 + 0.2, EXPO_FORMAT_TEXT, "0.30000000000000004");
    expect_number(1e-9, EXPO_FORMAT_TEXT, "1e-09");
    expect_number(0.005, EXPO_FORMAT_TEXT, "0.005");
    expect_number(123456789.125, EXPO_FORMAT_TEXT, "123456789.125");
    expect_number(9007199254740992.0, EXPO_FORMAT_TEXT, "9007199254740992");
    expect_number(9007199254740994.0, EXPO_FORMAT_TEXT, "9007199254740994");
    expect_number(0x1p62, EXPO_FORMAT_TEXT, "4611686018427387904");
    expect_number(1e21, EXPO_FORMAT_TEXT, "1e+21");
    expect_number(1.7976931348623157e308,
                  EXPO_FORMAT_TEXT,
                  "1.7976931348623157e+308");
    expect_number(NAN, EXPO_FORMAT_TEXT, "NaN");
    expect_number(INFINITY, EXPO_FORMAT_TEXT, "+Inf");
    expect_number(-INFINITY, EXPO_FORMAT_TEXT, "-Inf");
    expect_number(1, EXPO_FORMAT_OPENMETRICS, "1.0");
    expect_number(0, EXPO_FORMAT_OPENMETRICS, "0.0");
    expect_number(-3, EXPO_FORMAT_OPENMETRICS, "-3.0");
    expect_number(0.25, EXPO_FORMAT_OPENMETRICS, "0.25");
    expect_number(1e21, EXPO_FORMAT_OPENMETRICS, "1e+21");
    expect_number(1e-9, EXPO_FORMAT_OPENMETRICS, "1e-09");
    expect_number(NAN, EXPO_FORMAT_OPENMETRICS, "NaN");
    expect_number(-INFINITY, EXPO_FORMAT_OPENMETRICS, "-Inf");
}

/* Every finite double reads back exactly, in no more characters than
 * %.17g would take. */
static void
test_numbers_round_trip(void **state)
{
    uint64_t x = UINT64_C(0x9E3779B97F4A7C15);
    char out[EXPO_NUMBER_MAX];
    char longest[64];
    double v;
    int i;

    (void)state;
    for (i = 0; i < 200000; i++) {
        /* xorshift64: random bit patterns cover every exponent */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&v, &x, sizeof(v));
        if (!isfinite(v))
            continue;
        expo_format_number(v, EXPO_FORMAT_TEXT, out);
        snprintf(longest, sizeof(longest), "%.17g", v);
        if (strtod(out, NULL) != v || strlen(out) > strlen(longest))
            fail_msg("%s does not round-trip %s", out, longest);
    }
}

/* Check the writer under the LC_NUMERIC locale now set. */
static void
check_numbers_in_locale(const char *name)
{
    char out[EXPO_NUMBER_MAX];
    char native[32];
    char *body;

    /* make sure the locale really has another decimal point */
    snprintf(native, sizeof(native), "%.1f", 1.5);
    assert_string_not_equal(native, "1.5");
    printf("# %s writes 1.5 as %s\n", name, native);
    expo_format_number(1.5, EXPO_FORMAT_TEXT, out);
    assert_string_equal(out, "1.5");
    expo_format_number(0.1 + 0.2, EXPO_FORMAT_OPENMETRICS, out);
    assert_string_equal(out, "0.30000000000000004");
    expo_format_number(-2.5e-7, EXPO_FORMAT_TEXT, out);
    assert_string_equal(out, "-2.5e-07");
    body = render_checked(&golden, EXPO_FORMAT_OPENMETRICS);
    assert_string_equal(body, golden_openmetrics);
    free(body);
    body = render_checked(&golden, EXPO_FORMAT_TEXT);
    assert_string_equal(body, golden_text);
    free(body);
}

/* Compile a locale with localedef into `dir` (on LOCPATH) and select it
 * for LC_NUMERIC; false when this machine cannot. */
static bool
locale_build(const char *dir, const char *name)
{
    char cmd[512];
    char locale[64];

    snprintf(cmd,
             sizeof(cmd),
             "localedef -i %s -f UTF-8 %s/%s.UTF-8 >/dev/null 2>&1",
             name,
             dir,
             name);
    if (system(cmd) != 0)
        return false;
    snprintf(locale, sizeof(locale), "%s.UTF-8", name);
    return setlocale(LC_NUMERIC, locale) != NULL;
}

/* LC_NUMERIC must not leak into the output ('1,5' is no number): try a
 * comma locale and one whose decimal point is multibyte (U+066B). */
static void
test_numbers_ignore_locale(void **state)
{
    static const char *const wanted[] = {"de_DE", "ps_AF"};
    char dir[] = "/tmp/deskdb-locale-XXXXXX";
    char cmd[64];
    char installed[64];
    size_t i;
    int tried = 0;

    (void)state;
    for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        snprintf(installed, sizeof(installed), "%s.UTF-8", wanted[i]);
        if (setlocale(LC_NUMERIC, installed) != NULL) {
            check_numbers_in_locale(installed);
            tried++;
        }
    }
    if (tried == 0 && mkdtemp(dir) != NULL) {
        setenv("LOCPATH", dir, 1);
        for (i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
            if (locale_build(dir, wanted[i])) {
                check_numbers_in_locale(wanted[i]);
                tried++;
            }
            setlocale(LC_NUMERIC, "C");
        }
        unsetenv("LOCPATH");
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
    }
    setlocale(LC_NUMERIC, "C");
    if (tried == 0)
        printf("# no other LC_NUMERIC locale available; checked C only\n");
}

/* ---- negotiation -------------------------------------------------------- */

static void
test_negotiate(void **state)
{
    static const struct {
        const char *accept;
        enum expo_format want;
    } cases[] = {
        /* Prometheus 3 default scrape header */
        {"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q="
         "0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/"
         "plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/"
         "plain;version=0.0.4;q=0.2,*/*;q=0.1",
         EXPO_FORMAT_OPENMETRICS},
        /* protobuf first (native histograms): next supported entry */
        {"application/vnd.google.protobuf;proto=io.prometheus.client."
         "MetricFamily;encoding=delimited;q=0.6,application/"
         "openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0."
         "4,*/*;q=0.1",
         EXPO_FORMAT_OPENMETRICS},
        {"application/vnd.google.protobuf;proto=io.prometheus.client."
         "MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q="
         "0.3,*/*;q=0.1",
         EXPO_FORMAT_TEXT},
        /* Prometheus 2 */
        {"application/openmetrics-text; version=0.0.1,text/plain;version=0.0."
         "4;q=0.5,*/*;q=0.1",
         EXPO_FORMAT_OPENMETRICS},
        {NULL, EXPO_FORMAT_TEXT},
        {"", EXPO_FORMAT_TEXT},
        {"*/*", EXPO_FORMAT_TEXT},
        {"text/plain", EXPO_FORMAT_TEXT},
        {"text/*", EXPO_FORMAT_TEXT},
        {"application/json", EXPO_FORMAT_TEXT},
        {"application/openmetrics-text", EXPO_FORMAT_OPENMETRICS},
        {"APPLICATION/OpenMetrics-Text; Version=\"1.0.0\"",
         EXPO_FORMAT_OPENMETRICS},
        {"application/openmetrics-text;version=2.0.0", EXPO_FORMAT_TEXT},
        {"application/openmetrics-text;q=0,*/*", EXPO_FORMAT_TEXT},
        {"text/plain;q=0, */*", EXPO_FORMAT_OPENMETRICS},
        {"text/plain;q=0.9,application/openmetrics-text;q=0.8",
         EXPO_FORMAT_TEXT},
        {"text/plain;q=0.5,application/openmetrics-text;q=0.5",
         EXPO_FORMAT_TEXT},
        {"application/openmetrics-text;q=1.5", EXPO_FORMAT_TEXT},
        {"application/openmetrics-text;q=abc,text/plain;q=0.1",
         EXPO_FORMAT_TEXT},
        {" , ,application/openmetrics-text ; q=0.9 ", EXPO_FORMAT_OPENMETRICS},
        {"text/plain;version=0.0.5", EXPO_FORMAT_TEXT},
        {";;;,=,\"", EXPO_FORMAT_TEXT},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (expo_negotiate(cases[i].accept) != cases[i].want)
            fail_msg("Accept: %s", cases[i].accept ? cases[i].accept : "-");
    }
    assert_string_equal(expo_content_type(EXPO_FORMAT_TEXT),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(
        expo_content_type(EXPO_FORMAT_OPENMETRICS),
        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void
test_gzip_accepted(void **state)
{
    static const struct {
        const char *header;
        bool want;
    } cases[] = {
        {"gzip", true},
        {"gzip;q=1", true},
        {"x, gzip", true},
        {"deflate, gzip;q=0.5, br", true},
        {"GZIP", true},
        {"x-gzip", true},
        {"*", true},
        {"identity", false},
        {"gzip;q=0", false},
        {"gzip;q=0.000", false},
        {"*, gzip;q=0", false},
        {"br, deflate", false},
        {"", false},
        {NULL, false},
        {"gzipx", false},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (expo_gzip_accepted(cases[i].header) != cases[i].want)
            fail_msg("Accept-Encoding: %s",
                     cases[i].header ? cases[i].header : "-");
    }
}

/* ---- gzip --------------------------------------------------------------- */

static void
inflate_all(const struct buf *in, struct buf *out)
{
    unsigned char chunk[4096];
    z_stream zs;
    int zrc;

    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK); /* gzip only */
    zs.next_in = (unsigned char *)in->data;
    zs.avail_in = (uInt)in->len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        zrc = inflate(&zs, Z_NO_FLUSH);
        assert_true(zrc == Z_OK || zrc == Z_STREAM_END);
        assert_int_equal(buf_append(out, chunk, sizeof(chunk) - zs.avail_out),
                         DESKDB_OK);
    } while (zrc != Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0);
    inflateEnd(&zs);
}

static void
test_gzip_round_trip(void **state)
{
    struct buf plain;
    struct buf packed;
    struct buf back;
    int i;

    (void)state;
    buf_init(&plain, EXPO_MAX_BODY);
    for (i = 0; i < 200; i++)
        assert_int_equal(expo_render(&golden, EXPO_FORMAT_TEXT, &plain), 0);
    buf_init(&packed, EXPO_MAX_BODY);
    buf_init(&back, EXPO_MAX_BODY);
    assert_int_equal(expo_gzip(&plain, &packed), DESKDB_OK);
    assert_true(packed.len < plain.len / 10);
    assert_int_equal((unsigned char)packed.data[0], 0x1f);
    assert_int_equal((unsigned char)packed.data[1], 0x8b);
    inflate_all(&packed, &back);
    assert_int_equal(back.len, plain.len);
    assert_memory_equal(back.data, plain.data, plain.len);

    /* an empty body is still a valid gzip member */
    buf_reset(&plain);
    buf_reset(&packed);
    buf_reset(&back);
    assert_int_equal(expo_gzip(&plain, &packed), DESKDB_OK);
    inflate_all(&packed, &back);
    assert_int_equal(back.len, 0);
    buf_fini(&plain);
    buf_fini(&packed);
    buf_fini(&back);
}

static void
test_gzip_respects_cap(void **state)
{
    struct buf plain;
    struct buf packed;

    (void)state;
    buf_init(&plain, EXPO_MAX_BODY);
    assert_int_equal(expo_render(&golden, EXPO_FORMAT_TEXT, &plain), 0);
    buf_init(&packed, 16);
    assert_int_equal(expo_gzip(&plain, &packed), DESKDB_EBUSY);
    assert_true(packed.len <= 16);
    buf_fini(&plain);
    buf_fini(&packed);
}

/* ---- registry to body --------------------------------------------------- */

static void
odd_collector(void *arg, struct metrics_sink *sink)
{
    static const char *const names[] = {"application_name", NULL};
    static const char *const bad[] = {"\xff\xfe app", NULL};
    static const char *const dup[] = {"psql", NULL};

    (void)arg;
    assert_int_equal(metrics_sink_family(sink,
                                         METRIC_GAUGE,
                                         "pg_stat_activity_connections",
                                         "Backends by application.",
                                         names),
                     DESKDB_OK);
    metrics_sink_sample(sink, bad, 1);
    metrics_sink_sample(sink, dup, 2);
    metrics_sink_sample(sink, dup, 3);
    /* a pg_settings name with a dot is not a metric name */
    assert_int_equal(metrics_sink_family(sink,
                                         METRIC_GAUGE,
                                         "pg_settings_pg_stat_statements.max",
                                         "A setting.",
                                         NULL),
                     DESKDB_EINVAL);
    metrics_sink_sample(sink, NULL, 5000);
}

static void
test_registry_renders_valid_bodies(void **state)
{
    static const char *const pool[] = {"pool", NULL};
    static const double buckets[] = {0.001, 0.01, 0.1, 1, 10};
    struct metrics *m = metrics_create();
    struct metric_family *f;
    struct metrics_snapshot *snap;
    char *text;
    char *om;
    int i;

    (void)state;
    assert_non_null(m);
    f = metrics_family(m,
                       METRIC_HISTOGRAM,
                       "deskdb_pool_acquire_duration_seconds",
                       "Time to get a connection from the pool.",
                       pool,
                       buckets,
                       5);
    for (i = 0; i < 100; i++)
        metric_observe(metric_series(f, (const char *[]){"main"}), i * 0.013);
    metric_add(metrics_counter(m, "deskdb_queries_total", "Queries run."), 41);
    metric_set(metrics_gauge(m, "deskdb_up", "1 if deskdb is up."), 1);
    assert_int_equal(metrics_add_process_collector(m), DESKDB_OK);
    assert_int_equal(metrics_add_collector(m, odd_collector, NULL), 0);
    snap = metrics_snapshot_create(m, NULL, NULL);
    assert_non_null(snap);
    text = render_checked(snap, EXPO_FORMAT_TEXT);
    om = render_checked(snap, EXPO_FORMAT_OPENMETRICS);
    assert_non_null(strstr(text, "deskdb_queries_total 41\n"));
    assert_non_null(strstr(om, "# TYPE deskdb_queries counter\n"));
    assert_non_null(strstr(om, "deskdb_queries_total 41.0\n"));
    assert_non_null(strstr(text,
                           "deskdb_pool_acquire_duration_seconds_bucket{pool="
                           "\"main\",le=\"0.001\"} 1\n"));
    assert_non_null(strstr(text,
                           "deskdb_pool_acquire_duration_seconds_count{pool="
                           "\"main\"} 100\n"));
    assert_non_null(strstr(text,
                           "pg_stat_activity_connections{application_name="
                           "\"\xEF\xBF\xBD app\"} 1\n"));
    assert_non_null(strstr(text,
                           "pg_stat_activity_connections{application_name="
                           "\"psql\"} 2\n"));
    assert_non_null(strstr(text,
                           "deskdb_exposition_dropped_series_total{reason="
                           "\"duplicate\"} 1\n"));
    assert_non_null(strstr(text,
                           "deskdb_exposition_dropped_series_total{reason="
                           "\"invalid_name\"} 1\n"));
    assert_null(strstr(text, "pg_settings"));
    assert_null(strstr(text, "\n\n"));
    free(text);
    free(om);
    metrics_snapshot_destroy(snap);
    metrics_destroy(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_text),
        cmocka_unit_test(test_golden_openmetrics),
        cmocka_unit_test(test_empty_snapshot),
        cmocka_unit_test(test_render_respects_cap),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_numbers_round_trip),
        cmocka_unit_test(test_numbers_ignore_locale),
        cmocka_unit_test(test_negotiate),
        cmocka_unit_test(test_gzip_accepted),
        cmocka_unit_test(test_gzip_round_trip),
        cmocka_unit_test(test_gzip_respects_cap),
        cmocka_unit_test(test_registry_renders_valid_bodies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

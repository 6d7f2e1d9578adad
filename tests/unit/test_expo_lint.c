/* SPDX-License-Identifier: MIT */
/* Unit tests for the exposition validator in tests/support: it must accept
 * valid bodies and name the rule that each broken one violates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <stdio.h>

#include "support/expo_lint.h"

struct lint_case {
    int rule; /* 0: must pass */
    const char *body;
};

static void
run_lint_cases(const struct lint_case *cases, size_t n, enum expo_format fmt)
{
    char msg[256];
    char want[32];
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        rc = expo_lint(cases[i].body,
                       strlen(cases[i].body),
                       fmt,
                       msg,
                       sizeof(msg));
        if (cases[i].rule == 0) {
            if (rc != 0)
                fail_msg("case %zu rejected: %s", i, msg);
            continue;
        }
        snprintf(want, sizeof(want), "rule %d:", cases[i].rule);
        if (rc == 0 || strstr(msg, want) == NULL)
            fail_msg("case %zu: wanted %s got '%s' for:\n%s",
                     i,
                     want,
                     rc == 0 ? "accepted" : msg,
                     cases[i].body);
    }
}

#define GAUGE_HEAD "# HELP g A gauge.\n# TYPE g gauge\n"
#define HIST_HEAD  "# HELP h_seconds H.\n# TYPE h_seconds histogram\n"

static void
test_lint_text(void **state)
{
    static const struct lint_case cases[] = {
        /* research/validation/metrics_good.prom */
        {0,
         "# HELP pgpool_pool_waiting_clients Clients currently waiting.\n"
         "# TYPE pgpool_pool_waiting_clients gauge\n"
         "pgpool_pool_waiting_clients{pool=\"main\"} 7\n"
         "# HELP pgpool_slow_queries_total Slow queries.\n"
         "# TYPE pgpool_slow_queries_total counter\n"
         "pgpool_slow_queries_total{pool=\"main\"} 120\n"
         "# HELP pgpool_query_duration_seconds Query latency.\n"
         "# TYPE pgpool_query_duration_seconds histogram\n"
         "pgpool_query_duration_seconds_bucket{pool=\"main\",le=\"0.01\"} 1\n"
         "pgpool_query_duration_seconds_bucket{pool=\"main\",le=\"+Inf\"} 2\n"
         "pgpool_query_duration_seconds_sum{pool=\"main\"} 0.03\n"
         "pgpool_query_duration_seconds_count{pool=\"main\"} 2\n"},
        {0, ""},
        {0, "# a plain comment\n" GAUGE_HEAD "g 1\n\n"},
        /* research/validation/metrics_bad.prom, one problem each */
        {21,
         "# TYPE pgpool_slow_queries_total counter\n"
         "pgpool_slow_queries_total 120\n"},
        {18,
         "# HELP pgpool_slow_queries S.\n"
         "# TYPE pgpool_slow_queries counter\npgpool_slow_queries 1\n"},
        {21,
         "# HELP pgpool_query_duration_ms Q.\n"
         "# TYPE pgpool_query_duration_ms histogram\n"
         "pgpool_query_duration_ms_bucket{le=\"10\"} 1\n"
         "pgpool_query_duration_ms_bucket{le=\"+Inf\"} 2\n"
         "pgpool_query_duration_ms_sum 30\n"
         "pgpool_query_duration_ms_count 2\n"},
        {21,
         "# HELP pgpool_deadlockRetries_total D.\n"
         "# TYPE pgpool_deadlockRetries_total counter\n"
         "pgpool_deadlockRetries_total 3\n"},
        {21,
         "# HELP pgpool_health_gauge H.\n# TYPE pgpool_health_gauge "
         "gauge\npgpool_health_gauge 1\n"},
        /* bytes (9) */
        {9, GAUGE_HEAD "g 1\r\n"},
        {9, GAUGE_HEAD "g 1"},
        {9, GAUGE_HEAD "g{a=\"\xff\"} 1\n"},
        /* metadata (10, 11) */
        {10, "#HELP g A gauge.\n# TYPE g gauge\ng 1\n"},
        {10, "# HELP g A gauge.\n#  TYPE g gauge\ng 1\n"},
        {11, GAUGE_HEAD "# TYPE g gauge\ng 1\n"},
        {11, "# HELP g A gauge.\n# TYPE g gauges\ng 1\n"},
        {11, "# HELP g A gauge.\ng 1\n# TYPE g gauge\n"},
        /* grouping and uniqueness (12) */
        {12, GAUGE_HEAD "g{a=\"1\"} 1\ng{a=\"1\"} 2\n"},
        {12, GAUGE_HEAD "g{a=\"1\",b=\"2\"} 1\ng{b=\"2\",a=\"1\"} 2\n"},
        {12,
         GAUGE_HEAD "g{a=\"1\"} 1\n# HELP f F.\n# TYPE f gauge\nf 1\n"
                    "g{a=\"2\"} 1\n"},
        /* names (13) */
        {13, GAUGE_HEAD "g{=\"x\"} 1\n"},
        {13, GAUGE_HEAD "g{__x=\"1\"} 1\n"},
        {13, GAUGE_HEAD "g{a=\"1\",a=\"2\"} 1\n"},
        {13, "# HELP g:x G.\n# TYPE g:x gauge\ng:x 1\n"},
        {13, GAUGE_HEAD "g{1a=\"x\"} 1\n"},
        /* escaping (14, 15) */
        {14, "# HELP g A \\\"gauge\\\".\n# TYPE g gauge\ng 1\n"},
        {15, GAUGE_HEAD "g{a=\"\\x\"} 1\n"},
        {15, GAUGE_HEAD "g{a=\"open} 1\n"},
        /* values and timestamps (16, 17) */
        {16, GAUGE_HEAD "g 1,5\n"},
        {16, GAUGE_HEAD "g nan\n"},
        {16, GAUGE_HEAD "g Inf\n"},
        {16, GAUGE_HEAD "g 0x10\n"},
        {17, GAUGE_HEAD "g 1 1700000000000\n"},
        /* counters (18) */
        {18, "# HELP g_total G.\n# TYPE g_total gauge\ng_total 1\n"},
        {18, "# HELP c_total C.\n# TYPE c_total counter\nc_total -1\n"},
        /* histograms (19) */
        {19,
         HIST_HEAD "h_seconds_bucket{le=\"1\"} 2\n"
                   "h_seconds_bucket{le=\"2\"} 1\n"
                   "h_seconds_bucket{le=\"+Inf\"} 2\n"
                   "h_seconds_sum 1\nh_seconds_count 2\n"},
        {19,
         HIST_HEAD "h_seconds_bucket{le=\"2\"} 1\n"
                   "h_seconds_bucket{le=\"1\"} 1\n"
                   "h_seconds_bucket{le=\"+Inf\"} 2\n"
                   "h_seconds_sum 1\nh_seconds_count 2\n"},
        {19,
         HIST_HEAD "h_seconds_bucket{le=\"1\"} 1\n"
                   "h_seconds_sum 1\nh_seconds_count 1\n"},
        {19,
         HIST_HEAD "h_seconds_bucket{le=\"1\"} 1\n"
                   "h_seconds_bucket{le=\"+Inf\"} 2\n"
                   "h_seconds_sum 1\nh_seconds_count 3\n"},
        {19,
         HIST_HEAD "h_seconds_bucket{le=\"+Inf\"} 2\n"
                   "h_seconds_count 2\n"},
        {19, HIST_HEAD "h_seconds 2\n"},
        {19, GAUGE_HEAD "g{le=\"1\"} 1\n"},
        {19, "# HELP g_count G.\n# TYPE g_count gauge\ng_count 1\n"},
        /* naming lint (21) */
        {21, "# HELP g\n# TYPE g gauge\ng 1\n"},
        {21,
         "# HELP g_milliseconds G.\n# TYPE g_milliseconds gauge\n"
         "g_milliseconds 1\n"},
        {21,
         "# HELP g_kilobytes G.\n# TYPE g_kilobytes gauge\n"
         "g_kilobytes 1\n"},
        {21,
         "# HELP g_counter_x G.\n# TYPE g_counter_x gauge\n"
         "g_counter_x 1\n"},
        {21, GAUGE_HEAD "g{poolName=\"x\"} 1\n"},
        {21, "# HELP scrape_x G.\n# TYPE scrape_x gauge\nscrape_x 1\n"},
        {21,
         "# HELP cpu_percent G.\n# TYPE cpu_percent gauge\n"
         "cpu_percent 1\n"},
        /* semantics (22) */
        {22, GAUGE_HEAD "g{pool=\"total\"} 1\n"},
    };

    (void)state;
    run_lint_cases(cases, sizeof(cases) / sizeof(cases[0]), EXPO_FORMAT_TEXT);
}

#define OM_GAUGE "# TYPE g gauge\n# HELP g A gauge.\n"
#define OM_HIST  "# TYPE h_seconds histogram\n# HELP h_seconds H.\n"

static void
test_lint_openmetrics(void **state)
{
    static const struct lint_case cases[] = {
        {0, "# EOF\n"},
        {0, "# EOF"},
        {0, OM_GAUGE "g 1.5\n# EOF\n"},
        {0,
         "# TYPE c_seconds counter\n# UNIT c_seconds seconds\n"
         "# HELP c_seconds C.\nc_seconds_total 1.0\n"
         "c_seconds_created 1700000000.5\n# EOF\n"},
        /* end and blank lines (23) */
        {23, OM_GAUGE "g 1\n"},
        {23, OM_GAUGE "g 1\n\n# EOF\n"},
        {23, OM_GAUGE "g 1\n# EOF\ng 2\n"},
        {23, OM_GAUGE "g 1\n# EOF\n\n"},
        /* metadata (24) */
        {24, OM_GAUGE "# a comment\ng 1\n# EOF\n"},
        {24, "# TYPE  g gauge\n# HELP g G.\ng 1\n# EOF\n"},
        {24, "# HELP g G.\n# TYPE g gauge\ng 1\n# EOF\n"},
        {24, OM_GAUGE "# HELP g again.\ng 1\n# EOF\n"},
        /* counters (25) */
        {25,
         "# TYPE c_total counter\n# HELP c_total C.\n"
         "c_total_total 1\n# EOF\n"},
        {25, "# TYPE c counter\n# HELP c C.\nc 1\n# EOF\n"},
        /* unit (26) and types (27) */
        {26,
         "# TYPE g_bytes gauge\n# UNIT g_bytes seconds\n"
         "# HELP g_bytes G.\ng_bytes 1\n# EOF\n"},
        {27, "# TYPE g untyped\n# HELP g G.\ng 1\n# EOF\n"},
        {27, "# TYPE s stateset\n# HELP s S.\ns{x=\"a\"} 1\n# EOF\n"},
        /* HELP escaping (28) */
        {28, "# TYPE g gauge\n# HELP g a\\tb\ng 1\n# EOF\n"},
        {0, "# TYPE g gauge\n# HELP g a \\\"b\\\"\ng 1\n# EOF\n"},
        /* histograms (29) */
        {29,
         OM_HIST "h_seconds_bucket{le=\"1\"} 1\n"
                 "h_seconds_bucket{le=\"+Inf\"} 1\n"
                 "h_seconds_count 1\nh_seconds_sum 1.0\n# EOF\n"},
        {29,
         OM_HIST "h_seconds_bucket{le=\"1.0\"} 1.0\n"
                 "h_seconds_bucket{le=\"+Inf\"} 1\n"
                 "h_seconds_count 1\nh_seconds_sum 1.0\n# EOF\n"},
        {29,
         OM_HIST "h_seconds_bucket{le=\"1.0\"} 1\n"
                 "h_seconds_bucket{le=\"+Inf\"} 1\n"
                 "h_seconds_count 1\n# EOF\n"},
        {0,
         OM_HIST "h_seconds_bucket{le=\"1.0\"} 1\n"
                 "h_seconds_bucket{le=\"+Inf\"} 1\n# EOF\n"},
        /* interleaving and clashes (31) */
        {31,
         OM_HIST "h_seconds_bucket{a=\"1\",le=\"+Inf\"} 1\n"
                 "h_seconds_bucket{a=\"2\",le=\"+Inf\"} 1\n"
                 "h_seconds_count{a=\"1\"} 1\n# EOF\n"},
        {31,
         "# TYPE c counter\n# HELP c C.\nc_total 1\n"
         "# TYPE c_created gauge\n# HELP c_created G.\n"
         "c_created 1\n# EOF\n"},
        {31,
         OM_GAUGE "g 1\n# TYPE f gauge\n# HELP f F.\nf 1\n"
                  "g{x=\"y\"} 1\n# EOF\n"},
        /* shared rules */
        {17, OM_GAUGE "g 1 1700000000\n# EOF\n"},
        {13, OM_GAUGE "g{a=\"1\",} 1\n# EOF\n"},
        {16, OM_GAUGE "g  1\n# EOF\n"},
        {21, "# TYPE g gauge\ng 1\n# EOF\n"},
    };

    (void)state;
    run_lint_cases(cases,
                   sizeof(cases) / sizeof(cases[0]),
                   EXPO_FORMAT_OPENMETRICS);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lint_text),
        cmocka_unit_test(test_lint_openmetrics),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

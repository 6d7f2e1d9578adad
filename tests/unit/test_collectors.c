/* SPDX-License-Identifier: MIT */
/* The scrape budget the /metrics handler passes to the collectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include "exporter/collectors.h"

static void
test_budget_without_header_is_the_cap(void **state)
{
    (void)state;
    assert_int_equal(collectors_budget_ms(NULL, 7000), 7000);
    assert_int_equal(collectors_budget_ms(NULL, 0),
                     COLLECTORS_DEFAULT_BUDGET_MS);
    assert_int_equal(collectors_budget_ms(NULL, -1),
                     COLLECTORS_DEFAULT_BUDGET_MS);
}

static void
test_budget_leaves_a_margin(void **state)
{
    (void)state;
    /* Prometheus' default 10 s: 500 ms for rendering and sending */
    assert_int_equal(collectors_budget_ms("10", 30000), 9500);
    assert_int_equal(collectors_budget_ms("2.5", 30000), 2000);
    /* short timeouts keep half */
    assert_int_equal(collectors_budget_ms("0.8", 30000), 400);
    assert_int_equal(collectors_budget_ms("0.001", 30000), 1);
    /* never more than the cap */
    assert_int_equal(collectors_budget_ms("120", 10000), 9500);
    assert_int_equal(collectors_budget_ms("1e9", 10000), 9500);
}

static void
test_budget_ignores_bad_headers(void **state)
{
    static const char *const bad[] = {
        "",
        "abc",
        "10s",
        "-5",
        "0",
        "nan",
        "inf",
        "1,5",
        "10 x",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(collectors_budget_ms(bad[i], 8000), 8000);
    /* trailing blanks, as a header value may carry them */
    assert_int_equal(collectors_budget_ms("4 ", 30000), 3500);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_without_header_is_the_cap),
        cmocka_unit_test(test_budget_leaves_a_margin),
        cmocka_unit_test(test_budget_ignores_bad_headers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

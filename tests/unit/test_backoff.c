/* SPDX-License-Identifier: MIT */
/* Unit tests for the backoff formulas, with a scripted random source. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "core/backoff.h"

/* A deterministic source: returns the scripted values in a loop. */
struct script {
    const uint64_t *v;
    size_t n, i;
};

static uint64_t
scripted(void *arg)
{
    struct script *s = arg;
    uint64_t v = s->v[s->i % s->n];

    s->i++;
    return v;
}

static uint64_t
all_ones(void *arg)
{
    (void)arg;
    return UINT64_MAX;
}

static uint64_t
zero(void *arg)
{
    (void)arg;
    return 0;
}

static void
test_ceiling_doubles_and_saturates(void **state)
{
    (void)state;
    assert_int_equal(backoff_ceiling_ms(50, 2000, 0), 50);
    assert_int_equal(backoff_ceiling_ms(50, 2000, 1), 100);
    assert_int_equal(backoff_ceiling_ms(50, 2000, 5), 1600);
    assert_int_equal(backoff_ceiling_ms(50, 2000, 6), 2000);
    /* No overflow for absurd attempt numbers or huge caps. */
    assert_int_equal(backoff_ceiling_ms(50, 2000, 1000000), 2000);
    assert_int_equal(backoff_ceiling_ms(1, INT64_MAX, 62), INT64_C(1) << 62);
    assert_int_equal(backoff_ceiling_ms(1, INT64_MAX, 100000), INT64_MAX);
    /* Degenerate settings. */
    assert_int_equal(backoff_ceiling_ms(0, 2000, 3), 0);
    assert_int_equal(backoff_ceiling_ms(5000, 2000, 0), 2000);
    assert_int_equal(backoff_ceiling_ms(50, 2000, -1), 50);
}

static void
test_full_jitter_bounds(void **state)
{
    struct backoff lo = {50, 2000, zero, NULL};
    struct backoff hi = {50, 2000, all_ones, NULL};
    struct backoff sys = {50, 2000, NULL, NULL};

    (void)state;
    for (int n = 0; n < 40; n++) {
        int64_t ceil = backoff_ceiling_ms(50, 2000, n);
        int64_t v;

        assert_int_equal(backoff_full_jitter_ms(&lo, n), 0);
        v = backoff_full_jitter_ms(&hi, n);
        assert_true(v >= 0 && v <= ceil);
        for (int k = 0; k < 200; k++) {
            v = backoff_full_jitter_ms(&sys, n);
            assert_true(v >= 0 && v <= ceil);
        }
    }
}

static void
test_full_jitter_is_reproducible(void **state)
{
    static const uint64_t seq[] = {7, 123456789, 42, 99999999999ULL};
    struct script a = {seq, 4, 0}, b = {seq, 4, 0};
    struct backoff ba = {100, 10000, scripted, &a};
    struct backoff bb = {100, 10000, scripted, &b};

    (void)state;
    for (int n = 0; n < 12; n++)
        assert_int_equal(backoff_full_jitter_ms(&ba, n),
                         backoff_full_jitter_ms(&bb, n));
    /* 7 % (100 + 1) for attempt 0. */
    a.i = 0;
    assert_int_equal(backoff_full_jitter_ms(&ba, 0), 7);
}

static void
test_full_jitter_spreads(void **state)
{
    struct backoff sys = {1000, 1000, NULL, NULL};
    int low = 0, high = 0;

    (void)state;
    /* Full jitter must use the whole range, not cluster near the top. */
    for (int k = 0; k < 2000; k++) {
        int64_t v = backoff_full_jitter_ms(&sys, 0);
        if (v < 250)
            low++;
        if (v > 750)
            high++;
    }
    assert_true(low > 300);
    assert_true(high > 300);
}

static void
test_decorrelated_never_exceeds_cap(void **state)
{
    struct backoff hi = {100, 5000, all_ones, NULL};
    struct backoff lo = {100, 5000, zero, NULL};
    struct backoff sys = {100, 5000, NULL, NULL};
    int64_t prev = 100;

    (void)state;
    for (int k = 0; k < 1000; k++) {
        prev = backoff_decorrelated_ms(&sys, prev);
        assert_true(prev >= 100 && prev <= 5000);
    }
    assert_int_equal(backoff_decorrelated_ms(&lo, 4000), 100);
    /* A huge previous sleep is clamped, not overflowed. */
    prev = backoff_decorrelated_ms(&hi, INT64_MAX);
    assert_true(prev >= 100 && prev <= 5000);
    assert_true(backoff_decorrelated_ms(&hi, 100) <= 300);
}

static void
test_stopping_rule(void **state)
{
    (void)state;
    assert_true(backoff_may_retry(1, 4, 0, 10, 0));
    assert_false(backoff_may_retry(4, 4, 0, 10, 0));
    /* Unlimited attempts, but the budget ends it. */
    assert_true(backoff_may_retry(100, 0, 500, 100, 1000));
    assert_false(backoff_may_retry(100, 0, 950, 100, 1000));
    assert_false(backoff_may_retry(1, 4, 900, 100, 1000));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_doubles_and_saturates),
        cmocka_unit_test(test_full_jitter_bounds),
        cmocka_unit_test(test_full_jitter_is_reproducible),
        cmocka_unit_test(test_full_jitter_spreads),
        cmocka_unit_test(test_decorrelated_never_exceeds_cap),
        cmocka_unit_test(test_stopping_rule),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Exponential backoff with jitter over an injectable random source. */
#include "core/backoff.h"

#include <pthread.h>
#include <sys/random.h>
#include <time.h>

int64_t
backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt)
{
    int64_t v = base_ms;

    if (base_ms <= 0 || cap_ms <= 0)
        return 0;
    if (base_ms >= cap_ms)
        return cap_ms;
    for (int i = 0; i < attempt; i++) {
        /* Compare before doubling, so v * 2 cannot overflow. */
        if (v > cap_ms / 2)
            return cap_ms;
        v *= 2;
    }
    return v;
}

static uint64_t
draw(const struct backoff *b)
{
    return b->rand != NULL ? b->rand(b->rand_arg) : backoff_rand_system(NULL);
}

/* Uniform in [lo, hi]; the modulo bias is below 2^-40 for any sane span. */
static int64_t
uniform(const struct backoff *b, int64_t lo, int64_t hi)
{
    uint64_t span;

    if (hi <= lo)
        return lo;
    span = (uint64_t)(hi - lo) + 1;
    return lo + (int64_t)(draw(b) % span);
}

int64_t
backoff_full_jitter_ms(const struct backoff *b, int attempt)
{
    return uniform(b, 0, backoff_ceiling_ms(b->base_ms, b->cap_ms, attempt));
}

int64_t
backoff_decorrelated_ms(const struct backoff *b, int64_t prev_ms)
{
    int64_t hi, v;

    if (b->base_ms <= 0 || b->cap_ms <= 0)
        return 0;
    if (prev_ms < b->base_ms)
        prev_ms = b->base_ms;
    /* 3 * prev cannot overflow once prev is clamped to the cap. */
    if (prev_ms > b->cap_ms)
        prev_ms = b->cap_ms;
    hi = prev_ms * 3;
    if (hi < b->base_ms)
        hi = b->base_ms;
    v = uniform(b, b->base_ms, hi);
    return v < b->cap_ms ? v : b->cap_ms;
}

bool
backoff_may_retry(int attempts,
                  int max_attempts,
                  int64_t elapsed_ms,
                  int64_t sleep_ms,
                  int64_t budget_ms)
{
    if (max_attempts > 0 && attempts >= max_attempts)
        return false;
    if (budget_ms > 0 && elapsed_ms + sleep_ms >= budget_ms)
        return false;
    return true;
}

static _Thread_local uint64_t rand_state;

static uint64_t
seed(void)
{
    uint64_t s = 0;
    struct timespec ts;

    if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
        /* No entropy yet (early boot): time and thread identity differ
         * enough between threads for jitter, which is all we need. */
        clock_gettime(CLOCK_MONOTONIC, &ts);
        s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
            (uint64_t)(uintptr_t)pthread_self();
    }
    return s != 0 ? s : UINT64_C(0x9E3779B97F4A7C15);
}

uint64_t
backoff_rand_system(void *arg)
{
    uint64_t x;

    (void)arg;
    if (rand_state == 0)
        rand_state = seed();
    /* xorshift64* (Vigna 2014) */
    x = rand_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rand_state = x;
    return x * UINT64_C(2685821657736338717);
}

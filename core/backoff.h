/* SPDX-License-Identifier: MIT */
/* Exponential backoff with jitter (AWS "full" and "decorrelated" jitter),
 * pure functions over an injectable random source. */
#ifndef DESKDB_CORE_BACKOFF_H
#define DESKDB_CORE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* Returns 64 uniformly random bits.  Must be safe for the caller's thread. */
typedef uint64_t (*backoff_rand_fn)(void *arg);

struct backoff {
    int64_t base_ms;      /* first ceiling; > 0 */
    int64_t cap_ms;       /* no sleep is longer than this; >= base_ms */
    backoff_rand_fn rand; /* NULL: backoff_rand_system */
    void *rand_arg;
};

/*
 * min(cap, base * 2^attempt), attempt counting from 0.  Never overflows:
 * large attempts saturate at the cap.  Non-positive base gives 0.
 */
int64_t backoff_ceiling_ms(int64_t base_ms, int64_t cap_ms, int attempt);

/* Full jitter: uniform in [0, backoff_ceiling_ms(base, cap, attempt)]. */
int64_t backoff_full_jitter_ms(const struct backoff *b, int attempt);

/*
 * Decorrelated jitter: min(cap, uniform in [base, 3 * prev_ms]), with
 * prev_ms the previous sleep (pass base_ms for the first one).
 */
int64_t backoff_decorrelated_ms(const struct backoff *b, int64_t prev_ms);

/*
 * The stopping rule: true if another attempt may follow `attempts` done
 * ones (max_attempts <= 0: unlimited) after sleeping `sleep_ms`, given
 * `elapsed_ms` so far and the overall `budget_ms` (<= 0: none).
 */
bool backoff_may_retry(int attempts,
                       int max_attempts,
                       int64_t elapsed_ms,
                       int64_t sleep_ms,
                       int64_t budget_ms);

/* A per-thread xorshift generator seeded from getrandom(2); `arg` unused. */
uint64_t backoff_rand_system(void *arg);

#endif

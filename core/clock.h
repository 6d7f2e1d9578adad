/* SPDX-License-Identifier: MIT */
/* Injectable clocks, so schedulers and reapers can be driven from tests. */
#ifndef DESKDB_CORE_CLOCK_H
#define DESKDB_CORE_CLOCK_H

#include <stdint.h>

/*
 * A clock returns nanoseconds.  Monotonic clocks measure intervals and
 * deadlines; the wall clock (Unix epoch) stamps events and drives cron.
 */
typedef int64_t (*clock_fn)(void *arg);

struct clock {
    clock_fn monotonic_ns;
    clock_fn realtime_ns;
    void *arg;
};

#define NS_PER_MS  INT64_C(1000000)
#define NS_PER_SEC INT64_C(1000000000)

/* The process clocks (CLOCK_MONOTONIC and CLOCK_REALTIME). */
extern const struct clock clock_system;

int64_t clock_monotonic_ns(void);
int64_t clock_realtime_ns(void);

static inline int64_t
clock_mono(const struct clock *c)
{
    return c->monotonic_ns(c->arg);
}

static inline int64_t
clock_real(const struct clock *c)
{
    return c->realtime_ns(c->arg);
}

/* A manual clock for tests: both readings come from the fields. */
struct clock_manual {
    int64_t mono_ns;
    int64_t real_ns;
};

/* A clock that reads `m`; advance it by changing the fields. */
struct clock clock_manual_make(struct clock_manual *m);

#endif

/* SPDX-License-Identifier: MIT */
/* The system clocks and the manual clock used by tests. */
#include "core/clock.h"

#include <time.h>

static int64_t
ts_ns(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t
clock_monotonic_ns(void)
{
    return ts_ns(CLOCK_MONOTONIC);
}

int64_t
clock_realtime_ns(void)
{
    return ts_ns(CLOCK_REALTIME);
}

static int64_t
system_mono(void *arg)
{
    (void)arg;
    return clock_monotonic_ns();
}

static int64_t
system_real(void *arg)
{
    (void)arg;
    return clock_realtime_ns();
}

const struct clock clock_system = {system_mono, system_real, NULL};

static int64_t
manual_mono(void *arg)
{
    return ((struct clock_manual *)arg)->mono_ns;
}

static int64_t
manual_real(void *arg)
{
    return ((struct clock_manual *)arg)->real_ns;
}

struct clock
clock_manual_make(struct clock_manual *m)
{
    struct clock c = {manual_mono, manual_real, m};

    return c;
}

/* SPDX-License-Identifier: MIT */
/* Helpers for the pool and transaction integration tests: configs, a
 * manual clock safe across threads, backend control and metric reads. */
#ifndef DESKDB_TESTS_POOLTEST_H
#define DESKDB_TESTS_POOLTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/clock.h"

struct metrics;
struct pool;

/* Seed defaults (5..20, 10 s connect, ...) against the test database with
 * a process-unique application_name "deskdb-it-<tag>-<pid>", kept in
 * `app` (at least 64 bytes). */
void pooltest_config(struct config_database *db,
                     struct config_pool *cfg,
                     const char *tag,
                     char *app);

/* A monotonic clock the test moves by hand; reads are atomic, so the
 * janitor thread may read it while the test advances it. */
struct clock pooltest_manual_clock(int64_t start_ns);
void pooltest_advance(int64_t ns);
int64_t pooltest_now(void);

/* Terminate every backend with this application_name and wait until they
 * are gone.  Returns how many were terminated. */
int pooltest_terminate_app(const char *app);

/* Backends with this application_name. */
int pooltest_count_app(const char *app);

/* Poll `pred` every 10 ms for up to `timeout_ms`; true once it holds. */
bool pooltest_wait(bool (*pred)(struct pool *), struct pool *p, int timeout_ms);

/* The value of a counter or gauge series (histogram: its count) whose
 * first label equals `label_value` (NULL: the unlabelled series), or -1
 * if absent. */
double
pooltest_metric(struct metrics *m, const char *family, const char *label_value);

/* The sum over every series of a counter or gauge family (0 if absent). */
double pooltest_metric_sum(struct metrics *m, const char *family);

/* Milliseconds since an arbitrary start, on CLOCK_MONOTONIC. */
int64_t pooltest_ms(void);

/* Sleep `ms` milliseconds. */
void pooltest_sleep_ms(int ms);

#endif

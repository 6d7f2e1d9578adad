/* SPDX-License-Identifier: MIT */
/* Helpers for the job integration tests: a migrated throwaway database,
 * a configuration from YAML, a pool, metrics and a scheduler over them. */
#ifndef DESKDB_TESTS_JOBSTEST_H
#define DESKDB_TESTS_JOBSTEST_H

#include <stdbool.h>
#include <stdint.h>

#include "support/testdb.h"

struct config;
struct metrics;
struct pool;
struct scheduler;

struct jobstest {
    struct test_db db; /* every migration applied */
    struct config *cfg;
    struct metrics *metrics;
    struct pool *pool;
    struct scheduler *sched;
};

/*
 * Create the database `prefix`_<pid>_<n>, apply the migrations, run
 * `setup_sql` in it (may be NULL), then load a configuration whose
 * database is that one and whose jobs: section is `jobs_yaml` (the text
 * after "jobs:\n", indented by two spaces), with a pool of at most
 * `pool_max` connections, and create the scheduler (not started).
 */
void jobstest_setup(struct jobstest *t,
                    const char *prefix,
                    const char *setup_sql,
                    const char *jobs_yaml,
                    int pool_max);

/* Load a configuration as jobstest_setup() does (for a reload); NULL
 * with `err` set when it does not load.  config_destroy() it. */
struct deskdb_err;
struct config *jobstest_config(const struct jobstest *t,
                               const char *jobs_yaml,
                               int pool_max,
                               struct deskdb_err *err);

/* Load another configuration and scheduler over the same database (a
 * second instance); the caller destroys them with jobstest_free_extra(). */
void jobstest_second(const struct jobstest *t,
                     const char *jobs_yaml,
                     struct jobstest *out);
void jobstest_free_extra(struct jobstest *t);

void jobstest_teardown(struct jobstest *t);

/* Shortcuts on the test database. */
long long jt_int(const struct jobstest *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *jt_text(const struct jobstest *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void jt_exec(const struct jobstest *t, const char *sql);

/* The value of a counter or gauge series with labels job (and reason),
 * or of the only series when `job` is NULL; -1 if absent. */
double jt_metric(const struct jobstest *t,
                 const char *family,
                 const char *job,
                 const char *reason);

/* Poll `sql` (an integer query) every 50 ms until it returns at least
 * `want` or `timeout_ms` passes; returns the last value. */
long long jt_wait_int(const struct jobstest *t,
                      long long want,
                      int timeout_ms,
                      const char *sql);

void jt_sleep_ms(int ms);

#endif

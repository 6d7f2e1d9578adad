/* SPDX-License-Identifier: MIT */
/* Helpers for the collector integration tests: a pool and collectors
 * against the test database, and lookups in the snapshots they make. */
#ifndef DESKDB_TESTS_COLLTEST_H
#define DESKDB_TESTS_COLLTEST_H

#include <stddef.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "exporter/collectors.h"

struct pool;

struct colltest {
    struct metrics *m;
    struct pool *pool;
    struct collectors *c;
    struct config_database db;
    struct config_pool pool_cfg;
    char app[64];
};

/* Every collector, nothing shared, 5 s timeout, 5 min sizes interval,
 * 500 tables, top 50 statements. */
void colltest_config(struct config_collectors *cfg);

/* A registry, a pool of 1..4 connections named "deskdb-it-<tag>-<pid>"
 * and collectors over them (`clock` NULL: the system clock). */
void colltest_start(struct colltest *t,
                    const char *tag,
                    const struct config_collectors *cfg,
                    const struct clock *clock);
void colltest_stop(struct colltest *t);

/* A snapshot of the registry with the collectors as its extra. */
struct metrics_snapshot *colltest_collect(struct colltest *t);

/*
 * The value of the sample of `family` whose labels include every
 * "name", "value" pair given (a NULL name ends the list), or NAN when
 * there is none.
 */
double
colltest_value(const struct metrics_snapshot *snap, const char *family, ...);

/* Number of samples of `family` (0 if absent). */
size_t colltest_series(const struct metrics_snapshot *snap, const char *family);

/* The value of deskdb_collector_success{collector=name}. */
double colltest_success(const struct metrics_snapshot *snap, const char *name);

/* deskdb_collector_errors_total{collector,reason} in `snap` (the engine
 * emits its cumulative failure counts with every collection). */
double colltest_errors(const struct metrics_snapshot *snap,
                       const char *collector,
                       const char *reason);

/* A libpq connection to the test database with this application_name. */
struct pg_conn *colltest_connect_as(const char *application_name);

/* Run `sql` on `conn`, failing the test on error. */
void colltest_exec(struct pg_conn *conn, const char *sql);

#endif

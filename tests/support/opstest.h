/* SPDX-License-Identifier: MIT */
/* Fixture of the atomic-operation tests: a migrated database of its own,
 * a runtime role subject to row-level security, pools, seed rows. */
#ifndef DESKDB_TESTS_OPSTEST_H
#define DESKDB_TESTS_OPSTEST_H

#include <jansson.h>
#include <stdint.h>

#include "config/config.h"
#include "core/ops.h"
#include "support/testdb.h"

/*
 * Test UUIDs are a kind digit, seven digits and the dealership's tail:
 * dealership T is 00000000-0000-0000-0000-T, its salesperson 10000000-...,
 * an inactive user 11000000-..., a customer 20000000-..., vehicle i
 * 3iiiiiii-..., a deal without customer or number 40000000-..., an
 * outbound draft e-mail 50000000-... and an inbound one 51000000-....
 */
#define OPSTEST_TAIL_A         "00000000000a"
#define OPSTEST_TAIL_B         "00000000000b"
#define OPSTEST_ID(kind, tail) kind "-0000-0000-0000-" tail
#define OPSTEST_A              OPSTEST_ID("00000000", OPSTEST_TAIL_A)
#define OPSTEST_B              OPSTEST_ID("00000000", OPSTEST_TAIL_B)

struct pool;

struct opstest {
    struct test_db db;
    char role[64];    /* LOGIN, NOSUPERUSER, NOBYPASSRLS, owns nothing */
    char *app_dsn;    /* the database as `role` */
    char appname[64]; /* application_name of both pools */
    struct config_database app_db, super_db;
    struct config_pool pool_cfg;
    struct pool *app;   /* connects as `role`: row-level security applies */
    struct pool *super; /* connects as the test superuser: bypasses it */
};

/* Create and migrate a database "<prefix>_<pid>_<n>", the role with the
 * grants the README asks for, and both pools of at most `pool_max`. */
void opstest_setup(struct opstest *f, const char *prefix, int pool_max);

/* Destroy the pools, drop the database and the role. */
void opstest_teardown(struct opstest *f);

/* Dealership `tail` with the rows described above and `vehicles`
 * available vehicles (numbered from 1). */
void opstest_seed(struct opstest *f, const char *tail, int vehicles);

/* Per-record options with quick retries and a 20 s budget. */
struct ops_options opstest_options(void);

/* ops_apply() on `input`; the result line parsed (caller decrefs); *rc
 * (may be NULL) gets the return value. */
json_t *opstest_apply(struct pool *pool,
                      const char *op,
                      const struct ops_options *opt,
                      const char *input,
                      int *rc);

/* ops_run_stream() over `input`; the output text (caller frees). */
char *opstest_stream(struct pool *pool,
                     const char *op,
                     const struct ops_options *opt,
                     const char *input,
                     struct ops_summary *sum);

/* Result line `n` (0-based) of a stream's output, parsed. */
json_t *opstest_line(const char *output, int n);

/* A string member reached by a dotted path ("deal.deal_number"), "" if
 * absent. */
const char *opstest_get(const json_t *o, const char *path);

/* First column of the first row of `sql` on the test database. */
long long opstest_int(struct opstest *f, const char *sql);

#endif

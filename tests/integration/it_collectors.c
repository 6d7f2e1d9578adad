/* SPDX-License-Identifier: MIT */
/* The PostgreSQL collectors against a real server: families and values,
 * caps, the statements selection, caching, sharing and a clean
 * exposition (our validator and promtool).
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/pool.h"
#include "exporter/expo.h"
#include "support/colltest.h"
#include "support/expo_lint.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

#define END ((const char *)NULL)

static const char *const all_collectors[] = {"database",
                                             "activity",
                                             "locks",
                                             "tables",
                                             "indexes",
                                             "sizes",
                                             "statements",
                                             "replication",
                                             "settings"};

/* Collect until `family{labels}` reaches `want` (or `timeout_ms` passes);
 * statistics reach the views asynchronously.  Returns the last value. */
static double
collect_until(struct colltest *t,
              const char *family,
              const char *l1,
              const char *v1,
              const char *l2,
              const char *v2,
              double want,
              int timeout_ms)
{
    int64_t end = pooltest_ms() + timeout_ms;
    struct metrics_snapshot *snap;
    double v;

    for (;;) {
        snap = colltest_collect(t);
        v = colltest_value(snap, family, l1, v1, l2, v2, END);
        metrics_snapshot_destroy(snap);
        if ((!isnan(v) && v >= want) || pooltest_ms() >= end)
            return v;
        pooltest_sleep_ms(100);
    }
}

static void
test_every_collector_succeeds(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    char num[16];
    PGconn *c;
    int version;
    size_t i;

    (void)state;
    colltest_config(&cfg);
    colltest_start(&t, "coll-all", &cfg, NULL);
    snap = colltest_collect(&t);
    assert_true(colltest_value(snap, "pg_up", END) == 1);
    for (i = 0; i < sizeof(all_collectors) / sizeof(all_collectors[0]); i++) {
        if (colltest_success(snap, all_collectors[i]) != 1)
            fail_msg("collector %s did not succeed", all_collectors[i]);
        assert_true(colltest_value(snap,
                                   "deskdb_collector_duration_seconds",
                                   "collector",
                                   all_collectors[i],
                                   END) >= 0);
        assert_true(colltest_value(snap,
                                   "deskdb_collector_last_success_timestamp_"
                                   "seconds",
                                   "collector",
                                   all_collectors[i],
                                   END) > 1.6e9);
        assert_true(colltest_value(snap,
                                   "deskdb_collector_errors_total",
                                   "collector",
                                   all_collectors[i],
                                   "reason",
                                   "timeout",
                                   END) == 0);
    }
    assert_true(colltest_value(snap, "deskdb_scrape_duration_seconds", END) >
                0);
    c = test_connect();
    version = PQserverVersion(c);
    PQfinish(c);
    snprintf(num, sizeof(num), "%d", version);
    assert_true(colltest_value(snap,
                               "pg_server_info",
                               "server_version_num",
                               num,
                               END) == 1);
    /* deskdb_collector_series counts what the collector contributed */
    assert_true(colltest_value(snap,
                               "deskdb_collector_series",
                               "collector",
                               "replication",
                               END) >= 1);
    /* server-wide statistics, by version */
    assert_true(colltest_value(snap, "pg_postmaster_start_time_seconds", END) >
                1.6e9);
    assert_false(isnan(
        colltest_value(snap, "pg_stat_checkpointer_num_timed_total", END)));
    if (version >= 140000)
        assert_true(colltest_value(snap, "pg_stat_wal_records_total", END) > 0);
    assert_true(colltest_value(snap, "pg_replication_is_replica", END) == 0);
    assert_true(isnan(colltest_value(snap, "pg_replication_lag_seconds", END)));
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

static void
test_bad_settings_are_refused(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct deskdb_err err;

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_DATABASE;
    colltest_start(&t, "coll-bad", &cfg, NULL);
    cfg.timeout_ms = 0;
    assert_null(collectors_create(&cfg, t.pool, NULL, &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "collectors.timeout"));
    colltest_config(&cfg);
    cfg.max_tables = 0;
    assert_null(collectors_create(&cfg, t.pool, NULL, &err));
    assert_non_null(strstr(err.msg, "max_tables"));
    assert_null(collectors_create(NULL, t.pool, NULL, &err));
    collectors_destroy(NULL);
    colltest_stop(&t);
}

/* Stable idle backends before counting from a baseline. */
static double
idle_backends(struct colltest *t)
{
    struct metrics_snapshot *snap = colltest_collect(t);
    double v = colltest_value(snap,
                              "pg_stat_activity_backends",
                              "datname",
                              "deskdb",
                              "state",
                              "idle",
                              END);

    metrics_snapshot_destroy(snap);
    return v;
}

static void
test_activity_counts_idle_connections(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    PGconn *idle[3];
    double base, prev, v = NAN;
    int64_t end;
    size_t i;

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_ACTIVITY;
    colltest_start(&t, "coll-idle", &cfg, NULL);
    /* a baseline that holds still for two collections */
    base = idle_backends(&t);
    for (i = 0; i < 50; i++) {
        pooltest_sleep_ms(100);
        prev = base;
        base = idle_backends(&t);
        if (base == prev)
            break;
    }
    for (i = 0; i < 3; i++)
        idle[i] = colltest_connect_as("deskdb-it-coll-idle-client");
    end = pooltest_ms() + 5000;
    while (pooltest_ms() < end) {
        v = idle_backends(&t);
        if (v == base + 3)
            break;
        pooltest_sleep_ms(100);
    }
    if (v != base + 3)
        fail_msg("idle backends: %g, expected %g + 3", v, base);
    for (i = 0; i < 3; i++)
        PQfinish(idle[i]);
    colltest_stop(&t);
}

static void
test_locks_waits_and_transaction_age(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    PGconn *holder, *waiter;
    PGresult *r;
    double v;

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_ACTIVITY | CONFIG_COLLECTOR_LOCKS;
    colltest_start(&t, "coll-locks", &cfg, NULL);
    test_exec("CREATE TABLE IF NOT EXISTS it_coll_lock (x int)");
    holder = colltest_connect_as("deskdb-it-coll-holder");
    waiter = colltest_connect_as("deskdb-it-coll-waiter");
    colltest_exec(holder, "BEGIN");
    colltest_exec(holder, "LOCK TABLE it_coll_lock IN ACCESS EXCLUSIVE MODE");
    assert_int_equal(PQsendQuery(waiter, "SELECT count(*) FROM it_coll_lock"),
                     1);
    pooltest_sleep_ms(1100);

    v = collect_until(&t,
                      "pg_locks",
                      "mode",
                      "AccessShareLock",
                      "granted",
                      "false",
                      1,
                      5000);
    assert_true(v >= 1);
    snap = colltest_collect(&t);
    assert_true(colltest_value(snap,
                               "pg_locks",
                               "datname",
                               "deskdb",
                               "mode",
                               "AccessExclusiveLock",
                               "granted",
                               "true",
                               END) >= 1);
    /* every mode is reported, 0 when nobody holds it */
    assert_true(colltest_value(snap,
                               "pg_locks",
                               "datname",
                               "deskdb",
                               "mode",
                               "ShareRowExclusiveLock",
                               "granted",
                               "false",
                               END) == 0);
    assert_true(colltest_value(snap,
                               "pg_stat_activity_waiting_backends",
                               "datname",
                               "deskdb",
                               "wait_event_type",
                               "Lock",
                               END) >= 1);
    assert_true(colltest_value(snap,
                               "pg_stat_activity_max_tx_duration_seconds",
                               "datname",
                               "deskdb",
                               "state",
                               "idle in transaction",
                               END) >= 1.0);
    assert_true(colltest_value(snap,
                               "pg_stat_activity_backends",
                               "datname",
                               "deskdb",
                               "state",
                               "idle in transaction",
                               END) >= 1);
    metrics_snapshot_destroy(snap);

    colltest_exec(holder, "ROLLBACK");
    while ((r = PQgetResult(waiter)) != NULL)
        PQclear(r);
    PQfinish(waiter);
    PQfinish(holder);
    colltest_stop(&t);
}

static void
test_database_and_settings_values(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    char slot_sql[160], slot[64];
    double before, after;
    int i;

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_DATABASE | CONFIG_COLLECTOR_SETTINGS |
                  CONFIG_COLLECTOR_SIZES | CONFIG_COLLECTOR_REPLICATION;
    colltest_start(&t, "coll-values", &cfg, NULL);
    snprintf(slot, sizeof(slot), "it_coll_slot_%d", (int)getpid());
    snprintf(slot_sql,
             sizeof(slot_sql),
             "SELECT pg_create_physical_replication_slot('%s', true)",
             slot);
    test_exec(slot_sql);

    snap = colltest_collect(&t);
    before = colltest_value(snap,
                            "pg_stat_database_xact_commit_total",
                            "datname",
                            "deskdb",
                            END);
    assert_true(before > 0);
    assert_true(colltest_value(snap, "pg_settings_max_connections", END) ==
                (double)test_query_int("SELECT setting::int FROM pg_settings "
                                       "WHERE name = 'max_connections'"));
    assert_true(colltest_value(snap, "pg_settings_shared_buffers_bytes", END) ==
                (double)test_query_int("SELECT pg_size_bytes(current_setting("
                                       "'shared_buffers'))"));
    /* the pool sets statement_timeout on its connections */
    assert_true(
        colltest_value(snap, "pg_settings_statement_timeout_seconds", END) ==
        (double)t.pool_cfg.statement_timeout_ms / 1000);
    assert_true(colltest_value(snap, "pg_settings_autovacuum", END) == 1);
    assert_false(
        isnan(colltest_value(snap, "pg_settings_pg_stat_statements_max", END)));
    /* -1 means "not set": passed through, not scaled */
    assert_true(colltest_value(snap,
                               "pg_settings_log_min_duration_statement_"
                               "seconds",
                               END) ==
                (double)test_query_int(
                    "SELECT CASE WHEN setting::int < 0 THEN setting::int "
                    "ELSE setting::int / 1000 END FROM pg_settings WHERE "
                    "name = 'log_min_duration_statement'"));
    assert_true(colltest_value(snap,
                               "pg_database_size_bytes",
                               "datname",
                               "deskdb",
                               END) > 1e6);
    assert_true(colltest_value(snap,
                               "pg_replication_slots_active",
                               "slot_name",
                               slot,
                               "slot_type",
                               "physical",
                               END) == 0);
    assert_true(colltest_value(snap,
                               "pg_replication_slots_retained_wal_bytes",
                               "slot_name",
                               slot,
                               END) >= 0);
    metrics_snapshot_destroy(snap);

    for (i = 0; i < 5; i++)
        test_exec("SELECT 1");
    after = collect_until(&t,
                          "pg_stat_database_xact_commit_total",
                          "datname",
                          "deskdb",
                          END,
                          NULL,
                          before + 5,
                          5000);
    assert_true(after >= before + 5);

    snprintf(slot_sql,
             sizeof(slot_sql),
             "SELECT pg_drop_replication_slot('%s')",
             slot);
    test_exec(slot_sql);
    colltest_stop(&t);
}

static void
create_tables(void)
{
    test_exec("DROP TABLE IF EXISTS it_coll_t1, it_coll_t2, it_coll_t3");
    test_exec("CREATE TABLE it_coll_t1 (id int PRIMARY KEY, v int);"
              "CREATE INDEX it_coll_t1_v_idx ON it_coll_t1 (v);"
              "CREATE TABLE it_coll_t2 (id int PRIMARY KEY);"
              "CREATE TABLE it_coll_t3 (id int)");
    test_exec("INSERT INTO it_coll_t1 SELECT g, g FROM "
              "generate_series(1, 5000) g");
    test_exec("INSERT INTO it_coll_t2 SELECT g FROM generate_series(1, 10) g");
    test_exec("INSERT INTO it_coll_t3 VALUES (1)");
    test_exec("SET enable_seqscan = off; SELECT * FROM it_coll_t1 WHERE "
              "id = 42");
}

static void
test_tables_indexes_and_sizes(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;

    (void)state;
    create_tables();
    colltest_config(&cfg);
    colltest_start(&t, "coll-tables", &cfg, NULL);
    assert_true(collect_until(&t,
                              "pg_stat_user_tables_n_tup_ins_total",
                              "relname",
                              "it_coll_t1",
                              END,
                              NULL,
                              5000,
                              5000) == 5000);
    assert_true(collect_until(&t,
                              "pg_stat_user_indexes_idx_scan_total",
                              "indexrelname",
                              "it_coll_t1_pkey",
                              END,
                              NULL,
                              1,
                              5000) >= 1);
    snap = colltest_collect(&t);
    assert_true(colltest_value(snap,
                               "pg_stat_user_tables_n_live_tup",
                               "datname",
                               "deskdb",
                               "schemaname",
                               "public",
                               "relname",
                               "it_coll_t3",
                               END) >= 0);
    assert_true(colltest_value(snap,
                               "pg_stat_user_tables_last_vacuum_timestamp_"
                               "seconds",
                               "relname",
                               "it_coll_t3",
                               END) == 0);
    /* never scanned and not enforcing anything: unused */
    assert_true(colltest_value(snap,
                               "pg_index_unused",
                               "indexrelname",
                               "it_coll_t1_v_idx",
                               END) == 1);
    /* a primary key is never "unused" */
    assert_true(isnan(colltest_value(snap,
                                     "pg_index_unused",
                                     "indexrelname",
                                     "it_coll_t2_pkey",
                                     END)));
    assert_true(colltest_value(snap,
                               "pg_stat_user_tables_table_size_bytes",
                               "relname",
                               "it_coll_t1",
                               END) > 8192);
    assert_true(colltest_value(snap,
                               "pg_stat_user_indexes_size_bytes",
                               "indexrelname",
                               "it_coll_t1_pkey",
                               END) > 8192);
    assert_true(colltest_errors(snap, "tables", "cardinality_limit") == 0);
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

/* Samples of the tables collector's families in a snapshot. */
static size_t
table_samples(const struct metrics_snapshot *snap)
{
    const char *name;
    size_t i, n = 0;

    for (i = 0; i < snap->n_families; i++) {
        name = snap->families[i].name;
        if ((strncmp(name, "pg_stat_user_tables_", 20) == 0 ||
             strncmp(name, "pg_statio_user_tables_", 22) == 0) &&
            strstr(name, "_size_bytes") == NULL)
            n += snap->families[i].n_samples;
    }
    return n;
}

static void
test_max_tables_cap(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    long long tables = test_query_int("SELECT count(*) FROM "
                                      "pg_stat_user_tables");

    (void)state;
    assert_true(tables >= 3); /* it_coll_t1..3 at least */
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_TABLES | CONFIG_COLLECTOR_SIZES;
    cfg.max_tables = 2;
    colltest_start(&t, "coll-cap", &cfg, NULL);
    snap = colltest_collect(&t);
    assert_int_equal(
        colltest_series(snap, "pg_stat_user_tables_seq_scan_total"),
        2);
    assert_int_equal(
        colltest_series(snap, "pg_stat_user_tables_table_size_bytes"),
        2);
    assert_true(colltest_success(snap, "tables") == 1);
    assert_true(colltest_errors(snap, "tables", "cardinality_limit") == 1);
    assert_true(colltest_errors(snap, "sizes", "cardinality_limit") == 1);
    assert_true(colltest_value(snap,
                               "deskdb_collector_series",
                               "collector",
                               "tables",
                               END) == (double)table_samples(snap));
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

/* ---- statements: cache and stable selection ------------------------------ */

static const char *
queryid_of(const char *like, char out[32])
{
    char sql[256];

    snprintf(sql,
             sizeof(sql),
             "SELECT queryid FROM pg_stat_statements WHERE query LIKE '%s' "
             "LIMIT 1",
             like);
    snprintf(out, 32, "%lld", test_query_int(sql));
    return out;
}

static double
calls_of(const struct metrics_snapshot *snap, const char *queryid)
{
    return colltest_value(snap,
                          "pg_stat_statements_calls_total",
                          "datname",
                          "deskdb",
                          "queryid",
                          queryid,
                          END);
}

static void
test_statements_cached_and_stable(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    struct clock_manual mc = {.mono_ns = NS_PER_SEC,
                              .real_ns = INT64_C(1700000000) * NS_PER_SEC};
    struct clock clock = clock_manual_make(&mc);
    const struct metrics_snapshot_family *f;
    char x[32], y[32], z[32];

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_STATEMENTS;
    cfg.statements_top = 1;
    cfg.sizes_interval_ms = 60000;
    colltest_start(&t, "coll-stmt", &cfg, &clock);
    test_exec("SELECT pg_stat_statements_reset()");
    /* X, then Y with more time, then Z with more still */
    test_exec("SELECT pg_sleep(0.2)");
    test_exec("SELECT pg_sleep(0.2)");
    queryid_of("SELECT pg_sleep($1)", x);

    snap = colltest_collect(&t);
    assert_true(colltest_success(snap, "statements") == 1);
    assert_true(calls_of(snap, x) == 2);
    f = metrics_snapshot_find(snap, "pg_stat_statements_seconds_total");
    assert_non_null(f);
    assert_non_null(strstr(f->help, "cached"));
    assert_true(colltest_value(snap,
                               "pg_stat_statements_seconds_total",
                               "queryid",
                               x,
                               END) >= 0.4);
    metrics_snapshot_destroy(snap);

    test_exec("SELECT 'y', pg_sleep(0.4)");
    test_exec("SELECT 'y', pg_sleep(0.4)");
    queryid_of("SELECT $1, pg_sleep($2)", y);
    /* within sizes_interval the last run is replayed: no Y yet */
    mc.mono_ns += 59 * NS_PER_SEC;
    snap = colltest_collect(&t);
    assert_true(isnan(calls_of(snap, y)));
    assert_true(calls_of(snap, x) == 2);
    metrics_snapshot_destroy(snap);

    /* refreshed: Y is the top 1; X, now second, stays (top 2N) */
    mc.mono_ns += 2 * NS_PER_SEC;
    snap = colltest_collect(&t);
    assert_true(calls_of(snap, y) == 2);
    assert_true(calls_of(snap, x) == 2);
    metrics_snapshot_destroy(snap);

    /* Z outranks both: X falls to third, out of the top 2N, and leaves */
    test_exec("SELECT 'z', 'z', pg_sleep(0.6)");
    test_exec("SELECT 'z', 'z', pg_sleep(0.6)");
    queryid_of("SELECT $1, $2, pg_sleep($3)", z);
    mc.mono_ns += 61 * NS_PER_SEC;
    snap = colltest_collect(&t);
    assert_true(calls_of(snap, z) == 2);
    assert_true(calls_of(snap, y) == 2);
    assert_true(isnan(calls_of(snap, x)));
    assert_int_equal(colltest_series(snap, "pg_stat_statements_calls_total"),
                     2);
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

/* ---- exposition ------------------------------------------------------------
 */

static void
check_names(const struct metrics_snapshot *snap)
{
    const struct metrics_snapshot_family *f;
    size_t i, j;

    for (i = 0; i < snap->n_families; i++) {
        f = &snap->families[i];
        if (!metrics_name_valid(f->name))
            fail_msg("invalid family name %s", f->name);
        for (j = 0; j < f->n_labels; j++)
            if (!metrics_label_name_valid(f->label_names[j]))
                fail_msg("%s: invalid label %s", f->name, f->label_names[j]);
    }
}

/* promtool check metrics on `body`: must print nothing and succeed. */
static void
promtool_check(const char *body, size_t len)
{
    char path[] = "/tmp/deskdb-it-collectors-XXXXXX";
    char cmd[256], out[4096];
    size_t n;
    FILE *p;
    int fd = mkstemp(path), status;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, body, len), (ssize_t)len);
    close(fd);
    if (system("command -v promtool >/dev/null 2>&1") != 0)
        fail_msg("promtool is not installed (scripts/bootstrap installs it)");
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
    p = popen(cmd, "r");
    assert_non_null(p);
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    status = pclose(p);
    unlink(path);
    if (status != 0 || n != 0)
        fail_msg("promtool check metrics (status %d):\n%s", status, out);
}

static void
test_exposition_is_clean(void **state)
{
    static const enum expo_format formats[] = {EXPO_FORMAT_TEXT,
                                               EXPO_FORMAT_OPENMETRICS};
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    char msg[512];
    struct buf b;
    size_t i;

    (void)state;
    create_tables();
    colltest_config(&cfg);
    colltest_start(&t, "coll-expo", &cfg, NULL);
    assert_int_equal(metrics_add_process_collector(t.m), 0);
    snap = colltest_collect(&t);
    assert_true(colltest_value(snap, "pg_up", END) == 1);
    check_names(snap);
    for (i = 0; i < 2; i++) {
        buf_init(&b, EXPO_MAX_BODY);
        assert_int_equal(expo_render(snap, formats[i], &b), 0);
        if (expo_lint(b.data, b.len, formats[i], msg, sizeof(msg)) != 0)
            fail_msg("%s exposition: %s",
                     formats[i] == EXPO_FORMAT_TEXT ? "text" : "OpenMetrics",
                     msg);
        if (formats[i] == EXPO_FORMAT_TEXT)
            promtool_check(b.data, b.len);
        buf_fini(&b);
    }
    metrics_snapshot_destroy(snap);
    colltest_stop(&t);
}

/* ---- sharing
 * ----------------------------------------------------------------- */

/* Checkouts made by the collections.  (Their statements are monitoring
 * work, left out of the pool's query statistics: checked below.) */
static uint64_t
pool_checkouts(struct colltest *t)
{
    struct pool_stats st;

    pool_snapshot(t->pool, &st);
    assert_int_equal(st.queries, 0);
    return st.acquires;
}

static void
test_min_interval_shares_one_collection(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct metrics_snapshot *snap;
    struct clock_manual mc = {.mono_ns = NS_PER_SEC, .real_ns = NS_PER_SEC};
    struct clock clock = clock_manual_make(&mc);
    uint64_t q;

    (void)state;
    colltest_config(&cfg);
    cfg.min_interval_ms = 1000;
    colltest_start(&t, "coll-share", &cfg, &clock);
    snap = colltest_collect(&t);
    metrics_snapshot_destroy(snap);
    assert_int_equal(collectors_runs(t.c), 1);
    q = pool_checkouts(&t);
    assert_true(q > 0);

    mc.mono_ns += 999 * NS_PER_MS;
    snap = colltest_collect(&t);
    assert_true(colltest_value(snap, "pg_up", END) == 1);
    assert_true(colltest_success(snap, "database") == 1);
    metrics_snapshot_destroy(snap);
    assert_int_equal(collectors_runs(t.c), 1);
    assert_int_equal(pool_checkouts(&t), q);

    mc.mono_ns += 2 * NS_PER_MS;
    snap = colltest_collect(&t);
    metrics_snapshot_destroy(snap);
    assert_int_equal(collectors_runs(t.c), 2);
    assert_true(pool_checkouts(&t) > q);
    colltest_stop(&t);
}

/* The first collection holds in its hook until the second scrape waits. */
struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered;
    bool open;
};

static void
gate_hook(void *arg, const char *collector, int pid)
{
    struct gate *g = arg;

    (void)pid;
    if (strcmp(collector, "database") != 0)
        return;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

struct scrape {
    struct colltest *t;
    double pg_up;
};

static void *
scrape_main(void *arg)
{
    struct scrape *s = arg;
    struct metrics_snapshot *snap = colltest_collect(s->t);

    s->pg_up = colltest_value(snap, "pg_up", END);
    metrics_snapshot_destroy(snap);
    return NULL;
}

static void
test_concurrent_scrapes_wait_for_one_collection(void **state)
{
    struct config_collectors cfg;
    struct colltest t;
    struct gate g = {PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER,
                     false,
                     false};
    struct scrape a = {&t, 0}, b = {&t, 0};
    pthread_t ta, tb;

    (void)state;
    colltest_config(&cfg);
    cfg.enabled = CONFIG_COLLECTOR_DATABASE | CONFIG_COLLECTOR_ACTIVITY;
    colltest_start(&t, "coll-conc", &cfg, NULL);
    collectors_set_hook(t.c, gate_hook, &g);
    assert_int_equal(pthread_create(&ta, NULL, scrape_main, &a), 0);
    pthread_mutex_lock(&g.mu);
    while (!g.entered)
        pthread_cond_wait(&g.cv, &g.mu);
    pthread_mutex_unlock(&g.mu);
    assert_int_equal(pthread_create(&tb, NULL, scrape_main, &b), 0);
    pooltest_sleep_ms(500); /* b is now waiting for a's collection */
    pthread_mutex_lock(&g.mu);
    g.open = true;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_true(a.pg_up == 1);
    assert_true(b.pg_up == 1);
    assert_int_equal(collectors_runs(t.c), 1);
    colltest_stop(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_collector_succeeds),
        cmocka_unit_test(test_bad_settings_are_refused),
        cmocka_unit_test(test_activity_counts_idle_connections),
        cmocka_unit_test(test_locks_waits_and_transaction_age),
        cmocka_unit_test(test_database_and_settings_values),
        cmocka_unit_test(test_tables_indexes_and_sizes),
        cmocka_unit_test(test_max_tables_cap),
        cmocka_unit_test(test_statements_cached_and_stable),
        cmocka_unit_test(test_exposition_is_clean),
        cmocka_unit_test(test_min_interval_shares_one_collection),
        cmocka_unit_test(test_concurrent_scrapes_wait_for_one_collection),
    };

    log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, NULL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

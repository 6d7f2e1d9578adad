/* SPDX-License-Identifier: MIT */
/* Integration tests of the transaction manager against a real PostgreSQL:
 * serialization conflicts and deadlocks retried with effects exactly once,
 * connection loss before COMMIT retried, an ambiguous COMMIT never
 * retried, savepoints, SET LOCAL, read only, timeouts and statistics.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "core/txn.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

struct fixture {
    struct config_database db;
    struct config_pool cfg;
    char app[64];
    struct metrics *metrics;
    struct pool *pool;
};

static struct fixture fx;

static int
group_setup(void **state)
{
    struct deskdb_err err;

    (void)state;
    test_exec("DROP TABLE IF EXISTS txn_rows, txn_skew, txn_dead, txn_amb;"
              "DROP FUNCTION IF EXISTS txn_amb_kill();"
              "CREATE TABLE txn_rows (k text PRIMARY KEY);"
              "CREATE TABLE txn_skew (grp int, v int, who text);"
              "CREATE TABLE txn_dead (id int PRIMARY KEY, v int);"
              "CREATE TABLE txn_amb (id int);"
              /* Ends its own session while COMMIT runs the deferred
               * trigger: the client has sent COMMIT and loses the
               * connection before any answer. */
              "CREATE FUNCTION txn_amb_kill() RETURNS trigger LANGUAGE "
              "plpgsql AS $$ BEGIN PERFORM pg_terminate_backend("
              "pg_backend_pid()); PERFORM pg_sleep(5); RETURN NULL; END $$;"
              "CREATE CONSTRAINT TRIGGER txn_amb_kill AFTER INSERT ON "
              "txn_amb DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE "
              "FUNCTION txn_amb_kill();");
    pooltest_config(&fx.db, &fx.cfg, "txn", fx.app);
    fx.cfg.min = 2;
    fx.cfg.max = 6;
    fx.metrics = metrics_create();
    assert_non_null(fx.metrics);
    fx.pool = pool_create(&fx.db, &fx.cfg, fx.metrics, NULL, &err);
    if (fx.pool == NULL)
        fail_msg("pool_create: %s", err.msg);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    pool_destroy(fx.pool);
    metrics_destroy(fx.metrics);
    return 0;
}

static struct txn_options
options(enum config_isolation iso)
{
    struct txn_options o = {
        .isolation = iso,
        .max_retries = 10,
        .backoff_base_ms = 5,
        .backoff_cap_ms = 50,
        .timeout_ms = 20000,
    };
    return o;
}

static long long
count(const char *sql)
{
    return test_query_int(sql);
}

static int
insert_key(struct txn *t, const char *k, struct deskdb_err *err)
{
    const char *params[] = {k};

    return txn_query(t,
                     "INSERT INTO txn_rows VALUES ($1)",
                     1,
                     params,
                     NULL,
                     err);
}

/* ---- commit, rollback, callback errors --------------------------------- */

struct work {
    const char *key;
    int fail_with;
    int attempts;
};

static int
insert_then_maybe_fail(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct work *w = arg;
    int rc;

    w->attempts = txn_attempt(t);
    rc = insert_key(t, w->key, err);
    if (rc != 0)
        return rc;
    if (w->fail_with != 0)
        return err_set(err, w->fail_with, "callback says no");
    return 0;
}

static void
test_commit_and_rollback(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct work ok = {"committed", 0, 0}, bad = {"rolled", DESKDB_EINVAL, 0};
    struct txn_stats before, after;
    struct deskdb_err err;

    (void)state;
    txn_stats_snapshot(fx.pool, &before);
    assert_int_equal(txn_run(fx.pool, &o, insert_then_maybe_fail, &ok, &err),
                     0);
    assert_int_equal(ok.attempts, 1);
    assert_int_equal(
        count("SELECT count(*) FROM txn_rows WHERE k = 'committed'"),
        1);
    assert_int_equal(txn_run(fx.pool, &o, insert_then_maybe_fail, &bad, &err),
                     DESKDB_EINVAL);
    assert_string_equal(err.msg, "callback says no");
    assert_int_equal(bad.attempts, 1);
    assert_int_equal(count("SELECT count(*) FROM txn_rows WHERE k = 'rolled'"),
                     0);
    /* A constraint violation is a definite error: never retried. */
    ok.attempts = 0;
    assert_int_equal(txn_run(fx.pool, &o, insert_then_maybe_fail, &ok, &err),
                     DESKDB_EPG);
    assert_string_equal(err.sqlstate, "23505");
    assert_int_equal(ok.attempts, 1);
    txn_stats_snapshot(fx.pool, &after);
    assert_int_equal(after.committed - before.committed, 1);
    assert_int_equal(after.rolled_back - before.rolled_back, 2);
    assert_int_equal(after.finished - before.finished, 3);
    assert_int_equal(after.in_progress, 0);
}

/* ---- serialization failure --------------------------------------------- */

struct skew {
    const char *who;
    pthread_barrier_t *both_read;
    int attempts;
    int rc;
    char msg[512];
};

static int
skew_fn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct skew *s = arg;
    PGresult *r;
    char v[16];
    const char *params[2];
    int rc;

    s->attempts = txn_attempt(t);
    rc = txn_query(t,
                   "SELECT coalesce(sum(v), 0) FROM txn_skew WHERE grp = 1",
                   0,
                   NULL,
                   &r,
                   err);
    if (rc != 0)
        return rc;
    snprintf(v, sizeof(v), "%d", atoi(PQgetvalue(r, 0, 0)) + 1);
    PQclear(r);
    /* Both read before either writes: a write skew SSI must break. */
    if (txn_attempt(t) == 1)
        pthread_barrier_wait(s->both_read);
    params[0] = v;
    params[1] = s->who;
    return txn_query(t,
                     "INSERT INTO txn_skew VALUES (1, $1, $2)",
                     2,
                     params,
                     NULL,
                     err);
}

static void *
skew_thread(void *arg)
{
    struct skew *s = arg;
    struct txn_options o = options(CONFIG_ISOLATION_SERIALIZABLE);
    struct deskdb_err err;

    s->rc = txn_run(fx.pool, &o, skew_fn, s, &err);
    snprintf(s->msg, sizeof(s->msg), "%s", err.msg);
    return NULL;
}

static void
test_serializable_conflict_is_retried_exactly_once(void **state)
{
    pthread_barrier_t barrier;
    struct skew a = {"A", &barrier, 0, -1, ""}, b = {"B", &barrier, 0, -1, ""};
    struct txn_stats before, after;
    pthread_t ta, tb;

    (void)state;
    txn_stats_snapshot(fx.pool, &before);
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&ta, NULL, skew_thread, &a);
    pthread_create(&tb, NULL, skew_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    if (a.rc != 0 || b.rc != 0)
        fail_msg("A: %s / B: %s", a.msg, b.msg);
    /* One of them ran again; each effect is there exactly once and the
     * result is that of a serial order (values 1 then 2). */
    assert_true(a.attempts + b.attempts >= 3);
    assert_int_equal(count("SELECT count(*) FROM txn_skew WHERE who = 'A'"), 1);
    assert_int_equal(count("SELECT count(*) FROM txn_skew WHERE who = 'B'"), 1);
    assert_int_equal(count("SELECT min(v) * 10 + max(v) FROM txn_skew"), 12);
    txn_stats_snapshot(fx.pool, &after);
    assert_true(after.retries[TXN_RETRY_SERIALIZATION] -
                    before.retries[TXN_RETRY_SERIALIZATION] >=
                1);
    assert_int_equal(after.committed - before.committed, 2);
    assert_true(pooltest_metric(fx.metrics,
                                "deskdb_transaction_retries_total",
                                "serialization_failure") >= 1);
}

/* ---- deadlock ---------------------------------------------------------- */

struct crossing {
    int first, second;
    pthread_barrier_t *both_locked;
    int attempts;
    int rc;
    char msg[512];
};

static int
crossing_fn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct crossing *c = arg;
    char id[2][12];
    const char *p1[] = {id[0]}, *p2[] = {id[1]};
    int rc;

    c->attempts = txn_attempt(t);
    snprintf(id[0], sizeof(id[0]), "%d", c->first);
    snprintf(id[1], sizeof(id[1]), "%d", c->second);
    rc = txn_query(t,
                   "UPDATE txn_dead SET v = v + 1 WHERE id = $1",
                   1,
                   p1,
                   NULL,
                   err);
    if (rc != 0)
        return rc;
    if (txn_attempt(t) == 1)
        pthread_barrier_wait(c->both_locked);
    return txn_query(t,
                     "UPDATE txn_dead SET v = v + 1 WHERE id = $1",
                     1,
                     p2,
                     NULL,
                     err);
}

static void *
crossing_thread(void *arg)
{
    static const struct config_kv fast[] = {
        {.key = (char *)"deadlock_timeout", .value = (char *)"100ms"},
    };
    struct crossing *c = arg;
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct deskdb_err err;

    o.settings = fast;
    o.n_settings = 1;
    c->rc = txn_run(fx.pool, &o, crossing_fn, c, &err);
    snprintf(c->msg, sizeof(c->msg), "%s", err.msg);
    return NULL;
}

static void
test_deadlock_is_retried_and_counted(void **state)
{
    pthread_barrier_t barrier;
    struct crossing a = {1, 2, &barrier, 0, -1, ""};
    struct crossing b = {2, 1, &barrier, 0, -1, ""};
    struct txn_stats before, after;
    pthread_t ta, tb;

    (void)state;
    test_exec("TRUNCATE txn_dead; INSERT INTO txn_dead VALUES (1, 0), (2, 0)");
    txn_stats_snapshot(fx.pool, &before);
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&ta, NULL, crossing_thread, &a);
    pthread_create(&tb, NULL, crossing_thread, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&barrier);
    if (a.rc != 0 || b.rc != 0)
        fail_msg("A: %s / B: %s", a.msg, b.msg);
    /* Usually one retry; the victim's retry can win the race for the row
     * its rival was woken for and deadlock again, which PostgreSQL
     * resolves the same way. */
    assert_true(a.attempts + b.attempts >= 3);
    /* Both transactions' increments, each exactly once. */
    assert_int_equal(count("SELECT sum(v) FROM txn_dead WHERE v = 2"), 4);
    txn_stats_snapshot(fx.pool, &after);
    assert_int_equal(after.retries[TXN_RETRY_DEADLOCK] -
                         before.retries[TXN_RETRY_DEADLOCK],
                     (uint64_t)(a.attempts + b.attempts - 2));
    assert_true(pooltest_metric(fx.metrics,
                                "deskdb_transaction_retries_total",
                                "deadlock") >= 1);
}

/* ---- retries give up --------------------------------------------------- */

static int
always_40001(struct txn *t, void *arg, struct deskdb_err *err)
{
    int *attempts = arg;

    *attempts = txn_attempt(t);
    return txn_exec(t,
                    "DO $$ BEGIN RAISE EXCEPTION 'synthetic' USING ERRCODE "
                    "= '40001'; END $$",
                    err);
}

static uint64_t
zero_rand(void *arg)
{
    (void)arg;
    return 0;
}

static void
test_retries_stop_at_max(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_SERIALIZABLE);
    struct txn_stats before, after;
    struct deskdb_err err;
    int attempts = 0;

    (void)state;
    o.max_retries = 2;
    o.rand = zero_rand;
    txn_stats_snapshot(fx.pool, &before);
    assert_int_equal(txn_run(fx.pool, &o, always_40001, &attempts, &err),
                     DESKDB_EPG);
    assert_int_equal(attempts, 3);
    assert_string_equal(err.sqlstate, "40001");
    assert_non_null(strstr(err.msg, "gave up after 3 attempts"));
    txn_stats_snapshot(fx.pool, &after);
    assert_int_equal(after.retries[TXN_RETRY_SERIALIZATION] -
                         before.retries[TXN_RETRY_SERIALIZATION],
                     2);
    assert_int_equal(after.rolled_back - before.rolled_back, 1);
    assert_int_equal(after.retried - before.retried, 1);
}

/* ---- connection loss --------------------------------------------------- */

static int
lose_connection_once(struct txn *t, void *arg, struct deskdb_err *err)
{
    int *attempts = arg;
    char sql[64];

    *attempts = txn_attempt(t);
    if (txn_attempt(t) == 1) {
        snprintf(sql,
                 sizeof(sql),
                 "SELECT pg_terminate_backend(%d)",
                 pool_conn_backend_pid(txn_conn(t)));
        test_exec(sql);
        pooltest_sleep_ms(100);
    }
    return insert_key(t, "after-loss", err);
}

static void
test_connection_loss_before_commit_is_retried(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct txn_stats before, after;
    struct deskdb_err err;
    int attempts = 0;

    (void)state;
    txn_stats_snapshot(fx.pool, &before);
    if (txn_run(fx.pool, &o, lose_connection_once, &attempts, &err) != 0)
        fail_msg("txn_run: %s", err.msg);
    assert_int_equal(attempts, 2);
    assert_int_equal(
        count("SELECT count(*) FROM txn_rows WHERE k = 'after-loss'"),
        1);
    txn_stats_snapshot(fx.pool, &after);
    assert_int_equal(after.retries[TXN_RETRY_CONNECTION] -
                         before.retries[TXN_RETRY_CONNECTION],
                     1);
}

static int
insert_amb(struct txn *t, void *arg, struct deskdb_err *err)
{
    int *attempts = arg;

    *attempts = txn_attempt(t);
    return txn_exec(t, "INSERT INTO txn_amb VALUES (1)", err);
}

static void
test_ambiguous_commit_is_never_retried(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct txn_stats before, after;
    struct deskdb_err err;
    int attempts = 0;

    (void)state;
    txn_stats_snapshot(fx.pool, &before);
    assert_int_equal(txn_run(fx.pool, &o, insert_amb, &attempts, &err),
                     DESKDB_ECONN);
    assert_true(txn_commit_unknown(&err));
    assert_string_equal(err.sqlstate, TXN_SQLSTATE_COMMIT_UNKNOWN);
    assert_non_null(strstr(err.msg, "COMMIT outcome unknown"));
    assert_int_equal(attempts, 1);
    txn_stats_snapshot(fx.pool, &after);
    assert_int_equal(after.commit_unknown - before.commit_unknown, 1);
    assert_int_equal(pooltest_metric(fx.metrics,
                                     "deskdb_transaction_commit_unknown_total",
                                     NULL),
                     1);
    assert_int_equal(count("SELECT count(*) FROM txn_amb"), 0);
}

/* ---- savepoints, settings, read only, timeout --------------------------- */

static int
savepoint_fn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct deskdb_err e2;
    int rc;

    (void)arg;
    if ((rc = insert_key(t, "sp-a", err)) != 0 ||
        (rc = txn_savepoint(t, "s1", err)) != 0 ||
        (rc = insert_key(t, "sp-b", err)) != 0 ||
        (rc = txn_rollback_to(t, "s1", err)) != 0 ||
        (rc = insert_key(t, "sp-c", err)) != 0 ||
        (rc = txn_release(t, "s1", err)) != 0 ||
        (rc = txn_savepoint(t, "s2", err)) != 0)
        return rc;
    /* An error inside a savepoint, recovered from. */
    if (insert_key(t, "sp-a", &e2) != DESKDB_EPG ||
        strcmp(e2.sqlstate, "23505") != 0)
        return err_set(err, DESKDB_EINVAL, "expected a duplicate key");
    if ((rc = txn_rollback_to(t, "s2", err)) != 0 ||
        (rc = insert_key(t, "sp-d", err)) != 0)
        return rc;
    if (txn_savepoint(t, "bad name; DROP TABLE txn_rows", &e2) != DESKDB_EINVAL)
        return err_set(err, DESKDB_EINVAL, "bad savepoint name accepted");
    return 0;
}

static void
test_savepoints(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct deskdb_err err;

    (void)state;
    if (txn_run(fx.pool, &o, savepoint_fn, NULL, &err) != 0)
        fail_msg("txn_run: %s", err.msg);
    assert_int_equal(count("SELECT count(*) FROM txn_rows WHERE k LIKE 'sp-%'"),
                     3);
    assert_int_equal(count("SELECT count(*) FROM txn_rows WHERE k = 'sp-b'"),
                     0);
    assert_int_equal(count("SELECT count(*) FROM txn_rows WHERE k = 'sp-d'"),
                     1);
}

struct shown {
    char work_mem[32];
    char statement_timeout[32];
    char isolation[32];
    char read_only[8];
};

static int
show(struct txn *t,
     const char *what,
     char *out,
     size_t n,
     struct deskdb_err *err)
{
    PGresult *r;
    char sql[64];
    int rc;

    snprintf(sql, sizeof(sql), "SHOW %s", what);
    rc = txn_query(t, sql, 0, NULL, &r, err);
    if (rc == 0) {
        snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return rc;
}

static int
show_fn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct shown *s = arg;
    int rc;

    if ((rc = show(t, "work_mem", s->work_mem, sizeof(s->work_mem), err)) ||
        (rc = show(t,
                   "statement_timeout",
                   s->statement_timeout,
                   sizeof(s->statement_timeout),
                   err)) ||
        (rc = show(t,
                   "transaction_isolation",
                   s->isolation,
                   sizeof(s->isolation),
                   err)))
        return rc;
    return show(t,
                "transaction_read_only",
                s->read_only,
                sizeof(s->read_only),
                err);
}

static void
test_set_local_settings_end_with_the_transaction(void **state)
{
    static const struct config_kv settings[] = {
        {.key = (char *)"work_mem", .value = (char *)"7MB"},
    };
    struct txn_options o = options(CONFIG_ISOLATION_REPEATABLE_READ);
    struct shown in, out;
    struct deskdb_err err;

    (void)state;
    o.settings = settings;
    o.n_settings = 1;
    o.timeout_ms = 5000;
    if (txn_run(fx.pool, &o, show_fn, &in, &err) != 0)
        fail_msg("txn_run: %s", err.msg);
    assert_string_equal(in.work_mem, "7MB");
    assert_string_equal(in.isolation, "repeatable read");
    assert_string_equal(in.read_only, "off");
    /* The transaction budget (5 s) is shorter than the session's 30 s. */
    assert_true(strcmp(in.statement_timeout, "30s") != 0);
    assert_true(atoi(in.statement_timeout) > 0);

    o = options(CONFIG_ISOLATION_SERIALIZABLE);
    o.read_only = true;
    o.deferrable = true;
    o.timeout_ms = 0; /* no budget: the session's statement_timeout holds */
    if (txn_run(fx.pool, &o, show_fn, &out, &err) != 0)
        fail_msg("txn_run: %s", err.msg);
    assert_string_equal(out.work_mem, "4MB");
    assert_string_equal(out.statement_timeout, "30s");
    assert_string_equal(out.isolation, "serializable");
    assert_string_equal(out.read_only, "on");
}

static void
test_read_only_rejects_writes_without_retry(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct work w = {"read-only", 0, 0};
    struct deskdb_err err;

    (void)state;
    o.read_only = true;
    assert_int_equal(txn_run(fx.pool, &o, insert_then_maybe_fail, &w, &err),
                     DESKDB_EPG);
    assert_string_equal(err.sqlstate, "25006");
    assert_int_equal(w.attempts, 1);
}

static int
sleepy(struct txn *t, void *arg, struct deskdb_err *err)
{
    int *attempts = arg;

    *attempts = txn_attempt(t);
    return txn_exec(t, "SELECT pg_sleep(10)", err);
}

static void
test_transaction_timeout(void **state)
{
    struct txn_options o = options(CONFIG_ISOLATION_READ_COMMITTED);
    struct deskdb_err err;
    int attempts = 0;
    int64_t t0;

    (void)state;
    o.timeout_ms = 500;
    t0 = pooltest_ms();
    assert_int_equal(txn_run(fx.pool, &o, sleepy, &attempts, &err),
                     DESKDB_ETIMEOUT);
    assert_true(pooltest_ms() - t0 < 4000);
    assert_int_equal(attempts, 1);
    assert_non_null(strstr(err.msg, "transaction timeout"));
    /* The pool is fine afterwards. */
    assert_int_equal(pool_health_check(fx.pool, 2000, &err), 0);
}

static void
test_statistics_and_metrics(void **state)
{
    struct txn_stats st;

    (void)state;
    txn_stats_snapshot(fx.pool, &st);
    assert_int_equal(st.in_progress, 0);
    assert_true(st.finished >= 10);
    assert_int_equal(st.finished,
                     st.committed + st.rolled_back + st.commit_unknown);
    assert_true(st.avg_ms > 0);
    assert_int_equal(
        pooltest_metric(fx.metrics, "deskdb_transactions_total", NULL),
        (double)st.finished);
    assert_int_equal(
        pooltest_metric(fx.metrics, "deskdb_transaction_rollbacks_total", NULL),
        (double)st.rolled_back);
    assert_int_equal(pooltest_metric(fx.metrics,
                                     "deskdb_transaction_duration_seconds",
                                     NULL),
                     (double)st.finished);
    assert_int_equal(
        pooltest_metric(fx.metrics, "deskdb_transactions_in_progress", NULL),
        0);
    assert_int_equal(pooltest_metric(fx.metrics,
                                     "deskdb_transaction_retries_total",
                                     "connection"),
                     (double)st.retries[TXN_RETRY_CONNECTION]);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_and_rollback),
        cmocka_unit_test(test_serializable_conflict_is_retried_exactly_once),
        cmocka_unit_test(test_deadlock_is_retried_and_counted),
        cmocka_unit_test(test_retries_stop_at_max),
        cmocka_unit_test(test_connection_loss_before_commit_is_retried),
        cmocka_unit_test(test_ambiguous_commit_is_never_retried),
        cmocka_unit_test(test_savepoints),
        cmocka_unit_test(test_set_local_settings_end_with_the_transaction),
        cmocka_unit_test(test_read_only_rejects_writes_without_retry),
        cmocka_unit_test(test_transaction_timeout),
        cmocka_unit_test(test_statistics_and_metrics),
    };

    log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, NULL);
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

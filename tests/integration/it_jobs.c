/* SPDX-License-Identifier: MIT */
/* Integration tests of each job type against PostgreSQL, through
 * scheduler_run_now(): bound run parameters, session settings that never
 * leak into the pool, timeouts that cancel, retries, expect_rows, purge
 * batches that resume, maintenance with invalid leftovers, only_if. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "config/config.h"
#include "core/pool.h"
#include "jobs/scheduler.h"
#include "support/jobstest.h"
#include "support/testsupport.h"

static const char setup_sql[] =
    "CREATE TABLE it_out (id serial PRIMARY KEY, run_id bigint,"
    " sched timestamptz, note text);"
    "CREATE SEQUENCE it_tries;"
    /* Fails twice in three calls; the sequence is not transactional, so
     * the count survives the rollbacks of the attempts. */
    "CREATE FUNCTION it_flaky(tag text, code text) RETURNS text"
    " LANGUAGE plpgsql AS $$ BEGIN"
    " IF nextval('it_tries') % 3 <> 0 THEN"
    "  RAISE EXCEPTION 'provoked %', code USING ERRCODE = code;"
    " END IF; RETURN tag; END $$;"
    "CREATE TABLE it_purge (id int, old bool);"
    "INSERT INTO it_purge SELECT g, g <= 2500 FROM generate_series(1, 2600) g;"
    "CREATE TABLE it_purge2 (id int);"
    "INSERT INTO it_purge2 SELECT g FROM generate_series(1, 5000) g;"
    "CREATE TABLE it_ix (a int, b int);"
    "INSERT INTO it_ix SELECT g % 10, g % 10 FROM generate_series(1, 200) g;"
    "CREATE INDEX it_idx_a ON it_ix (a);"
    "CREATE MATERIALIZED VIEW it_mv AS SELECT a, count(*) AS n FROM it_ix"
    " GROUP BY a;"
    "CREATE UNIQUE INDEX it_mv_a ON it_mv (a);"
    "INSERT INTO dealerships (id, name, code) VALUES"
    " ('00000000-0000-0000-0000-0000000000d1', 'Import Motors', 'IMP');";

static const char jobs_yaml[] =
    "  leader: {mode: none}\n"
    "  timezone: UTC\n"
    "  definitions:\n"
    "    - name: sql-insert\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      settings: {lock_timeout: 7s}\n"
    "      sql: >-\n"
    "        INSERT INTO it_out (run_id, sched, note)\n"
    "        VALUES (${run.id}::bigint, ${run.scheduled_for}::timestamptz,\n"
    "        current_setting('lock_timeout'))\n"
    "    - name: sql-sleep\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      sql: SELECT pg_sleep(20)\n"
    "      timeout: 1s\n"
    "    - name: sql-flaky\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      sql: INSERT INTO it_out (note) SELECT it_flaky('sql', '40P01')\n"
    "      retry: {max_attempts: 3, base: 1ms, cap: 5ms}\n"
    "    - name: batch-ok\n"
    "      schedule: '@hourly'\n"
    "      type: batch\n"
    "      isolation: serializable\n"
    "      settings: {lock_timeout: 3s}\n"
    "      steps:\n"
    "        - name: one\n"
    "          sql: >-\n"
    "            INSERT INTO it_out (run_id, note) VALUES (${run.id}::bigint,\n"
    "            current_setting('transaction_isolation') || '/' ||\n"
    "            current_setting('lock_timeout'))\n"
    "        - name: two\n"
    "          sql: >-\n"
    "            UPDATE it_out SET sched = ${run.scheduled_for}::timestamptz\n"
    "            WHERE run_id = ${run.id}::bigint\n"
    "          expect_rows: 1\n"
    "    - name: batch-flaky\n"
    "      schedule: '@hourly'\n"
    "      type: batch\n"
    "      steps:\n"
    "        - sql: INSERT INTO it_out (note) VALUES ('flaky-before')\n"
    "        - sql: INSERT INTO it_out (note) SELECT it_flaky('flaky', "
    "'40001')\n"
    "      retry: {max_attempts: 4, base: 1ms, cap: 5ms}\n"
    "    - name: batch-expect\n"
    "      schedule: '@hourly'\n"
    "      type: batch\n"
    "      steps:\n"
    "        - sql: INSERT INTO it_out (note) VALUES ('expect-me')\n"
    "        - name: none\n"
    "          sql: UPDATE it_out SET note = 'x' WHERE false\n"
    "          expect_rows: 1\n"
    "    - name: batch-timeout\n"
    "      schedule: '@hourly'\n"
    "      type: batch\n"
    "      timeout: 1s\n"
    "      steps:\n"
    "        - sql: INSERT INTO it_out (note) VALUES ('timeout-me')\n"
    "        - sql: SELECT pg_sleep(10)\n"
    "    - name: purge-all\n"
    "      schedule: '@hourly'\n"
    "      type: purge\n"
    "      purge: {table: it_purge, where: old, batch_size: 1000, pause: 0}\n"
    "    - name: purge-slow\n"
    "      schedule: '@hourly'\n"
    "      type: purge\n"
    "      purge:\n"
    "        table: public.it_purge2\n"
    "        where: id > 0\n"
    "        order_by: id\n"
    "        batch_size: 100\n"
    "        pause: 300ms\n"
    "        max_duration: 1s\n"
    "    - name: maint\n"
    "      schedule: '@hourly'\n"
    "      type: maintenance\n"
    "      settings: {maintenance_work_mem: 77MB, lock_timeout: 9s}\n"
    "      steps:\n"
    "        - analyze: {tables: [it_ix]}\n"
    "        - vacuum: {tables: [public.it_ix], analyze: true}\n"
    "        - reindex: {index: it_idx_a}\n"
    "        - create_index: {name: it_idx_b, table: it_ix, columns: [b]}\n"
    "        - refresh_materialized_view: {view: it_mv, concurrently: true}\n"
    "    - name: guard-false\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      only_if: SELECT count(*) > 1000 FROM it_out\n"
    "      sql: INSERT INTO it_out (note) VALUES ('guarded')\n"
    "    - name: guard-true\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      only_if: SELECT ${run.id}::bigint > 0\n"
    "      sql: INSERT INTO it_out (note) VALUES ('unguarded')\n"
    "    - name: guard-bad\n"
    "      schedule: '@hourly'\n"
    "      type: sql\n"
    "      only_if: SELECT 1\n"
    "      sql: SELECT 1\n"
    "    - name: feed-missing\n"
    "      schedule: '@hourly'\n"
    "      type: import\n"
    "      import: {inbox: /nonexistent/inbox, operation: create_deal}\n";

static struct jobstest t;
static char inbox[64];

static int
group_setup(void **state)
{
    char *yaml;

    (void)state;
    snprintf(inbox, sizeof(inbox), "/tmp/deskdb-it-inbox-XXXXXX");
    assert_non_null(mkdtemp(inbox));
    assert_true(asprintf(&yaml,
                         "%s"
                         "    - name: feed\n"
                         "      schedule: '@hourly'\n"
                         "      type: import\n"
                         "      import: {inbox: %s, operation: "
                         "register_user}\n",
                         jobs_yaml,
                         inbox) > 0);
    jobstest_setup(&t, "deskdb_jobs", setup_sql, yaml, 4);
    free(yaml);
    return 0;
}

static int
group_teardown(void **state)
{
    char cmd[128];

    (void)state;
    jobstest_teardown(&t);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", inbox);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

/* Run a job by hand; returns its status and fills `info`. */
static int
run(const char *name, struct scheduler_run_info *info, struct deskdb_err *err)
{
    int rc;

    err_clear(err);
    rc = scheduler_run_now(t.sched, name, err);
    assert_int_equal(scheduler_last_run(t.sched, name, info), 0);
    return rc;
}

static char *
row_text(const char *col, long long id)
{
    return jt_text(&t,
                   "SELECT %s FROM deskdb.job_runs WHERE id = %lld",
                   col,
                   id);
}

static void
assert_row(long long id, const char *status)
{
    char *s = row_text("status", id);

    assert_string_equal(s, status);
    free(s);
}

/* No pooled connection keeps what a job SET. */
static void
assert_pool_clean(void)
{
    struct pool_conn *c[4];
    struct deskdb_err err;
    PGresult *res;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(pool_acquire(t.pool, &c[i], &err), 0);
        assert_int_equal(pool_query(c[i],
                                    "SELECT current_setting('lock_timeout'),"
                                    " current_setting('maintenance_work_mem'),"
                                    " current_setting('statement_timeout')",
                                    0,
                                    NULL,
                                    &res,
                                    &err),
                         0);
        assert_string_equal(PQgetvalue(res, 0, 0), "0");
        assert_string_equal(PQgetvalue(res, 0, 1), "64MB");
        assert_string_equal(PQgetvalue(res, 0, 2), "30s");
        PQclear(res);
    }
    for (int i = 0; i < 4; i++)
        pool_release(t.pool, c[i]);
}

static void
test_sql_job(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;
    char *s;

    (void)state;
    assert_int_equal(run("sql-insert", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    assert_string_equal(r.trigger, "manual");
    assert_int_equal(r.rows, 1);
    assert_int_equal(r.attempts, 1);
    assert_row(r.id, "succeeded");
    /* The run's id and fire time were bound, and the setting applied. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out WHERE run_id = %lld"
                            " AND note = '7s' AND sched = (SELECT"
                            " scheduled_for FROM deskdb.job_runs WHERE id ="
                            " %lld)",
                            (long long)r.id,
                            (long long)r.id),
                     1);
    s = row_text("trigger || '/' || (backend_pid > 0)::text ||"
                 " '/' || rows_affected",
                 r.id);
    assert_string_equal(s, "manual/true/1");
    free(s);
    assert_int_equal(jt_metric(&t, "deskdb_job_runs_total", "sql-insert", NULL),
                     1);
    assert_pool_clean();
}

static void
test_timeout_cancels(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;

    (void)state;
    assert_int_not_equal(run("sql-sleep", &r, &err), 0);
    assert_string_equal(r.status, "timed_out");
    assert_true(r.finished_us - r.started_us < 4000000);
    assert_row(r.id, "timed_out");
    assert_contains(err.msg, "timed out");
    /* The statement was cancelled on the server, not left running. */
    assert_int_equal(jt_wait_int(&t,
                                 0,
                                 0,
                                 "SELECT count(*) FROM pg_stat_activity"
                                 " WHERE state = 'active' AND query ="
                                 " 'SELECT pg_sleep(20)'"),
                     0);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_failures_total", "sql-sleep", NULL),
        1);
    assert_pool_clean();
}

static void
test_retries(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;

    (void)state;
    jt_exec(&t, "ALTER SEQUENCE it_tries RESTART");
    assert_int_equal(run("sql-flaky", &r, &err), 0);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(jt_int(&t,
                            "SELECT attempts FROM deskdb.job_runs"
                            " WHERE id = %lld",
                            (long long)r.id),
                     3);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_retries_total", "sql-flaky", NULL),
        2);

    /* A batch is retried whole on 40001: its first step's row is there
     * once, not once per attempt. */
    jt_exec(&t, "ALTER SEQUENCE it_tries RESTART");
    assert_int_equal(run("batch-flaky", &r, &err), 0);
    assert_int_equal(r.attempts, 3);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out"
                            " WHERE note IN ('flaky-before', 'flaky')"),
                     2);
}

static void
test_batch(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;
    char *s;

    (void)state;
    assert_int_equal(run("batch-ok", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    assert_int_equal(r.rows, 2);
    s = jt_text(&t,
                "SELECT note || '/' || (sched = (SELECT scheduled_for"
                " FROM deskdb.job_runs WHERE id = %lld))::text FROM"
                " it_out WHERE run_id = %lld",
                (long long)r.id,
                (long long)r.id);
    assert_string_equal(s, "serializable/3s/true");
    free(s);

    /* expect_rows not met: the whole batch is rolled back. */
    assert_int_not_equal(run("batch-expect", &r, &err), 0);
    assert_string_equal(r.status, "failed");
    assert_contains(err.msg,
                    "step 'none' affected 0 rows, expected at least 1");
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out WHERE note ="
                            " 'expect-me'"),
                     0);
    s = row_text("error", r.id);
    assert_contains(s, "expected at least 1");
    free(s);

    /* A batch past its timeout: cancelled, rolled back, recorded. */
    assert_int_not_equal(run("batch-timeout", &r, &err), 0);
    assert_string_equal(r.status, "timed_out");
    assert_row(r.id, "timed_out");
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out WHERE note ="
                            " 'timeout-me'"),
                     0);
    assert_pool_clean();
}

static void
test_purge(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;
    long long left, deleted = 0;

    (void)state;
    assert_int_equal(run("purge-all", &r, &err), 0);
    assert_int_equal(r.rows, 2500);
    assert_int_equal(jt_int(&t, "SELECT count(*) FROM it_purge"), 100);
    assert_int_equal(jt_int(&t, "SELECT count(*) FROM it_purge WHERE old"), 0);

    /* max_duration 1 s with 300 ms pauses: a few batches, then a clean
     * stop that the next run continues. */
    assert_int_equal(run("purge-slow", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    assert_contains(r.note, "partial: max_duration (1s) reached");
    assert_true(r.rows >= 300 && r.rows <= 600);
    assert_int_equal(r.rows % 100, 0);
    left = jt_int(&t, "SELECT count(*) FROM it_purge2");
    assert_int_equal(left, 5000 - r.rows);
    /* Oldest first (order_by id). */
    assert_int_equal(jt_int(&t, "SELECT min(id) FROM it_purge2"), r.rows + 1);
    deleted = r.rows;
    assert_int_equal(run("purge-slow", &r, &err), 0);
    assert_true(r.rows > 0);
    assert_int_equal(jt_int(&t, "SELECT count(*) FROM it_purge2"),
                     5000 - deleted - r.rows);
    {
        char *note = row_text("note", r.id);

        assert_contains(note, "the next run continues");
        free(note);
    }
}

/* An invalid index as a failed CREATE UNIQUE INDEX CONCURRENTLY leaves. */
static void
make_invalid_index(const char *name)
{
    char sql[256], state[6];
    PGconn *c = test_db_connect(&t.db);

    snprintf(sql,
             sizeof(sql),
             "CREATE UNIQUE INDEX CONCURRENTLY %s ON it_ix (b)",
             name);
    assert_string_equal(test_sqlstate(c, sql, state), "23505");
    PQfinish(c);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM pg_index WHERE"
                            " indexrelid = '%s'::regclass AND NOT"
                            " indisvalid",
                            name),
                     1);
}

static void
test_maintenance(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;

    (void)state;
    make_invalid_index("it_idx_a_ccnew");
    make_invalid_index("it_idx_b");
    jt_exec(&t, "INSERT INTO it_ix VALUES (42, 42)");
    assert_int_equal(run("maint", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    /* The REINDEX leftover is gone, the failed index was rebuilt. */
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM pg_class WHERE relname"
                            " = 'it_idx_a_ccnew'"),
                     0);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM pg_index WHERE"
                            " indexrelid = 'it_idx_b'::regclass AND"
                            " indisvalid AND NOT indisunique"),
                     1);
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM pg_index i JOIN"
                            " pg_class c ON c.oid = i.indexrelid WHERE"
                            " c.relname LIKE 'it_%%' AND NOT"
                            " i.indisvalid"),
                     0);
    assert_int_equal(jt_int(&t, "SELECT n FROM it_mv WHERE a = 42"), 1);
    assert_pool_clean();
}

static void
test_only_if(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;
    char *s;

    (void)state;
    assert_int_equal(run("guard-false", &r, &err), 0);
    assert_string_equal(r.status, "skipped");
    assert_string_equal(r.note, "only_if returned false");
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out WHERE note ="
                            " 'guarded'"),
                     0);
    s = row_text("status || '/' || note", r.id);
    assert_string_equal(s, "skipped/only_if returned false");
    free(s);
    assert_int_equal(
        jt_metric(&t, "deskdb_job_skipped_total", "guard-false", "guard"),
        1);

    assert_int_equal(run("guard-true", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM it_out WHERE note ="
                            " 'unguarded'"),
                     1);

    assert_int_not_equal(run("guard-bad", &r, &err), 0);
    assert_string_equal(r.status, "failed");
    assert_contains(err.msg, "only_if must return one boolean");
}

#define DEALER "00000000-0000-0000-0000-0000000000d1"
#define USER(ext, name)                                        \
    "{\"external_id\":\"" ext "\",\"dealership_id\":\"" DEALER \
    "\",\"username\":\"" name "\",\"email\":\"" name           \
    "@example.com\",\"role\":\"salesperson\"}\n"

/* A file in the inbox, modified `age` seconds ago. */
static void
drop_file(const char *name, const char *text, int age)
{
    char path[256];
    struct timespec ts[2];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", inbox, name);
    f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= age;
    ts[1] = ts[0];
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool
exists(const char *name)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", inbox, name);
    return access(path, F_OK) == 0;
}

static int
count_lines(const char *name)
{
    char path[256], line[4096];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof(path), "%s/%s", inbox, name);
    f = fopen(path, "r");
    if (f == NULL)
        fail_msg("%s: missing", path);
    while (fgets(line, sizeof(line), f) != NULL)
        n++;
    fclose(f);
    return n;
}

static void
test_import(void **state)
{
    struct scheduler_run_info r;
    struct deskdb_err err;

    (void)state;
    drop_file("a.ndjson", USER("u-1", "imp_one") USER("u-2", "imp_two"), 10);
    drop_file("b.ndjson",
              USER("u-1", "imp_one") "{\"dealership_id\":\"" DEALER "\"}\n",
              10);
    drop_file("c.ndjson", USER("u-3", "imp_three"), 0); /* being written */
    drop_file(".d.ndjson", USER("u-4", "imp_four"), 10);
    drop_file("notes.txt", "not a feed", 10);

    /* One record of b.ndjson fails: the run fails, the rest applies. */
    assert_int_equal(run("feed", &r, &err), DESKDB_EINVAL);
    assert_string_equal(r.status, "failed");
    assert_string_equal(r.note, "2 files: 2 applied, 1 duplicates, 1 failed");
    assert_contains(err.msg, "1 records failed in 1 of 2 files");
    assert_int_equal(r.rows, 2);
    assert_true(exists("done/a.ndjson") && exists("done/a.results.ndjson"));
    assert_true(exists("failed/b.ndjson") && exists("failed/b.results.ndjson"));
    assert_int_equal(count_lines("done/a.results.ndjson"), 2);
    assert_int_equal(count_lines("failed/b.results.ndjson"), 2);
    assert_false(exists("a.ndjson") || exists("b.ndjson"));
    assert_true(exists("c.ndjson") && exists(".d.ndjson") &&
                exists("notes.txt"));
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM users WHERE username"
                            " LIKE 'imp_%%'"),
                     2);

    /* The next run takes c.ndjson once it has settled; a feed sent again
     * applies nothing twice, and lands beside the first copy. */
    drop_file("c.ndjson", USER("u-3", "imp_three"), 10);
    drop_file("a.ndjson", USER("u-1", "imp_one") USER("u-2", "imp_two"), 10);
    assert_int_equal(run("feed", &r, &err), 0);
    assert_string_equal(r.status, "succeeded");
    assert_string_equal(r.note, "2 files: 1 applied, 2 duplicates, 0 failed");
    assert_true(exists("done/c.ndjson"));
    {
        char name[64];

        snprintf(name,
                 sizeof(name),
                 "done/a.%lld.0.results.ndjson",
                 (long long)r.id);
        assert_true(exists(name));
    }
    assert_int_equal(jt_int(&t,
                            "SELECT count(*) FROM users WHERE username"
                            " LIKE 'imp_%%'"),
                     3);
    assert_int_equal(jt_int(&t, "SELECT count(*) FROM deskdb.import_ledger"),
                     3);

    /* An inbox that does not exist: a clear failure. */
    assert_int_not_equal(run("feed-missing", &r, &err), 0);
    assert_contains(err.msg, "inbox /nonexistent/inbox");
}

static void
test_manual_refusals(void **state)
{
    struct deskdb_err err;

    (void)state;
    assert_int_equal(scheduler_run_now(t.sched, "no-such-job", &err),
                     DESKDB_ENOTFOUND);
    /* forbid: a run in progress elsewhere (a live backend) refuses ... */
    {
        PGconn *c = test_db_connect(&t.db);
        PGresult *res = PQexec(c,
                               "INSERT INTO deskdb.job_runs (job,"
                               " scheduled_for, status, instance, backend_pid)"
                               " VALUES ('sql-insert', now(), 'running',"
                               " 'elsewhere:1', pg_backend_pid())");

        assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        assert_int_equal(scheduler_run_now(t.sched, "sql-insert", &err),
                         DESKDB_EBUSY);
        assert_contains(err.msg, "already running");
        assert_contains(err.msg, "on elsewhere:1");
        PQfinish(c);
    }
    /* ... and one whose backend has gone does not. */
    assert_int_equal(
        jt_wait_int(&t,
                    1,
                    5000,
                    "SELECT (count(*) = 0)::int FROM deskdb.job_runs r"
                    " JOIN pg_stat_activity a ON a.pid ="
                    " r.backend_pid WHERE r.status = 'running'"),
        1);
    assert_int_equal(scheduler_run_now(t.sched, "sql-insert", &err), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sql_job),
        cmocka_unit_test(test_timeout_cancels),
        cmocka_unit_test(test_retries),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_purge),
        cmocka_unit_test(test_maintenance),
        cmocka_unit_test(test_only_if),
        cmocka_unit_test(test_import),
        cmocka_unit_test(test_manual_refusals),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for job SQL: placeholders bound as parameters, the statement
 * checks made at config load, the SQL of maintenance steps and purges,
 * and the jobs: validator's messages and positions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/config_jobs.h"
#include "core/buf.h"
#include "jobs/jobdef.h"
#include "jobs/maint.h"
#include "jobs/sqltext.h"

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static void
test_placeholders(void **state)
{
    struct sqltext t;
    struct deskdb_err err;
    const char *p[SQLTEXT_MAX_PARAMS];

    (void)state;
    assert_int_equal(sqltext_compile("UPDATE t SET a = ${run.id}::bigint "
                                     "WHERE at < ${run.scheduled_for} "
                                     "AND b = ${run.id}",
                                     &t,
                                     &err),
                     0);
    assert_string_equal(t.sql,
                        "UPDATE t SET a = $1::bigint WHERE at < $2 AND b = $1");
    assert_int_equal(t.nparams, 2);
    sqltext_params(&t, "42", "2025-03-09T07:00:00Z", p);
    assert_string_equal(p[0], "42");
    assert_string_equal(p[1], "2025-03-09T07:00:00Z");
    sqltext_fini(&t);

    /* Quotes and comments are left alone; no placeholder, no parameter. */
    assert_int_equal(
        sqltext_compile("SELECT '$x', \"a$b\", $$ {} $$ -- ${", &t, &err),
        0);
    assert_int_equal(t.nparams, 0);
    assert_string_equal(t.sql, "SELECT '$x', \"a$b\", $$ {} $$ -- ${");
    sqltext_fini(&t);

    assert_int_equal(sqltext_compile("SELECT '${run.id}'", &t, &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "inside a quoted string");
    assert_int_equal(sqltext_compile("SELECT ${run.idx}", &t, &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "unknown placeholder ${run.idx}");
    assert_int_equal(sqltext_compile("SELECT 1\nWHERE x = $1", &t, &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "parameter $1 (line 2)");
    assert_int_equal(sqltext_compile("SELECT 'open", &t, &err), DESKDB_EINVAL);
}

static void
test_statement_checks(void **state)
{
    static const struct {
        const char *sql;
        const char *why; /* NULL: transactional */
    } cases[] = {
        {"VACUUM deals", "VACUUM"},
        {"vacuum (analyze) deals", "VACUUM"},
        {"CREATE INDEX CONCURRENTLY i ON t (a)", "CREATE INDEX CONCURRENTLY"},
        {"create unique index concurrently i on t (a)",
         "CREATE INDEX CONCURRENTLY"},
        {"DROP INDEX CONCURRENTLY i", "DROP INDEX CONCURRENTLY"},
        {"REINDEX INDEX CONCURRENTLY i", "REINDEX CONCURRENTLY"},
        {"REINDEX (CONCURRENTLY) TABLE t", "REINDEX CONCURRENTLY"},
        {"REINDEX DATABASE app", "REINDEX DATABASE"},
        {"REINDEX SCHEMA public", "REINDEX SCHEMA"},
        {"REINDEX TABLE t", NULL},
        {"CLUSTER", "CLUSTER without a table"},
        {"CLUSTER VERBOSE", "CLUSTER without a table"},
        {"CLUSTER deals USING idx", NULL},
        {"ALTER SYSTEM SET work_mem = '8MB'", "ALTER SYSTEM"},
        {"ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
         "DETACH PARTITION CONCURRENTLY"},
        {"CREATE DATABASE x", "CREATE DATABASE"},
        {"DROP TABLESPACE x", "DROP TABLESPACE"},
        {"CREATE INDEX i ON t (a)", NULL},
        {"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", NULL},
        {"ANALYZE deals", NULL},
        {"SELECT 'VACUUM' AS \"concurrently\" -- VACUUM", NULL},
        {"UPDATE t SET note = 'create index concurrently'", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *why =
            sqltext_non_transactional(cases[i].sql, strlen(cases[i].sql));

        if (cases[i].why == NULL && why != NULL)
            fail_msg("%s: flagged as %s", cases[i].sql, why);
        if (cases[i].why != NULL &&
            (why == NULL || strcmp(why, cases[i].why) != 0))
            fail_msg("%s: want %s, got %s",
                     cases[i].sql,
                     cases[i].why,
                     why ? why : "NULL");
    }
    assert_true(sqltext_is_transaction_control("BEGIN", 5));
    assert_true(sqltext_is_transaction_control("commit", 6));
    assert_true(sqltext_is_transaction_control("PREPARE TRANSACTION 'x'", 23));
    assert_false(sqltext_is_transaction_control("PREPARE q AS SELECT 1", 21));
    assert_true(sqltext_is_client_copy("COPY t FROM STDIN", 17));
    assert_false(sqltext_is_client_copy("COPY t FROM '/tmp/x'", 20));
}

static void
test_single_and_fragment(void **state)
{
    struct deskdb_err err;

    (void)state;
    assert_int_equal(sqltext_check_single("SELECT 1;", "sql", &err), 0);
    assert_int_equal(sqltext_check_single("SELECT 1; SELECT 2", "sql", &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "2 statements");
    assert_int_equal(sqltext_check_single("-- nothing", "sql", &err),
                     DESKDB_EINVAL);
    assert_int_equal(sqltext_check_single("SELECT ';'", "sql", &err), 0);
    assert_int_equal(
        sqltext_check_fragment("a < now() - interval '1 day'", "where", &err),
        0);
    assert_int_equal(sqltext_check_fragment("true) OR (true", "where", &err),
                     DESKDB_EINVAL);
    assert_int_equal(
        sqltext_check_fragment("true; DROP TABLE x", "where", &err),
        DESKDB_EINVAL);
    assert_contains(err.msg, "fragment");
    assert_int_equal(sqltext_check_fragment("f(')')", "where", &err), 0);
}

/* Writable copies of literals, as config strings are. */
static const char *
step_sql(const struct config_maint_step *st, struct buf *b)
{
    buf_reset(b);
    assert_int_equal(maint_step_sql(st, b), 0);
    return b->data;
}

static void
test_maintenance_sql(void **state)
{
    struct config_str tables[2] = {{.value = (char[]){"public.Deals"}},
                                   {.value = (char[]){"customers"}}};
    struct config_str cols[2] = {{.value = (char[]){"dealership_id"}},
                                 {.value = (char[]){"created_at"}}};
    struct config_maint_step st;
    struct config_job_purge p;
    struct buf b;

    (void)state;
    buf_init(&b, 4096);
    memset(&st, 0, sizeof(st));
    st.kind = CONFIG_STEP_ANALYZE;
    assert_string_equal(step_sql(&st, &b), "ANALYZE");
    st.u.analyze.tables = tables;
    st.u.analyze.n_tables = 2;
    assert_string_equal(step_sql(&st, &b),
                        "ANALYZE \"public\".\"deals\", \"customers\"");

    memset(&st, 0, sizeof(st));
    st.kind = CONFIG_STEP_VACUUM;
    st.u.vacuum.tables = tables;
    st.u.vacuum.n_tables = 1;
    st.u.vacuum.analyze = true;
    st.u.vacuum.index_cleanup = CONFIG_INDEX_CLEANUP_OFF;
    assert_string_equal(step_sql(&st, &b),
                        "VACUUM (ANALYZE, INDEX_CLEANUP OFF) "
                        "\"public\".\"deals\"");

    memset(&st, 0, sizeof(st));
    st.kind = CONFIG_STEP_REINDEX;
    st.u.reindex.index.value = (char[]){"public.idx_deals_state"};
    st.u.reindex.concurrently = true;
    assert_string_equal(step_sql(&st, &b),
                        "REINDEX INDEX CONCURRENTLY "
                        "\"public\".\"idx_deals_state\"");
    assert_true(maint_step_builds_concurrently(&st));

    memset(&st, 0, sizeof(st));
    st.kind = CONFIG_STEP_REFRESH_MATERIALIZED_VIEW;
    st.u.refresh.view.value = (char[]){"reporting.sales"};
    assert_string_equal(step_sql(&st, &b),
                        "REFRESH MATERIALIZED VIEW \"reporting\".\"sales\"");
    assert_false(maint_step_builds_concurrently(&st));

    memset(&st, 0, sizeof(st));
    st.kind = CONFIG_STEP_CREATE_INDEX;
    st.u.create_index.name.value = (char[]){"idx_x"};
    st.u.create_index.table.value = (char[]){"public.deals"};
    st.u.create_index.columns = cols;
    st.u.create_index.n_columns = 2;
    st.u.create_index.unique = true;
    st.u.create_index.concurrently = true;
    assert_string_equal(step_sql(&st, &b),
                        "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS "
                        "\"idx_x\" ON \"public\".\"deals\" "
                        "(\"dealership_id\", \"created_at\")");

    memset(&p, 0, sizeof(p));
    p.table.value = (char[]){"public.audit_log"};
    p.where.value = (char[]){"created_at < now() - interval '1 year'"};
    p.order_by.value = (char[]){"created_at"};
    p.batch_size = 500;
    buf_reset(&b);
    assert_int_equal(maint_purge_sql(&p, &b), 0);
    assert_string_equal(b.data,
                        "DELETE FROM \"public\".\"audit_log\" WHERE ctid = ANY "
                        "(ARRAY(SELECT ctid FROM \"public\".\"audit_log\" "
                        "WHERE (created_at < now() - interval '1 year') "
                        "ORDER BY created_at LIMIT 500)) AND (created_at < "
                        "now() - interval '1 year')");
    buf_fini(&b);
}

/* The validator on a configuration held in a file, for positions. */
static int
check_yaml(const char *yaml, struct deskdb_err *err)
{
    char path[] = "/tmp/deskdb-test-jobs-XXXXXX";
    struct config *cfg;
    int fd = mkstemp(path), rc;

    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    cfg = config_load(path, err);
    if (cfg == NULL) {
        unlink(path);
        fail_msg("config_load: %s", err->msg);
    }
    rc = jobs_check_config(cfg, err);
    config_destroy(cfg);
    unlink(path);
    return rc;
}

#define JOB_HEAD "jobs:\n  definitions:\n    - name: j\n"

static void
test_validator(void **state)
{
    struct deskdb_err err;

    (void)state;
    assert_int_equal(check_yaml(JOB_HEAD "      schedule: \"15 24 * * *\"\n"
                                         "      type: sql\n"
                                         "      sql: SELECT 1\n",
                                &err),
                     DESKDB_EINVAL);
    /* The value's quote is at column 17; "24" is the expression's 4th. */
    assert_contains(err.msg, ":4:21: job 'j': schedule");
    assert_contains(err.msg, "hour 24 out of range");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: 0 3 * * mon-fry\n"
                                         "      type: sql\n"
                                         "      sql: SELECT 1\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, ":4:29:");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@daily'\n"
                                         "      timezone: Mars/Olympus\n"
                                         "      type: sql\n"
                                         "      sql: SELECT 1\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, ":5:17: job 'j': timezone");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@daily'\n"
                                         "      type: batch\n"
                                         "      steps:\n"
                                         "        - name: v\n"
                                         "          sql: VACUUM deals\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, ":8:16: job 'j': step 'v': VACUUM cannot run");
    assert_contains(err.msg, "use type: maintenance");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@daily'\n"
                                         "      type: sql\n"
                                         "      sql: SELECT 1; SELECT 2\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "2 statements");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@daily'\n"
                                         "      type: sql\n"
                                         "      sql: SELECT 1\n"
                                         "      only_if: VACUUM\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "only_if: must be a query");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@daily'\n"
                                         "      type: purge\n"
                                         "      purge:\n"
                                         "        table: t\n"
                                         "        where: x; DROP TABLE t\n",
                                &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "purge.where");

    assert_int_equal(check_yaml(JOB_HEAD "      schedule: '@every 1m'\n"
                                         "      type: batch\n"
                                         "      steps:\n"
                                         "        - sql: >-\n"
                                         "            INSERT INTO t VALUES\n"
                                         "            (${run.id}::bigint)\n",
                                &err),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placeholders),
        cmocka_unit_test(test_statement_checks),
        cmocka_unit_test(test_single_and_fragment),
        cmocka_unit_test(test_maintenance_sql),
        cmocka_unit_test(test_validator),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

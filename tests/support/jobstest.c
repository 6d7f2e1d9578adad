/* SPDX-License-Identifier: MIT */
/* Helpers for the job integration tests. */
#include "support/jobstest.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/metrics.h"
#include "core/migrate.h"
#include "core/pool.h"
#include "jobs/scheduler.h"

static void
migrate(const struct test_db *db)
{
    struct migration_set *set = NULL;
    struct migrate_options o = {0};
    struct deskdb_err err;

    assert_int_equal(migration_set_load_embedded(&set, &err), DESKDB_OK);
    o.conninfo = db->dsn;
    o.set = set;
    if (migrate_up(&o, NULL, &err) != DESKDB_OK)
        fail_msg("migrate: %s", err.msg);
    migration_set_destroy(set);
}

/* The configuration text: the database by a YAML double-quoted string. */
static char *
config_text(const struct test_db *db, const char *jobs_yaml, int pool_max)
{
    struct buf b;
    int rc;

    buf_init(&b, 1 << 20);
    rc = buf_puts(&b, "database:\n  url: \"");
    for (const char *p = db->dsn; rc == 0 && *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            rc = buf_putc(&b, '\\');
        if (rc == 0)
            rc = buf_putc(&b, *p);
    }
    if (rc == 0)
        rc = buf_printf(&b,
                        "\"\n  application_name: deskdb-it-jobs\n"
                        "pool:\n  min: 1\n  max: %d\n"
                        "  acquire_timeout: 5s\n  query_timeout: 30s\n"
                        "log:\n  level: warn\n"
                        "jobs:\n%s",
                        pool_max,
                        jobs_yaml);
    assert_int_equal(rc, 0);
    return buf_take(&b);
}

/* The seed's variables override the file (scripts/test exports
 * DATABASE_URL for the shared test database): these tests configure
 * their own database. */
static void
clear_overrides(void)
{
    static const char *const vars[] = {"DATABASE_URL",
                                       "DB_POOL_MAX",
                                       "DB_POOL_MIN",
                                       "DB_CONNECT_TIMEOUT",
                                       "DB_IDLE_TIMEOUT",
                                       "DB_STATEMENT_TIMEOUT",
                                       "DB_QUERY_TIMEOUT",
                                       "DB_SLOW_QUERY_THRESHOLD"};

    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
}

struct config *
jobstest_config(const struct jobstest *t,
                const char *jobs_yaml,
                int pool_max,
                struct deskdb_err *err)
{
    char *text = config_text(&t->db, jobs_yaml, pool_max);
    struct config *cfg;

    clear_overrides();
    cfg = config_load_buffer("jobs.yaml", text, strlen(text), err);
    free(text);
    return cfg;
}

static void
load(struct jobstest *t, const char *jobs_yaml, int pool_max)
{
    struct deskdb_err err;

    t->cfg = jobstest_config(t, jobs_yaml, pool_max, &err);
    if (t->cfg == NULL)
        fail_msg("config: %s", err.msg);
    t->metrics = metrics_create();
    assert_non_null(t->metrics);
    t->pool =
        pool_create(&t->cfg->database, &t->cfg->pool, t->metrics, NULL, &err);
    if (t->pool == NULL)
        fail_msg("pool: %s", err.msg);
    t->sched =
        scheduler_create(t->cfg, t->pool, t->metrics, NULL, t->db.dsn, &err);
    if (t->sched == NULL)
        fail_msg("scheduler: %s", err.msg);
}

void
jobstest_setup(struct jobstest *t,
               const char *prefix,
               const char *setup_sql,
               const char *jobs_yaml,
               int pool_max)
{
    memset(t, 0, sizeof(*t));
    test_db_create(&t->db, prefix);
    migrate(&t->db);
    if (setup_sql != NULL)
        test_db_exec(&t->db, setup_sql);
    load(t, jobs_yaml, pool_max);
}

void
jobstest_second(const struct jobstest *t,
                const char *jobs_yaml,
                struct jobstest *out)
{
    memset(out, 0, sizeof(*out));
    out->db = t->db;
    load(out, jobs_yaml, 6);
}

void
jobstest_free_extra(struct jobstest *t)
{
    scheduler_destroy(t->sched);
    if (t->pool != NULL) {
        (void)pool_shutdown(t->pool, 5000);
        pool_destroy(t->pool);
    }
    metrics_destroy(t->metrics);
    config_destroy(t->cfg);
    t->sched = NULL;
    t->pool = NULL;
    t->metrics = NULL;
    t->cfg = NULL;
}

void
jobstest_teardown(struct jobstest *t)
{
    jobstest_free_extra(t);
    test_db_drop(&t->db);
}

static char *
vformat(const char *fmt, va_list ap)
{
    char *s = NULL;

    assert_true(vasprintf(&s, fmt, ap) >= 0);
    return s;
}

long long
jt_int(const struct jobstest *t, const char *fmt, ...)
{
    va_list ap;
    char *sql;
    long long v;

    va_start(ap, fmt);
    sql = vformat(fmt, ap);
    va_end(ap);
    v = test_db_query_int(&t->db, sql);
    free(sql);
    return v;
}

char *
jt_text(const struct jobstest *t, const char *fmt, ...)
{
    va_list ap;
    char *sql, *v;

    va_start(ap, fmt);
    sql = vformat(fmt, ap);
    va_end(ap);
    v = test_db_query_text(&t->db, sql);
    free(sql);
    return v;
}

void
jt_exec(const struct jobstest *t, const char *sql)
{
    test_db_exec(&t->db, sql);
}

double
jt_metric(const struct jobstest *t,
          const char *family,
          const char *job,
          const char *reason)
{
    struct metrics_snapshot *snap =
        metrics_snapshot_create(t->metrics, NULL, NULL);
    const struct metrics_snapshot_family *f;
    double v = -1;

    assert_non_null(snap);
    f = metrics_snapshot_find(snap, family);
    for (size_t i = 0; f != NULL && i < f->n_samples; i++) {
        const struct metrics_sample *s = &f->samples[i];

        if (job != NULL && strcmp(s->label_values[0], job) != 0)
            continue;
        if (reason != NULL && strcmp(s->label_values[1], reason) != 0)
            continue;
        v = f->type == METRIC_HISTOGRAM ? (double)s->count : s->value;
        break;
    }
    metrics_snapshot_destroy(snap);
    return v;
}

void
jt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

long long
jt_wait_int(const struct jobstest *t,
            long long want,
            int timeout_ms,
            const char *sql)
{
    long long v = 0;

    for (int waited = 0; waited <= timeout_ms; waited += 50) {
        v = test_db_query_int(&t->db, sql);
        if (v >= want)
            break;
        jt_sleep_ms(50);
    }
    return v;
}

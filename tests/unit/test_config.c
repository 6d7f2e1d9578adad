/* SPDX-License-Identifier: MIT */
/* Unit tests for the config module: values, defaults, sections, the
 * environment, secret files, redaction, printing and error positions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "config/config.h"
#include "config/config_alerts.h"
#include "config/config_jobs.h"
#include "jobs/jobdef.h"

static const char *const seed_vars[] = {
    "DATABASE_URL",
    "DB_POOL_MAX",
    "DB_POOL_MIN",
    "DB_CONNECT_TIMEOUT",
    "DB_IDLE_TIMEOUT",
    "DB_STATEMENT_TIMEOUT",
    "DB_QUERY_TIMEOUT",
    "DB_SLOW_QUERY_THRESHOLD",
    "DESKDB_CONFIG",
    "DESKDB_TEST_VAR",
    "DESKDB_TEST_EMPTY",
};

static int
clean_env(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(seed_vars) / sizeof(seed_vars[0]); i++)
        unsetenv(seed_vars[i]);
    return 0;
}

static struct config *
load(const char *yaml)
{
    struct deskdb_err err;
    struct config *cfg;

    err_clear(&err);
    cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &err);
    if (cfg == NULL)
        fail_msg("unexpected error: %s", err.msg);
    return cfg;
}

/* Load `yaml`, expect failure and return the message (static storage). */
static const char *
load_error(const char *yaml)
{
    static struct deskdb_err err;
    struct config *cfg;

    err_clear(&err);
    cfg = config_load_buffer("t.yaml", yaml, strlen(yaml), &err);
    if (cfg != NULL) {
        config_destroy(cfg);
        fail_msg("expected an error for:\n%s", yaml);
    }
    assert_int_not_equal(err.code, 0);
    return err.msg;
}

static char *
print_config(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);

    assert_non_null(out);
    assert_int_equal(config_print(cfg, out), 0);
    fclose(out);
    return text;
}

/* ---- values ------------------------------------------------------------- */

static void
test_durations(void **state)
{
    static const struct {
        const char *text;
        int64_t ms;
    } good[] = {
        {"0", 0},
        {"0s", 0},
        {"250ms", 250},
        {"10s", 10000},
        {"5m", 300000},
        {"2h", 7200000},
        {"7d", 604800000},
        {"1h30m", 5400000},
        {"1m30s500ms", 90500},
        {"1d2h3m4s5ms", 93784005},
    };
    static const char *const bad[] = {
        "",
        "10",
        "-1s",
        "10 s",
        " 10s",
        "10s ",
        "1.5s",
        "1x",
        "s",
        "ms",
        "30m1h",
        "1m1m",
        "+5s",
        "10S",
        "1e3ms",
        "1us",
        "0x10s",
        "106751991168d",
        "9223372036854775808ms",
    };
    char buf[48];
    size_t i;
    int64_t ms;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(config_parse_duration(good[i].text, &ms, NULL), 0);
        assert_int_equal(ms, good[i].ms);
        /* the canonical form parses back to the same value */
        assert_int_equal(
            config_parse_duration(config_format_duration(ms, buf), &ms, NULL),
            0);
        assert_int_equal(ms, good[i].ms);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (config_parse_duration(bad[i], &ms, NULL) == 0)
            fail_msg("'%s' was accepted as a duration", bad[i]);
    }
    assert_string_equal(config_format_duration(30000, buf), "30s");
    assert_string_equal(config_format_duration(300000, buf), "5m");
    assert_string_equal(config_format_duration(250, buf), "250ms");
    assert_string_equal(config_format_duration(5400000, buf), "1h30m");
    assert_string_equal(config_format_duration(0, buf), "0s");
    assert_string_equal(config_format_duration(1209600000, buf), "14d");
}

static void
test_sizes_and_integers(void **state)
{
    static const struct {
        const char *text;
        int64_t bytes;
    } good[] = {
        {"65536", 65536},
        {"4096B", 4096},
        {"64KiB", 65536},
        {"1MiB", 1048576},
        {"16MiB", 16777216},
    };
    static const char *const bad_sizes[] =
        {"1.5MiB", "64 KiB", "64kb", "64K", "-1", "1GiB", "0x1000", "KiB"};
    static const char *const bad_ints[] =
        {"ten", "1e3", "0x10", "007", "+5", "5.0", "99999999999", "", "5 "};
    char yaml[128];
    struct config *cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(yaml,
                 sizeof(yaml),
                 "http: {connection_memory_limit: \"%s\"}\n",
                 good[i].text);
        cfg = load(yaml);
        assert_int_equal(cfg->http.connection_memory_limit, good[i].bytes);
        config_destroy(cfg);
    }
    for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
        snprintf(yaml,
                 sizeof(yaml),
                 "http: {connection_memory_limit: \"%s\"}\n",
                 bad_sizes[i]);
        assert_non_null(strstr(load_error(yaml), "connection_memory_limit"));
    }
    for (i = 0; i < sizeof(bad_ints) / sizeof(bad_ints[0]); i++) {
        snprintf(yaml, sizeof(yaml), "pool: {max: \"%s\"}\n", bad_ints[i]);
        assert_non_null(strstr(load_error(yaml), "pool.max"));
    }
    cfg = load("jobs: {leader: {key: -9223372036854775808}}\n");
    assert_true(cfg->jobs->leader_key == INT64_MIN);
    config_destroy(cfg);
    assert_non_null(strstr(load_error("log: {level: [info]}\n"),
                           "expected a name, not a list"));
    assert_non_null(strstr(load_error("http: {auth: {protect_metrics: yes}}\n"),
                           "invalid boolean 'yes'"));
}

/* ---- defaults and sections ---------------------------------------------- */

static void
test_defaults(void **state)
{
    struct deskdb_err err;
    struct config *cfg;

    (void)state;
    cfg = config_load(NULL, &err);
    assert_non_null(cfg);
    assert_null(cfg->file);
    assert_string_equal(cfg->database.url, "");
    assert_null(cfg->database.password);
    assert_string_equal(cfg->database.application_name, "deskdb");
    assert_int_equal(cfg->pool.min, 5);
    assert_int_equal(cfg->pool.max, 20);
    assert_int_equal(cfg->pool.connect_timeout_ms, 10000);
    assert_int_equal(cfg->pool.idle_timeout_ms, 30000);
    assert_int_equal(cfg->pool.max_lifetime_ms, 1800000);
    assert_int_equal(cfg->pool.acquire_timeout_ms, 5000);
    assert_int_equal(cfg->pool.statement_timeout_ms, 30000);
    assert_int_equal(cfg->pool.query_timeout_ms, 30000);
    assert_int_equal(cfg->pool.slow_query_threshold_ms, 1000);
    assert_int_equal(cfg->pool.leak_detection_threshold_ms, 60000);
    assert_int_equal(cfg->pool.health_check_interval_ms, 30000);
    assert_int_equal(cfg->pool.query_history, 1000);
    assert_int_equal(cfg->pool.slow_query_history, 100);
    assert_int_equal(cfg->transactions.isolation,
                     CONFIG_ISOLATION_READ_COMMITTED);
    assert_int_equal(cfg->transactions.max_retries, 3);
    assert_int_equal(cfg->transactions.backoff_base_ms, 50);
    assert_int_equal(cfg->transactions.backoff_cap_ms, 2000);
    assert_int_equal(cfg->transactions.timeout_ms, 30000);
    assert_int_equal(cfg->http.n_listen, 1);
    assert_string_equal(cfg->http.listen[0].value, "127.0.0.1:9187");
    assert_false(cfg->http.protect_metrics);
    assert_int_equal(cfg->http.max_connections, 128);
    assert_int_equal(cfg->http.request_timeout_ms, 10000);
    assert_int_equal(cfg->http.connection_memory_limit, 65536);
    assert_int_equal(cfg->collectors.enabled, 0x1FF);
    assert_int_equal(cfg->collectors.min_interval_ms, 1000);
    assert_int_equal(cfg->collectors.timeout_ms, 5000);
    assert_int_equal(cfg->collectors.max_tables, 500);
    assert_int_equal(cfg->collectors.statements_top, 50);
    assert_int_equal(cfg->jobs->leader_mode, CONFIG_LEADER_ADVISORY_LOCK);
    assert_string_equal(cfg->jobs->timezone.value, "UTC");
    assert_int_equal(cfg->jobs->timezone.pos.line, 0);
    assert_int_equal(cfg->jobs->max_concurrent, 4);
    assert_int_equal(cfg->jobs->history_retention_ms, 14LL * 86400000);
    assert_int_equal(cfg->jobs->n_definitions, 0);
    assert_int_equal(cfg->alerts->evaluation_interval_ms, 15000);
    /* no rules: key, so the seed's four thresholds */
    assert_int_equal(cfg->alerts->n_rules, 4);
    assert_string_equal(cfg->alerts->rules[0].expr.value,
                        "deskdb_pool_pending_requests > 5");
    assert_int_equal(cfg->log.level, CONFIG_LOG_INFO);
    assert_int_equal(cfg->log.format, CONFIG_LOG_LOGFMT);
    config_destroy(cfg);
    config_destroy(NULL);

    cfg = load("alerts: {rules: []}\n");
    assert_int_equal(cfg->alerts->n_rules, 0);
    config_destroy(cfg);
}

static const char full_yaml[] =
    "database:\n"
    "  url: postgresql://app@db1,db2/desk\n"
    "  application_name: deskdb-test\n"
    "pool: {min: 2, max: 8, connect_timeout: 3s, idle_timeout: 1m,\n"
    "       max_lifetime: 1h, acquire_timeout: 750ms, statement_timeout: 0,\n"
    "       query_timeout: 20s, slow_query_threshold: 200ms,\n"
    "       leak_detection_threshold: 0, health_check_interval: 10s,\n"
    "       query_history: 50, slow_query_history: 5}\n"
    "transactions:\n"
    "  isolation: serializable\n"
    "  max_retries: 7\n"
    "  backoff: {base: 10ms, cap: 1s}\n"
    "  timeout: 2m\n"
    "http:\n"
    "  listen: [\"127.0.0.1:9187\", \"[::1]:9188\"]\n"
    "  auth:\n"
    "    basic_users:\n"
    "      prometheus: "
    "\"$2y$10$abcdefghijklmnopqrstuu5Q0JNnNTjW7MtHOLk4NUC6H5Ixx1oX6\"\n"
    "    protect_metrics: true\n"
    "  max_connections: 64\n"
    "  request_timeout: 5s\n"
    "collectors: {enabled: [database, locks], min_interval: 2s,\n"
    "             timeout: 1s, sizes_interval: 10m, max_tables: 100,\n"
    "             statements_top: 0}\n"
    "jobs:\n"
    "  leader: {mode: none, key: 42}\n"
    "  timezone: Europe/Berlin\n"
    "  max_concurrent: 2\n"
    "  history_retention: 30d\n"
    "  definitions:\n"
    "    - name: maint\n"
    "      schedule: \"15 3 * * *\"\n"
    "      type: maintenance\n"
    "      steps:\n"
    "        - analyze: {tables: [public.deals]}\n"
    "        - vacuum: {tables: [deals], freeze: true, index_cleanup: off}\n"
    "        - reindex: {table: public.deals, concurrently: false}\n"
    "        - refresh_materialized_view: {view: rep.mv, concurrently: true}\n"
    "        - create_index: {name: idx_x, table: t, columns: [a, b],\n"
    "                         unique: true}\n"
    "      settings: {maintenance_work_mem: 1GB}\n"
    "    - name: batch\n"
    "      schedule: \"@every 30s\"\n"
    "      timezone: America/Chicago\n"
    "      type: batch\n"
    "      isolation: repeatable_read\n"
    "      steps:\n"
    "        - {sql: \"UPDATE t SET x = 1 WHERE id = $1\", expect_rows: 1}\n"
    "        - {name: log, sql: \"INSERT INTO l VALUES ('${run.id}')\"}\n"
    "      concurrency: allow\n"
    "      max_instances: 3\n"
    "      misfire: skip\n"
    "      timeout: 10m\n"
    "      retry: {max_attempts: 4, base: 100ms, cap: 5s}\n"
    "      jitter: 2s\n"
    "      only_if: SELECT true\n"
    "    - name: purge\n"
    "      schedule: \"@daily\"\n"
    "      type: purge\n"
    "      purge: {table: public.audit_log, where: \"created_at < now()\",\n"
    "              batch_size: 500, pause: 1s, max_duration: 1m}\n"
    "    - name: feed\n"
    "      schedule: \"@hourly\"\n"
    "      type: import\n"
    "      enabled: false\n"
    "      import: {inbox: /srv/inbox, operation: register_user}\n"
    "alerts:\n"
    "  evaluation_interval: 30s\n"
    "  receivers:\n"
    "    - {name: ops, type: webhook, url: \"https://h.example/x?token=abc\",\n"
    "       secret: whsec_abc, group_interval: 1m, send_resolved: false}\n"
    "    - {name: pd, type: pagerduty, routing_key: R0UT1NGKEY}\n"
    "  rules:\n"
    "    - name: PoolExhausted\n"
    "      expr: deskdb_pool_pending_requests > 5\n"
    "      for: 1m\n"
    "      keep_firing_for: 30s\n"
    "      labels: {severity: critical}\n"
    "      annotations: {summary: \"{{ $value }} waiting\"}\n"
    "      receivers: [ops, pd]\n"
    "log: {level: debug, format: json}\n";

static void
check_jobs(const struct config_jobs *j)
{
    const struct config_job *m = &j->definitions[0], *b = &j->definitions[1];

    assert_int_equal(j->leader_mode, CONFIG_LEADER_NONE);
    assert_int_equal(j->leader_key, 42);
    assert_int_equal(j->n_definitions, 4);
    assert_int_equal(m->type, CONFIG_JOB_MAINTENANCE);
    assert_string_equal(m->schedule.value, "15 3 * * *");
    assert_int_equal(m->schedule.pos.line, 32);
    assert_int_equal(m->schedule.pos.column, 17);
    /* inherited from jobs.timezone, with its position */
    assert_string_equal(m->timezone.value, "Europe/Berlin");
    assert_int_equal(m->timezone.pos.line, 27);
    assert_int_equal(m->n_maint_steps, 5);
    assert_int_equal(m->maint_steps[0].kind, CONFIG_STEP_ANALYZE);
    assert_string_equal(m->maint_steps[0].u.analyze.tables[0].value,
                        "public.deals");
    assert_int_equal(m->maint_steps[1].kind, CONFIG_STEP_VACUUM);
    assert_true(m->maint_steps[1].u.vacuum.freeze);
    assert_false(m->maint_steps[1].u.vacuum.analyze);
    assert_int_equal(m->maint_steps[1].u.vacuum.index_cleanup,
                     CONFIG_INDEX_CLEANUP_OFF);
    assert_null(m->maint_steps[2].u.reindex.index.value);
    assert_string_equal(m->maint_steps[2].u.reindex.table.value,
                        "public.deals");
    assert_false(m->maint_steps[2].u.reindex.concurrently);
    assert_true(m->maint_steps[3].u.refresh.concurrently);
    assert_int_equal(m->maint_steps[4].u.create_index.n_columns, 2);
    assert_true(m->maint_steps[4].u.create_index.unique);
    assert_true(m->maint_steps[4].u.create_index.concurrently);
    assert_int_equal(m->maint_steps[4].pos.line, 39);
    assert_string_equal(m->settings[0].key, "maintenance_work_mem");
    assert_string_equal(m->settings[0].value, "1GB");
    assert_int_equal(m->timeout_ms, 3600000);
    assert_int_equal(m->retry.max_attempts, 1);

    assert_string_equal(b->timezone.value, "America/Chicago");
    assert_int_equal(b->isolation, CONFIG_ISOLATION_REPEATABLE_READ);
    assert_int_equal(b->n_batch_steps, 2);
    assert_string_equal(b->batch_steps[0].sql.value,
                        "UPDATE t SET x = 1 WHERE id = $1");
    assert_int_equal(b->batch_steps[0].expect_rows, 1);
    assert_int_equal(b->batch_steps[1].expect_rows, -1);
    assert_string_equal(b->batch_steps[1].sql.value,
                        "INSERT INTO l VALUES ('${run.id}')");
    assert_int_equal(b->concurrency, CONFIG_CONCURRENCY_ALLOW);
    assert_int_equal(b->max_instances, 3);
    assert_int_equal(b->misfire, CONFIG_MISFIRE_SKIP);
    assert_int_equal(b->retry.cap_ms, 5000);
    assert_int_equal(b->jitter_ms, 2000);
    assert_string_equal(b->only_if.value, "SELECT true");

    assert_string_equal(j->definitions[2].purge.table.value,
                        "public.audit_log");
    assert_int_equal(j->definitions[2].purge.batch_size, 500);
    assert_null(j->definitions[2].purge.order_by.value);
    assert_false(j->definitions[3].enabled);
    assert_string_equal(j->definitions[3].import.inbox, "/srv/inbox");
    assert_int_equal(j->definitions[3].import.operation,
                     CONFIG_IMPORT_REGISTER_USER);
}

static void
test_sections_map_to_structs(void **state)
{
    struct config *cfg;
    const struct config_alerts *a;

    (void)state;
    cfg = load(full_yaml);
    assert_string_equal(cfg->file, "t.yaml");
    assert_string_equal(cfg->database.url, "postgresql://app@db1,db2/desk");
    assert_int_equal(cfg->pool.min, 2);
    assert_int_equal(cfg->pool.acquire_timeout_ms, 750);
    assert_int_equal(cfg->pool.statement_timeout_ms, 0);
    assert_int_equal(cfg->pool.slow_query_history, 5);
    assert_int_equal(cfg->transactions.isolation,
                     CONFIG_ISOLATION_SERIALIZABLE);
    assert_int_equal(cfg->transactions.backoff_cap_ms, 1000);
    assert_int_equal(cfg->http.n_listen, 2);
    assert_string_equal(cfg->http.listen[1].value, "[::1]:9188");
    assert_int_equal(cfg->http.n_basic_users, 1);
    assert_true(cfg->http.protect_metrics);
    assert_int_equal(cfg->collectors.enabled,
                     CONFIG_COLLECTOR_DATABASE | CONFIG_COLLECTOR_LOCKS);
    assert_int_equal(cfg->collectors.statements_top, 0);
    check_jobs(cfg->jobs);
    a = cfg->alerts;
    assert_int_equal(a->evaluation_interval_ms, 30000);
    assert_int_equal(a->n_receivers, 2);
    assert_int_equal(a->receivers[0].type, CONFIG_RECEIVER_WEBHOOK);
    assert_string_equal(a->receivers[0].secret, "whsec_abc");
    assert_false(a->receivers[0].send_resolved);
    assert_int_equal(a->receivers[0].group_interval_ms, 60000);
    assert_int_equal(a->receivers[0].repeat_interval_ms, 4 * 3600000);
    assert_string_equal(a->receivers[1].url,
                        "https://events.pagerduty.com/v2/enqueue");
    assert_string_equal(a->receivers[1].routing_key, "R0UT1NGKEY");
    assert_int_equal(a->n_rules, 1);
    assert_int_equal(a->rules[0].expr.pos.line, 75);
    assert_int_equal(a->rules[0].expr.pos.column, 13);
    assert_int_equal(a->rules[0].for_ms, 60000);
    assert_int_equal(a->rules[0].keep_firing_for_ms, 30000);
    assert_string_equal(a->rules[0].annotations[0].value,
                        "{{ $value }} waiting");
    assert_string_equal(a->rules[0].receivers[1].value, "pd");
    assert_int_equal(cfg->log.level, CONFIG_LOG_DEBUG);
    assert_int_equal(cfg->log.format, CONFIG_LOG_JSON);
    config_destroy(cfg);
}

/* The printed configuration loads back to the same configuration. */
static void
test_print_round_trip(void **state)
{
    static const char yaml[] =
        "database: {url: \"host=db user='a b' dbname=desk\"}\n"
        "jobs:\n"
        "  definitions:\n"
        "    - name: q\n"
        "      schedule: \"*/5 * * * *\"\n"
        "      type: sql\n"
        "      sql: \"SELECT '$${x}', $1, 'a\\\"b', e'\\\\n'\\n\"\n"
        "      settings: {\"search_path\": \"yes\"}\n"
        "alerts: {rules: [{name: A, expr: 'up == 0', labels: {x: \"\"}}]}\n";
    struct config *a, *b;
    char *first, *second;

    (void)state;
    a = load(yaml);
    assert_string_equal(a->jobs->definitions[0].sql.value,
                        "SELECT '${x}', $1, 'a\"b', e'\\n'\n");
    first = print_config(a);
    b = load(first);
    second = print_config(b);
    assert_string_equal(first, second);
    assert_string_equal(b->jobs->definitions[0].sql.value,
                        a->jobs->definitions[0].sql.value);
    free(first);
    free(second);
    config_destroy(a);
    config_destroy(b);
}

/* ---- the environment ---------------------------------------------------- */

static void
test_env_overrides(void **state)
{
    struct deskdb_err err;
    struct config *cfg;

    (void)state;
    setenv("DATABASE_URL", "postgresql://env@db/desk", 1);
    setenv("DB_POOL_MAX", "40", 1);
    setenv("DB_POOL_MIN", "10", 1);
    setenv("DB_CONNECT_TIMEOUT", "2500", 1);
    setenv("DB_IDLE_TIMEOUT", "60000", 1);
    setenv("DB_STATEMENT_TIMEOUT", "15000", 1);
    setenv("DB_QUERY_TIMEOUT", "20000", 1);
    setenv("DB_SLOW_QUERY_THRESHOLD", "", 1); /* empty: ignored */
    cfg = load("database: {url: postgresql://file@db/desk}\n"
               "pool: {max: 30, slow_query_threshold: 250ms}\n");
    assert_string_equal(cfg->database.url, "postgresql://env@db/desk");
    assert_int_equal(cfg->pool.max, 40);
    assert_int_equal(cfg->pool.min, 10);
    assert_int_equal(cfg->pool.connect_timeout_ms, 2500);
    assert_int_equal(cfg->pool.idle_timeout_ms, 60000);
    assert_int_equal(cfg->pool.statement_timeout_ms, 15000);
    assert_int_equal(cfg->pool.query_timeout_ms, 20000);
    assert_int_equal(cfg->pool.slow_query_threshold_ms, 250);
    config_destroy(cfg);

    setenv("DB_POOL_MAX", "many", 1);
    assert_string_equal(load_error("pool: {}\n"),
                        "DB_POOL_MAX: invalid value 'many' (not an integer)");
    setenv("DB_POOL_MAX", "0", 1);
    assert_string_equal(load_error("pool: {}\n"),
                        "DB_POOL_MAX: must be between 1 and 10000 (got 0)");
    setenv("DB_POOL_MAX", "4", 1);
    /* the relation is blamed on the variable that broke it */
    assert_string_equal(load_error("pool: {}\n"),
                        "DB_POOL_MAX: pool.max must be >= pool.min (4 < 10)");
    unsetenv("DB_POOL_MAX");
    setenv("DB_CONNECT_TIMEOUT", "10s", 1);
    cfg = config_load(NULL, &err);
    assert_null(cfg);
    assert_string_equal(err.msg,
                        "DB_CONNECT_TIMEOUT: invalid value '10s' (not an "
                        "integer; milliseconds)");
}

static void
test_expansion(void **state)
{
    struct config *cfg;

    (void)state;
    setenv("DESKDB_TEST_VAR", "db.internal", 1);
    setenv("DESKDB_TEST_EMPTY", "", 1);
    cfg = load("database:\n"
               "  url: \"host=${DESKDB_TEST_VAR} port=${NOT_SET_X:-6432} "
               "app=${DESKDB_TEST_EMPTY:-dflt} cost=$$5 sql=$1 ${run.id}\"\n"
               "pool: {max: \"${NOT_SET_X:-12}\"}\n");
    assert_string_equal(cfg->database.url,
                        "host=db.internal port=6432 app=dflt cost=$5 sql=$1 "
                        "${run.id}");
    assert_int_equal(cfg->pool.max, 12);
    config_destroy(cfg);

    /* a value never becomes YAML structure */
    setenv("DESKDB_TEST_VAR", "x\nlog: {level: debug}\nevil: key", 1);
    cfg = load("database: {application_name: \"${DESKDB_TEST_VAR}\"}\n"
               "log: {level: warn}\n");
    assert_string_equal(cfg->database.application_name,
                        "x\nlog: {level: debug}\nevil: key");
    assert_int_equal(cfg->log.level, CONFIG_LOG_WARN);
    config_destroy(cfg);
    setenv("DESKDB_TEST_VAR", "2\nmin: 50", 1);
    assert_string_equal(load_error("pool:\n  max: ${DESKDB_TEST_VAR}\n"),
                        "t.yaml:2:8: pool.max: invalid integer '2?min: 50' "
                        "(not an integer)");

    assert_string_equal(
        load_error("pool:\n  max: 5\ndatabase:\n  url: a${NOT_SET_X}b\n"),
        "t.yaml:4:8: database.url: environment variable NOT_SET_X is not "
        "set");
    assert_non_null(strstr(load_error("database: {url: \"${1X}\"}\n"),
                           "invalid variable reference"));
    assert_non_null(strstr(load_error("database: {url: \"${A B}\"}\n"),
                           "invalid variable reference"));
    assert_non_null(strstr(load_error("database: {url: \"${OPEN\"}\n"),
                           "invalid variable reference"));
    /* A bad reference after literal text (fuzz finding: the scan went on
     * past the end of the value by the literal's length). */
    assert_non_null(
        strstr(load_error("database: {url: \"postgresql://${/desk\"}\n"),
               "invalid variable reference"));
}

/* ---- secret files ------------------------------------------------------- */

static char tmpdir[64];

static void
write_file(const char *name, const char *content, mode_t mode)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static const char *
secret_yaml(const char *name)
{
    static char yaml[256];

    snprintf(yaml,
             sizeof(yaml),
             "database:\n  password_file: %s/%s\n",
             tmpdir,
             name);
    return yaml;
}

static void
test_secret_files(void **state)
{
    char path[128], target[128], cfgpath[128];
    struct deskdb_err err;
    struct config *cfg;
    const char *msg;

    (void)state;
    strcpy(tmpdir, "/tmp/deskdb-config-test.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    write_file("good", "s3cret pass\n", 0600);
    cfg = load(secret_yaml("good"));
    assert_string_equal(cfg->database.password, "s3cret pass");
    config_destroy(cfg);

    write_file("crlf", "tok\r\n", 0400);
    cfg = load(secret_yaml("crlf"));
    assert_string_equal(cfg->database.password, "tok");
    config_destroy(cfg);

    write_file("open", "SENTINEL-OPEN\n", 0644);
    msg = load_error(secret_yaml("open"));
    assert_non_null(strstr(msg, "t.yaml:2:18: database.password_file:"));
    assert_non_null(strstr(msg, "group or others can access it"));
    assert_null(strstr(msg, "SENTINEL"));

    msg = load_error(secret_yaml("missing"));
    assert_non_null(strstr(msg, "No such file or directory"));

    snprintf(path, sizeof(path), "%s/link", tmpdir);
    snprintf(target, sizeof(target), "%s/good", tmpdir);
    assert_int_equal(symlink(target, path), 0);
    assert_non_null(strstr(load_error(secret_yaml("link")), "symbolic link"));

    write_file("empty", "\n", 0600);
    assert_non_null(strstr(load_error(secret_yaml("empty")), "it is empty"));
    write_file("lines", "SENTINEL-A\nSENTINEL-B\n", 0600);
    msg = load_error(secret_yaml("lines"));
    assert_non_null(strstr(msg, "more than one line"));
    assert_null(strstr(msg, "SENTINEL"));
    assert_non_null(strstr(load_error(secret_yaml("")), "not a regular file"));

    /* relative paths are relative to the config file */
    write_file("deskdb.yaml", "database: {password_file: good}\n", 0600);
    snprintf(cfgpath, sizeof(cfgpath), "%s/deskdb.yaml", tmpdir);
    cfg = config_load(cfgpath, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->database.password, "s3cret pass");
    config_destroy(cfg);
    assert_int_equal(chmod(cfgpath, 0666), 0);
    assert_null(config_load(cfgpath, &err));
    assert_non_null(strstr(err.msg, "writable by every user"));

    /* url_file and url are alternatives; the file content stays hidden */
    write_file("hook", "https://hooks.slack.com/services/T/B/SENTINEL\n", 0600);
    snprintf(
        path,
        sizeof(path),
        "alerts: {receivers: [{name: s, type: slack, url_file: %s/hook}]}\n",
        tmpdir);
    cfg = load(path);
    assert_string_equal(cfg->alerts->receivers[0].url,
                        "https://hooks.slack.com/services/T/B/SENTINEL");
    config_destroy(cfg);
    snprintf(path,
             sizeof(path),
             "alerts: {receivers: [{name: s, type: slack, url: "
             "\"http://x\", url_file: %s/hook}]}\n",
             tmpdir);
    assert_non_null(strstr(load_error(path),
                           "'url' and 'url_file' are mutually exclusive"));
}

static void
remove_tmpdir(void)
{
    static const char *const names[] = {"good",
                                        "crlf",
                                        "open",
                                        "link",
                                        "empty",
                                        "lines",
                                        "deskdb.yaml",
                                        "hook"};
    char path[128];
    size_t i;

    if (tmpdir[0] == '\0')
        return;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

/* ---- redaction and printing --------------------------------------------- */

static void
expect_redacted(const char *url, const char *want)
{
    char *got = config_redact_url(url);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void
test_redaction(void **state)
{
    char *s;

    (void)state;
    expect_redacted("postgresql://app:S3cret@db1:5432,db2/desk?sslmode=require",
                    "postgresql://app:***@db1:5432,db2/desk?sslmode=require");
    expect_redacted("postgres://app:p%40ss@db/desk",
                    "postgres://app:***@db/desk");
    expect_redacted("postgresql://app:pa/ss@db/desk", "***");
    expect_redacted("postgresql://app:p?ss@db/desk",
                    "postgresql://app:***@db/desk");
    expect_redacted("postgresql://db/desk?user=a&password=x&sslpassword=y",
                    "postgresql://db/desk?user=a&password=***&sslpassword=***");
    expect_redacted("postgresql://db/desk?pass%77ord=x",
                    "postgresql://db/desk?pass%77ord=***");
    expect_redacted("postgresql://app@db/desk", "postgresql://app@db/desk");
    expect_redacted("host=db password='x y' user=app",
                    "host=db password=*** user=app");
    expect_redacted("host=db  password = secret\\ word dbname=desk",
                    "host=db password=*** dbname=desk");
    expect_redacted("host=db user=app", "host=db user=app");
    expect_redacted("host=db PASSWORD=x", "host=db PASSWORD=***");
    expect_redacted("postgresql://db?PassWord=x",
                    "postgresql://db?PassWord=***");
    expect_redacted("dbname='postgresql://u:pw@h/d' host=x",
                    "dbname='postgresql://u:***@h/d' host=x");
    expect_redacted("host=db password='unterminated", "***");
    expect_redacted("", "");

    s = config_redact_webhook_url(
        "https://user:pw@hooks.example.com/a/b?token=T"
        "&x=1#frag",
        false);
    assert_string_equal(s, "https://***@hooks.example.com/a/b?token=***&x=***");
    free(s);
    s = config_redact_webhook_url("https://hooks.slack.com/services/T0/B0/XYZ",
                                  true);
    assert_string_equal(s, "https://hooks.slack.com/***");
    free(s);
    s = config_redact_webhook_url("not a url", false);
    assert_string_equal(s, "***");
    free(s);
    /* An '@' past a '/' in the authority is refused before its length is
     * known: nothing after it may be read (it once was, from an
     * uninitialized length). */
    s = config_redact_webhook_url("https://u:pa/ss@hooks.example.com/x?t=1",
                                  false);
    assert_string_equal(s, "***");
    free(s);
    expect_redacted("postgresql://app:pa/ss@db/desk?password=x", "***");
}

/* What libpq itself reads from `conninfo` for `key` (NULL: not set). */
static char *
libpq_value(const char *conninfo, const char *key)
{
    PQconninfoOption *opts, *o;
    char *errmsg = NULL, *value = NULL;

    opts = PQconninfoParse(conninfo, &errmsg);
    if (opts == NULL)
        fail_msg("libpq refuses '%s': %s", conninfo, errmsg);
    for (o = opts; o->keyword != NULL; o++) {
        if (strcmp(o->keyword, key) == 0 && o->val != NULL)
            value = strdup(o->val);
    }
    PQconninfoFree(opts);
    return value;
}

static void
expect_conninfo(struct config *cfg,
                const char *url,
                const char *password,
                const char *want,
                const char *want_app)
{
    char *s, *v;

    free(cfg->database.url);
    cfg->database.url = strdup(url);
    free(cfg->database.password);
    cfg->database.password = password ? strdup(password) : NULL;
    s = config_conninfo(cfg);
    assert_string_equal(s, want);
    v = libpq_value(s, "application_name");
    assert_string_equal(v, want_app);
    free(v);
    v = libpq_value(s, "connect_timeout");
    assert_string_equal(v, "3");
    free(v);
    v = libpq_value(s, "password");
    if (password != NULL)
        assert_string_equal(v, password);
    else
        assert_null(v);
    free(v);
    free(s);
}

static void
test_conninfo(void **state)
{
    struct config *cfg;

    (void)state;
    cfg = load("pool: {connect_timeout: 2500ms}\n");
    expect_conninfo(cfg,
                    "postgresql://app@db/desk?sslmode=require",
                    "p w&x",
                    "postgresql://app@db/desk?sslmode=require"
                    "&application_name=deskdb&connect_timeout=3"
                    "&password=p%20w%26x",
                    "deskdb");
    /* the url's own settings win, except over the password file */
    expect_conninfo(cfg,
                    "host=db application_name=mine password=old",
                    "p w&x",
                    "host=db application_name=mine password=old "
                    "connect_timeout='3' password='p w&x'",
                    "mine");
    expect_conninfo(cfg,
                    "postgresql://u:old@db?application_name=x&",
                    "it's\\",
                    "postgresql://u:old@db?application_name=x&"
                    "connect_timeout=3&password=it%27s%5C",
                    "x");
    expect_conninfo(cfg,
                    "",
                    "it's\\",
                    "application_name='deskdb' connect_timeout='3' "
                    "password='it\\'s\\\\'",
                    "deskdb");
    expect_conninfo(cfg,
                    "postgres://db/desk",
                    NULL,
                    "postgres://db/desk?application_name=deskdb"
                    "&connect_timeout=3",
                    "deskdb");
    config_destroy(cfg);
    assert_string_equal(config_isolation_name(CONFIG_ISOLATION_SERIALIZABLE),
                        "serializable");
    assert_string_equal(config_isolation_sql(CONFIG_ISOLATION_REPEATABLE_READ),
                        "REPEATABLE READ");
}

static void
test_print_hides_secrets(void **state)
{
    static const char *const sentinels[] = {
        "PWSENTINEL",
        "TOKSENTINEL",
        "HOOKSENTINEL",
        "WHSENTINEL",
        "PDSENTINEL",
        "abcdefghijklmnopqrstuu5Q0JNnNTjW7MtHOLk4NUC6H5Ixx1oX6"};
    char yaml[1024];
    struct config *cfg;
    char *text;
    size_t i;

    (void)state;
    strcpy(tmpdir, "/tmp/deskdb-config-test.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    write_file("good", "TOKSENTINEL\n", 0600);
    snprintf(
        yaml,
        sizeof(yaml),
        "database: {url: \"postgresql://u:PWSENTINEL@db/d\"}\n"
        "http:\n  auth:\n    bearer_token_file: %s/good\n"
        "    basic_users: {prom: "
        "\"$2b$12$abcdefghijklmnopqrstuu5Q0JNnNTjW7MtHOLk4NUC6H5Ixx1oX6\"}\n"
        "alerts:\n  receivers:\n"
        "    - {name: w, type: webhook, url: \"https://h/x?k=HOOKSENTINEL\",\n"
        "       secret: WHSENTINEL}\n"
        "    - {name: p, type: pagerduty, routing_key: PDSENTINEL}\n"
        "    - {name: s, type: slack, url: \"https://h/HOOKSENTINEL\"}\n",
        tmpdir);
    cfg = load(yaml);
    assert_string_equal(cfg->http.bearer_token, "TOKSENTINEL");
    text = print_config(cfg);
    for (i = 0; i < sizeof(sentinels) / sizeof(sentinels[0]); i++) {
        if (strstr(text, sentinels[i]) != NULL)
            fail_msg("secret %s printed:\n%s", sentinels[i], text);
    }
    assert_non_null(strstr(text, "url: \"postgresql://u:***@db/d\"\n"));
    assert_non_null(strstr(text, "prom: \"***\"\n"));
    assert_non_null(strstr(text, "secret: \"***\"\n"));
    assert_non_null(strstr(text, "routing_key: \"***\"\n"));
    assert_non_null(strstr(text, "url: \"https://h/x?k=***\"\n"));
    assert_non_null(strstr(text, "url: \"https://h/***\"\n"));
    assert_non_null(strstr(text, "bearer_token_file: /tmp/deskdb-config-"));
    free(text);
    config_destroy(cfg);
}

/* ---- error positions ---------------------------------------------------- */

static void
test_error_positions(void **state)
{
    static const struct {
        const char *yaml;
        const char *msg;
    } cases[] = {
        {"pool:\n  statment_timeout: 5s\n",
         "t.yaml:2:3: unknown key 'statment_timeout' in pool (did you mean "
         "'statement_timeout'?)"},
        {"pool:\n  max: ten\n",
         "t.yaml:2:8: pool.max: invalid integer 'ten' (not an integer)"},
        {"pool:\n  min: 2\n  max: 1\n",
         "t.yaml:3:8: pool.max must be >= pool.min (1 < 2)"},
        {"pool: {min: 30}\n",
         "t.yaml:1:13: pool.max must be >= pool.min (20 < 30)"},
        {"transactions:\n  isolation: serialisable\n",
         "t.yaml:2:14: transactions.isolation: unknown value 'serialisable' "
         "(did you mean 'serializable'?)"},
        {"a: 1\nb: 2\na: 3\n",
         "t.yaml:3:1: duplicate key 'a' (first at line 1)"},
        {"log:\n  level: &x info\n",
         "t.yaml:2:10: anchors and aliases are not supported (&x)"},
        {"pool:\n\tmax: 1\n",
         "t.yaml:2:1: invalid YAML: found character that cannot start any "
         "token (while scanning for the next token)"},
        {"jobs:\n  definitions:\n    - name: x\n      type: sql\n"
         "      schedule: '@daily'\n      sql: x\n      steps: []\n",
         "t.yaml:7:14: jobs.definitions[0].steps: only valid with type: "
         "maintenance or batch"},
        {"alerts:\n  rules:\n    - {name: A, expr: x, receivers: [ghost]}\n",
         "t.yaml:3:38: alerts.rules[0].receivers: no receiver named 'ghost'"},
        {"http:\n  listen: 0.0.0.0:9187\n",
         "t.yaml:2:11: http.listen: 0.0.0.0:9187 is reachable from other "
         "hosts but http.auth is not configured (configure it, or set "
         "http.allow_unauthenticated: true)"},
        {"alerts:\n  rules:\n    - {name: A, expr: x, labels: {v: '{{ $value "
         "}}'}}\n",
         "t.yaml:3:38: alerts.rules[0].labels.v: invalid value '{{ $value }}' "
         "(labels identify an alert and cannot use templates; put {{ ... }} "
         "in annotations)"},
    };
    static const char sched[] = "jobs:\n  definitions:\n    - name: a\n"
                                "      schedule: \"@eve\r\r\rry 31s\"\n"
                                "      type: sql\n      sql: SELECT 1\n";
    static const char null_strings[] =
        "database: {url: ~, application_name: ~}\njobs:\n  timezone:\n";
    struct config_pos pos = {"f.yaml", 3, 7};
    struct deskdb_err err;
    struct config *cfg;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(load_error(cases[i].yaml), cases[i].msg);
    assert_int_equal(config_error_at(&err, &pos, "bad cron '%s'", "x"),
                     DESKDB_EINVAL);
    assert_string_equal(err.msg, "f.yaml:3:7: bad cron 'x'");
    pos.file = "DB_POOL_MAX";
    pos.line = 0;
    config_error_at(&err, &pos, "too big");
    assert_string_equal(err.msg, "DB_POOL_MAX: too big");
    config_error_at(&err, NULL, "plain");
    assert_string_equal(err.msg, "plain");
    /* A null string with a default keeps the default (fuzz finding:
     * "jobs: {timezone: ~}" left NULL, and check-config crashed). */
    cfg =
        config_load_buffer("t.yaml", null_strings, strlen(null_strings), &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->jobs->timezone.value, "UTC");
    assert_string_equal(cfg->database.url, "");
    assert_string_equal(cfg->database.application_name, "deskdb");
    assert_int_equal(jobs_check_config(cfg, &err), DESKDB_OK);
    config_destroy(cfg);
    /* Quoted values keep an error on one line (fuzz finding: a schedule
     * with CRs folded into newlines by libyaml spread the message of
     * jobs_check_config() over many lines). */
    pos.file = "f.yaml";
    pos.line = 5;
    config_error_at(&err, &pos, "schedule \"%s\"", "@eve\n\r\try\x7f");
    assert_string_equal(err.msg, "f.yaml:5:7: schedule \"@eve???ry?\"");
    cfg = config_load_buffer("t.yaml", sched, strlen(sched), &err);
    assert_non_null(cfg);
    assert_int_equal(jobs_check_config(cfg, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "t.yaml:4:17: job 'a': schedule \"@eve?"));
    assert_null(strpbrk(err.msg, "\r\n"));
    config_destroy(cfg);
}

static void
test_default_path(void **state)
{
    char dir[] = "/tmp/deskdb-config-cwd.XXXXXX", old[512];
    FILE *f;

    (void)state;
    assert_string_equal(config_default_path("x.yaml"), "x.yaml");
    setenv("DESKDB_CONFIG", "/etc/deskdb.yaml", 1);
    assert_string_equal(config_default_path(NULL), "/etc/deskdb.yaml");
    unsetenv("DESKDB_CONFIG");
    assert_non_null(getcwd(old, sizeof(old)));
    assert_non_null(mkdtemp(dir));
    assert_int_equal(chdir(dir), 0);
    assert_null(config_default_path(NULL));
    f = fopen("deskdb.yaml", "w");
    assert_non_null(f);
    fclose(f);
    assert_string_equal(config_default_path(NULL), "deskdb.yaml");
    unlink("deskdb.yaml");
    assert_int_equal(chdir(old), 0);
    rmdir(dir);
}

static int
teardown_tmp(void **state)
{
    (void)state;
    remove_tmpdir();
    tmpdir[0] = '\0';
    return clean_env(state);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test_setup(test_sizes_and_integers, clean_env),
        cmocka_unit_test_setup(test_defaults, clean_env),
        cmocka_unit_test_setup(test_sections_map_to_structs, clean_env),
        cmocka_unit_test_setup(test_print_round_trip, clean_env),
        cmocka_unit_test_setup_teardown(test_env_overrides,
                                        clean_env,
                                        clean_env),
        cmocka_unit_test_setup_teardown(test_expansion, clean_env, clean_env),
        cmocka_unit_test_setup_teardown(test_secret_files,
                                        clean_env,
                                        teardown_tmp),
        cmocka_unit_test(test_redaction),
        cmocka_unit_test_setup(test_conninfo, clean_env),
        cmocka_unit_test_setup_teardown(test_print_hides_secrets,
                                        clean_env,
                                        teardown_tmp),
        cmocka_unit_test_setup(test_error_positions, clean_env),
        cmocka_unit_test_setup_teardown(test_default_path,
                                        clean_env,
                                        clean_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

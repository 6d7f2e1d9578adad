/* SPDX-License-Identifier: MIT */
/* The key tables of database:, pool:, transactions:, http:, collectors:,
 * operations: and log:, their cross-field checks, and the top-level table. */
#include <string.h>

#include "config/config_internal.h"
#include "config/config_alerts.h"
#include "config/config_jobs.h"

static const char *const isolation_names[] = {"read_committed",
                                              "repeatable_read",
                                              "serializable",
                                              NULL};

const char *
config_isolation_name(enum config_isolation iso)
{
    if ((unsigned)iso > CONFIG_ISOLATION_SERIALIZABLE)
        return "unknown";
    return isolation_names[iso];
}

const char *
config_isolation_sql(enum config_isolation iso)
{
    switch (iso) {
    case CONFIG_ISOLATION_REPEATABLE_READ:
        return "REPEATABLE READ";
    case CONFIG_ISOLATION_SERIALIZABLE:
        return "SERIALIZABLE";
    default:
        return "READ COMMITTED";
    }
}

/* The position to blame for a relation between two values: the one the
 * user set, preferring `a`. */
static struct config_pos
blame(const struct cfg_ctx *ctx,
      const struct cfg_node *map,
      const char *a,
      const void *pa,
      const char *b,
      const void *pb)
{
    struct config_pos pos = cfg_value_pos(ctx, map, a, pa);

    if (pos.file == NULL)
        pos = cfg_value_pos(ctx, map, b, pb);
    return pos;
}

/* ---- database ----------------------------------------------------------- */

#define DB struct config_database
static const struct cfg_field database_fields[] = {
    {CFG_STR_("url", DB, url, ""),
     .max = 8192,
     .flags = CFG_F_NO_ECHO,
     .display = cfg_display_database_url},
    {CFG_STR_("password_file", DB, password_file, NULL),
     .min = 1,
     .flags = CFG_F_PATH | CFG_F_SECRET_FILE,
     .off2 = offsetof(DB, password)},
    {CFG_STR_("application_name", DB, application_name, "deskdb"), .max = 63},
    {0},
};
#undef DB

static const struct cfg_section database_section = {
    .name = "database",
    .fields = database_fields,
    .pos_off = CFG_NO_POS,
};

/* ---- pool --------------------------------------------------------------- */

static int
pool_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_pool *p = obj;
    struct config_pos pos;
    char a[48], b[48];

    if (p->min > p->max) {
        pos = blame(ctx, map, "max", &p->max, "min", &p->min);
        return cfg_err_pos(ctx,
                           &pos,
                           "pool.max must be >= pool.min (%d < %d)",
                           p->max,
                           p->min);
    }
    pos = cfg_value_pos(ctx,
                        map,
                        "leak_detection_threshold",
                        &p->leak_detection_threshold_ms);
    if (p->leak_detection_threshold_ms > 0 &&
        p->leak_detection_threshold_ms < SECONDS(2))
        return cfg_err_pos(ctx,
                           &pos,
                           "pool.leak_detection_threshold must be 0 (off) or "
                           "at least 2s");
    if (p->max_lifetime_ms > 0 &&
        p->leak_detection_threshold_ms > p->max_lifetime_ms) {
        pos = blame(ctx,
                    map,
                    "leak_detection_threshold",
                    &p->leak_detection_threshold_ms,
                    "max_lifetime",
                    &p->max_lifetime_ms);
        return cfg_err_pos(
            ctx,
            &pos,
            "pool.leak_detection_threshold (%s) must not exceed "
            "pool.max_lifetime (%s)",
            config_format_duration(p->leak_detection_threshold_ms, a),
            config_format_duration(p->max_lifetime_ms, b));
    }
    return 0;
}

#define P struct config_pool
static const struct cfg_field pool_fields[] = {
    {CFG_INT_("min", P, min, 0, 10000, 5)},
    {CFG_INT_("max", P, max, 1, 10000, 20)},
    {CFG_DUR_("connect_timeout",
              P,
              connect_timeout_ms,
              100,
              MINUTES(10),
              SECONDS(10))},
    {CFG_DUR_("idle_timeout", P, idle_timeout_ms, 0, DAYS(1), SECONDS(30))},
    {CFG_DUR_("max_lifetime", P, max_lifetime_ms, 0, DAYS(7), MINUTES(30))},
    {CFG_DUR_("acquire_timeout",
              P,
              acquire_timeout_ms,
              1,
              MINUTES(10),
              SECONDS(5))},
    {CFG_DUR_("statement_timeout",
              P,
              statement_timeout_ms,
              0,
              DAYS(1),
              SECONDS(30))},
    {CFG_DUR_("query_timeout", P, query_timeout_ms, 0, DAYS(1), SECONDS(30))},
    {CFG_DUR_("slow_query_threshold",
              P,
              slow_query_threshold_ms,
              0,
              HOURS(1),
              SECONDS(1))},
    {CFG_DUR_("leak_detection_threshold",
              P,
              leak_detection_threshold_ms,
              0,
              DAYS(1),
              SECONDS(60))},
    {CFG_DUR_("health_check_interval",
              P,
              health_check_interval_ms,
              SECONDS(1),
              HOURS(1),
              SECONDS(30))},
    {CFG_INT_("query_history", P, query_history, 0, 100000, 1000)},
    {CFG_INT_("slow_query_history", P, slow_query_history, 0, 100000, 100)},
    {0},
};
#undef P

static const struct cfg_section pool_section = {
    .name = "pool",
    .fields = pool_fields,
    .pos_off = CFG_NO_POS,
    .check = pool_check,
};

/* ---- transactions ------------------------------------------------------- */

static int
backoff_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_transactions *t = obj;
    struct config_pos pos;
    char a[48], b[48];

    if (t->backoff_base_ms <= t->backoff_cap_ms)
        return 0;
    pos =
        blame(ctx, map, "base", &t->backoff_base_ms, "cap", &t->backoff_cap_ms);
    return cfg_err_pos(ctx,
                       &pos,
                       "transactions.backoff.base (%s) must not exceed "
                       "transactions.backoff.cap (%s)",
                       config_format_duration(t->backoff_base_ms, a),
                       config_format_duration(t->backoff_cap_ms, b));
}

#define T struct config_transactions
static const struct cfg_field backoff_fields[] = {
    {CFG_DUR_("base", T, backoff_base_ms, 1, MINUTES(1), 50)},
    {CFG_DUR_("cap", T, backoff_cap_ms, 1, MINUTES(10), SECONDS(2))},
    {0},
};

static const struct cfg_section backoff_section = {
    .name = "transactions.backoff",
    .fields = backoff_fields,
    .pos_off = CFG_NO_POS,
    .check = backoff_check,
};

static const struct cfg_field transactions_fields[] = {
    {CFG_ENUM_("isolation",
               T,
               isolation,
               isolation_names,
               CONFIG_ISOLATION_READ_COMMITTED)},
    {CFG_INT_("max_retries", T, max_retries, 0, 100, 3)},
    {CFG_FLAT_("backoff", &backoff_section)},
    {CFG_DUR_("timeout", T, timeout_ms, 10, DAYS(1), SECONDS(30))},
    {0},
};
#undef T

static const struct cfg_section transactions_section = {
    .name = "transactions",
    .fields = transactions_fields,
    .pos_off = CFG_NO_POS,
};

/* ---- http --------------------------------------------------------------- */

static int
tls_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_http *h = obj;

    if ((h->tls_cert_file == NULL) == (h->tls_key_file == NULL))
        return 0;
    return cfg_err(ctx, map, "http.tls needs both cert_file and key_file");
}

/* Serving the JSON API (query history!) beyond this host without auth is
 * a decision the operator has to write down. */
static int
http_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_http *h = obj;
    size_t i;

    if (h->bearer_token != NULL || h->n_basic_users > 0 ||
        h->allow_unauthenticated)
        return 0;
    for (i = 0; i < h->n_listen; i++) {
        if (cfg_listen_is_loopback(h->listen[i].value))
            continue;
        return cfg_err_pos(ctx,
                           &h->listen[i].pos,
                           "http.listen: %s is reachable from other hosts "
                           "but http.auth is not configured (configure it, "
                           "or set http.allow_unauthenticated: true)",
                           h->listen[i].value);
    }
    return 0;
}

#define H struct config_http
static const struct cfg_field tls_fields[] = {
    {CFG_STR_("cert_file", H, tls_cert_file, NULL),
     .min = 1,
     .flags = CFG_F_PATH},
    {CFG_STR_("key_file", H, tls_key_file, NULL),
     .min = 1,
     .flags = CFG_F_PATH},
    {0},
};

static const struct cfg_section tls_section = {
    .name = "http.tls",
    .fields = tls_fields,
    .pos_off = CFG_NO_POS,
    .check = tls_check,
};

static const struct cfg_field auth_fields[] = {
    {CFG_STR_("bearer_token_file", H, bearer_token_file, NULL),
     .min = 1,
     .flags = CFG_F_PATH | CFG_F_SECRET_FILE,
     .off2 = offsetof(H, bearer_token)},
    {CFG_MAP_("basic_users", H, basic_users, n_basic_users),
     .flags = CFG_F_SECRET,
     .max = 100,
     .valid = cfg_valid_user,
     .valid_value = cfg_valid_bcrypt},
    {CFG_BOOL_("protect_metrics", H, protect_metrics, false)},
    {0},
};

static const struct cfg_section auth_section = {
    .name = "http.auth",
    .fields = auth_fields,
    .pos_off = CFG_NO_POS,
};

static const struct cfg_field http_fields[] = {
    {CFG_LIST_("listen", H, listen, n_listen),
     .def_str = "127.0.0.1:9187",
     .flags = CFG_F_SCALAR_LIST,
     .min = 1,
     .max = 16,
     .valid = cfg_valid_listen},
    {CFG_FLAT_("tls", &tls_section)},
    {CFG_FLAT_("auth", &auth_section)},
    {CFG_BOOL_("allow_unauthenticated", H, allow_unauthenticated, false)},
    {CFG_INT_("max_connections", H, max_connections, 1, 65535, 128)},
    {CFG_DUR_("request_timeout",
              H,
              request_timeout_ms,
              100,
              MINUTES(10),
              SECONDS(10))},
    {CFG_SIZE_("connection_memory_limit",
               H,
               connection_memory_limit,
               4 * 1024,
               16 * 1024 * 1024,
               64 * 1024)},
    {0},
};
#undef H

static const struct cfg_section http_section = {
    .name = "http",
    .fields = http_fields,
    .pos_off = CFG_NO_POS,
    .check = http_check,
};

/* ---- collectors --------------------------------------------------------- */

static const char *const collector_names[] = {"database",
                                              "activity",
                                              "locks",
                                              "tables",
                                              "indexes",
                                              "sizes",
                                              "statements",
                                              "replication",
                                              "settings",
                                              NULL};

#define C struct config_collectors
static const struct cfg_field collectors_fields[] = {
    {CFG_FLAGS_("enabled", C, enabled, collector_names, 0x1FF)},
    {CFG_DUR_("min_interval", C, min_interval_ms, 0, MINUTES(1), SECONDS(1))},
    {CFG_DUR_("timeout", C, timeout_ms, 100, MINUTES(1), SECONDS(5))},
    {CFG_DUR_("sizes_interval", C, sizes_interval_ms, 0, DAYS(1), MINUTES(5))},
    {CFG_INT_("max_tables", C, max_tables, 1, 100000, 500)},
    {CFG_INT_("statements_top", C, statements_top, 0, 10000, 50)},
    {0},
};
#undef C

static const struct cfg_section collectors_section = {
    .name = "collectors",
    .fields = collectors_fields,
    .pos_off = CFG_NO_POS,
};

/* ---- log ---------------------------------------------------------------- */

static const char *const level_names[] = {"error",
                                          "warn",
                                          "info",
                                          "debug",
                                          NULL};
static const char *const format_names[] = {"logfmt", "json", NULL};

static const struct cfg_field log_fields[] = {
    {CFG_ENUM_("level",
               struct config_log,
               level,
               level_names,
               CONFIG_LOG_INFO)},
    {CFG_ENUM_("format",
               struct config_log,
               format,
               format_names,
               CONFIG_LOG_LOGFMT)},
    {0},
};

static const struct cfg_section log_section = {
    .name = "log",
    .fields = log_fields,
    .pos_off = CFG_NO_POS,
};

/* ---- operations --------------------------------------------------------- */

static const struct cfg_field operations_fields[] = {
    {CFG_STR_("notify_channel", struct config_operations, notify_channel, NULL),
     .valid = cfg_valid_identifier},
    {0},
};

static const struct cfg_section operations_section = {
    .name = "operations",
    .fields = operations_fields,
    .pos_off = CFG_NO_POS,
};

/* ---- the file ----------------------------------------------------------- */

static const struct cfg_field config_fields[] = {
    {CFG_SECTION_("database", struct config, database, &database_section)},
    {CFG_SECTION_("pool", struct config, pool, &pool_section)},
    {CFG_SECTION_("transactions",
                  struct config,
                  transactions,
                  &transactions_section)},
    {CFG_SECTION_("http", struct config, http, &http_section)},
    {CFG_SECTION_("collectors",
                  struct config,
                  collectors,
                  &collectors_section)},
    {CFG_SECTION_PTR_("jobs", struct config, jobs, &cfg_jobs_section)},
    {CFG_SECTION_PTR_("alerts", struct config, alerts, &cfg_alerts_section)},
    {CFG_SECTION_("operations",
                  struct config,
                  operations,
                  &operations_section)},
    {CFG_SECTION_("log", struct config, log, &log_section)},
    {0},
};

const struct cfg_section cfg_config_section = {
    .name = "",
    .fields = config_fields,
    .size = sizeof(struct config),
    .pos_off = CFG_NO_POS,
};

/* SPDX-License-Identifier: MIT */
/* The effective configuration: immutable structs loaded from one YAML file. */
#ifndef DESKDB_CONFIG_CONFIG_H
#define DESKDB_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

/*
 * Where a value came from, so that modules validating their own section
 * later (cron in jobs/, rule expressions in alerts/) can still report
 * `file:line:column`.  line and column are 1-based; 0 means "default".
 */
struct config_pos {
    const char *file; /* borrowed from struct config */
    int line;
    int column;
};

/* A string list or map entry with the position of its value. */
struct config_str {
    char *value;
    struct config_pos pos;
};

struct config_kv {
    char *key;
    char *value;
    struct config_pos pos;
};

enum config_isolation {
    CONFIG_ISOLATION_READ_COMMITTED,
    CONFIG_ISOLATION_REPEATABLE_READ,
    CONFIG_ISOLATION_SERIALIZABLE,
};

struct config_database {
    char *url; /* libpq URI or key=value; secret parts redacted in output */
    char *password; /* from password_file, or NULL */
    char *password_file;
    char *application_name; /* default "deskdb" */
};

struct config_pool {
    int min;                             /* default 5 (DB_POOL_MIN) */
    int max;                             /* default 20 (DB_POOL_MAX) */
    int64_t connect_timeout_ms;          /* default 10 s */
    int64_t idle_timeout_ms;             /* default 30 s */
    int64_t max_lifetime_ms;             /* default 30 min */
    int64_t acquire_timeout_ms;          /* default 5 s */
    int64_t statement_timeout_ms;        /* default 30 s, 0 = server default */
    int64_t query_timeout_ms;            /* default 30 s */
    int64_t slow_query_threshold_ms;     /* default 1 s */
    int64_t leak_detection_threshold_ms; /* default 60 s, 0 = off */
    int64_t health_check_interval_ms;    /* default 30 s (janitor validation) */
    int query_history;                   /* default 1000 */
    int slow_query_history;              /* default 100 */
};

struct config_transactions {
    enum config_isolation isolation; /* default read_committed */
    int max_retries;                 /* default 3 */
    int64_t backoff_base_ms;         /* default 50 ms */
    int64_t backoff_cap_ms;          /* default 2 s */
    int64_t timeout_ms;              /* default 30 s */
};

struct config_http {
    struct config_str *listen; /* default ["127.0.0.1:9187"] */
    size_t n_listen;
    char *tls_cert_file;
    char *tls_key_file;
    char *bearer_token; /* read from bearer_token_file */
    char *bearer_token_file;
    struct config_kv *basic_users; /* user -> bcrypt hash */
    size_t n_basic_users;
    bool protect_metrics;       /* default false */
    bool allow_unauthenticated; /* non-loopback without auth, default false */
    int max_connections;        /* default 128 */
    int64_t request_timeout_ms; /* default 10 s */
    int64_t connection_memory_limit; /* bytes, default 64 KiB */
};

enum config_collector {
    CONFIG_COLLECTOR_DATABASE = 1 << 0,
    CONFIG_COLLECTOR_ACTIVITY = 1 << 1,
    CONFIG_COLLECTOR_LOCKS = 1 << 2,
    CONFIG_COLLECTOR_TABLES = 1 << 3,
    CONFIG_COLLECTOR_INDEXES = 1 << 4,
    CONFIG_COLLECTOR_SIZES = 1 << 5,
    CONFIG_COLLECTOR_STATEMENTS = 1 << 6,
    CONFIG_COLLECTOR_REPLICATION = 1 << 7,
    CONFIG_COLLECTOR_SETTINGS = 1 << 8,
};

struct config_collectors {
    unsigned enabled;        /* bit set of enum config_collector, default all */
    int64_t min_interval_ms; /* default 1 s */
    int64_t timeout_ms;      /* default 5 s */
    int64_t sizes_interval_ms; /* default 5 min (cached sizes) */
    int max_tables;            /* default 500 */
    int statements_top;        /* default 50 */
};

enum config_log_format { CONFIG_LOG_LOGFMT, CONFIG_LOG_JSON };
enum config_log_level {
    CONFIG_LOG_ERROR,
    CONFIG_LOG_WARN,
    CONFIG_LOG_INFO,
    CONFIG_LOG_DEBUG,
};

struct config_log {
    enum config_log_level level;   /* default info */
    enum config_log_format format; /* default logfmt */
};

/*
 * jobs: and alerts: are declared in config/config_jobs.h and
 * config/config_alerts.h; their structs hang off struct config.
 */
struct config_jobs;
struct config_alerts;

struct config {
    char *file; /* path the config was read from, or NULL */
    struct config_database database;
    struct config_pool pool;
    struct config_transactions transactions;
    struct config_http http;
    struct config_collectors collectors;
    struct config_jobs *jobs;
    struct config_alerts *alerts;
    struct config_log log;
};

/*
 * Load `path` (NULL: defaults only), apply the environment overrides of
 * the seed (DATABASE_URL, DB_POOL_MAX, ...), fill defaults and validate.
 * On failure returns NULL and `err->msg` is one line, `file:line:column:
 * message` for anything positioned in the file.  The result is owned by
 * the caller (config_destroy()).
 */
struct config *config_load(const char *path,
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Same, from a buffer; `name` is used in error messages. */
struct config *config_load_buffer(const char *name,
                                  const char *data,
                                  size_t len,
                                  struct deskdb_err *err) DESKDB_MUSTCHECK;

void config_destroy(struct config *cfg);

/*
 * The config path to use: `cli` if given, else $DESKDB_CONFIG, else
 * "./deskdb.yaml" if it exists, else NULL (defaults plus environment).
 */
const char *config_default_path(const char *cli);

/* Write the effective configuration as YAML with every default filled in
 * and secrets (URL passwords, tokens, hashes, webhook secrets) as "***". */
int config_print(const struct config *cfg, FILE *out) DESKDB_MUSTCHECK;

/* Copy `url` with any password (URI userinfo or password=...) replaced by
 * "***".  Caller frees. */
char *config_redact_url(const char *url);

/* The libpq connection string to use: url plus password and
 * application_name when set.  Caller frees.  Never log the result. */
char *config_conninfo(const struct config *cfg);

const char *config_isolation_name(enum config_isolation iso);

#endif

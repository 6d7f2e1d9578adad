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
 * For a value taken from an environment variable, `file` is the name of
 * the variable and line is 0.
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

/*
 * When neither database.url nor $DATABASE_URL is set, url is "" and libpq
 * falls back to its own defaults (PGHOST, PGPORT, PGDATABASE, PGUSER,
 * PGPASSFILE, ...), exactly as psql does.
 */
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
    int64_t idle_timeout_ms;             /* default 30 s, 0 = never */
    int64_t max_lifetime_ms;             /* default 30 min, 0 = unlimited */
    int64_t acquire_timeout_ms;          /* default 5 s */
    int64_t statement_timeout_ms;        /* default 30 s, 0 = server default */
    int64_t query_timeout_ms;            /* default 30 s, 0 = no cancel */
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
    bool protect_metrics;            /* default false */
    bool allow_unauthenticated;      /* non-loopback without auth, false */
    int max_connections;             /* default 128 */
    int64_t request_timeout_ms;      /* default 10 s */
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
    unsigned enabled;          /* bit set of enum config_collector, all */
    int64_t min_interval_ms;   /* default 1 s */
    int64_t timeout_ms;        /* default 5 s */
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

struct config_operations {
    char *notify_channel; /* NOTIFY channel of e-mail status changes, NULL */
};

struct config_log {
    enum config_log_level level;   /* default info */
    enum config_log_format format; /* default logfmt */
};

/*
 * jobs: and alerts: are declared in config/config_jobs.h and
 * config/config_alerts.h; their structs hang off struct config and are
 * never NULL in a loaded configuration.
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
    struct config_operations operations;
    struct config_log log;
};

/*
 * Load `path` (NULL: defaults only), apply the environment overrides of
 * the seed (DATABASE_URL, DB_POOL_MAX, ...), fill defaults and validate.
 * Relative paths inside the file (*_file keys, tls files, import inboxes)
 * are resolved against the directory of `path`.  On failure returns NULL
 * and `err->msg` is one line, `file:line:column: message` for anything
 * positioned in the file, `VARIABLE: message` for the environment.  The
 * result is owned by the caller (config_destroy()).  Reads files; does
 * not touch the network or the database.
 */
struct config *config_load(const char *path,
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Same, from a buffer; `name` is used in error messages and positions.
 * Relative paths are resolved against the working directory. */
struct config *config_load_buffer(const char *name,
                                  const char *data,
                                  size_t len,
                                  struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Free everything; config_destroy(NULL) is a no-op.  Secrets are wiped. */
void config_destroy(struct config *cfg);

/*
 * The config path to use: `cli` if given, else $DESKDB_CONFIG, else
 * "./deskdb.yaml" if it exists, else NULL (defaults plus environment).
 * The result is borrowed (from `cli`, the environment or a literal).
 */
const char *config_default_path(const char *cli);

/*
 * Write the effective configuration as YAML with every default filled in
 * and secrets (URL passwords, tokens, hashes, webhook secrets) as "***".
 * Keys are those of the input file; durations use the short form (30s).
 * Returns 0 or DESKDB_EIO when writing failed.
 */
int config_print(const struct config *cfg, FILE *out) DESKDB_MUSTCHECK;

/* Copy `url` (libpq URI or key=value) with any password (URI userinfo,
 * password= / sslpassword= in either form) replaced by "***"; a string
 * that cannot be parsed comes back as "***".  Caller frees; NULL on
 * allocation failure. */
char *config_redact_url(const char *url);

/* Copy an http(s) URL for display: userinfo and query values become
 * "***", and with `hide_path` the path too (Slack URLs are the secret).
 * Caller frees; NULL on allocation failure. */
char *config_redact_webhook_url(const char *url, bool hide_path);

/*
 * The libpq connection string to use: database.url plus the password from
 * password_file (which wins over one in the url), and application_name
 * and connect_timeout (whole seconds, rounded up) unless the url sets
 * them itself.  A URI stays a URI (parameters appended to its query).
 * Caller frees; NULL on allocation failure.  Never log the result.
 */
char *config_conninfo(const struct config *cfg);

/* "read_committed", "repeatable_read", "serializable". */
const char *config_isolation_name(enum config_isolation iso);

/* "READ COMMITTED", ... for BEGIN ISOLATION LEVEL. */
const char *config_isolation_sql(enum config_isolation iso);

/*
 * Report a problem with a configured value: fills `err` with
 * "file:line:column: message" ("VARIABLE: message" for environment
 * values, just the message for defaults) and returns DESKDB_EINVAL.
 * For modules that validate their own section after loading.
 */
int config_error_at(struct deskdb_err *err,
                    const struct config_pos *pos,
                    const char *fmt,
                    ...) DESKDB_PRINTF(3, 4);

/*
 * Parse a duration: "0", or one or more <digits><unit> from largest to
 * smallest unit (d, h, m, s, ms), e.g. "250ms", "10s", "1h30m".  Stores
 * milliseconds.  Returns 0 or DESKDB_EINVAL (with a reason in `err`).
 */
int config_parse_duration(const char *s,
                          int64_t *ms,
                          struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The canonical short form of a duration ("30s", "1m30s", "250ms", "0s")
 * into `buf`, which is returned. */
const char *config_format_duration(int64_t ms, char buf[48]);

#endif

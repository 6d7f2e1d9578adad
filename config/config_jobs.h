/* SPDX-License-Identifier: MIT */
/* The jobs: section: scheduler settings and job definitions as loaded. */
#ifndef DESKDB_CONFIG_CONFIG_JOBS_H
#define DESKDB_CONFIG_CONFIG_JOBS_H

#include "config/config.h"

/*
 * The config module checks types, ranges, names and which keys go with
 * which job type.  Schedules, time zones and SQL text are kept with their
 * positions and checked by jobs/ (config_error_at()).  SQL text keeps the
 * ${run.id} and ${run.scheduled_for} placeholders for jobs/ to bind.
 */

enum config_leader_mode {
    CONFIG_LEADER_NONE,
    CONFIG_LEADER_ADVISORY_LOCK,
};

enum config_job_type {
    CONFIG_JOB_SQL,
    CONFIG_JOB_MAINTENANCE,
    CONFIG_JOB_PURGE,
    CONFIG_JOB_BATCH,
    CONFIG_JOB_IMPORT,
};

enum config_job_concurrency {
    CONFIG_CONCURRENCY_FORBID,
    CONFIG_CONCURRENCY_ALLOW,
    CONFIG_CONCURRENCY_QUEUE,
    CONFIG_CONCURRENCY_REPLACE,
};

enum config_job_misfire {
    CONFIG_MISFIRE_SKIP,
    CONFIG_MISFIRE_RUN_ONCE,
};

enum config_step_kind {
    CONFIG_STEP_ANALYZE,
    CONFIG_STEP_VACUUM,
    CONFIG_STEP_REINDEX,
    CONFIG_STEP_REFRESH_MATERIALIZED_VIEW,
    CONFIG_STEP_CREATE_INDEX,
};

enum config_index_cleanup {
    CONFIG_INDEX_CLEANUP_AUTO,
    CONFIG_INDEX_CLEANUP_ON,
    CONFIG_INDEX_CLEANUP_OFF,
};

enum config_import_operation {
    CONFIG_IMPORT_CREATE_DEAL,
    CONFIG_IMPORT_ATTACH_CUSTOMER,
    CONFIG_IMPORT_REGISTER_USER,
    CONFIG_IMPORT_UPDATE_EMAIL_STATUS,
    CONFIG_IMPORT_NEXT_SEQUENCE,
};

/* Relation names below are "name" or "schema.name", unquoted identifiers
 * ([A-Za-z_][A-Za-z0-9_$]*, at most 63 bytes each part). */

/* analyze: {tables: [...]}; no tables means the whole database. */
struct config_step_analyze {
    struct config_str *tables;
    size_t n_tables;
};

/* vacuum: {tables, analyze, freeze, disable_page_skipping, index_cleanup} */
struct config_step_vacuum {
    struct config_str *tables; /* none: the whole database */
    size_t n_tables;
    bool analyze;                            /* default false */
    bool freeze;                             /* default false */
    bool disable_page_skipping;              /* default false */
    enum config_index_cleanup index_cleanup; /* default auto */
};

/* reindex: {index: name} or {table: name}; exactly one is set. */
struct config_step_reindex {
    struct config_str index;
    struct config_str table;
    bool concurrently; /* default true */
};

/* refresh_materialized_view: {view, concurrently} */
struct config_step_refresh {
    struct config_str view;
    bool concurrently; /* default false (needs a unique index) */
};

/* create_index: {name, table, columns | definition, unique, concurrently}.
 * `definition` is the SQL after the table name, e.g.
 * "USING gin (payload jsonb_path_ops)"; exactly one of columns and
 * definition is set. */
struct config_step_create_index {
    struct config_str name; /* unqualified: it lives in the table's schema */
    struct config_str table;
    struct config_str *columns;
    size_t n_columns;
    struct config_str definition;
    bool unique;       /* default false */
    bool concurrently; /* default true */
};

/* One maintenance step: a one-key mapping in YAML ({vacuum: {...}}). */
struct config_maint_step {
    enum config_step_kind kind;
    struct config_pos pos;
    union {
        struct config_step_analyze analyze;
        struct config_step_vacuum vacuum;
        struct config_step_reindex reindex;
        struct config_step_refresh refresh;
        struct config_step_create_index create_index;
    } u;
};

/* One statement of a batch job; all of them run in one transaction. */
struct config_batch_step {
    struct config_pos pos;
    char *name; /* optional, for logs and history */
    struct config_str sql;
    int64_t expect_rows; /* minimum rows affected, -1 = not checked */
};

/* purge: deletes rows matching `where` in short transactions. */
struct config_job_purge {
    struct config_str table;
    struct config_str where;    /* required: never purge everything */
    struct config_str order_by; /* optional, e.g. "created_at" */
    int batch_size;             /* 1..100000, default 1000 */
    int64_t pause_ms;           /* between batches, default 100 ms */
    int64_t max_duration_ms;    /* stop cleanly after, default 5 min */
};

/* import: NDJSON files landing in `inbox` go through one operation. */
struct config_job_import {
    char *inbox; /* directory, relative to the config file's */
    enum config_import_operation operation;
};

struct config_job_retry {
    int max_attempts; /* total attempts including the first, default 1 */
    int64_t base_ms;  /* default 1 s */
    int64_t cap_ms;   /* default 1 min */
};

struct config_job {
    struct config_pos pos; /* the job's mapping */
    char *name;            /* [a-z0-9_-]{1,63}, unique */
    enum config_job_type type;
    bool enabled;               /* default true */
    struct config_str schedule; /* cron, @macro or @every D; jobs/ parses */
    struct config_str timezone; /* IANA name; default jobs.timezone */
    struct config_str sql;      /* type sql */
    struct config_str only_if;  /* optional guard returning one boolean */
    struct config_kv *settings; /* SET (SET LOCAL in batch jobs) */
    size_t n_settings;
    enum config_isolation isolation; /* type batch, default read_committed */
    struct config_maint_step *maint_steps; /* type maintenance */
    size_t n_maint_steps;
    struct config_batch_step *batch_steps; /* type batch */
    size_t n_batch_steps;
    struct config_job_purge purge;           /* type purge */
    struct config_job_import import;         /* type import */
    enum config_job_concurrency concurrency; /* default forbid */
    int max_instances;                       /* allow only, default 1 */
    enum config_job_misfire misfire;         /* default run_once */
    int64_t timeout_ms;                      /* default 1 h, > 0 */
    struct config_job_retry retry;
    int64_t jitter_ms; /* default 0 */
};

struct config_jobs {
    enum config_leader_mode leader_mode; /* default advisory_lock */
    int64_t leader_key; /* pg_advisory_lock key, default 0x6465736b6462 */
    struct config_str timezone;   /* default "UTC" */
    int max_concurrent;           /* default 4 */
    int64_t history_retention_ms; /* default 14 d */
    struct config_job *definitions;
    size_t n_definitions;
};

const char *config_job_type_name(enum config_job_type type);
const char *config_step_kind_name(enum config_step_kind kind);
const char *config_import_operation_name(enum config_import_operation op);

#endif

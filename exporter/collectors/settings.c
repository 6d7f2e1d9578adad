/* SPDX-License-Identifier: MIT */
/* The settings collector: a curated set of server settings as
 * pg_settings_<name> gauges, converted to bytes and seconds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/collectors/internal.h"

/* Capacity, memory, timeouts, checkpoints, autovacuum, replication and
 * planner settings an operator compares against what the other
 * collectors show.  Settings a server lacks are simply not reported. */
static const char *const curated[] = {
    "autovacuum",
    "autovacuum_analyze_scale_factor",
    "autovacuum_analyze_threshold",
    "autovacuum_freeze_max_age",
    "autovacuum_max_workers",
    "autovacuum_naptime",
    "autovacuum_vacuum_cost_delay",
    "autovacuum_vacuum_cost_limit",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_threshold",
    "autovacuum_work_mem",
    "block_size",
    "checkpoint_completion_target",
    "checkpoint_timeout",
    "data_checksums",
    "deadlock_timeout",
    "default_statistics_target",
    "effective_cache_size",
    "effective_io_concurrency",
    "hot_standby",
    "idle_in_transaction_session_timeout",
    "idle_session_timeout",
    "lock_timeout",
    "log_min_duration_statement",
    "maintenance_work_mem",
    "max_connections",
    "max_locks_per_transaction",
    "max_parallel_workers",
    "max_parallel_workers_per_gather",
    "max_prepared_transactions",
    "max_replication_slots",
    "max_slot_wal_keep_size",
    "max_wal_senders",
    "max_wal_size",
    "max_worker_processes",
    "min_wal_size",
    "pg_stat_statements.max",
    "random_page_cost",
    "seq_page_cost",
    "shared_buffers",
    "statement_timeout",
    "superuser_reserved_connections",
    "temp_buffers",
    "temp_file_limit",
    "track_activities",
    "track_counts",
    "track_io_timing",
    "wal_buffers",
    "wal_keep_size",
    "wal_segment_size",
    "work_mem",
};

#define N_CURATED (sizeof(curated) / sizeof(curated[0]))

enum { C_NAME, C_SETTING, C_UNIT, C_VARTYPE, C_DESC };

/* pg_settings.unit: an optional multiplier and a memory or time unit
 * ("8kB", "16MB", "ms", "min").  False for a unit we do not know. */
static bool
unit_scale(const char *unit, double *scale, const char **suffix)
{
    static const struct {
        const char *unit;
        double factor;
        const char *suffix;
    } units[] = {
        {"B", 1, "_bytes"},
        {"kB", 1024.0, "_bytes"},
        {"MB", 1024.0 * 1024, "_bytes"},
        {"GB", 1024.0 * 1024 * 1024, "_bytes"},
        {"TB", 1024.0 * 1024 * 1024 * 1024, "_bytes"},
        {"us", 1e-6, "_seconds"},
        {"ms", 1e-3, "_seconds"},
        {"s", 1, "_seconds"},
        {"min", 60, "_seconds"},
        {"h", 3600, "_seconds"},
        {"d", 86400, "_seconds"},
    };
    double mult = 1;
    char *end;
    size_t i;

    *scale = 1;
    *suffix = "";
    if (unit == NULL || *unit == '\0')
        return true;
    if (*unit >= '0' && *unit <= '9') {
        mult = coll_strtod(unit, &end);
        unit = end;
    }
    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(unit, units[i].unit) == 0) {
            *scale = mult * units[i].factor;
            *suffix = units[i].suffix;
            return true;
        }
    }
    return false;
}

/* "pg_settings_" + the setting name with anything but [A-Za-z0-9_] as
 * '_' (pg_stat_statements.max -> pg_settings_pg_stat_statements_max). */
static void
metric_name(char *out, size_t size, const char *setting, const char *suffix)
{
    size_t n;
    char *p;

    snprintf(out, size, "pg_settings_%s%s", setting, suffix);
    n = strlen("pg_settings_");
    for (p = out + n; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    }
}

static bool
setting_value(const PGresult *res, int row, double *v)
{
    const char *type = PQgetvalue(res, row, C_VARTYPE);
    const char *s = PQgetvalue(res, row, C_SETTING);
    char *end;

    if (strcmp(type, "bool") == 0) {
        *v = strcmp(s, "on") == 0 ? 1 : 0;
        return true;
    }
    if (strcmp(type, "integer") != 0 && strcmp(type, "real") != 0)
        return false;
    *v = coll_strtod(s, &end);
    return end != s && *end == '\0' && isfinite(*v);
}

static int
emit_setting(struct coll_ctx *ctx, const PGresult *res, int row)
{
    const char *setting = PQgetvalue(res, row, C_NAME);
    const char *unit =
        PQgetisnull(res, row, C_UNIT) ? NULL : PQgetvalue(res, row, C_UNIT);
    const char *suffix;
    char name[128], help[512];
    double v, scale;
    int rc;

    if (!setting_value(res, row, &v) || !unit_scale(unit, &scale, &suffix))
        return 0;
    /* -1 and friends mean "disabled" or "use another setting": they are
     * passed through, never scaled into a nonsense amount. */
    if (v >= 0)
        v *= scale;
    metric_name(name, sizeof(name), setting, suffix);
    snprintf(help,
             sizeof(help),
             "Server setting %s%s%s: %s",
             setting,
             suffix[0] ? ", in " : "",
             suffix[0] ? suffix + 1 : "",
             PQgetvalue(res, row, C_DESC));
    rc = rec_family(ctx->out, METRIC_GAUGE, name, help, NULL);
    if (rc == 0)
        rc = rec_sample(ctx->out, NULL, v);
    return rc != 0 ? coll_rec_error(ctx, rc) : 0;
}

int
coll_settings_run(struct coll_ctx *ctx)
{
    struct buf names;
    const char *params[1];
    PGresult *res = NULL;
    size_t i;
    int rc, row;

    buf_init(&names, COLL_SQL_MAX);
    rc = buf_putc(&names, '{');
    for (i = 0; i < N_CURATED && rc == 0; i++)
        rc = buf_printf(&names, "%s%s", i ? "," : "", curated[i]);
    rc = rc ? rc : buf_putc(&names, '}');
    if (rc != 0) {
        rc = coll_rec_error(ctx, DESKDB_ENOMEM);
        goto out;
    }
    params[0] = names.data;
    rc = coll_query(ctx,
                    "SELECT name, setting, unit, vartype, short_desc "
                    "FROM pg_settings WHERE name = ANY($1::text[]) "
                    "ORDER BY name",
                    1,
                    params,
                    &res);
    for (row = 0; rc == 0 && row < PQntuples(res); row++)
        rc = emit_setting(ctx, res, row);
out:
    PQclear(res);
    buf_fini(&names);
    return rc;
}

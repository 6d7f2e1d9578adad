/* SPDX-License-Identifier: MIT */
/* A job definition made ready to run: schedule parsed, time zone loaded,
 * SQL checked and placeholders bound; and the check-config validator. */
#ifndef DESKDB_JOBS_JOBDEF_H
#define DESKDB_JOBS_JOBDEF_H

#include "config/config.h"
#include "config/config_jobs.h"
#include "core/err.h"
#include "jobs/cron.h"
#include "jobs/sqltext.h"
#include "jobs/tz.h"

struct jobdef {
    const struct config_job *cfg; /* borrowed from the configuration */
    struct cron_expr expr;
    struct tz *tz;          /* owned */
    struct sqltext sql;     /* type sql */
    struct sqltext only_if; /* sql == NULL when there is no guard */
    struct sqltext purge;   /* type purge: one batch */
    struct sqltext *steps;  /* type batch, n_batch_steps of them */
};

/*
 * Prepare `job` of `cfg`.  Every problem is a configuration error with
 * the value's `file:line:column` (config_error_at()):
 *   - a schedule that cron_parse() refuses; the column is that of the
 *     offending character in the file when the expression is written on
 *     one line, plain or quoted, else that of the value;
 *   - a time zone that cannot be loaded;
 *   - sql, only_if and batch steps that are not exactly one statement,
 *     that are transaction control or COPY to/from the client, or with
 *     bad placeholders; batch steps that cannot run inside a transaction
 *     block (VACUUM, ... CONCURRENTLY, ...), with a pointer to
 *     `type: maintenance`;
 *   - purge `where`/`order_by` and create_index `definition` fragments
 *     that hold a semicolon or unbalanced parentheses.
 * On success `out` owns what it holds (jobdef_fini()).  Reads zone files.
 */
int jobdef_compile(const struct config *cfg,
                   const struct config_job *job,
                   struct jobdef *out,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Free what jobdef_compile() made; safe on a zeroed struct. */
void jobdef_fini(struct jobdef *d);

/*
 * The validator for `deskdb check-config` (and every command that loads
 * the configuration): jobs.timezone and every job definition as above.
 * Returns 0 or DESKDB_EINVAL / DESKDB_ENOMEM with `err` set.
 */
int jobs_check_config(const struct config *cfg,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Format an instant (microseconds since the epoch) as ISO-8601 UTC,
 * "2025-03-09T07:00:00Z", with ".ffffff" when it is not a whole second.
 * Returns `buf`. */
#define JOBS_TIME_MAX 40
const char *jobs_format_utc(int64_t us, char buf[JOBS_TIME_MAX]);

#endif

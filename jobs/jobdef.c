/* SPDX-License-Identifier: MIT */
/* Job definitions made ready to run, and the jobs: validator. */
#include "jobs/jobdef.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/sqlsplit.h"
#include "jobs/civil.h"
#include "jobs/maint.h"

#define CONFIG_LINE_SCAN_MAX (1 << 20) /* bytes read looking for a line */

const char *
jobs_format_utc(int64_t us, char buf[JOBS_TIME_MAX])
{
    int64_t s = civil_floor_div(us, 1000000), frac = us - s * 1000000;
    struct civil_time c;

    civil_from_seconds(s, &c);
    if (frac == 0)
        snprintf(buf,
                 JOBS_TIME_MAX,
                 "%04lld-%02d-%02dT%02d:%02d:%02dZ",
                 (long long)c.year,
                 c.month,
                 c.day,
                 c.hour,
                 c.minute,
                 c.second);
    else
        snprintf(buf,
                 JOBS_TIME_MAX,
                 "%04lld-%02d-%02dT%02d:%02d:%02d.%06lldZ",
                 (long long)c.year,
                 c.month,
                 c.day,
                 c.hour,
                 c.minute,
                 c.second,
                 (long long)frac);
    return buf;
}

/*
 * Where column `col` (1-based) of `value` sits in the file: the value
 * starts at pos (a plain scalar) or one byte later (a quoted one), if the
 * file shows it there verbatim on that line.  Otherwise the value's own
 * position (folded or escaped scalars, buffers, environment values).
 */
static struct config_pos
value_column(const struct config_pos *pos, const char *value, int col)
{
    struct config_pos out = *pos;
    size_t cap = 0, scanned = 0, start;
    char *line = NULL;
    ssize_t n = -1;
    FILE *f;

    if (pos->file == NULL || pos->line <= 0 || pos->column <= 0)
        return out;
    f = fopen(pos->file, "r");
    if (f == NULL)
        return out;
    for (int i = 0; i < pos->line && scanned < CONFIG_LINE_SCAN_MAX; i++) {
        n = getline(&line, &cap, f);
        if (n < 0)
            break;
        scanned += (size_t)n;
    }
    fclose(f);
    start = (size_t)pos->column - 1;
    if (n >= 0 && start < (size_t)n) {
        if (line[start] == '"' || line[start] == '\'')
            start++;
        if (strncmp(line + start, value, strlen(value)) == 0)
            out.column = (int)start + col;
    }
    free(line);
    return out;
}

static int
compile_schedule(const struct config_job *job,
                 struct jobdef *d,
                 struct deskdb_err *err)
{
    struct deskdb_err e;
    struct config_pos pos;
    int col = 0;

    if (cron_parse(job->schedule.value, &d->expr, &col, &e) == 0)
        return DESKDB_OK;
    pos = col > 0 ? value_column(&job->schedule.pos, job->schedule.value, col)
                  : job->schedule.pos;
    return config_error_at(err,
                           &pos,
                           "job '%s': schedule \"%s\": %s",
                           job->name,
                           job->schedule.value,
                           e.msg);
}

static int
load_zone(const struct config_str *zone,
          const char *what,
          struct tz **out,
          struct deskdb_err *err)
{
    struct deskdb_err e;

    *out = tz_load(zone->value, &e);
    if (*out != NULL)
        return DESKDB_OK;
    if (e.code == DESKDB_ENOMEM)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    return config_error_at(err, &zone->pos, "%s: %s", what, e.msg);
}

enum stmt_rules {
    STMT_AUTOCOMMIT,  /* type sql: runs on its own, anything goes */
    STMT_TRANSACTION, /* batch steps: inside deskdb's transaction */
    STMT_GUARD,       /* only_if: a query */
};

/* One statement of job SQL: checked, then compiled with its placeholders. */
static int
compile_statement(const struct config_job *job,
                  const struct config_str *text,
                  const char *what,
                  enum stmt_rules rules,
                  struct sqltext *out,
                  struct deskdb_err *err)
{
    struct deskdb_err e;
    const char *why;
    size_t len = strlen(text->value);

    if (sqltext_check_single(text->value, what, &e) != DESKDB_OK)
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s",
                               job->name,
                               e.msg);
    if (sqltext_is_transaction_control(text->value, len))
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s: transaction control is "
                               "deskdb's (type: batch runs its steps in one "
                               "transaction)",
                               job->name,
                               what);
    if (sqltext_is_client_copy(text->value, len))
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s: COPY to or from the client "
                               "cannot run in a job; use COPY with a "
                               "server file or INSERT ... SELECT",
                               job->name,
                               what);
    why = sqltext_non_transactional(text->value, len);
    if (why != NULL && rules == STMT_TRANSACTION)
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s: %s cannot run inside a "
                               "transaction block, and the steps of a batch "
                               "job run in one; use type: maintenance",
                               job->name,
                               what,
                               why);
    if (why != NULL && rules == STMT_GUARD)
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s: must be a query returning one "
                               "boolean, not %s",
                               job->name,
                               what,
                               why);
    if (sqltext_compile(text->value, out, &e) != DESKDB_OK)
        return e.code == DESKDB_ENOMEM
                   ? err_set(err, DESKDB_ENOMEM, "out of memory")
                   : config_error_at(err,
                                     &text->pos,
                                     "job '%s': %s: %s",
                                     job->name,
                                     what,
                                     e.msg);
    return DESKDB_OK;
}

static int
check_fragment(const struct config_job *job,
               const struct config_str *text,
               const char *what,
               bool placeholders,
               struct deskdb_err *err)
{
    struct deskdb_err e;
    struct sqltext t;

    if (text->value == NULL)
        return DESKDB_OK;
    if (sqltext_check_fragment(text->value, what, &e) != DESKDB_OK)
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s",
                               job->name,
                               e.msg);
    if (sqltext_compile(text->value, &t, &e) != DESKDB_OK)
        return e.code == DESKDB_ENOMEM
                   ? err_set(err, DESKDB_ENOMEM, "out of memory")
                   : config_error_at(err,
                                     &text->pos,
                                     "job '%s': %s: %s",
                                     job->name,
                                     what,
                                     e.msg);
    if (t.nparams > 0 && !placeholders) {
        sqltext_fini(&t);
        return config_error_at(err,
                               &text->pos,
                               "job '%s': %s: ${run.*} placeholders are "
                               "not available here",
                               job->name,
                               what);
    }
    sqltext_fini(&t);
    return DESKDB_OK;
}

static int
compile_batch(const struct config_job *job,
              struct jobdef *d,
              struct deskdb_err *err)
{
    char what[96];
    int rc;

    d->steps = calloc(job->n_batch_steps, sizeof(*d->steps));
    if (d->steps == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < job->n_batch_steps; i++) {
        const struct config_batch_step *st = &job->batch_steps[i];

        if (st->name != NULL)
            snprintf(what, sizeof(what), "step '%s'", st->name);
        else
            snprintf(what, sizeof(what), "step %zu", i + 1);
        rc = compile_statement(job,
                               &st->sql,
                               what,
                               STMT_TRANSACTION,
                               &d->steps[i],
                               err);
        if (rc != DESKDB_OK)
            return rc;
    }
    return DESKDB_OK;
}

static int
compile_purge(const struct config_job *job,
              struct jobdef *d,
              struct deskdb_err *err)
{
    struct deskdb_err e;
    struct buf b;
    int rc;

    rc = check_fragment(job, &job->purge.where, "purge.where", true, err);
    if (rc == DESKDB_OK)
        rc = check_fragment(job,
                            &job->purge.order_by,
                            "purge.order_by",
                            true,
                            err);
    if (rc != DESKDB_OK)
        return rc;
    buf_init(&b, 4 * 65536 + 1024);
    rc = maint_purge_sql(&job->purge, &b);
    if (rc == 0)
        rc = sqltext_compile(b.data, &d->purge, &e);
    buf_fini(&b);
    if (rc != 0)
        return rc == DESKDB_ENOMEM || rc == DESKDB_EBUSY
                   ? err_set(err, DESKDB_ENOMEM, "out of memory")
                   : config_error_at(err,
                                     &job->purge.where.pos,
                                     "job '%s': purge: %s",
                                     job->name,
                                     e.msg);
    return DESKDB_OK;
}

static int
compile_maintenance(const struct config_job *job, struct deskdb_err *err)
{
    for (size_t i = 0; i < job->n_maint_steps; i++) {
        const struct config_maint_step *st = &job->maint_steps[i];
        int rc;

        if (st->kind != CONFIG_STEP_CREATE_INDEX)
            continue;
        rc = check_fragment(job,
                            &st->u.create_index.definition,
                            "create_index.definition",
                            false,
                            err);
        if (rc != DESKDB_OK)
            return rc;
    }
    return DESKDB_OK;
}

static int
compile_type(const struct config_job *job,
             struct jobdef *d,
             struct deskdb_err *err)
{
    switch (job->type) {
    case CONFIG_JOB_SQL:
        return compile_statement(job,
                                 &job->sql,
                                 "sql",
                                 STMT_AUTOCOMMIT,
                                 &d->sql,
                                 err);
    case CONFIG_JOB_MAINTENANCE:
        return compile_maintenance(job, err);
    case CONFIG_JOB_PURGE:
        return compile_purge(job, d, err);
    case CONFIG_JOB_BATCH:
        return compile_batch(job, d, err);
    case CONFIG_JOB_IMPORT:
        return DESKDB_OK;
    }
    return err_set(err, DESKDB_EINVAL, "job '%s': unknown type", job->name);
}

int
jobdef_compile(const struct config *cfg,
               const struct config_job *job,
               struct jobdef *out,
               struct deskdb_err *err)
{
    char what[128];
    int rc;

    (void)cfg;
    memset(out, 0, sizeof(*out));
    out->cfg = job;
    rc = compile_schedule(job, out, err);
    if (rc == DESKDB_OK) {
        snprintf(what, sizeof(what), "job '%s': timezone", job->name);
        rc = load_zone(&job->timezone, what, &out->tz, err);
    }
    if (rc == DESKDB_OK && job->only_if.value != NULL)
        rc = compile_statement(job,
                               &job->only_if,
                               "only_if",
                               STMT_GUARD,
                               &out->only_if,
                               err);
    if (rc == DESKDB_OK)
        rc = compile_type(job, out, err);
    if (rc != DESKDB_OK)
        jobdef_fini(out);
    return rc;
}

void
jobdef_fini(struct jobdef *d)
{
    if (d == NULL)
        return;
    tz_destroy(d->tz);
    sqltext_fini(&d->sql);
    sqltext_fini(&d->only_if);
    sqltext_fini(&d->purge);
    if (d->steps != NULL && d->cfg != NULL) {
        for (size_t i = 0; i < d->cfg->n_batch_steps; i++)
            sqltext_fini(&d->steps[i]);
    }
    free(d->steps);
    memset(d, 0, sizeof(*d));
}

int
jobs_check_config(const struct config *cfg, struct deskdb_err *err)
{
    const struct config_jobs *jobs = cfg->jobs;
    struct jobdef d;
    struct tz *tz;
    int rc;

    if (jobs == NULL)
        return DESKDB_OK;
    rc = load_zone(&jobs->timezone, "jobs.timezone", &tz, err);
    if (rc != DESKDB_OK)
        return rc;
    tz_destroy(tz);
    for (size_t i = 0; i < jobs->n_definitions; i++) {
        rc = jobdef_compile(cfg, &jobs->definitions[i], &d, err);
        if (rc != DESKDB_OK)
            return rc;
        jobdef_fini(&d);
    }
    return DESKDB_OK;
}

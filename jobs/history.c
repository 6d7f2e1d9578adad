/* SPDX-License-Identifier: MIT */
/* deskdb.job_runs: the statements of the run history. */
#include "jobs/history.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/pool.h"
#include "jobs/jobdef.h"

/* Epoch microseconds of a timestamptz, exactly (extract is numeric). */
#define EPOCH_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

const char *
run_status_name(enum run_status s)
{
    switch (s) {
    case RUN_RUNNING:
        return "running";
    case RUN_SUCCEEDED:
        return "succeeded";
    case RUN_FAILED:
        return "failed";
    case RUN_TIMED_OUT:
        return "timed_out";
    case RUN_CANCELLED:
        return "cancelled";
    case RUN_SKIPPED:
        return "skipped";
    case RUN_INTERRUPTED:
        return "interrupted";
    }
    return "failed";
}

int
history_claim(struct pool_conn *c,
              const char *job,
              int64_t scheduled_for_us,
              enum plan_trigger trigger,
              const char *instance,
              int64_t *id,
              struct deskdb_err *err)
{
    static const char sql[] =
        "INSERT INTO deskdb.job_runs"
        " (job, scheduled_for, status, instance, backend_pid, trigger)"
        " VALUES ($1, $2::timestamptz, 'running', $3, pg_backend_pid(), $4)"
        " ON CONFLICT (job, scheduled_for) DO NOTHING RETURNING id";
    char when[JOBS_TIME_MAX];
    const char *params[4] = {job,
                             jobs_format_utc(scheduled_for_us, when),
                             instance,
                             plan_trigger_name(trigger)};
    PGresult *res;
    int rc;

    *id = 0;
    rc = pool_query_single(c, sql, 4, params, &res, err);
    if (rc != 0) {
        err_prefix(err, "record the run in deskdb.job_runs");
        return rc;
    }
    if (PQntuples(res) == 1)
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    if (*id == 0)
        return err_set(err,
                       DESKDB_EEXIST,
                       "the run of %s for %s is already in deskdb.job_runs",
                       job,
                       when);
    return DESKDB_OK;
}

int
history_set_backend(struct pool_conn *c, int64_t id, struct deskdb_err *err)
{
    char idtext[24];
    const char *params[1] = {idtext};

    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    return pool_query_single(c,
                             "UPDATE deskdb.job_runs SET backend_pid ="
                             " pg_backend_pid() WHERE id = $1",
                             1,
                             params,
                             NULL,
                             err);
}

int
history_finish(struct pool_conn *c,
               int64_t id,
               const struct history_result *r,
               struct deskdb_err *err)
{
    static const char sql[] =
        "UPDATE deskdb.job_runs SET status = $2, finished_at = now(),"
        " attempts = $3, rows_affected = $4::bigint, error = $5, note = $6"
        " WHERE id = $1 AND status = 'running'";
    char idtext[24], attempts[24], rows[24];
    const char *params[6];
    PGresult *res;
    int rc;
    bool updated;

    snprintf(idtext, sizeof(idtext), "%lld", (long long)id);
    snprintf(attempts, sizeof(attempts), "%d", r->attempts);
    snprintf(rows, sizeof(rows), "%lld", (long long)r->rows);
    params[0] = idtext;
    params[1] = run_status_name(r->status);
    params[2] = attempts;
    params[3] = r->rows >= 0 ? rows : NULL;
    params[4] = r->error;
    params[5] = r->note;
    rc = pool_query_single(c, sql, 6, params, &res, err);
    if (rc != 0) {
        err_prefix(err, "record the end of run %lld", (long long)id);
        return rc;
    }
    updated = strcmp(PQcmdTuples(res), "1") == 0;
    PQclear(res);
    if (!updated)
        return err_set(err,
                       DESKDB_ENOTFOUND,
                       "run %lld is no longer running in deskdb.job_runs "
                       "(marked interrupted meanwhile)",
                       (long long)id);
    return DESKDB_OK;
}

/* "{1,2,3}" */
static int
id_array(struct buf *b, const int64_t *ids, size_t n)
{
    int rc = buf_putc(b, '{');

    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(b, "%s%lld", i > 0 ? "," : "", (long long)ids[i]);
    return rc == 0 ? buf_putc(b, '}') : rc;
}

int
history_reconcile(struct pool_conn *c,
                  const int64_t *keep,
                  size_t n_keep,
                  int *marked,
                  struct deskdb_err *err)
{
    static const char sql[] =
        "UPDATE deskdb.job_runs r SET status = 'interrupted',"
        " finished_at = now(), error = coalesce(r.error, 'the deskdb"
        " instance running it (' || r.instance || ') stopped or lost its"
        " connection before the run finished')"
        " WHERE r.status = 'running' AND NOT (r.id = ANY ($1::bigint[]))"
        " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
        "                 WHERE a.pid = r.backend_pid)";
    struct buf ids;
    const char *params[1];
    PGresult *res;
    int rc;

    *marked = 0;
    buf_init(&ids, 24 * (n_keep + 2));
    if (id_array(&ids, keep, n_keep) != 0) {
        buf_fini(&ids);
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    params[0] = ids.data;
    rc = pool_query_single(c, sql, 1, params, &res, err);
    buf_fini(&ids);
    if (rc != 0) {
        err_prefix(err, "mark interrupted runs");
        return rc;
    }
    *marked = atoi(PQcmdTuples(res));
    PQclear(res);
    return DESKDB_OK;
}

int
history_prune(struct pool_conn *c,
              int64_t retention_ms,
              int64_t *deleted,
              struct deskdb_err *err)
{
    static const char sql[] =
        "DELETE FROM deskdb.job_runs WHERE id IN ("
        " SELECT o.id FROM deskdb.job_runs o"
        " WHERE o.started_at < now() - $1::bigint * interval '1 millisecond'"
        "   AND o.status <> 'running'"
        "   AND o.scheduled_for < coalesce((SELECT max(m.scheduled_for)"
        "       FROM deskdb.job_runs m WHERE m.job = o.job"
        "       AND m.trigger <> 'manual'), 'infinity')"
        " LIMIT $2)";
    char ms[24], limit[24];
    const char *params[2] = {ms, limit};
    PGresult *res;
    int rc;

    *deleted = 0;
    snprintf(ms, sizeof(ms), "%lld", (long long)retention_ms);
    snprintf(limit, sizeof(limit), "%d", HISTORY_PRUNE_BATCH);
    rc = pool_query_single(c, sql, 2, params, &res, err);
    if (rc != 0) {
        err_prefix(err, "prune deskdb.job_runs");
        return rc;
    }
    *deleted = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    return DESKDB_OK;
}

static void
copy_text(char *dst, size_t size, const PGresult *res, int row, int col)
{
    const char *v =
        PQgetisnull(res, row, col) ? "" : PQgetvalue((PGresult *)res, row, col);

    snprintf(dst, size, "%s", v);
}

static int64_t
get_i64(const PGresult *res, int row, int col, int64_t dflt)
{
    if (PQgetisnull(res, row, col))
        return dflt;
    return strtoll(PQgetvalue((PGresult *)res, row, col), NULL, 10);
}

/* Columns 2.. of history_load(): one row of deskdb.job_runs. */
static void
read_run(const PGresult *res, int row, struct scheduler_run_info *out)
{
    memset(out, 0, sizeof(*out));
    out->id = get_i64(res, row, 2, 0);
    if (out->id == 0)
        return;
    copy_text(out->status, sizeof(out->status), res, row, 3);
    copy_text(out->trigger, sizeof(out->trigger), res, row, 4);
    out->scheduled_for_us = get_i64(res, row, 5, 0);
    out->started_us = get_i64(res, row, 6, 0);
    out->finished_us = get_i64(res, row, 7, 0);
    out->attempts = (int)get_i64(res, row, 8, 0);
    out->rows = get_i64(res, row, 9, -1);
    copy_text(out->error, sizeof(out->error), res, row, 10);
    copy_text(out->note, sizeof(out->note), res, row, 11);
    copy_text(out->instance, sizeof(out->instance), res, row, 12);
}

static const char load_sql[] =
    "SELECT j.name, l.sched_us, r.id, r.status, r.trigger,"
    " " EPOCH_US("r.scheduled_for") ", " EPOCH_US(
        "r.started_at") ","
                        " " EPOCH_US(
                            "r.finished_at") ", r.attempts, r.rows_affected, "
                                             "r.error,"
                                             " r.note, r.instance, "
                                             "s.finished_us"
                                             " FROM unnest($1::text[]) WITH "
                                             "ORDINALITY AS j(name, ord)"
                                             " LEFT JOIN LATERAL "
                                             "(SELECT " EPOCH_US(
                                                 "scheduled_for") " AS sched_us"
                                                                  "   FROM "
                                                                  "deskdb.job_"
                                                                  "runs WHERE "
                                                                  "job = "
                                                                  "j.name AND "
                                                                  "trigger <> "
                                                                  "'manual'"
                                                                  "   ORDER BY "
                                                                  "scheduled_"
                                                                  "for DESC "
                                                                  "LIMIT 1) l "
                                                                  "ON true"
                                                                  " LEFT JOIN "
                                                                  "LATERAL "
                                                                  "(SELECT * "
                                                                  "FROM "
                                                                  "deskdb.job_"
                                                                  "runs WHERE "
                                                                  "job = j.name"
                                                                  "   ORDER BY "
                                                                  "started_at "
                                                                  "DESC, id "
                                                                  "DESC LIMIT "
                                                                  "1) r ON true"
                                                                  " LEFT JOIN "
                                                                  "LATERAL "
                                                                  "(SELECT"
                                                                  " " EPOCH_US(
                                                                      "finished"
                                                                      "_at") " "
                                                                             "A"
                                                                             "S"
                                                                             " "
                                                                             "f"
                                                                             "i"
                                                                             "n"
                                                                             "i"
                                                                             "s"
                                                                             "h"
                                                                             "e"
                                                                             "d"
                                                                             "_"
                                                                             "u"
                                                                             "s"
                                                                             " "
                                                                             " "
                                                                             " "
                                                                             "F"
                                                                             "R"
                                                                             "O"
                                                                             "M"
                                                                             " "
                                                                             "d"
                                                                             "e"
                                                                             "s"
                                                                             "k"
                                                                             "d"
                                                                             "b"
                                                                             "."
                                                                             "j"
                                                                             "o"
                                                                             "b"
                                                                             "_"
                                                                             "r"
                                                                             "u"
                                                                             "n"
                                                                             "s"
                                                                             " "
                                                                             "W"
                                                                             "H"
                                                                             "E"
                                                                             "R"
                                                                             "E"
                                                                             " "
                                                                             "j"
                                                                             "o"
                                                                             "b"
                                                                             " "
                                                                             "="
                                                                             " "
                                                                             "j"
                                                                             "."
                                                                             "n"
                                                                             "a"
                                                                             "m"
                                                                             "e"
                                                                             " "
                                                                             "A"
                                                                             "N"
                                                                             "D"
                                                                             " "
                                                                             "s"
                                                                             "t"
                                                                             "a"
                                                                             "t"
                                                                             "u"
                                                                             "s"
                                                                             " "
                                                                             "="
                                                                             " "
                                                                             "'"
                                                                             "s"
                                                                             "u"
                                                                             "c"
                                                                             "c"
                                                                             "e"
                                                                             "e"
                                                                             "d"
                                                                             "e"
                                                                             "d"
                                                                             "'"
                                                                             " "
                                                                             " "
                                                                             " "
                                                                             "O"
                                                                             "R"
                                                                             "D"
                                                                             "E"
                                                                             "R"
                                                                             " "
                                                                             "B"
                                                                             "Y"
                                                                             " "
                                                                             "s"
                                                                             "t"
                                                                             "a"
                                                                             "r"
                                                                             "t"
                                                                             "e"
                                                                             "d"
                                                                             "_"
                                                                             "a"
                                                                             "t"
                                                                             " "
                                                                             "D"
                                                                             "E"
                                                                             "S"
                                                                             "C"
                                                                             " "
                                                                             "L"
                                                                             "I"
                                                                             "M"
                                                                             "I"
                                                                             "T"
                                                                             " "
                                                                             "1"
                                                                             ")"
                                                                             " "
                                                                             "s"
                                                                             " "
                                                                             "O"
                                                                             "N"
                                                                             " "
                                                                             "t"
                                                                             "r"
                                                                             "u"
                                                                             "e"
                                                                             " "
                                                                             "O"
                                                                             "R"
                                                                             "D"
                                                                             "E"
                                                                             "R"
                                                                             " "
                                                                             "B"
                                                                             "Y"
                                                                             " "
                                                                             "j"
                                                                             "."
                                                                             "o"
                                                                             "r"
                                                                             "d";

int
history_load(struct pool_conn *c,
             const char *const *names,
             size_t n,
             struct history_job *out,
             struct deskdb_err *err)
{
    struct buf arr;
    const char *params[1];
    PGresult *res;
    int rc;

    buf_init(&arr, 72 * (n + 1));
    rc = buf_putc(&arr, '{');
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = buf_printf(&arr, "%s\"%s\"", i > 0 ? "," : "", names[i]);
    if (rc == 0)
        rc = buf_putc(&arr, '}');
    if (rc != 0) {
        buf_fini(&arr);
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    params[0] = arr.data;
    rc = pool_query_single(c, load_sql, 1, params, &res, err);
    buf_fini(&arr);
    if (rc != 0) {
        err_prefix(err, "read deskdb.job_runs");
        return rc;
    }
    for (int i = 0; i < PQntuples(res) && (size_t)i < n; i++) {
        out[i].have_last_scheduled = !PQgetisnull(res, i, 1);
        out[i].last_scheduled_us = get_i64(res, i, 1, 0);
        read_run(res, i, &out[i].last);
        out[i].last_success_us = get_i64(res, i, 13, 0);
    }
    PQclear(res);
    return DESKDB_OK;
}

int
history_find_running(struct pool_conn *c,
                     const char *job,
                     int64_t *id,
                     char instance[128],
                     struct deskdb_err *err)
{
    static const char sql[] = "SELECT r.id, r.instance FROM deskdb.job_runs r"
                              " WHERE r.job = $1 AND r.status = 'running'"
                              " AND EXISTS (SELECT 1 FROM pg_stat_activity a"
                              "             WHERE a.pid = r.backend_pid)"
                              " ORDER BY r.id DESC LIMIT 1";
    const char *params[1] = {job};
    PGresult *res;
    int rc;

    *id = 0;
    instance[0] = '\0';
    rc = pool_query_single(c, sql, 1, params, &res, err);
    if (rc != 0) {
        err_prefix(err, "look for a run in progress");
        return rc;
    }
    if (PQntuples(res) == 1) {
        *id = get_i64(res, 0, 0, 0);
        copy_text(instance, 128, res, 0, 1);
    }
    PQclear(res);
    return DESKDB_OK;
}

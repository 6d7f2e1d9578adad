/* SPDX-License-Identifier: MIT */
/* What the scheduler tells the outside: job metrics, the log line of each
 * run, the latest-run summaries and the /api/jobs document. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "jobs/history.h"
#include "jobs/sched_internal.h"

/* Job durations from a heartbeat to a long index build. */
static const double duration_buckets[] =
    {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600};

static struct metric *
series(struct metric_family *f, const char *job, const char *reason)
{
    const char *values[2] = {job, reason};

    return f != NULL ? metric_series(f, values) : NULL;
}

enum family_id {
    F_RUNS,
    F_FAILURES,
    F_DURATION,
    F_LAST_SUCCESS,
    F_LAST_RUN,
    F_RUNNING,
    F_NEXT_RUN,
    F_RETRIES,
    F_SKIPPED,
    F_N
};

static const struct family_def {
    enum metric_type type;
    const char *name;
    const char *help;
} family_defs[F_N] = {
    [F_RUNS] = {METRIC_COUNTER,
                "deskdb_job_runs_total",
                "Job runs executed (not skipped), any outcome."},
    [F_FAILURES] = {METRIC_COUNTER,
                    "deskdb_job_failures_total",
                    "Job runs that failed or timed out."},
    [F_DURATION] = {METRIC_HISTOGRAM,
                    "deskdb_job_duration_seconds",
                    "Duration of job runs."},
    [F_LAST_SUCCESS] = {METRIC_GAUGE,
                        "deskdb_job_last_success_timestamp_seconds",
                        "When the latest successful run of the job "
                        "finished."},
    [F_LAST_RUN] = {METRIC_GAUGE,
                    "deskdb_job_last_run_timestamp_seconds",
                    "When the latest run of the job finished."},
    [F_RUNNING] = {METRIC_GAUGE,
                   "deskdb_job_running",
                   "Runs of the job in progress in this instance."},
    [F_NEXT_RUN] = {METRIC_GAUGE,
                    "deskdb_job_next_run_timestamp_seconds",
                    "Next fire time of the job (0: this instance does not "
                    "schedule it)."},
    [F_RETRIES] = {METRIC_COUNTER,
                   "deskdb_job_retries_total",
                   "Attempts of job runs after the first."},
    [F_SKIPPED] = {METRIC_COUNTER,
                   "deskdb_job_skipped_total",
                   "Fire times not run, by reason (overlap, misfire, guard, "
                   "duplicate)."},
};

_Static_assert(F_N == SCHED_N_FAMILIES, "sched_internal.h counts families");

void
sched_metrics_register(struct scheduler *s, struct metrics *m)
{
    static const char *const job_label[] = {"job_name", NULL};
    static const char *const skip_labels[] = {"job_name", "reason", NULL};

    if (m == NULL)
        return;
    for (int i = 0; i < F_N; i++) {
        const struct family_def *d = &family_defs[i];
        bool hist = d->type == METRIC_HISTOGRAM;

        s->families[i] = metrics_family(
            m,
            d->type,
            d->name,
            d->help,
            i == F_SKIPPED ? skip_labels : job_label,
            hist ? duration_buckets : NULL,
            hist ? sizeof(duration_buckets) / sizeof(duration_buckets[0]) : 0);
    }
    s->leader_gauge = metrics_gauge(m,
                                    "deskdb_scheduler_leader",
                                    "1 if this instance schedules jobs (holds "
                                    "the leader lock, or leader.mode none).");
}

void
sched_metrics_job(struct scheduler *s, struct sched_job *j)
{
    struct metric_family *const *f = s->families;
    struct job_metrics *jm = &j->m;

    jm->runs = series(f[F_RUNS], j->name, NULL);
    jm->failures = series(f[F_FAILURES], j->name, NULL);
    jm->duration = series(f[F_DURATION], j->name, NULL);
    jm->last_success = series(f[F_LAST_SUCCESS], j->name, NULL);
    jm->last_run = series(f[F_LAST_RUN], j->name, NULL);
    jm->running = series(f[F_RUNNING], j->name, NULL);
    jm->next_run = series(f[F_NEXT_RUN], j->name, NULL);
    jm->retries = series(f[F_RETRIES], j->name, NULL);
    for (int r = 0; r < PLAN_SKIP_NREASONS; r++)
        jm->skipped[r] =
            series(f[F_SKIPPED],
                   j->name,
                   plan_skip_reason_name((enum plan_skip_reason)r));
}

void
sched_metrics_forget(struct sched_job *j)
{
    struct job_metrics *jm = &j->m;

    metric_series_remove(jm->runs);
    metric_series_remove(jm->failures);
    metric_series_remove(jm->duration);
    metric_series_remove(jm->last_success);
    metric_series_remove(jm->last_run);
    metric_series_remove(jm->running);
    metric_series_remove(jm->next_run);
    metric_series_remove(jm->retries);
    for (int r = 0; r < PLAN_SKIP_NREASONS; r++)
        metric_series_remove(jm->skipped[r]);
}

static void
log_run(const char *name, const struct exec_run *e, int64_t duration_ns)
{
    char id[24], ms[32], rows[24], attempts[24];
    enum log_level level = LOG_INFO;
    const char *k[3] = {NULL, NULL, NULL}, *v[3] = {NULL, NULL, NULL};
    int n = 0;

    if (e->status == RUN_FAILED || e->status == RUN_TIMED_OUT ||
        e->status == RUN_CANCELLED)
        level = LOG_WARN;
    /* Manual runs are reported by their caller (deskdb jobs run). */
    if (e->duplicate || e->trigger == PLAN_TRIGGER_MANUAL)
        level = LOG_DEBUG;
    if (!log_enabled(level))
        return;
    /* Optional fields last: the first NULL key ends the list. */
    if (e->rows >= 0) {
        k[n] = "rows";
        v[n++] = log_i64(rows, e->rows);
    }
    if (e->note[0] != '\0') {
        k[n] = "note";
        v[n++] = e->note;
    }
    if (e->err.msg[0] != '\0' && e->status != RUN_SUCCEEDED) {
        k[n] = "error";
        v[n++] = e->err.msg;
    }
    log_emit(level,
             "jobs",
             e->duplicate ? "run already taken by another instance"
                          : "run finished",
             "job",
             name,
             "run_id",
             log_i64(id, e->id),
             "trigger",
             plan_trigger_name(e->trigger),
             "status",
             e->duplicate ? "duplicate" : run_status_name(e->status),
             "duration_ms",
             log_ms(ms, duration_ns),
             "attempts",
             log_i64(attempts, e->attempts),
             k[0],
             v[0],
             k[1],
             v[1],
             k[2],
             v[2],
             (const char *)NULL);
}

void
sched_metrics_run(struct scheduler *s,
                  const struct sched_run *r,
                  int64_t duration_ns)
{
    const struct exec_run *e = &r->exec;
    const struct job_metrics *m = &r->job->m;

    (void)s;
    if (e->id == 0 && e->status == RUN_CANCELLED && !e->duplicate)
        return; /* replaced before it began */
    log_run(r->job->name, e, duration_ns);
    if (e->duplicate) {
        metric_inc(m->skipped[PLAN_SKIP_DUPLICATE]);
        return;
    }
    if (e->status == RUN_SKIPPED) {
        metric_inc(m->skipped[PLAN_SKIP_GUARD]);
        return;
    }
    metric_inc(m->runs);
    metric_observe(m->duration, (double)duration_ns / NS_PER_SEC);
    metric_add(m->retries, e->attempts > 1 ? e->attempts - 1 : 0);
    metric_set(m->last_run, (double)e->finished_us / 1e6);
    if (e->status == RUN_SUCCEEDED)
        metric_set(m->last_success, (double)e->finished_us / 1e6);
    else if (e->status == RUN_FAILED || e->status == RUN_TIMED_OUT)
        metric_inc(m->failures);
}

void
sched_note_run(struct sched_job *j, const struct exec_run *e)
{
    struct scheduler_run_info *i = &j->last;

    memset(i, 0, sizeof(*i));
    i->id = e->id;
    snprintf(i->status, sizeof(i->status), "%s", run_status_name(e->status));
    snprintf(i->trigger,
             sizeof(i->trigger),
             "%s",
             plan_trigger_name(e->trigger));
    i->scheduled_for_us = e->scheduled_for_us;
    i->started_us = e->started_us;
    i->finished_us = e->finished_us;
    i->attempts = e->attempts;
    i->rows = e->rows;
    if (e->status != RUN_SUCCEEDED && e->status != RUN_SKIPPED)
        snprintf(i->error, sizeof(i->error), "%s", e->err.msg);
    snprintf(i->note, sizeof(i->note), "%s", e->note);
    snprintf(i->instance, sizeof(i->instance), "%s", e->instance);
    if (e->status == RUN_SUCCEEDED && e->finished_us > j->last_success_us)
        j->last_success_us = e->finished_us;
}

/* ---- /api/jobs -------------------------------------------------------- */

static json_t *
time_or_null(int64_t us)
{
    char buf[JOBS_TIME_MAX];

    return us > 0 ? json_string(jobs_format_utc(us, buf)) : json_null();
}

static json_t *
text_or_null(const char *s)
{
    return s[0] != '\0' ? json_string(s) : json_null();
}

static json_t *
run_json(const struct scheduler_run_info *i)
{
    if (i->id == 0)
        return json_null();
    return json_pack("{sI ss ss so so so sI so so so so}",
                     "id",
                     (json_int_t)i->id,
                     "status",
                     i->status,
                     "trigger",
                     i->trigger,
                     "scheduled_for",
                     time_or_null(i->scheduled_for_us),
                     "started",
                     time_or_null(i->started_us),
                     "finished",
                     time_or_null(i->finished_us),
                     "attempts",
                     (json_int_t)i->attempts,
                     "rows_affected",
                     i->rows >= 0 ? json_integer(i->rows) : json_null(),
                     "error",
                     text_or_null(i->error),
                     "note",
                     text_or_null(i->note),
                     "instance",
                     text_or_null(i->instance));
}

static const char *const concurrency_names[] = {"forbid",
                                                "allow",
                                                "queue",
                                                "replace"};

static json_t *
job_json(struct scheduler *s, struct sched_job *j, int64_t now_s)
{
    const struct config_job *c = j->def->cfg;
    int64_t next = j->plan.synced ? plan_next_fire(&j->plan)
                                  : plan_next_after(&j->plan, now_s);
    char local[TZ_FORMAT_MAX];
    json_t *o;

    (void)s;
    if (next == PLAN_NEVER ||
        tz_format(j->def->tz, next, local, sizeof(local)) != 0)
        local[0] = '\0';
    o = json_pack("{ss ss ss ss sb ss si so so so so}",
                  "name",
                  c->name,
                  "type",
                  config_job_type_name(c->type),
                  "schedule",
                  c->schedule.value,
                  "timezone",
                  c->timezone.value,
                  "enabled",
                  c->enabled,
                  "concurrency",
                  concurrency_names[c->concurrency],
                  "running",
                  j->running,
                  "next_run",
                  next != PLAN_NEVER ? time_or_null(next * 1000000)
                                     : json_null(),
                  "next_run_local",
                  text_or_null(local),
                  "last_run",
                  run_json(&j->last),
                  "last_success",
                  time_or_null(j->last_success_us));
    return o;
}

int
scheduler_json(void *arg, struct buf *out)
{
    struct scheduler *s = arg;
    int64_t now_s = clock_real(&s->clock) / NS_PER_SEC;
    json_t *doc, *jobs;
    char *text = NULL;
    int rc = DESKDB_ENOMEM;

    jobs = json_array();
    doc = jobs != NULL ? json_object() : NULL;
    if (doc == NULL)
        goto out;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->n_jobs; i++) {
        json_t *o = job_json(s, s->jobs[i], now_s);

        if (o == NULL || json_array_append_new(jobs, o) != 0) {
            pthread_mutex_unlock(&s->mu);
            goto out;
        }
    }
    if (json_object_set_new(doc, "instance", json_string(s->instance)) ||
        json_object_set_new(doc, "leader", json_boolean(s->is_leader)) ||
        json_object_set_new(
            doc,
            "leader_mode",
            json_string(s->leader != NULL ? "advisory_lock" : "none"))) {
        pthread_mutex_unlock(&s->mu);
        goto out;
    }
    pthread_mutex_unlock(&s->mu);
    if (json_object_set(doc, "jobs", jobs) != 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (text != NULL)
        rc = buf_puts(out, text);
out:
    free(text);
    json_decref(jobs);
    json_decref(doc);
    return rc;
}

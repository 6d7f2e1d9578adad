/* SPDX-License-Identifier: MIT */
/* The scheduler's pure decisions: due fire times, concurrency and misfire
 * policies, jitter. */
#include "jobs/plan.h"

#include "jobs/civil.h"

/* Windows searched backwards for the latest missed fire time when there
 * are too many to walk one by one. */
static const int64_t back_windows[] = {
    3600,
    86400,
    32 * 86400,
    366 * 86400,
    CRON_SEARCH_YEARS * 366 * INT64_C(86400),
};

const char *
plan_trigger_name(enum plan_trigger t)
{
    switch (t) {
    case PLAN_TRIGGER_SCHEDULE:
        return "schedule";
    case PLAN_TRIGGER_CATCHUP:
        return "catchup";
    case PLAN_TRIGGER_QUEUED:
        return "queued";
    case PLAN_TRIGGER_MANUAL:
        return "manual";
    }
    return "schedule";
}

const char *
plan_skip_reason_name(enum plan_skip_reason r)
{
    switch (r) {
    case PLAN_SKIP_OVERLAP:
        return "overlap";
    case PLAN_SKIP_MISFIRE:
        return "misfire";
    case PLAN_SKIP_GUARD:
        return "guard";
    case PLAN_SKIP_DUPLICATE:
        return "duplicate";
    case PLAN_SKIP_NREASONS:
        break;
    }
    return "unknown";
}

void
plan_job_init(struct plan_job *j,
              const struct cron_expr *expr,
              const struct tz *tz,
              const struct config_job *cfg)
{
    struct cron_expr e = *expr; /* `expr` may point into `j` */

    *j = (struct plan_job){0};
    j->expr = e;
    j->tz = tz;
    j->concurrency = cfg->concurrency;
    j->max_instances = cfg->max_instances > 0 ? cfg->max_instances : 1;
    j->misfire = cfg->misfire;
    j->jitter_ms = cfg->jitter_ms > 0 ? cfg->jitter_ms : 0;
    j->enabled = cfg->enabled;
    j->next_fire = PLAN_NEVER;
}

int64_t
plan_next_after(const struct plan_job *j, int64_t after_s)
{
    int64_t next;

    if (!j->enabled || after_s >= CRON_TIME_MAX)
        return PLAN_NEVER;
    if (after_s < CRON_TIME_MIN)
        after_s = CRON_TIME_MIN;
    if (cron_next(&j->expr, j->tz, after_s, &next) != 0)
        return PLAN_NEVER;
    return next;
}

void
plan_sync(struct plan_job *j, bool have_last, int64_t last_s, int64_t now_s)
{
    j->cursor = have_last ? last_s : now_s;
    j->next_fire = plan_next_after(j, j->cursor);
    j->synced = true;
}

void
plan_job_redefine(struct plan_job *j,
                  const struct cron_expr *expr,
                  const struct tz *tz,
                  const struct config_job *cfg,
                  bool reschedule,
                  int64_t now_s)
{
    struct plan_job old = *j;

    plan_job_init(j, expr, tz, cfg);
    j->synced = old.synced;
    j->cursor = old.cursor;
    j->next_fire = old.next_fire;
    j->in_flight = old.in_flight;
    j->pending = old.pending;
    j->pending_for = old.pending_for;
    j->cancel_asked = old.cancel_asked;
    if (!reschedule || !j->synced)
        return;
    if (j->cursor < now_s)
        j->cursor = now_s;
    j->next_fire = plan_next_after(j, j->cursor);
}

void
plan_unsync(struct plan_job *j)
{
    j->synced = false;
    j->pending = false;
    j->next_fire = PLAN_NEVER;
}

static void
start(struct plan_job *j,
      size_t idx,
      int64_t fire,
      enum plan_trigger trigger,
      backoff_rand_fn rand,
      void *rand_arg,
      plan_emit_fn emit,
      void *emit_arg)
{
    struct plan_action a = {.kind = PLAN_START,
                            .job = idx,
                            .scheduled_for = fire,
                            .start_at_ms = fire * 1000,
                            .trigger = trigger};

    if (j->jitter_ms > 0) {
        if (rand == NULL)
            rand = backoff_rand_system;
        a.start_at_ms +=
            (int64_t)(rand(rand_arg) % (uint64_t)(j->jitter_ms + 1));
    }
    j->in_flight++;
    emit(emit_arg, &a);
}

static void
skip(size_t idx,
     int64_t fire,
     enum plan_skip_reason reason,
     uint64_t count,
     plan_emit_fn emit,
     void *emit_arg)
{
    struct plan_action a = {.kind = PLAN_SKIP,
                            .job = idx,
                            .scheduled_for = fire,
                            .reason = reason,
                            .count = count};

    if (count > 0)
        emit(emit_arg, &a);
}

/* Keep `fire` as the one pending run; an older pending one is skipped. */
static void
make_pending(struct plan_job *j,
             size_t idx,
             int64_t fire,
             plan_emit_fn emit,
             void *emit_arg)
{
    if (j->pending)
        skip(idx, j->pending_for, PLAN_SKIP_OVERLAP, 1, emit, emit_arg);
    j->pending = true;
    j->pending_for = fire;
}

/* The concurrency policy applied to one due fire time. */
static void
decide(struct plan_job *j,
       size_t idx,
       int64_t fire,
       enum plan_trigger trigger,
       backoff_rand_fn rand,
       void *rand_arg,
       plan_emit_fn emit,
       void *emit_arg)
{
    struct plan_action cancel = {.kind = PLAN_CANCEL_RUNNING, .job = idx};
    bool idle = j->in_flight == 0 && !j->pending;

    switch (j->concurrency) {
    case CONFIG_CONCURRENCY_ALLOW:
        if (j->in_flight < j->max_instances) {
            start(j, idx, fire, trigger, rand, rand_arg, emit, emit_arg);
            return;
        }
        break;
    case CONFIG_CONCURRENCY_QUEUE:
        if (idle) {
            start(j, idx, fire, trigger, rand, rand_arg, emit, emit_arg);
            return;
        }
        if (!j->pending) {
            make_pending(j, idx, fire, emit, emit_arg);
            return;
        }
        break;
    case CONFIG_CONCURRENCY_REPLACE:
        if (idle) {
            start(j, idx, fire, trigger, rand, rand_arg, emit, emit_arg);
            return;
        }
        /* The newest fire time replaces an older pending one too. */
        make_pending(j, idx, fire, emit, emit_arg);
        if (!j->cancel_asked && j->in_flight > 0) {
            j->cancel_asked = true;
            cancel.scheduled_for = fire;
            emit(emit_arg, &cancel);
        }
        return;
    case CONFIG_CONCURRENCY_FORBID:
        if (j->in_flight == 0) {
            start(j, idx, fire, trigger, rand, rand_arg, emit, emit_arg);
            return;
        }
        break;
    }
    skip(idx, fire, PLAN_SKIP_OVERLAP, 1, emit, emit_arg);
}

/* The latest fire time at or before `limit` (and after the cursor), found
 * by searching growing windows back from `limit`. */
static int64_t
latest_at_or_before(const struct plan_job *j, int64_t limit)
{
    for (size_t w = 0; w < sizeof(back_windows) / sizeof(back_windows[0]);
         w++) {
        int64_t from = limit - back_windows[w], f, n;

        if (from < j->cursor)
            from = j->cursor;
        f = plan_next_after(j, from);
        if (f > limit)
            continue;
        while ((n = plan_next_after(j, f)) <= limit)
            f = n;
        return f;
    }
    return PLAN_NEVER;
}

/*
 * Fire times older than the grace: count them, then apply the misfire
 * policy.  Leaves j->next_fire at the first fire time that is not missed.
 */
static void
handle_missed(struct plan_job *j,
              size_t idx,
              int64_t now,
              backoff_rand_fn rand,
              void *rand_arg,
              plan_emit_fn emit,
              void *emit_arg)
{
    int64_t limit = now - PLAN_LATE_GRACE_S - 1; /* latest missed instant */
    int64_t f = j->next_fire, last = f;
    uint64_t n = 0;

    while (f <= limit && n < PLAN_COUNT_MAX) {
        last = f;
        n++;
        f = plan_next_after(j, f);
    }
    if (f <= limit) {
        /* Too many to count one by one: jump to the latest. */
        last = latest_at_or_before(j, limit);
        f = plan_next_after(j, last);
    }
    j->next_fire = f;
    if (j->misfire == CONFIG_MISFIRE_RUN_ONCE && f > now) {
        skip(idx, last, PLAN_SKIP_MISFIRE, n - 1, emit, emit_arg);
        decide(j,
               idx,
               last,
               PLAN_TRIGGER_CATCHUP,
               rand,
               rand_arg,
               emit,
               emit_arg);
        return;
    }
    skip(idx, last, PLAN_SKIP_MISFIRE, n, emit, emit_arg);
}

void
plan_tick(struct plan_job *j,
          size_t idx,
          int64_t now_ms,
          backoff_rand_fn rand,
          void *rand_arg,
          plan_emit_fn emit,
          void *emit_arg)
{
    int64_t now = civil_floor_div(now_ms, 1000);
    uint64_t n = 0;

    if (!j->enabled || !j->synced)
        return;
    if (now < j->cursor) {
        if (j->cursor - now > PLAN_CLOCK_BACK_RESET_S) {
            j->cursor = now;
            j->next_fire = plan_next_after(j, now);
        }
        return;
    }
    if (j->next_fire <= now - PLAN_LATE_GRACE_S - 1)
        handle_missed(j, idx, now, rand, rand_arg, emit, emit_arg);
    while (j->next_fire <= now && n++ < PLAN_COUNT_MAX) {
        decide(j,
               idx,
               j->next_fire,
               PLAN_TRIGGER_SCHEDULE,
               rand,
               rand_arg,
               emit,
               emit_arg);
        j->next_fire = plan_next_after(j, j->next_fire);
    }
    if (j->next_fire <= now)
        j->next_fire = plan_next_after(j, now);
    j->cursor = now;
}

void
plan_run_finished(struct plan_job *j,
                  size_t idx,
                  int64_t now_ms,
                  plan_emit_fn emit,
                  void *emit_arg)
{
    struct plan_action a = {.kind = PLAN_START,
                            .job = idx,
                            .start_at_ms = now_ms,
                            .trigger = PLAN_TRIGGER_QUEUED};

    if (j->in_flight > 0)
        j->in_flight--;
    if (j->in_flight > 0)
        return;
    j->cancel_asked = false;
    if (!j->pending)
        return;
    j->pending = false;
    j->in_flight++;
    a.scheduled_for = j->pending_for;
    emit(emit_arg, &a);
}

void
plan_run_dropped(struct plan_job *j)
{
    if (j->in_flight > 0)
        j->in_flight--;
    if (j->in_flight == 0)
        j->cancel_asked = false;
}

int64_t
plan_next_fire(const struct plan_job *j)
{
    if (!j->enabled || !j->synced)
        return PLAN_NEVER;
    return j->next_fire;
}

/* SPDX-License-Identifier: MIT */
/* The one place statements run: non-blocking send and poll against a
 * client-side deadline, cancel past it, SQLSTATE mapping, query log,
 * slow-query log and query metrics. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool_internal.h"
#include "core/querylog.h"
#include "core/sqlstate.h"

/* Cancel requests run on short-lived threads because PQcancel() blocks
 * without a timeout (libpq 15); at most this many may be in flight. */
#define CANCEL_THREADS_MAX 16
/* Slow statements are logged with at most this much of their text. */
#define SLOW_LOG_SQL_MAX 200

static _Atomic int cancel_threads;

/* A cancel request shared by the thread sending it and the query waiting
 * for it; the last of the two to let go frees it. */
struct cancel_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGcancel *cancel;
    bool done;
    bool sent;
    int refs;
    char errbuf[256];
};

/* State of one statement while it runs. */
struct run {
    struct pool *p;
    struct pool_conn *c;
    PGconn *pg;
    int64_t start_ns;
    int64_t deadline_ns;
    unsigned flags;
    PGresult *last;      /* last successful result */
    PGresult *error;     /* first error result */
    bool timed_out;      /* the deadline passed */
    bool cancel_sent;    /* the postmaster confirmed the cancel */
    bool cancel_pending; /* a cancel may still arrive later */
    bool unanswered;     /* no answer even after the cancel grace */
    bool lost;           /* the connection failed */
    bool copy;           /* a COPY started: unsupported here */
};

static void
cancel_call_unref(struct cancel_call *cc)
{
    bool last;

    pthread_mutex_lock(&cc->mu);
    last = --cc->refs == 0;
    pthread_mutex_unlock(&cc->mu);
    if (!last)
        return;
    PQfreeCancel(cc->cancel);
    pthread_cond_destroy(&cc->cv);
    pthread_mutex_destroy(&cc->mu);
    free(cc);
}

static void *
cancel_main(void *arg)
{
    struct cancel_call *cc = arg;
    char errbuf[256];
    int ok = PQcancel(cc->cancel, errbuf, sizeof(errbuf));

    pthread_mutex_lock(&cc->mu);
    cc->done = true;
    cc->sent = ok == 1;
    memcpy(cc->errbuf, errbuf, sizeof(errbuf));
    pthread_cond_signal(&cc->cv);
    pthread_mutex_unlock(&cc->mu);
    cancel_call_unref(cc);
    atomic_fetch_sub_explicit(&cancel_threads, 1, memory_order_relaxed);
    return NULL;
}

static void
cancel_wait(struct pool *p, struct cancel_call *cc, int64_t deadline_ns)
{
    while (!cc->done) {
        int64_t rel = deadline_ns - pool_now(p), abs_ns;
        struct timespec ts;

        if (rel <= 0)
            return;
        abs_ns = clock_monotonic_ns() + rel;
        ts.tv_sec = (time_t)(abs_ns / NS_PER_SEC);
        ts.tv_nsec = (long)(abs_ns % NS_PER_SEC);
        pthread_cond_timedwait(&cc->cv, &cc->mu, &ts);
    }
}

/*
 * Ask the server to cancel the running statement, waiting for the request
 * to be delivered until `deadline_ns`.  Sets r->cancel_sent once the
 * postmaster confirmed it, r->cancel_pending if it may still arrive.
 */
static void
run_cancel(struct run *r, int64_t deadline_ns)
{
    struct cancel_call *cc;
    pthread_attr_t attr;
    char reason[256] = "";
    int rc;

    if (atomic_fetch_add_explicit(&cancel_threads, 1, memory_order_relaxed) >=
        CANCEL_THREADS_MAX) {
        atomic_fetch_sub_explicit(&cancel_threads, 1, memory_order_relaxed);
        snprintf(reason, sizeof(reason), "too many cancel requests in flight");
        goto out;
    }
    cc = calloc(1, sizeof(*cc));
    if (cc == NULL || (cc->cancel = PQgetCancel(r->pg)) == NULL) {
        free(cc);
        atomic_fetch_sub_explicit(&cancel_threads, 1, memory_order_relaxed);
        snprintf(reason, sizeof(reason), "cannot create the cancel request");
        goto out;
    }
    pthread_mutex_init(&cc->mu, NULL);
    pool_cond_init(&cc->cv);
    cc->refs = 2;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&(pthread_t){0}, &attr, cancel_main, cc);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        cc->refs = 1;
        atomic_fetch_sub_explicit(&cancel_threads, 1, memory_order_relaxed);
        snprintf(reason, sizeof(reason), "pthread_create: %s", strerror(rc));
        cancel_call_unref(cc);
        goto out;
    }
    pthread_mutex_lock(&cc->mu);
    cancel_wait(r->p, cc, deadline_ns);
    r->cancel_sent = cc->done && cc->sent;
    r->cancel_pending = !cc->done;
    if (cc->done && !cc->sent)
        snprintf(reason, sizeof(reason), "%s", cc->errbuf);
    else if (!cc->done)
        snprintf(reason, sizeof(reason), "no answer from the server");
    pthread_mutex_unlock(&cc->mu);
    cancel_call_unref(cc);
out:
    if (!r->cancel_sent) {
        char b[24];
        log_warn("pool",
                 "cancel request failed",
                 "backend_pid",
                 log_i64(b, r->c->backend_pid),
                 "reason",
                 reason);
    }
}

/* Wait for `events` on the connection until r->deadline_ns (0: none).
 * 1 ready (*revents set), 0 deadline, -1 poll error. */
static int
run_wait(struct run *r, short events, short *revents)
{
    struct pollfd pfd = {.fd = PQsocket(r->pg), .events = events};
    int64_t now, ms;
    int n;

    for (;;) {
        now = pool_now(r->p);
        if (r->deadline_ns != 0 && now >= r->deadline_ns)
            return 0;
        ms = -1;
        if (r->deadline_ns != 0) {
            ms = (r->deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS;
            if (ms > 60000)
                ms = 60000;
        }
        n = poll(&pfd, 1, (int)ms);
        if (n > 0) {
            *revents = pfd.revents;
            return 1;
        }
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static void
run_take(struct run *r, PGresult *res)
{
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        PQclear(r->last);
        r->last = res;
        return;
    case PGRES_COPY_IN:
    case PGRES_COPY_OUT:
    case PGRES_COPY_BOTH:
        r->copy = true;
        PQclear(res);
        return;
    default:
        /* Errors: keep the first, it is the one that explains. */
        if (r->error == NULL)
            r->error = res;
        else
            PQclear(res);
        return;
    }
}

/* After a read failure the connection is closed; libpq then returns its
 * pending error results without touching the socket. */
static void
run_drain_lost(struct run *r)
{
    PGresult *res;

    r->lost = true;
    for (int i = 0; i < 8 && PQstatus(r->pg) == CONNECTION_BAD; i++) {
        res = PQgetResult(r->pg);
        if (res == NULL)
            break;
        run_take(r, res);
    }
}

/* The deadline passed: cancel once, then give up after the grace. */
static bool
run_deadline(struct run *r)
{
    int64_t grace_end;

    if (r->timed_out || (r->flags & POOL_RUN_NO_CANCEL)) {
        r->timed_out = true;
        r->unanswered = true;
        return false;
    }
    r->timed_out = true;
    grace_end = pool_now(r->p) + POOL_CANCEL_GRACE_NS;
    run_cancel(r, grace_end);
    r->deadline_ns = grace_end;
    return true;
}

static void
run_send(struct run *r, const char *sql, int nparams, const char *const *params)
{
    short rev;
    int ok, f, w;

    if (PQsetnonblocking(r->pg, 1) != 0) {
        run_drain_lost(r);
        return;
    }
    if (nparams > 0 || (r->flags & POOL_RUN_EXTENDED))
        ok =
            PQsendQueryParams(r->pg, sql, nparams, NULL, params, NULL, NULL, 0);
    else
        ok = PQsendQuery(r->pg, sql);
    if (!ok) {
        run_drain_lost(r);
        return;
    }
    while ((f = PQflush(r->pg)) == 1) {
        w = run_wait(r, POLLOUT | POLLIN, &rev);
        if (w == 0) {
            /* Not even sent: nothing to cancel, the protocol state is
             * unknown, so the connection goes. */
            r->timed_out = true;
            r->unanswered = true;
            return;
        }
        if (w < 0 || ((rev & POLLIN) && !PQconsumeInput(r->pg))) {
            run_drain_lost(r);
            return;
        }
    }
    if (f < 0)
        run_drain_lost(r);
}

static void
run_collect(struct run *r)
{
    PGresult *res;
    short rev;
    int w;

    for (;;) {
        while (!PQisBusy(r->pg)) {
            res = PQgetResult(r->pg);
            if (res == NULL)
                return;
            run_take(r, res);
            if (r->copy)
                return;
        }
        w = run_wait(r, POLLIN, &rev);
        if (w == 0) {
            if (!run_deadline(r))
                return;
            continue;
        }
        if (w < 0 || !PQconsumeInput(r->pg)) {
            run_drain_lost(r);
            return;
        }
    }
}

static void
mark_broken(struct pool_conn *c, enum pool_close_reason reason)
{
    if (!c->broken) {
        c->broken = true;
        c->reason = reason;
    }
}

static int64_t
elapsed_ms(const struct run *r)
{
    return (pool_now(r->p) - r->start_ns) / NS_PER_MS;
}

static int
finish_error(struct run *r, struct deskdb_err *err)
{
    const char *state = PQresultErrorField(r->error, PG_DIAG_SQLSTATE);
    const char *primary = PQresultErrorField(r->error, PG_DIAG_MESSAGE_PRIMARY);
    enum sqlstate_kind kind = sqlstate_classify(state);
    char line[400];
    int rc;

    if (primary == NULL) {
        /* libpq's own errors (lost connection) have no fields. */
        pool_one_line(line, sizeof(line), PQresultErrorMessage(r->error));
        primary = line;
    }
    if (state == NULL || !sqlstate_valid(state))
        state = "";
    /* A killed backend often leaves no SQLSTATE at all: the connection
     * status is the first thing to look at (research/reliability.md #2). */
    if (PQstatus(r->pg) != CONNECTION_OK || kind == SQLSTATE_KIND_CONNECTION ||
        kind == SQLSTATE_KIND_AMBIGUOUS) {
        mark_broken(r->c, POOL_CLOSE_BROKEN);
        rc = err_set(err, DESKDB_ECONN, "connection lost: %s", primary);
    } else if (r->timed_out && kind == SQLSTATE_KIND_CANCELED) {
        rc = err_set(err,
                     DESKDB_ETIMEOUT,
                     "query timed out after %lld ms and was cancelled",
                     (long long)elapsed_ms(r));
    } else {
        rc = err_set(err,
                     DESKDB_EPG,
                     "%s (SQLSTATE %s)",
                     primary,
                     state[0] ? state : "none");
    }
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    return rc;
}

/* Turn what happened into a status and error. */
static int
run_finish(struct run *r, struct deskdb_err *err)
{
    char line[400];

    if (r->unanswered) {
        mark_broken(r->c, POOL_CLOSE_TIMEOUT);
        return err_set(err,
                       DESKDB_ETIMEOUT,
                       "query timed out after %lld ms and did not stop "
                       "after a cancel request; connection discarded",
                       (long long)elapsed_ms(r));
    }
    if (r->copy) {
        mark_broken(r->c, POOL_CLOSE_DIRTY);
        return err_set(err,
                       DESKDB_EINVAL,
                       "COPY cannot run through pool_query(); use "
                       "pool_conn_pg()");
    }
    if (r->error != NULL)
        return finish_error(r, err);
    if (r->lost) {
        pool_one_line(line, sizeof(line), PQerrorMessage(r->pg));
        if (PQstatus(r->pg) != CONNECTION_OK) {
            mark_broken(r->c, POOL_CLOSE_BROKEN);
            return err_set(err, DESKDB_ECONN, "connection lost: %s", line);
        }
        mark_broken(r->c, POOL_CLOSE_DIRTY);
        return err_set(err, DESKDB_EINVAL, "cannot send the query: %s", line);
    }
    /* Success, but a cancel still in flight could hit the next
     * statement on this session: retire the connection. */
    if (r->cancel_pending)
        mark_broken(r->c, POOL_CLOSE_TIMEOUT);
    if (r->last == NULL) {
        mark_broken(r->c, POOL_CLOSE_DIRTY);
        return err_set(err, DESKDB_EINVAL, "the statement returned nothing");
    }
    return 0;
}

static int64_t
result_rows(const PGresult *res)
{
    const char *tuples;

    if (res == NULL)
        return -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return PQntuples(res);
    tuples = PQcmdTuples((PGresult *)res);
    if (tuples == NULL || tuples[0] == '\0')
        return -1;
    return strtoll(tuples, NULL, 10);
}

static void
log_slow(const struct run *r, const char *sql, int64_t dur_ns, int64_t rows)
{
    char text[SLOW_LOG_SQL_MAX + 4], b1[32], b2[24], b3[24];
    size_t n = strnlen(sql, SLOW_LOG_SQL_MAX + 1);

    if (n > SLOW_LOG_SQL_MAX) {
        n = SLOW_LOG_SQL_MAX;
        while (n > 0 && ((unsigned char)sql[n] & 0xC0) == 0x80)
            n--;
        memcpy(text, sql, n);
        memcpy(text + n, "...", 4);
    } else {
        memcpy(text, sql, n + 1);
    }
    log_warn("pool",
             "slow query",
             "duration_ms",
             log_ms(b1, dur_ns),
             "rows",
             log_i64(b2, rows),
             "backend_pid",
             log_i64(b3, r->c->backend_pid),
             "sql",
             text);
}

/* Query log, slow log and metrics for one recorded statement. */
static void
run_record(const struct run *r,
           const char *sql,
           int nparams,
           int rc,
           const struct deskdb_err *err,
           int64_t rows)
{
    struct pool *p = r->p;
    int64_t dur = pool_now(p) - r->start_ns;
    int64_t slow_ns = p->cfg.slow_query_threshold_ms * NS_PER_MS;
    bool slow = slow_ns > 0 && dur >= slow_ns;
    const char *state = rc != 0 ? err->sqlstate : "";
    char cls[3];

    querylog_record(p->qlog,
                    sql,
                    nparams,
                    clock_real(&p->clock),
                    dur,
                    rows,
                    rc,
                    state,
                    slow);
    STAT_INC(p, queries);
    STAT_ADD(p, query_ns, (uint64_t)(dur > 0 ? dur : 0));
    metric_inc(p->m.queries);
    metric_observe(p->m.query_seconds, (double)dur / NS_PER_SEC);
    if (rc != 0) {
        /* Without a server SQLSTATE: 08 for a lost connection, 57 for
         * our own timeout (as 57014 would be), XX for the rest. */
        sqlstate_class(state,
                       rc == DESKDB_ECONN      ? "08"
                       : rc == DESKDB_ETIMEOUT ? "57"
                                               : "XX",
                       cls);
        STAT_INC(p, query_errors);
        pool_metrics_query_error(p, cls);
    }
    if (slow) {
        STAT_INC(p, slow_queries);
        metric_inc(p->m.slow_queries);
        log_slow(r, sql, dur, rows);
    }
}

int
pool_conn_run(struct pool_conn *c,
              const char *sql,
              int nparams,
              const char *const *params,
              int64_t deadline_ns,
              unsigned flags,
              PGresult **res,
              struct deskdb_err *err)
{
    struct run r;
    struct deskdb_err local;
    int rc;
    int64_t rows = -1;

    /* The query log wants the SQLSTATE even when the caller does not. */
    if (err == NULL)
        err = &local;
    if (res != NULL)
        *res = NULL;
    memset(&r, 0, sizeof(r));
    r.p = c->pool;
    r.c = c;
    r.pg = c->pg;
    r.start_ns = pool_now(r.p);
    r.deadline_ns = deadline_ns;
    r.flags = flags;
    if (c->broken)
        return err_set(err,
                       DESKDB_ECONN,
                       "connection is broken (%s); release it",
                       pool_close_reason_name(c->reason));
    if (deadline_ns != 0 && r.start_ns >= deadline_ns) {
        rc = err_set(err,
                     DESKDB_ETIMEOUT,
                     "deadline passed before the "
                     "statement was sent");
        goto out;
    }
    run_send(&r, sql, nparams, params);
    if (!r.lost && !r.unanswered)
        run_collect(&r);
    rc = run_finish(&r, err);
    /* Back to blocking mode for pool_conn_pg() users; a connection that is
     * going away may still have unsent bytes, and must not block here. */
    if (!c->broken && PQstatus(r.pg) == CONNECTION_OK)
        PQsetnonblocking(r.pg, 0);
    if (rc == 0) {
        rows = result_rows(r.last);
        if (res != NULL) {
            *res = r.last;
            r.last = NULL;
        }
    }
out:
    if (flags & POOL_RUN_RECORD)
        run_record(&r, sql, nparams, rc, err, rows);
    PQclear(r.last);
    PQclear(r.error);
    return rc;
}

static int
query_flags(struct pool_conn *c,
            const char *sql,
            int nparams,
            const char *const *params,
            unsigned flags,
            PGresult **res,
            struct deskdb_err *err)
{
    int64_t deadline = 0;
    int64_t timeout_ms = c->query_timeout_ms >= 0
                             ? c->query_timeout_ms
                             : c->pool->cfg.query_timeout_ms;

    if (res != NULL)
        *res = NULL;
    if (sql == NULL || nparams < 0 || (nparams > 0 && params == NULL))
        return err_set(err, DESKDB_EINVAL, "pool_query: bad arguments");
    if (timeout_ms > 0)
        deadline = pool_now(c->pool) + timeout_ms * NS_PER_MS;
    if (c->deadline_ns != 0 && (deadline == 0 || c->deadline_ns < deadline))
        deadline = c->deadline_ns;
    return pool_conn_run(c,
                         sql,
                         nparams,
                         params,
                         deadline,
                         (c->untracked ? 0 : POOL_RUN_RECORD) | flags,
                         res,
                         err);
}

int
pool_query(struct pool_conn *c,
           const char *sql,
           int nparams,
           const char *const *params,
           struct pg_result **res,
           struct deskdb_err *err)
{
    return query_flags(c, sql, nparams, params, 0, res, err);
}

int
pool_query_single(struct pool_conn *c,
                  const char *sql,
                  int nparams,
                  const char *const *params,
                  struct pg_result **res,
                  struct deskdb_err *err)
{
    return query_flags(c, sql, nparams, params, POOL_RUN_EXTENDED, res, err);
}

int
pool_set_config_sql(struct buf *sql, int n_pairs, bool local)
{
    int rc = buf_puts(sql, "SELECT");

    for (int i = 0; rc == 0 && i < n_pairs; i++)
        rc = buf_printf(sql,
                        "%s set_config($%d, $%d, %s)",
                        i > 0 ? "," : "",
                        2 * i + 1,
                        2 * i + 2,
                        local ? "true" : "false");
    return rc;
}

void
pool_conn_set_tracked(struct pool_conn *c, bool tracked)
{
    c->untracked = !tracked;
}

int
pool_exec(struct pool_conn *c, const char *sql, struct deskdb_err *err)
{
    return pool_query(c, sql, 0, NULL, NULL, err);
}

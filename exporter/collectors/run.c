/* SPDX-License-Identifier: MIT */
/* One collection: check out a pooled connection, run every enabled
 * collector under its own deadline within the scrape budget, replace a
 * connection that a collector lost, and record what happened. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "exporter/collectors/internal.h"

const struct coll_def coll_defs[COLL_N] = {
    [COLL_DATABASE] = {"database",
                       CONFIG_COLLECTOR_DATABASE,
                       coll_database_run,
                       false},
    [COLL_ACTIVITY] = {"activity",
                       CONFIG_COLLECTOR_ACTIVITY,
                       coll_activity_run,
                       false},
    [COLL_LOCKS] = {"locks", CONFIG_COLLECTOR_LOCKS, coll_locks_run, false},
    [COLL_TABLES] = {"tables", CONFIG_COLLECTOR_TABLES, coll_tables_run, false},
    [COLL_INDEXES] = {"indexes",
                      CONFIG_COLLECTOR_INDEXES,
                      coll_indexes_run,
                      false},
    [COLL_SIZES] = {"sizes", CONFIG_COLLECTOR_SIZES, coll_sizes_run, true},
    [COLL_STATEMENTS] = {"statements",
                         CONFIG_COLLECTOR_STATEMENTS,
                         coll_statements_run,
                         true},
    [COLL_REPLICATION] = {"replication",
                          CONFIG_COLLECTOR_REPLICATION,
                          coll_replication_run,
                          false},
    [COLL_SETTINGS] = {"settings",
                       CONFIG_COLLECTOR_SETTINGS,
                       coll_settings_run,
                       false},
};

/* State of one collection while it runs. */
struct run {
    struct collectors *c;
    struct coll_result *res;
    const struct clock *pclock; /* the pool's: statement deadlines */
    int64_t budget_end;         /* on the pool's clock */
    struct pool_conn *conn;
    int version;
    bool conn_failed; /* a checkout failed: do not wait for another */
    bool answered;
    int statements;
};

static int64_t
eng_now(const struct collectors *c)
{
    return clock_mono(&c->clock);
}

static double
seconds_since(const struct collectors *c, int64_t since_ns)
{
    int64_t d = eng_now(c) - since_ns;

    return d > 0 ? (double)d / NS_PER_SEC : 0;
}

/* Count a failure; log it when the collector goes from working to
 * failing (`bulk`: the caller logged one line for all of them). */
static void
note_failure(struct collectors *c,
             enum coll_id id,
             enum coll_reason reason,
             const char *msg,
             bool bulk)
{
    atomic_fetch_add_explicit(&c->errors[id][reason], 1, memory_order_relaxed);
    if (c->health[id] == COLL_FAILING ||
        (bulk && c->health[id] == COLL_UNCONNECTED))
        return;
    c->health[id] = bulk ? COLL_UNCONNECTED : COLL_FAILING;
    if (bulk)
        return;
    log_warn("collectors",
             "collector failed",
             "collector",
             coll_defs[id].name,
             "reason",
             coll_reason_names[reason],
             "error",
             msg);
}

static void
note_success(struct collectors *c, enum coll_id id)
{
    if (c->health[id] == COLL_FAILING)
        log_info("collectors",
                 "collector recovered",
                 "collector",
                 coll_defs[id].name);
    c->health[id] = COLL_HEALTHY;
}

static void
fail_collector(struct run *r,
               enum coll_id id,
               enum coll_reason reason,
               const char *msg)
{
    struct coll_status *st = &r->res->st[id];

    st->ok = false;
    st->reason = reason;
    note_failure(r->c, id, reason, msg, false);
}

/* Check out a connection for the rest of the collection: at most
 * collectors.timeout, and never past the budget. */
static int
run_acquire(struct run *r, struct deskdb_err *err)
{
    int64_t left = (r->budget_end - clock_mono(r->pclock)) / NS_PER_MS;
    int64_t wait = r->c->cfg.timeout_ms;
    PGconn *pg;
    const char *v;
    int rc;

    if (left < wait)
        wait = left;
    if (wait <= 0)
        return err_set(err,
                       DESKDB_ETIMEOUT,
                       "the scrape budget is spent before a connection "
                       "could be checked out");
    rc = pool_acquire_timeout(r->c->pool, &r->conn, wait, err);
    if (rc != 0) {
        r->conn_failed = true;
        return rc;
    }
    /* Monitoring statements stay out of the query log and query metrics. */
    pool_conn_set_tracked(r->conn, false);
    /* libpq learns the version at connection start (ParameterStatus), so
     * this costs no statement and is fixed for the backend's life. */
    pg = (PGconn *)pool_conn_pg(r->conn);
    r->version = PQserverVersion(pg);
    v = PQparameterStatus(pg, "server_version");
    r->res->version_num = r->version;
    snprintf(r->res->version, sizeof(r->res->version), "%s", v ? v : "");
    return 0;
}

static void
run_release(struct run *r)
{
    pool_release(r->c->pool, r->conn);
    r->conn = NULL;
}

/*
 * The statement deadline for a collector that must be over by `end`:
 * early enough that the pool's wait for a cancelled statement still
 * fits, yet never less than half the time available.
 */
static int64_t
statement_deadline(int64_t now, int64_t end)
{
    int64_t span = end - now;

    if (span - COLL_CANCEL_RESERVE_NS > span / 2)
        return end - COLL_CANCEL_RESERVE_NS;
    return now + span / 2;
}

/* Reuse a cached collector's output while it is younger than
 * sizes_interval. */
static bool
use_cache(struct run *r, enum coll_id id)
{
    struct coll_cache *k = &r->c->cache[id];
    struct coll_status *st = &r->res->st[id];

    if (!coll_defs[id].cached || k->rec == NULL ||
        eng_now(r->c) - k->at_ns >= r->c->cfg.sizes_interval_ms * NS_PER_MS)
        return false;
    st->ok = true;
    st->duration_s = k->duration_s;
    st->rec = rec_ref(k->rec);
    return true;
}

static void
collector_done(struct run *r, enum coll_id id, struct coll_ctx *ctx, int rc)
{
    struct collectors *c = r->c;
    struct coll_status *st = &r->res->st[id];
    struct coll_cache *k = &c->cache[id];

    r->answered |= ctx->answered;
    r->statements += ctx->statements;
    if (rc != 0) {
        fail_collector(r, id, ctx->reason, ctx->err.msg);
        rec_unref(ctx->out);
        if (coll_defs[id].cached) {
            rec_unref(k->rec);
            k->rec = NULL;
        }
        /* The connection may be gone or discarded on release: the next
         * collector gets a fresh one. */
        if (ctx->reason == COLL_REASON_TIMEOUT ||
            ctx->reason == COLL_REASON_CONNECTION)
            run_release(r);
        return;
    }
    st->ok = true;
    st->rec = ctx->out;
    c->last_success_ns[id] = clock_real(&c->clock);
    note_success(c, id);
    if (ctx->truncated)
        atomic_fetch_add_explicit(&c->errors[id][COLL_REASON_CARDINALITY],
                                  1,
                                  memory_order_relaxed);
    if (coll_defs[id].cached) {
        rec_unref(k->rec);
        k->rec = rec_ref(ctx->out);
        k->at_ns = eng_now(c);
        k->duration_s = st->duration_s;
    }
}

static void
run_collector(struct run *r, enum coll_id id)
{
    struct collectors *c = r->c;
    struct coll_status *st = &r->res->st[id];
    struct coll_ctx ctx;
    int64_t start = eng_now(c), now, end;
    int rc;

    if (use_cache(r, id))
        return;
    memset(&ctx, 0, sizeof(ctx));
    if (clock_mono(r->pclock) >= r->budget_end) {
        fail_collector(r, id, COLL_REASON_TIMEOUT, "scrape budget spent");
        return;
    }
    if (r->conn == NULL && (r->conn_failed || run_acquire(r, &ctx.err) != 0)) {
        fail_collector(r,
                       id,
                       COLL_REASON_CONNECTION,
                       ctx.err.msg[0] != '\0' ? ctx.err.msg
                                              : "no connection for this "
                                                "collection");
        return;
    }
    now = clock_mono(r->pclock);
    end = now + c->cfg.timeout_ms * NS_PER_MS;
    if (end > r->budget_end)
        end = r->budget_end;
    pool_conn_set_deadline(r->conn, statement_deadline(now, end));
    ctx.c = c;
    ctx.conn = r->conn;
    ctx.version = r->version;
    ctx.out = rec_create(COLL_MAX_SAMPLES);
    if (ctx.out == NULL) {
        fail_collector(r, id, COLL_REASON_QUERY, "out of memory");
        return;
    }
    if (c->hook != NULL)
        c->hook(c->hook_arg,
                coll_defs[id].name,
                pool_conn_backend_pid(r->conn));
    rc = coll_defs[id].run(&ctx);
    st->duration_s = seconds_since(c, start);
    collector_done(r, id, &ctx, rc);
}

/* With nothing sent (every collector replayed from its cache), ask the
 * server once so that pg_up still means "answered during this scrape". */
static void
run_probe(struct run *r)
{
    struct deskdb_err err;
    int64_t now = clock_mono(r->pclock);
    int64_t end = now + r->c->cfg.timeout_ms * NS_PER_MS;
    int rc;

    if (r->conn == NULL || r->statements > 0 || now >= r->budget_end)
        return;
    if (end > r->budget_end)
        end = r->budget_end;
    pool_conn_set_deadline(r->conn, statement_deadline(now, end));
    rc = pool_exec(r->conn, "SELECT 1", &err);
    r->answered |= rc == 0 || rc == DESKDB_EPG;
}

/* No connection at all: every collector failed for that reason, logged
 * in one line. */
static void
run_unconnected(struct run *r, const char *msg)
{
    struct coll_status *st;
    bool fresh = false;
    size_t i;

    for (i = 0; i < COLL_N; i++)
        fresh |= r->res->st[i].enabled && r->c->health[i] != COLL_UNCONNECTED;
    if (fresh)
        log_warn("collectors",
                 "no connection for the PostgreSQL collectors",
                 "error",
                 msg);
    for (i = 0; i < COLL_N; i++) {
        st = &r->res->st[i];
        if (!st->enabled)
            continue;
        st->ok = false;
        st->reason = COLL_REASON_CONNECTION;
        note_failure(r->c, (enum coll_id)i, COLL_REASON_CONNECTION, msg, true);
    }
}

/* Connected after a collection that had no connection: say so once. */
static void
run_reconnected(struct run *r)
{
    size_t i;

    for (i = 0; i < COLL_N; i++) {
        if (r->c->health[i] != COLL_UNCONNECTED)
            continue;
        log_info("collectors",
                 "connection for the PostgreSQL collectors is back");
        break;
    }
}

struct coll_result *
coll_run(struct collectors *c, int64_t budget_ms)
{
    struct run r;
    struct deskdb_err err;
    size_t i;

    memset(&r, 0, sizeof(r));
    r.c = c;
    r.res = calloc(1, sizeof(*r.res));
    if (r.res == NULL)
        return NULL;
    atomic_init(&r.res->refs, 1);
    r.res->started_ns = eng_now(c);
    r.pclock = pool_clock(c->pool);
    r.budget_end = clock_mono(r.pclock) + budget_ms * NS_PER_MS;
    atomic_fetch_add_explicit(&c->runs, 1, memory_order_relaxed);
    for (i = 0; i < COLL_N; i++)
        r.res->st[i].enabled = (c->cfg.enabled & coll_defs[i].bit) != 0;

    err_clear(&err);
    if (run_acquire(&r, &err) != 0) {
        run_unconnected(&r, err.msg);
    } else {
        run_reconnected(&r);
        for (i = 0; i < COLL_N; i++)
            if (r.res->st[i].enabled)
                run_collector(&r, (enum coll_id)i);
        run_probe(&r);
        if (r.conn != NULL)
            run_release(&r);
    }
    r.res->pg_up = r.answered;
    r.res->duration_s = seconds_since(c, r.res->started_ns);
    memcpy(r.res->last_success_ns,
           c->last_success_ns,
           sizeof(r.res->last_success_ns));
    return r.res;
}

void
coll_result_unref(struct coll_result *res)
{
    size_t i;

    if (res == NULL ||
        atomic_fetch_sub_explicit(&res->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (i = 0; i < COLL_N; i++)
        rec_unref(res->st[i].rec);
    free(res);
}

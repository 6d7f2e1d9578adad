/* SPDX-License-Identifier: MIT */
/* One pooled connection: libpq parameters, connecting within a deadline,
 * session setup, liveness checks and accessors. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backoff.h"
#include "core/log.h"
#include "core/pool_internal.h"

/* Connections expire up to this fraction early so that a pool filled at
 * once does not reconnect all at once (HikariCP uses 2.5 %). */
#define LIFETIME_JITTER_DIVISOR 40

static void
param_add(const char **k,
          const char **v,
          int *n,
          const char *key,
          const char *val)
{
    k[*n] = key;
    v[*n] = val;
    (*n)++;
}

/*
 * The libpq keywords, in processing order: our network defaults first so
 * that the connection string can override them (libpq keeps the last
 * value of a repeated keyword), then the connection string from
 * config_conninfo() (database.url with the password file, application
 * name and connect timeout) expanded from `dbname`.  Keepalives and
 * tcp_user_timeout catch a peer that vanished; they cannot catch a
 * stalled one (research/reliability.md #5): the client-side deadline does.
 */
int
pool_conn_params(struct pool *p,
                 const struct config_database *db,
                 struct deskdb_err *err)
{
    enum { MAX_PARAMS = 10 };
    struct config tmp;
    const char **k, **v;
    char *msg = NULL;
    PQconninfoOption *opts;
    int n = 0;

    memset(&tmp, 0, sizeof(tmp));
    tmp.database = *db;
    tmp.pool = p->cfg;
    p->conninfo = config_conninfo(&tmp);
    k = calloc(MAX_PARAMS, sizeof(*k));
    v = calloc(MAX_PARAMS, sizeof(*v));
    p->conn_keys = k;
    p->conn_values = v;
    if (p->conninfo == NULL || k == NULL || v == NULL)
        return err_set(err, DESKDB_ENOMEM, "pool: out of memory");
    opts = PQconninfoParse(p->conninfo, &msg);
    if (opts == NULL) {
        /* libpq's message may quote part of the string, password
         * included, so it is not passed on. */
        PQfreemem(msg);
        return err_set(err,
                       DESKDB_EINVAL,
                       "database.url is not a valid libpq URI or "
                       "key=value connection string");
    }
    PQconninfoFree(opts);
    param_add(k, v, &n, "keepalives", "1");
    param_add(k, v, &n, "keepalives_idle", "30");
    param_add(k, v, &n, "keepalives_interval", "10");
    param_add(k, v, &n, "keepalives_count", "3");
    param_add(k, v, &n, "tcp_user_timeout", "30000");
    param_add(k, v, &n, "fallback_application_name", "deskdb");
    if (p->conninfo[0] != '\0')
        param_add(k, v, &n, "dbname", p->conninfo);
    k[n] = NULL;
    v[n] = NULL;
    return 0;
}

void
pool_one_line(char *dst, size_t size, const char *src)
{
    size_t j = 0;

    for (size_t i = 0; src != NULL && src[i] != '\0' && j + 1 < size; i++) {
        char ch = src[i];
        if (ch == '\n' && src[i + 1] != '\t')
            break; /* libpq appends later messages on new lines */
        if (ch == '\n' || ch == '\t' || ch == '\r') {
            if (j > 0 && dst[j - 1] != ' ')
                dst[j++] = ' ';
            continue;
        }
        dst[j++] = ch;
    }
    while (j > 0 && dst[j - 1] == ' ')
        j--;
    dst[j] = '\0';
}

/*
 * Wait for `events` on `fd` until `deadline_ns` (0: none).  Returns 1 when
 * ready, 0 at the deadline, DESKDB_ECLOSED if the pool starts shutting
 * down (checked every 100 ms), DESKDB_EIO on a poll error.
 */
static int
wait_connecting(struct pool *p, int fd, short events, int64_t deadline_ns)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int64_t now, ms;
    int n;

    for (;;) {
        now = pool_now(p);
        if (deadline_ns != 0 && now >= deadline_ns)
            return 0;
        if (atomic_load_explicit(&p->closing_flag, memory_order_relaxed))
            return DESKDB_ECLOSED;
        ms = deadline_ns != 0 ? (deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS
                              : 100;
        if (ms > 100)
            ms = 100;
        n = poll(&pfd, 1, (int)ms);
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return DESKDB_EIO;
    }
}

/*
 * Server notices go to our log instead of libpq's default (stderr).  A
 * FATAL arrives here when the server ends an idle session (terminated
 * backend, shutdown): the connection is then known dead before the EOF.
 */
static void
notice_receiver(void *arg, const PGresult *res)
{
    struct pool_conn *c = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    char b[24];

    if (sev != NULL && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        c->server_fatal = true;
    log_debug("pool",
              "server notice",
              "backend_pid",
              log_i64(b, c->backend_pid),
              "severity",
              sev != NULL ? sev : "",
              "sqlstate",
              state != NULL ? state : "",
              "message",
              msg != NULL ? msg : "");
}

static int
connect_poll(struct pool *p,
             PGconn *pg,
             int64_t deadline_ns,
             struct deskdb_err *err)
{
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    char line[400];
    int rc;

    if (PQstatus(pg) == CONNECTION_BAD)
        st = PGRES_POLLING_FAILED;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED) {
            pool_one_line(line, sizeof(line), PQerrorMessage(pg));
            return err_set(err, DESKDB_ECONN, "connect failed: %s", line);
        }
        rc = wait_connecting(p,
                             PQsocket(pg),
                             st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                             deadline_ns);
        if (rc == 0)
            return err_set(err,
                           DESKDB_ECONN,
                           "connect failed: no answer within %lld ms",
                           (long long)p->cfg.connect_timeout_ms);
        if (rc == DESKDB_ECLOSED)
            return err_set(err, DESKDB_ECLOSED, "pool is shutting down");
        if (rc < 0)
            return err_set(err,
                           DESKDB_ECONN,
                           "connect failed: poll: %s",
                           strerror(errno));
        st = PQconnectPoll(pg);
    }
    return 0;
}

static int64_t
lifetime_end(struct pool *p, int64_t created_ns)
{
    int64_t life = p->cfg.max_lifetime_ms * NS_PER_MS;
    int64_t jitter = life / LIFETIME_JITTER_DIVISOR;

    if (life <= 0)
        return 0;
    if (jitter > 0)
        life -= (int64_t)(backoff_rand_system(NULL) % (uint64_t)jitter);
    return created_ns + life;
}

/* Session settings every pooled connection carries: statement_timeout as
 * a plain SET rather than a startup option, which poolers such as
 * pgbouncer may reject. */
static int
session_setup(struct pool_conn *c, int64_t deadline_ns, struct deskdb_err *err)
{
    char sql[64];
    int rc;

    if (c->pool->cfg.statement_timeout_ms <= 0)
        return 0;
    snprintf(sql,
             sizeof(sql),
             "SET statement_timeout = %lld",
             (long long)c->pool->cfg.statement_timeout_ms);
    rc = pool_conn_run(c,
                       sql,
                       0,
                       NULL,
                       deadline_ns,
                       POOL_RUN_NO_CANCEL,
                       NULL,
                       err);
    if (rc != 0)
        err_prefix(err, "connection setup");
    return rc;
}

int
pool_conn_open(struct pool *p,
               int64_t deadline_ns,
               struct pool_conn **out,
               struct deskdb_err *err)
{
    int64_t start = pool_now(p);
    int64_t limit = start + p->cfg.connect_timeout_ms * NS_PER_MS;
    struct pool_conn *c = NULL;
    PGconn *pg;
    char b1[24], b2[24];
    int rc;

    *out = NULL;
    if (deadline_ns != 0 && deadline_ns < limit)
        limit = deadline_ns;
    pg = PQconnectStartParams(p->conn_keys, p->conn_values, 1);
    if (pg == NULL)
        return err_set(err, DESKDB_ENOMEM, "connect failed: out of memory");
    rc = connect_poll(p, pg, limit, err);
    if (rc != 0)
        goto fail;
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "connect failed: out of memory");
        goto fail;
    }
    c->pool = p;
    c->pg = pg;
    c->query_timeout_ms = -1;
    c->sock = PQsocket(pg);
    c->backend_pid = PQbackendPID(pg);
    c->created_ns = start;
    c->expires_ns = lifetime_end(p, start);
    c->checked_ns = pool_now(p);
    PQsetNoticeReceiver(pg, notice_receiver, c);
    rc = session_setup(c, limit, err);
    if (rc != 0) {
        pool_conn_free(c);
        return rc;
    }
    pthread_mutex_lock(&p->mu);
    c->id = ++p->next_id;
    pthread_mutex_unlock(&p->mu);
    STAT_INC(p, created);
    metric_inc(p->m.created);
    metric_observe(p->m.create_seconds,
                   (double)(pool_now(p) - start) / NS_PER_SEC);
    log_debug("pool",
              "connection opened",
              "conn",
              log_i64(b1, (int64_t)c->id),
              "backend_pid",
              log_i64(b2, c->backend_pid));
    *out = c;
    return 0;
fail:
    PQfinish(pg);
    return rc;
}

void
pool_conn_free(struct pool_conn *c)
{
    if (c == NULL)
        return;
    /* Non-blocking, so that the Terminate message to a stalled server
     * can never block us; the kernel closes the socket either way. */
    PQsetnonblocking(c->pg, 1);
    PQfinish(c->pg);
    free(c);
}

bool
pool_conn_alive(struct pool_conn *c)
{
    struct pollfd pfd;
    PGnotify *note;
    int n;

    /* Reading what arrived while idle settles it: a FATAL (which libpq
     * hands to the notice receiver, which sets server_fatal) and then an
     * EOF, or a notification.  The FATAL and the EOF may need two reads. */
    for (int i = 0; i < 4; i++) {
        if (c->broken || c->server_fatal || PQstatus(c->pg) != CONNECTION_OK)
            return false;
        pfd.fd = PQsocket(c->pg);
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, 0);
        if (n == 0)
            return true;
        if (n < 0)
            return errno == EINTR;
        if (!PQconsumeInput(c->pg))
            return false;
        while ((note = PQnotifies(c->pg)) != NULL)
            PQfreemem(note);
    }
    return !c->server_fatal && PQstatus(c->pg) == CONNECTION_OK;
}

int
pool_conn_ping(struct pool_conn *c, int64_t timeout_ns, struct deskdb_err *err)
{
    int64_t deadline = pool_now(c->pool) + timeout_ns;

    return pool_conn_run(c,
                         "",
                         0,
                         NULL,
                         deadline,
                         POOL_RUN_NO_CANCEL,
                         NULL,
                         err);
}

void
pool_conn_set_deadline(struct pool_conn *c, int64_t deadline_ns)
{
    c->deadline_ns = deadline_ns;
}

void
pool_conn_set_query_timeout(struct pool_conn *c, int64_t timeout_ms)
{
    c->query_timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

int
pool_conn_reset_session(struct pool_conn *c, struct deskdb_err *err)
{
    int64_t deadline = pool_now(c->pool) + POOL_CANCEL_GRACE_NS;
    int rc;

    rc = pool_conn_run(c,
                       "RESET ALL",
                       0,
                       NULL,
                       deadline,
                       POOL_RUN_NO_CANCEL,
                       NULL,
                       err);
    if (rc == 0)
        rc = session_setup(c, deadline, err);
    if (rc != 0) {
        pool_conn_mark_broken(c);
        err_prefix(err, "session reset");
    }
    return rc;
}

struct pg_conn *
pool_conn_pg(struct pool_conn *c)
{
    return c->pg;
}

void
pool_conn_mark_broken(struct pool_conn *c)
{
    if (!c->broken) {
        c->broken = true;
        c->reason = POOL_CLOSE_DIRTY;
    }
}

int
pool_conn_backend_pid(const struct pool_conn *c)
{
    return c->backend_pid;
}

struct pool *
pool_conn_pool(const struct pool_conn *c)
{
    return c->pool;
}

struct querylog *
pool_querylog(struct pool *p)
{
    return p->qlog;
}

const struct clock *
pool_clock(const struct pool *p)
{
    return &p->clock;
}

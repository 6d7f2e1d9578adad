/* SPDX-License-Identifier: MIT */
/* The leader lock on its own connection: non-blocking libpq with a
 * deadline on every exchange, so a stalled server costs the lead, never
 * a hung scheduler. */
#include "jobs/leader.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backoff.h"
#include "core/log.h"

enum leader_state { LEADER_DOWN, LEADER_FOLLOWER, LEADER_HELD };

struct leader {
    char *conninfo;
    char key[24];
    struct clock clock;
    PGconn *pg;
    enum leader_state state;
    int64_t next_due_ns;
    int failures; /* consecutive connect failures, for the backoff */
};

/* Our keepalive defaults come first so that the connection string can
 * override them (libpq keeps the last value of a keyword). */
static const char *const conn_keys[] = {"keepalives",
                                        "keepalives_idle",
                                        "keepalives_interval",
                                        "keepalives_count",
                                        "tcp_user_timeout",
                                        "fallback_application_name",
                                        "dbname",
                                        NULL};

/* The server's side of the socket too: the lock is released when the
 * server notices its client is gone, and by default that takes hours. */
static const char setup_sql[] =
    "SELECT set_config('tcp_keepalives_idle', '5', false),"
    " set_config('tcp_keepalives_interval', '2', false),"
    " set_config('tcp_keepalives_count', '3', false),"
    " set_config('tcp_user_timeout', '10000', false),"
    " set_config('statement_timeout', '5000', false),"
    " set_config('idle_in_transaction_session_timeout', '0', false)";

static const char check_sql[] =
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
    " AND pid = pg_backend_pid() AND granted";

struct leader *
leader_create(const char *conninfo,
              int64_t key,
              const struct clock *clock,
              struct deskdb_err *err)
{
    struct leader *l = calloc(1, sizeof(*l));

    if (l == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory"), NULL;
    l->conninfo = strdup(conninfo != NULL ? conninfo : "");
    if (l->conninfo == NULL) {
        free(l);
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(l->key, sizeof(l->key), "%lld", (long long)key);
    l->clock = clock != NULL ? *clock : clock_system;
    return l;
}

static void
drop(struct leader *l)
{
    if (l->pg != NULL) {
        /* Non-blocking: a Terminate to a stalled server must not block. */
        PQsetnonblocking(l->pg, 1);
        PQfinish(l->pg);
        l->pg = NULL;
    }
    l->state = LEADER_DOWN;
}

void
leader_destroy(struct leader *l)
{
    if (l == NULL)
        return;
    drop(l);
    free(l->conninfo);
    free(l);
}

static int64_t
now_ns(const struct leader *l)
{
    return clock_mono(&l->clock);
}

/* Wait for `events` until `deadline`; 1 ready, 0 timeout, -1 error. */
static int
wait_fd(const struct leader *l, short events, int64_t deadline)
{
    struct pollfd pfd = {.fd = PQsocket(l->pg), .events = events};
    int64_t left;
    int n;

    for (;;) {
        left = (deadline - now_ns(l)) / NS_PER_MS;
        if (left <= 0)
            return 0;
        n = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
        if (n > 0)
            return 1;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static bool
connect_now(struct leader *l, int64_t deadline)
{
    const char *values[8] =
        {"1", "5", "2", "3", "10000", "deskdb-leader", l->conninfo, NULL};
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;

    if (l->conninfo[0] == '\0')
        values[6] = NULL; /* libpq's defaults, as psql */
    l->pg = PQconnectStartParams(conn_keys, values, 1);
    if (l->pg == NULL || PQstatus(l->pg) == CONNECTION_BAD)
        return false;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return false;
        if (wait_fd(l,
                    st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
                    deadline) <= 0)
            return false;
        st = PQconnectPoll(l->pg);
    }
    return PQsetnonblocking(l->pg, 1) == 0;
}

/* Send and collect one statement by `deadline`; the last result (owned
 * by the caller) or NULL when it failed or timed out. */
static PGresult *
exchange(struct leader *l,
         const char *sql,
         int nparams,
         const char *const *params,
         int64_t deadline)
{
    PGresult *res, *last = NULL;
    int f;

    if (!PQsendQueryParams(l->pg, sql, nparams, NULL, params, NULL, NULL, 0))
        return NULL;
    while ((f = PQflush(l->pg)) == 1) {
        if (wait_fd(l, POLLOUT, deadline) <= 0)
            return NULL;
    }
    for (;;) {
        if (f < 0 || !PQconsumeInput(l->pg))
            break;
        if (PQisBusy(l->pg)) {
            if (wait_fd(l, POLLIN, deadline) <= 0)
                break;
            continue;
        }
        res = PQgetResult(l->pg);
        if (res == NULL)
            return last;
        PQclear(last);
        last = res;
    }
    PQclear(last);
    return NULL;
}

/* A one-value query: its text in `out`, or false. */
static bool
query_value(struct leader *l,
            const char *sql,
            int nparams,
            const char *const *params,
            char *out,
            size_t size)
{
    PGresult *res =
        exchange(l, sql, nparams, params, now_ns(l) + LEADER_IO_TIMEOUT_NS);
    bool ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK &&
              PQntuples(res) == 1 && PQnfields(res) >= 1;

    if (ok)
        snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
    else if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR)
        log_warn("jobs",
                 "leader connection statement failed",
                 "error",
                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
    PQclear(res);
    return ok;
}

/* libpq's message up to its first line break. */
static const char *
one_line(const char *src, char *dst, size_t size)
{
    size_t n = strcspn(src, "\n");

    if (n >= size)
        n = size - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
    return dst;
}

static void
step_down(struct leader *l, int64_t now)
{
    struct backoff b = {.base_ms = 1000, .cap_ms = LEADER_RECONNECT_CAP_MS};
    int64_t wait_ms = 1000;
    char b1[24], msg[256];

    if (l->pg == NULL || PQstatus(l->pg) != CONNECTION_OK) {
        if (l->failures++ > 0)
            wait_ms = 1000 + backoff_full_jitter_ms(&b, l->failures);
        log_warn("jobs",
                 "leader lock connection failed",
                 "error",
                 l->pg != NULL
                     ? one_line(PQerrorMessage(l->pg), msg, sizeof(msg))
                     : "out of memory",
                 "retry_ms",
                 log_i64(b1, wait_ms));
    }
    drop(l);
    l->next_due_ns = now + wait_ms * NS_PER_MS;
}

static void
try_lock(struct leader *l, int64_t now)
{
    const char *params[1] = {l->key};
    char v[8];

    if (!query_value(l,
                     "SELECT pg_try_advisory_lock($1::bigint)",
                     1,
                     params,
                     v,
                     sizeof(v))) {
        step_down(l, now);
        return;
    }
    if (strcmp(v, "t") == 0) {
        l->state = LEADER_HELD;
        l->next_due_ns = now + LEADER_CHECK_NS;
        log_info("jobs", "became the scheduling leader", "lock_key", l->key);
        return;
    }
    l->next_due_ns = now + LEADER_POLL_NS;
}

static void
check(struct leader *l, int64_t now)
{
    char v[24];

    if (query_value(l, check_sql, 0, NULL, v, sizeof(v)) &&
        strtoll(v, NULL, 10) > 0) {
        l->next_due_ns = now + LEADER_CHECK_NS;
        return;
    }
    log_error("jobs",
              "lost the scheduling lead: the lock connection failed or "
              "stalled; scheduling stops",
              "lock_key",
              l->key);
    step_down(l, now);
}

bool
leader_step(struct leader *l, int64_t now)
{
    char v[8];

    if (now < l->next_due_ns)
        return l->state == LEADER_HELD;
    switch (l->state) {
    case LEADER_DOWN:
        if (!connect_now(l, now + 2 * LEADER_IO_TIMEOUT_NS) ||
            !query_value(l, setup_sql, 0, NULL, v, sizeof(v))) {
            step_down(l, now_ns(l));
            break;
        }
        l->failures = 0;
        l->state = LEADER_FOLLOWER;
        try_lock(l, now_ns(l));
        break;
    case LEADER_FOLLOWER:
        try_lock(l, now);
        break;
    case LEADER_HELD:
        check(l, now);
        break;
    }
    return l->state == LEADER_HELD;
}

int64_t
leader_next_due(const struct leader *l)
{
    return l->next_due_ns;
}

void
leader_release(struct leader *l)
{
    if (l->state == LEADER_HELD)
        log_info("jobs", "gave up the scheduling lead", "lock_key", l->key);
    drop(l);
}

bool
leader_held(const struct leader *l)
{
    return l->state == LEADER_HELD;
}

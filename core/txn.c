/* SPDX-License-Identifier: MIT */
/* The transaction manager: attempts, retries with backoff, COMMIT and its
 * ambiguous failures, savepoints and SET LOCAL settings. */
#include "core/txn.h"

#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/pool_internal.h"
#include "core/sqlstate.h"
#include "core/txn_internal.h"

/* A ROLLBACK gets this long even when the transaction's time is up. */
#define ROLLBACK_TIMEOUT_NS (2000 * NS_PER_MS)
/* A server-side 57014 this close to the deadline is our timeout. */
#define DEADLINE_SLACK_NS  (100 * NS_PER_MS)
#define SAVEPOINT_NAME_MAX 63

static const char *const retry_reason_names[TXN_RETRY_NREASONS] = {
    [TXN_RETRY_SERIALIZATION] = "serialization_failure",
    [TXN_RETRY_DEADLOCK] = "deadlock",
    [TXN_RETRY_CONNECTION] = "connection",
};

const char *
txn_retry_reason_name(enum txn_retry_reason r)
{
    if ((unsigned)r >= TXN_RETRY_NREASONS)
        return "unknown";
    return retry_reason_names[r];
}

void
txn_options_from_config(const struct config_transactions *cfg,
                        struct txn_options *out)
{
    memset(out, 0, sizeof(*out));
    out->isolation = cfg->isolation;
    out->max_retries = cfg->max_retries;
    out->backoff_base_ms = cfg->backoff_base_ms;
    out->backoff_cap_ms = cfg->backoff_cap_ms;
    out->timeout_ms = cfg->timeout_ms;
}

enum txn_verdict
txn_classify_failure(int code,
                     const char *sqlstate,
                     bool commit_sent,
                     bool read_only)
{
    enum sqlstate_kind kind = sqlstate_classify(sqlstate);
    bool no_answer = kind == SQLSTATE_KIND_NONE &&
                     (code == DESKDB_ECONN || code == DESKDB_ETIMEOUT);

    if (code == 0)
        return TXN_FAIL;
    /* The server rolled back: safe to run again, even from COMMIT. */
    if (kind == SQLSTATE_KIND_SERIALIZATION)
        return TXN_RETRY_AS_SERIALIZATION;
    if (kind == SQLSTATE_KIND_DEADLOCK)
        return TXN_RETRY_AS_DEADLOCK;
    if (commit_sent) {
        /* COMMIT went out and no verdict came back: it may have been
         * applied.  Running the work again could apply it twice. */
        if (kind == SQLSTATE_KIND_CONNECTION ||
            kind == SQLSTATE_KIND_AMBIGUOUS || no_answer)
            return TXN_COMMIT_UNKNOWN;
        return TXN_FAIL;
    }
    if (kind == SQLSTATE_KIND_CONNECTION || kind == SQLSTATE_KIND_AMBIGUOUS ||
        (kind == SQLSTATE_KIND_NONE && code == DESKDB_ECONN))
        return TXN_RETRY_AS_CONNECTION;
    /* read_only_sql_transaction in a read-write transaction: we reached a
     * standby (a failover); a new connection finds the primary. */
    if (!read_only && sqlstate != NULL && strcmp(sqlstate, "25006") == 0)
        return TXN_RETRY_AS_CONNECTION;
    return TXN_FAIL;
}

bool
txn_commit_unknown(const struct deskdb_err *err)
{
    return err != NULL && err->code == DESKDB_ECONN &&
           strcmp(err->sqlstate, TXN_SQLSTATE_COMMIT_UNKNOWN) == 0;
}

/* ---- statements ------------------------------------------------------- */

int
txn_query(struct txn *t,
          const char *sql,
          int nparams,
          const char *const *params,
          struct pg_result **res,
          struct deskdb_err *err)
{
    if (res != NULL)
        *res = NULL;
    if (t == NULL || t->conn == NULL)
        return err_set(err, DESKDB_EINVAL, "txn_query outside a transaction");
    return pool_query(t->conn, sql, nparams, params, res, err);
}

int
txn_exec(struct txn *t, const char *sql, struct deskdb_err *err)
{
    return txn_query(t, sql, 0, NULL, NULL, err);
}

static bool
savepoint_name_valid(const char *name)
{
    size_t n;

    if (name == NULL || name[0] == '\0' || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (n = 0; name[n] != '\0'; n++) {
        char ch = name[n];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_'))
            return false;
    }
    return n <= SAVEPOINT_NAME_MAX;
}

static int
savepoint_cmd(struct txn *t,
              const char *verb,
              const char *name,
              struct deskdb_err *err)
{
    char sql[128];

    if (!savepoint_name_valid(name))
        return err_set(err,
                       DESKDB_EINVAL,
                       "invalid savepoint name (letters, digits and _, "
                       "at most %d, not starting with a digit)",
                       SAVEPOINT_NAME_MAX);
    snprintf(sql, sizeof(sql), "%s %s", verb, name);
    return txn_exec(t, sql, err);
}

int
txn_savepoint(struct txn *t, const char *name, struct deskdb_err *err)
{
    return savepoint_cmd(t, "SAVEPOINT", name, err);
}

int
txn_rollback_to(struct txn *t, const char *name, struct deskdb_err *err)
{
    return savepoint_cmd(t, "ROLLBACK TO SAVEPOINT", name, err);
}

int
txn_release(struct txn *t, const char *name, struct deskdb_err *err)
{
    return savepoint_cmd(t, "RELEASE SAVEPOINT", name, err);
}

int
txn_attempt(const struct txn *t)
{
    return t->attempt;
}

struct pool_conn *
txn_conn(struct txn *t)
{
    return t->conn;
}

/* ---- one attempt ------------------------------------------------------ */

static const char *
isolation_sql(enum config_isolation iso)
{
    switch (iso) {
    case CONFIG_ISOLATION_REPEATABLE_READ:
        return "REPEATABLE READ";
    case CONFIG_ISOLATION_SERIALIZABLE:
        return "SERIALIZABLE";
    case CONFIG_ISOLATION_READ_COMMITTED:
        break;
    }
    return "READ COMMITTED";
}

/*
 * SET LOCAL statement_timeout (the remaining budget, when it is shorter
 * than the session's) and the configured settings, in one round trip
 * through set_config(name, value, true) so values need no quoting.
 */
static int
set_locals(struct txn *t, struct deskdb_err *err)
{
    const struct txn_options *o = t->opt;
    int64_t session_ms = t->pool->cfg.statement_timeout_ms, left_ms = 0;
    const char **params = NULL;
    char timeout[24];
    struct buf sql;
    int n = 0, rc;

    if (t->deadline_ns != 0) {
        left_ms = (t->deadline_ns - pool_now(t->pool)) / NS_PER_MS;
        if (left_ms < 1)
            left_ms = 1;
        if (session_ms > 0 && left_ms >= session_ms)
            left_ms = 0;
    }
    if (left_ms == 0 && o->n_settings == 0)
        return 0;
    params = calloc(2 * (o->n_settings + 1), sizeof(*params));
    buf_init(&sql, 64 + 40 * (o->n_settings + 1));
    if (params == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "transaction: out of memory");
        goto out;
    }
    if (left_ms > 0) {
        snprintf(timeout, sizeof(timeout), "%lld", (long long)left_ms);
        params[n++] = "statement_timeout";
        params[n++] = timeout;
    }
    for (size_t i = 0; i < o->n_settings; i++) {
        params[n++] = o->settings[i].key;
        params[n++] = o->settings[i].value;
    }
    rc = pool_set_config_sql(&sql, n / 2, true);
    if (rc != 0) {
        rc = err_set(err, DESKDB_ENOMEM, "transaction: out of memory");
        goto out;
    }
    rc = pool_query(t->conn, sql.data, n, params, NULL, err);
    if (rc != 0)
        err_prefix(err, "SET LOCAL");
out:
    buf_fini(&sql);
    free(params);
    return rc;
}

static int
begin(struct txn *t, struct deskdb_err *err)
{
    const struct txn_options *o = t->opt;
    char sql[96];
    int rc;

    snprintf(sql,
             sizeof(sql),
             "BEGIN ISOLATION LEVEL %s%s%s",
             isolation_sql(o->isolation),
             o->read_only ? " READ ONLY" : "",
             o->deferrable ? " DEFERRABLE" : "");
    rc = pool_query(t->conn, sql, 0, NULL, NULL, err);
    if (rc != 0)
        return rc;
    return set_locals(t, err);
}

static int
commit(struct txn *t, struct deskdb_err *err)
{
    PGresult *res = NULL;
    int rc = pool_query(t->conn, "COMMIT", 0, NULL, &res, err);

    /* COMMIT of a transaction that had failed answers "ROLLBACK". */
    if (rc == 0 && strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        rc = err_set(err,
                     DESKDB_EPG,
                     "COMMIT rolled the transaction back: a statement in it "
                     "failed and was not rolled back to a savepoint");
        snprintf(err->sqlstate, sizeof(err->sqlstate), "25P02");
    }
    PQclear(res);
    return rc;
}

static void
rollback(struct txn *t)
{
    struct pool_conn *c = t->conn;
    PGconn *pg = pool_conn_pg(c);
    struct deskdb_err e;

    if (c->broken || PQstatus(pg) != CONNECTION_OK ||
        PQtransactionStatus(pg) == PQTRANS_IDLE)
        return;
    pool_conn_set_deadline(c, pool_now(t->pool) + ROLLBACK_TIMEOUT_NS);
    if (pool_query(c, "ROLLBACK", 0, NULL, NULL, &e) != 0)
        pool_conn_mark_broken(c);
}

/* A statement cancelled by the SET LOCAL statement_timeout that stood for
 * the transaction's budget is reported as the transaction's timeout. */
static int
timeout_verdict(struct txn *t, int rc, struct deskdb_err *err)
{
    bool server_cancel =
        rc == DESKDB_EPG && strcmp(err->sqlstate, "57014") == 0;

    if (t->deadline_ns == 0 || (rc != DESKDB_ETIMEOUT && !server_cancel))
        return rc;
    if (pool_now(t->pool) < t->deadline_ns - DEADLINE_SLACK_NS)
        return rc;
    err->code = DESKDB_ETIMEOUT;
    err_prefix(err,
               "transaction timeout (%lld ms) exceeded",
               (long long)t->opt->timeout_ms);
    return DESKDB_ETIMEOUT;
}

static int
attempt_once(struct txn *t,
             txn_fn fn,
             void *arg,
             bool *commit_sent,
             struct deskdb_err *err)
{
    int64_t acquire_ms = -1, left;
    int rc;

    *commit_sent = false;
    if (t->deadline_ns != 0) {
        left = (t->deadline_ns - pool_now(t->pool)) / NS_PER_MS;
        if (left <= 0)
            return err_set(err,
                           DESKDB_ETIMEOUT,
                           "transaction timeout (%lld ms) exceeded",
                           (long long)t->opt->timeout_ms);
        if (left < t->pool->cfg.acquire_timeout_ms)
            acquire_ms = left;
    }
    rc = pool_acquire_at(t->pool,
                         &t->conn,
                         acquire_ms,
                         t->file,
                         t->line,
                         t->func,
                         err);
    if (rc != 0)
        return rc;
    pool_conn_set_deadline(t->conn, t->deadline_ns);
    rc = begin(t, err);
    if (rc == 0) {
        rc = fn(t, arg, err);
        if (rc != 0 && err->msg[0] == '\0')
            err_set(err,
                    rc,
                    "transaction callback failed (%s)",
                    err_code_name(rc));
    }
    if (rc == 0) {
        *commit_sent = true;
        rc = commit(t, err);
    } else {
        rollback(t);
    }
    if (rc != 0 && strcmp(err->sqlstate, "25006") == 0 && !t->opt->read_only)
        pool_conn_mark_broken(t->conn);
    pool_release(t->pool, t->conn);
    t->conn = NULL;
    return timeout_verdict(t, rc, err);
}

/* ---- the retry loop --------------------------------------------------- */

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Whether another attempt fits; fills *sleep with the backoff. */
static bool
may_retry(struct txn *t, int attempt, int64_t *sleep, struct deskdb_err *err)
{
    const struct txn_options *o = t->opt;
    struct backoff bo = {o->backoff_base_ms,
                         o->backoff_cap_ms,
                         o->rand,
                         o->rand_arg};
    int max_attempts = (o->max_retries > 0 ? o->max_retries : 0) + 1;
    int64_t elapsed = (pool_now(t->pool) - t->start_ns) / NS_PER_MS;

    *sleep = backoff_full_jitter_ms(&bo, attempt);
    if (attempt + 1 >= max_attempts) {
        err_prefix(err, "gave up after %d attempts", attempt + 1);
        return false;
    }
    if (!backoff_may_retry(attempt + 1,
                           max_attempts,
                           elapsed,
                           *sleep,
                           o->timeout_ms)) {
        err_prefix(err,
                   "no time left in the transaction timeout (%lld ms) for "
                   "attempt %d",
                   (long long)o->timeout_ms,
                   attempt + 2);
        return false;
    }
    return true;
}

static void
log_retry(const struct txn *t,
          enum txn_retry_reason why,
          int64_t sleep,
          const struct deskdb_err *err)
{
    char b1[24], b2[24];

    log_info("txn",
             "retrying transaction",
             "reason",
             txn_retry_reason_name(why),
             "attempt",
             log_i64(b1, t->attempt + 1),
             "sleep_ms",
             log_i64(b2, sleep),
             "sqlstate",
             err->sqlstate,
             "error",
             err->msg);
}

static const struct txn_options default_options = {
    .isolation = CONFIG_ISOLATION_READ_COMMITTED,
    .max_retries = 3,
    .backoff_base_ms = 50,
    .backoff_cap_ms = 2000,
    .timeout_ms = 30000,
};

int
txn_run_at(struct pool *pool,
           const struct txn_options *opt,
           txn_fn fn,
           void *arg,
           const char *file,
           int line,
           const char *func,
           struct deskdb_err *err)
{
    struct txn_registry *reg = txn_registry_of(pool);
    struct deskdb_err local;
    struct txn t;
    enum txn_outcome outcome = TXN_ROLLED_BACK;
    enum txn_verdict v;
    bool commit_sent, retried = false;
    int64_t sleep;
    int rc;

    if (err == NULL)
        err = &local;
    if (pool == NULL || fn == NULL)
        return err_set(err, DESKDB_EINVAL, "txn_run: no pool or callback");
    memset(&t, 0, sizeof(t));
    t.pool = pool;
    t.opt = opt != NULL ? opt : &default_options;
    t.file = file;
    t.line = line;
    t.func = func;
    t.start_ns = pool_now(pool);
    if (t.opt->timeout_ms > 0)
        t.deadline_ns = t.start_ns + t.opt->timeout_ms * NS_PER_MS;
    txn_registry_begin(reg, &t);
    for (int attempt = 0;; attempt++) {
        t.attempt = attempt + 1;
        err_clear(err);
        rc = attempt_once(&t, fn, arg, &commit_sent, err);
        if (rc == 0) {
            outcome = TXN_COMMITTED;
            break;
        }
        v = txn_classify_failure(rc,
                                 err->sqlstate,
                                 commit_sent,
                                 t.opt->read_only);
        if (v == TXN_COMMIT_UNKNOWN) {
            err->code = rc = DESKDB_ECONN;
            err_prefix(err,
                       "COMMIT outcome unknown (connection lost after "
                       "COMMIT was sent; not retried)");
            snprintf(err->sqlstate,
                     sizeof(err->sqlstate),
                     "%s",
                     TXN_SQLSTATE_COMMIT_UNKNOWN);
            outcome = TXN_UNKNOWN;
            break;
        }
        if (v == TXN_FAIL || !may_retry(&t, attempt, &sleep, err))
            break;
        enum txn_retry_reason why =
            v == TXN_RETRY_AS_SERIALIZATION ? TXN_RETRY_SERIALIZATION
            : v == TXN_RETRY_AS_DEADLOCK    ? TXN_RETRY_DEADLOCK
                                            : TXN_RETRY_CONNECTION;
        txn_registry_retry(reg, why);
        retried = true;
        log_retry(&t, why, sleep, err);
        sleep_ms(sleep);
    }
    txn_registry_end(reg, &t, outcome, retried, pool_now(pool) - t.start_ns);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* The migration runner: its connection, lock and history; up, down, status. */
#include "core/migrate_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"

#define STR_(x)   #x
#define STR(x)    STR_(x)
#define LOCK_ARGS STR(MIGRATE_LOCK_CLASS) ", " STR(MIGRATE_LOCK_OBJECT)

#define DEFAULT_LOCK_WAIT_MS 60000
#define LOCK_POLL_MS         200

static const char history_ddl[] =
    "CREATE TABLE IF NOT EXISTS deskdb.schema_migrations ("
    " version bigint PRIMARY KEY,"
    " name text NOT NULL,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    " duration_ms bigint NOT NULL,"
    " applied_by text NOT NULL DEFAULT current_user)";

/* Server notices (IF NOT EXISTS skips and the like) go to the log rather
 * than to libpq's default of stderr. */
static void
on_notice(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

    (void)arg;
    if (msg == NULL)
        return;
    if (sev != NULL && strcmp(sev, "WARNING") == 0)
        log_warn("migrate", "server warning", "message", msg);
    else
        log_debug("migrate", "server notice", "message", msg);
}

/*
 * A connection of our own, never a pooled one: the session advisory lock
 * lives as long as it, and CREATE INDEX CONCURRENTLY must not find it
 * inside a transaction.  connect_timeout and the application name are
 * defaults the connection string may override; the encoding is ours, since
 * error positions are counted in UTF-8 characters.
 */
static int
connect_db(const char *conninfo, PGconn **out, struct deskdb_err *err)
{
    const char *kw[] = {"connect_timeout",
                        "fallback_application_name",
                        "dbname",
                        "client_encoding",
                        NULL};
    const char *val[] = {"10", "deskdb-migrate", conninfo, "UTF8", NULL};
    PQconninfoOption *opts;
    char *perr = NULL;
    PGconn *c;
    int rc;

    *out = NULL;
    /* libpq's parse errors may quote parts of the string, secrets
     * included, so they are not passed on. */
    opts = PQconninfoParse(conninfo, &perr);
    PQfreemem(perr);
    if (opts == NULL)
        return err_set(err,
                       DESKDB_EINVAL,
                       "the database url is not a valid libpq connection "
                       "string");
    PQconninfoFree(opts);
    c = PQconnectdbParams(kw, val, 1);
    if (c == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory connecting");
    if (PQstatus(c) != CONNECTION_OK) {
        rc = migrate_pg_error(c, NULL, "connect to database", err);
        PQfinish(c);
        return rc;
    }
    PQsetNoticeReceiver(c, on_notice, NULL);
    /* A role-level statement_timeout (a good idea for applications) would
     * cut an index build on a big table short.  If this process dies
     * mid-statement, the server notices within a second and stops the
     * statement instead of finishing a build nobody waits for. */
    rc = migrate_exec_simple(c,
                             "SET statement_timeout = 0;"
                             " SET client_connection_check_interval = '1s'",
                             err);
    if (rc != DESKDB_OK) {
        PQfinish(c);
        return rc;
    }
    *out = c;
    return DESKDB_OK;
}

static int64_t
query_lock_holder(PGconn *c)
{
    static const char sql[] =
        "SELECT pid FROM pg_locks WHERE locktype = 'advisory'"
        " AND database = (SELECT oid FROM pg_database"
        "                 WHERE datname = current_database())"
        " AND classid = " STR(
            MIGRATE_LOCK_CLASS) "::oid"
                                " AND objid = " STR(
                                    MIGRATE_LOCK_OBJECT) "::oid"
                                                         " AND objsubid = 2 "
                                                         "AND granted LIMIT 1";
    PGresult *r = PQexec(c, sql);
    int64_t pid = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        pid = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return pid;
}

static void
sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*
 * Take the migration lock, polling pg_try_advisory_lock() until `wait_ms`
 * has passed.  Between polls the session is idle, outside any transaction:
 * a session blocked in pg_advisory_lock() holds a virtual transaction that
 * the lock holder's CREATE INDEX CONCURRENTLY waits for, and PostgreSQL
 * ends that cycle by failing the index build with "deadlock detected".
 */
static int
lock_acquire(PGconn *c, int64_t wait_ms, struct deskdb_err *err)
{
    int64_t deadline = clock_monotonic_ns() + wait_ms * NS_PER_MS;
    int64_t holder = -1;
    char b[24];

    for (;;) {
        PGresult *r = PQexec(c, "SELECT pg_try_advisory_lock(" LOCK_ARGS ")");
        int64_t left;
        bool got;

        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            int rc = migrate_pg_error(c, r, "take the migration lock", err);

            PQclear(r);
            return rc;
        }
        got = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
        if (got)
            return DESKDB_OK;
        if (holder < 0) {
            holder = query_lock_holder(c);
            log_info("migrate",
                     "waiting for another migration runner",
                     "holder_pid",
                     log_i64(b, holder));
        }
        left = (deadline - clock_monotonic_ns()) / NS_PER_MS;
        if (wait_ms < 0 || left <= 0)
            return err_set(err,
                           DESKDB_ETIMEOUT,
                           "another migration runner (backend pid %" PRId64
                           ") holds the migration lock; gave up after %" PRId64
                           " ms",
                           holder,
                           wait_ms < 0 ? 0 : wait_ms);
        sleep_ms(left < LOCK_POLL_MS ? left : LOCK_POLL_MS);
    }
}

/* Whether deskdb.schema_migrations exists (it does not on a new database). */
static int
history_exists(PGconn *c, bool *exists, struct deskdb_err *err)
{
    PGresult *r =
        PQexec(c, "SELECT to_regclass('deskdb.schema_migrations') IS NOT NULL");
    int rc = DESKDB_OK;

    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = migrate_pg_error(c, r, "read migration history", err);
    else
        *exists = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return rc;
}

/* Create the history table, under the lock.  Skipped when it exists, so a
 * role without CREATE on the database can still migrate. */
static int
history_ensure(PGconn *c, struct deskdb_err *err)
{
    bool exists = false;
    int rc = history_exists(c, &exists, err);

    if (rc != DESKDB_OK || exists)
        return rc;
    rc = migrate_exec_simple(c, "CREATE SCHEMA IF NOT EXISTS deskdb", err);
    if (rc == DESKDB_OK)
        rc = migrate_exec_simple(c, history_ddl, err);
    return rc;
}

static int
history_load(PGconn *c,
             struct migrate_applied **out,
             size_t *n,
             struct deskdb_err *err)
{
    static const char sql[] =
        "SELECT version, name, checksum,"
        " to_char(applied_at AT TIME ZONE 'UTC',"
        "         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
        " duration_ms FROM deskdb.schema_migrations ORDER BY version";
    struct migrate_applied *a = NULL;
    bool exists = false;
    PGresult *r;
    int i, rc = history_exists(c, &exists, err);

    *out = NULL;
    *n = 0;
    if (rc != DESKDB_OK || !exists)
        return rc;
    r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = migrate_pg_error(c, r, "read migration history", err);
        goto out;
    }
    a = calloc((size_t)PQntuples(r) + 1, sizeof(*a));
    if (a == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < PQntuples(r); i++) {
        a[i].version = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        snprintf(a[i].name, sizeof(a[i].name), "%s", PQgetvalue(r, i, 1));
        snprintf(a[i].checksum,
                 sizeof(a[i].checksum),
                 "%s",
                 PQgetvalue(r, i, 2));
        snprintf(a[i].applied_at,
                 sizeof(a[i].applied_at),
                 "%s",
                 PQgetvalue(r, i, 3));
        a[i].duration_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    }
    *out = a;
    *n = (size_t)PQntuples(r);
    a = NULL;
out:
    free(a);
    PQclear(r);
    return rc;
}

/* What up and down share: the connection, with the lock held, and the
 * state of every version. */
struct run {
    PGconn *conn;
    bool locked;
    struct migrate_status *st;
    size_t n;
};

static void
run_end(struct run *run)
{
    if (run->conn != NULL) {
        /* Closing the session releases the lock as well; unlocking first
         * frees it for a waiting runner without waiting for the close. */
        if (run->locked && PQstatus(run->conn) == CONNECTION_OK)
            PQclear(
                PQexec(run->conn, "SELECT pg_advisory_unlock(" LOCK_ARGS ")"));
        PQfinish(run->conn);
    }
    free(run->st);
    memset(run, 0, sizeof(*run));
}

static int
run_begin(struct run *run,
          const struct migrate_options *o,
          bool up,
          struct deskdb_err *err)
{
    struct migrate_applied *applied = NULL;
    size_t n_applied = 0;
    int64_t wait =
        o->lock_wait_ms == 0 ? DEFAULT_LOCK_WAIT_MS : o->lock_wait_ms;
    int rc;

    memset(run, 0, sizeof(*run));
    rc = connect_db(o->conninfo, &run->conn, err);
    if (rc == DESKDB_OK)
        rc = lock_acquire(run->conn, wait, err);
    run->locked = rc == DESKDB_OK;
    /* Read the history only with the lock held: another runner may just
     * have applied what looked pending. */
    if (rc == DESKDB_OK && up)
        rc = history_ensure(run->conn, err);
    if (rc == DESKDB_OK)
        rc = history_load(run->conn, &applied, &n_applied, err);
    if (rc == DESKDB_OK)
        rc = migrate_plan_status(o->set,
                                 applied,
                                 n_applied,
                                 &run->st,
                                 &run->n,
                                 err);
    if (rc == DESKDB_OK)
        rc = migrate_plan_check(run->st, run->n, o->set, up, err);
    free(applied);
    if (rc != DESKDB_OK)
        run_end(run);
    return rc;
}

static int
run_one(struct run *run,
        const struct migrate_options *o,
        const struct migration *m,
        bool up,
        struct deskdb_err *err)
{
    struct migrate_event ev = {
        .migration = m,
        .up = up,
        .autocommit = up ? m->up_autocommit : m->down_autocommit,
    };
    char b[24];
    int rc = migrate_exec_script(run->conn, m, up, &ev.duration_ms, err);

    if (rc != DESKDB_OK) {
        err_prefix(err, "migration %s %s failed", m->name, up ? "up" : "down");
        return rc;
    }
    log_debug("migrate",
              up ? "applied" : "rolled back",
              "migration",
              m->name,
              "duration_ms",
              log_i64(b, ev.duration_ms));
    if (o->on_event != NULL)
        o->on_event(o->event_arg, &ev);
    return DESKDB_OK;
}

int
migrate_up(const struct migrate_options *o,
           int *applied,
           struct deskdb_err *err)
{
    struct run run;
    size_t i;
    int count = 0;
    int rc = run_begin(&run, o, true, err);

    for (i = 0; i < run.n && rc == DESKDB_OK; i++) {
        if (run.st[i].state != MIGRATE_PENDING)
            continue;
        rc = run_one(&run,
                     o,
                     migration_set_find(o->set, run.st[i].version),
                     true,
                     err);
        if (rc == DESKDB_OK)
            count++;
    }
    run_end(&run);
    if (applied != NULL)
        *applied = count;
    return rc;
}

int
migrate_down(const struct migrate_options *o,
             int n,
             int *rolled_back,
             struct deskdb_err *err)
{
    struct run run;
    size_t i;
    int count = 0;
    int rc;

    if (rolled_back != NULL)
        *rolled_back = 0;
    if (n < 1)
        return err_set(err, DESKDB_EINVAL, "down needs a count of at least 1");
    rc = run_begin(&run, o, false, err);
    for (i = run.n; i > 0 && count < n && rc == DESKDB_OK; i--) {
        if (run.st[i - 1].state != MIGRATE_APPLIED)
            continue;
        rc = run_one(&run,
                     o,
                     migration_set_find(o->set, run.st[i - 1].version),
                     false,
                     err);
        if (rc == DESKDB_OK)
            count++;
    }
    run_end(&run);
    if (rolled_back != NULL)
        *rolled_back = count;
    return rc;
}

int
migrate_status(const struct migrate_options *o,
               struct migrate_status **out,
               size_t *n,
               struct deskdb_err *err)
{
    struct migrate_applied *applied = NULL;
    size_t n_applied = 0;
    PGconn *c;
    int rc;

    *out = NULL;
    *n = 0;
    rc = connect_db(o->conninfo, &c, err);
    if (rc != DESKDB_OK)
        return rc;
    rc = history_load(c, &applied, &n_applied, err);
    if (rc == DESKDB_OK)
        rc = migrate_plan_status(o->set, applied, n_applied, out, n, err);
    free(applied);
    PQfinish(c);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* Running one migration script and recording it in the history table. */
#include "core/migrate_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/sqlsplit.h"

/* Copy `s` into `out` on one line: runs of blanks become one space, and
 * line breaks inside the text become "; ". */
static void
one_line(char *out, size_t size, const char *s)
{
    size_t o = 0;
    bool brk = false, blank = false;

    for (; *s != '\0' && o + 3 < size; s++) {
        if (*s == '\n' || *s == '\r') {
            brk = true;
        } else if (*s == ' ' || *s == '\t') {
            blank = true;
        } else {
            if (o > 0 && brk) {
                memcpy(out + o, "; ", 2);
                o += 2;
            } else if (o > 0 && blank) {
                out[o++] = ' ';
            }
            brk = blank = false;
            out[o++] = *s;
        }
    }
    out[o] = '\0';
}

int
migrate_pg_error(PGconn *conn,
                 const PGresult *res,
                 const char *what,
                 struct deskdb_err *err)
{
    const char *primary = NULL, *detail = NULL, *state = NULL;
    char msg[384], det[256];

    if (res != NULL) {
        primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    }
    if (primary == NULL) {
        int code = PQstatus(conn) == CONNECTION_BAD ? DESKDB_ECONN : DESKDB_EPG;

        one_line(msg, sizeof(msg), PQerrorMessage(conn));
        return err_set(err,
                       code,
                       "%s: %s",
                       what,
                       msg[0] != '\0' ? msg : "no result from the server");
    }
    one_line(msg, sizeof(msg), primary);
    one_line(det, sizeof(det), detail != NULL ? detail : "");
    err_set(err,
            DESKDB_EPG,
            "%s: %s%s%s",
            what,
            msg,
            det[0] != '\0' ? ": " : "",
            det);
    if (err != NULL && state != NULL)
        snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", state);
    return DESKDB_EPG;
}

int
migrate_exec_simple(PGconn *conn, const char *sql, struct deskdb_err *err)
{
    PGresult *r = PQexec(conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = DESKDB_OK;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = migrate_pg_error(conn, r, sql, err);
    PQclear(r);
    return rc;
}

/* The line of the script an error points at: the statement's first line
 * plus the newlines before the error position (characters, 1-based). */
static int
error_line(const char *stmt, const struct sql_statement *st, const PGresult *r)
{
    const char *pos = PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION);
    long chars = pos != NULL ? strtol(pos, NULL, 10) : 0;
    int line = st->line;
    size_t i;

    for (i = 0; i < st->len && chars > 1; i++) {
        if (((unsigned char)stmt[i] & 0xc0) != 0x80)
            chars--; /* a UTF-8 lead byte starts a character */
        if (stmt[i] == '\n')
            line++;
    }
    return line;
}

static int
run_statement(PGconn *conn,
              const char *file,
              const char *script,
              const struct sql_statement *st,
              struct deskdb_err *err)
{
    char what[MIGRATE_NAME_MAX + 32];
    char *text = strndup(script + st->off, st->len);
    PGresult *r;
    ExecStatusType status;
    int rc = DESKDB_OK;

    if (text == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    r = PQexec(conn, text);
    status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        snprintf(what,
                 sizeof(what),
                 "%s:%d",
                 file,
                 r != NULL ? error_line(text, st, r) : st->line);
        rc = migrate_pg_error(conn, r, what, err);
    }
    PQclear(r);
    free(text);
    return rc;
}

/*
 * A CREATE INDEX CONCURRENTLY that failed or was cancelled leaves its index
 * behind, marked invalid; IF NOT EXISTS would then skip it and a plain
 * retry would fail on the name.  Drop such a leftover before the build,
 * unless a build of it is still running in another session.
 */
static int
drop_invalid_index(PGconn *conn,
                   const char *stmt,
                   size_t len,
                   struct deskdb_err *err)
{
    static const char find[] =
        "SELECT format('%I.%I', n.nspname, c.relname),"
        " (SELECT p.pid FROM pg_stat_progress_create_index p"
        "   WHERE p.index_relid = i.indexrelid LIMIT 1)"
        " FROM pg_index i"
        " JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = $1 AND i.indrelid = to_regclass($2)"
        "   AND NOT i.indisvalid";
    char index[64], table[512], drop[600];
    const char *params[2] = {index, table};
    PGresult *r;
    int rc = DESKDB_OK;

    if (!sql_match_create_index_concurrently(stmt,
                                             len,
                                             index,
                                             sizeof(index),
                                             table,
                                             sizeof(table)))
        return DESKDB_OK;
    r = PQexecParams(conn, find, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        rc = migrate_pg_error(conn, r, "look for invalid indexes", err);
    } else if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 1)) {
        rc = err_set(err,
                     DESKDB_EBUSY,
                     "index %s is being built by backend %s; wait for it "
                     "to finish (or cancel it) and run again",
                     PQgetvalue(r, 0, 0),
                     PQgetvalue(r, 0, 1));
    } else if (PQntuples(r) > 0) {
        log_warn("migrate",
                 "dropping invalid index left by a failed build",
                 "index",
                 PQgetvalue(r, 0, 0));
        snprintf(drop,
                 sizeof(drop),
                 "DROP INDEX CONCURRENTLY IF EXISTS %s",
                 PQgetvalue(r, 0, 0));
        rc = migrate_exec_simple(conn, drop, err);
    }
    PQclear(r);
    return rc;
}

static int
run_statements(PGconn *conn,
               const char *file,
               const char *script,
               size_t len,
               bool autocommit,
               struct deskdb_err *err)
{
    struct sql_statement *st = NULL;
    size_t n = 0, i;
    int rc = sql_split(script, len, &st, &n, err);

    for (i = 0; i < n && rc == DESKDB_OK; i++) {
        if (autocommit)
            rc = drop_invalid_index(conn, script + st[i].off, st[i].len, err);
        if (rc == DESKDB_OK)
            rc = run_statement(conn, file, script, &st[i], err);
        if (rc == DESKDB_OK && autocommit) {
            char line[24];

            log_debug("migrate",
                      "statement committed",
                      "file",
                      file,
                      "line",
                      log_i64(line, st[i].line));
        }
    }
    free(st);
    return rc;
}

static int
record(PGconn *conn,
       const struct migration *m,
       bool up,
       int64_t duration_ms,
       struct deskdb_err *err)
{
    static const char insert[] =
        "INSERT INTO deskdb.schema_migrations"
        " (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)";
    static const char delete[] =
        "DELETE FROM deskdb.schema_migrations WHERE version = $1";
    char version[24], duration[24];
    const char *params[4] = {version, m->name, m->checksum, duration};
    PGresult *r;
    int rc = DESKDB_OK;

    snprintf(version, sizeof(version), "%" PRId64, m->version);
    snprintf(duration, sizeof(duration), "%" PRId64, duration_ms);
    r = up ? PQexecParams(conn, insert, 4, NULL, params, NULL, NULL, 0)
           : PQexecParams(conn, delete, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        rc = migrate_pg_error(conn, r, "record migration", err);
    PQclear(r);
    return rc;
}

/* Add context after the message already in `err`. */
static void DESKDB_PRINTF(2, 3)
    append(struct deskdb_err *err, const char *fmt, ...)
{
    size_t used;
    va_list ap;

    if (err == NULL)
        return;
    used = strlen(err->msg);
    va_start(ap, fmt);
    vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
    va_end(ap);
}

/* BEGIN, the statements, the history row, COMMIT; ROLLBACK on failure. */
static int
exec_in_transaction(PGconn *conn,
                    const struct migration *m,
                    bool up,
                    const char *file,
                    int64_t *duration_ms,
                    struct deskdb_err *err)
{
    const char *script = up ? m->up_sql : m->down_sql;
    size_t len = up ? m->up_len : m->down_len;
    int64_t start = clock_monotonic_ns();
    PGTransactionStatusType ts;
    int rc = migrate_exec_simple(conn, "BEGIN", err);

    if (rc == DESKDB_OK)
        rc = run_statements(conn, file, script, len, false, err);
    *duration_ms = (clock_monotonic_ns() - start) / NS_PER_MS;
    if (rc == DESKDB_OK)
        rc = record(conn, m, up, *duration_ms, err);
    if (rc == DESKDB_OK) {
        rc = migrate_exec_simple(conn, "COMMIT", err);
        if (rc == DESKDB_ECONN)
            append(err,
                   " (the connection broke during COMMIT of %s: run "
                   "'deskdb migrate status' to see whether it was applied)",
                   file);
        return rc;
    }
    ts = PQtransactionStatus(conn);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(conn, "ROLLBACK"));
    return rc;
}

int
migrate_exec_script(PGconn *conn,
                    const struct migration *m,
                    bool up,
                    int64_t *duration_ms,
                    struct deskdb_err *err)
{
    const char *script = up ? m->up_sql : m->down_sql;
    size_t len = up ? m->up_len : m->down_len;
    bool autocommit = up ? m->up_autocommit : m->down_autocommit;
    char file[MIGRATE_NAME_MAX + 16];
    int64_t start = clock_monotonic_ns();
    int rc;

    snprintf(file, sizeof(file), "%s.%s.sql", m->name, up ? "up" : "down");
    if (!autocommit)
        return exec_in_transaction(conn, m, up, file, duration_ms, err);
    rc = run_statements(conn, file, script, len, true, err);
    *duration_ms = (clock_monotonic_ns() - start) / NS_PER_MS;
    if (rc != DESKDB_OK) {
        append(err,
               " (%s runs outside a transaction: the statements before "
               "this one stay applied; fix the cause and run again)",
               file);
        return rc;
    }
    return record(conn, m, up, *duration_ms, err);
}

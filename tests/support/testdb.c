/* SPDX-License-Identifier: MIT */
/* Throwaway databases on the test server, for tests that change schemas. */
#include "support/testdb.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "support/testsupport.h"

static atomic_int db_counter;

/* test_dsn() with dbname replaced, as key='value' pairs. */
static char *
dsn_for(const char *dbname)
{
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(test_dsn(), &perr);
    PQconninfoOption *o;
    struct buf b;
    const char *p;
    int rc = 0;

    if (opts == NULL) {
        fail_msg("DESKDB_TEST_DSN does not parse: %s", perr ? perr : "?");
    }
    buf_init(&b, 4096);
    for (o = opts; o->keyword != NULL; o++) {
        if (o->val == NULL || strcmp(o->keyword, "dbname") == 0)
            continue;
        rc |= buf_printf(&b, "%s='", o->keyword);
        for (p = o->val; *p != '\0'; p++) {
            if (*p == '\'' || *p == '\\')
                rc |= buf_putc(&b, '\\');
            rc |= buf_putc(&b, *p);
        }
        rc |= buf_puts(&b, "' ");
    }
    rc |= buf_printf(&b, "dbname='%s'", dbname);
    PQconninfoFree(opts);
    assert_int_equal(rc, 0);
    return buf_take(&b);
}

void
test_db_create(struct test_db *db, const char *prefix)
{
    char sql[128];

    snprintf(db->name,
             sizeof(db->name),
             "%s_%ld_%d",
             prefix,
             (long)getpid(),
             atomic_fetch_add(&db_counter, 1));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db->name);
    test_exec(sql);
    db->dsn = dsn_for(db->name);
}

void
test_db_drop(struct test_db *db)
{
    char sql[128];

    if (db->dsn == NULL)
        return;
    snprintf(sql,
             sizeof(sql),
             "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             db->name);
    test_exec(sql);
    free(db->dsn);
    db->dsn = NULL;
}

PGconn *
test_db_connect(const struct test_db *db)
{
    PGconn *c = PQconnectdb(db->dsn);

    if (PQstatus(c) != CONNECTION_OK) {
        fail_msg("connect to %s: %s", db->name, PQerrorMessage(c));
    }
    return c;
}

static PGresult *
query(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    return r;
}

void
test_db_exec(const struct test_db *db, const char *sql)
{
    PGconn *c = test_db_connect(db);

    PQclear(query(c, sql));
    PQfinish(c);
}

long long
test_db_query_int(const struct test_db *db, const char *sql)
{
    PGconn *c = test_db_connect(db);
    PGresult *r = query(c, sql);
    long long v = 0;

    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

char *
test_db_query_text(const struct test_db *db, const char *sql)
{
    PGconn *c = test_db_connect(db);
    PGresult *r = query(c, sql);
    char *v = strdup(PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");

    assert_non_null(v);
    PQclear(r);
    PQfinish(c);
    return v;
}

const char *
test_sqlstate(PGconn *c, const char *sql, char state[6])
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    state[0] = '\0';
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        snprintf(state, 6, "%s", s != NULL ? s : "?????");
    PQclear(r);
    return state;
}

/* SPDX-License-Identifier: MIT */
/* Helpers shared by the integration tests: the test database and its server. */
#include "support/testsupport.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

const char *
test_dsn(void)
{
    const char *dsn = getenv("DESKDB_TEST_DSN");

    if (dsn == NULL || *dsn == '\0') {
        fprintf(stderr,
                "DESKDB_TEST_DSN is not set: run the integration "
                "tests through scripts/test\n");
        exit(1);
    }
    return dsn;
}

PGconn *
test_connect(void)
{
    PGconn *c = PQconnectdb(test_dsn());

    if (PQstatus(c) != CONNECTION_OK) {
        fail_msg("connect to test database: %s", PQerrorMessage(c));
    }
    return c;
}

long long
test_query_int(const char *sql)
{
    PGconn *c = test_connect();
    PGresult *r = PQexec(c, sql);
    long long v = 0;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    if (PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return v;
}

void
test_exec(const char *sql)
{
    PGconn *c = test_connect();
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    PQclear(r);
    PQfinish(c);
}

int
test_pg_ctl(const char *action)
{
    const char *script = getenv("DESKDB_PG_SCRIPT");
    char cmd[1024];

    if (script == NULL) {
        fail_msg("DESKDB_PG_SCRIPT is not set: run through scripts/test");
    }
    snprintf(cmd, sizeof(cmd), "'%s' %s", script, action);
    return system(cmd);
}

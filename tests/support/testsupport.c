/* SPDX-License-Identifier: MIT */
/* Helpers shared by the integration tests: the test database and its server. */
#include "support/testsupport.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int stopped_pid;

void
test_backend_stop(int pid)
{
    if (kill(pid, SIGSTOP) != 0) {
        fail_msg("kill(%d, SIGSTOP): %s (the test must run as root or as "
                 "the postgres user)",
                 pid,
                 strerror(errno));
    }
    stopped_pid = pid;
}

void
test_backend_resume(void)
{
    char sql[128];

    if (stopped_pid <= 0)
        return;
    kill(stopped_pid, SIGCONT);
    snprintf(sql,
             sizeof(sql),
             "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE pid = %d",
             stopped_pid);
    stopped_pid = 0;
    test_exec(sql);
}

int
test_backend_stopped(void)
{
    return stopped_pid;
}

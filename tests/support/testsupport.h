/* SPDX-License-Identifier: MIT */
/* Helpers shared by the integration tests: the test database and its server. */
#ifndef DESKDB_TESTS_SUPPORT_H
#define DESKDB_TESTS_SUPPORT_H

#include <libpq-fe.h>
#include <stdbool.h>

/* The DSN of the throwaway PostgreSQL that scripts/test started.  Aborts the
 * test program (exit 1, loudly) when DESKDB_TEST_DSN is not set: a missing
 * server is a failure, never a silent pass. */
const char *test_dsn(void);

/* A fresh connection to the test database; fails the test on error. */
PGconn *test_connect(void);

/* Run `sql` on a new connection and return the first column of the first
 * row as an integer (0 if no rows).  Fails the test on error. */
long long test_query_int(const char *sql);

/* Run `sql` (any number of statements) on a new connection; fails on error. */
void test_exec(const char *sql);

/*
 * Stop a server backend with SIGSTOP: a stalled server or network, where no
 * TCP or server-side timeout fires.  Needs root or the postgres user.  One
 * backend at a time; test_backend_resume() (call it in teardown) sends
 * SIGCONT and terminates it, whatever the test did.
 */
void test_backend_stop(int pid);
void test_backend_resume(void);

/* The pid stopped by test_backend_stop(), or 0. */
int test_backend_stopped(void);

/* Run scripts/pg with `action` (start, stop, restart); returns its status. */
int test_pg_ctl(const char *action);

#endif

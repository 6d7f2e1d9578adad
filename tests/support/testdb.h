/* SPDX-License-Identifier: MIT */
/* Throwaway databases on the test server, for tests that change schemas. */
#ifndef DESKDB_TESTS_TESTDB_H
#define DESKDB_TESTS_TESTDB_H

#include <libpq-fe.h>

/* A database created for one test: its name and a libpq connection string
 * (the test server's, with dbname replaced). */
struct test_db {
    char name[64];
    char *dsn;
};

/* CREATE DATABASE <prefix>_<pid>_<n> on the server of test_dsn(); fails
 * the test on error. */
void test_db_create(struct test_db *db, const char *prefix);

/* DROP DATABASE ... WITH (FORCE) and free the DSN; safe to call twice. */
void test_db_drop(struct test_db *db);

PGconn *test_db_connect(const struct test_db *db);

/* Run `sql` (any number of statements) on a new connection; fails the test
 * on error. */
void test_db_exec(const struct test_db *db, const char *sql);

/* First column of the first row as an integer (0 without rows). */
long long test_db_query_int(const struct test_db *db, const char *sql);

/* First column of the first row as a string ("" without rows or when
 * NULL); the caller frees it. */
char *test_db_query_text(const struct test_db *db, const char *sql);

/* Run `sql` on `c` and return its SQLSTATE ("" on success) in `state`. */
const char *test_sqlstate(PGconn *c, const char *sql, char state[6]);

#endif

/* SPDX-License-Identifier: MIT */
/* The query log: a ring of recent statements and a ring of slow ones,
 * with parameter values never stored. */
#ifndef DESKDB_CORE_QUERYLOG_H
#define DESKDB_CORE_QUERYLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* Statement text longer than this is cut (and marked truncated). */
#define QUERYLOG_SQL_MAX 1024

/*
 * One statement.  `sql` is the text as sent, with parameters as $1..$n;
 * their values are never recorded.  `code` is the deskdb status of the
 * statement (0 ok, DESKDB_EPG, DESKDB_ETIMEOUT, ...), `sqlstate` the
 * server's code when there was one.
 */
struct querylog_entry {
    uint64_t seq;        /* 1 for the first statement ever recorded */
    int64_t at_ns;       /* wall clock when the statement finished */
    int64_t duration_ns; /* send to last result */
    int64_t rows;        /* rows returned or affected; -1 if not known */
    int nparams;
    int code;
    char sqlstate[6];
    bool truncated;
    char sql[QUERYLOG_SQL_MAX];
};

enum querylog_ring {
    QUERYLOG_RECENT, /* every statement */
    QUERYLOG_SLOW,   /* statements at or over the slow threshold */
};

struct querylog;

/* Rings of `recent` and `slow` entries (0 disables a ring).  NULL on
 * allocation failure. */
struct querylog *querylog_create(size_t recent, size_t slow) DESKDB_MUSTCHECK;

/* querylog_destroy(NULL) is a no-op. */
void querylog_destroy(struct querylog *q);

/*
 * Record one statement.  `slow` also puts it in the slow ring.  `sql` is
 * copied (cut at QUERYLOG_SQL_MAX - 1 bytes, on a UTF-8 boundary); `seq`
 * is assigned here.  Thread safe; never blocks on I/O.
 */
void querylog_record(struct querylog *q,
                     const char *sql,
                     int nparams,
                     int64_t at_ns,
                     int64_t duration_ns,
                     int64_t rows,
                     int code,
                     const char *sqlstate,
                     bool slow);

/*
 * Copy a ring, newest first, into a new array the caller free()s.  `*n`
 * receives the number of entries (the array is NULL when 0), `*total`
 * (may be NULL) how many statements the ring has ever recorded.  Returns
 * 0 or DESKDB_ENOMEM.
 */
int querylog_snapshot(struct querylog *q,
                      enum querylog_ring ring,
                      struct querylog_entry **out,
                      size_t *n,
                      uint64_t *total) DESKDB_MUSTCHECK;

#endif

/* SPDX-License-Identifier: MIT */
/* Error codes and the one-line error message every fallible call can fill. */
#ifndef DESKDB_CORE_ERR_H
#define DESKDB_CORE_ERR_H

#include <stddef.h>

#define DESKDB_MUSTCHECK    __attribute__((warn_unused_result))
#define DESKDB_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Status codes: 0 is success, failures are negative. */
enum deskdb_code {
    DESKDB_OK = 0,
    DESKDB_ENOMEM = -1,   /* allocation failed */
    DESKDB_EINVAL = -2,   /* bad argument, input or configuration */
    DESKDB_EIO = -3,      /* file or socket error; message has strerror */
    DESKDB_EPG = -4,      /* PostgreSQL reported an error; sqlstate is set */
    DESKDB_ETIMEOUT = -5, /* a deadline passed */
    DESKDB_EBUSY = -6,    /* resource exhausted (pool full, queue full) */
    DESKDB_ECLOSED = -7,  /* the object is shutting down */
    DESKDB_EHTTP = -8,    /* an HTTP exchange failed */
    DESKDB_ECONN = -9,    /* the database connection was lost */
    DESKDB_EEXIST = -10,  /* the thing already exists (duplicates) */
    DESKDB_ENOTFOUND = -11,
};

/*
 * What failed and why, lower-case, no trailing period, secrets never
 * included.  `sqlstate` is the five-character SQLSTATE when code is
 * DESKDB_EPG (and sometimes DESKDB_ECONN), otherwise empty.
 */
struct deskdb_err {
    int code;
    char sqlstate[6];
    char msg[512];
};

/* Fill `err` (which may be NULL) and return `code`, for `return err_set(...)`.
 */
int err_set(struct deskdb_err *err, int code, const char *fmt, ...)
    DESKDB_PRINTF(3, 4);

/* Prefix the message already in `err` with more context: "ctx: old". */
void err_prefix(struct deskdb_err *err, const char *fmt, ...)
    DESKDB_PRINTF(2, 3);

/* Reset to "no error". */
void err_clear(struct deskdb_err *err);

/* Show control characters in err->msg as '?', so that a message quoting
 * outside input (a YAML value, a cron expression) stays one line.  Returns
 * err->code (DESKDB_EINVAL if err is NULL), for `return
 * err_one_line(err)`. */
int err_one_line(struct deskdb_err *err);

/* Stable lower-case name of a code, e.g. "timeout". */
const char *err_code_name(int code);

#endif

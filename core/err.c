/* SPDX-License-Identifier: MIT */
/* The error value filled by every fallible deskdb function. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
err_set(struct deskdb_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return code;
    err->code = code;
    err->sqlstate[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void
err_prefix(struct deskdb_err *err, const char *fmt, ...)
{
    char joined[sizeof(err->msg) * 2];
    size_t n;
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(joined, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(joined);
    memcpy(joined + n, ": ", 2);
    memcpy(joined + n + 2, err->msg, strlen(err->msg) + 1);
    memcpy(err->msg, joined, sizeof(err->msg) - 1);
    err->msg[sizeof(err->msg) - 1] = '\0';
}

void
err_clear(struct deskdb_err *err)
{
    if (err == NULL)
        return;
    err->code = DESKDB_OK;
    err->sqlstate[0] = '\0';
    err->msg[0] = '\0';
}

int
err_one_line(struct deskdb_err *err)
{
    if (err == NULL)
        return DESKDB_EINVAL;
    for (char *p = err->msg; *p != '\0'; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7F)
            *p = '?';
    }
    return err->code;
}

const char *
err_code_name(int code)
{
    switch (code) {
    case DESKDB_OK:
        return "ok";
    case DESKDB_ENOMEM:
        return "out_of_memory";
    case DESKDB_EINVAL:
        return "invalid";
    case DESKDB_EIO:
        return "io";
    case DESKDB_EPG:
        return "postgres";
    case DESKDB_ETIMEOUT:
        return "timeout";
    case DESKDB_EBUSY:
        return "busy";
    case DESKDB_ECLOSED:
        return "closed";
    case DESKDB_EHTTP:
        return "http";
    case DESKDB_ECONN:
        return "connection";
    case DESKDB_EEXIST:
        return "exists";
    case DESKDB_ENOTFOUND:
        return "not_found";
    default:
        return "unknown";
    }
}

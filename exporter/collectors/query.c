/* SPDX-License-Identifier: MIT */
/* Helpers the collectors share: running a statement on the collection's
 * connection, reading values, and turning columns into families. */
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/collectors/internal.h"

const char *const coll_reason_names[COLL_REASON_N] = {
    "timeout",
    "query",
    "connection",
    "cardinality_limit",
};

static enum coll_reason
reason_of(int rc)
{
    switch (rc) {
    case DESKDB_ETIMEOUT:
        return COLL_REASON_TIMEOUT;
    case DESKDB_ECONN:
    case DESKDB_ECLOSED:
        return COLL_REASON_CONNECTION;
    case DESKDB_EBUSY:
        return COLL_REASON_CARDINALITY;
    default:
        return COLL_REASON_QUERY;
    }
}

int
coll_query(struct coll_ctx *ctx,
           const char *sql,
           int nparams,
           const char *const *params,
           PGresult **res)
{
    int rc;

    ctx->statements++;
    rc = pool_query(ctx->conn, sql, nparams, params, res, &ctx->err);
    if (rc == 0 || rc == DESKDB_EPG)
        ctx->answered = true;
    if (rc != 0)
        ctx->reason = reason_of(rc);
    return rc;
}

int
coll_fail(struct coll_ctx *ctx,
          enum coll_reason reason,
          int code,
          const char *fmt,
          ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx->err.msg, sizeof(ctx->err.msg), fmt, ap);
    va_end(ap);
    ctx->err.code = code;
    ctx->err.sqlstate[0] = '\0';
    ctx->reason = reason;
    return code;
}

int
coll_rec_error(struct coll_ctx *ctx, int rc)
{
    if (rc == DESKDB_EBUSY)
        return coll_fail(ctx,
                         COLL_REASON_CARDINALITY,
                         rc,
                         "more than %d samples",
                         COLL_MAX_SAMPLES);
    if (rc == DESKDB_ENOMEM)
        return coll_fail(ctx, COLL_REASON_QUERY, rc, "out of memory");
    return coll_fail(ctx, COLL_REASON_QUERY, rc, "invalid family");
}

/* PostgreSQL prints numbers with '.' whatever the process locale is. */
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static locale_t c_locale;

static void
c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

double
coll_strtod(const char *s, char **end)
{
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0)
        return strtod(s, end);
    return strtod_l(s, end, c_locale);
}

bool
coll_value(const PGresult *res, int row, int col, double *out)
{
    const char *s;
    char *end;
    double v;

    if (PQgetisnull(res, row, col))
        return false;
    s = PQgetvalue(res, row, col);
    if (strcmp(s, "t") == 0 || strcmp(s, "f") == 0) {
        *out = s[0] == 't' ? 1 : 0;
        return true;
    }
    /* numeric and float8 text: digits, sign, point, exponent, or the
     * words NaN and Infinity, all of which strtod reads */
    v = coll_strtod(s, &end);
    if (end == s || *end != '\0')
        return false;
    *out = v;
    return true;
}

bool
coll_col_applies(const struct coll_col *col, int version)
{
    return (col->min_version == 0 || version >= col->min_version) &&
           (col->max_version == 0 || version < col->max_version);
}

int
coll_sql(struct coll_ctx *ctx,
         struct buf *b,
         const char *head,
         const struct coll_col *cols,
         size_t n,
         const char *tail)
{
    size_t i;
    int rc;

    buf_init(b, COLL_SQL_MAX);
    rc = buf_puts(b, head);
    for (i = 0; i < n && rc == 0; i++)
        if (coll_col_applies(&cols[i], ctx->version))
            rc = buf_printf(b, ", %s", cols[i].expr);
    if (rc == 0)
        rc = buf_puts(b, tail);
    if (rc != 0)
        return coll_fail(ctx,
                         COLL_REASON_QUERY,
                         DESKDB_ENOMEM,
                         "cannot build the statement");
    return 0;
}

/* One family: a sample per row whose value is not NULL. */
static int
emit_column(struct coll_ctx *ctx,
            const PGresult *res,
            const char *const *label_names,
            size_t n_labels,
            const struct coll_col *col,
            int value_col)
{
    const char *values[METRICS_MAX_LABELS];
    double v, scale = col->scale != 0 ? col->scale : 1;
    int rows = PQntuples(res), row, rc;
    size_t i;

    rc = rec_family(ctx->out, col->type, col->name, col->help, label_names);
    for (row = 0; row < rows && rc == 0; row++) {
        if (!coll_value(res, row, value_col, &v))
            continue;
        for (i = 0; i < n_labels; i++)
            values[i] = PQgetvalue(res, row, (int)i);
        rc = rec_sample(ctx->out, values, v * scale);
    }
    return rc;
}

int
coll_emit(struct coll_ctx *ctx,
          const PGresult *res,
          const char *const *label_names,
          int first,
          const struct coll_col *cols,
          size_t n)
{
    size_t n_labels = 0, i;
    int col = first, rc;

    while (label_names != NULL && label_names[n_labels] != NULL)
        n_labels++;
    if (n_labels > METRICS_MAX_LABELS || first < (int)n_labels)
        return coll_rec_error(ctx, DESKDB_EINVAL);
    for (i = 0; i < n; i++) {
        if (!coll_col_applies(&cols[i], ctx->version))
            continue;
        if (col >= PQnfields(res))
            return coll_fail(ctx,
                             COLL_REASON_QUERY,
                             DESKDB_EINVAL,
                             "%s: the result has %d columns",
                             cols[i].name,
                             PQnfields(res));
        rc = emit_column(ctx, res, label_names, n_labels, &cols[i], col++);
        if (rc != 0)
            return coll_rec_error(ctx, rc);
    }
    return 0;
}

int
coll_run_cols(struct coll_ctx *ctx,
              const char *head,
              const struct coll_col *cols,
              size_t n,
              const char *tail,
              const char *const *label_names)
{
    struct buf b;
    PGresult *res = NULL;
    size_t n_labels = 0;
    int rc;

    while (label_names != NULL && label_names[n_labels] != NULL)
        n_labels++;
    rc = coll_sql(ctx, &b, head, cols, n, tail);
    if (rc == 0)
        rc = coll_query(ctx, b.data, 0, NULL, &res);
    if (rc == 0)
        rc = coll_emit(ctx,
                       res,
                       label_names,
                       n_labels > 0 ? (int)n_labels : 1,
                       cols,
                       n);
    PQclear(res);
    buf_fini(&b);
    return rc;
}

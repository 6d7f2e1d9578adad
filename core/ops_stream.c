/* SPDX-License-Identifier: MIT */
/* The NDJSON runner: bounded line reading, one transaction per record or
 * one for the whole input (spooled so a retry can read it again), and one
 * result line per input line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/ops_internal.h"

/* ---- reading lines ----------------------------------------------------- */

struct reader {
    FILE *in;
    struct buf line; /* at most OPS_LINE_MAX bytes */
    long lineno;
    bool too_long;
};

static void
reader_init(struct reader *rd, FILE *in)
{
    memset(rd, 0, sizeof(*rd));
    rd->in = in;
    buf_init(&rd->line, OPS_LINE_MAX + 1);
}

/*
 * The next line into rd->line without its newline (and CR).  Bytes past
 * OPS_LINE_MAX are read and dropped, setting rd->too_long.  1: a line,
 * 0: end of input, or DESKDB_EIO / DESKDB_ENOMEM.
 */
static int
reader_next(struct reader *rd, struct deskdb_err *err)
{
    bool any = false;
    int ch;

    buf_reset(&rd->line);
    rd->too_long = false;
    while ((ch = getc(rd->in)) != EOF) {
        any = true;
        if (ch == '\n')
            break;
        if (rd->line.len >= OPS_LINE_MAX) {
            rd->too_long = true;
            continue;
        }
        if (buf_putc(&rd->line, (char)ch) != 0)
            return err_set(err, DESKDB_ENOMEM, "read input: out of memory");
    }
    if (ch == EOF && ferror(rd->in))
        return err_set(err,
                       DESKDB_EIO,
                       "read input: %s",
                       strerror(errno != 0 ? errno : EIO));
    if (!any)
        return 0;
    rd->lineno++;
    if (rd->line.len > 0 && rd->line.data[rd->line.len - 1] == '\r')
        rd->line.data[--rd->line.len] = '\0';
    /* A UTF-8 byte order mark, as some exporters write one. */
    if (rd->lineno == 1 && rd->line.len >= 3 &&
        memcmp(rd->line.data, "\xef\xbb\xbf", 3) == 0) {
        memmove(rd->line.data, rd->line.data + 3, rd->line.len - 2);
        rd->line.len -= 3;
    }
    return 1;
}

static bool
line_blank(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] != ' ' && b->data[i] != '\t' && b->data[i] != '\r')
            return false;
    }
    return true;
}

/* Validate the current line into `r` (a too long one fails). */
static int
record_from_line(struct ops_record *r,
                 const struct ops_op *op,
                 const struct ops_options *opt,
                 const struct reader *rd)
{
    if (!rd->too_long)
        return ops_record_prepare(r,
                                  op,
                                  opt,
                                  rd->line.data,
                                  rd->line.len,
                                  rd->lineno);
    memset(r, 0, sizeof(*r));
    r->line = rd->lineno;
    r->status = OPS_FAILED;
    r->code = "invalid_input";
    return err_set(&r->err,
                   DESKDB_EINVAL,
                   "line is longer than %d bytes",
                   OPS_LINE_MAX);
}

/* ---- writing results --------------------------------------------------- */

/* One line; flushed when `flush`, so a reader of `out` sees each result
 * as soon as its record is done. */
static int
write_text(FILE *out, const char *text, bool flush, struct deskdb_err *err)
{
    if (fputs(text, out) == EOF || putc('\n', out) == EOF ||
        (flush && fflush(out) != 0))
        return err_set(err, DESKDB_EIO, "write results: %s", strerror(errno));
    return 0;
}

static void
count(struct ops_summary *sum, enum ops_status s)
{
    switch (s) {
    case OPS_APPLIED:
        sum->applied++;
        break;
    case OPS_DUPLICATE:
        sum->duplicates++;
        break;
    case OPS_FAILED:
        sum->failed++;
        break;
    case OPS_NOT_APPLIED:
        sum->not_applied++;
        break;
    case OPS_UNKNOWN:
        sum->unknown++;
        break;
    }
}

static int
write_record(FILE *out,
             struct ops_summary *sum,
             const struct ops_record *r,
             struct deskdb_err *err)
{
    char *text = ops_record_line(r);
    int rc;

    if (text == NULL)
        return err_set(err, DESKDB_ENOMEM, "write results: out of memory");
    if (sum != NULL)
        count(sum, r->status);
    rc = write_text(out, text, true, err);
    free(text);
    return rc;
}

/* ---- one transaction per record ---------------------------------------- */

struct each {
    struct pool *pool;
    const struct ops_op *op;
    const struct ops_options *opt;
    long down_at; /* line where the database failed, 0 while it works */
};

/* A record and the operation it is for: the argument of each_txn(). */
struct each_record {
    struct ops_record r;
    const struct ops_op *op;
    const struct ops_options *opt;
};

static int
each_txn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct each_record *er = arg;

    return ops_record_exec(&er->r, er->op, er->opt, t, err);
}

static void
each_one(struct each *e, struct each_record *er, const struct reader *rd)
{
    struct deskdb_err err;
    int rc;

    if (record_from_line(&er->r, e->op, e->opt, rd) != 0)
        return;
    if (e->down_at > 0) {
        er->r.status = OPS_NOT_APPLIED;
        er->r.code = "unavailable";
        err_set(&er->r.err,
                DESKDB_ECONN,
                "not attempted: the database connection failed at line %ld",
                e->down_at);
        return;
    }
    err_clear(&err);
    er->op = e->op;
    er->opt = e->opt;
    rc = txn_run(e->pool, &e->opt->txn, each_txn, er, &err);
    if (rc == 0)
        return;
    ops_record_fail(&er->r, rc, &err);
    /* Bad records do not stop a feed; a database that is gone does. */
    if (rc == DESKDB_ECONN || rc == DESKDB_ECLOSED)
        e->down_at = er->r.line;
}

static int
run_each(struct each *e,
         FILE *in,
         FILE *out,
         struct ops_summary *sum,
         struct deskdb_err *err)
{
    struct each_record er;
    struct reader rd;
    int rc;

    reader_init(&rd, in);
    while ((rc = reader_next(&rd, err)) == 1) {
        sum->lines++;
        if (!rd.too_long && line_blank(&rd.line))
            continue;
        sum->records++;
        each_one(e, &er, &rd);
        rc = write_record(out, sum, &er.r, err);
        ops_record_fini(&er.r);
        if (rc != 0)
            break;
    }
    buf_fini(&rd.line);
    return rc;
}

/* ---- the whole input in one transaction -------------------------------- */

/*
 * The spool holds one entry per non-blank line: "LINE V LEN\n" and the
 * input text for a valid record, or "LINE F LEN\n" and its result line
 * for one that failed validation.
 */
struct all {
    struct pool *pool;
    const struct ops_op *op;
    const struct ops_options *opt;
    FILE *spool;
    FILE *results; /* result lines of the current attempt */
    struct buf text;
    long invalid;             /* records that failed validation */
    long first_invalid;       /* the first of them */
    struct ops_record failed; /* the record that failed in the transaction */
    bool have_failed;
    uint64_t applied, duplicates; /* of the current attempt */
};

static int
spool_put(FILE *f, long line, char kind, const char *text, size_t len)
{
    if (fprintf(f, "%ld %c %zu\n", line, kind, len) < 0 ||
        fwrite(text, 1, len, f) != len)
        return -1;
    return 0;
}

/* The next entry into a->text; 1, 0 at the end, -1 on a read error. */
static int
spool_get(struct all *a, long *line, char *kind)
{
    size_t len;
    int n = fscanf(a->spool, "%ld %c %zu", line, kind, &len);

    if (n == EOF)
        return ferror(a->spool) ? -1 : 0;
    if (n != 3 || getc(a->spool) != '\n' || len > OPS_LINE_MAX)
        return -1;
    buf_reset(&a->text);
    for (size_t i = 0; i < len; i++) {
        int ch = getc(a->spool);

        if (ch == EOF || buf_putc(&a->text, (char)ch) != 0)
            return -1;
    }
    return 1;
}

static int
spool_input(struct all *a,
            FILE *in,
            struct ops_summary *sum,
            struct deskdb_err *err)
{
    struct ops_record r;
    struct reader rd;
    char *text;
    int rc;

    reader_init(&rd, in);
    while ((rc = reader_next(&rd, err)) == 1) {
        sum->lines++;
        if (!rd.too_long && line_blank(&rd.line))
            continue;
        sum->records++;
        if (record_from_line(&r, a->op, a->opt, &rd) == 0) {
            rc = spool_put(a->spool, rd.lineno, 'V', rd.line.data, rd.line.len);
        } else {
            if (a->invalid++ == 0)
                a->first_invalid = rd.lineno;
            text = ops_record_line(&r);
            rc = text == NULL
                     ? -1
                     : spool_put(a->spool, rd.lineno, 'F', text, strlen(text));
            free(text);
        }
        ops_record_fini(&r);
        if (rc != 0) {
            rc = err_set(err, DESKDB_EIO, "spool input: %s", strerror(errno));
            break;
        }
    }
    buf_fini(&rd.line);
    return rc;
}

static int
all_txn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct all *a = arg;
    struct ops_record r;
    long line;
    char kind;
    int rc = 0, got;
    char *text;

    ops_record_fini(&a->failed);
    a->have_failed = false;
    a->applied = a->duplicates = 0;
    if (fflush(a->results) != 0 || ftruncate(fileno(a->results), 0) != 0 ||
        fseek(a->spool, 0, SEEK_SET) != 0 || fseek(a->results, 0, SEEK_SET))
        return err_set(err, DESKDB_EIO, "rewind spool: %s", strerror(errno));
    while ((got = spool_get(a, &line, &kind)) == 1) {
        rc = ops_record_prepare(&r,
                                a->op,
                                a->opt,
                                a->text.data,
                                a->text.len,
                                line);
        if (rc == 0)
            rc = ops_record_exec(&r, a->op, a->opt, t, err);
        else
            *err = r.err;
        if (rc != 0) {
            ops_record_fail(&r, rc, err);
            a->failed = r;
            a->have_failed = true;
            return rc;
        }
        if (r.status == OPS_APPLIED)
            a->applied++;
        else
            a->duplicates++;
        text = ops_record_line(&r);
        if (text == NULL)
            rc = err_set(err, DESKDB_ENOMEM, "write results: out of memory");
        else
            rc = write_text(a->results, text, false, err);
        free(text);
        ops_record_fini(&r);
        if (rc != 0)
            return rc;
    }
    if (got < 0)
        return err_set(err, DESKDB_EIO, "read spool: %s", strerror(errno));
    return 0;
}

/* Every spooled line but `skip`, reported with `status`, `code` and the
 * message `msg`; lines that failed validation with their own result. */
static int
report_others(struct all *a,
              FILE *out,
              struct ops_summary *sum,
              const struct ops_record *failed,
              enum ops_status status,
              const char *code,
              const char *msg,
              struct deskdb_err *err)
{
    struct ops_record r;
    long line;
    char kind;
    int got, rc = 0;

    if (fseek(a->spool, 0, SEEK_SET) != 0)
        return err_set(err, DESKDB_EIO, "rewind spool: %s", strerror(errno));
    while (rc == 0 && (got = spool_get(a, &line, &kind)) == 1) {
        if (kind == 'F') {
            sum->failed++;
            rc = write_text(out, a->text.data, true, err);
            continue;
        }
        if (failed != NULL && line == failed->line) {
            rc = write_record(out, sum, failed, err);
            continue;
        }
        (void)ops_record_prepare(&r,
                                 a->op,
                                 a->opt,
                                 a->text.data,
                                 a->text.len,
                                 line);
        r.status = status;
        r.code = code;
        err_set(&r.err, DESKDB_EINVAL, "%s", msg);
        rc = write_record(out, sum, &r, err);
        ops_record_fini(&r);
    }
    if (rc == 0 && got < 0)
        rc = err_set(err, DESKDB_EIO, "read spool: %s", strerror(errno));
    return rc;
}

static int
copy_results(struct all *a, FILE *out, struct deskdb_err *err)
{
    char chunk[65536];
    size_t n;

    if (fflush(a->results) != 0 || fseek(a->results, 0, SEEK_SET) != 0)
        return err_set(err, DESKDB_EIO, "read results: %s", strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), a->results)) > 0) {
        if (fwrite(chunk, 1, n, out) != n)
            return err_set(err,
                           DESKDB_EIO,
                           "write results: %s",
                           strerror(errno));
    }
    if (ferror(a->results) || fflush(out) != 0)
        return err_set(err, DESKDB_EIO, "copy results: %s", strerror(errno));
    return 0;
}

/* After the transaction: the results, or why nothing was applied. */
static int
all_report(struct all *a,
           FILE *out,
           struct ops_summary *sum,
           int rc,
           const struct deskdb_err *terr,
           struct deskdb_err *err)
{
    char msg[sizeof(terr->msg) + 64];

    if (rc == 0) {
        sum->applied += a->applied;
        sum->duplicates += a->duplicates;
        return copy_results(a, out, err);
    }
    if (a->have_failed) {
        snprintf(msg,
                 sizeof(msg),
                 "not applied: line %ld failed and the whole input was "
                 "rolled back",
                 a->failed.line);
        return report_others(a,
                             out,
                             sum,
                             &a->failed,
                             OPS_NOT_APPLIED,
                             "rolled_back",
                             msg,
                             err);
    }
    if (txn_commit_unknown(terr))
        return report_others(a,
                             out,
                             sum,
                             NULL,
                             OPS_UNKNOWN,
                             "commit_unknown",
                             "the connection was lost during COMMIT: the "
                             "input may or may not have been applied; "
                             "running it again applies no record with an "
                             "external_id twice",
                             err);
    snprintf(msg, sizeof(msg), "not applied: %s", terr->msg);
    return report_others(a,
                         out,
                         sum,
                         NULL,
                         OPS_NOT_APPLIED,
                         ops_code_for(rc, terr),
                         msg,
                         err);
}

static int
run_all(struct all *a,
        FILE *in,
        FILE *out,
        struct ops_summary *sum,
        struct deskdb_err *err)
{
    struct deskdb_err terr;
    char msg[160];
    int rc;

    a->spool = tmpfile();
    a->results = tmpfile();
    if (a->spool == NULL || a->results == NULL)
        return err_set(err, DESKDB_EIO, "temporary file: %s", strerror(errno));
    rc = spool_input(a, in, sum, err);
    if (rc != 0)
        return rc;
    if (a->invalid > 0) {
        snprintf(msg,
                 sizeof(msg),
                 "not applied: %ld line(s) failed validation, the first at "
                 "line %ld, and nothing of the input is applied",
                 a->invalid,
                 a->first_invalid);
        return report_others(a,
                             out,
                             sum,
                             NULL,
                             OPS_NOT_APPLIED,
                             "rolled_back",
                             msg,
                             err);
    }
    if (sum->records == 0)
        return 0;
    err_clear(&terr);
    rc = txn_run(a->pool, &a->opt->txn, all_txn, a, &terr);
    return all_report(a, out, sum, rc, &terr, err);
}

int
ops_run_stream(struct pool *pool,
               const struct ops_op *op,
               const struct ops_options *opt,
               FILE *in,
               FILE *out,
               struct ops_summary *sum,
               struct deskdb_err *err)
{
    struct each e = {pool, op, opt, 0};
    struct all a = {.pool = pool, .op = op, .opt = opt};
    struct ops_summary local;
    int rc;

    if (sum == NULL)
        sum = &local;
    memset(sum, 0, sizeof(*sum));
    if (!opt->all_or_nothing)
        return run_each(&e, in, out, sum, err);
    buf_init(&a.text, OPS_LINE_MAX + 1);
    rc = run_all(&a, in, out, sum, err);
    ops_record_fini(&a.failed);
    buf_fini(&a.text);
    if (a.spool != NULL)
        fclose(a.spool);
    if (a.results != NULL)
        fclose(a.results);
    return rc;
}

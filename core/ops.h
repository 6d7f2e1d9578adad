/* SPDX-License-Identifier: MIT */
/* The seed's atomic operations (create_deal, attach_customer, register_user,
 * update_email_status, next_sequence) on JSON input, and the NDJSON runner
 * behind `deskdb op` and import jobs. */
#ifndef DESKDB_CORE_OPS_H
#define DESKDB_CORE_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/err.h"
#include "core/txn.h"

struct pool;
struct ops_op;

/* The longest input line (one JSON record) accepted, in bytes without the
 * newline.  A longer line is reported as failed; it is never buffered
 * whole. */
#define OPS_LINE_MAX (1 << 20)

/* The operation called `name`, or NULL. */
const struct ops_op *ops_find(const char *name);

/* The i-th operation of the table (for listings), NULL past the end. */
const struct ops_op *ops_at(size_t i);

const char *ops_name(const struct ops_op *op);

/* Whether `s` is a UUID in 8-4-4-4-12 hex digits (either case). */
bool ops_uuid_valid(const char *s);

struct ops_options {
    /* Isolation, retries, backoff and time budget of each transaction:
     * one per record, or one for the whole input with all_or_nothing.
     * The tenant is set by the operation itself; `settings` should stay
     * empty. */
    struct txn_options txn;
    /* A dealership UUID: records naming any other dealership_id are
     * refused (code "forbidden") before anything runs.  NULL: any. */
    const char *dealership;
    /* The whole input is one transaction: one failure and nothing of it
     * is applied. */
    bool all_or_nothing;
    /* update_email_status sends a NOTIFY on this channel for each status
     * it changes (delivered on commit only).  NULL: none. */
    const char *notify_channel;
};

/*
 * Options from the configuration: the retries, backoff and timeout of
 * `transactions:`, but always READ COMMITTED, and the notification channel
 * of `operations:` (borrowed from `cfg`).  The operations serialise what
 * must be serialised with row locks (the per-dealership sequence row, the
 * vehicle, the deal, the e-mail, the ledger key); SERIALIZABLE would add
 * nothing but 40001 retries on the sequence row.
 */
void ops_options_from_config(const struct config *cfg, struct ops_options *out);

/* What happened to one record. */
enum ops_status {
    OPS_APPLIED,     /* the operation ran and committed */
    OPS_DUPLICATE,   /* its external_id was applied before: nothing ran */
    OPS_FAILED,      /* refused or failed; nothing of it remains */
    OPS_NOT_APPLIED, /* valid, but rolled back with an all-or-nothing
                        input, or not attempted after the database failed */
    OPS_UNKNOWN,     /* the connection was lost during COMMIT */
};

/* "applied", "duplicate", "failed", "not_applied", "unknown". */
const char *ops_status_name(enum ops_status s);

/*
 * Run `op` on one JSON object of `len` bytes: validate it completely
 * (types, required and unknown fields, UUIDs, lengths, ranges, enums),
 * then apply it in one transaction on `pool` (retried as txn_run() does)
 * with app.dealership_id set to its dealership_id for that transaction.
 * A record with external_id already in deskdb.import_ledger is not applied
 * again: its stored result comes back with status "duplicate".
 *
 * `*result` (caller frees; NULL only on allocation failure) receives the
 * result as one line of compact JSON without a newline, e.g.
 * {"ok":true,"line":3,"status":"applied",...} or
 * {"ok":false,"line":3,"status":"failed","code":"not_found","error":"..."}
 * ("line" only when `line` > 0).  `*status` (may be NULL) says which.
 * Returns 0 when the record was applied or was a duplicate, otherwise the
 * failure: DESKDB_EINVAL (bad input), DESKDB_ENOTFOUND (a referenced row
 * is not in the dealership), DESKDB_EEXIST (a conflict: name taken,
 * vehicle not available, status change not allowed), DESKDB_EPG,
 * DESKDB_ETIMEOUT, DESKDB_ECONN (with TXN_SQLSTATE_COMMIT_UNKNOWN when the
 * outcome is unknown), DESKDB_ENOMEM; `err` says why in one line.  Blocks.
 */
int ops_apply(struct pool *pool,
              const struct ops_op *op,
              const struct ops_options *opt,
              const char *input,
              size_t len,
              long line,
              char **result,
              enum ops_status *status,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

struct ops_summary {
    uint64_t lines;       /* lines read, blank ones included */
    uint64_t records;     /* lines that were not blank */
    uint64_t applied;     /* OPS_APPLIED */
    uint64_t duplicates;  /* OPS_DUPLICATE */
    uint64_t failed;      /* OPS_FAILED */
    uint64_t not_applied; /* OPS_NOT_APPLIED */
    uint64_t unknown;     /* OPS_UNKNOWN */
};

/*
 * Read NDJSON from `in`, one input object per line, and write one result
 * line per non-blank input line to `out` (flushed after each), as
 * ops_apply() formats them with "line" numbered from 1 (blank lines are
 * skipped but counted).  A line longer than OPS_LINE_MAX fails without
 * being buffered.  A leading UTF-8 byte order mark and a CR before the
 * newline are ignored.
 *
 * Each record is its own transaction and a failed record does not stop
 * the others, except that once the database connection fails (after the
 * transaction manager's retries) the remaining records are reported
 * "not_applied" without being attempted.  With opt->all_or_nothing, every
 * line is validated first, then all records run in one transaction (the
 * input is spooled to a temporary file so that a retried transaction can
 * read it again); if any record fails, nothing is applied, the failing
 * line is reported and every other line is reported "not_applied"; results
 * are written only once the outcome is known.
 *
 * Returns 0 once the whole input was processed (whatever happened to the
 * records: see `sum`), or DESKDB_EIO (reading `in` or writing `out`, the
 * temporary files), DESKDB_ENOMEM.  Blocks.
 */
int ops_run_stream(struct pool *pool,
                   const struct ops_op *op,
                   const struct ops_options *opt,
                   FILE *in,
                   FILE *out,
                   struct ops_summary *sum,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif

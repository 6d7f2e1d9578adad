/* SPDX-License-Identifier: MIT */
/* Job SQL text: run placeholders turned into bind parameters, and the
 * statement checks made when the configuration is loaded. */
#ifndef DESKDB_JOBS_SQLTEXT_H
#define DESKDB_JOBS_SQLTEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/*
 * Job SQL may say ${run.id} (the deskdb.job_runs id of the run, decimal)
 * and ${run.scheduled_for} (the fire time, ISO-8601 UTC such as
 * "2025-03-09T07:00:00Z").  They are never spliced into the SQL: each
 * distinct placeholder becomes one bind parameter ($1, $2) and the value
 * travels separately, so PostgreSQL infers its type from the context
 * (write ${run.id}::bigint or ${run.scheduled_for}::timestamptz where it
 * cannot).  A placeholder inside a string literal, a quoted identifier or
 * a dollar-quoted body is an error rather than silently left as text, and
 * so are $n parameters of the user's own.  Comments are left alone.
 */
enum sqltext_value {
    SQLTEXT_RUN_ID,
    SQLTEXT_SCHEDULED_FOR,
};

#define SQLTEXT_MAX_PARAMS 2

struct sqltext {
    char *sql;   /* the text with $1/$2 in place of the placeholders */
    int nparams; /* 0..SQLTEXT_MAX_PARAMS */
    enum sqltext_value values[SQLTEXT_MAX_PARAMS]; /* what $k+1 carries */
};

/*
 * Compile `text` into `out` (owned by the caller: sqltext_fini()).
 * Errors (DESKDB_EINVAL, one line naming the line of the text when it
 * has several): an unterminated quote or comment, an unknown ${...},
 * a placeholder inside quotes, a $n parameter; DESKDB_ENOMEM.
 */
int sqltext_compile(const char *text,
                    struct sqltext *out,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Free what sqltext_compile() made; safe on a zeroed or freed struct. */
void sqltext_fini(struct sqltext *t);

/* The parameter values in $n order, borrowed from the arguments. */
void sqltext_params(const struct sqltext *t,
                    const char *run_id,
                    const char *scheduled_for,
                    const char *out[SQLTEXT_MAX_PARAMS]);

/*
 * Check that `text` holds exactly one statement.  `what` names it in the
 * message ("sql", "only_if", "step 'release'").  DESKDB_EINVAL otherwise.
 */
int sqltext_check_single(const char *text,
                         const char *what,
                         struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Why the statement `stmt` (one statement, `len` bytes) cannot run inside
 * a transaction block, e.g. "VACUUM", "CREATE INDEX CONCURRENTLY" or
 * "REINDEX DATABASE", or NULL when it can.  A token scan: literals,
 * quoted identifiers and comments are never mistaken for keywords.
 */
const char *sqltext_non_transactional(const char *stmt, size_t len);

/* Whether the statement is transaction control (BEGIN, START
 * TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE,
 * PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED), which deskdb issues
 * itself; or COPY to or from the client, which jobs cannot feed. */
bool sqltext_is_transaction_control(const char *stmt, size_t len);
bool sqltext_is_client_copy(const char *stmt, size_t len);

/*
 * Check an SQL fragment that deskdb wraps in its own statement (a purge
 * `where` or `order_by`, a create_index `definition`): it must lex,
 * contain no semicolon and balance its parentheses.
 */
int sqltext_check_fragment(const char *text,
                           const char *what,
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif

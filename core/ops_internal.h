/* SPDX-License-Identifier: MIT */
/* What the operation files share: the operation table entry, input field
 * specifications, one record's state, and the steps every operation uses
 * (tenant, ledger, references, sequences, customers, audit log). */
#ifndef DESKDB_CORE_OPS_INTERNAL_H
#define DESKDB_CORE_OPS_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/ops.h"
#include "core/txn.h"

#define OPS_UUID_LEN 36 /* 8-4-4-4-12 */
#define OPS_NUM_MAX  48 /* a decimal or integer as text, with its NUL */

/* ---- input validation (ops_input.c) ----------------------------------- */

enum ops_ftype {
    OPS_F_UUID,    /* 8-4-4-4-12 hex digits */
    OPS_F_TEXT,    /* one line of text: min..max characters, not blank */
    OPS_F_NAME,    /* a username: min..max of A-Z a-z 0-9 . _ - @ */
    OPS_F_EMAIL,   /* local@domain.tld, at most 254 bytes */
    OPS_F_SECRET,  /* a crypt(3) hash; never echoed */
    OPS_F_INT,     /* a JSON integer in min..max */
    OPS_F_DECIMAL, /* a JSON number or decimal string in min..max */
    OPS_F_ENUM,    /* one of `choices` */
    OPS_F_OBJECT,  /* a nested object described by `fields` */
};

struct ops_field {
    const char *name; /* NULL ends a table */
    enum ops_ftype type;
    bool required;
    double min, max;             /* characters, or value */
    int scale;                   /* DECIMAL: most digits after the point */
    const char *const *choices;  /* ENUM: NULL-terminated */
    const struct ops_field *sub; /* OBJECT */
};

/*
 * Check `obj` against `fields`: every key known, every required field
 * present and not null, every value of the right type, syntax, length and
 * range.  `prefix` ("" at the top) names nested fields in messages
 * ("customer.first_name").  DESKDB_EINVAL with a message naming the field;
 * values are never quoted for OPS_F_SECRET.  Pure.
 */
int ops_input_check(const json_t *obj,
                    const struct ops_field *fields,
                    const char *prefix,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;

/* A JSON number or decimal string as canonical text ("8.9", "-12",
 * "1000.50"), or -1 if it is neither. */
int ops_decimal_text(const json_t *v, char out[OPS_NUM_MAX]);

/* The string value of obj[key], NULL when absent or null. */
const char *ops_str(const json_t *obj, const char *key);

/* obj[key] (an integer or decimal) as text in `buf`, NULL when absent. */
const char *ops_num(const json_t *obj, const char *key, char buf[OPS_NUM_MAX]);

/* ---- operations -------------------------------------------------------- */

/* One record while it runs inside a transaction. */
struct ops_ctx {
    struct txn *t;
    const json_t *in;           /* the validated input object */
    const char *dealership;     /* in["dealership_id"] */
    const char *external_id;    /* in["external_id"], NULL if absent */
    const char *actor;          /* in["actor_id"], NULL if absent */
    const char *notify_channel; /* ops_options.notify_channel */
    json_t *result;             /* what run() built; owned by the record */
};

struct ops_op {
    const char *name;
    const struct ops_field *fields;
    /* Rules across fields (this or that, not both); NULL if none. */
    int (*check)(const json_t *in, struct deskdb_err *err);
    /* The steps, on c->t; set c->result on success.  Errors as
     * ops_apply() documents.  Must have no effect outside the database:
     * it may run again after a retry. */
    int (*run)(struct ops_ctx *c, struct deskdb_err *err);
};

extern const struct ops_op ops_op_create_deal;
extern const struct ops_op ops_op_attach_customer;
extern const struct ops_op ops_op_register_user;
extern const struct ops_op ops_op_update_email_status;
extern const struct ops_op ops_op_next_sequence;

/* Fields every operation takes. */
/* clang-format off */
#define OPS_COMMON_FIELDS                                                 \
    {.name = "external_id", .type = OPS_F_TEXT, .min = 1, .max = 200},    \
    {.name = "dealership_id", .type = OPS_F_UUID, .required = true},      \
    {.name = "actor_id", .type = OPS_F_UUID}
/* clang-format on */

/* Whether an e-mail of `direction` may go from status `from` to `to`
 * (ops_email.c).  Pure. */
bool ops_email_transition_allowed(const char *direction,
                                  const char *from,
                                  const char *to);

/* Lower-case every UUID field of a validated `obj`, so that ids compare
 * and print as PostgreSQL prints them. */
void ops_input_normalize(json_t *obj, const struct ops_field *fields);

/* ---- steps (ops_sql.c) ------------------------------------------------- */

struct pg_result;

/* txn_query() with the step named in the error ("insert deal: ..."). */
int ops_query(struct ops_ctx *c,
              const char *step,
              const char *sql,
              int nparams,
              const char *const *params,
              struct pg_result **res,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Lock one row of this dealership: `sql` selects the wanted columns
 * `WHERE id = $1 AND dealership_id = $2 FOR UPDATE`.  A missing row is
 * DESKDB_ENOTFOUND, "<what> <id> not found in dealership <d>".  On success
 * `*res` holds the row (PQclear() it).
 */
int ops_lock_row(struct ops_ctx *c,
                 const char *what,
                 const char *sql,
                 const char *id,
                 struct pg_result **res,
                 struct deskdb_err *err) DESKDB_MUSTCHECK;

/* SET LOCAL app.dealership_id for the rest of the transaction (through
 * set_config(..., true), parameterised). */
int ops_tenant_enter(struct ops_ctx *c,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Claim (operation, dealership, external id) in deskdb.import_ledger.
 * When another transaction holds the same claim, the unique key makes this
 * wait for it to end.  If the key was already there, *stored receives the
 * result recorded then (a new reference) and nothing must be applied.
 */
int ops_ledger_claim(struct ops_ctx *c,
                     const char *op_name,
                     json_t **stored,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Record c->result for the claimed key. */
int ops_ledger_store(struct ops_ctx *c,
                     const char *op_name,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/* A row another input field refers to, checked to be in the dealership. */
enum ops_ref_kind {
    OPS_REF_USER,     /* users, and active */
    OPS_REF_CUSTOMER, /* customers */
};

struct ops_ref {
    enum ops_ref_kind kind;
    const char *what; /* for messages: "salesperson", "customer", "actor" */
    const char *id;   /* NULL: not given, skipped */
};

/*
 * One query: the dealership exists, and every given reference is a row of
 * it (a user also active).  DESKDB_ENOTFOUND "salesperson ... not found in
 * dealership ...", DESKDB_EEXIST "... is not active".  The explicit
 * dealership filter makes the check hold even for a role that bypasses
 * row-level security.
 */
int ops_check_refs(struct ops_ctx *c,
                   const struct ops_ref *refs,
                   size_t n,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Take the next value of the dealership's counter `name`, creating it at 1
 * on first use.  The row stays locked until the transaction ends, so
 * concurrent callers queue, and a rolled-back value is never seen. */
int ops_sequence_next(struct ops_ctx *c,
                      const char *name,
                      long long *value,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

#define OPS_DEAL_NUMBER_MAX 32

/* Draw the next deal number of the dealership and write it to `deal`
 * (which must have none), in one statement; the number into `number`
 * ("D-000042").  Takes the counter row lock: call it last.  A number that
 * exists already (written some other way) is DESKDB_EEXIST. */
int ops_deal_number_assign(struct ops_ctx *c,
                           const char *deal,
                           char number[OPS_DEAL_NUMBER_MAX],
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Insert the customer described by `customer` (validated) into the
 * dealership; its id into `id`. */
int ops_customer_insert(struct ops_ctx *c,
                        const json_t *customer,
                        char id[OPS_UUID_LEN + 1],
                        struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The fields of a new customer, shared by create_deal and attach_customer. */
extern const struct ops_field ops_customer_fields[];

/*
 * Append an audit_log row: `action` on `entity_type` `entity_id` (may be
 * NULL) by `user_id` (may be NULL), with `details` (stolen; may be NULL)
 * plus the operation's external_id and source.
 */
int ops_audit(struct ops_ctx *c,
              const char *action,
              const char *entity_type,
              const char *entity_id,
              const char *user_id,
              json_t *details,
              struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Copy column `col` of row 0 (at most `size` - 1 bytes). */
void ops_value(const struct pg_result *res, int col, char *out, size_t size);

/* ---- records (ops.c) --------------------------------------------------- */

/* One input line on its way to a result line. */
struct ops_record {
    long line;
    json_t *in; /* parsed input, NULL if it did not parse */
    json_t *result;
    enum ops_status status;
    const char *code; /* failure category for the result line */
    struct deskdb_err err;
};

/* Parse and validate `len` bytes; on failure r->status is OPS_FAILED with
 * r->err and r->code set.  Returns 0 or the failure. */
int ops_record_prepare(struct ops_record *r,
                       const struct ops_op *op,
                       const struct ops_options *opt,
                       const char *text,
                       size_t len,
                       long line);

/* Apply a prepared record inside transaction `t`: tenant, ledger, steps,
 * ledger result.  Sets r->status and r->result on success. */
int ops_record_exec(struct ops_record *r,
                    const struct ops_op *op,
                    const struct ops_options *opt,
                    struct txn *t,
                    struct deskdb_err *err);

/* Mark the record failed with `rc` and `err` (code from the error). */
void
ops_record_fail(struct ops_record *r, int rc, const struct deskdb_err *err);

/* The result line (compact JSON, no newline); caller frees; NULL on
 * allocation failure. */
char *ops_record_line(const struct ops_record *r);

void ops_record_fini(struct ops_record *r);

/* The "code" of a result line for a failure status. */
const char *ops_code_for(int rc, const struct deskdb_err *err);

#endif

/* SPDX-License-Identifier: MIT */
/* The steps every operation shares: tenant context, import ledger,
 * reference checks, per-dealership counters, new customers, audit log.
 * Every value travels as a query parameter, never inside SQL text. */
#include <assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/ops_internal.h"

#define REFS_MAX 8

const struct ops_field ops_customer_fields[] = {
    {.name = "first_name",
     .type = OPS_F_TEXT,
     .required = true,
     .min = 1,
     .max = 100},
    {.name = "last_name",
     .type = OPS_F_TEXT,
     .required = true,
     .min = 1,
     .max = 100},
    {.name = "email", .type = OPS_F_EMAIL},
    {.name = "phone", .type = OPS_F_TEXT, .min = 1, .max = 40},
    {0},
};

int
ops_query(struct ops_ctx *c,
          const char *step,
          const char *sql,
          int nparams,
          const char *const *params,
          struct pg_result **res,
          struct deskdb_err *err)
{
    int rc = txn_query(c->t, sql, nparams, params, res, err);

    if (rc != 0)
        err_prefix(err, "%s", step);
    return rc;
}

int
ops_lock_row(struct ops_ctx *c,
             const char *what,
             const char *sql,
             const char *id,
             struct pg_result **res,
             struct deskdb_err *err)
{
    const char *params[] = {id, c->dealership};
    char step[64];
    int rc;

    snprintf(step, sizeof(step), "lock %s", what);
    rc = ops_query(c, step, sql, 2, params, res, err);
    if (rc == 0 && PQntuples((PGresult *)*res) == 0) {
        PQclear((PGresult *)*res);
        *res = NULL;
        rc = err_set(err,
                     DESKDB_ENOTFOUND,
                     "%s %s not found in dealership %s",
                     what,
                     id,
                     c->dealership);
    }
    return rc;
}

void
ops_value(const struct pg_result *res, int col, char *out, size_t size)
{
    const PGresult *r = (const PGresult *)res;

    if (PQntuples(r) < 1 || PQgetisnull(r, 0, col))
        out[0] = '\0';
    else
        snprintf(out, size, "%s", PQgetvalue(r, 0, col));
}

int
ops_tenant_enter(struct ops_ctx *c, struct deskdb_err *err)
{
    const char *params[] = {c->dealership};

    return ops_query(c,
                     "set tenant",
                     "SELECT set_config('app.dealership_id', $1, true)",
                     1,
                     params,
                     NULL,
                     err);
}

int
ops_ledger_claim(struct ops_ctx *c,
                 const char *op_name,
                 json_t **stored,
                 struct deskdb_err *err)
{
    const char *params[] = {op_name, c->dealership, c->external_id};
    PGresult *res = NULL;
    json_error_t jerr;
    int rc;

    *stored = NULL;
    /* The placeholder is replaced by ops_ledger_store() before COMMIT. */
    rc = ops_query(c,
                   "claim external_id",
                   "INSERT INTO deskdb.import_ledger"
                   " (operation, dealership_id, external_id, result)"
                   " VALUES ($1, $2, $3, '{}') ON CONFLICT DO NOTHING"
                   " RETURNING 1",
                   3,
                   params,
                   &res,
                   err);
    if (rc != 0 || PQntuples(res) == 1)
        goto out;
    PQclear(res);
    /* A new statement, a new snapshot: under READ COMMITTED this sees the
     * row of the transaction the conflict waited for. */
    rc = ops_query(c,
                   "read ledger",
                   "SELECT result FROM deskdb.import_ledger"
                   " WHERE operation = $1 AND dealership_id = $2"
                   " AND external_id = $3",
                   3,
                   params,
                   &res,
                   err);
    if (rc != 0)
        goto out;
    if (PQntuples(res) != 1) {
        rc = err_set(err,
                     DESKDB_EPG,
                     "read ledger: the entry for external_id '%s' vanished",
                     c->external_id);
        goto out;
    }
    *stored = json_loads(PQgetvalue(res, 0, 0), 0, &jerr);
    if (*stored == NULL || !json_is_object(*stored)) {
        json_decref(*stored);
        *stored = NULL;
        rc = err_set(err,
                     DESKDB_EPG,
                     "read ledger: the stored result of external_id '%s' is "
                     "not a JSON object",
                     c->external_id);
    }
out:
    PQclear(res);
    return rc;
}

int
ops_ledger_store(struct ops_ctx *c, const char *op_name, struct deskdb_err *err)
{
    char *text = json_dumps(c->result, JSON_COMPACT);
    const char *params[] = {op_name, c->dealership, c->external_id, text};
    int rc;

    if (text == NULL)
        return err_set(err, DESKDB_ENOMEM, "store result: out of memory");
    rc = ops_query(c,
                   "store result",
                   "UPDATE deskdb.import_ledger SET result = $4::jsonb"
                   " WHERE operation = $1 AND dealership_id = $2"
                   " AND external_id = $3",
                   4,
                   params,
                   NULL,
                   err);
    free(text);
    return rc;
}

/* The scalar subquery that checks one reference ($n is its id). */
static int
ref_column(struct buf *sql, const struct ops_ref *ref, int n)
{
    if (ref->kind == OPS_REF_USER)
        return buf_printf(sql,
                          ", (SELECT is_active FROM users"
                          " WHERE id = $%d AND dealership_id = $1)",
                          n);
    return buf_printf(sql,
                      ", (SELECT true FROM customers"
                      " WHERE id = $%d AND dealership_id = $1)",
                      n);
}

static int
refs_verdict(struct ops_ctx *c,
             const PGresult *res,
             const struct ops_ref **given,
             int n,
             struct deskdb_err *err)
{
    if (PQgetisnull(res, 0, 0))
        return err_set(err,
                       DESKDB_ENOTFOUND,
                       "dealership %s not found",
                       c->dealership);
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, 0, i + 1))
            return err_set(err,
                           DESKDB_ENOTFOUND,
                           "%s %s not found in dealership %s",
                           given[i]->what,
                           given[i]->id,
                           c->dealership);
        if (strcmp(PQgetvalue(res, 0, i + 1), "t") != 0)
            return err_set(err,
                           DESKDB_EEXIST,
                           "%s %s is not an active user",
                           given[i]->what,
                           given[i]->id);
    }
    return 0;
}

int
ops_check_refs(struct ops_ctx *c,
               const struct ops_ref *refs,
               size_t n,
               struct deskdb_err *err)
{
    const struct ops_ref *given[REFS_MAX];
    const char *params[REFS_MAX + 1] = {c->dealership};
    PGresult *res = NULL;
    struct buf sql;
    int k = 0, rc;

    assert(n <= REFS_MAX);
    buf_init(&sql, 4096);
    rc = buf_puts(&sql, "SELECT (SELECT true FROM dealerships WHERE id = $1)");
    for (size_t i = 0; rc == 0 && i < n && k < REFS_MAX; i++) {
        if (refs[i].id == NULL)
            continue;
        given[k] = &refs[i];
        params[k + 1] = refs[i].id;
        rc = ref_column(&sql, &refs[i], k + 2);
        k++;
    }
    if (rc != 0) {
        rc = err_set(err, DESKDB_ENOMEM, "check references: out of memory");
        goto out;
    }
    rc = ops_query(c, "check references", sql.data, k + 1, params, &res, err);
    if (rc == 0)
        rc = refs_verdict(c, res, given, k, err);
out:
    PQclear(res);
    buf_fini(&sql);
    return rc;
}

int
ops_sequence_next(struct ops_ctx *c,
                  const char *name,
                  long long *value,
                  struct deskdb_err *err)
{
    const char *params[] = {c->dealership, name};
    PGresult *res = NULL;
    int rc;

    /* The upsert locks the counter row until COMMIT or ROLLBACK: the next
     * caller of the dealership waits here, then works on the committed
     * value (READ COMMITTED re-reads the row it waited for), so values are
     * unique, and a rolled-back one is taken again by the next caller.
     * ops_deal_number_assign() runs the same upsert. */
    rc = ops_query(c,
                   "next sequence value",
                   "INSERT INTO sequences (dealership_id, name, value)"
                   " VALUES ($1, $2, 1) ON CONFLICT (dealership_id, name)"
                   " DO UPDATE SET value = sequences.value + 1"
                   " RETURNING value",
                   2,
                   params,
                   &res,
                   err);
    if (rc == 0)
        *value = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

/*
 * Draw the dealership's next deal number and write it to the deal in one
 * statement.  From here to COMMIT every other creator of the dealership
 * waits on the counter row, so callers do this last.  The format lives
 * only here: "D-" and at least six digits.
 */
int
ops_deal_number_assign(struct ops_ctx *c,
                       const char *deal,
                       char number[OPS_DEAL_NUMBER_MAX],
                       struct deskdb_err *err)
{
    const char *params[] = {c->dealership, deal};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "number deal",
                   "WITH n AS (INSERT INTO sequences (dealership_id, name,"
                   " value) VALUES ($1, 'deal', 1)"
                   " ON CONFLICT (dealership_id, name)"
                   " DO UPDATE SET value = sequences.value + 1"
                   " RETURNING value)"
                   " UPDATE deals d SET deal_number = 'D-' ||"
                   " lpad(n.value::text, greatest(6, length(n.value::text)),"
                   " '0') FROM n WHERE d.id = $2 AND d.dealership_id = $1"
                   " RETURNING d.deal_number",
                   2,
                   params,
                   &res,
                   err);
    if (rc == 0 && PQntuples(res) != 1)
        rc = err_set(err,
                     DESKDB_EPG,
                     "number deal: deal %s is gone from dealership %s",
                     deal,
                     c->dealership);
    if (rc == 0)
        ops_value(res, 0, number, OPS_DEAL_NUMBER_MAX);
    PQclear(res);
    if (rc == DESKDB_EPG && strcmp(err->sqlstate, "23505") == 0) {
        /* The only unique key an UPDATE of deal_number can hit. */
        rc = err_set(err,
                     DESKDB_EEXIST,
                     "number deal: the next deal number already exists in "
                     "dealership %s: the 'deal' sequence is behind the deals "
                     "table (raise sequences.value to the highest number in "
                     "use)",
                     c->dealership);
        snprintf(err->sqlstate, sizeof(err->sqlstate), "23505");
    }
    return rc;
}

int
ops_customer_insert(struct ops_ctx *c,
                    const json_t *customer,
                    char id[OPS_UUID_LEN + 1],
                    struct deskdb_err *err)
{
    const char *params[] = {c->dealership,
                            ops_str(customer, "first_name"),
                            ops_str(customer, "last_name"),
                            ops_str(customer, "email"),
                            ops_str(customer, "phone")};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "insert customer",
                   "INSERT INTO customers"
                   " (dealership_id, first_name, last_name, email, phone)"
                   " VALUES ($1, $2, $3, $4, $5) RETURNING id",
                   5,
                   params,
                   &res,
                   err);
    if (rc == 0)
        ops_value(res, 0, id, OPS_UUID_LEN + 1);
    PQclear(res);
    return rc;
}

int
ops_audit(struct ops_ctx *c,
          const char *action,
          const char *entity_type,
          const char *entity_id,
          const char *user_id,
          json_t *details,
          struct deskdb_err *err)
{
    const char *params[6];
    char *text = NULL;
    int rc;

    if (details == NULL)
        details = json_object();
    if (details == NULL ||
        json_object_set_new(details, "source", json_string("deskdb op")) ||
        (c->external_id != NULL &&
         json_object_set_new(details,
                             "external_id",
                             json_string(c->external_id))) ||
        (text = json_dumps(details, JSON_COMPACT)) == NULL) {
        rc = err_set(err, DESKDB_ENOMEM, "insert audit entry: out of memory");
        goto out;
    }
    params[0] = c->dealership;
    params[1] = user_id;
    params[2] = action;
    params[3] = entity_type;
    params[4] = entity_id;
    params[5] = text;
    rc = ops_query(c,
                   "insert audit entry",
                   "INSERT INTO audit_log (dealership_id, user_id, action,"
                   " entity_type, entity_id, details)"
                   " VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
                   6,
                   params,
                   NULL,
                   err);
out:
    free(text);
    json_decref(details);
    return rc;
}

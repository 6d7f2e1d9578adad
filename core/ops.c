/* SPDX-License-Identifier: MIT */
/* The table of operations and the life of one record: parse, validate,
 * apply in a transaction with tenant and ledger, format the result. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/ops_internal.h"

static const struct ops_op *const table[] = {
    &ops_op_create_deal,
    &ops_op_attach_customer,
    &ops_op_register_user,
    &ops_op_update_email_status,
    &ops_op_next_sequence,
};

#define N_OPS (sizeof(table) / sizeof(table[0]))

const struct ops_op *
ops_find(const char *name)
{
    for (size_t i = 0; name != NULL && i < N_OPS; i++) {
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    }
    return NULL;
}

const struct ops_op *
ops_at(size_t i)
{
    return i < N_OPS ? table[i] : NULL;
}

const char *
ops_name(const struct ops_op *op)
{
    return op->name;
}

void
ops_options_from_config(const struct config *cfg, struct ops_options *out)
{
    memset(out, 0, sizeof(*out));
    txn_options_from_config(&cfg->transactions, &out->txn);
    out->txn.isolation = CONFIG_ISOLATION_READ_COMMITTED;
    out->notify_channel = cfg->operations.notify_channel;
}

const char *
ops_status_name(enum ops_status s)
{
    switch (s) {
    case OPS_APPLIED:
        return "applied";
    case OPS_DUPLICATE:
        return "duplicate";
    case OPS_FAILED:
        return "failed";
    case OPS_NOT_APPLIED:
        return "not_applied";
    case OPS_UNKNOWN:
        break;
    }
    return "unknown";
}

const char *
ops_code_for(int rc, const struct deskdb_err *err)
{
    switch (rc) {
    case DESKDB_EINVAL:
        return "invalid_input";
    case DESKDB_ENOTFOUND:
        return "not_found";
    case DESKDB_EEXIST:
        return "conflict";
    case DESKDB_ETIMEOUT:
        return "timeout";
    case DESKDB_ECONN:
        return txn_commit_unknown(err) ? "commit_unknown" : "connection";
    case DESKDB_ECLOSED:
        return "unavailable";
    case DESKDB_EPG:
        return "database";
    default:
        return "internal";
    }
}

/* ---- one record --------------------------------------------------------- */

static int
prepare_fail(struct ops_record *r, const char *code, int rc)
{
    r->status = OPS_FAILED;
    r->code = code;
    return rc;
}

int
ops_record_prepare(struct ops_record *r,
                   const struct ops_op *op,
                   const struct ops_options *opt,
                   const char *text,
                   size_t len,
                   long line)
{
    const char *dealership;
    json_error_t jerr;
    int rc;

    memset(r, 0, sizeof(*r));
    r->line = line;
    r->status = OPS_NOT_APPLIED;
    r->in = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (r->in == NULL)
        return prepare_fail(r,
                            "invalid_input",
                            err_set(&r->err,
                                    DESKDB_EINVAL,
                                    "invalid JSON at column %d: %s",
                                    jerr.column,
                                    jerr.text));
    rc = ops_input_check(r->in, op->fields, "", &r->err);
    if (rc == 0 && op->check != NULL)
        rc = op->check(r->in, &r->err);
    if (rc != 0)
        return prepare_fail(r, "invalid_input", rc);
    ops_input_normalize(r->in, op->fields);
    dealership = ops_str(r->in, "dealership_id");
    if (opt->dealership != NULL && strcasecmp(opt->dealership, dealership) != 0)
        return prepare_fail(r,
                            "forbidden",
                            err_set(&r->err,
                                    DESKDB_EINVAL,
                                    "dealership_id %s is not the dealership "
                                    "this run is for (%s)",
                                    dealership,
                                    opt->dealership));
    return 0;
}

int
ops_record_exec(struct ops_record *r,
                const struct ops_op *op,
                const struct ops_options *opt,
                struct txn *t,
                struct deskdb_err *err)
{
    struct ops_ctx c = {
        .t = t,
        .in = r->in,
        .dealership = ops_str(r->in, "dealership_id"),
        .external_id = ops_str(r->in, "external_id"),
        .actor = ops_str(r->in, "actor_id"),
        .notify_channel = opt->notify_channel,
    };
    json_t *stored = NULL;
    int rc;

    /* A retried transaction starts over. */
    json_decref(r->result);
    r->result = NULL;
    r->status = OPS_NOT_APPLIED;
    rc = ops_tenant_enter(&c, err);
    if (rc == 0 && c.external_id != NULL)
        rc = ops_ledger_claim(&c, op->name, &stored, err);
    if (rc != 0)
        return rc;
    if (stored != NULL) {
        r->result = stored;
        r->status = OPS_DUPLICATE;
        return 0;
    }
    rc = op->run(&c, err);
    if (rc == 0 && c.external_id != NULL)
        rc = ops_ledger_store(&c, op->name, err);
    if (rc != 0) {
        json_decref(c.result);
        return rc;
    }
    r->result = c.result;
    r->status = OPS_APPLIED;
    return 0;
}

void
ops_record_fail(struct ops_record *r, int rc, const struct deskdb_err *err)
{
    json_decref(r->result);
    r->result = NULL;
    r->status = txn_commit_unknown(err) ? OPS_UNKNOWN : OPS_FAILED;
    r->code = ops_code_for(rc, err);
    r->err = *err;
}

void
ops_record_fini(struct ops_record *r)
{
    json_decref(r->in);
    json_decref(r->result);
    r->in = NULL;
    r->result = NULL;
}

/* Replace every byte that is not part of valid UTF-8 with '?': messages
 * are cut at a fixed size and may quote server text. */
static void
utf8_sanitize(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p != '\0') {
        size_t n = *p < 0x80             ? 1
                   : (*p & 0xe0) == 0xc0 ? 2
                   : (*p & 0xf0) == 0xe0 ? 3
                   : (*p & 0xf8) == 0xf0 ? 4
                                         : 0;
        size_t i;

        for (i = 1; n > 1 && i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                break;
        }
        if (n == 0 || i < n || (n == 2 && *p < 0xc2)) {
            *p++ = '?';
            continue;
        }
        p += n;
    }
}

static int
line_fill(json_t *o, const struct ops_record *r)
{
    bool ok = r->status == OPS_APPLIED || r->status == OPS_DUPLICATE;
    const char *ext = r->in != NULL ? ops_str(r->in, "external_id") : NULL;
    char msg[sizeof(r->err.msg)];

    if (json_object_set_new(o, "ok", json_boolean(ok)) ||
        (r->line > 0 &&
         json_object_set_new(o, "line", json_integer(r->line))) ||
        json_object_set_new(o,
                            "status",
                            json_string(ops_status_name(r->status))) ||
        (ext != NULL &&
         json_object_set_new(o, "external_id", json_string(ext))))
        return -1;
    if (ok)
        return r->result != NULL ? json_object_update_missing(o, r->result) : 0;
    memcpy(msg, r->err.msg, sizeof(msg));
    utf8_sanitize(msg);
    if (json_object_set_new(o,
                            "code",
                            json_string(r->code ? r->code : "internal")) ||
        json_object_set_new(o, "error", json_string(msg)))
        return -1;
    return 0;
}

char *
ops_record_line(const struct ops_record *r)
{
    json_t *o = json_object();
    char *text = NULL;

    if (o != NULL && line_fill(o, r) == 0)
        text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* ---- one record, one transaction --------------------------------------- */

struct apply_arg {
    struct ops_record *r;
    const struct ops_op *op;
    const struct ops_options *opt;
};

static int
apply_txn(struct txn *t, void *arg, struct deskdb_err *err)
{
    struct apply_arg *a = arg;

    return ops_record_exec(a->r, a->op, a->opt, t, err);
}

int
ops_apply(struct pool *pool,
          const struct ops_op *op,
          const struct ops_options *opt,
          const char *input,
          size_t len,
          long line,
          char **result,
          enum ops_status *status,
          struct deskdb_err *err)
{
    struct ops_record r;
    struct apply_arg a = {&r, op, opt};
    struct deskdb_err e;
    int rc;

    err_clear(&e);
    rc = ops_record_prepare(&r, op, opt, input, len, line);
    if (rc == 0) {
        rc = txn_run(pool, &opt->txn, apply_txn, &a, &e);
        if (rc != 0)
            ops_record_fail(&r, rc, &e);
    }
    if (rc != 0 && err != NULL)
        *err = r.err;
    *result = ops_record_line(&r);
    if (status != NULL)
        *status = r.status;
    ops_record_fini(&r);
    if (*result == NULL && rc == 0)
        rc = err_set(err, DESKDB_ENOMEM, "result: out of memory");
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* create_deal and attach_customer: the seed's deal workflows, each one
 * transaction from the first row read to the audit entry. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "core/ops_internal.h"

#define DEFAULT_SCENARIO "Default"
#define MONEY_MAX        9999999999.99 /* numeric(12, 2) */

static const char *const new_deal_states[] = {"DRAFT",
                                              "IN_PROGRESS",
                                              "PENDING_APPROVAL",
                                              NULL};

#define MONEY(n)                                                        \
    {                                                                   \
        .name = (n), .type = OPS_F_DECIMAL, .min = 0, .max = MONEY_MAX, \
        .scale = 2                                                      \
    }

static const struct ops_field scenario_fields[] = {
    {.name = "name", .type = OPS_F_TEXT, .min = 1, .max = 200},
    {.name = "term", .type = OPS_F_INT, .min = 1, .max = 120},
    {.name = "apr", .type = OPS_F_DECIMAL, .min = 0, .max = 100, .scale = 3},
    MONEY("down_payment"),
    MONEY("trade_in_value"),
    MONEY("amount_financed"),
    MONEY("monthly_payment"),
    {0},
};

static const struct ops_field create_deal_fields[] = {
    OPS_COMMON_FIELDS,
    {.name = "salesperson_id", .type = OPS_F_UUID, .required = true},
    {.name = "vehicle_id", .type = OPS_F_UUID},
    {.name = "customer_id", .type = OPS_F_UUID},
    {.name = "customer", .type = OPS_F_OBJECT, .sub = ops_customer_fields},
    {.name = "scenario", .type = OPS_F_OBJECT, .sub = scenario_fields},
    {.name = "deal_state", .type = OPS_F_ENUM, .choices = new_deal_states},
    {0},
};

static const struct ops_field attach_customer_fields[] = {
    OPS_COMMON_FIELDS,
    {.name = "deal_id", .type = OPS_F_UUID, .required = true},
    {.name = "customer_id", .type = OPS_F_UUID},
    {.name = "customer", .type = OPS_F_OBJECT, .sub = ops_customer_fields},
    {0},
};

static bool
present(const json_t *in, const char *key)
{
    const json_t *v = json_object_get(in, key);

    return v != NULL && !json_is_null(v);
}

static int
create_deal_check(const json_t *in, struct deskdb_err *err)
{
    if (present(in, "customer_id") && present(in, "customer"))
        return err_set(err,
                       DESKDB_EINVAL,
                       "give either 'customer_id' or 'customer', not both");
    return 0;
}

static int
attach_customer_check(const json_t *in, struct deskdb_err *err)
{
    if (present(in, "customer_id") == present(in, "customer"))
        return err_set(err,
                       DESKDB_EINVAL,
                       "give exactly one of 'customer_id' or 'customer'");
    return 0;
}

/* The customer of the deal: the given id, a new row, or none. */
static int
deal_customer(struct ops_ctx *c,
              char id[OPS_UUID_LEN + 1],
              bool *created,
              struct deskdb_err *err)
{
    const json_t *data = json_object_get(c->in, "customer");
    const char *given = ops_str(c->in, "customer_id");

    *created = false;
    id[0] = '\0';
    if (given != NULL) {
        snprintf(id, OPS_UUID_LEN + 1, "%s", given);
        return 0;
    }
    if (data == NULL || json_is_null(data))
        return 0;
    *created = true;
    return ops_customer_insert(c, data, id, err);
}

/* Mark the vehicle pending if it is available; it stays locked until the
 * transaction ends. */
static int
vehicle_reserve(struct ops_ctx *c, const char *vehicle, struct deskdb_err *err)
{
    const char *params[] = {vehicle, c->dealership};
    PGresult *res = NULL;
    char status[32];
    int rc;

    rc = ops_query(c,
                   "mark vehicle pending",
                   "UPDATE vehicles SET status = 'pending'"
                   " WHERE id = $1 AND dealership_id = $2"
                   " AND status = 'available' RETURNING id",
                   2,
                   params,
                   &res,
                   err);
    if (rc != 0 || PQntuples(res) == 1)
        goto out;
    PQclear(res);
    rc = ops_query(c,
                   "read vehicle",
                   "SELECT status FROM vehicles"
                   " WHERE id = $1 AND dealership_id = $2",
                   2,
                   params,
                   &res,
                   err);
    if (rc != 0)
        goto out;
    if (PQntuples(res) == 0) {
        rc = err_set(err,
                     DESKDB_ENOTFOUND,
                     "vehicle %s not found in dealership %s",
                     vehicle,
                     c->dealership);
        goto out;
    }
    ops_value(res, 0, status, sizeof(status));
    rc = err_set(err,
                 DESKDB_EEXIST,
                 "vehicle %s is not available (status '%s')",
                 vehicle,
                 status);
out:
    PQclear(res);
    return rc;
}

struct new_deal {
    char id[OPS_UUID_LEN + 1];
    char number[OPS_DEAL_NUMBER_MAX];
    char state[32];
    char scenario[OPS_UUID_LEN + 1];
    char customer[OPS_UUID_LEN + 1];
    bool customer_created;
};

static int
deal_insert(struct ops_ctx *c, struct new_deal *d, struct deskdb_err *err)
{
    const char *state = ops_str(c->in, "deal_state");
    const char *params[] = {c->dealership,
                            state != NULL ? state : "DRAFT",
                            d->customer[0] != '\0' ? d->customer : NULL,
                            ops_str(c->in, "vehicle_id"),
                            ops_str(c->in, "salesperson_id")};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "insert deal",
                   "INSERT INTO deals (dealership_id, deal_state,"
                   " customer_id, vehicle_id, salesperson_id)"
                   " VALUES ($1, $2, $3, $4, $5) RETURNING id, deal_state",
                   5,
                   params,
                   &res,
                   err);
    if (rc == 0) {
        ops_value(res, 0, d->id, sizeof(d->id));
        ops_value(res, 1, d->state, sizeof(d->state));
    }
    PQclear(res);
    return rc;
}

static int
scenario_insert(struct ops_ctx *c, struct new_deal *d, struct deskdb_err *err)
{
    const json_t *s = json_object_get(c->in, "scenario");
    char term[OPS_NUM_MAX], apr[OPS_NUM_MAX], down[OPS_NUM_MAX],
        trade[OPS_NUM_MAX], financed[OPS_NUM_MAX], monthly[OPS_NUM_MAX];
    const char *name = ops_str(s, "name");
    const char *params[] = {d->id,
                            c->dealership,
                            name != NULL ? name : DEFAULT_SCENARIO,
                            ops_num(s, "term", term),
                            ops_num(s, "apr", apr),
                            ops_num(s, "down_payment", down),
                            ops_num(s, "trade_in_value", trade),
                            ops_num(s, "amount_financed", financed),
                            ops_num(s, "monthly_payment", monthly)};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "insert scenario",
                   "INSERT INTO deal_scenarios (deal_id, dealership_id, name,"
                   " term, apr, down_payment, trade_in_value,"
                   " amount_financed, monthly_payment, is_default)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, true)"
                   " RETURNING id",
                   9,
                   params,
                   &res,
                   err);
    if (rc == 0)
        ops_value(res, 0, d->scenario, sizeof(d->scenario));
    PQclear(res);
    return rc;
}

static json_t *
create_deal_result(const struct ops_ctx *c, const struct new_deal *d)
{
    const char *vehicle = ops_str(c->in, "vehicle_id");
    json_t *customer = json_null(), *veh = json_null();

    if (d->customer[0] != '\0')
        customer = json_pack("{s:s, s:b}",
                             "id",
                             d->customer,
                             "created",
                             d->customer_created);
    if (vehicle != NULL)
        veh = json_pack("{s:s, s:s}", "id", vehicle, "status", "pending");
    return json_pack("{s:{s:s, s:s, s:s}, s:{s:s}, s:o, s:o}",
                     "deal",
                     "id",
                     d->id,
                     "deal_number",
                     d->number,
                     "deal_state",
                     d->state,
                     "scenario",
                     "id",
                     d->scenario,
                     "customer",
                     customer,
                     "vehicle",
                     veh);
}

/*
 * The seed's steps are customer, number, deal, scenario, vehicle, audit;
 * all of them are one transaction here, in an order chosen for
 * throughput.  The counter row is the one lock every creator of the
 * dealership queues on, so whatever can wait or fail on its own (the
 * customer, the vehicle row lock, the inserts) comes first, and the
 * number is drawn and written to the deal last: from then on only the
 * ledger entry and COMMIT remain.  The audit entry names the deal, whose
 * row carries the number.
 */
static int
create_deal_run(struct ops_ctx *c, struct deskdb_err *err)
{
    const char *vehicle = ops_str(c->in, "vehicle_id");
    const char *salesperson = ops_str(c->in, "salesperson_id");
    const struct ops_ref refs[] = {
        {OPS_REF_USER, "salesperson", salesperson},
        {OPS_REF_CUSTOMER, "customer", ops_str(c->in, "customer_id")},
        {OPS_REF_USER, "actor", c->actor},
    };
    struct new_deal d = {0};
    int rc;

    rc = ops_check_refs(c, refs, 3, err);
    if (rc == 0)
        rc = deal_customer(c, d.customer, &d.customer_created, err);
    if (rc == 0 && vehicle != NULL)
        rc = vehicle_reserve(c, vehicle, err);
    if (rc == 0)
        rc = deal_insert(c, &d, err);
    if (rc == 0)
        rc = scenario_insert(c, &d, err);
    if (rc == 0)
        rc = ops_audit(c,
                       "deal.created",
                       "deal",
                       d.id,
                       c->actor != NULL ? c->actor : salesperson,
                       json_pack("{s:s, s:s*, s:b, s:s*}",
                                 "scenario_id",
                                 d.scenario,
                                 "customer_id",
                                 d.customer[0] != '\0' ? d.customer : NULL,
                                 "customer_created",
                                 d.customer_created,
                                 "vehicle_id",
                                 vehicle),
                       err);
    if (rc == 0)
        rc = ops_deal_number_assign(c, d.id, d.number, err);
    if (rc != 0)
        return rc;
    c->result = create_deal_result(c, &d);
    return c->result != NULL ? 0 : err_set(err, DESKDB_ENOMEM, "out of memory");
}

/* ---- attach_customer --------------------------------------------------- */

struct locked_deal {
    char number[OPS_DEAL_NUMBER_MAX]; /* "" when the deal has none */
    char customer[OPS_UUID_LEN + 1];
    char state[32];
};

static int
deal_lock(struct ops_ctx *c,
          const char *deal,
          struct locked_deal *d,
          struct deskdb_err *err)
{
    PGresult *res = NULL;
    int rc;

    rc = ops_lock_row(c,
                      "deal",
                      "SELECT deal_number, customer_id, deal_state FROM deals"
                      " WHERE id = $1 AND dealership_id = $2 FOR UPDATE",
                      deal,
                      &res,
                      err);
    if (rc == 0) {
        ops_value(res, 0, d->number, sizeof(d->number));
        ops_value(res, 1, d->customer, sizeof(d->customer));
        ops_value(res, 2, d->state, sizeof(d->state));
    }
    PQclear(res);
    return rc;
}

/* Whether `customer_id` (NULL: a new customer) may be attached. */
static int
attach_allowed(const char *deal,
               const struct locked_deal *d,
               const char *customer_id,
               struct deskdb_err *err)
{
    if (strcmp(d->state, "CANCELLED") == 0 ||
        strcmp(d->state, "DELIVERED") == 0)
        return err_set(err,
                       DESKDB_EEXIST,
                       "deal %s is %s: its customer cannot change",
                       deal,
                       d->state);
    if (d->customer[0] != '\0' &&
        (customer_id == NULL || strcmp(customer_id, d->customer) != 0))
        return err_set(err,
                       DESKDB_EEXIST,
                       "deal %s already has customer %s",
                       deal,
                       d->customer);
    return 0;
}

static int
deal_attach(struct ops_ctx *c,
            const char *deal,
            const char *customer,
            struct deskdb_err *err)
{
    const char *params[] = {deal, c->dealership, customer};

    return ops_query(c,
                     "attach customer",
                     "UPDATE deals SET customer_id = $3"
                     " WHERE id = $1 AND dealership_id = $2",
                     3,
                     params,
                     NULL,
                     err);
}

/* As create_deal: a number, when the deal has none, is drawn last. */
static int
attach_customer_run(struct ops_ctx *c, struct deskdb_err *err)
{
    const char *deal = ops_str(c->in, "deal_id");
    const struct ops_ref refs[] = {
        {OPS_REF_CUSTOMER, "customer", ops_str(c->in, "customer_id")},
        {OPS_REF_USER, "actor", c->actor},
    };
    struct locked_deal d = {0};
    char customer[OPS_UUID_LEN + 1];
    bool created = false, generated;
    int rc;

    rc = ops_check_refs(c, refs, 2, err);
    if (rc == 0)
        rc = deal_lock(c, deal, &d, err);
    if (rc == 0)
        rc = attach_allowed(deal, &d, ops_str(c->in, "customer_id"), err);
    if (rc == 0)
        rc = deal_customer(c, customer, &created, err);
    if (rc == 0)
        rc = deal_attach(c, deal, customer, err);
    generated = d.number[0] == '\0';
    if (rc == 0)
        rc = ops_audit(c,
                       "deal.customer_attached",
                       "deal",
                       deal,
                       c->actor,
                       json_pack("{s:s, s:b, s:b}",
                                 "customer_id",
                                 customer,
                                 "customer_created",
                                 created,
                                 "deal_number_generated",
                                 generated),
                       err);
    if (rc == 0 && generated)
        rc = ops_deal_number_assign(c, deal, d.number, err);
    if (rc != 0)
        return rc;
    c->result = json_pack("{s:{s:s, s:s, s:b}, s:{s:s, s:b}}",
                          "deal",
                          "id",
                          deal,
                          "deal_number",
                          d.number,
                          "number_generated",
                          generated,
                          "customer",
                          "id",
                          customer,
                          "created",
                          created);
    return c->result != NULL ? 0 : err_set(err, DESKDB_ENOMEM, "out of memory");
}

const struct ops_op ops_op_create_deal = {
    .name = "create_deal",
    .fields = create_deal_fields,
    .check = create_deal_check,
    .run = create_deal_run,
};

const struct ops_op ops_op_attach_customer = {
    .name = "attach_customer",
    .fields = attach_customer_fields,
    .check = attach_customer_check,
    .run = attach_customer_run,
};

/* SPDX-License-Identifier: MIT */
/* register_user: a unique username and e-mail address, the user, and the
 * default permissions of the role, in one transaction. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "core/ops_internal.h"

static const char *const roles[] = {"salesperson",
                                    "sales_manager",
                                    "finance_manager",
                                    "admin",
                                    NULL};

static const struct ops_field register_user_fields[] = {
    OPS_COMMON_FIELDS,
    {.name = "username",
     .type = OPS_F_NAME,
     .required = true,
     .min = 3,
     .max = 64},
    {.name = "email", .type = OPS_F_EMAIL, .required = true},
    {.name = "role", .type = OPS_F_ENUM, .choices = roles},
    {.name = "first_name", .type = OPS_F_TEXT, .min = 1, .max = 100},
    {.name = "last_name", .type = OPS_F_TEXT, .min = 1, .max = 100},
    {.name = "password_hash", .type = OPS_F_SECRET},
    {0},
};

static int
taken(const char *what, const char *value, struct deskdb_err *err)
{
    return err_set(err, DESKDB_EEXIST, "%s '%s' is already taken", what, value);
}

/*
 * The seed's checks inside the transaction.  They see the rows row-level
 * security lets them see (this dealership's, for a non-superuser role);
 * the unique constraints, checked by user_insert(), cover the others and
 * a concurrent registration of the same name.
 */
static int
names_free(struct ops_ctx *c, struct deskdb_err *err)
{
    const char *username = ops_str(c->in, "username");
    const char *email = ops_str(c->in, "email");
    const char *params[] = {username, email};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "check username and email",
                   "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1),"
                   " EXISTS (SELECT 1 FROM users"
                   " WHERE lower(email) = lower($2))",
                   2,
                   params,
                   &res,
                   err);
    if (rc == 0 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)
        rc = taken("username", username, err);
    else if (rc == 0 && strcmp(PQgetvalue(res, 0, 1), "t") == 0)
        rc = taken("email", email, err);
    PQclear(res);
    return rc;
}

/*
 * ON CONFLICT (username) DO NOTHING: a username taken (even by another
 * dealership, or by a registration that commits while this one waits on
 * the key) yields no row.  Any other unique violation left is one of the
 * two e-mail keys (users_email_key, users_email_lower_key): the ids are
 * fresh.  No error text is parsed.
 */
static int
user_insert(struct ops_ctx *c,
            char id[OPS_UUID_LEN + 1],
            struct deskdb_err *err)
{
    const char *role = ops_str(c->in, "role");
    const char *params[] = {c->dealership,
                            ops_str(c->in, "username"),
                            ops_str(c->in, "email"),
                            ops_str(c->in, "password_hash"),
                            ops_str(c->in, "first_name"),
                            ops_str(c->in, "last_name"),
                            role != NULL ? role : "salesperson"};
    PGresult *res = NULL;
    int rc;

    rc = ops_query(c,
                   "insert user",
                   "INSERT INTO users (dealership_id, username, email,"
                   " password_hash, first_name, last_name, role)"
                   " VALUES ($1, $2, $3, $4, $5, $6, $7)"
                   " ON CONFLICT (username) DO NOTHING RETURNING id",
                   7,
                   params,
                   &res,
                   err);
    if (rc == DESKDB_EPG && strcmp(err->sqlstate, "23505") == 0)
        rc = taken("email", params[2], err);
    else if (rc == 0 && PQntuples(res) == 0)
        rc = taken("username", params[1], err);
    else if (rc == 0)
        ops_value(res, 0, id, OPS_UUID_LEN + 1);
    PQclear(res);
    return rc;
}

/* Grant the role's defaults; their codes, sorted, into *codes. */
static int
permissions_grant(struct ops_ctx *c,
                  const char *user,
                  const char *role,
                  json_t **codes,
                  struct deskdb_err *err)
{
    const char *params[] = {user, c->dealership, role};
    PGresult *res = NULL;
    int rc;

    *codes = NULL;
    rc = ops_query(c,
                   "grant default permissions",
                   "WITH granted AS ("
                   " INSERT INTO user_permissions"
                   " (user_id, permission_id, dealership_id)"
                   " SELECT $1, rp.permission_id, $2 FROM role_permissions rp"
                   " WHERE rp.role = $3 RETURNING permission_id)"
                   " SELECT p.code FROM granted g"
                   " JOIN permissions p ON p.id = g.permission_id"
                   " ORDER BY p.code",
                   3,
                   params,
                   &res,
                   err);
    if (rc != 0)
        goto out;
    *codes = json_array();
    for (int i = 0; *codes != NULL && i < PQntuples(res); i++) {
        if (json_array_append_new(*codes, json_string(PQgetvalue(res, i, 0))))
            rc = err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    if (*codes == NULL)
        rc = err_set(err, DESKDB_ENOMEM, "out of memory");
out:
    PQclear(res);
    return rc;
}

static int
register_user_run(struct ops_ctx *c, struct deskdb_err *err)
{
    const struct ops_ref refs[] = {{OPS_REF_USER, "actor", c->actor}};
    const char *username = ops_str(c->in, "username");
    const char *role = ops_str(c->in, "role");
    char id[OPS_UUID_LEN + 1] = "";
    json_t *codes = NULL;
    int rc;

    if (role == NULL)
        role = "salesperson";
    rc = ops_check_refs(c, refs, 1, err);
    if (rc == 0)
        rc = names_free(c, err);
    if (rc == 0)
        rc = user_insert(c, id, err);
    if (rc == 0)
        rc = permissions_grant(c, id, role, &codes, err);
    if (rc == 0)
        rc = ops_audit(c,
                       "user.registered",
                       "user",
                       id,
                       c->actor,
                       json_pack("{s:s, s:s, s:I}",
                                 "username",
                                 username,
                                 "role",
                                 role,
                                 "permissions",
                                 (json_int_t)json_array_size(codes)),
                       err);
    if (rc != 0) {
        json_decref(codes);
        return rc;
    }
    /* The password hash is never part of a result. */
    c->result = json_pack("{s:{s:s, s:s, s:s}, s:o}",
                          "user",
                          "id",
                          id,
                          "username",
                          username,
                          "role",
                          role,
                          "permissions",
                          codes);
    return c->result != NULL ? 0 : err_set(err, DESKDB_ENOMEM, "out of memory");
}

const struct ops_op ops_op_register_user = {
    .name = "register_user",
    .fields = register_user_fields,
    .run = register_user_run,
};

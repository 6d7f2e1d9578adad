/* SPDX-License-Identifier: MIT */
/* Tenant isolation of every operation, with row-level security (a runtime
 * role) and without it (a superuser): references into another dealership
 * are refused and its rows are neither written nor locked; a forged
 * dealership_id is refused.  And the behaviour of attach_customer,
 * register_user, update_email_status (and its NOTIFY) and next_sequence. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "core/ops.h"
#include "support/opstest.h"

#define TA      OPSTEST_TAIL_A
#define TB      OPSTEST_TAIL_B
#define A       OPSTEST_A
#define B       OPSTEST_B
#define SALES_A OPSTEST_ID("10000000", TA)
#define SALES_B OPSTEST_ID("10000000", TB)
#define CUST_A  OPSTEST_ID("20000000", TA)
#define CUST_B  OPSTEST_ID("20000000", TB)
#define VEH_B   OPSTEST_ID("30000001", TB)
#define DEAL_A  OPSTEST_ID("40000000", TA)
#define DEAL_B  OPSTEST_ID("40000000", TB)
#define MAIL_A  OPSTEST_ID("50000000", TA)
#define INBOX_A OPSTEST_ID("51000000", TA)
#define MAIL_B  OPSTEST_ID("50000000", TB)

static struct opstest fx;

static int
group_setup(void **state)
{
    (void)state;
    opstest_setup(&fx, "ops_tenant", 4);
    opstest_seed(&fx, TA, 20);
    opstest_seed(&fx, TB, 20);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    opstest_teardown(&fx);
    return 0;
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

/* Every row of every tenant table of dealership `d`, as one digest. */
static char *
tenant_digest(const char *d)
{
    static const char *const tables[] = {"users",
                                         "user_permissions",
                                         "customers",
                                         "vehicles",
                                         "deals",
                                         "deal_scenarios",
                                         "audit_log",
                                         "email_messages",
                                         "sequences"};
    char sql[4096];
    size_t used = 0;

    used += (size_t)snprintf(sql,
                             sizeof(sql),
                             "SELECT md5(concat((SELECT d::text FROM"
                             " dealerships d WHERE id = '%s')",
                             d);
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
        used += (size_t)snprintf(sql + used,
                                 sizeof(sql) - used,
                                 ", (SELECT string_agg(t::text, ',' ORDER BY"
                                 " t::text) FROM %s t WHERE dealership_id ="
                                 " '%s')",
                                 tables[i],
                                 d);
    snprintf(sql + used, sizeof(sql) - used, "))");
    return test_db_query_text(&fx.db, sql);
}

/* Inputs for dealership A that reach into dealership B. */
static const struct {
    const char *op;
    const char *input;
    const char *message;
} cross[] = {
    {"create_deal",
     "{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_B "\"}",
     "salesperson " SALES_B " not found in dealership " A},
    {"create_deal",
     "{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_A
     "\",\"customer_id\":\"" CUST_B "\"}",
     "customer " CUST_B " not found in dealership " A},
    {"create_deal",
     "{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_A
     "\",\"vehicle_id\":\"" VEH_B "\"}",
     "vehicle " VEH_B " not found in dealership " A},
    {"create_deal",
     "{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_A
     "\",\"actor_id\":\"" SALES_B "\"}",
     "actor " SALES_B " not found in dealership " A},
    {"attach_customer",
     "{\"dealership_id\":\"" A "\",\"deal_id\":\"" DEAL_B
     "\",\"customer_id\":\"" CUST_A "\"}",
     "deal " DEAL_B " not found in dealership " A},
    {"attach_customer",
     "{\"dealership_id\":\"" A "\",\"deal_id\":\"" DEAL_A
     "\",\"customer_id\":\"" CUST_B "\"}",
     "customer " CUST_B " not found in dealership " A},
    {"update_email_status",
     "{\"dealership_id\":\"" A "\",\"email_id\":\"" MAIL_B
     "\",\"status\":\"queued\"}",
     "e-mail " MAIL_B " not found in dealership " A},
    {"register_user",
     "{\"dealership_id\":\"" A "\",\"username\":\"newbie\",\"email\":"
     "\"newbie@example.com\",\"actor_id\":\"" SALES_B "\"}",
     "actor " SALES_B " not found in dealership " A},
    {"next_sequence",
     "{\"dealership_id\":\"" A "\",\"name\":\"stock\",\"actor_id\":\"" SALES_B
     "\"}",
     "actor " SALES_B " not found in dealership " A},
};

#define N_CROSS (sizeof(cross) / sizeof(cross[0]))

static void
run_cross(struct pool *pool, int64_t timeout_ms)
{
    struct ops_options o = opstest_options();
    char *before_a = tenant_digest(A), *before_b = tenant_digest(B), *after;
    json_t *r;
    int rc;

    o.txn.timeout_ms = timeout_ms;
    o.txn.max_retries = 0;
    for (size_t i = 0; i < N_CROSS; i++) {
        r = opstest_apply(pool, cross[i].op, &o, cross[i].input, &rc);
        if (rc != DESKDB_ENOTFOUND)
            fail_msg("%s #%zu: rc %d: %s",
                     cross[i].op,
                     i,
                     rc,
                     opstest_get(r, "error"));
        assert_string_equal(opstest_get(r, "code"), "not_found");
        assert_contains(opstest_get(r, "error"), cross[i].message);
        json_decref(r);
    }
    after = tenant_digest(B);
    assert_string_equal(after, before_b);
    free(after);
    after = tenant_digest(A);
    assert_string_equal(after, before_a);
    free(after);
    free(before_a);
    free(before_b);
}

/* Row-level security: the database itself hides B from the runtime role. */
static void
test_references_into_another_dealership_with_rls(void **state)
{
    (void)state;
    run_cross(fx.app, 20000);
}

/* A role that bypasses row-level security: the operations' own filters
 * still keep every statement inside the dealership. */
static void
test_references_into_another_dealership_without_rls(void **state)
{
    (void)state;
    run_cross(fx.super, 20000);
}

static void
run_sql(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/*
 * Every row of dealership B is locked by another session.  An operation
 * that wrote or locked any of them would wait and time out; none does,
 * even as a superuser, and A's own work goes through meanwhile.
 */
static void
test_operations_never_touch_another_dealerships_rows(void **state)
{
    static const char *const tables[] = {"users",
                                         "customers",
                                         "vehicles",
                                         "deals",
                                         "deal_scenarios",
                                         "audit_log",
                                         "email_messages",
                                         "sequences"};
    struct ops_options o = opstest_options();
    PGconn *locker = test_db_connect(&fx.db);
    char sql[256];
    json_t *r;
    int rc;

    (void)state;
    run_sql(locker, "BEGIN");
    run_sql(locker, "SELECT 1 FROM dealerships WHERE id = '" B "' FOR UPDATE");
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql,
                 sizeof(sql),
                 "SELECT 1 FROM %s WHERE dealership_id = '" B "' FOR UPDATE",
                 tables[i]);
        run_sql(locker, sql);
    }
    run_cross(fx.super, 3000);
    run_cross(fx.app, 3000);
    o.txn.timeout_ms = 3000;
    r = opstest_apply(fx.super,
                      "create_deal",
                      &o,
                      "{\"dealership_id\":\"" A
                      "\",\"salesperson_id\":\"" SALES_A
                      "\",\"customer_id\":\"" CUST_A
                      "\",\"vehicle_id\":\"" OPSTEST_ID("30000001", TA) "\"}",
                      &rc);
    assert_int_equal(rc, 0);
    json_decref(r);
    run_sql(locker, "ROLLBACK");
    PQfinish(locker);
}

/* A run bound to dealership A refuses a record that names B. */
static void
test_forged_dealership_is_refused(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    char *before = tenant_digest(B), *after, *out;
    json_t *r;

    (void)state;
    o.dealership = A;
    out = opstest_stream(fx.app,
                         "next_sequence",
                         &o,
                         "{\"dealership_id\":\"" B "\",\"name\":\"stock\"}\n"
                         "{\"dealership_id\":\"" A "\",\"name\":\"stock\"}\n",
                         &sum);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.applied, 1);
    r = opstest_line(out, 0);
    assert_string_equal(opstest_get(r, "code"), "forbidden");
    assert_contains(opstest_get(r, "error"),
                    "dealership_id " B " is not the dealership this run is "
                    "for");
    json_decref(r);
    after = tenant_digest(B);
    assert_string_equal(after, before);
    free(after);
    free(before);
    free(out);
}

/* ---- the other operations ---------------------------------------------- */

static json_t *
apply_ok(struct pool *pool, const char *op, const char *input)
{
    struct ops_options o = opstest_options();
    json_t *r;
    int rc;

    r = opstest_apply(pool, op, &o, input, &rc);
    if (rc != 0)
        fail_msg("%s: %s", op, opstest_get(r, "error"));
    return r;
}

static void
apply_fail(struct pool *pool,
           const char *op,
           const char *input,
           int want,
           const char *message)
{
    struct ops_options o = opstest_options();
    json_t *r;
    int rc;

    r = opstest_apply(pool, op, &o, input, &rc);
    if (rc != want)
        fail_msg("%s: rc %d, want %d: %s",
                 op,
                 rc,
                 want,
                 json_dumps(r, JSON_COMPACT));
    assert_contains(opstest_get(r, "error"), message);
    json_decref(r);
}

static void
test_attach_customer(void **state)
{
    json_t *r;
    char sql[256];

    (void)state;
    r = apply_ok(fx.app,
                 "attach_customer",
                 "{\"external_id\":\"att-1\",\"dealership_id\":\"" A
                 "\",\"deal_id\":\"" DEAL_A "\",\"customer\":{\"first_name\":"
                 "\"Kim\",\"last_name\":\"Park\"},\"actor_id\":\"" SALES_A
                 "\"}");
    assert_true(json_is_true(
        json_object_get(json_object_get(r, "deal"), "number_generated")));
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM deals d JOIN customers c ON c.id ="
             " d.customer_id AND c.last_name = 'Park' WHERE d.id = '" DEAL_A
             "' AND d.deal_number = '%s'",
             opstest_get(r, "deal.deal_number"));
    assert_int_equal(opstest_int(&fx, sql), 1);
    assert_int_equal(
        opstest_int(&fx,
                    "SELECT count(*) FROM audit_log WHERE action ="
                    " 'deal.customer_attached' AND entity_id = '" DEAL_A
                    "' AND user_id = '" SALES_A "'"),
        1);
    json_decref(r);
    apply_fail(fx.app,
               "attach_customer",
               "{\"dealership_id\":\"" A "\",\"deal_id\":\"" DEAL_A
               "\",\"customer_id\":\"" CUST_A "\"}",
               DESKDB_EEXIST,
               "already has customer");
    apply_fail(fx.app,
               "attach_customer",
               "{\"dealership_id\":\"" A "\",\"deal_id\":\"" DEAL_A "\"}",
               DESKDB_EINVAL,
               "exactly one of 'customer_id' or 'customer'");
    /* The same record again: reported, not applied, no second customer. */
    r = apply_ok(fx.app,
                 "attach_customer",
                 "{\"external_id\":\"att-1\",\"dealership_id\":\"" A
                 "\",\"deal_id\":\"" DEAL_A "\",\"customer\":{\"first_name\":"
                 "\"Kim\",\"last_name\":\"Park\"},\"actor_id\":\"" SALES_A
                 "\"}");
    assert_string_equal(opstest_get(r, "status"), "duplicate");
    assert_int_equal(
        opstest_int(&fx,
                    "SELECT count(*) FROM customers WHERE last_name = 'Park'"),
        1);
    json_decref(r);
}

static void
register_user_checks(struct pool *pool, const char *tag)
{
    char in[512], sql[256];
    json_t *r;

    snprintf(in,
             sizeof(in),
             "{\"dealership_id\":\"" A "\",\"username\":\"fin_%s\",\"email\":"
             "\"fin_%s@example.com\",\"role\":\"finance_manager\","
             "\"password_hash\":\"$2b$12$sekritsekritsekrit\"}",
             tag,
             tag);
    r = apply_ok(pool, "register_user", in);
    assert_string_equal(opstest_get(r, "user.role"), "finance_manager");
    assert_int_equal(json_array_size(json_object_get(r, "permissions")),
                     opstest_int(&fx,
                                 "SELECT count(*) FROM role_permissions"
                                 " WHERE role = 'finance_manager'"));
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM user_permissions WHERE user_id = '%s'",
             opstest_get(r, "user.id"));
    assert_int_equal(opstest_int(&fx, sql),
                     json_array_size(json_object_get(r, "permissions")));
    json_decref(r);
    /* B's username and e-mail: invisible to the runtime role's check, so
     * the unique keys answer; the message is the same either way. */
    apply_fail(pool,
               "register_user",
               "{\"dealership_id\":\"" A "\",\"username\":\"sales_" TB
               "\",\"email\":\"other@example.com\"}",
               DESKDB_EEXIST,
               "username 'sales_" TB "' is already taken");
    apply_fail(pool,
               "register_user",
               "{\"dealership_id\":\"" A "\",\"username\":\"someone_new\","
               "\"email\":\"SALES_" TB "@Example.com\"}",
               DESKDB_EEXIST,
               "email 'SALES_" TB "@Example.com' is already taken");
}

static void
test_register_user(void **state)
{
    (void)state;
    register_user_checks(fx.app, "app");
    register_user_checks(fx.super, "super");
    /* The hash never leaves the database. */
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM audit_log WHERE"
                                 " details::text LIKE '%sekrit%'"),
                     0);
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM users WHERE"
                                 " password_hash LIKE '$2b$12$sekrit%'"),
                     2);
    apply_fail(fx.app,
               "register_user",
               "{\"dealership_id\":\"" A "\",\"username\":\"x\",\"email\":"
               "\"x@example.com\"}",
               DESKDB_EINVAL,
               "field 'username' must be 3 to 64");
}

static void
email_step(const char *id, const char *status, bool changed)
{
    char in[256];
    json_t *r;

    snprintf(in,
             sizeof(in),
             "{\"dealership_id\":\"" A "\",\"email_id\":\"%s\",\"status\":"
             "\"%s\"}",
             id,
             status);
    r = apply_ok(fx.app, "update_email_status", in);
    assert_int_equal(json_is_true(json_object_get(r, "changed")), changed);
    json_decref(r);
}

static void
test_update_email_status(void **state)
{
    long long audit0 = opstest_int(&fx,
                                   "SELECT count(*) FROM audit_log WHERE"
                                   " action = 'email.status_changed'");

    (void)state;
    email_step(MAIL_A, "queued", true);
    email_step(MAIL_A, "sending", true);
    email_step(MAIL_A, "sent", true);
    email_step(MAIL_A, "sent", false);
    email_step(MAIL_A, "delivered", true);
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM email_messages WHERE id"
                                 " = '" MAIL_A "' AND sent_at IS NOT NULL"),
                     1);
    apply_fail(fx.app,
               "update_email_status",
               "{\"dealership_id\":\"" A "\",\"email_id\":\"" MAIL_A
               "\",\"status\":\"draft\"}",
               DESKDB_EEXIST,
               "cannot go from 'delivered' to 'draft'");
    email_step(MAIL_A, "archived", true);
    apply_fail(fx.app,
               "update_email_status",
               "{\"dealership_id\":\"" A "\",\"email_id\":\"" MAIL_A
               "\",\"status\":\"read\"}",
               DESKDB_EEXIST,
               "(outbound) cannot go from 'archived' to 'read'");
    email_step(INBOX_A, "read", true);
    email_step(INBOX_A, "archived", true);
    email_step(INBOX_A, "read", true);
    apply_fail(fx.app,
               "update_email_status",
               "{\"dealership_id\":\"" A "\",\"email_id\":\"" MAIL_A
               "\",\"status\":\"lost\"}",
               DESKDB_EINVAL,
               "field 'status' must be one of draft, queued");
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM audit_log WHERE"
                                 " action = 'email.status_changed'"),
                     audit0 + 8);
}

/* The next notification on `conn` within `timeout_ms`, or NULL. */
static PGnotify *
next_notify(PGconn *conn, int timeout_ms)
{
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    PGnotify *n;

    for (int waited = 0;; waited += 50) {
        assert_int_equal(PQconsumeInput(conn), 1);
        n = PQnotifies(conn);
        if (n != NULL || waited >= timeout_ms)
            return n;
        (void)poll(&pfd, 1, 50);
    }
}

static char *
email_input(const char *id, const char *status)
{
    char *in = NULL;

    assert_true(asprintf(&in,
                         "{\"dealership_id\":\"" B "\",\"email_id\":\"%s\","
                         "\"status\":\"%s\"}",
                         id,
                         status) > 0);
    return in;
}

/* With operations.notify_channel set, each status change sends a NOTIFY
 * that listeners receive once it commits: not for a repeated status, not
 * for a change rolled back, and not when no channel is configured. */
static void
test_email_status_change_notifies_on_commit(void **state)
{
    struct ops_options o = opstest_options();
    PGconn *listener = test_db_connect(&fx.db);
    char *in = email_input(MAIL_B, "queued");
    struct ops_summary sum;
    PGresult *res;
    PGnotify *n;
    json_t *r, *payload;
    char *text;
    int rc;

    (void)state;
    res = PQexec(listener, "LISTEN deskdb_email_status");
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    o.notify_channel = "deskdb_email_status";

    r = opstest_apply(fx.app, "update_email_status", &o, in, &rc);
    assert_int_equal(rc, 0);
    json_decref(r);
    n = next_notify(listener, 5000);
    assert_non_null(n);
    assert_string_equal(n->relname, "deskdb_email_status");
    payload = json_loads(n->extra, 0, NULL);
    assert_non_null(payload);
    assert_string_equal(opstest_get(payload, "email_id"), MAIL_B);
    assert_string_equal(opstest_get(payload, "dealership_id"), B);
    assert_string_equal(opstest_get(payload, "status"), "queued");
    assert_string_equal(opstest_get(payload, "previous_status"), "draft");
    assert_true(json_is_null(json_object_get(payload, "actor_id")));
    json_decref(payload);
    PQfreemem(n);

    /* The same status again changes nothing and says nothing. */
    r = opstest_apply(fx.app, "update_email_status", &o, in, &rc);
    assert_int_equal(rc, 0);
    json_decref(r);
    free(in);
    assert_null(next_notify(listener, 300));

    /* queued -> sending, then sending -> draft is refused: the whole input
     * rolls back, and so does its notification. */
    o.all_or_nothing = true;
    in = NULL;
    assert_true(asprintf(&in,
                         "{\"dealership_id\":\"" B "\",\"email_id\":\"" MAIL_B
                         "\",\"status\":\"sending\"}\n"
                         "{\"dealership_id\":\"" B "\",\"email_id\":\"" MAIL_B
                         "\",\"status\":\"draft\"}\n") > 0);
    text = opstest_stream(fx.app, "update_email_status", &o, in, &sum);
    free(in);
    free(text);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.applied, 0);
    assert_null(next_notify(listener, 300));

    /* No channel, no NOTIFY. */
    o.all_or_nothing = false;
    o.notify_channel = NULL;
    in = email_input(MAIL_B, "sending");
    r = opstest_apply(fx.app, "update_email_status", &o, in, &rc);
    assert_int_equal(rc, 0);
    json_decref(r);
    free(in);
    assert_null(next_notify(listener, 300));
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM email_messages WHERE id"
                                 " = '" MAIL_B "' AND status = 'sending'"),
                     1);
    PQfinish(listener);
}

static void
test_next_sequence(void **state)
{
    json_t *r;
    long long first;

    (void)state;
    r = apply_ok(fx.app,
                 "next_sequence",
                 "{\"dealership_id\":\"" B "\",\"name\":\"stock\"}");
    first = json_integer_value(json_object_get(r, "value"));
    json_decref(r);
    r = apply_ok(fx.app,
                 "next_sequence",
                 "{\"external_id\":\"stk-9\",\"dealership_id\":\"" B
                 "\",\"name\":\"stock\"}");
    assert_int_equal(json_integer_value(json_object_get(r, "value")),
                     first + 1);
    json_decref(r);
    r = apply_ok(fx.app,
                 "next_sequence",
                 "{\"external_id\":\"stk-9\",\"dealership_id\":\"" B
                 "\",\"name\":\"stock\"}");
    assert_string_equal(opstest_get(r, "status"), "duplicate");
    assert_int_equal(json_integer_value(json_object_get(r, "value")),
                     first + 1);
    json_decref(r);
    /* The same external id in another dealership is another record. */
    r = apply_ok(fx.app,
                 "next_sequence",
                 "{\"external_id\":\"stk-9\",\"dealership_id\":\"" A
                 "\",\"name\":\"stock\"}");
    assert_string_equal(opstest_get(r, "status"), "applied");
    json_decref(r);
    assert_int_equal(opstest_int(&fx,
                                 "SELECT value FROM sequences WHERE"
                                 " dealership_id = '" B "' AND name = 'stock'"),
                     first + 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_references_into_another_dealership_with_rls),
        cmocka_unit_test(test_references_into_another_dealership_without_rls),
        cmocka_unit_test(test_operations_never_touch_another_dealerships_rows),
        cmocka_unit_test(test_forged_dealership_is_refused),
        cmocka_unit_test(test_attach_customer),
        cmocka_unit_test(test_register_user),
        cmocka_unit_test(test_update_email_status),
        cmocka_unit_test(test_email_status_change_notifies_on_commit),
        cmocka_unit_test(test_next_sequence),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

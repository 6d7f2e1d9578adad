/* SPDX-License-Identifier: MIT */
/* Row-level security of the migrated schema, seen by a non-superuser role. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/migrate.h"
#include "support/testdb.h"
#include "support/testsupport.h"

/* UUIDs are a kind digit, six zeros and the tenant's tail: dealership A is
 * 00000000-...-00000000000a, its user 10000000-...-00000000000a. */
#define TA "0-0000-0000-0000-00000000000a"
#define TB "0-0000-0000-0000-00000000000b"
#define A  "0000000" TA
#define B  "0000000" TB

struct fixture {
    struct test_db db;
    char app[64];   /* the runtime role: no superuser, no BYPASSRLS */
    char owner[64]; /* a non-superuser table owner */
};

/* Tenant tables and the column that names the tenant. */
static const struct {
    const char *table;
    const char *column;
} tenant_tables[] = {
    {"dealerships", "id"},
    {"users", "dealership_id"},
    {"user_permissions", "dealership_id"},
    {"customers", "dealership_id"},
    {"vehicles", "dealership_id"},
    {"deals", "dealership_id"},
    {"deal_scenarios", "dealership_id"},
    {"audit_log", "dealership_id"},
    {"email_messages", "dealership_id"},
    {"sequences", "dealership_id"},
};

#define N_TENANT (sizeof(tenant_tables) / sizeof(tenant_tables[0]))

/* One row per tenant table for the dealership whose tail is T. */
#define ROWS(T)                                                             \
    "INSERT INTO dealerships (id, name, code) VALUES ('0000000" T "', '" T  \
    "', '" T "');"                                                          \
    "INSERT INTO users (id, dealership_id, username, email) VALUES"         \
    " ('1000000" T "', '0000000" T "', 'user_" T "', 'user_" T              \
    "@example.com');"                                                       \
    "INSERT INTO user_permissions (user_id, permission_id, dealership_id)"  \
    " SELECT '1000000" T "', id, '0000000" T "' FROM permissions"           \
    " WHERE code = 'deals.read';"                                           \
    "INSERT INTO customers (id, dealership_id, first_name, last_name)"      \
    " VALUES ('2000000" T "', '0000000" T "', 'Ann', 'Lee');"               \
    "INSERT INTO vehicles (id, dealership_id, stock_number) VALUES"         \
    " ('3000000" T "', '0000000" T "', 'S1');"                              \
    "INSERT INTO deals (id, dealership_id, deal_number, customer_id,"       \
    " vehicle_id, salesperson_id) VALUES ('4000000" T "', '0000000" T       \
    "', '1', '2000000" T "', '3000000" T "', '1000000" T "');"              \
    "INSERT INTO deal_scenarios (deal_id, dealership_id, name, term, apr,"  \
    " is_default) VALUES ('4000000" T "', '0000000" T                       \
    "', 'Finance Deal', 60, 8.9, true);"                                    \
    "INSERT INTO audit_log (dealership_id, action, entity_type, entity_id)" \
    " VALUES ('0000000" T "', 'deal.created', 'deal', '4000000" T "');"     \
    "INSERT INTO email_messages (dealership_id, from_address, direction,"   \
    " status) VALUES ('0000000" T                                           \
    "', 'c@example.com', 'inbound', 'received');"                           \
    "INSERT INTO sequences (dealership_id, name, value) VALUES ('0000000" T \
    "', 'deal', 1);"

static int
group_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct migration_set *set = NULL;
    struct migrate_options o = {0};
    struct deskdb_err err;
    char sql[1024];

    assert_non_null(f);
    test_db_create(&f->db, "deskdb_rls");
    assert_int_equal(migration_set_load_embedded(&set, &err), DESKDB_OK);
    o.conninfo = f->db.dsn;
    o.set = set;
    if (migrate_up(&o, NULL, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    migration_set_destroy(set);

    snprintf(f->app, sizeof(f->app), "desk_app_%ld", (long)getpid());
    snprintf(f->owner, sizeof(f->owner), "desk_owner_%ld", (long)getpid());
    snprintf(sql,
             sizeof(sql),
             "CREATE ROLE %s NOLOGIN NOSUPERUSER NOBYPASSRLS;"
             "CREATE ROLE %s NOLOGIN NOSUPERUSER NOBYPASSRLS",
             f->app,
             f->owner);
    test_exec(sql);
    snprintf(sql,
             sizeof(sql),
             "GRANT USAGE ON SCHEMA public TO %s;"
             "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA"
             " public TO %s;"
             "GRANT USAGE ON SCHEMA public TO %s",
             f->app,
             f->app,
             f->owner);
    test_db_exec(&f->db, sql);
    /* Rows of two dealerships, written as superuser (RLS bypassed). */
    test_db_exec(&f->db, ROWS(TA) ROWS(TB));
    *state = f;
    return 0;
}

static int
group_teardown(void **state)
{
    struct fixture *f = *state;
    char sql[256];

    test_db_drop(&f->db);
    snprintf(sql, sizeof(sql), "DROP ROLE %s; DROP ROLE %s", f->app, f->owner);
    test_exec(sql);
    free(f);
    return 0;
}

/* A connection acting as `role`. */
static PGconn *
as_role(struct fixture *f, const char *role)
{
    PGconn *c = test_db_connect(&f->db);
    char sql[128];
    char st[6];

    snprintf(sql, sizeof(sql), "SET ROLE %s", role);
    assert_string_equal(test_sqlstate(c, sql, st), "");
    return c;
}

static long long
count(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    long long v;

    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fail_msg("%s: %s", sql, PQerrorMessage(c));
    }
    v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static void
run(PGconn *c, const char *sql)
{
    char st[6];

    if (test_sqlstate(c, sql, st)[0] != '\0')
        fail_msg("%s: %s", sql, PQerrorMessage(c));
}

/* Rows of every tenant table visible on `c`: total and other tenants'. */
static void
assert_visible(PGconn *c, long long want, const char *tenant)
{
    char sql[256];
    size_t i;

    for (i = 0; i < N_TENANT; i++) {
        snprintf(sql,
                 sizeof(sql),
                 "SELECT count(*) FROM %s",
                 tenant_tables[i].table);
        if (count(c, sql) != want)
            fail_msg("%s: want %lld rows visible",
                     tenant_tables[i].table,
                     want);
        if (tenant == NULL)
            continue;
        snprintf(sql,
                 sizeof(sql),
                 "SELECT count(*) FROM %s WHERE %s <> '%s'",
                 tenant_tables[i].table,
                 tenant_tables[i].column,
                 tenant);
        assert_int_equal(count(c, sql), 0);
    }
}

static void
test_no_tenant_sees_and_writes_nothing(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);
    char st[6];

    assert_visible(c, 0, NULL);
    assert_string_equal(
        test_sqlstate(c,
                      "INSERT INTO customers (dealership_id, first_name,"
                      " last_name) VALUES ('" A "', 'X', 'Y')",
                      st),
        "42501");
    PQfinish(c);
}

static void
test_tenant_sees_only_itself(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_visible(c, 1, A);
    run(c, "COMMIT");
    run(c, "BEGIN");
    run(c, "SELECT set_config('app.dealership_id', '" B "', true)");
    assert_visible(c, 1, B);
    run(c, "COMMIT");
    /* After a transaction-local setting, the session reads '' (not NULL):
     * NULLIF keeps that from failing, and nothing is visible. */
    assert_int_equal(count(c,
                           "SELECT count(*) WHERE current_setting("
                           "'app.dealership_id', true) = ''"),
                     1);
    assert_visible(c, 0, NULL);
    PQfinish(c);
}

static void
test_cross_tenant_writes_are_refused(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);
    PGresult *r;
    char st[6];

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_string_equal(
        test_sqlstate(c,
                      "INSERT INTO customers (dealership_id, first_name,"
                      " last_name) VALUES ('" B "', 'X', 'Y')",
                      st),
        "42501");
    run(c, "ROLLBACK");
    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_string_equal(
        test_sqlstate(c, "UPDATE customers SET dealership_id = '" B "'", st),
        "42501");
    run(c, "ROLLBACK");

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    r = PQexec(c,
               "UPDATE sequences SET value = value + 1"
               " WHERE dealership_id = '" B "' RETURNING value");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(PQntuples(r), 0);
    PQclear(r);
    r = PQexec(c, "DELETE FROM deals WHERE dealership_id = '" B "'");
    assert_string_equal(PQcmdTuples(r), "0");
    PQclear(r);
    /* next_sequence's upsert works inside the tenant. */
    assert_int_equal(count(c,
                           "INSERT INTO sequences (dealership_id, name, value)"
                           " VALUES ('" A "', 'deal', 1)"
                           " ON CONFLICT (dealership_id, name) DO UPDATE"
                           " SET value = sequences.value + 1 RETURNING value"),
                     2);
    run(c, "ROLLBACK");
    PQfinish(c);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deals WHERE dealership_id ="
                          " '" B "'"),
        1);
}

/* Foreign key checks bypass row security; the composite keys over
 * (id, dealership_id) are what stop a reference into another tenant. */
static void
test_cross_tenant_references_are_refused(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);
    char st[6];

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_string_equal(
        test_sqlstate(c,
                      "INSERT INTO deals (dealership_id, customer_id)"
                      " VALUES ('" A "', '2000000" TB "')",
                      st),
        "23503");
    run(c, "ROLLBACK");
    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_string_equal(
        test_sqlstate(c,
                      "INSERT INTO deal_scenarios (deal_id, dealership_id,"
                      " name) VALUES ('4000000" TB "', '" A "', 'x')",
                      st),
        "23503");
    run(c, "ROLLBACK");
    PQfinish(c);
}

/* The accepted leak: a unique constraint is checked against every
 * tenant's rows, so a taken username is reported as taken (23505). */
static void
test_unique_constraints_reveal_existence_only(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);
    char st[6];

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_int_equal(
        count(c, "SELECT count(*) FROM users WHERE username = 'user_" TB "'"),
        0);
    assert_string_equal(
        test_sqlstate(c,
                      "INSERT INTO users (dealership_id, username, email)"
                      " VALUES ('" A "', 'user_" TB "', 'new@example.com')",
                      st),
        "23505");
    run(c, "ROLLBACK");
    PQfinish(c);
}

static void
test_malformed_tenant_fails_closed(void **state)
{
    struct fixture *f = *state;
    PGconn *c = as_role(f, f->app);
    char st[6];

    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = 'not-a-uuid'");
    assert_string_equal(test_sqlstate(c, "SELECT * FROM customers", st),
                        "22P02");
    run(c, "ROLLBACK");
    PQfinish(c);
}

/* FORCE ROW LEVEL SECURITY is what subjects the table owner. */
static void
test_force_applies_to_the_owner(void **state)
{
    struct fixture *f = *state;
    char sql[128];
    PGconn *c;

    snprintf(sql, sizeof(sql), "ALTER TABLE customers OWNER TO %s", f->owner);
    test_db_exec(&f->db, sql);
    c = as_role(f, f->owner);
    assert_int_equal(count(c, "SELECT count(*) FROM customers"), 0);
    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_int_equal(count(c, "SELECT count(*) FROM customers"), 1);
    run(c, "COMMIT");
    test_db_exec(&f->db, "ALTER TABLE customers NO FORCE ROW LEVEL SECURITY");
    assert_int_equal(count(c, "SELECT count(*) FROM customers"), 2);
    PQfinish(c);
    test_db_exec(&f->db,
                 "ALTER TABLE customers FORCE ROW LEVEL SECURITY;"
                 "ALTER TABLE customers OWNER TO CURRENT_USER");
}

/* Every table with a dealership_id (and dealerships) is protected, and the
 * runtime role can bypass nothing. */
static void
test_every_tenant_table_is_protected(void **state)
{
    struct fixture *f = *state;
    char sql[512];

    assert_int_equal(
        test_db_query_int(
            &f->db,
            "SELECT count(*) FROM pg_class c"
            " WHERE c.relnamespace = 'public'::regnamespace"
            "   AND c.relkind IN ('r', 'p')"
            "   AND (c.relname = 'dealerships' OR EXISTS ("
            "        SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
            "        AND a.attname = 'dealership_id' AND NOT a.attisdropped))"
            "   AND c.relrowsecurity AND c.relforcerowsecurity"
            "   AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid"
            "               AND p.polname = 'tenant_isolation'"
            "               AND p.polqual IS NOT NULL"
            "               AND p.polwithcheck IS NOT NULL)"),
        (long long)N_TENANT);
    assert_int_equal(test_db_query_int(
                         &f->db,
                         "SELECT count(*) FROM pg_class c"
                         " WHERE c.relnamespace = 'public'::regnamespace"
                         "   AND c.relkind IN ('r', 'p') AND c.relrowsecurity"),
                     (long long)N_TENANT);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM pg_roles r WHERE r.rolname = '%s'"
             " AND NOT r.rolsuper AND NOT r.rolbypassrls AND NOT EXISTS"
             " (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid)",
             f->app);
    assert_int_equal(test_db_query_int(&f->db, sql), 1);
}

/* A view runs with its owner's rights unless security_invoker is set: one
 * owned by a superuser shows every tenant.  Views over tenant tables must
 * be created WITH (security_invoker = true). */
static void
test_views_need_security_invoker(void **state)
{
    struct fixture *f = *state;
    char sql[256];
    PGconn *c;

    snprintf(sql,
             sizeof(sql),
             "CREATE VIEW v_customers AS SELECT * FROM customers;"
             "GRANT SELECT ON v_customers TO %s",
             f->app);
    test_db_exec(&f->db, sql);
    c = as_role(f, f->app);
    assert_int_equal(count(c, "SELECT count(*) FROM v_customers"), 2);
    test_db_exec(&f->db,
                 "ALTER VIEW v_customers SET (security_invoker = true)");
    assert_int_equal(count(c, "SELECT count(*) FROM v_customers"), 0);
    run(c, "BEGIN");
    run(c, "SET LOCAL app.dealership_id = '" A "'");
    assert_int_equal(count(c, "SELECT count(*) FROM v_customers"), 1);
    run(c, "COMMIT");
    PQfinish(c);
    test_db_exec(&f->db, "DROP VIEW v_customers");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_tenant_sees_and_writes_nothing),
        cmocka_unit_test(test_tenant_sees_only_itself),
        cmocka_unit_test(test_cross_tenant_writes_are_refused),
        cmocka_unit_test(test_cross_tenant_references_are_refused),
        cmocka_unit_test(test_unique_constraints_reveal_existence_only),
        cmocka_unit_test(test_malformed_tenant_fails_closed),
        cmocka_unit_test(test_force_applies_to_the_owner),
        cmocka_unit_test(test_every_tenant_table_is_protected),
        cmocka_unit_test(test_views_need_security_invoker),
    };

    test_dsn();
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

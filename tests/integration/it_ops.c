/* SPDX-License-Identifier: MIT */
/* create_deal against a real PostgreSQL, as a role subject to row-level
 * security: every step made to fail in turn (an error, a killed
 * connection) leaves nothing behind; a killed attempt is retried once;
 * bad input changes nothing; feeds re-run apply nothing twice; an
 * all-or-nothing input is one transaction. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ops.h"
#include "support/opstest.h"

#define A          OPSTEST_A
#define SALES_A    OPSTEST_ID("10000000", OPSTEST_TAIL_A)
#define CUSTOMER_A OPSTEST_ID("20000000", OPSTEST_TAIL_A)
#define SALES_B    OPSTEST_ID("10000000", OPSTEST_TAIL_B)
#define VEHICLES   400

static struct opstest fx;

static int
group_setup(void **state)
{
    char sql[512];

    (void)state;
    opstest_setup(&fx, "ops_it", 6);
    opstest_seed(&fx, OPSTEST_TAIL_A, VEHICLES);
    opstest_seed(&fx, OPSTEST_TAIL_B, 1);
    test_db_exec(&fx.db,
                 "CREATE FUNCTION ops_fault() RETURNS trigger LANGUAGE plpgsql"
                 " AS $$ BEGIN RAISE EXCEPTION 'injected fault on %',"
                 " TG_TABLE_NAME; END $$;"
                 /* The backend ends itself mid-statement: the client sees
                  * the connection drop between two steps. */
                 "CREATE FUNCTION ops_kill() RETURNS trigger LANGUAGE plpgsql"
                 " AS $$ BEGIN PERFORM pg_terminate_backend(pg_backend_pid());"
                 " PERFORM pg_sleep(5); RETURN NEW; END $$;"
                 /* A sequence is not transactional: only the first call
                  * kills, the retry goes through. */
                 "CREATE SEQUENCE ops_kill_once_seq;"
                 "CREATE FUNCTION ops_kill_once() RETURNS trigger"
                 " LANGUAGE plpgsql AS $$ BEGIN"
                 " IF nextval('ops_kill_once_seq') = 1 THEN"
                 " PERFORM pg_terminate_backend(pg_backend_pid());"
                 " PERFORM pg_sleep(5); END IF; RETURN NEW; END $$;");
    snprintf(sql,
             sizeof(sql),
             "GRANT USAGE ON SEQUENCE ops_kill_once_seq TO %s",
             fx.role);
    test_db_exec(&fx.db, sql);
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    opstest_teardown(&fx);
    return 0;
}

static int next_vehicle = 1;

/* A create_deal record for dealership A with a new customer named `last`,
 * the next unused vehicle and a scenario. */
static void
deal_input(char *buf, size_t n, const char *external_id, const char *last)
{
    snprintf(buf,
             n,
             "{\"external_id\":\"%s\",\"dealership_id\":\"" A "\","
             "\"salesperson_id\":\"" SALES_A "\","
             "\"vehicle_id\":\"3%07d-0000-0000-0000-" OPSTEST_TAIL_A "\","
             "\"customer\":{\"first_name\":\"John\",\"last_name\":\"%s\","
             "\"email\":\"john@example.com\"},"
             "\"scenario\":{\"name\":\"Finance Deal\",\"term\":60,"
             "\"apr\":\"8.9\"}}",
             external_id,
             next_vehicle++,
             last);
}

/* What a create_deal call can leave behind, for dealership A. */
struct counts {
    long long customers, deals, scenarios, audit, ledger, pending, seq;
};

static void
counts_take(struct counts *c)
{
    c->customers = opstest_int(&fx, "SELECT count(*) FROM customers");
    c->deals = opstest_int(&fx, "SELECT count(*) FROM deals");
    c->scenarios = opstest_int(&fx, "SELECT count(*) FROM deal_scenarios");
    c->audit = opstest_int(&fx, "SELECT count(*) FROM audit_log");
    c->ledger = opstest_int(&fx, "SELECT count(*) FROM deskdb.import_ledger");
    c->pending = opstest_int(&fx,
                             "SELECT count(*) FROM vehicles"
                             " WHERE status <> 'available'");
    c->seq = opstest_int(&fx,
                         "SELECT coalesce(max(value), 0) FROM sequences"
                         " WHERE dealership_id = '" A "' AND name = 'deal'");
}

static void
counts_assert_delta(const struct counts *before, long long d)
{
    struct counts now;

    counts_take(&now);
    assert_int_equal(now.customers, before->customers + d);
    assert_int_equal(now.deals, before->deals + d);
    assert_int_equal(now.scenarios, before->scenarios + d);
    assert_int_equal(now.audit, before->audit + d);
    assert_int_equal(now.ledger, before->ledger + d);
    assert_int_equal(now.pending, before->pending + d);
    assert_int_equal(now.seq, before->seq + d);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static void
test_create_deal_applies_every_step(void **state)
{
    struct ops_options o = opstest_options();
    struct counts before;
    char in[1024], sql[256];
    json_t *r;
    int rc;

    (void)state;
    counts_take(&before);
    deal_input(in, sizeof(in), "ok-1", "Doe");
    r = opstest_apply(fx.app, "create_deal", &o, in, &rc);
    assert_int_equal(rc, 0);
    assert_true(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(opstest_get(r, "status"), "applied");
    assert_string_equal(opstest_get(r, "vehicle.status"), "pending");
    assert_true(json_is_true(
        json_object_get(json_object_get(r, "customer"), "created")));
    counts_assert_delta(&before, 1);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM deals d JOIN deal_scenarios s"
             " ON s.deal_id = d.id AND s.is_default AND s.term = 60"
             " AND s.apr = 8.9 WHERE d.id = '%s' AND d.deal_number = '%s'",
             opstest_get(r, "deal.id"),
             opstest_get(r, "deal.deal_number"));
    assert_int_equal(opstest_int(&fx, sql), 1);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM audit_log WHERE action = 'deal.created'"
             " AND entity_id = '%s' AND user_id = '" SALES_A "'"
             " AND details->>'external_id' = 'ok-1'",
             opstest_get(r, "deal.id"));
    assert_int_equal(opstest_int(&fx, sql), 1);
    json_decref(r);
}

/* The steps of create_deal and the table event each one fires. */
static const struct {
    const char *table;
    const char *event;
    const char *step; /* as the error names it */
} steps[] = {
    {"deskdb.import_ledger", "INSERT", "claim external_id"},
    {"customers", "INSERT", "insert customer"},
    {"vehicles", "UPDATE", "mark vehicle pending"},
    {"deals", "INSERT", "insert deal"},
    {"deal_scenarios", "INSERT", "insert scenario"},
    {"audit_log", "INSERT", "insert audit entry"},
    {"sequences", "INSERT OR UPDATE", "number deal"},
    {"deals", "UPDATE", "number deal"},
    {"deskdb.import_ledger", "UPDATE", "store result"},
};

#define N_STEPS (sizeof(steps) / sizeof(steps[0]))

static void
trigger_on(size_t i, const char *fn)
{
    char sql[512];

    snprintf(sql,
             sizeof(sql),
             "CREATE TRIGGER ops_fault_step BEFORE %s ON %s FOR EACH ROW"
             " EXECUTE FUNCTION %s()",
             steps[i].event,
             steps[i].table,
             fn);
    test_db_exec(&fx.db, sql);
}

static void
trigger_off(size_t i)
{
    char sql[256];

    snprintf(sql,
             sizeof(sql),
             "DROP TRIGGER ops_fault_step ON %s",
             steps[i].table);
    test_db_exec(&fx.db, sql);
}

/* Run one create_deal with step `i` failing through `fn`; nothing of it
 * may remain.  Returns the result. */
static json_t *
run_failing(size_t i, const char *fn, const char *tag)
{
    struct ops_options o = opstest_options();
    struct counts before;
    char in[1024], ext[64], sql[256];
    json_t *r;
    int rc;

    snprintf(ext, sizeof(ext), "%s-%zu", tag, i);
    deal_input(in, sizeof(in), ext, ext);
    counts_take(&before);
    trigger_on(i, fn);
    r = opstest_apply(fx.app, "create_deal", &o, in, &rc);
    trigger_off(i);
    if (rc == 0)
        fail_msg("step %s did not fail: %s",
                 steps[i].step,
                 json_dumps(r, JSON_COMPACT));
    assert_false(json_is_true(json_object_get(r, "ok")));
    assert_string_equal(opstest_get(r, "status"), "failed");
    counts_assert_delta(&before, 0);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM customers WHERE last_name = '%s'",
             ext);
    assert_int_equal(opstest_int(&fx, sql), 0);
    return r;
}

static void
test_each_failing_step_leaves_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_STEPS; i++) {
        json_t *r = run_failing(i, "ops_fault", "fault");

        assert_string_equal(opstest_get(r, "code"), "database");
        assert_contains(opstest_get(r, "error"), steps[i].step);
        assert_contains(opstest_get(r, "error"), "injected fault");
        json_decref(r);
    }
}

static void
test_killed_connection_at_each_step_leaves_nothing(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_STEPS; i++) {
        json_t *r = run_failing(i, "ops_kill", "kill");

        assert_string_equal(opstest_get(r, "code"), "connection");
        json_decref(r);
    }
}

/* The connection dies once, after the customer and vehicle steps:
 * the transaction manager runs the record again, and it is applied
 * exactly once. */
static void
test_killed_attempt_is_retried_once(void **state)
{
    struct ops_options o = opstest_options();
    struct counts before;
    char in[1024];
    json_t *r;
    int rc;

    (void)state;
    test_db_exec(&fx.db,
                 "SELECT setval('ops_kill_once_seq', 1, false);"
                 "CREATE TRIGGER ops_kill_once BEFORE INSERT ON deals"
                 " FOR EACH ROW EXECUTE FUNCTION ops_kill_once()");
    counts_take(&before);
    deal_input(in, sizeof(in), "retry-1", "Retry");
    r = opstest_apply(fx.app, "create_deal", &o, in, &rc);
    test_db_exec(&fx.db, "DROP TRIGGER ops_kill_once ON deals");
    assert_int_equal(rc, 0);
    assert_int_equal(
        opstest_int(&fx, "SELECT last_value FROM ops_kill_once_seq"),
        2);
    counts_assert_delta(&before, 1);
    json_decref(r);
}

/* A deal number taken outside the counter: a unique violation at the
 * deal step, reported as such, and the counter is not advanced. */
static void
test_taken_deal_number_leaves_nothing(void **state)
{
    struct ops_options o = opstest_options();
    struct counts before;
    char in[1024], sql[512];
    json_t *r;
    int rc;

    (void)state;
    counts_take(&before);
    snprintf(sql,
             sizeof(sql),
             "INSERT INTO deals (id, dealership_id, deal_number) VALUES"
             " ('4f000000-0000-0000-0000-" OPSTEST_TAIL_A "', '" A "',"
             " 'D-%06lld')",
             before.seq + 1);
    test_db_exec(&fx.db, sql);
    counts_take(&before);
    deal_input(in, sizeof(in), "taken-1", "Taken");
    r = opstest_apply(fx.app, "create_deal", &o, in, &rc);
    assert_int_equal(rc, DESKDB_EEXIST);
    assert_string_equal(opstest_get(r, "code"), "conflict");
    assert_contains(opstest_get(r, "error"), "already exists");
    counts_assert_delta(&before, 0);
    test_db_exec(
        &fx.db,
        "DELETE FROM deals WHERE id = '4f000000-0000-0000-0000-" OPSTEST_TAIL_A
        "'");
    json_decref(r);
}

#define REC(body) \
    "{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_A "\"" body "}"

static const struct {
    const char *input;
    int rc;
    const char *code;
    const char *message;
} bad_inputs[] = {
    {"{\"dealership_id\":", DESKDB_EINVAL, "invalid_input", "invalid JSON"},
    {"[1, 2]", DESKDB_EINVAL, "invalid_input", "must be a JSON object"},
    {"{\"a\":1,\"a\":2}", DESKDB_EINVAL, "invalid_input", "duplicate"},
    {"{}", DESKDB_EINVAL, "invalid_input", "missing field 'dealership_id'"},
    {"{\"dealership_id\":\"" A "\"}",
     DESKDB_EINVAL,
     "invalid_input",
     "missing field 'salesperson_id'"},
    {REC(",\"vehicle_id\":\"not-a-uuid\""),
     DESKDB_EINVAL,
     "invalid_input",
     "field 'vehicle_id' must be a UUID"},
    {REC(",\"vehicle_id\":42"),
     DESKDB_EINVAL,
     "invalid_input",
     "field 'vehicle_id' must be a string"},
    {REC(",\"colour\":\"red\""),
     DESKDB_EINVAL,
     "invalid_input",
     "unknown field 'colour'"},
    {REC(",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\","
         "\"dealership_id\":\"" OPSTEST_B "\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "unknown field 'customer.dealership_id'"},
    {REC(",\"customer\":{\"first_name\":\"A\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "missing field 'customer.last_name'"},
    {REC(",\"customer\":{\"first_name\":\"  \",\"last_name\":\"B\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "'customer.first_name' must be 1 to 100"},
    {REC(",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\","
         "\"email\":\"a@@b\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "'customer.email' must be an e-mail"},
    {REC(",\"customer_id\":\"" CUSTOMER_A "\",\"customer\":{"
         "\"first_name\":\"A\",\"last_name\":\"B\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "not both"},
    {REC(",\"scenario\":{\"term\":0}"),
     DESKDB_EINVAL,
     "invalid_input",
     "'scenario.term' must be a whole number from 1 to 120"},
    {REC(",\"scenario\":{\"apr\":\"8.9999\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "at most 3 decimal places"},
    {REC(",\"scenario\":{\"down_payment\":-1}"),
     DESKDB_EINVAL,
     "invalid_input",
     "'scenario.down_payment' must be a number from 0"},
    {REC(",\"scenario\":{\"name\":\"a\\nb\"}"),
     DESKDB_EINVAL,
     "invalid_input",
     "without control characters"},
    {REC(",\"deal_state\":\"DELIVERED\""),
     DESKDB_EINVAL,
     "invalid_input",
     "must be one of DRAFT, IN_PROGRESS, PENDING_APPROVAL"},
    {"{\"dealership_id\":\"" OPSTEST_ID(
         "00000000",
         "0000000000ff") "\",\"salesperson_id\":\"" SALES_A "\"}",
     DESKDB_ENOTFOUND,
     "not_found",
     "dealership 00000000-0000-0000-0000-"
     "0000000000ff not found"},
    {"{\"dealership_id\":\"" A "\",\"salesperson_id\":\"" SALES_B "\"}",
     DESKDB_ENOTFOUND,
     "not_found",
     "salesperson " SALES_B " not found in "
     "dealership " A},
    {REC(",\"vehicle_id\":\"" OPSTEST_ID("39999999", OPSTEST_TAIL_A) "\""),
     DESKDB_ENOTFOUND,
     "not_found",
     "vehicle 39999999-"},
    {REC(",\"customer_id\":\"" OPSTEST_ID("29999999", OPSTEST_TAIL_A) "\""),
     DESKDB_ENOTFOUND,
     "not_found",
     "customer 29999999-"},
    {"{\"dealership_id\":\"" A
     "\",\"salesperson_id\":\"" OPSTEST_ID("11000000", OPSTEST_TAIL_A) "\"}",
     DESKDB_EEXIST,
     "conflict",
     "is not an active user"},
};

static void
test_bad_input_changes_nothing(void **state)
{
    struct ops_options o = opstest_options();
    struct counts before;
    json_t *r;
    int rc;

    (void)state;
    counts_take(&before);
    for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]); i++) {
        r = opstest_apply(fx.app, "create_deal", &o, bad_inputs[i].input, &rc);
        if (rc != bad_inputs[i].rc)
            fail_msg("input %zu: rc %d, want %d: %s",
                     i,
                     rc,
                     bad_inputs[i].rc,
                     opstest_get(r, "error"));
        assert_string_equal(opstest_get(r, "code"), bad_inputs[i].code);
        assert_contains(opstest_get(r, "error"), bad_inputs[i].message);
        assert_int_equal(json_integer_value(json_object_get(r, "line")), 1);
        json_decref(r);
    }
    counts_assert_delta(&before, 0);
}

/* A vehicle already pending is refused, and the refusal undoes the
 * customer that was inserted before it. */
static void
test_unavailable_vehicle_is_refused(void **state)
{
    struct ops_options o = opstest_options();
    struct counts before;
    char in[1024];
    json_t *r;
    int rc;

    (void)state;
    deal_input(in, sizeof(in), "veh-1", "First");
    json_decref(opstest_apply(fx.app, "create_deal", &o, in, &rc));
    assert_int_equal(rc, 0);
    counts_take(&before);
    next_vehicle--;
    deal_input(in, sizeof(in), "veh-2", "Second");
    r = opstest_apply(fx.app, "create_deal", &o, in, &rc);
    assert_int_equal(rc, DESKDB_EEXIST);
    assert_contains(opstest_get(r, "error"),
                    "is not available (status 'pending')");
    counts_assert_delta(&before, 0);
    json_decref(r);
}

static char *
feed(int n, const char *tag)
{
    size_t cap = (size_t)n * 1024 + 64, used = 0;
    char *text = malloc(cap), ext[64];

    assert_non_null(text);
    for (int i = 0; i < n; i++) {
        snprintf(ext, sizeof(ext), "%s-%d", tag, i);
        deal_input(text + used, cap - used - 2, ext, ext);
        used += strlen(text + used);
        text[used++] = '\n';
        if (i == 2)
            text[used++] = '\n'; /* a blank line, counted */
    }
    text[used] = '\0';
    return text;
}

static void
test_feed_run_twice_applies_once(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    struct counts before;
    char *in = feed(20, "feed"), *out1, *out2;
    json_t *a, *b;

    (void)state;
    counts_take(&before);
    out1 = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    assert_int_equal(sum.lines, 21);
    assert_int_equal(sum.records, 20);
    assert_int_equal(sum.applied, 20);
    counts_assert_delta(&before, 20);
    out2 = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    assert_int_equal(sum.applied, 0);
    assert_int_equal(sum.duplicates, 20);
    assert_int_equal(sum.failed, 0);
    counts_assert_delta(&before, 20);
    for (int i = 0; i < 20; i++) {
        a = opstest_line(out1, i);
        b = opstest_line(out2, i);
        assert_string_equal(opstest_get(b, "status"), "duplicate");
        assert_string_equal(opstest_get(a, "deal.id"),
                            opstest_get(b, "deal.id"));
        assert_string_equal(opstest_get(a, "deal.deal_number"),
                            opstest_get(b, "deal.deal_number"));
        assert_int_equal(json_integer_value(json_object_get(b, "line")),
                         i < 3 ? i + 1 : i + 2);
        json_decref(a);
        json_decref(b);
    }
    free(out1);
    free(out2);
    free(in);
}

static void
test_all_or_nothing_commits_together(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    struct counts before;
    char *in = feed(5, "aon"), *out;

    (void)state;
    o.all_or_nothing = true;
    counts_take(&before);
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    assert_int_equal(sum.applied, 5);
    counts_assert_delta(&before, 5);
    free(out);
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    assert_int_equal(sum.duplicates, 5);
    counts_assert_delta(&before, 5);
    free(out);
    free(in);
}

/* Record 4 wants the vehicle record 1 just reserved: everything rolls
 * back, line 4 is the failure, every other line is not applied. */
static void
test_all_or_nothing_rolls_back_everything(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    struct counts before;
    char *in, *out, *p;
    json_t *r;

    (void)state;
    o.all_or_nothing = true;
    in = feed(5, "aon-bad");
    /* Line 5 is record 4 (a blank line follows record 3). */
    p = strstr(in, "aon-bad-3");
    assert_non_null(p);
    p = strstr(p, "\"vehicle_id\":\"3");
    memcpy(p + 14, strstr(in, "\"vehicle_id\":\"3") + 14, 8);
    counts_take(&before);
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    counts_assert_delta(&before, 0);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.not_applied, 4);
    for (int i = 0; i < 5; i++) {
        r = opstest_line(out, i);
        if (i == 3) {
            assert_string_equal(opstest_get(r, "status"), "failed");
            assert_string_equal(opstest_get(r, "code"), "conflict");
        } else {
            assert_string_equal(opstest_get(r, "status"), "not_applied");
            assert_contains(opstest_get(r, "error"), "line 5 failed");
        }
        json_decref(r);
    }
    free(out);

    /* A line that does not validate: no transaction at all. */
    p = strstr(in, "\"term\":60");
    memcpy(p, "\"term\":00", 9);
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    counts_assert_delta(&before, 0);
    r = opstest_line(out, 0);
    assert_string_equal(opstest_get(r, "code"), "invalid_input");
    json_decref(r);
    r = opstest_line(out, 1);
    assert_contains(opstest_get(r, "error"), "failed validation");
    json_decref(r);
    free(out);
    free(in);
}

/* A connection killed in the middle of an all-or-nothing input: the whole
 * input runs again from the spool, and each record is applied once. */
static void
test_all_or_nothing_retry_reads_the_input_again(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    struct counts before;
    char *in = feed(4, "aon-retry"), *out;

    (void)state;
    o.all_or_nothing = true;
    test_db_exec(&fx.db,
                 "SELECT setval('ops_kill_once_seq', 1, false);"
                 "CREATE TRIGGER ops_kill_once BEFORE INSERT ON deal_scenarios"
                 " FOR EACH ROW EXECUTE FUNCTION ops_kill_once()");
    counts_take(&before);
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    test_db_exec(&fx.db, "DROP TRIGGER ops_kill_once ON deal_scenarios");
    assert_int_equal(sum.applied, 4);
    counts_assert_delta(&before, 4);
    free(out);
    free(in);
}

static void
test_long_and_odd_lines(void **state)
{
    struct ops_options o = opstest_options();
    struct ops_summary sum;
    size_t big = OPS_LINE_MAX + 100;
    char *in = malloc(big + 64), *out;
    json_t *r;

    (void)state;
    assert_non_null(in);
    memset(in, 'x', big);
    strcpy(in + big, "\n\r\n \t\nnull\n\"x\"");
    out = opstest_stream(fx.app, "create_deal", &o, in, &sum);
    assert_int_equal(sum.lines, 5);
    assert_int_equal(sum.records, 3);
    assert_int_equal(sum.failed, 3);
    r = opstest_line(out, 0);
    assert_contains(opstest_get(r, "error"), "line is longer than 1048576");
    json_decref(r);
    r = opstest_line(out, 1);
    assert_int_equal(json_integer_value(json_object_get(r, "line")), 4);
    json_decref(r);
    free(out);
    free(in);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_deal_applies_every_step),
        cmocka_unit_test(test_each_failing_step_leaves_nothing),
        cmocka_unit_test(test_killed_connection_at_each_step_leaves_nothing),
        cmocka_unit_test(test_killed_attempt_is_retried_once),
        cmocka_unit_test(test_taken_deal_number_leaves_nothing),
        cmocka_unit_test(test_bad_input_changes_nothing),
        cmocka_unit_test(test_unavailable_vehicle_is_refused),
        cmocka_unit_test(test_feed_run_twice_applies_once),
        cmocka_unit_test(test_all_or_nothing_commits_together),
        cmocka_unit_test(test_all_or_nothing_rolls_back_everything),
        cmocka_unit_test(test_all_or_nothing_retry_reads_the_input_again),
        cmocka_unit_test(test_long_and_odd_lines),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

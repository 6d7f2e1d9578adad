/* SPDX-License-Identifier: MIT */
/* The database-free parts of core/ops: input validation and its messages,
 * decimals, the e-mail life cycle, result lines, and the NDJSON reader
 * (fed only records that fail validation, so no transaction starts). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/ops_internal.h"

#define UUID_A "00000000-0000-0000-0000-00000000000a"
#define UUID_S "10000000-0000-0000-0000-00000000000a"

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static struct ops_options
no_options(void)
{
    struct ops_options o;

    memset(&o, 0, sizeof(o));
    return o;
}

/* Prepare `input` for `op`; the failure message, or "" if valid. */
static const char *
prepare(const char *op, const char *input, const struct ops_options *o)
{
    static char msg[sizeof(((struct deskdb_err *)0)->msg)];
    struct ops_record r;
    int rc = ops_record_prepare(&r, ops_find(op), o, input, strlen(input), 7);

    snprintf(msg, sizeof(msg), "%s", rc == 0 ? "" : r.err.msg);
    if (rc != 0)
        assert_int_equal(r.status, OPS_FAILED);
    ops_record_fini(&r);
    return msg;
}

static void
test_table(void **state)
{
    (void)state;
    assert_non_null(ops_find("create_deal"));
    assert_non_null(ops_find("attach_customer"));
    assert_non_null(ops_find("register_user"));
    assert_non_null(ops_find("update_email_status"));
    assert_non_null(ops_find("next_sequence"));
    assert_null(ops_find("drop_tables"));
    assert_null(ops_find(NULL));
    assert_string_equal(ops_name(ops_at(0)), "create_deal");
    assert_null(ops_at(5));
}

static const struct {
    const char *op;
    const char *input;
    const char *message; /* "" when valid */
} cases[] = {
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S "\"}",
     ""},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"customer\":null,\"vehicle_id\":null}",
     ""},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":{\"apr\":8.9,\"down_payment\":\"1000.50\","
     "\"term\":120}}",
     ""},
    {"create_deal", "", "invalid JSON at column"},
    {"create_deal", "{\"x\":1} trailing", "invalid JSON"},
    {"create_deal", "{\"d\":\"\\u0000\"}", "invalid JSON"},
    {"create_deal", "\"text\"", "invalid JSON"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":null}",
     "missing field 'salesperson_id'"},
    {"create_deal",
     "{\"dealership_id\":\"00000000-0000-0000-0000-00000000000g\"}",
     "field 'dealership_id' must be a UUID"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "-\"}",
     "field 'dealership_id' must be a UUID"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":[]}",
     "field 'scenario' must be an object"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":{\"apr\":100.001}}",
     "'scenario.apr' must be a number from 0 to 100"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":{\"apr\":\"1e2\"}}",
     "'scenario.apr' must be a number"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":{\"amount_financed\":1e300}}",
     "'scenario.amount_financed' must be a number from 0 to 9999999999.99"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"scenario\":{\"term\":\"60\"}}",
     "'scenario.term' must be a whole number"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"external_id\":\"\"}",
     "field 'external_id' must be 1 to 200 characters"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"customer\":{\"first_name\":\"\\u00e9l\\u00e8ve\",\"last_name\":"
     "\"L\\u00e9a\",\"email\":\"l\\u00e9a@\\u00e9cole.fr\"}}",
     ""},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\","
     "\"email\":\"a..b@example.com\"}}",
     "'customer.email' must be an e-mail address"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\","
     "\"email\":\"a@example\"}}",
     "'customer.email' must be an e-mail address"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"customer\":{\"first_name\":\"A\",\"last_name\":\"B\","
     "\"email\":\"a@-x.example.com\"}}",
     "'customer.email' must be an e-mail address"},
    {"create_deal",
     "{\"dealership_id\":\"" UUID_A "\",\"salesperson_id\":\"" UUID_S
     "\",\"0123456789012345678901234567890123456789012345678901234567890123"
     "45678\":1}",
     "unknown field '0123456789012345678901234567890123456789012345678901"
     "234567890123...'"},
    {"register_user",
     "{\"dealership_id\":\"" UUID_A "\",\"username\":\"ann lee\","
     "\"email\":\"ann@example.com\"}",
     "field 'username' must be 3 to 64 of the characters"},
    {"register_user",
     "{\"dealership_id\":\"" UUID_A "\",\"username\":\"ann\","
     "\"email\":\"ann@example.com\",\"role\":\"root\"}",
     "field 'role' must be one of salesperson, sales_manager, "
     "finance_manager, admin"},
    {"register_user",
     "{\"dealership_id\":\"" UUID_A "\",\"username\":\"ann\","
     "\"email\":\"ann@example.com\",\"password_hash\":\"hunter2\"}",
     "must be a crypt(3) hash"},
    {"update_email_status",
     "{\"dealership_id\":\"" UUID_A "\",\"email_id\":\"" UUID_S
     "\",\"status\":\"read\"}",
     ""},
    {"update_email_status",
     "{\"dealership_id\":\"" UUID_A "\",\"email_id\":\"" UUID_S "\"}",
     "missing field 'status'"},
    {"next_sequence",
     "{\"dealership_id\":\"" UUID_A "\",\"name\":\"invoice\"}",
     "field 'name' must be one of deal, stock"},
    {"attach_customer",
     "{\"dealership_id\":\"" UUID_A "\",\"deal_id\":\"" UUID_S
     "\",\"customer_id\":\"" UUID_S "\",\"customer\":{\"first_name\":"
     "\"A\",\"last_name\":\"B\"}}",
     "exactly one of 'customer_id' or 'customer'"},
};

static void
test_validation_messages(void **state)
{
    struct ops_options o = no_options();

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *msg = prepare(cases[i].op, cases[i].input, &o);

        if (cases[i].message[0] == '\0' ? msg[0] != '\0'
                                        : strstr(msg, cases[i].message) == NULL)
            fail_msg("case %zu: got '%s', want '%s'", i, msg, cases[i].message);
    }
}

/* The secret is never quoted back, whatever is wrong with it. */
static void
test_secret_is_never_echoed(void **state)
{
    struct ops_options o = no_options();
    const char *msg;

    (void)state;
    msg = prepare("register_user",
                  "{\"dealership_id\":\"" UUID_A "\",\"username\":\"ann\","
                  "\"email\":\"ann@example.com\",\"password_hash\":"
                  "\"$2b$ sekrit\"}",
                  &o);
    assert_contains(msg, "password_hash");
    assert_null(strstr(msg, "sekrit"));
}

static void
test_dealership_binding_and_case(void **state)
{
    struct ops_options o = no_options();
    struct ops_record r;
    const char *in = "{\"dealership_id\":\"00000000-0000-0000-0000-"
                     "00000000000A\",\"name\":\"stock\"}";

    (void)state;
    o.dealership = "00000000-0000-0000-0000-00000000000b";
    assert_int_equal(ops_record_prepare(&r,
                                        ops_find("next_sequence"),
                                        &o,
                                        in,
                                        strlen(in),
                                        1),
                     DESKDB_EINVAL);
    assert_string_equal(r.code, "forbidden");
    ops_record_fini(&r);
    o.dealership = UUID_A;
    assert_int_equal(ops_record_prepare(&r,
                                        ops_find("next_sequence"),
                                        &o,
                                        in,
                                        strlen(in),
                                        1),
                     0);
    /* UUIDs are lower-cased as PostgreSQL prints them. */
    assert_string_equal(ops_str(r.in, "dealership_id"), UUID_A);
    ops_record_fini(&r);
}

static void
test_decimals(void **state)
{
    char out[OPS_NUM_MAX];
    json_t *v;

    (void)state;
    v = json_real(8.9);
    assert_int_equal(ops_decimal_text(v, out), 0);
    assert_string_equal(out, "8.9");
    json_decref(v);
    v = json_real(9999999999.99);
    assert_int_equal(ops_decimal_text(v, out), 0);
    assert_string_equal(out, "9999999999.99");
    json_decref(v);
    v = json_integer(-12);
    assert_int_equal(ops_decimal_text(v, out), 0);
    assert_string_equal(out, "-12");
    json_decref(v);
    v = json_string("1000.50");
    assert_int_equal(ops_decimal_text(v, out), 0);
    assert_string_equal(out, "1000.50");
    json_decref(v);
    v = json_string("1.");
    assert_int_equal(ops_decimal_text(v, out), -1);
    json_decref(v);
    v = json_string(".5");
    assert_int_equal(ops_decimal_text(v, out), -1);
    json_decref(v);
    v = json_true();
    assert_int_equal(ops_decimal_text(v, out), -1);
}

static void
test_email_life_cycle(void **state)
{
    (void)state;
    assert_true(ops_email_transition_allowed("outbound", "draft", "queued"));
    assert_true(ops_email_transition_allowed("outbound", "sent", "delivered"));
    assert_true(ops_email_transition_allowed("outbound", "bounced", "queued"));
    assert_true(ops_email_transition_allowed("inbound", "received", "read"));
    assert_true(ops_email_transition_allowed("inbound", "archived", "read"));
    assert_false(ops_email_transition_allowed("outbound", "archived", "read"));
    assert_false(
        ops_email_transition_allowed("outbound", "delivered", "draft"));
    assert_false(ops_email_transition_allowed("inbound", "received", "sent"));
    assert_false(ops_email_transition_allowed("outbound", "opened", "sent"));
}

static void
test_result_lines(void **state)
{
    struct ops_record r;
    struct deskdb_err err;
    json_error_t jerr;
    json_t *j;
    char *line;

    (void)state;
    memset(&r, 0, sizeof(r));
    r.line = 3;
    r.in = json_pack("{s:s}", "external_id", "ext-1");
    err_set(&err, DESKDB_ENOTFOUND, "vehicle x not found");
    /* A message cut inside a UTF-8 sequence stays valid JSON. */
    strcat(err.msg, " \xc3");
    ops_record_fail(&r, DESKDB_ENOTFOUND, &err);
    line = ops_record_line(&r);
    assert_non_null(line);
    j = json_loads(line, 0, &jerr);
    assert_non_null(j);
    assert_false(json_is_true(json_object_get(j, "ok")));
    assert_int_equal(json_integer_value(json_object_get(j, "line")), 3);
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "failed");
    assert_string_equal(json_string_value(json_object_get(j, "code")),
                        "not_found");
    assert_string_equal(json_string_value(json_object_get(j, "external_id")),
                        "ext-1");
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "vehicle x not found ?");
    assert_null(strchr(line, '\n'));
    json_decref(j);
    free(line);

    r.status = OPS_DUPLICATE;
    r.result = json_pack("{s:s, s:i}", "name", "stock", "value", 7);
    line = ops_record_line(&r);
    assert_string_equal(line,
                        "{\"ok\":true,\"line\":3,\"status\":\"duplicate\","
                        "\"external_id\":\"ext-1\",\"name\":\"stock\","
                        "\"value\":7}");
    free(line);
    ops_record_fini(&r);
}

/* Only invalid records: the runner never needs the pool. */
static void
test_stream_lines(void **state)
{
    struct ops_options o = no_options();
    const char input[] = "\xef\xbb\xbf{\"dealership_id\":1}\r\n"
                         "\n"
                         "   \n"
                         "[]\n"
                         "{\"dealership_id\":\"" UUID_A "\"}";
    FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
    char *out_text = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_text, &out_len);
    struct ops_summary sum;
    struct deskdb_err err;

    (void)state;
    assert_int_equal(ops_run_stream(NULL,
                                    ops_find("next_sequence"),
                                    &o,
                                    in,
                                    out,
                                    &sum,
                                    &err),
                     0);
    fclose(in);
    fclose(out);
    assert_int_equal(sum.lines, 5);
    assert_int_equal(sum.records, 3);
    assert_int_equal(sum.failed, 3);
    assert_string_equal(
        out_text,
        "{\"ok\":false,\"line\":1,\"status\":\"failed\",\"code\":"
        "\"invalid_input\",\"error\":\"field 'dealership_id' must be a "
        "string\"}\n"
        "{\"ok\":false,\"line\":4,\"status\":\"failed\",\"code\":"
        "\"invalid_input\",\"error\":\"input must be a JSON object\"}\n"
        "{\"ok\":false,\"line\":5,\"status\":\"failed\",\"code\":"
        "\"invalid_input\",\"error\":\"missing field 'name'\"}\n");
    free(out_text);
}

/* All or nothing: one invalid line and nothing runs; every other line is
 * reported as not applied. */
static void
test_stream_all_or_nothing_validates_first(void **state)
{
    struct ops_options o = no_options();
    const char input[] =
        "{\"dealership_id\":\"" UUID_A "\",\"name\":\"deal\"}\n"
        "{\"dealership_id\":\"" UUID_A "\",\"name\":\"x\"}\n"
        "\n"
        "{\"dealership_id\":\"" UUID_A "\",\"name\":\"deal\","
        "\"external_id\":\"e-3\"}\n";
    FILE *in = fmemopen((void *)input, sizeof(input) - 1, "r");
    char *out_text = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_text, &out_len);
    struct ops_summary sum;
    struct deskdb_err err;

    (void)state;
    o.all_or_nothing = true;
    assert_int_equal(ops_run_stream(NULL,
                                    ops_find("next_sequence"),
                                    &o,
                                    in,
                                    out,
                                    &sum,
                                    &err),
                     0);
    fclose(in);
    fclose(out);
    assert_int_equal(sum.failed, 1);
    assert_int_equal(sum.not_applied, 2);
    assert_string_equal(
        out_text,
        "{\"ok\":false,\"line\":1,\"status\":\"not_applied\",\"code\":"
        "\"rolled_back\",\"error\":\"not applied: 1 line(s) failed "
        "validation, the first at line 2, and nothing of the input is "
        "applied\"}\n"
        "{\"ok\":false,\"line\":2,\"status\":\"failed\",\"code\":"
        "\"invalid_input\",\"error\":\"field 'name' must be one of deal, "
        "stock\"}\n"
        "{\"ok\":false,\"line\":4,\"status\":\"not_applied\",\"external_id\":"
        "\"e-3\",\"code\":\"rolled_back\",\"error\":\"not applied: 1 line(s) "
        "failed validation, the first at line 2, and nothing of the input "
        "is applied\"}\n");
    free(out_text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_validation_messages),
        cmocka_unit_test(test_secret_is_never_echoed),
        cmocka_unit_test(test_dealership_binding_and_case),
        cmocka_unit_test(test_decimals),
        cmocka_unit_test(test_email_life_cycle),
        cmocka_unit_test(test_result_lines),
        cmocka_unit_test(test_stream_lines),
        cmocka_unit_test(test_stream_all_or_nothing_validates_first),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

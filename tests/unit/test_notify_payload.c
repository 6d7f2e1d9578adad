/* SPDX-License-Identifier: MIT */
/* Notification bodies against payloads captured from a real Alertmanager
 * 0.25, the Standard Webhooks signing vectors, group keys, timestamps,
 * and which answers are retried. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/sha256.h"
#include "exporter/notify/notify.h"

#define S(n) ((int64_t)(n)*1000000000)
#define L(n, v)                  \
    {                            \
        (char *)(n), (char *)(v) \
    }

/* Alertmanager 0.25 webhook (research/lab/captured.jsonl, last line):
 * the firing notification of DeadlockRetriesHigh. */
static const char captured_firing[] =
    "{\"receiver\": \"hook\", \"status\": \"firing\", \"alerts\": "
    "[{\"status\": \"firing\", \"labels\": {\"alertname\": "
    "\"DeadlockRetriesHigh\", \"severity\": \"critical\"}, \"annotations\": "
    "{}, \"startsAt\": \"2026-11-24T23:24:19Z\", \"endsAt\": "
    "\"0001-01-01T00:00:00Z\", \"generatorURL\": \"\", \"fingerprint\": "
    "\"0a809394e5e7a81f\"}], \"groupLabels\": {\"alertname\": "
    "\"DeadlockRetriesHigh\"}, \"commonLabels\": {\"alertname\": "
    "\"DeadlockRetriesHigh\", \"severity\": \"critical\"}, "
    "\"commonAnnotations\": {}, \"externalURL\": \"http://vm:19093\", "
    "\"version\": \"4\", \"groupKey\": "
    "\"{}:{alertname=\\\"DeadlockRetriesHigh\\\"}\", \"truncatedAlerts\": 0}";

/* Alertmanager 0.25 webhook, resolved (research alerts.md b.1): the same
 * shape with status resolved at both levels and endsAt set. */
static const char captured_resolved[] =
    "{\"receiver\": \"hook\", \"status\": \"resolved\", \"alerts\": "
    "[{\"status\": \"resolved\", \"labels\": {\"alertname\": "
    "\"PoolWaitingClientsHigh\", \"instance\": \"db1:9187\", \"pool\": "
    "\"main\", \"severity\": \"warning\"}, \"annotations\": {\"summary\": "
    "\"Pool main has 7 waiting clients\"}, \"startsAt\": "
    "\"2026-11-24T23:23:54Z\", \"endsAt\": \"2026-11-24T23:24:09Z\", "
    "\"generatorURL\": \"http://pgpoolmon.local/alerts\", \"fingerprint\": "
    "\"815330880a23990a\"}], \"groupLabels\": {\"alertname\": "
    "\"PoolWaitingClientsHigh\"}, \"commonLabels\": {\"alertname\": "
    "\"PoolWaitingClientsHigh\", \"instance\": \"db1:9187\", \"pool\": "
    "\"main\", \"severity\": \"warning\"}, \"commonAnnotations\": "
    "{\"summary\": \"Pool main has 7 waiting clients\"}, \"externalURL\": "
    "\"http://vm:19093\", \"version\": \"4\", \"groupKey\": "
    "\"{}:{alertname=\\\"PoolWaitingClientsHigh\\\"}\", \"truncatedAlerts\": "
    "0}";

/* The one value that legitimately differs from the captures: where
 * generatorURL points (the capture pushed alerts without one). */
static bool
ignored(const char *key)
{
    return strcmp(key, "generatorURL") == 0;
}

/* Every key of `want` is in `got` with an equal value (recursively),
 * except ignored ones; `got` may only add notification_reason. */
static void
assert_same_shape(json_t *want, json_t *got, const char *path)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_typeof(want) != json_typeof(got))
        fail_msg("%s: type %d, want %d",
                 path,
                 json_typeof(got),
                 json_typeof(want));
    if (json_is_array(want)) {
        assert_int_equal(json_array_size(got), json_array_size(want));
        for (i = 0; i < json_array_size(want); i++)
            assert_same_shape(json_array_get(want, i),
                              json_array_get(got, i),
                              path);
        return;
    }
    if (!json_is_object(want)) {
        if (!json_equal(want, got))
            fail_msg("%s differs: got %s",
                     path,
                     json_dumps(got, JSON_ENCODE_ANY));
        return;
    }
    json_object_foreach(want, k, v)
    {
        if (json_object_get(got, k) == NULL)
            fail_msg("%s.%s missing", path, k);
        if (!ignored(k))
            assert_same_shape(v, json_object_get(got, k), k);
    }
    json_object_foreach(got, k, v)
    {
        if (json_object_get(want, k) == NULL &&
            strcmp(k, "notification_reason") != 0)
            fail_msg("%s.%s is not in Alertmanager's payload", path, k);
    }
}

static struct notify_label deadlock_labels[] = {
    L("alertname", "DeadlockRetriesHigh"),
    L("severity", "critical")};
static struct notify_label group_deadlock[] = {
    L("alertname", "DeadlockRetriesHigh")};
static struct notify_label pool_labels[] = {
    L("alertname", "PoolWaitingClientsHigh"),
    L("instance", "db1:9187"),
    L("pool", "main"),
    L("severity", "warning")};
static struct notify_label pool_annotations[] = {
    L("summary", "Pool main has 7 waiting clients")};
static struct notify_label group_pool[] = {
    L("alertname", "PoolWaitingClientsHigh")};

static struct notify_alert
deadlock_alert(void)
{
    struct notify_alert a = {
        .labels = deadlock_labels,
        .n_labels = 2,
        .starts_at_ns = S(1795562659), /* 2026-11-24T23:24:19Z */
    };

    a.fingerprint = notify_fingerprint(a.labels, a.n_labels);
    return a;
}

static struct dispatch_flush
flush_of(struct notify_alert *a,
         struct notify_label *group,
         const char *key,
         enum notify_reason_sent why)
{
    struct dispatch_flush f = {
        .group_key = (char *)key,
        .group_labels = group,
        .n_group_labels = 1,
        .reason = why,
        .alerts = a,
        .n_alerts = 1,
    };

    return f;
}

static json_t *
render(const struct payload_ctx *ctx, const struct dispatch_flush *f)
{
    struct buf b;
    json_error_t jerr;
    json_t *j;

    buf_init(&b, 1 << 20);
    assert_int_equal(notify_payload(ctx, f, &b), DESKDB_OK);
    j = json_loads(b.data, 0, &jerr);
    if (j == NULL)
        fail_msg("invalid JSON (%s): %s", jerr.text, b.data);
    buf_fini(&b);
    return j;
}

static void
test_webhook_matches_alertmanager(void **state)
{
    struct payload_ctx ctx = {.receiver = "hook",
                              .type = CONFIG_RECEIVER_WEBHOOK,
                              .external_url = "http://vm:19093",
                              .now_real_ns = S(1795562700)};
    struct notify_alert a = deadlock_alert();
    struct dispatch_flush f = flush_of(&a,
                                       group_deadlock,
                                       "{}:{alertname=\"DeadlockRetriesHigh\"}",
                                       NOTIFY_FIRST);
    json_t *want = json_loads(captured_firing, 0, NULL), *got;

    (void)state;
    assert_non_null(want);
    got = render(&ctx, &f);
    assert_same_shape(want, got, "$");
    assert_string_equal(
        json_string_value(json_object_get(got, "notification_reason")),
        "first notification");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(got, "alerts"), 0),
                            "generatorURL")),
                        "http://vm:19093/api/alerts");
    json_decref(want);
    json_decref(got);

    /* Resolved: both statuses resolved, startsAt kept, endsAt set. */
    struct notify_alert p = {.labels = pool_labels,
                             .n_labels = 4,
                             .annotations = pool_annotations,
                             .n_annotations = 1,
                             .starts_at_ns = S(1795562634),
                             .ends_at_ns = S(1795562649),
                             .resolved = true};

    p.fingerprint = notify_fingerprint(p.labels, p.n_labels);
    f = flush_of(&p,
                 group_pool,
                 "{}:{alertname=\"PoolWaitingClientsHigh\"}",
                 NOTIFY_ALL_RESOLVED);
    want = json_loads(captured_resolved, 0, NULL);
    got = render(&ctx, &f);
    assert_same_shape(want, got, "$");
    json_decref(want);
    json_decref(got);
}

static void
test_alertmanager_v2_body(void **state)
{
    struct payload_ctx ctx = {.receiver = "am",
                              .type = CONFIG_RECEIVER_ALERTMANAGER,
                              .external_url = "",
                              .now_real_ns = S(1795562700),
                              .push_valid_ns = S(240)};
    struct notify_alert a[2] = {deadlock_alert(), deadlock_alert()};
    struct dispatch_flush f = flush_of(a, NULL, "{}", NOTIFY_UPDATE);
    json_t *got, *el;

    (void)state;
    a[1].labels = pool_labels;
    a[1].n_labels = 4;
    a[1].resolved = true;
    a[1].ends_at_ns = S(1795562690);
    f.n_alerts = 2;
    f.n_group_labels = 0;
    got = render(&ctx, &f);
    assert_true(json_is_array(got));
    assert_int_equal(json_array_size(got), 2);
    el = json_array_get(got, 0);
    assert_int_equal(json_object_size(el), 4); /* no empty generatorURL */
    assert_string_equal(json_string_value(json_object_get(el, "startsAt")),
                        "2026-11-24T23:24:19Z");
    /* Firing: valid for push_valid_ns, re-posted before then. */
    assert_string_equal(json_string_value(json_object_get(el, "endsAt")),
                        "2026-11-24T23:29:00Z");
    assert_string_equal(
        json_string_value(
            json_object_get(json_object_get(el, "labels"), "severity")),
        "critical");
    el = json_array_get(got, 1);
    assert_string_equal(json_string_value(json_object_get(el, "endsAt")),
                        "2026-11-24T23:24:50Z");
    json_decref(got);
}

static void
test_pagerduty_and_slack(void **state)
{
    char dedup[SHA256_HEX_LEN];
    const char *key = "{}:{alertname=\"DeadlockRetriesHigh\"}";
    struct payload_ctx ctx = {.receiver = "pd",
                              .type = CONFIG_RECEIVER_PAGERDUTY,
                              .external_url = "",
                              .routing_key = "R0UT1NGKEY",
                              .source = "db1",
                              .now_real_ns = S(1795562700)};
    struct notify_alert a = deadlock_alert();
    struct dispatch_flush f = flush_of(&a, group_deadlock, key, NOTIFY_FIRST);
    json_t *got, *payload;
    const char *text;

    (void)state;
    sha256_hex(key, strlen(key), dedup);
    assert_string_equal(
        dedup,
        "48b1a815ebd8f6ff299ac2550988aacd0728f204cb987928fbffd150e623235b");
    got = render(&ctx, &f);
    assert_string_equal(json_string_value(json_object_get(got, "event_action")),
                        "trigger");
    assert_string_equal(json_string_value(json_object_get(got, "dedup_key")),
                        dedup);
    assert_string_equal(json_string_value(json_object_get(got, "routing_key")),
                        "R0UT1NGKEY");
    payload = json_object_get(got, "payload");
    assert_string_equal(json_string_value(json_object_get(payload, "severity")),
                        "critical");
    assert_string_equal(json_string_value(json_object_get(payload, "source")),
                        "db1");
    assert_non_null(
        strstr(json_string_value(json_object_get(payload, "summary")),
               "[FIRING:1] DeadlockRetriesHigh"));
    assert_null(json_object_get(got, "client_url"));
    json_decref(got);
    /* All resolved: the resolve event with the same dedup_key only. */
    a.resolved = true;
    a.ends_at_ns = S(1795562690);
    got = render(&ctx, &f);
    assert_int_equal(json_object_size(got), 3);
    assert_string_equal(json_string_value(json_object_get(got, "event_action")),
                        "resolve");
    assert_string_equal(json_string_value(json_object_get(got, "dedup_key")),
                        dedup);
    json_decref(got);

    ctx.type = CONFIG_RECEIVER_SLACK;
    a.resolved = false;
    got = render(&ctx, &f);
    text = json_string_value(json_object_get(got, "text"));
    assert_non_null(text);
    assert_non_null(strstr(text, "[FIRING:1] DeadlockRetriesHigh"));
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(got, "blocks"), 0),
                            "type")),
                        "section");
    json_decref(got);
}

static void
test_signing_vectors(void **state)
{
    static const char body[] = "{\"test\": 2432232314}";
    char sig[NOTIFY_SIG_LEN], id[NOTIFY_ID_LEN], id2[NOTIFY_ID_LEN];

    (void)state;
    /* Standard Webhooks spec vector (research alerts.md b.6). */
    assert_int_equal(notify_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                 "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                 1614265330,
                                 body,
                                 strlen(body),
                                 sig),
                     DESKDB_OK);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    /* Any byte of the signed content changes the signature. */
    assert_int_equal(notify_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                 "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                 1614265331,
                                 body,
                                 strlen(body),
                                 sig),
                     DESKDB_OK);
    assert_string_not_equal(sig,
                            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    assert_int_equal(notify_sign("whsec_not base64!", "id", 1, "", 0, sig),
                     DESKDB_EINVAL);
    assert_null(
        notify_secret_problem("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
    assert_null(notify_secret_problem("a plain secret of 24 bytes"));
    assert_non_null(notify_secret_problem("whsec_###"));
    assert_non_null(notify_secret_problem("short"));
    notify_new_id(id);
    notify_new_id(id2);
    assert_int_equal(strlen(id), 36);
    assert_memory_equal(id, "msg_", 4);
    assert_string_not_equal(id, id2);
}

static void
test_base64(void **state)
{
    static const char *const vec[][2] = {{"", ""},
                                         {"f", "Zg=="},
                                         {"fo", "Zm8="},
                                         {"foo", "Zm9v"},
                                         {"foob", "Zm9vYg=="},
                                         {"fooba", "Zm9vYmE="},
                                         {"foobar", "Zm9vYmFy"}};
    char out[16];
    uint8_t raw[16];
    size_t i;
    long n;

    (void)state;
    for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        notify_base64((const uint8_t *)vec[i][0], strlen(vec[i][0]), out);
        assert_string_equal(out, vec[i][1]);
        n = notify_unbase64(vec[i][1], raw, sizeof(raw));
        assert_int_equal(n, (long)strlen(vec[i][0]));
        assert_memory_equal(raw, vec[i][0], (size_t)n);
    }
    assert_int_equal(notify_unbase64("Zm9v!", raw, sizeof(raw)), -1);
    assert_int_equal(notify_unbase64("Zm9vYmFy", raw, 3), -1);
}

static void
test_group_key_and_time(void **state)
{
    struct notify_label l[] = {L("alertname", "X"), L("job", "a\"b\\c\nd\x01")};
    char t[40];
    struct buf b;

    (void)state;
    buf_init(&b, 1024);
    assert_int_equal(notify_group_key(&b, l, 1), DESKDB_OK);
    assert_string_equal(b.data, "{}:{alertname=\"X\"}");
    buf_reset(&b);
    assert_int_equal(notify_group_key(&b, l, 2), DESKDB_OK);
    assert_string_equal(b.data,
                        "{}:{alertname=\"X\", job=\"a\\\"b\\\\c\\nd\\x01\"}");
    buf_fini(&b);
    assert_string_equal(notify_format_time(0, t), "0001-01-01T00:00:00Z");
    assert_string_equal(notify_format_time(S(1795562659), t),
                        "2026-11-24T23:24:19Z");
    assert_string_equal(notify_format_time(S(1795562659) + 250000000, t),
                        "2026-11-24T23:24:19.250Z");
}

static void
test_retry_classification(void **state)
{
    static const struct {
        long status;
        enum notify_outcome want;
    } table[] = {
        {200, NOTIFY_OK},        {202, NOTIFY_OK},
        {204, NOTIFY_OK},        {299, NOTIFY_OK},
        {408, NOTIFY_RETRY},     {429, NOTIFY_RETRY},
        {500, NOTIFY_RETRY},     {502, NOTIFY_RETRY},
        {503, NOTIFY_RETRY},     {599, NOTIFY_RETRY},
        {400, NOTIFY_PERMANENT}, {401, NOTIFY_PERMANENT},
        {403, NOTIFY_PERMANENT}, {404, NOTIFY_PERMANENT},
        {410, NOTIFY_PERMANENT}, {413, NOTIFY_PERMANENT},
        {301, NOTIFY_PERMANENT}, {302, NOTIFY_PERMANENT},
        {101, NOTIFY_PERMANENT}, {600, NOTIFY_PERMANENT},
    };
    int64_t now = S(784111777); /* Sun, 06 Nov 1994 08:49:37 GMT */
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (notify_classify_status(table[i].status) != table[i].want)
            fail_msg("status %ld", table[i].status);
    }
    assert_int_equal(notify_parse_retry_after("120", now), 120000);
    assert_int_equal(notify_parse_retry_after(" 0 ", now), 0);
    assert_int_equal(notify_parse_retry_after("99999999", now), 86400000);
    assert_int_equal(
        notify_parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
        30000);
    assert_int_equal(
        notify_parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
        0);
    assert_int_equal(notify_parse_retry_after("", now), -1);
    assert_int_equal(notify_parse_retry_after(NULL, now), -1);
    assert_int_equal(notify_parse_retry_after("soon", now), -1);
    assert_int_equal(notify_parse_retry_after("12s", now), -1);
    assert_int_equal(
        notify_parse_retry_after("Sun, 06 Foo 1994 08:50:07 GMT", now),
        -1);
    assert_int_equal(
        notify_parse_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now),
        -1);
    assert_string_equal(notify_reason_name(NOTIFY_REASON_TIMEOUT), "timeout");
    assert_string_equal(notify_reason_name(NOTIFY_REASON_HTTP_5XX), "http_5xx");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_matches_alertmanager),
        cmocka_unit_test(test_alertmanager_v2_body),
        cmocka_unit_test(test_pagerduty_and_slack),
        cmocka_unit_test(test_signing_vectors),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_group_key_and_time),
        cmocka_unit_test(test_retry_classification),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

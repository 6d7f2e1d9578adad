/* SPDX-License-Identifier: MIT */
/* Grouping and deduplication with a hand-moved clock: Alertmanager's
 * group_wait, group_interval, repeat_interval and send_resolved, restored
 * groups after a restart, and the push mode for Alertmanager receivers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/notify/notify.h"

#define S(n)  ((int64_t)(n)*1000000000)
#define M(n)  S(60 * (n))
#define REAL0 S(1795562634)
#define L(n, v)                  \
    {                            \
        (char *)(n), (char *)(v) \
    }

static struct notify_label la[] = {L("alertname", "PoolHigh"), L("pool", "a")};
static struct notify_label lb[] = {L("alertname", "PoolHigh"), L("pool", "b")};
static struct notify_label lc[] = {L("alertname", "Other")};

static struct notify_alert
alert(struct notify_label *l, size_t n, int64_t starts)
{
    struct notify_alert a = {.labels = l,
                             .n_labels = n,
                             .starts_at_ns = starts};

    a.fingerprint = notify_fingerprint(l, n);
    return a;
}

static struct notify_alert
resolved(struct notify_alert a, int64_t at)
{
    a.resolved = true;
    a.ends_at_ns = at;
    return a;
}

static const struct dispatch_cfg am_defaults = {
    .send_resolved = true,
    .group_wait_ns = S(30),
    .group_interval_ns = M(5),
    .repeat_interval_ns = M(240),
};

/* Flushes due at monotonic `t` (real time is REAL0 + t). */
struct due {
    struct dispatch_flush *f;
    size_t n;
};

static struct due
due(struct dispatch *d, int64_t t)
{
    struct due r = {NULL, 0};

    assert_int_equal(dispatch_due(d, t, &r.f, &r.n), DESKDB_OK);
    return r;
}

static void
due_free(struct due *r)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        dispatch_flush_free(&r->f[i]);
    free(r->f);
}

static void
update(struct dispatch *d, struct notify_alert *a, size_t n, int64_t t)
{
    assert_int_equal(dispatch_update(d, a, n, t, REAL0 + t), DESKDB_OK);
}

/* Expect exactly one flush with `reason` and `n_alerts`, deliver it at
 * `t` when asked. */
static void
expect_one(struct dispatch *d,
           int64_t t,
           enum notify_reason_sent reason,
           size_t n_alerts,
           bool deliver)
{
    struct due r = due(d, t);

    if (r.n != 1)
        fail_msg("at %lld s: %zu flushes, want 1", (long long)(t / S(1)), r.n);
    if (r.f[0].reason != reason)
        fail_msg("at %lld s: reason '%s', want '%s'",
                 (long long)(t / S(1)),
                 notify_reason_text(r.f[0].reason),
                 notify_reason_text(reason));
    assert_int_equal(r.f[0].n_alerts, n_alerts);
    if (deliver)
        dispatch_delivered(d, &r.f[0], t);
    due_free(&r);
}

static void
expect_none(struct dispatch *d, int64_t t)
{
    struct due r = due(d, t);

    if (r.n != 0)
        fail_msg("at %lld s: unexpected '%s'",
                 (long long)(t / S(1)),
                 notify_reason_text(r.f[0].reason));
    due_free(&r);
}

static void
test_group_lifecycle(void **state)
{
    struct dispatch *d = dispatch_create(&am_defaults);
    struct notify_alert in[2] = {alert(la, 2, REAL0), alert(lb, 2, 0)};
    struct due r;

    (void)state;
    update(d, in, 1, 0);
    assert_int_equal(dispatch_groups(d), 1);
    assert_true(dispatch_next_due(d) == S(30));
    expect_none(d, S(29));
    /* First flush after group_wait; not delivered: the next interval
     * tries again with the same reason. */
    r = due(d, S(30));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.f[0].group_key, "{}:{alertname=\"PoolHigh\"}");
    assert_string_equal(r.f[0].group_labels[0].value, "PoolHigh");
    assert_int_equal(r.f[0].reason, NOTIFY_FIRST);
    due_free(&r);
    assert_true(dispatch_next_due(d) == S(30) + M(5));
    expect_one(d, S(30) + M(5), NOTIFY_FIRST, 1, true);
    /* A second alert joins: "new alerts added" at the next interval. */
    in[1].starts_at_ns = REAL0 + M(6);
    update(d, in, 2, M(6));
    expect_none(d, M(6));
    expect_one(d, S(30) + M(10), NOTIFY_NEW_ALERTS, 2, true);
    /* Unchanged: nothing until repeat_interval (rounded up to a tick). */
    update(d, in, 2, M(11));
    expect_none(d, S(30) + M(15));
    expect_none(d, S(30) + M(245));
    expect_one(d, S(30) + M(250), NOTIFY_REPEAT, 2, true);
    /* One resolves: sent with the firing one, then leaves the group. */
    in[0] = resolved(in[0], REAL0 + M(251));
    update(d, in, 2, M(251));
    expect_one(d, S(30) + M(255), NOTIFY_SOME_RESOLVED, 2, true);
    update(d, in, 2, M(256));
    expect_none(d, S(30) + M(260));
    /* The last one stops being reported: resolved, then all resolved. */
    update(d, in, 1, M(261));
    expect_one(d, S(30) + M(265), NOTIFY_ALL_RESOLVED, 1, true);
    assert_int_equal(dispatch_groups(d), 0);
    assert_true(dispatch_next_due(d) == INT64_MAX);
    dispatch_destroy(d);
}

static void
test_resolve_rules(void **state)
{
    struct dispatch_cfg cfg = am_defaults;
    struct dispatch *d;
    struct notify_alert a = alert(la, 2, REAL0), c = alert(lc, 1, REAL0);

    (void)state;
    /* Fired and resolved within group_wait: the receiver never hears. */
    d = dispatch_create(&cfg);
    update(d, &a, 1, 0);
    a = resolved(a, REAL0 + S(10));
    update(d, &a, 1, S(10));
    expect_none(d, S(30));
    assert_int_equal(dispatch_groups(d), 0);
    /* A resolve for an alert no group holds is ignored. */
    update(d, &a, 1, S(40));
    assert_int_equal(dispatch_groups(d), 0);
    dispatch_destroy(d);

    /* send_resolved off: the resolve is recorded, not sent; a new firing
     * of the same alert is news again (unlike alertmanager#1063). */
    cfg.send_resolved = false;
    d = dispatch_create(&cfg);
    a = alert(la, 2, REAL0);
    update(d, &a, 1, 0);
    expect_one(d, S(30), NOTIFY_FIRST, 1, true);
    a = resolved(a, REAL0 + M(1));
    update(d, &a, 1, M(1));
    expect_none(d, S(30) + M(5));
    assert_int_equal(dispatch_groups(d), 0);
    a = alert(la, 2, REAL0 + M(6));
    update(d, &a, 1, M(6));
    expect_one(d, M(6) + S(30), NOTIFY_FIRST, 1, true);
    dispatch_destroy(d);

    /* Groups are per alertname; an alert that started more than
     * group_wait ago is not held back. */
    d = dispatch_create(&am_defaults);
    a = alert(la, 2, REAL0);
    c.starts_at_ns = REAL0 - M(2);
    struct notify_alert both[2] = {a, c};
    update(d, both, 2, 0);
    assert_int_equal(dispatch_groups(d), 2);
    expect_one(d, 0, NOTIFY_FIRST, 1, false);
    dispatch_destroy(d);
}

static void
test_restore_after_restart(void **state)
{
    struct dispatch *d = dispatch_create(&am_defaults);
    struct notify_alert a = alert(la, 2, REAL0 - M(30));
    struct notify_alert b = alert(lb, 2, REAL0 - M(30));

    (void)state;
    /* b was firing and notified before the restart; it is still firing:
     * no repeat before repeat_interval since the last delivery. */
    assert_int_equal(
        dispatch_restore(d, &b, NOTIFY_SENT_FIRING, REAL0 - M(20), 0, REAL0),
        DESKDB_OK);
    update(d, &b, 1, 0);
    expect_none(d, 0);
    expect_none(d, M(200));
    expect_one(d, M(220), NOTIFY_REPEAT, 1, false);
    dispatch_destroy(d);

    /* A non-leader knew b but never sent it; on taking over it learns
     * from the state table that the old leader did: no second "first". */
    d = dispatch_create(&am_defaults);
    update(d, &b, 1, 0);
    assert_int_equal(dispatch_restore(d,
                                      &b,
                                      NOTIFY_SENT_FIRING,
                                      REAL0 - M(20),
                                      S(10),
                                      REAL0 + S(10)),
                     DESKDB_OK);
    expect_none(d, S(30));
    dispatch_destroy(d);

    /* a was notified firing, then resolved while we were down (or just
     * after): the resolve goes out at once. */
    d = dispatch_create(&am_defaults);
    a = resolved(a, REAL0 - M(1));
    assert_int_equal(
        dispatch_restore(d, &a, NOTIFY_SENT_FIRING, REAL0 - M(20), 0, REAL0),
        DESKDB_OK);
    update(d, &a, 1, 0);
    expect_one(d, 0, NOTIFY_ALL_RESOLVED, 1, true);
    assert_int_equal(dispatch_groups(d), 0);
    dispatch_destroy(d);
}

static void
test_push_mode(void **state)
{
    struct dispatch_cfg cfg = {.push = true,
                               .send_resolved = false,
                               .group_wait_ns = S(30),
                               .group_interval_ns = M(5),
                               .repeat_interval_ns = M(240),
                               .resend_ns = M(1)};
    struct dispatch *d = dispatch_create(&cfg);
    struct notify_alert in[2] = {alert(la, 2, REAL0), alert(lc, 1, REAL0)};
    struct due r;
    uint64_t sig;

    (void)state;
    /* One batch for every alert, sent at once (Alertmanager groups). */
    update(d, in, 2, 0);
    assert_int_equal(dispatch_groups(d), 1);
    r = due(d, 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].n_alerts, 2);
    assert_string_equal(r.f[0].group_key, "{}");
    sig = r.f[0].signature;
    dispatch_delivered(d, &r.f[0], 0);
    due_free(&r);
    update(d, in, 2, S(15));
    expect_none(d, S(15));
    /* Re-posted every resend interval so Alertmanager keeps them. */
    r = due(d, M(1));
    assert_int_equal(r.n, 1);
    assert_true(r.f[0].signature == sig);
    dispatch_delivered(d, &r.f[0], M(1));
    due_free(&r);
    /* A resolve goes out at the next evaluation, send_resolved or not. */
    in[1] = resolved(in[1], REAL0 + M(1) + S(15));
    update(d, in, 2, M(1) + S(15));
    r = due(d, M(1) + S(15));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].n_alerts, 2);
    assert_false(r.f[0].alerts[0].resolved);
    assert_true(r.f[0].alerts[1].resolved);
    assert_true(r.f[0].signature != sig);
    dispatch_delivered(d, &r.f[0], M(1) + S(15));
    due_free(&r);
    update(d, in, 2, M(1) + S(30));
    r = due(d, M(2) + S(15));
    assert_int_equal(r.n, 1);
    assert_int_equal(r.f[0].n_alerts, 1);
    due_free(&r);
    dispatch_destroy(d);
}

/* A reload with new settings: the groups, what was sent and when stay;
 * between push and grouped modes the alerts are regrouped. */
static void
test_reconfigure(void **state)
{
    struct dispatch *d = dispatch_create(&am_defaults);
    struct dispatch_cfg cfg = am_defaults;
    struct notify_alert in[2] = {alert(la, 2, REAL0), alert(lc, 1, REAL0)};
    struct due r;

    (void)state;
    update(d, in, 2, 0);
    r = due(d, S(30));
    assert_int_equal(r.n, 2);
    dispatch_delivered(d, &r.f[0], S(30));
    dispatch_delivered(d, &r.f[1], S(30));
    due_free(&r);
    /* Longer group_interval, shorter repeat: timers already set keep
     * their deadline, the repeat timer counts from the last delivery. */
    cfg.group_interval_ns = M(10);
    cfg.repeat_interval_ns = M(20);
    assert_int_equal(dispatch_reconfigure(d, &cfg, M(1)), DESKDB_OK);
    assert_int_equal(dispatch_groups(d), 2);
    update(d, in, 2, M(2));
    expect_none(d, S(30) + M(5));
    r = due(d, S(30) + M(25));
    assert_int_equal(r.n, 2);
    assert_int_equal(r.f[0].reason, NOTIFY_REPEAT);
    dispatch_delivered(d, &r.f[0], S(30) + M(25));
    dispatch_delivered(d, &r.f[1], S(30) + M(25));
    due_free(&r);

    /* To push mode (an Alertmanager receiver): one batch, known alerts
     * stay known, so nothing is sent before the resend interval. */
    cfg.push = true;
    cfg.resend_ns = M(1);
    assert_int_equal(dispatch_reconfigure(d, &cfg, M(26)), DESKDB_OK);
    assert_int_equal(dispatch_groups(d), 1);
    expect_none(d, M(26));
    update(d, in, 2, M(27));
    expect_one(d, M(27), NOTIFY_UPDATE, 2, true);
    /* One resolves: pushed at once, as the receiver knew it firing. */
    in[1] = resolved(in[1], REAL0 + M(28));
    update(d, in, 2, M(28));
    expect_one(d, M(28), NOTIFY_UPDATE, 2, true);

    /* And back: grouped by alertname again; the firing one was sent, so
     * no first notification again. */
    cfg.push = false;
    assert_int_equal(dispatch_reconfigure(d, &cfg, M(29)), DESKDB_OK);
    assert_int_equal(dispatch_groups(d), 1);
    update(d, in, 1, M(29));
    expect_none(d, M(29));
    dispatch_destroy(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_lifecycle),
        cmocka_unit_test(test_resolve_rules),
        cmocka_unit_test(test_restore_after_restart),
        cmocka_unit_test(test_push_mode),
        cmocka_unit_test(test_reconfigure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Operations under concurrency, as a role subject to row-level security:
 * 16 threads x 200 create_deal on one dealership and on 20, numbers
 * unique and gap-free, one scenario and one audit entry per deal; the
 * same feed run by 16 threads at once applies each record once; one
 * username or e-mail registered concurrently is taken once.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ops.h"
#include "support/opstest.h"

#define THREADS     16
#define PER_THREAD  200
#define TOTAL       (THREADS * PER_THREAD)
#define DEALERSHIPS 20
#define SAME_FEED   50

#define T_ONE  "0000000000c1" /* the dealership of the one-dealership test */
#define T_SAME "0000000000c2" /* the identical-feeds test */

static struct opstest fx;

/* Tail of the i-th of the twenty dealerships. */
static void
many_tail(char out[13], int i)
{
    snprintf(out, 13, "0000000001%02d", i);
}

static int
group_setup(void **state)
{
    char tail[13];

    (void)state;
    opstest_setup(&fx, "ops_conc", THREADS + 2);
    opstest_seed(&fx, T_ONE, TOTAL);
    opstest_seed(&fx, T_SAME, SAME_FEED);
    for (int i = 0; i < DEALERSHIPS; i++) {
        many_tail(tail, i);
        opstest_seed(&fx, tail, TOTAL / DEALERSHIPS);
    }
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    opstest_teardown(&fx);
    return 0;
}

/* One thread's feed and what came of it. */
struct worker {
    pthread_t thread;
    const char *op;
    char *input;
    struct ops_summary sum;
    int rc;
    char error[512];
    char *output; /* the result lines */
    size_t output_len;
};

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    struct ops_options o = opstest_options();
    FILE *in = fmemopen(w->input, strlen(w->input), "r");
    FILE *out = open_memstream(&w->output, &w->output_len);
    struct deskdb_err err;

    /* Waits behind 15 others on one counter row: give it room. */
    o.txn.timeout_ms = 60000;
    o.txn.max_retries = 10;
    err_clear(&err);
    if (in == NULL || out == NULL)
        w->rc = -1;
    else
        w->rc =
            ops_run_stream(fx.app, ops_find(w->op), &o, in, out, &w->sum, &err);
    snprintf(w->error, sizeof(w->error), "%s", err.msg);
    if (in != NULL)
        fclose(in);
    if (out != NULL)
        fclose(out);
    return NULL;
}

static void
run_workers(struct worker *w, int n)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&w[i].thread, NULL, worker_main, &w[i]),
                         0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(pthread_join(w[i].thread, NULL), 0);
        if (w[i].rc != 0)
            fail_msg("worker %d: %s", i, w[i].error);
    }
}

static void
free_outputs(struct worker *w, int n)
{
    for (int i = 0; i < n; i++) {
        free(w[i].output);
        w[i].output = NULL;
    }
}

static char *
feed_alloc(int records)
{
    char *p = malloc((size_t)records * 512 + 1);

    assert_non_null(p);
    p[0] = '\0';
    return p;
}

/* Append a create_deal record: dealership `tail`, its vehicle `v`, a new
 * customer, a scenario. */
static void
feed_deal(char *feed, const char *ext, const char *tail, int v)
{
    size_t used = strlen(feed);

    snprintf(feed + used,
             512,
             "{\"external_id\":\"%s\",\"dealership_id\":\"00000000-0000-"
             "0000-0000-%s\",\"salesperson_id\":\"10000000-0000-0000-0000-%s\","
             "\"vehicle_id\":\"3%07d-0000-0000-0000-%s\",\"customer\":{"
             "\"first_name\":\"C\",\"last_name\":\"%s\"},\"scenario\":{"
             "\"term\":72,\"apr\":5.25}}\n",
             ext,
             tail,
             tail,
             v,
             tail,
             ext);
}

/* Deals of dealership `tail` (but the seeded one without a number) are
 * numbered D-000001..D-<n> exactly once, each with its customer, one
 * default scenario, one audit entry, a pending vehicle and a ledger row. */
static void
assert_dealership(const char *tail, int n)
{
    char sql[1024];

    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM deals WHERE dealership_id ="
             " '00000000-0000-0000-0000-%s' AND deal_number IS NOT NULL",
             tail);
    assert_int_equal(opstest_int(&fx, sql), n);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM generate_series(1, %d) i JOIN deals d"
             " ON d.deal_number = 'D-' || lpad(i::text, 6, '0')"
             " AND d.dealership_id = '00000000-0000-0000-0000-%s'",
             n,
             tail);
    assert_int_equal(opstest_int(&fx, sql), n);
    snprintf(sql,
             sizeof(sql),
             "SELECT count(*) FROM deals d WHERE d.dealership_id ="
             " '00000000-0000-0000-0000-%s' AND d.deal_number IS NOT NULL"
             " AND ("
             " (SELECT count(*) FROM deal_scenarios s WHERE s.deal_id = d.id"
             "  AND s.is_default) <> 1 OR"
             " (SELECT count(*) FROM audit_log a WHERE a.entity_id = d.id"
             "  AND a.action = 'deal.created') <> 1 OR"
             " d.customer_id IS NULL)",
             tail);
    assert_int_equal(opstest_int(&fx, sql), 0);
    snprintf(sql,
             sizeof(sql),
             "SELECT (SELECT value FROM sequences WHERE name = 'deal' AND"
             " dealership_id = '00000000-0000-0000-0000-%s') +"
             " (SELECT count(*) FROM vehicles WHERE status = 'pending' AND"
             " dealership_id = '00000000-0000-0000-0000-%s') +"
             " (SELECT count(*) FROM deskdb.import_ledger WHERE"
             " operation = 'create_deal' AND dealership_id ="
             " '00000000-0000-0000-0000-%s')",
             tail,
             tail,
             tail);
    assert_int_equal(opstest_int(&fx, sql), 3 * n);
}

static void
assert_all_applied(const struct worker *w, int n, int per)
{
    for (int i = 0; i < n; i++) {
        assert_int_equal(w[i].sum.records, per);
        assert_int_equal(w[i].sum.applied, per);
        assert_int_equal(w[i].sum.failed, 0);
    }
}

static void
test_one_dealership(void **state)
{
    struct worker w[THREADS] = {0};
    char ext[32];

    (void)state;
    for (int t = 0; t < THREADS; t++) {
        w[t].op = "create_deal";
        w[t].input = feed_alloc(PER_THREAD);
        for (int j = 0; j < PER_THREAD; j++) {
            snprintf(ext, sizeof(ext), "one-%d-%d", t, j);
            feed_deal(w[t].input, ext, T_ONE, t * PER_THREAD + j + 1);
        }
    }
    run_workers(w, THREADS);
    assert_all_applied(w, THREADS, PER_THREAD);
    assert_dealership(T_ONE, TOTAL);
    free_outputs(w, THREADS);
    for (int t = 0; t < THREADS; t++)
        free(w[t].input);
}

static void
test_twenty_dealerships(void **state)
{
    struct worker w[THREADS] = {0};
    char ext[32], tail[13];

    (void)state;
    for (int t = 0; t < THREADS; t++) {
        w[t].op = "create_deal";
        w[t].input = feed_alloc(PER_THREAD);
        for (int j = 0; j < PER_THREAD; j++) {
            int k = t * PER_THREAD + j;

            many_tail(tail, k % DEALERSHIPS);
            snprintf(ext, sizeof(ext), "many-%d", k);
            feed_deal(w[t].input, ext, tail, k / DEALERSHIPS + 1);
        }
    }
    run_workers(w, THREADS);
    assert_all_applied(w, THREADS, PER_THREAD);
    for (int i = 0; i < DEALERSHIPS; i++) {
        many_tail(tail, i);
        assert_dealership(tail, TOTAL / DEALERSHIPS);
    }
    free_outputs(w, THREADS);
    for (int t = 0; t < THREADS; t++)
        free(w[t].input);
}

/* The same records from 16 threads at once: the ledger key makes every
 * copy but one wait for the first and then report it as a duplicate. */
static void
test_identical_feeds_apply_once(void **state)
{
    struct worker w[THREADS] = {0};
    char *feed = feed_alloc(SAME_FEED), ext[32];
    uint64_t applied = 0, duplicates = 0;

    (void)state;
    for (int j = 0; j < SAME_FEED; j++) {
        snprintf(ext, sizeof(ext), "same-%d", j);
        feed_deal(feed, ext, T_SAME, j + 1);
    }
    for (int t = 0; t < THREADS; t++) {
        w[t].op = "create_deal";
        w[t].input = feed;
    }
    run_workers(w, THREADS);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(w[t].sum.failed, 0);
        applied += w[t].sum.applied;
        duplicates += w[t].sum.duplicates;
    }
    assert_int_equal(applied, SAME_FEED);
    assert_int_equal(duplicates, (THREADS - 1) * SAME_FEED);
    assert_dealership(T_SAME, SAME_FEED);
    free_outputs(w, THREADS);
    free(feed);
}

/* 16 registrations of one username (then of one e-mail address) with
 * different external ids: one is applied, the others are refused. */
static void
test_concurrent_registrations_take_a_name_once(void **state)
{
    struct worker w[THREADS] = {0};
    char inputs[THREADS][512];

    (void)state;
    for (int round = 0; round < 2; round++) {
        uint64_t applied = 0, failed = 0;

        for (int t = 0; t < THREADS; t++) {
            snprintf(inputs[t],
                     sizeof(inputs[t]),
                     "{\"external_id\":\"reg-%d-%d\",\"dealership_id\":"
                     "\"00000000-0000-0000-0000-" T_SAME "\","
                     "\"username\":\"%s%d\",\"email\":\"%s%d@example.com\"}\n",
                     round,
                     t,
                     round == 0 ? "contested" : "user",
                     round == 0 ? 0 : t,
                     round == 0 ? "user" : "contested",
                     round == 0 ? t : 0);
            memset(&w[t], 0, sizeof(w[t]));
            w[t].op = "register_user";
            w[t].input = inputs[t];
        }
        run_workers(w, THREADS);
        for (int t = 0; t < THREADS; t++) {
            applied += w[t].sum.applied;
            failed += w[t].sum.failed;
            if (w[t].sum.failed == 1 &&
                strstr(w[t].output,
                       round == 0 ? "\"username 'contested0' is "
                                    "already taken\""
                                  : "\"email 'contested0@example"
                                    ".com' is already taken\"") == NULL)
                fail_msg("round %d: %s", round, w[t].output);
        }
        free_outputs(w, THREADS);
        assert_int_equal(applied, 1);
        assert_int_equal(failed, THREADS - 1);
    }
    assert_int_equal(opstest_int(&fx,
                                 "SELECT count(*) FROM users WHERE username"
                                 " LIKE 'contested%' OR email LIKE"
                                 " 'contested%'"),
                     2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_dealership),
        cmocka_unit_test(test_twenty_dealerships),
        cmocka_unit_test(test_identical_feeds_apply_once),
        cmocka_unit_test(test_concurrent_registrations_take_a_name_once),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

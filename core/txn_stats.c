/* SPDX-License-Identifier: MIT */
/* Transaction statistics per pool: counters, the in-progress list, the
 * deskdb_transaction* metric families and the stats snapshot. */
#include <stdlib.h>
#include <string.h>

#include "core/pool_internal.h"
#include "core/txn_internal.h"

#define RELAXED memory_order_relaxed

/* Transactions from a single statement to a long batch. */
static const double duration_buckets[] =
    {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

static void
register_metrics(struct txn_registry *r, struct metrics *m)
{
    static const char *const labels[] = {"reason", NULL};
    struct metric_family *f;

    r->total = metrics_counter(m,
                               "deskdb_transactions_total",
                               "Transactions finished (committed, rolled "
                               "back or of unknown outcome), retries not "
                               "counted.");
    r->rollbacks = metrics_counter(
        m,
        "deskdb_transaction_rollbacks_total",
        "Transactions that ended in a rollback after any retries.");
    r->unknown = metrics_counter(
        m,
        "deskdb_transaction_commit_unknown_total",
        "Transactions whose connection was lost after COMMIT was sent.");
    r->duration = metrics_histogram(
        m,
        "deskdb_transaction_duration_seconds",
        "Transaction duration, retries and backoff included.",
        duration_buckets,
        sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    f = metrics_family(m,
                       METRIC_COUNTER,
                       "deskdb_transaction_retries_total",
                       "Transaction attempts retried, by reason.",
                       labels,
                       NULL,
                       0);
    for (int i = 0; f != NULL && i < TXN_RETRY_NREASONS; i++) {
        const char *values[] = {txn_retry_reason_name(i), NULL};
        r->retries[i] = metric_series(f, values);
    }
}

struct txn_registry *
txn_registry_create(struct metrics *m)
{
    struct txn_registry *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    if (m != NULL)
        register_metrics(r, m);
    return r;
}

void
txn_registry_destroy(struct txn_registry *r)
{
    if (r == NULL)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

struct txn_registry *
txn_registry_of(struct pool *pool)
{
    return pool->txn;
}

void
txn_registry_begin(struct txn_registry *r, struct txn *t)
{
    pthread_mutex_lock(&r->mu);
    t->prev = NULL;
    t->next = r->head;
    if (r->head != NULL)
        r->head->prev = t;
    r->head = t;
    r->n++;
    pthread_mutex_unlock(&r->mu);
}

void
txn_registry_retry(struct txn_registry *r, enum txn_retry_reason why)
{
    atomic_fetch_add_explicit(&r->stats.retries[why], 1, RELAXED);
    metric_inc(r->retries[why]);
}

void
txn_registry_end(struct txn_registry *r,
                 struct txn *t,
                 enum txn_outcome outcome,
                 bool retried,
                 int64_t duration_ns)
{
    pthread_mutex_lock(&r->mu);
    if (t->prev != NULL)
        t->prev->next = t->next;
    else
        r->head = t->next;
    if (t->next != NULL)
        t->next->prev = t->prev;
    r->n--;
    pthread_mutex_unlock(&r->mu);

    atomic_fetch_add_explicit(&r->stats.finished, 1, RELAXED);
    atomic_fetch_add_explicit(&r->stats.duration_ns,
                              (uint64_t)(duration_ns > 0 ? duration_ns : 0),
                              RELAXED);
    metric_inc(r->total);
    metric_observe(r->duration, (double)duration_ns / NS_PER_SEC);
    if (retried)
        atomic_fetch_add_explicit(&r->stats.retried, 1, RELAXED);
    if (outcome == TXN_COMMITTED) {
        atomic_fetch_add_explicit(&r->stats.committed, 1, RELAXED);
    } else if (outcome == TXN_ROLLED_BACK) {
        atomic_fetch_add_explicit(&r->stats.rolled_back, 1, RELAXED);
        metric_inc(r->rollbacks);
    } else if (outcome == TXN_UNKNOWN) {
        atomic_fetch_add_explicit(&r->stats.commit_unknown, 1, RELAXED);
        metric_inc(r->unknown);
    }
}

static void
in_progress(struct txn_registry *r, int64_t now, int *n, int64_t *oldest)
{
    *oldest = 0;
    pthread_mutex_lock(&r->mu);
    *n = r->n;
    for (struct txn *t = r->head; t != NULL; t = t->next) {
        if (now - t->start_ns > *oldest)
            *oldest = now - t->start_ns;
    }
    pthread_mutex_unlock(&r->mu);
}

void
txn_registry_collect(struct txn_registry *r,
                     struct metrics_sink *sink,
                     int64_t now_ns)
{
    int n;
    int64_t oldest;

    in_progress(r, now_ns, &n, &oldest);
    if (metrics_sink_family(sink,
                            METRIC_GAUGE,
                            "deskdb_transactions_in_progress",
                            "Transactions running now (retries and "
                            "backoff included).",
                            NULL) == 0)
        metrics_sink_sample(sink, NULL, n);
    if (metrics_sink_family(sink,
                            METRIC_GAUGE,
                            "deskdb_transaction_oldest_seconds",
                            "Age of the oldest transaction in progress.",
                            NULL) == 0)
        metrics_sink_sample(sink, NULL, (double)oldest / NS_PER_SEC);
}

void
txn_stats_snapshot(struct pool *pool, struct txn_stats *out)
{
    struct txn_registry *r = pool->txn;
    uint64_t dur;

    memset(out, 0, sizeof(*out));
    in_progress(r, pool_now(pool), &out->in_progress, &out->oldest_ns);
    out->finished = atomic_load_explicit(&r->stats.finished, RELAXED);
    out->rolled_back = atomic_load_explicit(&r->stats.rolled_back, RELAXED);
    out->commit_unknown =
        atomic_load_explicit(&r->stats.commit_unknown, RELAXED);
    out->retried = atomic_load_explicit(&r->stats.retried, RELAXED);
    for (int i = 0; i < TXN_RETRY_NREASONS; i++)
        out->retries[i] = atomic_load_explicit(&r->stats.retries[i], RELAXED);
    out->committed = atomic_load_explicit(&r->stats.committed, RELAXED);
    dur = atomic_load_explicit(&r->stats.duration_ns, RELAXED);
    out->avg_ms =
        out->finished > 0 ? (double)dur / (double)out->finished / 1e6 : 0.0;
}

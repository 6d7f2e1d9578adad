/* SPDX-License-Identifier: MIT */
/* Private to core/txn*.c: a running transaction and the per-pool
 * registry of transaction statistics. */
#ifndef DESKDB_CORE_TXN_INTERNAL_H
#define DESKDB_CORE_TXN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/metrics.h"
#include "core/txn.h"

struct txn {
    struct pool *pool;
    struct pool_conn *conn; /* NULL between attempts */
    const struct txn_options *opt;
    int attempt;
    int64_t start_ns;
    int64_t deadline_ns; /* 0: no timeout */
    const char *file, *func;
    int line;
    struct txn *prev, *next; /* registry: transactions in progress */
};

enum txn_outcome { TXN_COMMITTED, TXN_ROLLED_BACK, TXN_UNKNOWN };

struct txn_registry {
    pthread_mutex_t mu; /* guards the in-progress list only */
    struct txn *head;
    int n;
    struct {
        _Atomic uint64_t finished, committed, rolled_back, commit_unknown;
        _Atomic uint64_t retried;
        _Atomic uint64_t retries[TXN_RETRY_NREASONS];
        _Atomic uint64_t duration_ns;
    } stats;
    struct metric *total;
    struct metric *rollbacks;
    struct metric *unknown;
    struct metric *retries[TXN_RETRY_NREASONS];
    struct metric *duration;
};

/* A transaction starts, is retried, ends. */
void txn_registry_begin(struct txn_registry *r, struct txn *t);
void txn_registry_retry(struct txn_registry *r, enum txn_retry_reason why);
void txn_registry_end(struct txn_registry *r,
                      struct txn *t,
                      enum txn_outcome outcome,
                      bool retried,
                      int64_t duration_ns);

/* The registry of a pool (pool_internal.h owns the pointer). */
struct txn_registry *txn_registry_of(struct pool *pool);

#endif

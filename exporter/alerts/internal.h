/* SPDX-License-Identifier: MIT */
/* The alerts object shared by its thread (alerts.c), the state table
 * (persist.c) and /api/alerts (json.c). */
#ifndef DESKDB_EXPORTER_ALERTS_INTERNAL_H
#define DESKDB_EXPORTER_ALERTS_INTERNAL_H

#include <pthread.h>

#include "exporter/alerts.h"
#include "exporter/alerts/eval.h"
#include "exporter/notify/notify.h"

struct metric;

struct alerts {
    const struct config_alerts *cfg;
    struct metrics *registry;
    struct collectors *collectors;
    struct pool *pool;
    const struct clock *clock;
    bool (*leader_fn)(void *arg);
    void *leader_arg;
    struct notifier **notifiers; /* one per receiver */
    size_t n_notifiers;
    struct metric **m_firing;   /* per rule */
    struct metric *m_active[2]; /* pending, firing */
    struct metric *m_duration;
    struct metric *m_evaluations;
    struct metric *m_failures;
    struct metric *m_state_failures;
    char state_error[512]; /* last state table error logged, "" if none */

    /* `lock` guards the evaluator and the flags below; never held
     * across I/O or a notifier call. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct alerts_eval *ev;
    bool loaded; /* the state table has been read */
    bool kick;
    bool stopping;
    bool started;
    pthread_t thread;
};

/* A row of deskdb.alert_state as written. */
struct persist_row {
    char fingerprint[17];
    char *rule;
    char *labels;  /* JSON object */
    char *payload; /* JSON object */
    const char *state;
    int64_t active_at, fired_at, resolved_at, last_sent_at; /* ns, 0 NULL */
};

struct persist_batch {
    struct persist_row *rows;
    size_t n_rows;
    uint64_t *deleted;
    size_t n_deleted;
};

/* Under the lock: take the dirty instances and removed fingerprints. */
int persist_collect(struct alerts *a, struct persist_batch *b) DESKDB_MUSTCHECK;

/* Without the lock: write the batch in one transaction. */
int persist_write(struct alerts *a,
                  const struct persist_batch *b,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Under the lock, after a failed write: mark the rows dirty again. */
void persist_requeue(struct alerts *a, const struct persist_batch *b);

void persist_batch_fini(struct persist_batch *b);

/* Without the lock: read the state table into new instances, adopted
 * under the lock; restores the receivers' delivery state. */
int persist_load(struct alerts *a, struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif

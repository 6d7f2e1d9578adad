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
struct metric_family;
struct alerts_swap;

/*
 * Who may touch what.  `cfg`, `ev`, `notifiers` and `m_firing` change
 * only inside alerts_reload(), by the evaluation thread between two
 * rounds (by alerts_reload() itself when that thread is not running),
 * under `lock`: the evaluation thread reads them freely, other threads
 * under `lock`.  Notifiers removed by a reload are stopped and kept in
 * `retired` until alerts_destroy(), so a pointer copied under the lock
 * stays valid.
 */
struct alerts {
    const struct config_alerts *cfg;
    struct metrics *registry;
    struct collectors *collectors;
    struct pool *pool;
    const struct clock *clock;
    bool (*leader_fn)(void *arg); /* under `lock` */
    void *leader_arg;
    char *external_url;          /* for receivers a reload adds; NULL: "" */
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
    bool running;                /* the evaluation thread is in its loop */
    struct alerts_swap *pending; /* a reload for the evaluation thread */
    pthread_cond_t swapped;      /* `pending` was taken, or not running */
    struct notifier **retired;
    size_t n_retired;
    pthread_t thread;
};

/* deskdb_alert_firing, registered (or found) in the registry. */
struct metric_family *alerts_firing_family(struct alerts *a);

/* Prometheus' validity of alerts pushed to Alertmanager for an
 * evaluation interval. */
int64_t alerts_push_valid_ns(int64_t evaluation_interval_ms);

/* Alertmanager receivers are sent firing alerts again this often. */
#define ALERTS_PUSH_RESEND_NS (60 * NS_PER_SEC)

/* Worker threads: record what a receiver now knows. */
void alerts_on_delivered(void *arg,
                         const char *receiver,
                         const struct notify_sent_item *items,
                         size_t n,
                         int64_t at_real_ns);

/* Under the lock, on the evaluation thread between two rounds (or in
 * alerts_reload() when it is not running): put a->pending in place. */
void alerts_swap_apply(struct alerts *a);

/* One evaluation round as the thread runs it: state table, snapshot,
 * rules, receivers.  For tests that drive the alerts without threads. */
void alerts_round(struct alerts *a);

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

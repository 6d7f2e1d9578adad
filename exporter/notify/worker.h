/* SPDX-License-Identifier: MIT */
/* The notifier's insides, shared by its thread (worker.c) and its queue
 * and delivery attempts (deliver.c). */
#ifndef DESKDB_EXPORTER_NOTIFY_WORKER_H
#define DESKDB_EXPORTER_NOTIFY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/backoff.h"
#include "exporter/notify/notify.h"

struct metric;

/* A queued notification; its id stays the same across retries. */
struct notify_msg {
    struct dispatch_flush flush;
    char *body;
    size_t body_len;
    char id[NOTIFY_ID_LEN];
    int64_t created_ns; /* monotonic */
    int64_t next_ns;    /* next attempt, monotonic */
    int attempts;
    bool in_flight;
    bool superseded; /* a newer notification of the group is queued */
    struct notify_msg *next;
};

struct notifier {
    char *name; /* the receiver's; never changes */
    const struct clock *clock;
    char source[256];
    notify_delivered_fn on_delivered;
    void *cb_arg;
    struct metric *m_sent;
    struct metric *m_failed[NOTIFY_NREASONS];
    struct metric *m_duration;
    struct metric *m_queue;

    /* `lock` guards everything below; no I/O is done while holding it.
     * The settings change with notifier_reconfigure(); the thread reads
     * them under the lock (an old `cfg` stays valid: configurations
     * outlive the notifier). */
    pthread_mutex_t lock;
    const struct config_receiver *cfg;
    char *url; /* where to POST: cfg->url, + /api/v2/alerts for Alertmanager */
    int64_t push_valid_ns;
    struct backoff backoff;
    pthread_cond_t cond;      /* work arrived or stop requested */
    pthread_cond_t done_cond; /* the thread finished */
    bool sync_ready;
    struct dispatch *dispatch;
    char *external_url;
    notify_leader_fn leader_fn;
    void *leader_arg;
    struct notify_msg *queue;
    size_t queue_len;
    bool started;
    bool stopping;
    bool done;
    int64_t stop_deadline_ns;
    _Atomic bool abort; /* cuts a request in flight at the stop deadline */
    pthread_t thread;
};

void notify_msg_free(struct notify_msg *m);

/* Flush due groups into the queue.  Called with the lock held. */
void notifier_flush_due(struct notifier *n, int64_t now);

/* Under the lock, after new settings: rebuild the bodies of the queued
 * notifications not in flight; those that cannot be are dropped and
 * counted.  Returns how many were dropped. */
size_t notifier_rebuild_queue(struct notifier *n);

/* Deliver `m` once (without the lock; takes it to record the result). */
void notifier_attempt(struct notifier *n, struct notify_msg *m);

/* Timed wait on CLOCK_MONOTONIC for at most `ns`. */
void notifier_wait(pthread_cond_t *cond, pthread_mutex_t *lock, int64_t ns);

#endif

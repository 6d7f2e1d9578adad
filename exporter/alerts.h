/* SPDX-License-Identifier: MIT */
/* In-process alerting: rules evaluated over the metrics registry and the
 * PostgreSQL collectors, alert states kept in deskdb.alert_state, and
 * notifications delivered to webhook, Alertmanager, Slack and PagerDuty
 * receivers. */
#ifndef DESKDB_EXPORTER_ALERTS_H
#define DESKDB_EXPORTER_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

struct config;
struct config_alerts;
struct metrics;
struct collectors;
struct pool;
struct alerts;

/* Process-wide setup of the HTTP client (curl_global_init); call once
 * before any thread starts. */
void alerts_global_init(void);

/*
 * Parse the rules and set up one delivery queue per receiver.  `cfg`,
 * `registry`, `collectors` (may be NULL: rules see only the registry),
 * `pool` (may be NULL: no state is kept across restarts) and `clock`
 * (NULL: clock_system) are borrowed and must outlive the alerts.
 * Registers deskdb_alert_firing{alert,severity}, deskdb_alerts_* and
 * deskdb_webhook_* in `registry`.  No thread starts and nothing is
 * queried here.  Errors: DESKDB_EINVAL (a rule that does not parse; run
 * alerts_validate_config() first for file:line:column), DESKDB_ENOMEM.
 */
struct alerts *alerts_create(const struct config_alerts *cfg,
                             struct metrics *registry,
                             struct collectors *collectors,
                             struct pool *pool,
                             const struct clock *clock,
                             struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Who may send notifications and write the state table when several
 * instances run: `fn` (NULL: always this one) is asked before each
 * delivery and each write, from the alert threads, and must not block.
 * Other instances still evaluate, so /api/alerts and deskdb_alert_firing
 * work everywhere.  Call before alerts_start().
 */
void
alerts_set_leader_fn(struct alerts *a, bool (*is_leader)(void *arg), void *arg);

/* The URL receivers see as externalURL and in generatorURL (default ""). */
int alerts_set_external_url(struct alerts *a, const char *url) DESKDB_MUSTCHECK;

/*
 * Start the evaluation thread (every evaluation_interval; the first
 * evaluation at once, after loading the state table) and one delivery
 * thread per receiver.  Errors: DESKDB_EIO (thread creation).
 */
int alerts_start(struct alerts *a, struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Ask for an evaluation now instead of at the next interval. */
void alerts_evaluate_now(struct alerts *a);

/*
 * Stop evaluating, then keep delivering queued notifications for up to
 * `drain_ms` (a request still running then is cut off), then write the
 * alert states one last time.  Blocks for at most about drain_ms plus the
 * collection in progress.  Idempotent; call before the pool closes.
 */
void alerts_stop(struct alerts *a, int64_t drain_ms);

/* Stops if needed and frees everything; NULL is a no-op. */
void alerts_destroy(struct alerts *a);

/*
 * api_json_fn for /api/alerts: {"alerts":[...], "receivers":[...]} with
 * every pending and firing alert (name, state, labels, annotations,
 * activeAt, firedAt, value, fingerprint) and each receiver's queue.
 * Never blocks on I/O.
 */
int alerts_json(void *alerts, struct buf *out) DESKDB_MUSTCHECK;

/*
 * The checks of the alerts: section that the config module cannot make:
 * rule expressions, annotation templates, template syntax in labels and
 * signing secrets.  Fills `err` with file:line:column and returns
 * DESKDB_EINVAL, or 0.  For cmd_validate_config().
 */
int alerts_validate_config(const struct config *cfg,
                           struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif

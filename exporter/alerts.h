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
 * work everywhere.  May be called while the alerts run (a scheduler made
 * by a reload), from the thread that calls alerts_reload().
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

/*
 * Apply a new alerts: section (SIGHUP) while running, the way Prometheus
 * and Alertmanager reload.  The rules are parsed first; if anything
 * fails, nothing changes and the error is returned.  Then, between two
 * evaluations:
 * - rules match by name (by name and labels when names repeat); a
 *   matched rule keeps its pending and firing alerts with their activeAt
 *   and firedAt (no `for` restarts, no new notification), and with the
 *   same expression what rate()/increase() saw; alerts of a changed rule
 *   whose labels no longer come out resolve at the next evaluation;
 * - a rule that is gone: its firing alerts resolve now (receivers that
 *   heard them fire are sent the resolve), its pending ones are dropped,
 *   its rows leave deskdb.alert_state once the resolves are delivered
 *   (at most the 15 min retention), and its deskdb_alert_firing series
 *   leaves the registry;
 * - receivers match by name: an unchanged one keeps its queue, groups
 *   and repeat timers; a changed one keeps them with the new settings
 *   (queued notifications are rebuilt); a new one starts; a removed one
 *   delivers what it has queued for up to 2 s, then drops the rest
 *   (logged, counted in deskdb_webhook_notifications_failed_total
 *   {reason="dropped"});
 * - evaluation_interval applies from the next evaluation.
 * `cfg` is borrowed like alerts_create()'s, and the old one must stay
 * valid too until alerts_destroy().  Blocks until the evaluation in
 * progress ends, plus the drain of removed receivers.  Safe against
 * every alerts thread and alerts_json(); not to be called concurrently
 * with itself, alerts_start(), alerts_stop() or alerts_destroy().
 * Errors: DESKDB_EINVAL (a rule that does not parse), DESKDB_ENOMEM,
 * DESKDB_EIO (a receiver's thread).
 */
int alerts_reload(struct alerts *a,
                  const struct config_alerts *cfg,
                  struct deskdb_err *err) DESKDB_MUSTCHECK;

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

/* SPDX-License-Identifier: MIT */
/* deskdb serve: the daemon — pool, HTTP exporter and JSON API; signals for
 * graceful stop (SIGTERM, SIGINT) and configuration reload (SIGHUP). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/runtime.h"
#include "config/config.h"
#include "config/config_alerts.h"
#include "config/config_jobs.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "exporter/alerts.h"
#include "exporter/api.h"
#include "exporter/http.h"
#include "exporter/scrape.h"
#include "jobs/scheduler.h"

/* How long a stop waits for HTTP requests and pool checkouts to finish. */
#define SERVE_DRAIN_MS 10000
/* Bound of the SELECT 1 behind /api/db/health. */
#define SERVE_HEALTH_TIMEOUT_MS 2000

struct daemon {
    const char *config_path; /* as given with -c, or NULL */
    struct config *cfg;      /* in effect */
    /* Configurations replaced by reloads.  Modules borrow pointers into
     * the config they were created with, so none is freed before exit. */
    struct config **retired;
    size_t n_retired;
    struct runtime rt;
    struct api *api;
    struct alerts *alerts; /* NULL until started */
    struct http_server *http;
    struct scrape_handler scrape;
    struct scheduler *sched;
    struct metric *reload_ok;
    struct metric *reload_ts;
    atomic_bool ready;
};

static bool
daemon_ready(void *arg)
{
    struct daemon *d = arg;

    return atomic_load(&d->ready);
}

static void
register_reload_metrics(struct daemon *d)
{
    d->reload_ok = metrics_gauge(
        d->rt.metrics,
        "deskdb_config_last_reload_successful",
        "Whether the last configuration reload (SIGHUP) succeeded.");
    d->reload_ts =
        metrics_gauge(d->rt.metrics,
                      "deskdb_config_last_reload_success_timestamp_seconds",
                      "When the configuration was last loaded successfully.");
    metric_set(d->reload_ok, 1);
    metric_set(d->reload_ts, (double)clock_realtime_ns() / 1e9);
}

static int
start_http(struct daemon *d, struct deskdb_err *err)
{
    int rc;

    d->http = http_server_create(&d->cfg->http, d->rt.metrics, err);
    if (d->http == NULL)
        return err->code;
    d->scrape.registry = d->rt.metrics;
    d->scrape.collectors = d->rt.collectors;
    d->scrape.max_budget_ms = 0;
    rc = http_server_route(d->http,
                           "/metrics",
                           HTTP_ROUTE_METRICS,
                           scrape_handle,
                           &d->scrape);
    if (rc != DESKDB_OK)
        return err_set(err, rc, "cannot register /metrics");
    d->api = api_create(d->rt.pool, SERVE_HEALTH_TIMEOUT_MS);
    if (d->api == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    if (d->alerts != NULL)
        api_set_alerts_provider(d->api, alerts_json, d->alerts);
    if (d->sched != NULL)
        api_set_jobs_provider(d->api, scheduler_json, d->sched);
    rc = api_register(d->api, d->http, err);
    if (rc != DESKDB_OK)
        return rc;
    http_server_set_ready(d->http, daemon_ready, d);
    rc = http_server_start(d->http, err);
    if (rc != DESKDB_OK)
        return rc;
    return DESKDB_OK;
}

/*
 * The job scheduler, over the pool; the leader lock gets a connection of
 * its own from the same connection string.  It also decides which
 * instance sends alert notifications, so it runs when there are jobs, or
 * alert receivers under advisory-lock leadership.  Otherwise there is
 * none, and /api/jobs answers 404.
 */
static int
create_jobs(struct daemon *d, struct deskdb_err *err)
{
    char *conninfo;
    bool leads_alerts =
        d->cfg->jobs->leader_mode == CONFIG_LEADER_ADVISORY_LOCK &&
        d->cfg->alerts->n_receivers > 0;

    if (d->cfg->jobs->n_definitions == 0 && !leads_alerts)
        return DESKDB_OK;
    conninfo = config_conninfo(d->cfg);
    if (conninfo == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    d->sched = scheduler_create(d->cfg,
                                d->rt.pool,
                                d->rt.metrics,
                                NULL,
                                conninfo,
                                err);
    explicit_bzero(conninfo, strlen(conninfo));
    free(conninfo);
    return d->sched != NULL ? DESKDB_OK : err->code;
}

/* Jobs stop first, while the pool still serves their last statements; a
 * run that outlives the drain loses its connection to the pool shutdown
 * before the scheduler joins its thread. */
static void
stop_jobs(struct daemon *d)
{
    if (d->sched != NULL && scheduler_stop(d->sched, SERVE_DRAIN_MS) != 0 &&
        d->rt.pool != NULL)
        (void)pool_shutdown(d->rt.pool, 0);
}

static bool
is_leader(void *sched)
{
    return scheduler_is_leader(sched);
}

/*
 * Alerts: rules evaluated over the registry and the collectors, states in
 * deskdb.alert_state on the pool, one delivery thread per receiver.
 * Every instance evaluates; only the scheduler's leader (this instance
 * when there is no scheduler) sends and writes states.  Created after the
 * runtime, stopped before the pool closes.
 */
static int
start_alerts(struct daemon *d, struct deskdb_err *err)
{
    d->alerts = alerts_create(d->cfg->alerts,
                              d->rt.metrics,
                              d->rt.collectors,
                              d->rt.pool,
                              NULL,
                              err);
    if (d->alerts == NULL)
        return err->code;
    if (d->sched != NULL)
        alerts_set_leader_fn(d->alerts, is_leader, d->sched);
    return alerts_start(d->alerts, err);
}

static void
stop_alerts(struct daemon *d)
{
    alerts_stop(d->alerts, SERVE_DRAIN_MS);
    alerts_destroy(d->alerts);
    d->alerts = NULL;
}

/* SIGHUP, the alerts: section: rules and receivers change in place
 * (alerts_reload()).  A failure keeps the running ones. */
static int
reload_alerts(struct daemon *d)
{
    struct deskdb_err err;

    if (d->alerts == NULL)
        return DESKDB_OK;
    err_clear(&err);
    if (alerts_reload(d->alerts, d->cfg->alerts, &err) == DESKDB_OK)
        return DESKDB_OK;
    log_error("serve",
              "alerts reload failed, keeping the running rules and receivers",
              "err",
              err.msg);
    return err.code;
}

/*
 * SIGHUP, the jobs: section: jobs added, removed and changed by name,
 * runs in progress left to finish (scheduler_reload()).  Serve started
 * without a scheduler gets one when the file now has jobs or alert
 * receivers under advisory-lock leadership (as create_jobs() decides at
 * start): /api/jobs answers from then on, and only the leader sends alert
 * notifications.  A scheduler whose jobs are all removed keeps running
 * with none.  A failure keeps the running jobs.
 */
static int
reload_jobs(struct daemon *d)
{
    struct deskdb_err err;
    int rc = DESKDB_OK;

    err_clear(&err);
    if (d->sched != NULL) {
        rc = scheduler_reload(d->sched, d->cfg, &err);
    } else {
        rc = create_jobs(d, &err);
        if (rc == DESKDB_OK && d->sched != NULL)
            rc = scheduler_start(d->sched, &err);
        if (rc == DESKDB_OK && d->sched != NULL) {
            api_set_jobs_provider(d->api, scheduler_json, d->sched);
            if (d->alerts != NULL)
                alerts_set_leader_fn(d->alerts, is_leader, d->sched);
        } else if (rc != DESKDB_OK) {
            scheduler_destroy(d->sched);
            d->sched = NULL;
        }
    }
    if (rc != DESKDB_OK)
        log_error("serve",
                  "jobs reload failed, keeping the running jobs",
                  "err",
                  err.msg);
    return rc;
}

/*
 * SIGHUP: load and validate the file again.  A bad file is rejected and the
 * running configuration kept.  What can change without a restart: the log
 * level and format, the HTTP credentials, the jobs: section (but
 * jobs.leader) and the alerts: section; other changes are logged as
 * needing a restart.
 */
static void
reload(struct daemon *d)
{
    struct deskdb_err err;
    struct config *next;
    struct config **grown;
    int jobs_rc, alerts_rc;

    err_clear(&err);
    next = config_load(config_default_path(d->config_path), &err);
    if (next != NULL && cmd_validate_config(next, &err) != DESKDB_OK) {
        config_destroy(next);
        next = NULL;
    }
    if (next == NULL ||
        http_server_update_auth(d->http, &next->http, &err) != DESKDB_OK) {
        log_error("serve",
                  "configuration reload failed, keeping the old one",
                  "err",
                  err.msg);
        config_destroy(next);
        metric_set(d->reload_ok, 0);
        return;
    }
    grown = realloc(d->retired, (d->n_retired + 1) * sizeof(*grown));
    if (grown == NULL) {
        log_error("serve",
                  "configuration reload failed",
                  "err",
                  "out of memory");
        config_destroy(next);
        metric_set(d->reload_ok, 0);
        return;
    }
    d->retired = grown;
    d->retired[d->n_retired++] = d->cfg;
    d->cfg = next;
    log_configure((enum log_level)next->log.level,
                  next->log.format == CONFIG_LOG_JSON ? LOG_FORMAT_JSON
                                                      : LOG_FORMAT_LOGFMT,
                  NULL);
    /* Both, whatever the other did: each keeps its old state on failure. */
    jobs_rc = reload_jobs(d);
    alerts_rc = reload_alerts(d);
    if (jobs_rc != DESKDB_OK || alerts_rc != DESKDB_OK) {
        metric_set(d->reload_ok, 0);
        return;
    }
    metric_set(d->reload_ok, 1);
    metric_set(d->reload_ts, (double)clock_realtime_ns() / 1e9);
    log_info("serve",
             "configuration reloaded",
             "note",
             "pool, listen, tls, collectors and jobs.leader changes need a "
             "restart");
}

/* Wait for signals on the main thread until asked to stop. */
static void
signal_loop(struct daemon *d, const sigset_t *set)
{
    int sig;

    for (;;) {
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            reload(d);
            continue;
        }
        log_info("serve", "stopping", "signal", strsignal(sig));
        return;
    }
}

static void
daemon_stop(struct daemon *d)
{
    size_t i;

    atomic_store(&d->ready, false);
    stop_jobs(d);
    if (d->http != NULL)
        http_server_stop(d->http, SERVE_DRAIN_MS);
    http_server_destroy(d->http);
    api_destroy(d->api);
    stop_alerts(d);
    scheduler_destroy(d->sched);
    runtime_close(&d->rt, SERVE_DRAIN_MS);
    for (i = 0; i < d->n_retired; i++)
        config_destroy(d->retired[i]);
    free(d->retired);
    config_destroy(d->cfg);
}

static int
parse_args(int argc, char **argv, const char **path)
{
    int i;
    int rc;

    for (i = 1; i < argc; i++) {
        rc = cmd_parse_config_opt(argc, argv, &i, path);
        if (rc < 0)
            return EXIT_USAGE;
        if (rc > 0)
            continue;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            printf("usage: deskdb serve [-c FILE]\n");
            return EXIT_OK;
        }
        fprintf(stderr, "deskdb serve: unexpected argument '%s'\n", argv[i]);
        return EXIT_USAGE;
    }
    return -1;
}

int
cmd_serve(int argc, char **argv)
{
    struct daemon d;
    struct deskdb_err err;
    sigset_t set;
    int status;

    memset(&d, 0, sizeof(d));
    status = parse_args(argc, argv, &d.config_path);
    if (status >= 0)
        return status;
    d.cfg = cmd_load_config(d.config_path);
    if (d.cfg == NULL)
        return EXIT_USAGE;

    /* Block the signals before any thread exists so that every thread
     * inherits the mask and only sigwait() in this thread sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    /* libpq's cancel requests and dropped HTTP peers must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    alerts_global_init();

    err_clear(&err);
    status = EXIT_RUNTIME;
    if (runtime_open(&d.rt, d.cfg, NULL, &err) != DESKDB_OK)
        goto fail;
    register_reload_metrics(&d);
    if (create_jobs(&d, &err) != DESKDB_OK ||
        start_alerts(&d, &err) != DESKDB_OK ||
        start_http(&d, &err) != DESKDB_OK ||
        (d.sched != NULL && scheduler_start(d.sched, &err) != DESKDB_OK)) {
        if (err.code == DESKDB_EINVAL)
            status = EXIT_USAGE;
        goto fail;
    }
    atomic_store(&d.ready, true);
    log_info("serve", "deskdb started", "version", DESKDB_VERSION);
    signal_loop(&d, &set);
    daemon_stop(&d);
    log_info("serve", "deskdb stopped");
    return EXIT_OK;
fail:
    fprintf(stderr, "deskdb serve: %s\n", err.msg);
    daemon_stop(&d);
    return status;
}

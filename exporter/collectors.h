/* SPDX-License-Identifier: MIT */
/* The PostgreSQL statistics collectors behind /metrics: one bounded,
 * shared collection on a pooled connection per scrape interval. */
#ifndef DESKDB_EXPORTER_COLLECTORS_H
#define DESKDB_EXPORTER_COLLECTORS_H

#include <stdint.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/err.h"
#include "core/metrics.h"

struct pool;
struct collectors;

/* The whole-collection budget when the scrape gives none: Prometheus'
 * default scrape timeout. */
#define COLLECTORS_DEFAULT_BUDGET_MS 10000

/*
 * Collectors for the bit set cfg->enabled, running their statements on
 * connections of `pool` (which must outlive them).  `clock` (NULL:
 * clock_system) decides when a collection may be shared or a cached collector
 * refreshed, and stamps durations and
 * deskdb_collector_last_success_timestamp_seconds; statement deadlines
 * always use the pool's clock.  Nothing is queried here.  Errors:
 * DESKDB_EINVAL (bad setting), DESKDB_ENOMEM.
 */
struct collectors *collectors_create(const struct config_collectors *cfg,
                                     struct pool *pool,
                                     const struct clock *clock,
                                     struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Free everything; no collection may be running.  NULL is a no-op. */
void collectors_destroy(struct collectors *c);

/*
 * Write the PostgreSQL families, pg_up, pg_server_info and the
 * deskdb_collector_* / deskdb_scrape_duration_seconds self metrics into
 * `sink`, within `budget_ms` (<= 0: COLLECTORS_DEFAULT_BUDGET_MS).
 *
 * One collection runs at a time.  A scrape that finds a collection
 * started less than min_interval ago replays it; one that arrives while
 * a collection runs waits for it (up to its budget) and replays it;
 * otherwise it collects.  pg_up is 1 when the database answered a
 * statement during the collection the scrape reports, so a replayed
 * collection reports the pg_up it had.
 *
 * A collection checks out one pooled connection (waiting at most
 * collectors.timeout; if none comes, pg_up is 0 and every collector
 * fails with reason connection) and runs the enabled collectors in turn,
 * each under its own deadline: the earlier of collectors.timeout and the
 * end of the budget.  Its statements are cancelled early enough that a
 * backend that ignores the cancel is given up (and its connection
 * discarded by the pool) by that deadline; when less than 4 s remain,
 * such a backend can still overrun it by up to 2 s.  A collector that
 * fails or times out reports deskdb_collector_success 0 and nothing else;
 * after a timeout or a lost connection the next collector gets a fresh
 * connection, and the others are still served.  The sizes and statements
 * collectors run at most every sizes_interval and are replayed in
 * between (their HELP says "cached").  Blocks on the network, outside
 * every lock, for about the budget at most.  Thread safe.
 */
void collectors_collect_with_budget(struct collectors *c,
                                    struct metrics_sink *sink,
                                    int64_t budget_ms);

/* metrics_collect_fn: `collectors` is a struct collectors *; the budget
 * is COLLECTORS_DEFAULT_BUDGET_MS. */
void collectors_collect(void *collectors, struct metrics_sink *sink);

/* For metrics_snapshot_create() from the /metrics handler, which knows the
 * scrape's budget: pass collectors_collect_scrape and a pointer to this. */
struct collectors_scrape {
    struct collectors *collectors;
    int64_t budget_ms;
};

void collectors_collect_scrape(void *scrape, struct metrics_sink *sink);

/*
 * The budget for a scrape: the X-Prometheus-Scrape-Timeout-Seconds
 * header value (NULL or unparsable: none) less a margin for rendering
 * and sending (500 ms, or half of it when that leaves less than half),
 * capped at `max_ms` (<= 0: COLLECTORS_DEFAULT_BUDGET_MS).
 */
int64_t collectors_budget_ms(const char *scrape_timeout_header, int64_t max_ms);

/*
 * For tests and diagnostics: `fn` runs on the collecting thread just
 * before each collector's first statement, with the collector's name
 * and the server process id of the connection it will use.  NULL
 * removes it.  Set it while no collection runs.
 */
typedef void (*collectors_hook_fn)(void *arg,
                                   const char *collector,
                                   int backend_pid);

void
collectors_set_hook(struct collectors *c, collectors_hook_fn fn, void *arg);

/* Number of collections actually run (not replayed) since creation. */
uint64_t collectors_runs(const struct collectors *c);

#endif

/* SPDX-License-Identifier: MIT */
/* The activity collector: client backends by database and state, the
 * oldest open transaction, and backends waiting on an event. */
#include "exporter/collectors/internal.h"

/*
 * Only client backends count (not autovacuum, WAL senders or other
 * background processes), and never the collector's own backend, which
 * would otherwise show up as one active session in every scrape.  Every
 * known state of every database that accepts connections is reported,
 * with 0 when no backend is in it, so series do not come and go.
 */
#define CLIENTS                                                    \
    "backend_type = 'client backend' AND pid <> pg_backend_pid() " \
    "AND datname IS NOT NULL"

static const char state_head[] =
    "WITH s AS (SELECT datname, state, count(*) AS n, "
    "max(extract(epoch FROM now() - xact_start)) AS tx "
    "FROM pg_stat_activity WHERE " CLIENTS " AND state IS NOT NULL "
    "GROUP BY 1, 2), "
    "z AS (SELECT d.datname, v.state FROM pg_database d CROSS JOIN "
    "(VALUES ('active'), ('idle'), ('idle in transaction'), "
    "('idle in transaction (aborted)'), ('fastpath function call'), "
    "('disabled')) AS v(state) WHERE d.datallowconn) "
    "SELECT coalesce(s.datname, z.datname), coalesce(s.state, z.state)";

static const char state_tail[] =
    " FROM z FULL JOIN s ON s.datname = z.datname AND s.state = z.state "
    "ORDER BY 1, 2";

static const struct coll_col state_cols[] = {
    {"coalesce(s.n, 0)",
     "pg_stat_activity_backends",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Client backends by database and state (the collector's own "
     "excluded)."},
    {"coalesce(greatest(s.tx, 0), 0)",
     "pg_stat_activity_max_tx_duration_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Age in seconds of the oldest transaction of client backends in "
     "this database and state (0 if none)."},
};

/* Active backends waiting, by wait event type: Lock means blocked by
 * another session's lock. */
static const char wait_head[] =
    "WITH s AS (SELECT datname, wait_event_type AS t, count(*) AS n "
    "FROM pg_stat_activity WHERE " CLIENTS " AND state = 'active' "
    "AND wait_event_type IS NOT NULL GROUP BY 1, 2), "
    "z AS (SELECT d.datname, v.t FROM pg_database d CROSS JOIN "
    "(VALUES ('Lock'), ('LWLock'), ('IO'), ('IPC'), ('BufferPin'), "
    "('Client'), ('Extension'), ('Timeout')) AS v(t) "
    "WHERE d.datallowconn) "
    "SELECT coalesce(s.datname, z.datname), coalesce(s.t, z.t)";

static const char wait_tail[] =
    " FROM z FULL JOIN s ON s.datname = z.datname AND s.t = z.t "
    "ORDER BY 1, 2";

static const struct coll_col wait_cols[] = {
    {"coalesce(s.n, 0)",
     "pg_stat_activity_waiting_backends",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Active client backends waiting, by wait event type (Lock: blocked "
     "by another session)."},
};

int
coll_activity_run(struct coll_ctx *ctx)
{
    static const char *const state_labels[] = {"datname", "state", NULL};
    static const char *const wait_labels[] = {"datname",
                                              "wait_event_type",
                                              NULL};
    int rc;

    rc = coll_run_cols(ctx,
                       state_head,
                       state_cols,
                       sizeof(state_cols) / sizeof(state_cols[0]),
                       state_tail,
                       state_labels);
    if (rc != 0)
        return rc;
    return coll_run_cols(ctx, wait_head, wait_cols, 1, wait_tail, wait_labels);
}

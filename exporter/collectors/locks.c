/* SPDX-License-Identifier: MIT */
/* The locks collector: pg_locks counted by database, mode and whether
 * the lock is held or awaited. */
#include "exporter/collectors/internal.h"

/*
 * A lock belongs to the database it is on or, for locks on no database
 * (transaction IDs, virtual transactions), to the database of the backend
 * holding or awaiting it; the collector's own locks are left out.  The
 * eight table-level modes are reported for every database that accepts
 * connections, held and awaited, with 0 when none; other modes
 * (SIReadLock) appear when present.
 */
static const char head[] =
    "WITH l AS (SELECT coalesce(d.datname, a.datname) AS datname, l.mode, "
    "l.granted, count(*) AS n FROM pg_locks l "
    "LEFT JOIN pg_database d ON d.oid = l.database "
    "LEFT JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.pid IS DISTINCT FROM pg_backend_pid() "
    "GROUP BY 1, 2, 3), "
    "z AS (SELECT d.datname, m.mode, g.granted, 0::bigint AS n "
    "FROM pg_database d CROSS JOIN (VALUES ('AccessShareLock'), "
    "('RowShareLock'), ('RowExclusiveLock'), ('ShareUpdateExclusiveLock'), "
    "('ShareLock'), ('ShareRowExclusiveLock'), ('ExclusiveLock'), "
    "('AccessExclusiveLock')) AS m(mode) CROSS JOIN (VALUES (true), "
    "(false)) AS g(granted) WHERE d.datallowconn) "
    "SELECT datname, mode, CASE WHEN granted THEN 'true' ELSE 'false' END";

static const char tail[] = " FROM (SELECT * FROM l WHERE datname IS NOT NULL "
                           "UNION ALL SELECT * FROM z) u "
                           "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

static const struct coll_col cols[] = {
    {"sum(n)",
     "pg_locks",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Locks by database, mode and granted (false: awaited)."},
};

int
coll_locks_run(struct coll_ctx *ctx)
{
    static const char *const labels[] = {"datname", "mode", "granted", NULL};

    return coll_run_cols(ctx, head, cols, 1, tail, labels);
}

/* SPDX-License-Identifier: MIT */
/* The replication collector: whether this server is a replica and how far
 * behind it is, the lag of the standbys it feeds, and its slots. */
#include "exporter/collectors/internal.h"

/* The WAL position this server has: written on a primary, received (or
 * else replayed) on a replica. */
#define CUR_LSN                                                               \
    "CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_receive_lsn(), " \
    "pg_last_wal_replay_lsn()) ELSE pg_current_wal_lsn() END"

static const struct coll_col self_cols[] = {
    {"pg_is_in_recovery()",
     "pg_replication_is_replica",
     METRIC_GAUGE,
     0,
     0,
     0,
     "1 if the server is a replica (in recovery), else 0."},
    /* Nothing to replay means no lag, however old the last transaction. */
    {"CASE WHEN pg_is_in_recovery() THEN CASE WHEN "
     "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 ELSE "
     "greatest(0, extract(epoch FROM now() - "
     "pg_last_xact_replay_timestamp())) END END",
     "pg_replication_lag_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Replica only: seconds since the last replayed transaction was "
     "committed on the primary, 0 when all received WAL is replayed."},
    {"CASE WHEN pg_is_in_recovery() THEN greatest(0, extract(epoch FROM "
     "now() - pg_last_xact_replay_timestamp())) END",
     "pg_replication_last_replay_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Replica only: seconds since the last transaction was replayed."},
};

/*
 * Standbys fed by this server.  Two WAL senders can share application
 * name, address and slot (a base backup next to a standby, or both on a
 * Unix socket): their rows are merged, keeping the larger lag, so that no
 * series is ever duplicated.  A NULL lag means the standby is caught up
 * and idle.
 */
static const char standby_head[] =
    "SELECT coalesce(r.application_name, ''), "
    "coalesce(host(r.client_addr), ''), coalesce(sl.slot_name::text, '')";

static const char standby_tail[] =
    " FROM pg_stat_replication r LEFT JOIN pg_replication_slots sl "
    "ON sl.active_pid = r.pid GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

static const struct coll_col standby_cols[] = {
    {"max(coalesce(extract(epoch FROM r.write_lag), 0))",
     "pg_stat_replication_write_lag_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Seconds until the standby had written recent WAL (0 when caught "
     "up)."},
    {"max(coalesce(extract(epoch FROM r.flush_lag), 0))",
     "pg_stat_replication_flush_lag_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Seconds until the standby had flushed recent WAL (0 when caught "
     "up)."},
    {"max(coalesce(extract(epoch FROM r.replay_lag), 0))",
     "pg_stat_replication_replay_lag_seconds",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Seconds until the standby had replayed recent WAL (0 when caught "
     "up)."},
    {"max(pg_wal_lsn_diff(" CUR_LSN ", r.replay_lsn))",
     "pg_stat_replication_lag_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes of WAL the standby has yet to replay."},
};

static const char slot_head[] =
    "SELECT slot_name, slot_type, coalesce(database::text, '')";

static const char slot_tail[] = " FROM pg_replication_slots ORDER BY 1";

static const struct coll_col slot_cols[] = {
    {"active",
     "pg_replication_slots_active",
     METRIC_GAUGE,
     0,
     0,
     0,
     "1 if a connection is using the slot, else 0."},
    {"pg_wal_lsn_diff(" CUR_LSN ", restart_lsn)",
     "pg_replication_slots_retained_wal_bytes",
     METRIC_GAUGE,
     0,
     0,
     0,
     "Bytes of WAL the slot keeps from being removed."},
    {"safe_wal_size",
     "pg_replication_slots_safe_wal_size_bytes",
     METRIC_GAUGE,
     0,
     130000,
     0,
     "Bytes of WAL that can still be written before the slot is "
     "invalidated (absent without max_slot_wal_keep_size)."},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int
coll_replication_run(struct coll_ctx *ctx)
{
    static const char *const standby_labels[] = {"application_name",
                                                 "client_addr",
                                                 "slot_name",
                                                 NULL};
    static const char *const slot_labels[] = {"slot_name",
                                              "slot_type",
                                              "database",
                                              NULL};
    int rc;

    rc = coll_run_cols(ctx, "SELECT 1", self_cols, N(self_cols), "", NULL);
    if (rc == 0)
        rc = coll_run_cols(ctx,
                           standby_head,
                           standby_cols,
                           N(standby_cols),
                           standby_tail,
                           standby_labels);
    if (rc == 0)
        rc = coll_run_cols(ctx,
                           slot_head,
                           slot_cols,
                           N(slot_cols),
                           slot_tail,
                           slot_labels);
    return rc;
}

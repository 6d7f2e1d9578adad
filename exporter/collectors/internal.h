/* SPDX-License-Identifier: MIT */
/* Private to exporter/collectors/: the engine's state, the recorder that
 * collections are kept in, and the helpers every collector uses. */
#ifndef DESKDB_EXPORTER_COLLECTORS_INTERNAL_H
#define DESKDB_EXPORTER_COLLECTORS_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "core/pool.h"
#include "exporter/collectors.h"

enum coll_id {
    COLL_DATABASE,
    COLL_ACTIVITY,
    COLL_LOCKS,
    COLL_TABLES,
    COLL_INDEXES,
    COLL_SIZES,
    COLL_STATEMENTS,
    COLL_REPLICATION,
    COLL_SETTINGS,
    COLL_N
};

/* The `reason` label of deskdb_collector_errors_total. */
enum coll_reason {
    COLL_REASON_TIMEOUT,     /* a deadline or the scrape budget passed */
    COLL_REASON_QUERY,       /* the server rejected a statement */
    COLL_REASON_CONNECTION,  /* no connection, or it was lost */
    COLL_REASON_CARDINALITY, /* a cap left rows out, or output too big */
    COLL_REASON_N
};

extern const char *const coll_reason_names[COLL_REASON_N];

/* Most samples one collector may produce; past it the collector fails
 * with reason cardinality_limit (caps in SQL keep well below it). */
#define COLL_MAX_SAMPLES 50000

/* The pool waits this long for a cancelled statement to stop before it
 * discards the connection (POOL_CANCEL_GRACE_NS in core/pool_internal.h);
 * statements are cancelled early enough that a collector still ends
 * within collectors.timeout when the backend never answers. */
#define COLL_CANCEL_RESERVE_NS (2000 * NS_PER_MS)

/* ---- recorder ----------------------------------------------------------- */

/*
 * Families and samples recorded by a collector, kept so that a collection
 * can be replayed into any number of sinks.  Built by one thread, then
 * shared read-only through references.
 */
struct rec;

struct rec *rec_create(size_t max_samples);
struct rec *rec_ref(struct rec *r);
void rec_unref(struct rec *r); /* NULL is a no-op */

/* Start a family; `label_names` is NULL-terminated (NULL: no labels).
 * DESKDB_EINVAL for more than METRICS_MAX_LABELS labels, DESKDB_ENOMEM. */
int rec_family(struct rec *r,
               enum metric_type type,
               const char *name,
               const char *help,
               const char *const *label_names) DESKDB_MUSTCHECK;

/* Add a sample to the current family (NULL values count as "").
 * DESKDB_EBUSY past max_samples, DESKDB_ENOMEM. */
int rec_sample(struct rec *r,
               const char *const *label_values,
               double value) DESKDB_MUSTCHECK;

size_t rec_samples(const struct rec *r);

/* Write every non-empty family into `sink`. */
void rec_replay(const struct rec *r, struct metrics_sink *sink);

/* ---- engine ------------------------------------------------------------- */

/* Rows a statements selection remembers between runs. */
struct stmt_key {
    uint32_t dbid;
    uint32_t userid;
    int64_t queryid;
};

struct stmt_state {
    struct stmt_key *keys; /* emitted last time, sorted */
    size_t n;
};

/* What one collector did in one collection. */
struct coll_status {
    bool enabled;
    bool ok;
    enum coll_reason reason; /* when !ok */
    double duration_s;       /* of the run that produced the data */
    struct rec *rec;         /* when ok: its families (a reference) */
};

/* One collection, shared read-only by every scrape that replays it. */
struct coll_result {
    _Atomic unsigned refs;
    int64_t started_ns; /* engine clock */
    double duration_s;
    bool pg_up;
    bool skipped; /* a waiting scrape gave up: nothing was collected */
    int version_num;
    char version[64];
    struct coll_status st[COLL_N];
    int64_t last_success_ns[COLL_N]; /* wall clock, 0: never */
};

/* Whether a collector's failure has been logged, and how. */
enum coll_health {
    COLL_HEALTHY,
    COLL_FAILING,     /* logged on its own */
    COLL_UNCONNECTED, /* logged once for all: no connection */
};

/* A cached collector's last good output. */
struct coll_cache {
    struct rec *rec; /* NULL: nothing usable */
    int64_t at_ns;   /* engine clock */
    double duration_s;
};

struct collectors {
    struct config_collectors cfg;
    struct pool *pool;
    struct clock clock;
    /* Failures by collector and reason, emitted with every scrape (not
     * kept in the registry, which is copied before the collection runs
     * and would show this scrape's failures one scrape late). */
    _Atomic uint64_t errors[COLL_N][COLL_REASON_N];
    collectors_hook_fn hook;
    void *hook_arg;
    _Atomic uint64_t runs;

    pthread_mutex_t mu;     /* guards running, generation and last */
    pthread_cond_t done_cv; /* a collection finished */
    bool running;
    uint64_t generation;
    struct coll_result *last;

    /* Owned by the running collection (one at a time): no lock. */
    struct coll_cache cache[COLL_N];
    int64_t last_success_ns[COLL_N];
    enum coll_health health[COLL_N]; /* failures are logged on change */
    struct stmt_state stmt;
};

/* Run one collection within `budget_ms`; NULL only when out of memory. */
struct coll_result *coll_run(struct collectors *c, int64_t budget_ms);

void coll_result_unref(struct coll_result *res);

/* ---- collectors --------------------------------------------------------- */

/* What a collector works with during one run. */
struct coll_ctx {
    struct collectors *c;
    struct pool_conn *conn;
    int version; /* server_version_num of conn */
    struct rec *out;
    int statements;          /* statements sent */
    bool answered;           /* one got an answer (result or SQL error) */
    bool truncated;          /* a cap left rows out */
    enum coll_reason reason; /* when the run fails */
    struct deskdb_err err;
};

typedef int (*coll_run_fn)(struct coll_ctx *ctx);

struct coll_def {
    const char *name;
    unsigned bit; /* enum config_collector */
    coll_run_fn run;
    bool cached; /* refreshed every sizes_interval, replayed in between */
};

extern const struct coll_def coll_defs[COLL_N];

int coll_database_run(struct coll_ctx *ctx);
int coll_activity_run(struct coll_ctx *ctx);
int coll_locks_run(struct coll_ctx *ctx);
int coll_tables_run(struct coll_ctx *ctx);
int coll_indexes_run(struct coll_ctx *ctx);
int coll_sizes_run(struct coll_ctx *ctx);
int coll_statements_run(struct coll_ctx *ctx);
int coll_replication_run(struct coll_ctx *ctx);
int coll_settings_run(struct coll_ctx *ctx);

void coll_stmt_state_free(struct stmt_state *s);

/* ---- helpers (query.c) -------------------------------------------------- */

/*
 * Run one statement on ctx->conn (see pool_query()).  On failure sets
 * ctx->reason and ctx->err; ctx->answered is set whenever the server
 * answered, even with an error.  *res must be PQclear()ed on success.
 */
int coll_query(struct coll_ctx *ctx,
               const char *sql,
               int nparams,
               const char *const *params,
               PGresult **res) DESKDB_MUSTCHECK;

/* A failure the collector itself detected (ctx->reason and ctx->err). */
int coll_fail(struct coll_ctx *ctx,
              enum coll_reason reason,
              int code,
              const char *fmt,
              ...) DESKDB_PRINTF(4, 5);

/* Record a rec_family()/rec_sample() failure in ctx and return it. */
int coll_rec_error(struct coll_ctx *ctx, int rc);

/* strtod() in the C locale, whatever the process locale is. */
double coll_strtod(const char *s, char **end);

/* Parse a numeric or boolean ("t"/"f") column; false for NULL or junk. */
bool coll_value(const PGresult *res, int row, int col, double *out);

/* One value column of a statement and the family it becomes. */
struct coll_col {
    const char *expr;      /* SQL expression */
    const char *name;      /* family name */
    enum metric_type type; /* METRIC_COUNTER or METRIC_GAUGE */
    double scale;          /* multiply by this (0: 1), e.g. 0.001 for ms */
    int min_version;       /* first server_version_num with it, 0: any */
    int max_version;       /* first one without it, 0: none */
    const char *help;
};

bool coll_col_applies(const struct coll_col *col, int version);

/*
 * Build "head, expr, expr ... tail" in `b` (initialised here, bounded by
 * COLL_SQL_MAX; buf_fini() it) with every column of `cols` that applies
 * to ctx->version.  0, or the collector fails with ENOMEM.
 */
int coll_sql(struct coll_ctx *ctx,
             struct buf *b,
             const char *head,
             const struct coll_col *cols,
             size_t n,
             const char *tail) DESKDB_MUSTCHECK;

/*
 * Record one family per applicable column of `cols`, one sample per row:
 * labels from result columns 0..n_labels-1 (NULL as ""), values from
 * column `first` on, in the order coll_sql() wrote them.  NULL values are
 * left out.  Returns 0 or a failure (set in ctx).
 */
int coll_emit(struct coll_ctx *ctx,
              const PGresult *res,
              const char *const *label_names,
              int first,
              const struct coll_col *cols,
              size_t n);

/* coll_sql(), coll_query() and coll_emit() for a statement whose `head`
 * selects the label columns (without labels, one placeholder column that
 * is skipped, e.g. "SELECT 1"), with the value columns right after. */
int coll_run_cols(struct coll_ctx *ctx,
                  const char *head,
                  const struct coll_col *cols,
                  size_t n,
                  const char *tail,
                  const char *const *label_names);

#define COLL_SQL_MAX (64 * 1024)

#endif

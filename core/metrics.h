/* SPDX-License-Identifier: MIT */
/* The metrics registry: counters, gauges and histograms, lock-free updates,
 * and snapshots that the exposition writer and the alert evaluator read. */
#ifndef DESKDB_CORE_METRICS_H
#define DESKDB_CORE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

#define METRICS_MAX_LABELS         8
#define METRICS_MAX_BUCKETS        32
#define METRICS_DEFAULT_MAX_SERIES 2000

struct metrics;       /* the registry */
struct metric_family; /* owned by the registry, lives as long as it */
struct metric; /* one series; the pointer stays valid as long as the registry */

struct metrics *metrics_create(void) DESKDB_MUSTCHECK;

/* Frees every family and series; metrics_destroy(NULL) is a no-op. */
void metrics_destroy(struct metrics *m);

/*
 * Register a family, or return the existing one with the same name (the
 * type and label names must match, or NULL is returned).  `label_names` is
 * NULL or a NULL-terminated array; `buckets` are the ascending upper bounds
 * of a histogram without +Inf.  Names must be valid Prometheus names;
 * counters end in _total.  Strings are copied.  Thread safe (takes the
 * registry lock; call at setup, not on hot paths).
 */
struct metric_family *metrics_family(struct metrics *m,
                                     enum metric_type type,
                                     const char *name,
                                     const char *help,
                                     const char *const *label_names,
                                     const double *buckets,
                                     size_t n_buckets);

/* Limit the number of series of a family (default METRICS_DEFAULT_MAX_SERIES).
 */
void metrics_family_set_max_series(struct metric_family *f, size_t max);

/*
 * The series for `label_values` (as many as the family has labels; NULL for
 * none), created on first use.  Returns NULL when the family is at its
 * series cap (counted, and shown as
 * deskdb_exposition_dropped_series_total{reason="limit"}).  Cache the
 * pointer: lookups take the family lock, updates do not.
 */
struct metric *metric_series(struct metric_family *f,
                             const char *const *label_values);

/* Shorthand: register an unlabelled family and return its only series. */
struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help);
struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help);
struct metric *metrics_histogram(struct metrics *m,
                                 const char *name,
                                 const char *help,
                                 const double *buckets,
                                 size_t n_buckets);

/*
 * Lock-free updates (relaxed atomics).  A NULL series is ignored, so a
 * capped series costs the caller nothing.  metric_add() on a counter
 * ignores negative amounts: counters never go down.
 */
void metric_inc(struct metric *s);
void metric_add(struct metric *s, double v);
void metric_set(struct metric *s, double v);
void metric_observe(struct metric *s, double v);

/* Current value (counter or gauge), or the observation count of a histogram. */
double metric_value(const struct metric *s);

/* ---- snapshots ------------------------------------------------------- */

struct metrics_sample {
    char **label_values;     /* n_labels strings */
    double value;            /* counter / gauge */
    uint64_t *bucket_counts; /* histogram: cumulative, n_buckets entries (+Inf
                                is count) */
    double sum;
    uint64_t count;
};

struct metrics_snapshot_family {
    char *name;
    char *help;
    enum metric_type type;
    char **label_names;
    size_t n_labels;
    double *buckets;
    size_t n_buckets;
    struct metrics_sample *samples;
    size_t n_samples;
};

/* A point-in-time copy, owned by whoever created it; families are sorted by
 * name and every (name, labels) pair appears once. */
struct metrics_snapshot {
    struct metrics_snapshot_family *families;
    size_t n_families;
    uint64_t dropped_duplicate; /* series dropped at snapshot time */
    uint64_t dropped_invalid;
};

/* What scrape-time collectors write into. */
struct metrics_sink;

/* Start a family in the sink; later samples belong to it.  Returns
 * DESKDB_EINVAL for an invalid name (the family is then skipped and
 * counted as invalid). */
int metrics_sink_family(struct metrics_sink *sink,
                        enum metric_type type,
                        const char *name,
                        const char *help,
                        const char *const *label_names);

/* Add one counter or gauge sample to the current family.  A duplicate label
 * set is dropped and counted. */
void metrics_sink_sample(struct metrics_sink *sink,
                         const char *const *label_values,
                         double value);

/* Add one histogram sample: `cumulative` has n_buckets counts for
 * `buckets` (ascending, without +Inf). */
void metrics_sink_histogram(struct metrics_sink *sink,
                            const char *const *label_values,
                            const double *buckets,
                            const uint64_t *cumulative,
                            size_t n_buckets,
                            double sum,
                            uint64_t count);

/*
 * A collector runs at snapshot time and writes families into the sink.
 * It must be quick and must not take locks that the registry's users hold
 * while updating metrics.  Registered collectors run in registration order.
 */
typedef void (*metrics_collect_fn)(void *arg, struct metrics_sink *sink);

int metrics_add_collector(struct metrics *m,
                          metrics_collect_fn fn,
                          void *arg) DESKDB_MUSTCHECK;

/* Remove a collector registered with the same fn and arg (no-op if absent). */
void
metrics_remove_collector(struct metrics *m, metrics_collect_fn fn, void *arg);

/* Snapshot of all registered families and collectors.  `extra` (may be
 * NULL) runs after them: the exporter passes its PostgreSQL collectors. */
struct metrics_snapshot *metrics_snapshot_create(struct metrics *m,
                                                 metrics_collect_fn extra,
                                                 void *extra_arg);

void metrics_snapshot_destroy(struct metrics_snapshot *snap);

/* Look up a family in a snapshot (NULL if absent). */
const struct metrics_snapshot_family *
metrics_snapshot_find(const struct metrics_snapshot *snap, const char *name);

/* True if `name` is a valid metric name (and `label` a valid label name). */
bool metrics_name_valid(const char *name);
bool metrics_label_name_valid(const char *name);

/* Register process_* metrics (from /proc/self) and deskdb_build_info. */
int metrics_add_process_collector(struct metrics *m) DESKDB_MUSTCHECK;

#endif

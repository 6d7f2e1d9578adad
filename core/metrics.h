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
 *
 * NULL is also returned for what promtool would flag or the formats
 * reserve: a name with ':'; _total on a non-counter; _bucket, _count or
 * _sum on a non-histogram (so pg_locks_count must be e.g. pg_locks); an
 * empty help text; label names that are invalid, start with "__",
 * repeat, are "le" or "quantile", or number more than METRICS_MAX_LABELS;
 * 0 or more than METRICS_MAX_BUCKETS buckets, not finite or not strictly
 * ascending.  The help text is stored with invalid UTF-8 replaced.
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
 * pointer: lookups take the family lock, updates do not.  A NULL value is
 * "", invalid UTF-8 is replaced by U+FFFD (so two spellings of bad bytes
 * are one series).
 */
struct metric *metric_series(struct metric_family *f,
                             const char *const *label_values);

/*
 * Take a series out of its family: it is no longer exported, and asking
 * for the same label values again makes a new series that starts at 0.
 * The pointer stays valid until the registry is destroyed (writes to it
 * are kept but never exported), so threads still holding it are safe.
 * NULL, or a series already removed, is a no-op.
 */
void metric_series_remove(struct metric *s);

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
 * ignores negative amounts (and NaN): counters never go down, and
 * metric_set() on a counter only ever raises it.  metric_observe() is for
 * histograms (a value equal to a bound counts in that bucket; NaN is
 * ignored); add/set do nothing on histograms.
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
 * name (strcmp), samples by label values, every (name, labels) pair
 * appears once and no family is empty.  Families with the same name are
 * merged when type and labels match; otherwise, and when sample names of
 * two families would clash (gauge foo next to counter foo_total), the one
 * added later is dropped: registered families come first, then the
 * collectors in order, then `extra`.  Of two samples with the same labels
 * the first added stays. */
struct metrics_snapshot {
    struct metrics_snapshot_family *families;
    size_t n_families;
    uint64_t dropped_duplicate; /* series dropped at snapshot time */
    uint64_t dropped_invalid;
};

/* What scrape-time collectors write into. */
struct metrics_sink;

/* Start a family in the sink; later samples belong to it.  Returns
 * DESKDB_EINVAL for an invalid name, labels or empty help (the same rules
 * as metrics_family(); the family's samples are then skipped and counted
 * as invalid_name) or DESKDB_ENOMEM.  Label values of all samples are
 * copied with invalid UTF-8 replaced by U+FFFD; a family holds at most
 * METRICS_DEFAULT_MAX_SERIES samples (more are counted as limit). */
int metrics_sink_family(struct metrics_sink *sink,
                        enum metric_type type,
                        const char *name,
                        const char *help,
                        const char *const *label_names);

/* Add one counter or gauge sample to the current family.  A duplicate label
 * set is dropped and counted; a negative or NaN counter value is dropped
 * as invalid. */
void metrics_sink_sample(struct metrics_sink *sink,
                         const char *const *label_values,
                         double value);

/* Add one histogram sample: `cumulative` has n_buckets counts for
 * `buckets` (ascending, without +Inf).  Samples whose buckets differ from
 * the family's first sample, or whose counts decrease or exceed `count`,
 * are dropped as invalid. */
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

/* Remove a collector registered with the same fn and arg (no-op if absent).
 * Blocks until no snapshot is running it, so `arg` may be freed after;
 * never call it from inside a collector. */
void
metrics_remove_collector(struct metrics *m, metrics_collect_fn fn, void *arg);

/* Snapshot of all registered families and collectors.  `extra` (may be
 * NULL) runs after them: the exporter passes its PostgreSQL collectors.
 * Collectors run with no registry lock held.  Always contains
 * deskdb_exposition_dropped_series_total{reason} (cumulative).  NULL when
 * out of memory. */
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

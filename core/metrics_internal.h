/* SPDX-License-Identifier: MIT */
/* Registry internals shared by core/metrics.c and core/metrics_snapshot.c
 * only; nothing outside those two files may include this header. */
#ifndef DESKDB_CORE_METRICS_INTERNAL_H
#define DESKDB_CORE_METRICS_INTERNAL_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/metrics.h"

/* One series.  Label values and the histogram counts live in the same
 * allocation, so the pointer handed out never moves. */
struct metric {
    struct metric_family *family;
    struct metric *hnext; /* hash chain, guarded by family->lock */
    uint64_t hash;
    bool removed; /* on the family's removed list; guarded by its lock */
    char *labels[METRICS_MAX_LABELS];
    _Atomic uint64_t bits; /* counter/gauge value or histogram sum (double) */
    /* histogram: per-bucket (not cumulative) counts, the last one being
     * the +Inf overflow; the observation count is their total */
    _Atomic uint64_t counts[];
};

struct metric_family {
    struct metric_family *next; /* registry list, guarded by registry lock */
    char *name;
    char *help;
    enum metric_type type;
    size_t n_labels;
    char *label_names[METRICS_MAX_LABELS];
    size_t n_buckets;
    double buckets[METRICS_MAX_BUCKETS];
    _Atomic size_t max_series;
    _Atomic uint64_t *dropped_limit; /* the registry's counter */
    pthread_mutex_t lock;            /* guards table, n_table and n_series */
    struct metric **table;
    size_t n_table;
    size_t n_series;
    struct metric *removed; /* metric_series_remove(), chained by hnext */
};

struct metrics_collector {
    struct metrics_collector *next;
    metrics_collect_fn fn;
    void *arg;
    unsigned busy; /* snapshots running it right now */
};

struct metrics {
    pthread_mutex_t lock; /* guards the two lists and every `busy` */
    pthread_cond_t idle;  /* signalled when a collector's busy drops to 0 */
    struct metric_family *families;
    struct metric_family **families_tail;
    size_t n_families;
    struct metrics_collector *collectors;
    _Atomic uint64_t dropped_limit;
    _Atomic uint64_t dropped_duplicate;
    _Atomic uint64_t dropped_invalid;
};

/* Validation shared by registration and the sink: the family name fits
 * the type (counters end in _total; nothing else ends in _total, and only
 * histograms in _bucket/_count/_sum), the help text is non-empty and the
 * label names are valid, unique, not reserved (le, quantile) and at most
 * METRICS_MAX_LABELS. */
bool metrics_family_valid(enum metric_type type,
                          const char *name,
                          const char *help,
                          const char *const *label_names,
                          size_t *n_labels);

/* Copy `s` into `out` (when non-NULL) with every run of invalid UTF-8
 * replaced by U+FFFD; returns the length of the result (without NUL). */
size_t metrics_utf8_clean(const char *s, char *out);

static inline double
metrics_bits_double(uint64_t u)
{
    double d;

    __builtin_memcpy(&d, &u, sizeof(d));
    return d;
}

static inline uint64_t
metrics_double_bits(double d)
{
    uint64_t u;

    __builtin_memcpy(&u, &d, sizeof(u));
    return u;
}

/* ---- snapshot building (metrics_sink.c, used by metrics_snapshot.c) ---- */

#define METRICS_NO_FAMILY SIZE_MAX

/* The family that counts series left out of snapshots, its reasons in
 * label order, and the number of reasons. */
extern const char metrics_dropped_name[];
extern const char *const metrics_dropped_reasons[3];

/* Strings, label arrays and bucket arrays of one snapshot: bump-allocated,
 * freed all at once. */
struct arena_chunk {
    struct arena_chunk *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char data[];
};

/* A family while the snapshot is built; `order` keeps the sort stable. */
struct sink_family {
    struct metrics_snapshot_family pub;
    size_t cap;
    size_t max_samples; /* collectors' cap; registered families have theirs */
    size_t order;
    bool dropped;
};

struct snapshot_impl {
    struct metrics_snapshot pub; /* first: the public pointer is ours */
    struct arena_chunk *chunks;
};

struct metrics_sink {
    struct snapshot_impl *snap;
    struct sink_family *families;
    size_t n_families;
    size_t alloc_families;
    size_t cur;  /* index of the family samples go to, or METRICS_NO_FAMILY */
    bool failed; /* out of memory: the snapshot is abandoned */
    uint64_t dropped_duplicate;
    uint64_t dropped_invalid;
    uint64_t dropped_limit;
};

/* Bump-allocate from the snapshot's arena; sets sink->failed and returns
 * NULL when out of memory. */
void *metrics_arena_alloc(struct metrics_sink *sink, size_t size);

/* Copy a registered family (taking its lock) into the sink. */
void metrics_sink_copy_family(struct metrics_sink *sink,
                              struct metric_family *f);

/* Add the dropped-series family with zero values (patched when the
 * snapshot is finished); added first so that it wins any name clash. */
void metrics_sink_add_dropped(struct metrics_sink *sink);

#endif

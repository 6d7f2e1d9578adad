/* SPDX-License-Identifier: MIT */
/* Rule expressions: a small PromQL subset parsed once and evaluated
 * against metric snapshots, with the sample history that rate() and
 * increase() need. */
#ifndef DESKDB_EXPORTER_ALERTS_EXPR_H
#define DESKDB_EXPORTER_ALERTS_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/metrics.h"
#include "exporter/notify/notify.h"

/* Series one rule tracks for rate()/increase(), and samples per series. */
#define EXPR_MAX_SERIES  1000
#define EXPR_MAX_SAMPLES 256
/* Longest range of rate()/increase(): 366 days (nanoseconds stay far
 * from int64 overflow, and a longer window holds no useful samples). */
#define EXPR_MAX_RANGE_MS (INT64_C(366) * 86400 * 1000)

struct alert_expr;
struct expr_history;

/*
 * Parse `text`:
 *
 *   expr     := vector CMP number
 *   vector   := AGG [by (l, ...)] ( vector ) [by (l, ...)]
 *             | FUNC ( selector [ duration ] )
 *             | selector
 *   selector := name [ { matcher, ... } ] | { matcher, ... } with __name__
 *   matcher  := label (= | != | =~ | !~) "string"
 *   AGG      := sum | min | max | avg | count
 *   FUNC     := rate | increase
 *   CMP      := > | < | >= | <= | == | !=
 *
 * Regular expressions are POSIX extended, anchored at both ends.  A
 * histogram is read through name_bucket{le=...}, name_count and name_sum.
 * On error returns DESKDB_EINVAL (or DESKDB_ENOMEM) with a message in
 * `err` and the 0-based byte offset of the problem in `*err_offset`.
 */
int alert_expr_parse(const char *text,
                     struct alert_expr **out,
                     size_t *err_offset,
                     struct deskdb_err *err) DESKDB_MUSTCHECK;

void alert_expr_destroy(struct alert_expr *e);

/* The range of its rate()/increase() in ms, 0 if none. */
int64_t alert_expr_range_ms(const struct alert_expr *e);

/* One element of an instant vector: labels sorted by name, none empty. */
struct expr_sample {
    struct notify_label *labels;
    size_t n_labels;
    double value;
};

struct expr_result {
    struct expr_sample *samples;
    size_t n;
    bool truncated; /* more series than EXPR_MAX_SERIES */
};

void expr_result_fini(struct expr_result *r);

/*
 * Evaluate at wall-clock time `now_ns`: the samples of the vector for
 * which the comparison holds, with the vector's value.  `h` keeps the
 * samples rate()/increase() need between calls (may be NULL without
 * them).  Returns 0 or DESKDB_ENOMEM.
 */
int alert_expr_eval(const struct alert_expr *e,
                    const struct metrics_snapshot *snap,
                    struct expr_history *h,
                    int64_t now_ns,
                    struct expr_result *out) DESKDB_MUSTCHECK;

/* ---- history for rate() and increase() --------------------------------- */

struct expr_history *expr_history_create(int64_t range_ms);
void expr_history_destroy(struct expr_history *h);

/*
 * Record a counter reading of the series `key` (its labels, serialized)
 * at `now_ns`; a reading lower than the previous one is a counter reset.
 * Returns false when the series cap is reached.  On success, sets
 * `*increase` and `*span_ns` to the growth over the range and the time
 * it covers (span 0 with fewer than two readings in the range).
 */
bool expr_history_observe(struct expr_history *h,
                          const char *key,
                          double value,
                          int64_t now_ns,
                          double *increase,
                          int64_t *span_ns);

/* Forget series with no reading inside the range. */
void expr_history_gc(struct expr_history *h, int64_t now_ns);

size_t expr_history_series(const struct expr_history *h);

#endif

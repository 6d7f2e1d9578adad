/* SPDX-License-Identifier: MIT */
/* The exposition writer: Prometheus text 0.0.4 and OpenMetrics 1.0.0
 * bodies from a metrics snapshot, content negotiation and gzip. */
#ifndef DESKDB_EXPORTER_EXPO_H
#define DESKDB_EXPORTER_EXPO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/metrics.h"

enum expo_format { EXPO_FORMAT_TEXT, EXPO_FORMAT_OPENMETRICS };

/* A generous cap for one exposition body (uncompressed). */
#define EXPO_MAX_BODY (64u * 1024 * 1024)

/* Room for any number expo_format_number() writes, NUL included. */
#define EXPO_NUMBER_MAX 32

/*
 * Pick the format for an Accept header (NULL or empty: none sent).
 * Media ranges are weighed by q-value, ties going to the earlier one.
 * application/openmetrics-text (version 1.0.0, 0.0.1 or none) selects
 * OpenMetrics; text/plain (version 0.0.4, 1.0.0 or none) and the wildcard
 * ranges select text 0.0.4, as does a header naming nothing we support
 * (protobuf, for one).
 */
enum expo_format expo_negotiate(const char *accept_header);

/* The exact Content-Type of a body in `fmt`. */
const char *expo_content_type(enum expo_format fmt);

/*
 * Append the exposition of `snap` to `out`.  Families come out in the
 * snapshot's (sorted) order, one HELP and TYPE each, no timestamps;
 * OpenMetrics ends with "# EOF".  Returns 0, DESKDB_EBUSY when the body
 * would exceed out->cap or DESKDB_ENOMEM; on failure `out` holds a partial
 * body that must not be served.  Independent of the C locale.
 */
int expo_render(const struct metrics_snapshot *snap,
                enum expo_format fmt,
                struct buf *out) DESKDB_MUSTCHECK;

/*
 * Format `v` as the writers do: the shortest decimal that reads back as
 * the same double, integers (below 2^63) in plain digits, NaN, +Inf, -Inf,
 * and always '.' as the decimal point.  For OpenMetrics a value without
 * '.' or exponent gets ".0" (the canonical float form, "1.0").  Returns
 * the length written to `out`.
 */
size_t
expo_format_number(double v, enum expo_format fmt, char out[EXPO_NUMBER_MAX]);

/* True if an Accept-Encoding header allows gzip (gzip, x-gzip or *, with
 * a non-zero q-value); false for NULL. */
bool expo_gzip_accepted(const char *accept_encoding);

/*
 * Compress `in` as one gzip member into `out` (appended, bounded by
 * out->cap).  Returns 0, DESKDB_EBUSY when the result would not fit, or
 * DESKDB_ENOMEM.
 */
int expo_gzip(const struct buf *in, struct buf *out) DESKDB_MUSTCHECK;

#endif

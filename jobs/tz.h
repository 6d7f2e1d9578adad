/* SPDX-License-Identifier: MIT */
/* IANA time zones loaded from TZif files, without the process-global TZ. */
#ifndef DESKDB_JOBS_TZ_H
#define DESKDB_JOBS_TZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "jobs/civil.h"

/*
 * A time zone is immutable once loaded: every function here is pure and
 * thread-safe, and none of them touches TZ, tzset() or localtime(), so any
 * number of zones can be used from any number of threads at once.
 *
 * Instants are int64 seconds since 1970-01-01T00:00:00Z without leap
 * seconds (POSIX time).  "Local seconds" are a wall time read as if it were
 * UTC (civil_to_seconds() of the local date and time).
 *
 * Data comes from TZif files (RFC 9636, versions 1-4): the 64-bit block of
 * version 2+ files and, for instants after the last transition, the POSIX
 * TZ string in the footer, including the RFC 9636 extensions (rule times
 * from -167 to 167 hours, e.g. "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1").
 * Before the first transition the zone uses its first time type.  Files
 * with leap-second records ("right/" zones) are refused: deskdb counts POSIX
 * seconds, so their offsets would be wrong.  So are offsets of 26 hours or
 * more and designations longer than TZ_ABBR_MAX bytes.
 */
struct tz;

/* Names are at most this long (bytes) and files at most this large. */
#define TZ_NAME_MAX   255
#define TZ_FILE_MAX   (256 * 1024)
#define TZ_ABBR_MAX   16
#define TZ_FORMAT_MAX 64
/* UTC offsets are limited to what RFC 9636 allows a reader to expect. */
#define TZ_OFFSET_MAX    (26 * 3600)
#define TZ_DEFAULT_TZDIR "/usr/share/zoneinfo"

/*
 * Load zone `name` (e.g. "America/New_York") from $TZDIR, or from
 * /usr/share/zoneinfo when TZDIR is unset or empty.  The name must be 1-255
 * bytes of [A-Za-z0-9_+-/], relative, without empty components; the file
 * must be a regular file of at most TZ_FILE_MAX bytes.  "UTC" and "Etc/UTC"
 * are built in and need no file.  Blocks on file I/O; reads TZDIR with
 * getenv(), so nothing may setenv() concurrently.
 *
 * Returns a zone the caller owns (tz_destroy()), or NULL with `err` set:
 * DESKDB_EINVAL for a bad name or malformed data, DESKDB_ENOTFOUND when no
 * such zone exists, DESKDB_EIO when the file cannot be read, DESKDB_ENOMEM.
 */
struct tz *tz_load(const char *name, struct deskdb_err *err) DESKDB_MUSTCHECK;

/* As tz_load(), from directory `dir` instead of $TZDIR. */
struct tz *tz_load_dir(const char *dir,
                       const char *name,
                       struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Parse TZif data held in memory; `name` (not NULL) is only recorded for
 * tz_name() and messages.
 * Never reads past data[len - 1]; any structural error gives NULL and
 * DESKDB_EINVAL with a one-line reason.
 */
struct tz *tz_parse(const char *name,
                    const void *data,
                    size_t len,
                    struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Free a zone from tz_load*() or tz_parse(); NULL and tz_utc() are no-ops. */
void tz_destroy(struct tz *tz);

/* The built-in UTC zone: static, never destroyed, usable anywhere. */
const struct tz *tz_utc(void);

/* Whether `name` is an acceptable zone name (see tz_load()); on failure
 * `err` says why. */
int tz_validate_name(const char *name, struct deskdb_err *err) DESKDB_MUSTCHECK;

/* The name the zone was loaded under (borrowed from the zone). */
const char *tz_name(const struct tz *tz);

/* What holds at one instant.  `abbr` is borrowed from the zone. */
struct tz_info {
    int32_t utoff; /* seconds east of UTC */
    bool isdst;
    const char *abbr;        /* "EST", "+0545", ... */
    int64_t next_transition; /* first change after the instant, or INT64_MAX */
};

void tz_lookup(const struct tz *tz, int64_t utc, struct tz_info *info);

/* The UTC offset in seconds (east positive) at instant `utc`. */
int tz_offset_at(const struct tz *tz, int64_t utc);

/* The abbreviation in use at `utc`, borrowed from the zone. */
const char *tz_abbr_at(const struct tz *tz, int64_t utc);

/* The local wall time at instant `utc`. */
void tz_civil_at(const struct tz *tz, int64_t utc, struct civil_time *local);

/*
 * The UTC instants at which the wall clock shows `local`, earliest first:
 *   *n == 1: the usual case;
 *   *n == 2: a fall-back fold (the earlier and the later occurrence);
 *   *n == 0: a spring-forward gap; then *gap_end (if not NULL) is the
 *            first instant whose wall time is later than `local` -- the
 *            transition that skipped it (03:00 EDT for 02:30 in New York
 *            on 2025-03-09).
 * Should a zone ever show one wall time more than twice, the earliest and
 * the latest are returned.  Returns 0, or DESKDB_EINVAL when `local` is not
 * a valid date and time (civil_is_valid()).
 */
int tz_local_to_utc(const struct tz *tz,
                    const struct civil_time *local,
                    int64_t candidates[2],
                    int *n,
                    int64_t *gap_end) DESKDB_MUSTCHECK;

/*
 * The first instant at which the wall clock shows `local_seconds` or a later
 * wall time: the first occurrence of that wall time, or, when it falls in
 * a gap, the instant the gap ends.  Non-decreasing in `local_seconds`; this
 * is what a job at a fixed wall time means under deskdb's DST policy.
 */
int64_t tz_utc_at_or_after_local(const struct tz *tz, int64_t local_seconds);

/*
 * The latest wall time (as local seconds) that the clock has shown at or
 * before instant `utc`.  Equals utc + offset except during the hour (or
 * so) after a fall-back, when it is the wall time just before the clock
 * went back.
 */
int64_t tz_local_high_water(const struct tz *tz, int64_t utc);

/*
 * Format `utc` as local time: "2025-03-09 03:00:00 EDT (-04:00)"; offsets
 * with seconds print them ("-04:56:02").  Returns 0, or DESKDB_EINVAL when
 * `buf` (TZ_FORMAT_MAX is always enough) is too small.
 */
int tz_format(const struct tz *tz, int64_t utc, char *buf, size_t n)
    DESKDB_MUSTCHECK;

#endif

/* SPDX-License-Identifier: MIT */
/* Cron expressions: parsing, validation and the next fire time in a zone. */
#ifndef DESKDB_JOBS_CRON_H
#define DESKDB_JOBS_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "jobs/tz.h"

/*
 * Syntax (Vixie cron, five fields):
 *
 *   minute hour day-of-month month day-of-week
 *
 * Fields are separated by spaces or tabs; leading and trailing blanks are
 * ignored.  Each field is a comma-separated list of elements:
 *   *        every value            a      one value
 *   a-b      a to b inclusive       *\/n   every n-th value from the start
 *   a-b/n    every n-th value from a to b
 * Ranges must not be reversed: "22-1" in the hour field is an error; write
 * "22-23,0-1".
 * A step needs a range or "*" ("5/15" is rejected, as Vixie cron does); it
 * must be 1 to the size of the field (60, 24, 31, 12, 7).
 *   minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or jan-dec,
 *   day-of-week 0-7 or sun-sat (0 and 7 are both Sunday).
 * Names are three letters, any case, and may be range ends (mon-fri) but
 * not steps.  (In these comments "*\/" stands for "*" followed by "/".)
 *
 * Last day of the month: "L" (or pg_cron's "$") as the whole day-of-month
 * field means the last day of each month (28, 29, 30 or 31).  It cannot be
 * combined with other values, ranges or steps ("L,15", "L-2", "15L" are
 * errors): write two jobs instead.
 *
 * Macros (any case): @yearly and @annually = "0 0 1 1 *", @monthly =
 * "0 0 1 * *", @weekly = "0 0 * * 0", @daily and @midnight = "0 0 * * *",
 * @hourly = "0 * * * *".  "@every DURATION" fires at a fixed rate: the
 * duration is one or more of <n>d <n>h <n>m <n>s, largest unit first, each
 * unit at most once ("90s", "5m", "1h30m"), between 1 s and 366 d.
 * "@reboot" is rejected: deskdb has no process-start jobs, and such a job
 * would run again on every restart, leader change or reload, which is never
 * what a database maintenance job wants.
 *
 * Expressions that can never fire are rejected at parse time: when the
 * day-of-week field does not decide (see below), some selected month must
 * have some selected day in a leap year ("0 0 30 2 *" and "0 0 31 4 *" are
 * errors, "0 0 29 2 *" is valid and fires in leap years only).
 *
 * Day-of-month and day-of-week (Vixie semantics): when both fields are
 * restricted a day matches if EITHER matches ("0 0 1 * 1" is the 1st of
 * the month and every Monday; "0 0 L * 5" is the last day and every
 * Friday).  When either field is a "star" field, a day must match both,
 * which means the other field decides.  A field counts as a star field
 * when its text begins with "*" -- so, as in Vixie cron,
 * "0 0 1-7 * *\/2" (a day-of-week of "*\/2") means days 1-7 that are also
 * Sun/Tue/Thu/Sat, not "days 1-7 or those weekdays".
 *
 * Errors are one line naming the 1-based column in the expression:
 *   "cron: column 3: hour 24 out of range 0-23"
 * cron_parse() also returns that column, so a caller that knows where the
 * expression starts in a file reports file:line:(value_column + column - 1).
 *
 * DST and time zones (the "vixie" policy; normative):
 *
 *   Calendar expressions are evaluated on the wall clock of the given zone,
 *   at second 0 of each matching wall-clock minute.
 *   An expression is a FIXED-TIME job when neither its minute field nor
 *   its hour field is a star field (e.g. "30 2 * * *", "0 0 * * *",
 *   "15 9-17 * * 1-5", @daily); otherwise (e.g. "*\/10 * * * *",
 *   "0 * * * *", @hourly) it is a WILDCARD job.
 *
 *   A fixed-time job fires, for each matching wall time W, at the first
 *   instant at which the wall clock shows W or later
 *   (tz_utc_at_or_after_local()).  Hence:
 *     - W in a spring-forward gap: fires once, when the gap ends
 *       ("30 2 * * *" in New York on 2025-03-09 fires at 03:00 EDT,
 *       07:00 UTC); several W in the same gap give one run;
 *     - W in a fall-back fold: fires once, at the first occurrence
 *       ("30 1 * * *" on 2025-11-02 fires at 01:30 EDT only).
 *
 *   A wildcard job fires at every instant whose wall time matches, on real
 *   time: both passes of a fold ("*\/10 * * * *" fires at 01:00 ... 01:50
 *   EDT and again at 01:00 ... 01:50 EST), and nothing for wall times
 *   skipped by a gap -- no catch-up burst ("0 * * * *" fires at 01:00 EST
 *   and then 03:00 EDT on spring-forward day).
 *
 *   "@every" ignores the zone and the wall clock: it fires at the instants
 *   that are multiples of the interval since 1970-01-01T00:00:00Z, so a
 *   restart, a leader change or DST never shift its cadence ("@every 1h"
 *   fires on every UTC hour, exactly 3600 s apart; "@every 7m" fires every
 *   420 s, which is not at :00 of every hour).  Passing the previous fire
 *   time as `after` gives previous + interval.
 */

enum cron_kind {
    CRON_KIND_CALENDAR, /* five fields or a calendar macro */
    CRON_KIND_EVERY,    /* @every DURATION */
};

/* A parsed expression: plain data, copyable, never freed. */
struct cron_expr {
    enum cron_kind kind;
    uint64_t minute; /* bit m: minute m, 0-59 */
    uint32_t hour;   /* bit h: hour h, 0-23 */
    uint32_t dom;    /* bit d: day d, 1-31 */
    uint16_t month;  /* bit m: month m, 1-12 */
    uint8_t dow;     /* bit d: weekday d, 0 = Sunday ... 6 */
    bool dom_last;   /* "L": the last day of the month (dom is then 0) */
    bool minute_star, hour_star, dom_star, dow_star; /* text began with * */
    int64_t every_s; /* CRON_KIND_EVERY: interval in seconds */
};

/* Bounds of @every. */
#define CRON_EVERY_MIN_S 1
#define CRON_EVERY_MAX_S (366 * INT64_C(86400))
/* cron_next() looks this far ahead (8 * 366 days) before saying "never". */
#define CRON_SEARCH_YEARS 8
/* Instants cron_next() accepts: 0001-01-01T00:00:00Z to
 * 9999-12-31T23:59:59Z. */
#define CRON_TIME_MIN INT64_C(-62135596800)
#define CRON_TIME_MAX INT64_C(253402300799)

/*
 * Parse `text` into `expr`.  Returns 0, or DESKDB_EINVAL with `err` set to a
 * one-line message and *column (if not NULL) set to the 1-based byte column
 * of the problem in `text` (one past the end for "missing field" errors);
 * *expr is then unspecified.  Pure and thread-safe.
 */
int cron_parse(const char *text,
               struct cron_expr *expr,
               int *column,
               struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Whether `expr` is a fixed-time job under the DST policy above. */
bool cron_is_fixed_time(const struct cron_expr *expr);

/*
 * The first fire time strictly after `after_utc` (seconds since the epoch),
 * evaluated in zone `tz` (NULL means UTC; ignored for @every).  Pure and
 * thread-safe.  Returns 0 with *next_utc set; DESKDB_ENOTFOUND when the
 * expression does not fire within CRON_SEARCH_YEARS years (e.g. "0 0 29 2
 * *\/7" most years -- Feb 29 on a Sunday) or not before CRON_TIME_MAX;
 * DESKDB_EINVAL when `after_utc` is outside CRON_TIME_MIN..CRON_TIME_MAX.
 * On failure *next_utc is not changed.
 * The search skips non-matching months, days and hours, so it costs a few
 * thousand steps at most.
 */
int cron_next(const struct cron_expr *expr,
              const struct tz *tz,
              int64_t after_utc,
              int64_t *next_utc) DESKDB_MUSTCHECK;

#endif

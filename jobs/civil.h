/* SPDX-License-Identifier: MIT */
/* Proleptic Gregorian calendar arithmetic on int64 days and seconds. */
#ifndef DESKDB_JOBS_CIVIL_H
#define DESKDB_JOBS_CIVIL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * A wall-clock date and time without a zone.  The calendar is the proleptic
 * Gregorian one (year 0 exists and is 1 BC); no leap seconds, so second is
 * 0-59.  These helpers are pure, thread-safe, and never consult the process
 * time zone, timegm() or gmtime(): the algorithms are Howard Hinnant's
 * "chrono-compatible low-level date algorithms" (public domain).
 */
struct civil_time {
    int64_t year;
    int month;  /* 1-12 */
    int day;    /* 1-31 */
    int hour;   /* 0-23 */
    int minute; /* 0-59 */
    int second; /* 0-59 */
};

/* Years accepted by civil_is_valid() and civil_to_seconds(). */
#define CIVIL_YEAR_MIN (-1000000)
#define CIVIL_YEAR_MAX 1000000

#define CIVIL_SECS_PER_DAY INT64_C(86400)

bool civil_is_leap_year(int64_t year);

/* 28-31; 0 if month is not 1-12. */
int civil_days_in_month(int64_t year, int month);

/* Days since 1970-01-01 of a valid date (month 1-12, day 1-31, |year| small
 * enough, see CIVIL_YEAR_MAX). */
int64_t civil_days_from_date(int64_t year, int month, int day);

/* The date of a day count; total over all int64 inputs. */
void civil_date_from_days(int64_t days, int64_t *year, int *month, int *day);

/* Day of the week of a day count, 0 = Sunday ... 6 = Saturday. */
int civil_weekday(int64_t days);

/* Whether every field is in range (including day <= days in that month). */
bool civil_is_valid(const struct civil_time *c);

/* Seconds since 1970-01-01 00:00:00 of the wall time read as if it were
 * UTC ("local seconds" when the wall time is local).  `c` must be valid. */
int64_t civil_to_seconds(const struct civil_time *c);

/* The inverse of civil_to_seconds(); total over all int64 inputs. */
void civil_from_seconds(int64_t seconds, struct civil_time *c);

/* floor(a / b) for b > 0, correct for negative a. */
int64_t civil_floor_div(int64_t a, int64_t b);

#endif

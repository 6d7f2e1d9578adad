/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cron, time-zone and scheduler unit tests. */
#ifndef DESKDB_TESTS_CRONTEST_H
#define DESKDB_TESTS_CRONTEST_H

#include <stdint.h>

#include "jobs/cron.h"
#include "jobs/tz.h"

/* The zone `name` from the system's tzdata; fails the test if missing. */
struct tz *crontest_zone(const char *name);

/* "YYYY-MM-DD HH:MM:SS" read as UTC, in seconds since the epoch; fails
 * the test on a malformed or impossible date. */
int64_t crontest_utc(const char *text);

/* The same from numbers (seconds 0). */
int64_t crontest_utc_of(int64_t year, int month, int day, int hour, int min);

/* A cron expression that must parse; fails the test otherwise. */
struct cron_expr crontest_parse_ok(const char *text);

#endif

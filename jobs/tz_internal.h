/* SPDX-License-Identifier: MIT */
/* The layout of a loaded time zone, shared by the tz_*.c files only. */
#ifndef DESKDB_JOBS_TZ_INTERNAL_H
#define DESKDB_JOBS_TZ_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobs/tz.h"

/* Instants beyond +-2^50 s (35 million years) are treated as the limit, so
 * that calendar arithmetic on them cannot overflow. */
#define TZ_TIME_LIMIT (INT64_C(1) << 50)

/* A local time type: one row of the TZif ttinfo table. */
struct tz_type {
    int32_t utoff;
    bool isdst;
    char abbr[TZ_ABBR_MAX + 1];
};

enum tz_date_kind {
    TZ_DATE_JULIAN1, /* Jn: 1-365, February 29 never counted */
    TZ_DATE_JULIAN0, /* n: 0-365, February 29 counted in leap years */
    TZ_DATE_MWD,     /* Mm.w.d: day d of week w (5 = last) of month m */
};

/* One end of daylight saving time in a POSIX TZ rule. */
struct tz_date {
    enum tz_date_kind kind;
    int day;      /* Jn / n: the day; Mm.w.d: d, 0 = Sunday */
    int week;     /* 1-5 */
    int month;    /* 1-12 */
    int32_t time; /* local seconds after midnight, -167 h to 167 h */
};

/* A POSIX TZ string such as "EST5EDT,M3.2.0,M11.1.0". */
struct tz_rule {
    struct tz_type std;
    struct tz_type dst;
    bool has_dst;
    struct tz_date start; /* std -> dst, in standard local time */
    struct tz_date end;   /* dst -> std, in daylight local time */
};

struct tz {
    char name[TZ_NAME_MAX + 1];
    size_t ntrans;
    int64_t *trans;      /* strictly ascending transition instants */
    uint8_t *trans_type; /* index into types, per transition */
    size_t ntypes;
    struct tz_type *types;
    bool has_rule; /* footer rule applies after the last transition */
    struct tz_rule rule;
};

/* A stretch [start, end) of constant type; start may be INT64_MIN and end
 * INT64_MAX.  Adjacent spans may have equal types. */
struct tz_span {
    int64_t start;
    int64_t end;
    const struct tz_type *type;
};

/*
 * Parse a POSIX TZ string of `len` bytes into `rule`.  Returns 0, or -1
 * with *why set to a static reason.
 */
int tz_rule_parse(const char *s,
                  size_t len,
                  struct tz_rule *rule,
                  const char **why);

/* The span of the rule that contains `u` (|u| <= TZ_TIME_LIMIT). */
void tz_rule_span(const struct tz_rule *rule, int64_t u, struct tz_span *span);

/* The span of the zone that contains `u`, any int64. */
void tz_span_at(const struct tz *tz, int64_t u, struct tz_span *span);

#endif

/* SPDX-License-Identifier: MIT */
/* Questions to a loaded zone: offsets, wall times and their instants. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "jobs/tz_internal.h"

/* How many spans tz_lookup() looks ahead for a real change of type. */
#define LOOKAHEAD_SPANS 64

static int64_t
clamp_time(int64_t u)
{
    if (u > TZ_TIME_LIMIT)
        return TZ_TIME_LIMIT;
    if (u < -TZ_TIME_LIMIT)
        return -TZ_TIME_LIMIT;
    return u;
}

/* The index of the last transition at or before u; u >= trans[0]. */
static size_t
find_transition(const struct tz *tz, int64_t u)
{
    size_t lo = 0;
    size_t hi = tz->ntrans;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (tz->trans[mid] <= u)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

static void
span_in_range(const struct tz *tz, int64_t u, struct tz_span *span)
{
    size_t i;
    int64_t last;

    if (tz->ntrans == 0 || u < tz->trans[0]) {
        /* Before the first transition the first type applies (RFC 9636). */
        if (tz->ntrans == 0 && tz->has_rule) {
            tz_rule_span(&tz->rule, u, span);
            return;
        }
        span->start = INT64_MIN;
        span->end = tz->ntrans == 0 ? INT64_MAX : tz->trans[0];
        span->type = &tz->types[0];
        return;
    }
    i = find_transition(tz, u);
    last = tz->trans[tz->ntrans - 1];
    if (i == tz->ntrans - 1 && tz->has_rule) {
        tz_rule_span(&tz->rule, u, span);
        if (span->start < last)
            span->start = last;
        return;
    }
    span->start = tz->trans[i];
    span->end = i + 1 < tz->ntrans ? tz->trans[i + 1] : INT64_MAX;
    span->type = &tz->types[tz->trans_type[i]];
}

void
tz_span_at(const struct tz *tz, int64_t u, struct tz_span *span)
{
    span_in_range(tz, clamp_time(u), span);
    /* Beyond the limit the zone is frozen in the type at the limit. */
    if (u >= TZ_TIME_LIMIT)
        span->end = INT64_MAX;
    if (u <= -TZ_TIME_LIMIT)
        span->start = INT64_MIN;
}

static bool
same_type(const struct tz_type *a, const struct tz_type *b)
{
    return a->utoff == b->utoff && a->isdst == b->isdst &&
           strcmp(a->abbr, b->abbr) == 0;
}

void
tz_lookup(const struct tz *tz, int64_t utc, struct tz_info *info)
{
    struct tz_span s;
    struct tz_span next;

    tz_span_at(tz, utc, &s);
    info->utoff = s.type->utoff;
    info->isdst = s.type->isdst;
    info->abbr = s.type->abbr;
    info->next_transition = INT64_MAX;
    /* Skip boundaries where nothing changes (e.g. permanent DST rules). */
    for (int i = 0; i < LOOKAHEAD_SPANS && s.end != INT64_MAX; i++) {
        tz_span_at(tz, s.end, &next);
        if (!same_type(next.type, s.type)) {
            info->next_transition = s.end;
            return;
        }
        s.end = next.end;
    }
}

int
tz_offset_at(const struct tz *tz, int64_t utc)
{
    struct tz_span s;

    tz_span_at(tz, utc, &s);
    return s.type->utoff;
}

const char *
tz_abbr_at(const struct tz *tz, int64_t utc)
{
    struct tz_span s;

    tz_span_at(tz, utc, &s);
    return s.type->abbr;
}

void
tz_civil_at(const struct tz *tz, int64_t utc, struct civil_time *local)
{
    int64_t u = clamp_time(utc);

    civil_from_seconds(u + tz_offset_at(tz, u), local);
}

int64_t
tz_utc_at_or_after_local(const struct tz *tz, int64_t local_seconds)
{
    int64_t l = clamp_time(local_seconds);
    /* Offsets are below TZ_OFFSET_MAX, so the wall clock shows less than l
     * at this instant; walk spans until one reaches l. */
    int64_t u = l - TZ_OFFSET_MAX;
    struct tz_span s;

    for (;;) {
        tz_span_at(tz, u, &s);
        if (s.end == INT64_MAX || s.end - 1 + s.type->utoff >= l)
            break;
        u = s.end;
    }
    return l - s.type->utoff > u ? l - s.type->utoff : u;
}

int64_t
tz_local_high_water(const struct tz *tz, int64_t utc)
{
    int64_t t = clamp_time(utc);
    /* A wall time shown more than 2 * TZ_OFFSET_MAX ago is below the one
     * shown now, so older spans cannot raise the maximum. */
    int64_t u = t - 2 * TZ_OFFSET_MAX;
    int64_t high = INT64_MIN;
    struct tz_span s;

    for (;;) {
        int64_t last;

        tz_span_at(tz, u, &s);
        last = (s.end == INT64_MAX || s.end - 1 >= t) ? t : s.end - 1;
        if (last + s.type->utoff > high)
            high = last + s.type->utoff;
        if (last == t)
            return high;
        u = s.end;
    }
}

int
tz_local_to_utc(const struct tz *tz,
                const struct civil_time *local,
                int64_t candidates[2],
                int *n,
                int64_t *gap_end)
{
    int64_t l;
    int64_t u;
    struct tz_span s;

    *n = 0;
    if (!civil_is_valid(local))
        return DESKDB_EINVAL;
    l = civil_to_seconds(local);
    /* Every instant showing l lies within TZ_OFFSET_MAX of l. */
    for (u = l - TZ_OFFSET_MAX; u <= l + TZ_OFFSET_MAX; u = s.end) {
        int64_t c;

        tz_span_at(tz, u, &s);
        c = l - s.type->utoff;
        if (c >= s.start && c < s.end)
            candidates[*n < 2 ? (*n)++ : 1] = c;
        if (s.end == INT64_MAX)
            break;
    }
    if (*n == 0 && gap_end != NULL)
        *gap_end = tz_utc_at_or_after_local(tz, l);
    return DESKDB_OK;
}

int
tz_format(const struct tz *tz, int64_t utc, char *buf, size_t n)
{
    struct civil_time c;
    int64_t u = clamp_time(utc);
    int off = tz_offset_at(tz, u);
    int a = off < 0 ? -off : off;
    char offs[16];
    int len;

    civil_from_seconds(u + off, &c);
    if (a % 60 != 0)
        snprintf(offs,
                 sizeof(offs),
                 "%c%02d:%02d:%02d",
                 off < 0 ? '-' : '+',
                 a / 3600,
                 a / 60 % 60,
                 a % 60);
    else
        snprintf(offs,
                 sizeof(offs),
                 "%c%02d:%02d",
                 off < 0 ? '-' : '+',
                 a / 3600,
                 a / 60 % 60);
    len = snprintf(buf,
                   n,
                   "%04" PRId64 "-%02d-%02d %02d:%02d:%02d %s (%s)",
                   c.year,
                   c.month,
                   c.day,
                   c.hour,
                   c.minute,
                   c.second,
                   tz_abbr_at(tz, u),
                   offs);
    if (len < 0 || (size_t)len >= n)
        return DESKDB_EINVAL;
    return DESKDB_OK;
}

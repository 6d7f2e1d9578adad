/* SPDX-License-Identifier: MIT */
/* POSIX TZ strings (the TZif footer): parsing and evaluation at an instant. */
#include <string.h>

#include "jobs/civil.h"
#include "jobs/tz_internal.h"

/* RFC 9636 lets rule times range over -167..167 hours; offsets 0..24. */
#define RULE_HOURS_MAX    167
#define OFFSET_HOURS_MAX  24
#define DEFAULT_RULE_TIME (2 * 3600)

struct cursor {
    const char *p;
    const char *end;
};

static bool
at_end(const struct cursor *c)
{
    return c->p >= c->end;
}

static int
peek(const struct cursor *c)
{
    return at_end(c) ? -1 : (unsigned char)*c->p;
}

static bool
is_alpha(int ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool
is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* An abbreviation: three or more letters, or <...> of letters, digits and
 * signs. */
static int
parse_abbr(struct cursor *c, char *out, const char **why)
{
    const char *start;
    size_t n;
    bool quoted = peek(c) == '<';

    if (quoted)
        c->p++;
    start = c->p;
    while (!at_end(c) && (is_alpha(peek(c)) ||
                          (quoted && (is_digit(peek(c)) || peek(c) == '+' ||
                                      peek(c) == '-'))))
        c->p++;
    n = (size_t)(c->p - start);
    if (quoted) {
        if (peek(c) != '>') {
            *why = "unterminated <abbreviation>";
            return -1;
        }
        c->p++;
    }
    if (n < 3 || n > TZ_ABBR_MAX) {
        *why = "abbreviation must have 3 to 16 characters";
        return -1;
    }
    memcpy(out, start, n);
    out[n] = '\0';
    return 0;
}

/* Up to three digits, at most `max`. */
static int
parse_number(struct cursor *c, int max, int *out)
{
    int v = 0;
    int digits = 0;

    while (is_digit(peek(c)) && digits < 3) {
        v = v * 10 + (peek(c) - '0');
        c->p++;
        digits++;
    }
    if (digits == 0 || is_digit(peek(c)) || v > max)
        return -1;
    *out = v;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh <= max_hours, in seconds. */
static int
parse_hms(struct cursor *c, int max_hours, int32_t *out)
{
    int sign = 1;
    int h;
    int m = 0;
    int s = 0;

    if (peek(c) == '+' || peek(c) == '-') {
        sign = peek(c) == '-' ? -1 : 1;
        c->p++;
    }
    if (parse_number(c, max_hours, &h) < 0)
        return -1;
    if (peek(c) == ':') {
        c->p++;
        if (parse_number(c, 59, &m) < 0)
            return -1;
        if (peek(c) == ':') {
            c->p++;
            if (parse_number(c, 59, &s) < 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    return 0;
}

static int
parse_date(struct cursor *c, struct tz_date *d, const char **why)
{
    *why = "bad rule date";
    if (peek(c) == 'J') {
        c->p++;
        d->kind = TZ_DATE_JULIAN1;
        if (parse_number(c, 365, &d->day) < 0 || d->day < 1)
            return -1;
    } else if (peek(c) == 'M') {
        c->p++;
        d->kind = TZ_DATE_MWD;
        if (parse_number(c, 12, &d->month) < 0 || d->month < 1 ||
            peek(c) != '.')
            return -1;
        c->p++;
        if (parse_number(c, 5, &d->week) < 0 || d->week < 1 || peek(c) != '.')
            return -1;
        c->p++;
        if (parse_number(c, 6, &d->day) < 0)
            return -1;
    } else {
        d->kind = TZ_DATE_JULIAN0;
        if (parse_number(c, 365, &d->day) < 0)
            return -1;
    }
    d->time = DEFAULT_RULE_TIME;
    if (peek(c) == '/') {
        c->p++;
        if (parse_hms(c, RULE_HOURS_MAX, &d->time) < 0) {
            *why = "bad rule time";
            return -1;
        }
    }
    return 0;
}

static int
parse_dst_part(struct cursor *c, struct tz_rule *rule, const char **why)
{
    int32_t off;

    if (parse_abbr(c, rule->dst.abbr, why) < 0)
        return -1;
    rule->has_dst = true;
    rule->dst.isdst = true;
    rule->dst.utoff = rule->std.utoff + 3600;
    if (peek(c) != ',') {
        if (parse_hms(c, OFFSET_HOURS_MAX, &off) < 0) {
            *why = "bad daylight offset";
            return -1;
        }
        rule->dst.utoff = -off;
    }
    if (peek(c) != ',') {
        *why = "daylight saving time without a rule";
        return -1;
    }
    c->p++;
    if (parse_date(c, &rule->start, why) < 0)
        return -1;
    if (peek(c) != ',') {
        *why = "rule needs a start and an end";
        return -1;
    }
    c->p++;
    return parse_date(c, &rule->end, why);
}

int
tz_rule_parse(const char *s, size_t len, struct tz_rule *rule, const char **why)
{
    struct cursor c = {s, s + len};
    int32_t off;

    memset(rule, 0, sizeof(*rule));
    if (parse_abbr(&c, rule->std.abbr, why) < 0)
        return -1;
    if (parse_hms(&c, OFFSET_HOURS_MAX, &off) < 0) {
        *why = "bad standard offset";
        return -1;
    }
    rule->std.utoff = -off;
    if (!at_end(&c) && parse_dst_part(&c, rule, why) < 0)
        return -1;
    if (!at_end(&c)) {
        *why = "trailing characters";
        return -1;
    }
    return 0;
}

/* The day count of a rule date in `year`. */
static int64_t
date_days(const struct tz_date *d, int64_t year)
{
    int64_t jan1 = civil_days_from_date(year, 1, 1);
    int64_t first;
    int dim;
    int day;

    switch (d->kind) {
    case TZ_DATE_JULIAN1:
        return jan1 + d->day - 1 +
               (civil_is_leap_year(year) && d->day >= 60 ? 1 : 0);
    case TZ_DATE_JULIAN0:
        return jan1 + d->day;
    case TZ_DATE_MWD:
        break;
    }
    first = civil_days_from_date(year, d->month, 1);
    day = 1 + (d->day - civil_weekday(first) + 7) % 7 + (d->week - 1) * 7;
    dim = civil_days_in_month(year, d->month);
    while (day > dim)
        day -= 7;
    return first + day - 1;
}

struct edge {
    int64_t at;
    bool to_dst;
};

/* Transitions of years y-2..y+2 in time order; equal instants keep the
 * order of generation, so the later one (next year's start) wins. */
static size_t
rule_edges(const struct tz_rule *r, int64_t year, struct edge *e)
{
    size_t n = 0;

    for (int64_t y = year - 2; y <= year + 2; y++) {
        e[n].at = date_days(&r->start, y) * CIVIL_SECS_PER_DAY + r->start.time -
                  r->std.utoff;
        e[n++].to_dst = true;
        e[n].at = date_days(&r->end, y) * CIVIL_SECS_PER_DAY + r->end.time -
                  r->dst.utoff;
        e[n++].to_dst = false;
    }
    for (size_t i = 1; i < n; i++) {
        struct edge x = e[i];
        size_t j = i;

        while (j > 0 && e[j - 1].at > x.at) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = x;
    }
    return n;
}

/* Drop edges overridden at the same instant and edges that change nothing. */
static size_t
collapse_edges(struct edge *e, size_t n)
{
    size_t out = 0;

    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n && e[i + 1].at == e[i].at)
            continue;
        if (out > 0 && e[out - 1].to_dst == e[i].to_dst)
            continue;
        e[out++] = e[i];
    }
    return out;
}

void
tz_rule_span(const struct tz_rule *rule, int64_t u, struct tz_span *span)
{
    struct edge e[10];
    struct civil_time c;
    size_t n;
    size_t i;

    if (!rule->has_dst) {
        span->start = INT64_MIN;
        span->end = INT64_MAX;
        span->type = &rule->std;
        return;
    }
    civil_from_seconds(u + rule->std.utoff, &c);
    n = collapse_edges(e, rule_edges(rule, c.year, e));
    /* Years y-2 and y+2 bracket u, so some edge is <= u and some is > u;
     * the guards only keep a corrupt rule from indexing out of range. */
    for (i = 0; i + 1 < n && e[i + 1].at <= u; i++)
        ;
    span->start = e[i].at;
    span->end = i + 1 < n ? e[i + 1].at : INT64_MAX;
    span->type = e[i].to_dst ? &rule->dst : &rule->std;
}

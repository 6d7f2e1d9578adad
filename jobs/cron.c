/* SPDX-License-Identifier: MIT */
/* Parsing and validating cron expressions into struct cron_expr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jobs/civil.h"
#include "jobs/cron.h"

enum field_id { F_MINUTE, F_HOUR, F_DOM, F_MONTH, F_DOW, F_COUNT };

struct field_spec {
    const char *name;
    int min;
    int max;  /* largest value accepted (7 for day-of-week) */
    int last; /* largest value "*" covers */
    const char *const *names;
    int first_name; /* value of names[0] */
};

static const char *const month_names[] = {"jan",
                                          "feb",
                                          "mar",
                                          "apr",
                                          "may",
                                          "jun",
                                          "jul",
                                          "aug",
                                          "sep",
                                          "oct",
                                          "nov",
                                          "dec",
                                          NULL};
static const char *const dow_names[] =
    {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct field_spec specs[F_COUNT] = {
    {"minute", 0, 59, 59, NULL, 0},
    {"hour", 0, 23, 23, NULL, 0},
    {"day-of-month", 1, 31, 31, NULL, 0},
    {"month", 1, 12, 12, month_names, 1},
    {"day-of-week", 0, 7, 6, dow_names, 0},
};

struct macro {
    const char *name;
    const char *expansion;
};

static const struct macro macros[] = {
    {"yearly", "0 0 1 1 *"},
    {"annually", "0 0 1 1 *"},
    {"monthly", "0 0 1 * *"},
    {"weekly", "0 0 * * 0"},
    {"daily", "0 0 * * *"},
    {"midnight", "0 0 * * *"},
    {"hourly", "0 * * * *"},
};

struct parser {
    const char *text;
    int *column;
    struct deskdb_err *err;
};

/* Report a problem at `at` (a position in ps->text). */
DESKDB_PRINTF(3, 4)
static int
fail(struct parser *ps, const char *at, const char *fmt, ...)
{
    char reason[400];
    int column = (int)(at - ps->text) + 1;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (ps->column != NULL)
        *ps->column = column;
    err_set(ps->err, DESKDB_EINVAL, "cron: column %d: %s", column, reason);
    /* quoted text may hold line breaks */
    return err_one_line(ps->err);
}

static bool
is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

static bool
is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool
is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static const char *
skip_blanks(const char *p)
{
    while (is_blank(*p))
        p++;
    return p;
}

/* The character at p, printable, for messages. */
static char
shown(char ch)
{
    return (ch > 0x20 && ch < 0x7f) ? ch : '?';
}

/* Digits as an int, saturating at 100000 so that overflow reads as "out of
 * range" rather than wrapping. */
static int
read_number(const char **pp, const char *end)
{
    const char *p = *pp;
    int v = 0;

    while (p < end && is_digit(*p)) {
        if (v < 100000)
            v = v * 10 + (*p - '0');
        p++;
    }
    *pp = p;
    return v;
}

static int
read_name(struct parser *ps,
          const struct field_spec *f,
          const char **pp,
          const char *end,
          int *out)
{
    const char *start = *pp;
    const char *p = start;

    while (p < end && is_alpha(*p))
        p++;
    *pp = p;
    if (f->names != NULL && p - start == 3) {
        for (int i = 0; f->names[i] != NULL; i++) {
            if (strncasecmp(start, f->names[i], 3) == 0) {
                *out = f->first_name + i;
                return 0;
            }
        }
    }
    if (f->names == NULL)
        return fail(ps,
                    start,
                    "%s field takes numbers, not names like '%.*s'",
                    f->name,
                    (int)(p - start > 20 ? 20 : p - start),
                    start);
    return fail(ps,
                start,
                "unknown %s name '%.*s' (use %s-%s)",
                f->name,
                (int)(p - start > 20 ? 20 : p - start),
                start,
                f->names[0],
                f == &specs[F_MONTH] ? "dec" : "sat");
}

static int
read_value(struct parser *ps,
           const struct field_spec *f,
           const char **pp,
           const char *end,
           int *out)
{
    const char *start = *pp;

    if (start < end && is_alpha(*start))
        return read_name(ps, f, pp, end, out);
    if (start >= end || !is_digit(*start))
        return fail(ps,
                    start,
                    start >= end ? "%s field: expected a value"
                                 : "%s field: expected a number, found '%c'",
                    f->name,
                    shown(*start));
    *out = read_number(pp, end);
    if (*out < f->min || *out > f->max)
        return fail(ps,
                    start,
                    "%s %.*s out of range %d-%d",
                    f->name,
                    (int)(*pp - start > 20 ? 20 : *pp - start),
                    start,
                    f->min,
                    f->max);
    return 0;
}

static void
set_bits(uint64_t *bits, enum field_id id, int lo, int hi, int step)
{
    for (int v = lo; v <= hi; v += step)
        *bits |= UINT64_C(1) << (id == F_DOW && v == 7 ? 0 : v);
}

/* "/n" after "*" or a range a-b (range); a single value takes no step. */
static int
parse_step(struct parser *ps,
           const struct field_spec *f,
           bool range,
           int lo,
           const char **pp,
           const char *end,
           int *step)
{
    const char *at = *pp;
    int size = f->last - f->min + 1;

    if (!range)
        return fail(ps,
                    at,
                    "%s step needs a range or '*' (write %d-%d/n or */n)",
                    f->name,
                    lo,
                    f->last);
    (*pp)++;
    if (*pp >= end || !is_digit(**pp))
        return fail(ps, *pp, "%s step: expected a number", f->name);
    *step = read_number(pp, end);
    if (*step < 1 || *step > size)
        return fail(ps,
                    at + 1,
                    "%s step %.*s out of range 1-%d",
                    f->name,
                    (int)(*pp - at - 1 > 20 ? 20 : *pp - at - 1),
                    at + 1,
                    size);
    return 0;
}

/* One list element: "*", "a", "a-b", each optionally followed by "/n". */
static int
parse_element(struct parser *ps,
              enum field_id id,
              const char **pp,
              const char *end,
              uint64_t *bits)
{
    const struct field_spec *f = &specs[id];
    const char *start = *pp;
    bool range = true;
    int lo = f->min;
    int hi = f->last;
    int step = 1;

    if (*start == '*') {
        (*pp)++;
    } else {
        if (read_value(ps, f, pp, end, &lo) < 0)
            return DESKDB_EINVAL;
        hi = lo;
        range = *pp < end && **pp == '-';
        if (range) {
            (*pp)++;
            if (read_value(ps, f, pp, end, &hi) < 0)
                return DESKDB_EINVAL;
            if (hi < lo)
                return fail(ps,
                            start,
                            "%s range %d-%d is reversed%s",
                            f->name,
                            lo,
                            hi,
                            id == F_DOW && hi == 0
                                ? " (Sunday is also 7: write it last as 7)"
                                : "");
        }
    }
    if (*pp < end && **pp == '/' &&
        parse_step(ps, f, range, lo, pp, end, &step) < 0)
        return DESKDB_EINVAL;
    set_bits(bits, id, lo, hi, step);
    return 0;
}

/* "L" or "$" alone is the last day; anywhere else in the field, an error. */
static int
check_last_day(struct parser *ps,
               const char *start,
               const char *end,
               bool *last)
{
    *last =
        end - start == 1 && (*start == 'L' || *start == 'l' || *start == '$');
    if (*last)
        return 0;
    for (const char *p = start; p < end; p++) {
        if (*p == 'L' || *p == 'l' || *p == '$')
            return fail(ps,
                        p,
                        "'%c' (last day of the month) must be the whole "
                        "day-of-month field",
                        *p);
    }
    return 0;
}

static int
parse_field(struct parser *ps,
            enum field_id id,
            const char *start,
            const char *end,
            struct cron_expr *e)
{
    uint64_t bits = 0;
    const char *p = start;
    bool last = false;

    if (id == F_DOM && check_last_day(ps, start, end, &last) < 0)
        return DESKDB_EINVAL;
    if (last) {
        e->dom_last = true;
        return 0;
    }
    for (;;) {
        if (p >= end || *p == ',')
            return fail(ps, p, "%s field: empty list element", specs[id].name);
        if (parse_element(ps, id, &p, end, &bits) < 0)
            return DESKDB_EINVAL;
        if (p >= end)
            break;
        if (*p != ',')
            return fail(ps,
                        p,
                        "%s field: unexpected '%c'",
                        specs[id].name,
                        shown(*p));
        p++;
    }
    switch (id) {
    case F_MINUTE:
        e->minute = bits;
        e->minute_star = *start == '*';
        break;
    case F_HOUR:
        e->hour = (uint32_t)bits;
        e->hour_star = *start == '*';
        break;
    case F_DOM:
        e->dom = (uint32_t)bits;
        e->dom_star = *start == '*';
        break;
    case F_MONTH:
        e->month = (uint16_t)bits;
        break;
    case F_DOW:
    default:
        e->dow = (uint8_t)bits;
        e->dow_star = *start == '*';
        break;
    }
    return 0;
}

/* When day-of-week does not decide, some selected day must exist in some
 * selected month (in a leap year, so that Feb 29 counts). */
static bool
can_fire(const struct cron_expr *e)
{
    if (e->dom_last || e->dom_star || !e->dow_star)
        return true;
    for (int m = 1; m <= 12; m++) {
        if (!(e->month & (1u << m)))
            continue;
        for (int d = 1; d <= civil_days_in_month(2000, m); d++)
            if (e->dom & (UINT32_C(1) << d))
                return true;
    }
    return false;
}

static int
parse_fields(struct parser *ps, const char *p, struct cron_expr *e)
{
    const char *dom_start = NULL;

    for (int id = 0; id < F_COUNT; id++) {
        const char *start = skip_blanks(p);

        p = start;
        while (*p != '\0' && !is_blank(*p))
            p++;
        if (p == start)
            return fail(ps,
                        start,
                        "expected 5 fields (minute hour day-of-month month "
                        "day-of-week), found %d",
                        id);
        if (id == F_DOM)
            dom_start = start;
        if (parse_field(ps, (enum field_id)id, start, p, e) < 0)
            return DESKDB_EINVAL;
    }
    p = skip_blanks(p);
    if (*p != '\0')
        return fail(ps,
                    p,
                    "unexpected text after the 5th field (expected minute "
                    "hour day-of-month month day-of-week)");
    if (!can_fire(e))
        return fail(ps,
                    dom_start,
                    "day-of-month selects no day that exists in the "
                    "selected months; the expression would never fire");
    return 0;
}

struct unit {
    char ch;
    int64_t seconds;
};

static const struct unit units[] = {{'d', 86400},
                                    {'h', 3600},
                                    {'m', 60},
                                    {'s', 1}};

/* One "<n><unit>" term of a duration; *rank enforces largest unit first. */
static int
parse_term(struct parser *ps, const char **pp, size_t *rank, int64_t *total)
{
    const char *start = *pp;
    const char *p = start;
    int64_t v = 0;
    size_t u;

    if (*p == '-')
        return fail(ps, p, "@every: negative durations are not allowed");
    if (!is_digit(*p))
        return fail(ps, p, "@every: expected a number, found '%c'", shown(*p));
    while (is_digit(*p)) {
        if (v <= CRON_EVERY_MAX_S)
            v = v * 10 + (*p - '0');
        p++;
    }
    for (u = 0; u < sizeof(units) / sizeof(units[0]); u++)
        if (*p == units[u].ch)
            break;
    if (*p == 'm' && p[1] == 's')
        return fail(ps, p, "@every: 'ms' is not supported; use whole seconds");
    if (u == sizeof(units) / sizeof(units[0]))
        return fail(ps,
                    p,
                    "@every: expected a unit d, h, m or s after %.*s",
                    (int)(p - start > 20 ? 20 : p - start),
                    start);
    if (u < *rank)
        return fail(ps,
                    p,
                    "@every: units must go from largest to smallest, each "
                    "once (like 1h30m)");
    *rank = u + 1;
    if (v > CRON_EVERY_MAX_S / units[u].seconds)
        *total = CRON_EVERY_MAX_S + 1;
    else if (*total <= CRON_EVERY_MAX_S)
        *total += v * units[u].seconds;
    *pp = p + 1;
    return 0;
}

static int
parse_every(struct parser *ps, const char *p, struct cron_expr *e)
{
    const char *start = skip_blanks(p);
    size_t rank = 0;
    int64_t total = 0;

    p = start;
    if (*p == '\0')
        return fail(ps, p, "@every needs a duration such as 30s, 5m or 1h30m");
    while (*p != '\0' && !is_blank(*p))
        if (parse_term(ps, &p, &rank, &total) < 0)
            return DESKDB_EINVAL;
    if (total < CRON_EVERY_MIN_S)
        return fail(ps, start, "@every: the interval must be at least 1s");
    if (total > CRON_EVERY_MAX_S)
        return fail(ps, start, "@every: the interval must be at most 366d");
    p = skip_blanks(p);
    if (*p != '\0')
        return fail(ps, p, "unexpected text after the @every duration");
    e->kind = CRON_KIND_EVERY;
    e->every_s = total;
    return 0;
}

static int
parse_macro(struct parser *ps, const char *at, struct cron_expr *e)
{
    const char *end = at + 1;
    size_t n;

    while (*end != '\0' && !is_blank(*end))
        end++;
    n = (size_t)(end - at - 1);
    if (n == 5 && strncasecmp(at + 1, "every", 5) == 0)
        return parse_every(ps, end, e);
    if (n == 6 && strncasecmp(at + 1, "reboot", 6) == 0)
        return fail(ps,
                    at,
                    "@reboot is not supported: deskdb has no process-start "
                    "jobs, and it would run again on every restart");
    for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
        if (strlen(macros[i].name) != n ||
            strncasecmp(at + 1, macros[i].name, n) != 0)
            continue;
        if (*skip_blanks(end) != '\0')
            return fail(ps,
                        skip_blanks(end),
                        "unexpected text after @%s",
                        macros[i].name);
        /* The expansions are valid; errors here would be programmer bugs. */
        return parse_fields(ps, macros[i].expansion, e);
    }
    return fail(ps,
                at,
                "unknown macro '%.*s' (use @yearly, @annually, @monthly, "
                "@weekly, @daily, @midnight, @hourly or @every)",
                (int)(n > 20 ? 21 : n + 1),
                at);
}

int
cron_parse(const char *text,
           struct cron_expr *expr,
           int *column,
           struct deskdb_err *err)
{
    struct parser ps = {text, column, err};
    const char *p = skip_blanks(text);

    memset(expr, 0, sizeof(*expr));
    expr->kind = CRON_KIND_CALENDAR;
    if (column != NULL)
        *column = 0;
    if (*p == '\0')
        return fail(&ps, p, "empty expression");
    if (*p == '@')
        return parse_macro(&ps, p, expr);
    return parse_fields(&ps, p, expr);
}

bool
cron_is_fixed_time(const struct cron_expr *expr)
{
    return expr->kind == CRON_KIND_CALENDAR && !expr->minute_star &&
           !expr->hour_star;
}

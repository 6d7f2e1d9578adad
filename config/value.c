/* SPDX-License-Identifier: MIT */
/* Strict parsing and canonical printing of integers, booleans, durations
 * and sizes, plus the "did you mean" suggestion for misspelled names. */
#include <stdio.h>
#include <string.h>

#include "config/config_internal.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Digits at *p into *v (at most `limit`), advancing *p. */
static int
parse_digits(const char **p, uint64_t limit, uint64_t *v, const char **why)
{
    const char *s = *p;

    *v = 0;
    if (!is_digit(*s)) {
        *why = "expected a number";
        return DESKDB_EINVAL;
    }
    while (is_digit(*s)) {
        uint64_t d = (uint64_t)(*s - '0');

        if (*v > (limit - d) / 10) {
            *why = "number too large";
            return DESKDB_EINVAL;
        }
        *v = *v * 10 + d;
        s++;
    }
    *p = s;
    return 0;
}

int
cfg_parse_int(const char *s, int64_t *out, const char **why)
{
    bool neg = *s == '-';
    const char *p = neg ? s + 1 : s;
    uint64_t v;

    *why = "not an integer";
    if (!is_digit(*p))
        return DESKDB_EINVAL;
    if (p[0] == '0' && is_digit(p[1])) {
        *why = "leading zeros are not allowed";
        return DESKDB_EINVAL;
    }
    if (parse_digits(&p, (uint64_t)INT64_MAX + (neg ? 1 : 0), &v, why) < 0) {
        *why = "out of range";
        return DESKDB_EINVAL;
    }
    if (*p != '\0') {
        *why = "not an integer";
        return DESKDB_EINVAL;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return 0;
}

int
cfg_parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "True", "TRUE"};
    static const char *const no[] = {"false", "False", "FALSE"};
    size_t i;

    for (i = 0; i < 3; i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return DESKDB_EINVAL;
}

struct unit {
    const char *name;
    int64_t ms;
};

/* Longest names first so "ms" is not read as "m" followed by "s". */
static const struct unit duration_units[] = {
    {"ms", 1},
    {"d", DAYS(1)},
    {"h", HOURS(1)},
    {"m", MINUTES(1)},
    {"s", SECONDS(1)},
};

static const char *const duration_hint =
    "write a number and a unit: 250ms, 10s, 5m, 2h, 7d or 1h30m";

static int
duration_unit(const char **p, int64_t *mult, const char **why)
{
    size_t i;

    for (i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
        size_t n = strlen(duration_units[i].name);

        if (strncmp(*p, duration_units[i].name, n) == 0) {
            *mult = duration_units[i].ms;
            *p += n;
            return 0;
        }
    }
    *why = **p == '\0' ? "missing unit" : "unknown unit";
    return DESKDB_EINVAL;
}

int
cfg_parse_duration(const char *s, int64_t *ms, const char **why)
{
    const char *p = s;
    int64_t total = 0, last = INT64_MAX, mult;
    uint64_t v;

    *why = duration_hint;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    if (*s == '-') {
        *why = "must not be negative";
        return DESKDB_EINVAL;
    }
    if (*s == '\0')
        return DESKDB_EINVAL;
    while (*p != '\0') {
        if (parse_digits(&p, (uint64_t)INT64_MAX, &v, why) < 0)
            return DESKDB_EINVAL;
        if (duration_unit(&p, &mult, why) < 0) {
            if (strcmp(*why, "missing unit") == 0)
                *why = duration_hint;
            return DESKDB_EINVAL;
        }
        if (mult >= last) {
            *why = "units must go from the largest to the smallest, "
                   "each at most once";
            return DESKDB_EINVAL;
        }
        last = mult;
        if (v > (uint64_t)(INT64_MAX / mult) ||
            (int64_t)v * mult > INT64_MAX - total) {
            *why = "too large";
            return DESKDB_EINVAL;
        }
        total += (int64_t)v * mult;
    }
    *ms = total;
    return 0;
}

const char *
config_format_duration(int64_t ms, char buf[48])
{
    static const struct unit parts[] = {
        {"d", DAYS(1)},
        {"h", HOURS(1)},
        {"m", MINUTES(1)},
        {"s", SECONDS(1)},
        {"ms", 1},
    };
    size_t i, len = 0;

    if (ms <= 0) {
        snprintf(buf, 48, ms == 0 ? "0s" : "-%lldms", (long long)-ms);
        return buf;
    }
    buf[0] = '\0';
    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        int64_t n = ms / parts[i].ms;

        if (n == 0)
            continue;
        ms -= n * parts[i].ms;
        len += (size_t)snprintf(buf + len,
                                48 - len,
                                "%lld%s",
                                (long long)n,
                                parts[i].name);
    }
    return buf;
}

int
config_parse_duration(const char *s, int64_t *ms, struct deskdb_err *err)
{
    const char *why;

    if (cfg_parse_duration(s, ms, &why) < 0)
        return err_set(err, DESKDB_EINVAL, "invalid duration: %s", why);
    return 0;
}

static const struct unit size_units[] = {
    {"GiB", 1024 * 1024 * 1024},
    {"MiB", 1024 * 1024},
    {"KiB", 1024},
    {"B", 1},
};

int
cfg_parse_size(const char *s, int64_t *bytes, const char **why)
{
    const char *p = s;
    int64_t mult = 1;
    uint64_t v;
    size_t i;

    if (parse_digits(&p, (uint64_t)INT64_MAX, &v, why) < 0) {
        *why = "write bytes or a number with KiB, MiB or GiB";
        return DESKDB_EINVAL;
    }
    if (*p != '\0') {
        for (i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
            if (strcmp(p, size_units[i].name) == 0)
                break;
        }
        if (i == sizeof(size_units) / sizeof(size_units[0])) {
            *why = "unknown unit (use B, KiB, MiB or GiB)";
            return DESKDB_EINVAL;
        }
        mult = size_units[i].ms;
    }
    if (v > (uint64_t)(INT64_MAX / mult)) {
        *why = "too large";
        return DESKDB_EINVAL;
    }
    *bytes = (int64_t)v * mult;
    return 0;
}

const char *
cfg_format_size(int64_t bytes, char buf[48])
{
    size_t i;

    for (i = 0; i + 1 < sizeof(size_units) / sizeof(size_units[0]); i++) {
        if (bytes > 0 && bytes % size_units[i].ms == 0) {
            snprintf(buf,
                     48,
                     "%lld%s",
                     (long long)(bytes / size_units[i].ms),
                     size_units[i].name);
            return buf;
        }
    }
    snprintf(buf, 48, "%lldB", (long long)bytes);
    return buf;
}

/* Optimal string alignment distance (a swap of neighbours counts once),
 * for names of at most 64 bytes. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), i, j;
    size_t d[65][65];

    for (i = 0; i <= la; i++)
        d[i][0] = i;
    for (j = 0; j <= lb; j++)
        d[0][j] = j;
    for (i = 1; i <= la; i++) {
        for (j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

const char *
cfg_suggest(const char *s, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t i, best_d = 3, len = strlen(s);

    if (len > 64)
        return NULL;
    for (i = 0; i < n; i++) {
        size_t d;

        if (strlen(names[i]) > 64)
            continue;
        d = edit_distance(s, names[i]);
        if (d < best_d && d < len) {
            best = names[i];
            best_d = d;
        }
    }
    return best;
}

const char *
cfg_echo(const char *s, char *buf, size_t size)
{
    size_t i, n = 0, max = size > 4 ? size - 4 : 0;

    for (i = 0; s[i] != '\0' && n < max; i++) {
        unsigned char c = (unsigned char)s[i];

        buf[n++] = c < 0x20 || c == 0x7F ? '?' : (char)c;
    }
    /* never cut a UTF-8 sequence in half */
    if (s[i] != '\0') {
        while (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0x80)
            n--;
        if (n > 0 && ((unsigned char)buf[n - 1] & 0xC0) == 0xC0)
            n--;
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

/* SPDX-License-Identifier: MIT */
/* The token and naming rules of the exposition validator: UTF-8, numbers,
 * names and promlint's naming checks. */
#include "expo_lint_internal.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
lint_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int
problem(char *msg, size_t size, int rule, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, size, fmt, ap);
    va_end(ap);
    return rule;
}

size_t
lint_utf8_seq(const unsigned char *s, size_t left)
{
    size_t n;
    size_t i;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;

    if (s[0] > 0 && s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        n = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        n = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        n = 4;
    else
        return 0;
    if (left < n)
        return 0;
    lo = s[0] == 0xE0 ? 0xA0 : s[0] == 0xF0 ? 0x90 : lo;
    hi = s[0] == 0xED ? 0x9F : s[0] == 0xF4 ? 0x8F : hi;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* A decimal number as Go's ParseFloat reads it (no hex), or exactly NaN,
 * +Inf or -Inf; never a ',' decimal point. */
bool
lint_number_parse(const char *s, double *out)
{
    static locale_t c_locale;
    const char *p = s;
    size_t digits = 0;

    if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 ||
        strcmp(s, "-Inf") == 0) {
        *out = s[0] == 'N' ? NAN : s[0] == '+' ? INFINITY : -INFINITY;
        return true;
    }
    if (*p == '+' || *p == '-')
        p++;
    for (; is_digit(*p); p++)
        digits++;
    if (*p == '.')
        for (p++; is_digit(*p); p++)
            digits++;
    if (digits == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!is_digit(*p))
            return false;
        while (is_digit(*p))
            p++;
    }
    if (*p != '\0')
        return false;
    if (c_locale == (locale_t)0)
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    *out = strtod_l(s, NULL, c_locale);
    return true;
}

bool
lint_is_uint(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!is_digit(*s))
            return false;
    }
    return true;
}

/* ---- names -------------------------------------------------------------- */

static bool
name_char(char c, bool first, bool colon)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
        (colon && c == ':'))
        return true;
    return !first && is_digit(c);
}

/* Length of the name at `s` ([a-zA-Z_:][a-zA-Z0-9_:]*, or without ':'). */
size_t
lint_name_len(const char *s, bool colon)
{
    size_t n = 0;

    while (s[n] != '\0' && name_char(s[n], n == 0, colon))
        n++;
    return n;
}

bool
lint_camel_case(const char *s)
{
    for (; s[0] != '\0' && s[1] != '\0'; s++) {
        if (s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'A' && s[1] <= 'Z')
            return true;
    }
    return false;
}

/* Does the lower-cased `name` contain "_word_" or end in "_word"? */
static bool
has_word(const char *name, const char *word)
{
    char lower[512];
    char pat[64];
    size_t i;

    for (i = 0; name[i] != '\0' && i + 1 < sizeof(lower); i++)
        lower[i] =
            (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    lower[i] = '\0';
    snprintf(pat, sizeof(pat), "_%s_", word);
    if (strstr(lower, pat) != NULL)
        return true;
    pat[strlen(pat) - 1] = '\0';
    return lint_ends_with(lower, pat);
}

/* promlint's units (and their base) and SI prefixes. */
static const char *const units[][2] = {
    {"amperes", "amperes"},    {"bytes", "bytes"},     {"celsius", "celsius"},
    {"grams", "grams"},        {"joules", "joules"},   {"kelvin", "kelvin"},
    {"meters", "meters"},      {"metres", "metres"},   {"seconds", "seconds"},
    {"volts", "volts"},        {"minutes", "seconds"}, {"hours", "seconds"},
    {"days", "seconds"},       {"weeks", "seconds"},   {"kelvins", "kelvin"},
    {"fahrenheit", "celsius"}, {"rankine", "celsius"}, {"inches", "meters"},
    {"yards", "meters"},       {"miles", "meters"},    {"bits", "bytes"},
    {"calories", "joules"},    {"pounds", "grams"},    {"ounces", "grams"},
};
static const char *const prefixes[] = {"pico",
                                       "nano",
                                       "micro",
                                       "milli",
                                       "centi",
                                       "deci",
                                       "deca",
                                       "hecto",
                                       "kilo",
                                       "kibi",
                                       "mega",
                                       "mibi",
                                       "giga",
                                       "gibi",
                                       "tera",
                                       "tebi",
                                       "peta",
                                       "pebi"};

/* promlint's metricUnits: the first unit word of the name, if any. */
static const char *
non_base_unit(const char *name, const char **base)
{
    static char word[128];
    const char *p = name;
    size_t n;
    size_t i;
    size_t k;

    for (; *p != '\0'; p += n + (p[n] == '_')) {
        n = strcspn(p, "_");
        if (n >= sizeof(word))
            continue;
        memcpy(word, p, n);
        word[n] = '\0';
        for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            if (strcmp(word, units[i][0]) == 0) {
                *base = units[i][1];
                return strcmp(word, *base) == 0 ? NULL : word;
            }
        }
        for (k = 0; k < sizeof(prefixes) / sizeof(prefixes[0]); k++) {
            size_t pl = strlen(prefixes[k]);

            for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
                if (strncmp(word, prefixes[k], pl) == 0 &&
                    strcmp(word + pl, units[i][0]) == 0) {
                    *base = units[i][1];
                    return word;
                }
            }
        }
    }
    return NULL;
}

int
lint_name_problem(const char *name,
                  enum ltype type,
                  bool om,
                  char *msg,
                  size_t size)
{
    static const char *const abbreviations[] = {"s",
                                                "ms",
                                                "us",
                                                "ns",
                                                "sec",
                                                "b",
                                                "kb",
                                                "mb",
                                                "gb",
                                                "tb",
                                                "pb",
                                                "m",
                                                "h",
                                                "d"};
    static const char *const types[] = {"counter",
                                        "gauge",
                                        "histogram",
                                        "summary",
                                        "gauge_histogram"};
    const char *unit;
    const char *base = NULL;
    bool total = lint_ends_with(name, "_total");
    size_t i;

    if (om && type == LT_COUNTER && total)
        return problem(msg, size, 25, "counter family named with _total");
    if (!om && type == LT_COUNTER && !total)
        return problem(msg, size, 18, "counter without _total suffix");
    if (type != LT_COUNTER && type != LT_UNTYPED && total)
        return problem(msg, size, 18, "non-counter with _total suffix");
    if (type != LT_UNTYPED && type != LT_HISTOGRAM &&
        type != LT_GAUGEHISTOGRAM && lint_ends_with(name, "_bucket"))
        return problem(msg, size, 19, "_bucket suffix on a non-histogram");
    if (type != LT_UNTYPED && type != LT_HISTOGRAM && type != LT_SUMMARY &&
        (lint_ends_with(name, "_count") || lint_ends_with(name, "_sum")))
        return problem(msg, size, 19, "_count/_sum on a non-histogram");
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (has_word(name, types[i]))
            return problem(msg, size, 21, "type '%s' in the name", types[i]);
    }
    if (lint_camel_case(name))
        return problem(msg, size, 21, "camelCase name");
    for (i = 0; i < sizeof(abbreviations) / sizeof(abbreviations[0]); i++) {
        if (has_word(name, abbreviations[i]))
            return problem(msg, size, 21, "abbreviated unit");
    }
    unit = non_base_unit(name, &base);
    if (unit != NULL)
        return problem(msg, size, 21, "use base unit %s, not %s", base, unit);
    if (strstr(name, "percent") != NULL)
        return problem(msg, size, 21, "use a _ratio, not percent");
    if (strncmp(name, "scrape_", 7) == 0)
        return problem(msg, size, 21, "the scrape_ prefix is reserved");
    return 0;
}

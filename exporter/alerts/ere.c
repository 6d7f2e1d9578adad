/* SPDX-License-Identifier: MIT */
/* A guard run before regcomp() on rule regular expressions: refuses what
 * POSIX leaves undefined and what would compile into an unbounded tree. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "exporter/alerts/expr_internal.h"

/* Roughly the nodes glibc builds: it copies the operand of "+" and of an
 * interval {m,n} once per repetition, so nesting multiplies. */
#define ERE_MAX_WEIGHT 10000
#define ERE_MAX_DEPTH  32

struct ere_level {
    uint64_t total; /* weight of this group so far */
    uint64_t last;  /* weight of the last atom, 0 if none to repeat */
};

static uint64_t
cap(uint64_t w)
{
    return w > ERE_MAX_WEIGHT ? ERE_MAX_WEIGHT + 1 : w;
}

/* Past a bracket expression starting at re[i] == '['. */
static size_t
skip_bracket(const char *re, size_t i)
{
    i++;
    if (re[i] == '^')
        i++;
    if (re[i] == ']')
        i++;
    while (re[i] != '\0' && re[i] != ']') {
        if (re[i] == '[' &&
            (re[i + 1] == ':' || re[i + 1] == '=' || re[i + 1] == '.')) {
            char kind = re[i + 1];

            for (i += 2; re[i] != '\0'; i++)
                if (re[i] == kind && re[i + 1] == ']')
                    break;
            if (re[i] == '\0')
                return i;
            i += 2;
            continue;
        }
        i++;
    }
    return re[i] == ']' ? i + 1 : i;
}

/* The upper bound of an interval "{m}", "{m,}" or "{m,n}" at re[i], and
 * its length; 0 when re[i] does not start one (regcomp decides). */
static size_t
interval(const char *re, size_t i, uint64_t *bound)
{
    size_t j = i + 1;
    uint64_t m = 0, n;

    while (re[j] >= '0' && re[j] <= '9' && m <= ERE_MAX_WEIGHT)
        m = m * 10 + (uint64_t)(re[j++] - '0');
    if (j == i + 1)
        return 0;
    n = m;
    if (re[j] == ',') {
        j++;
        /* {m,}: as many as glibc's RE_DUP_MAX copies in the worst case */
        n = re[j] == '}' ? ERE_MAX_WEIGHT + 1 : 0;
        while (re[j] >= '0' && re[j] <= '9' && n <= ERE_MAX_WEIGHT)
            n = n * 10 + (uint64_t)(re[j++] - '0');
    }
    if (re[j] != '}')
        return 0;
    *bound = cap(m > n ? m : n);
    return j + 1 - i;
}

const char *
expr_ere_check(const char *re, size_t *at)
{
    struct ere_level lv[ERE_MAX_DEPTH + 1] = {{0, 0}};
    size_t depth = 0, i = 0, len;
    bool repeated = false; /* the previous token was a repetition */
    uint64_t bound;

    while (re[i] != '\0') {
        struct ere_level *l = &lv[depth];
        char c = re[i];

        *at = i;
        len = c == '{' ? interval(re, i, &bound) : 0;
        if (c == '*' || c == '+' || c == '?' || len > 0) {
            if (repeated)
                return "adjacent repetition operators (POSIX leaves them "
                       "undefined; use a group)";
            if (c == '+')
                l->total = cap(l->total + l->last);
            else if (len > 0 && bound > 1)
                l->total = cap(l->total + l->last * (bound - 1));
            repeated = true;
            i += len > 0 ? len : 1;
        } else if (c == '(') {
            if (depth == ERE_MAX_DEPTH)
                return "groups nested too deeply";
            lv[++depth] = (struct ere_level){0, 0};
            repeated = false;
            i++;
        } else if (c == ')' && depth > 0) {
            uint64_t w = lv[depth].total ? lv[depth].total : 1;

            depth--;
            lv[depth].total = cap(lv[depth].total + w);
            lv[depth].last = w;
            repeated = false;
            i++;
        } else if (c == '|') {
            l->last = 0;
            repeated = false;
            i++;
        } else {
            if (c == '\\' && re[i + 1] >= '1' && re[i + 1] <= '9')
                return "back-references are not part of POSIX extended "
                       "regular expressions";
            i = c == '[' ? skip_bracket(re, i)
                         : i + (c == '\\' && re[i + 1] != '\0' ? 2 : 1);
            l->total = cap(l->total + 1);
            l->last = 1;
            repeated = false;
        }
        if (lv[depth].total > ERE_MAX_WEIGHT)
            return "regular expression is too complex";
    }
    return NULL;
}

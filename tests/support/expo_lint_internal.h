/* SPDX-License-Identifier: MIT */
/* Shared between expo_lint.c and expo_lint_rules.c only. */
#ifndef DESKDB_TESTS_EXPO_LINT_INTERNAL_H
#define DESKDB_TESTS_EXPO_LINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

enum ltype {
    LT_UNTYPED, /* "unknown" in OpenMetrics */
    LT_COUNTER,
    LT_GAUGE,
    LT_HISTOGRAM,
    LT_SUMMARY,
    LT_INFO,
    LT_STATESET,
    LT_GAUGEHISTOGRAM,
};

bool lint_ends_with(const char *s, const char *suffix);

/* Length of the valid UTF-8 sequence (no NUL) at `s`, or 0. */
size_t lint_utf8_seq(const unsigned char *s, size_t left);

/* A decimal number as Go's ParseFloat reads it (no hex), or exactly NaN,
 * +Inf or -Inf; never a ',' decimal point.  Locale independent. */
bool lint_number_parse(const char *s, double *out);

bool lint_is_uint(const char *s);

/* Length of the name at `s`: [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' unless
 * `colon`). */
size_t lint_name_len(const char *s, bool colon);

bool lint_camel_case(const char *s);

/* Rules 18, 19, 21 and 25 on the name of a family of `type` (promlint's
 * DefaultValidations): 0, or the rule number with a message in `msg`. */
int lint_name_problem(const char *name,
                      enum ltype type,
                      bool om,
                      char *msg,
                      size_t size);

#endif

/* SPDX-License-Identifier: MIT */
/* A strict validator of whole exposition bodies, used by the tests. */
#ifndef DESKDB_TESTS_EXPO_LINT_H
#define DESKDB_TESTS_EXPO_LINT_H

#include <stddef.h>

#include "exporter/expo.h"

/*
 * Check `body` (len bytes) as a complete exposition in `fmt`: rules 9-22
 * of research/exporters.md (d) for text 0.0.4 and, for OpenMetrics 1.0.0,
 * rules 23-31 plus the shared name, label, value, uniqueness and naming
 * (promlint) rules.  Stricter than the formats where deskdb is: no
 * timestamps, NaN/+Inf/-Inf spelled exactly, no label value "total".
 * Returns 0 if the body is clean, else -1 with the first problem in `msg`
 * as "line N: rule R: what".
 */
int expo_lint(const char *body,
              size_t len,
              enum expo_format fmt,
              char *msg,
              size_t msg_size);

#endif

/* SPDX-License-Identifier: MIT */
/* Shared helpers of the libFuzzer harnesses in tests/fuzz. */
#ifndef DESKDB_TESTS_FUZZ_FUZZ_H
#define DESKDB_TESTS_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "jobs/tz.h"

/* The libFuzzer entry point every harness defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of the input (aborts on allocation failure); the
 * caller frees it.  Embedded NULs stay, so C-string parsers see a prefix. */
char *fuzz_strndup(const uint8_t *data, size_t size);

/*
 * The promise for bad input: a failing call returned a negative DESKDB_*
 * code and left one non-empty line of text in `err`.  Aborts (a finding)
 * naming `what` otherwise.
 */
void fuzz_check_error(const char *what, int rc, const struct deskdb_err *err);

/* Abort with a finding message. */
void fuzz_fail(const char *what, const char *detail) __attribute__((noreturn));

/*
 * A TZif version 2 file (malloc'ed, `*out_len` bytes) with one time type
 * (EST, -05:00), no transitions and `rule` as its POSIX TZ footer.
 */
uint8_t *
fuzz_tzif_with_footer(const uint8_t *rule, size_t len, size_t *out_len);

/*
 * A fixed zone with daylight saving time that does not depend on the
 * system's tzdata: America/New_York's current rules ("EST5EDT,M3.2.0,
 * M11.1.0") as a TZif v2 file with no transitions, built once.
 */
const struct tz *fuzz_zone(void);

#endif

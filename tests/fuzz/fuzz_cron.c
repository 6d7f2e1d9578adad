/* SPDX-License-Identifier: MIT */
/* Fuzz target: cron expressions, then a few next fire times in UTC and in
 * a fixed DST zone, from ordinary and extreme starting instants. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jobs/cron.h"

/* Starting instants: a DST spring-forward day, the limits. */
static const int64_t starts[] = {
    1741478400, /* 2025-03-09 00:00 UTC */
    CRON_TIME_MIN,
    CRON_TIME_MAX - 86400,
};

static void
walk(const struct cron_expr *e, const struct tz *tz, int64_t after)
{
    int64_t next;

    for (int i = 0; i < 3; i++) {
        next = after;
        if (cron_next(e, tz, after, &next) != 0) {
            if (next != after)
                fuzz_fail("cron_next", "changed *next_utc on failure");
            return;
        }
        if (next <= after || next > CRON_TIME_MAX)
            fuzz_fail("cron_next", "fire time not after the start");
        after = next;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    struct deskdb_err err = {0};
    struct cron_expr e;
    int rc, col = 0;

    rc = cron_parse(text, &e, &col, &err);
    if (rc < 0) {
        fuzz_check_error("cron_parse", rc, &err);
        if (col < 1 || (size_t)col > strlen(text) + 1)
            fuzz_fail("cron_parse", "error column outside the text");
    } else {
        (void)cron_is_fixed_time(&e);
        for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
            walk(&e, NULL, starts[i]);
            walk(&e, fuzz_zone(), starts[i]);
        }
    }
    free(text);
    return 0;
}

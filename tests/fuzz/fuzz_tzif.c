/* SPDX-License-Identifier: MIT */
/* Fuzz target: TZif files and POSIX TZ rules (input not starting with
 * "TZif" becomes the footer of a minimal file), then lookups and
 * conversions across the zone's range. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jobs/civil.h"
#include "jobs/tz.h"

/* Instants around the edges of what callers pass, and some DST dates. */
static const int64_t probes[] = {
    INT64_MIN,
    -62135596800,          /* 0001-01-01 */
    -2208988800,           /* 1900-01-01 */
    0,                     /* 1970-01-01 */
    1741503600,            /* 2025-03-09 07:00 UTC */
    1762063200,            /* 2025-11-02 06:00 UTC */
    INT64_C(253402300799), /* 9999-12-31 23:59:59 */
    INT64_MAX,
};

static void
probe_zone(const struct tz *tz)
{
    char text[TZ_FORMAT_MAX];
    struct tz_info info;
    struct civil_time local;
    int64_t cand[2], gap_end;
    int n;

    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        int64_t u = probes[i];

        tz_lookup(tz, u, &info);
        if (info.abbr == NULL || info.utoff <= -TZ_OFFSET_MAX ||
            info.utoff >= TZ_OFFSET_MAX)
            fuzz_fail("tz_lookup", "bad offset or abbreviation");
        (void)tz_abbr_at(tz, u);
        if (tz_format(tz, u, text, sizeof(text)) != 0)
            fuzz_fail("tz_format", "TZ_FORMAT_MAX was not enough");
        if (u == INT64_MIN || u == INT64_MAX)
            continue;
        tz_civil_at(tz, u, &local);
        if (tz_local_to_utc(tz, &local, cand, &n, &gap_end) == 0 && n > 2)
            fuzz_fail("tz_local_to_utc", "more than two candidates");
        (void)tz_utc_at_or_after_local(tz, u);
        (void)tz_local_high_water(tz, u);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct deskdb_err err = {0};
    uint8_t *file = NULL;
    struct tz *tz;

    if (size < 4 || memcmp(data, "TZif", 4) != 0)
        data = file = fuzz_tzif_with_footer(data, size, &size);
    tz = tz_parse("fuzz", data, size, &err);
    if (tz == NULL)
        fuzz_check_error("tz_parse", err.code, &err);
    else
        probe_zone(tz);
    tz_destroy(tz);
    free(file);
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Shared helpers of the libFuzzer harnesses: input copies, the one-line
 * error check and a fixed DST zone. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *
fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        fuzz_fail("fuzz_strndup", "out of memory");
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

void
fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "FUZZ FINDING: %s: %s\n", what, detail);
    abort();
}

void
fuzz_check_error(const char *what, int rc, const struct deskdb_err *err)
{
    const char *p;

    if (rc >= 0)
        fuzz_fail(what, "failure without a negative status");
    if (err->msg[0] == '\0')
        fuzz_fail(what, "failure without a message");
    for (p = err->msg; *p != '\0'; p++)
        if (*p == '\n' || *p == '\r')
            fuzz_fail(what, err->msg);
}

/* Append a big-endian 32-bit value. */
static uint8_t *
put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* One TZif header and data block: one time type (EST), no transitions. */
static uint8_t *
put_block(uint8_t *p, char version)
{
    memcpy(p, "TZif", 4);
    p[4] = (uint8_t)version;
    memset(p + 5, 0, 15);
    p += 20;
    p = put32(p, 0); /* isutcnt */
    p = put32(p, 0); /* isstdcnt */
    p = put32(p, 0); /* leapcnt */
    p = put32(p, 0); /* timecnt */
    p = put32(p, 1); /* typecnt */
    p = put32(p, 4); /* charcnt */
    p = put32(p, (uint32_t)-18000);
    *p++ = 0; /* isdst */
    *p++ = 0; /* abbreviation index */
    memcpy(p, "EST", 4);
    return p + 4;
}

uint8_t *
fuzz_tzif_with_footer(const uint8_t *rule, size_t len, size_t *out_len)
{
    /* two blocks of 20 + 24 + 6 + 4 bytes and the newlines */
    uint8_t *file = malloc(2 * 54 + len + 2), *p;

    if (file == NULL)
        fuzz_fail("fuzz_tzif_with_footer", "out of memory");
    p = put_block(file, '2');
    p = put_block(p, '2');
    *p++ = '\n';
    if (len > 0)
        memcpy(p, rule, len);
    p += len;
    *p++ = '\n';
    *out_len = (size_t)(p - file);
    return file;
}

const struct tz *
fuzz_zone(void)
{
    static const char rule[] = "EST5EDT,M3.2.0,M11.1.0";
    static struct tz *zone;
    struct deskdb_err err;
    uint8_t *file;
    size_t len;

    if (zone != NULL)
        return zone;
    file = fuzz_tzif_with_footer((const uint8_t *)rule, strlen(rule), &len);
    zone = tz_parse("EST5EDT", file, len, &err);
    free(file);
    if (zone == NULL)
        fuzz_fail("fuzz_zone", err.msg);
    return zone;
}

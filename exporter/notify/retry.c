/* SPDX-License-Identifier: MIT */
/* Which answers are retried and for how long to wait: status classes and
 * Retry-After (seconds or HTTP-date). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter/notify/notify.h"

static const char *const reason_names[NOTIFY_NREASONS] =
    {"http_3xx", "http_4xx", "http_5xx", "timeout", "network", "dropped"};

const char *
notify_reason_name(enum notify_reason r)
{
    return (unsigned)r < NOTIFY_NREASONS ? reason_names[r] : "unknown";
}

enum notify_outcome
notify_classify_status(long status)
{
    if (status >= 200 && status <= 299)
        return NOTIFY_OK;
    if (status == 408 || status == 429 || (status >= 500 && status <= 599))
        return NOTIFY_RETRY;
    return NOTIFY_PERMANENT;
}

static int
month_index(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    int i;

    for (i = 0; i < 12; i++) {
        if (strncmp(s, months + 3 * i, 3) == 0)
            return i;
    }
    return -1;
}

/* Fixed-width decimal field; -1 if not all digits. */
static int
digits(const char *s, int n)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 5.6.7). */
static int
parse_http_date(const char *s, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (strlen(s) != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' ||
        s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' ||
        strcmp(s + 25, " GMT") != 0)
        return -1;
    tm.tm_mday = digits(s + 5, 2);
    tm.tm_mon = month_index(s + 8);
    tm.tm_year = digits(s + 12, 4) - 1900;
    tm.tm_hour = digits(s + 17, 2);
    tm.tm_min = digits(s + 20, 2);
    tm.tm_sec = digits(s + 23, 2);
    if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 || tm.tm_year < 70 ||
        tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 ||
        tm.tm_sec < 0 || tm.tm_sec > 60)
        return -1;
    *out = timegm(&tm);
    return *out == (time_t)-1 ? -1 : 0;
}

int64_t
notify_parse_retry_after(const char *value, int64_t now_real_ns)
{
    const char *p = value;
    char *end;
    unsigned long long secs;
    time_t when;
    int64_t now_s;

    if (value == NULL)
        return -1;
    while (*p == ' ' || *p == '\t')
        p++;
    if (isdigit((unsigned char)*p)) {
        secs = strtoull(p, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0')
            return -1;
        /* A day is already far longer than anyone should wait. */
        return secs > 86400 ? 86400 * INT64_C(1000) : (int64_t)secs * 1000;
    }
    if (parse_http_date(p, &when) != 0)
        return -1;
    now_s = now_real_ns / 1000000000;
    if ((int64_t)when <= now_s)
        return 0;
    if ((int64_t)when - now_s > 86400)
        return 86400 * INT64_C(1000);
    return ((int64_t)when - now_s) * 1000;
}

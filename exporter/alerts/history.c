/* SPDX-License-Identifier: MIT */
/* Counter readings per series over a rule's range, for rate() and
 * increase(): reset-corrected, bounded in series and samples. */
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "exporter/alerts/expr.h"

#define BUCKETS 512

struct point {
    int64_t t;
    double v; /* reset-corrected: raw reading plus `offset` */
};

struct series {
    char *key;
    double last_raw;
    double offset; /* sum of the readings seen just before each reset */
    struct point pts[EXPR_MAX_SAMPLES];
    size_t n;
    struct series *next;
};

struct expr_history {
    int64_t range_ns;
    int64_t spacing_ns; /* readings closer than this replace the newest */
    struct series *buckets[BUCKETS];
    size_t n_series;
};

struct expr_history *
expr_history_create(int64_t range_ms)
{
    struct expr_history *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    h->range_ns = range_ms * NS_PER_MS;
    h->spacing_ns = h->range_ns / (EXPR_MAX_SAMPLES / 2);
    return h;
}

static void
series_free(struct series *s)
{
    free(s->key);
    free(s);
}

void
expr_history_destroy(struct expr_history *h)
{
    struct series *s, *next;
    size_t i;

    if (h == NULL)
        return;
    for (i = 0; i < BUCKETS; i++) {
        for (s = h->buckets[i]; s != NULL; s = next) {
            next = s->next;
            series_free(s);
        }
    }
    free(h);
}

static size_t
bucket_of(const char *key)
{
    uint64_t x = UINT64_C(14695981039346656037);

    for (; *key != '\0'; key++) {
        x ^= (uint8_t)*key;
        x *= UINT64_C(1099511628211);
    }
    return (size_t)(x % BUCKETS);
}

static struct series *
series_get(struct expr_history *h, const char *key, double value)
{
    size_t b = bucket_of(key);
    struct series *s;

    for (s = h->buckets[b]; s != NULL; s = s->next) {
        if (strcmp(s->key, key) == 0)
            return s;
    }
    if (h->n_series >= EXPR_MAX_SERIES)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->key = strdup(key);
    if (s->key == NULL) {
        free(s);
        return NULL;
    }
    s->last_raw = value;
    s->next = h->buckets[b];
    h->buckets[b] = s;
    h->n_series++;
    return s;
}

/* Drop readings older than the range. */
static void
trim(struct series *s, int64_t oldest)
{
    size_t k = 0;

    while (k < s->n && s->pts[k].t < oldest)
        k++;
    if (k > 0) {
        memmove(s->pts, s->pts + k, (s->n - k) * sizeof(s->pts[0]));
        s->n -= k;
    }
}

static void
append(struct expr_history *h, struct series *s, int64_t t, double v)
{
    if (s->n > 0 && t <= s->pts[s->n - 1].t) {
        /* The same instant again (or a clock step back): keep one. */
        s->pts[s->n - 1].v = v;
        return;
    }
    if (s->n >= 2 && t - s->pts[s->n - 2].t < h->spacing_ns) {
        s->pts[s->n - 1] = (struct point){t, v};
        return;
    }
    if (s->n == EXPR_MAX_SAMPLES) {
        memmove(s->pts, s->pts + 1, (s->n - 1) * sizeof(s->pts[0]));
        s->n--;
    }
    s->pts[s->n++] = (struct point){t, v};
}

bool
expr_history_observe(struct expr_history *h,
                     const char *key,
                     double value,
                     int64_t now_ns,
                     double *increase,
                     int64_t *span_ns)
{
    struct series *s = series_get(h, key, value);

    *increase = 0;
    *span_ns = 0;
    if (s == NULL)
        return false;
    /* Prometheus: any decrease is a reset, the counter restarted at 0. */
    if (value < s->last_raw)
        s->offset += s->last_raw;
    s->last_raw = value;
    append(h, s, now_ns, value + s->offset);
    trim(s, now_ns - h->range_ns);
    if (s->n >= 2) {
        *increase = s->pts[s->n - 1].v - s->pts[0].v;
        *span_ns = s->pts[s->n - 1].t - s->pts[0].t;
    }
    return true;
}

void
expr_history_gc(struct expr_history *h, int64_t now_ns)
{
    struct series **p, *s;
    size_t i;

    for (i = 0; i < BUCKETS; i++) {
        p = &h->buckets[i];
        while ((s = *p) != NULL) {
            if (s->n == 0 || s->pts[s->n - 1].t < now_ns - h->range_ns) {
                *p = s->next;
                series_free(s);
                h->n_series--;
            } else {
                p = &s->next;
            }
        }
    }
}

size_t
expr_history_series(const struct expr_history *h)
{
    return h->n_series;
}

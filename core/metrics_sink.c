/* SPDX-License-Identifier: MIT */
/* The sink that snapshots are built in: an arena for the text, the sink
 * API that collectors write through, and the copy of registered families. */
#include "core/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics_internal.h"

#define ARENA_CHUNK (16 * 1024)

const char metrics_dropped_name[] = "deskdb_exposition_dropped_series_total";
const char *const metrics_dropped_reasons[3] = {"duplicate",
                                                "invalid_name",
                                                "limit"};

static const char dropped_help[] =
    "Series left out of the exposition, by reason: duplicate (same name "
    "and labels twice), invalid_name or limit (per-family series cap).";

/* ---- arena -------------------------------------------------------------- */

void *
metrics_arena_alloc(struct metrics_sink *sink, size_t size)
{
    struct arena_chunk *c = sink->snap->chunks;
    size_t align = alignof(max_align_t);
    size_t want;
    void *p;

    size = (size + align - 1) & ~(align - 1);
    if (c == NULL || c->size - c->used < size) {
        want = size > ARENA_CHUNK ? size : ARENA_CHUNK;
        c = malloc(sizeof(*c) + want);
        if (c == NULL) {
            sink->failed = true;
            return NULL;
        }
        c->used = 0;
        c->size = want;
        c->next = sink->snap->chunks;
        sink->snap->chunks = c;
    }
    p = c->data + c->used;
    c->used += size;
    return p;
}

static char *
arena_strdup(struct metrics_sink *sink, const char *s)
{
    size_t n = strlen(s);
    char *p = metrics_arena_alloc(sink, n + 1);

    if (p != NULL)
        memcpy(p, s, n + 1);
    return p;
}

static char *
arena_utf8(struct metrics_sink *sink, const char *s)
{
    char *p = metrics_arena_alloc(sink, metrics_utf8_clean(s, NULL) + 1);

    if (p != NULL)
        metrics_utf8_clean(s, p);
    return p;
}

/* A NULL-terminated copy of `n` strings, cleaned to UTF-8 if asked. */
static char **
arena_strv(struct metrics_sink *sink,
           const char *const *v,
           size_t n,
           bool clean)
{
    char **out = metrics_arena_alloc(sink, (n + 1) * sizeof(*out));
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *s = v[i] != NULL ? v[i] : "";

        out[i] = clean ? arena_utf8(sink, s) : arena_strdup(sink, s);
        if (out[i] == NULL)
            return NULL;
    }
    out[n] = NULL;
    return out;
}

/* ---- building ----------------------------------------------------------- */

static struct sink_family *
cur_family(struct metrics_sink *sink)
{
    return sink->cur == METRICS_NO_FAMILY ? NULL : &sink->families[sink->cur];
}

/* Start a family whose names are already known to be valid. */
static struct sink_family *
family_start(struct metrics_sink *sink,
             enum metric_type type,
             const char *name,
             const char *help,
             const char *const *label_names,
             size_t n_labels)
{
    struct sink_family *f;
    size_t n;

    sink->cur = METRICS_NO_FAMILY;
    if (sink->failed)
        return NULL;
    if (sink->n_families == sink->alloc_families) {
        n = sink->alloc_families ? sink->alloc_families * 2 : 64;
        f = realloc(sink->families, n * sizeof(*f));
        if (f == NULL) {
            sink->failed = true;
            return NULL;
        }
        sink->families = f;
        sink->alloc_families = n;
    }
    f = &sink->families[sink->n_families];
    memset(f, 0, sizeof(*f));
    f->order = sink->n_families;
    f->max_samples = METRICS_DEFAULT_MAX_SERIES;
    f->pub.type = type;
    f->pub.n_labels = n_labels;
    f->pub.name = arena_strdup(sink, name);
    f->pub.help = arena_utf8(sink, help);
    f->pub.label_names = arena_strv(sink, label_names, n_labels, false);
    if (sink->failed)
        return NULL;
    sink->cur = sink->n_families++;
    return f;
}

/* Append a sample (labels copied) to the current family, or count why it
 * was dropped.  Returns NULL when it was dropped. */
static struct metrics_sample *
sample_add(struct metrics_sink *sink, const char *const *label_values)
{
    struct sink_family *f = cur_family(sink);
    struct metrics_sample *s;
    size_t n;

    if (sink->failed)
        return NULL;
    if (f == NULL || (f->pub.n_labels > 0 && label_values == NULL)) {
        sink->dropped_invalid++;
        return NULL;
    }
    if (f->pub.n_samples >= f->max_samples) {
        sink->dropped_limit++;
        return NULL;
    }
    if (f->pub.n_samples == f->cap) {
        n = f->cap ? f->cap * 2 : 8;
        s = realloc(f->pub.samples, n * sizeof(*s));
        if (s == NULL) {
            sink->failed = true;
            return NULL;
        }
        f->pub.samples = s;
        f->cap = n;
    }
    s = &f->pub.samples[f->pub.n_samples];
    memset(s, 0, sizeof(*s));
    s->label_values = arena_strv(sink, label_values, f->pub.n_labels, true);
    if (s->label_values == NULL)
        return NULL;
    f->pub.n_samples++;
    return s;
}

int
metrics_sink_family(struct metrics_sink *sink,
                    enum metric_type type,
                    const char *name,
                    const char *help,
                    const char *const *label_names)
{
    size_t n_labels = 0;

    sink->cur = METRICS_NO_FAMILY;
    if (!metrics_family_valid(type, name, help, label_names, &n_labels))
        return DESKDB_EINVAL;
    if (family_start(sink, type, name, help, label_names, n_labels) == NULL)
        return DESKDB_ENOMEM;
    return DESKDB_OK;
}

void
metrics_sink_sample(struct metrics_sink *sink,
                    const char *const *label_values,
                    double value)
{
    struct sink_family *f = cur_family(sink);
    struct metrics_sample *s;

    /* an OpenMetrics counter total is never negative nor NaN */
    if (f != NULL && (f->pub.type == METRIC_HISTOGRAM ||
                      (f->pub.type == METRIC_COUNTER && !(value >= 0)))) {
        sink->dropped_invalid++;
        return;
    }
    s = sample_add(sink, label_values);
    if (s != NULL)
        s->value = value;
}

static bool
histogram_sample_valid(const struct metrics_snapshot_family *f,
                       const double *buckets,
                       const uint64_t *cumulative,
                       size_t n,
                       uint64_t count)
{
    size_t i;

    if (f->type != METRIC_HISTOGRAM || n == 0 || n > METRICS_MAX_BUCKETS ||
        buckets == NULL || cumulative == NULL)
        return false;
    if (f->n_buckets != 0 && f->n_buckets != n)
        return false;
    for (i = 0; i < n; i++) {
        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
            return false;
        if (i > 0 && cumulative[i] < cumulative[i - 1])
            return false;
        if (f->n_buckets != 0 && f->buckets[i] != buckets[i])
            return false;
    }
    return cumulative[n - 1] <= count;
}

void
metrics_sink_histogram(struct metrics_sink *sink,
                       const char *const *label_values,
                       const double *buckets,
                       const uint64_t *cumulative,
                       size_t n_buckets,
                       double sum,
                       uint64_t count)
{
    struct sink_family *f = cur_family(sink);
    struct metrics_sample *s;

    if (f != NULL && !histogram_sample_valid(&f->pub,
                                             buckets,
                                             cumulative,
                                             n_buckets,
                                             count)) {
        sink->dropped_invalid++;
        return;
    }
    s = sample_add(sink, label_values);
    if (s == NULL)
        return;
    if (f->pub.n_buckets == 0) {
        f->pub.buckets = metrics_arena_alloc(sink, n_buckets * sizeof(double));
        if (f->pub.buckets == NULL)
            return;
        memcpy(f->pub.buckets, buckets, n_buckets * sizeof(double));
        f->pub.n_buckets = n_buckets;
    }
    s->bucket_counts = metrics_arena_alloc(sink, n_buckets * sizeof(uint64_t));
    if (s->bucket_counts == NULL)
        return;
    memcpy(s->bucket_counts, cumulative, n_buckets * sizeof(uint64_t));
    s->sum = sum;
    s->count = count;
}

/* Read one series; histogram counts are made cumulative and the count is
 * their total, so the sample is consistent even while observations land. */
static void
series_read(struct metrics_sink *sink,
            const struct metric_family *f,
            struct metric *m,
            struct metrics_sample *s)
{
    uint64_t total = 0;
    size_t i;

    if (f->type != METRIC_HISTOGRAM) {
        s->value = metrics_bits_double(
            atomic_load_explicit(&m->bits, memory_order_relaxed));
        return;
    }
    s->bucket_counts =
        metrics_arena_alloc(sink, f->n_buckets * sizeof(uint64_t));
    if (s->bucket_counts == NULL)
        return;
    for (i = 0; i <= f->n_buckets; i++) {
        total += atomic_load_explicit(&m->counts[i], memory_order_relaxed);
        if (i < f->n_buckets)
            s->bucket_counts[i] = total;
    }
    s->count = total;
    s->sum = metrics_bits_double(
        atomic_load_explicit(&m->bits, memory_order_relaxed));
}

void
metrics_sink_copy_family(struct metrics_sink *sink, struct metric_family *f)
{
    struct sink_family *sf;
    struct metrics_sample *s;
    struct metric *m;
    size_t i;

    sf = family_start(sink,
                      f->type,
                      f->name,
                      f->help,
                      (const char *const *)f->label_names,
                      f->n_labels);
    if (sf == NULL)
        return;
    sf->max_samples = SIZE_MAX; /* capped when the series were created */
    if (f->type == METRIC_HISTOGRAM) {
        /* the family's buckets never change after registration */
        sf->pub.buckets =
            metrics_arena_alloc(sink, f->n_buckets * sizeof(double));
        if (sf->pub.buckets == NULL)
            return;
        memcpy(sf->pub.buckets, f->buckets, f->n_buckets * sizeof(double));
        sf->pub.n_buckets = f->n_buckets;
    }
    pthread_mutex_lock(&f->lock);
    for (i = 0; i < f->n_table && !sink->failed; i++) {
        for (m = f->table[i]; m != NULL && !sink->failed; m = m->hnext) {
            s = sample_add(sink, (const char *const *)m->labels);
            if (s != NULL)
                series_read(sink, f, m, s);
        }
    }
    pthread_mutex_unlock(&f->lock);
    sink->cur = METRICS_NO_FAMILY;
}

void
metrics_sink_add_dropped(struct metrics_sink *sink)
{
    static const char *const label_names[] = {"reason", NULL};
    size_t i;

    if (family_start(sink,
                     METRIC_COUNTER,
                     metrics_dropped_name,
                     dropped_help,
                     label_names,
                     1) == NULL)
        return;
    for (i = 0; i < 3; i++)
        sample_add(sink, &metrics_dropped_reasons[i]);
    sink->cur = METRICS_NO_FAMILY;
}

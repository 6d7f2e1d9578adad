/* SPDX-License-Identifier: MIT */
/* The recorder: a collector's families and samples, kept in an arena so
 * that one collection can be replayed into every scrape that shares it. */
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/collectors/internal.h"

#define REC_CHUNK (16 * 1024)

struct rec_chunk {
    struct rec_chunk *next;
    size_t used;
    size_t size;
    alignas(max_align_t) unsigned char data[];
};

struct rec_sample {
    const char **labels;
    double value;
};

struct rec_family {
    enum metric_type type;
    const char *name;
    const char *help;
    const char **label_names; /* NULL-terminated */
    size_t n_labels;
    struct rec_sample *samples;
    size_t n;
    size_t cap;
};

struct rec {
    _Atomic unsigned refs;
    size_t max_samples;
    size_t n_samples;
    struct rec_family *fams;
    size_t n_fams;
    size_t cap_fams;
    struct rec_chunk *chunks;
};

static void *
arena_alloc(struct rec *r, size_t size)
{
    struct rec_chunk *c = r->chunks;
    size_t align = alignof(max_align_t), want;
    void *p;

    size = (size + align - 1) & ~(align - 1);
    if (c == NULL || c->size - c->used < size) {
        want = size > REC_CHUNK ? size : REC_CHUNK;
        c = malloc(sizeof(*c) + want);
        if (c == NULL)
            return NULL;
        c->used = 0;
        c->size = want;
        c->next = r->chunks;
        r->chunks = c;
    }
    p = c->data + c->used;
    c->used += size;
    return p;
}

static const char *
arena_strdup(struct rec *r, const char *s)
{
    size_t n = strlen(s != NULL ? s : "");
    char *p = arena_alloc(r, n + 1);

    if (p != NULL && n > 0)
        memcpy(p, s, n);
    if (p != NULL)
        p[n] = '\0';
    return p;
}

/* A copy of `n` strings (NULL as ""), NULL-terminated. */
static const char **
arena_strv(struct rec *r, const char *const *v, size_t n)
{
    const char **out = arena_alloc(r, (n + 1) * sizeof(*out));
    size_t i;

    if (out == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        out[i] = arena_strdup(r, v != NULL ? v[i] : NULL);
        if (out[i] == NULL)
            return NULL;
    }
    out[n] = NULL;
    return out;
}

struct rec *
rec_create(size_t max_samples)
{
    struct rec *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    r->max_samples = max_samples;
    return r;
}

struct rec *
rec_ref(struct rec *r)
{
    if (r != NULL)
        atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void
rec_unref(struct rec *r)
{
    struct rec_chunk *c, *next;
    size_t i;

    if (r == NULL ||
        atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (i = 0; i < r->n_fams; i++)
        free(r->fams[i].samples);
    free(r->fams);
    for (c = r->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(r);
}

int
rec_family(struct rec *r,
           enum metric_type type,
           const char *name,
           const char *help,
           const char *const *label_names)
{
    struct rec_family *f;
    size_t n_labels = 0, n;

    while (label_names != NULL && label_names[n_labels] != NULL)
        n_labels++;
    if (n_labels > METRICS_MAX_LABELS)
        return DESKDB_EINVAL;
    if (r->n_fams == r->cap_fams) {
        n = r->cap_fams ? r->cap_fams * 2 : 16;
        f = realloc(r->fams, n * sizeof(*f));
        if (f == NULL)
            return DESKDB_ENOMEM;
        r->fams = f;
        r->cap_fams = n;
    }
    f = &r->fams[r->n_fams];
    memset(f, 0, sizeof(*f));
    f->type = type;
    f->n_labels = n_labels;
    f->name = arena_strdup(r, name);
    f->help = arena_strdup(r, help);
    f->label_names = arena_strv(r, label_names, n_labels);
    if (f->name == NULL || f->help == NULL || f->label_names == NULL)
        return DESKDB_ENOMEM;
    r->n_fams++;
    return DESKDB_OK;
}

int
rec_sample(struct rec *r, const char *const *label_values, double value)
{
    struct rec_family *f;
    struct rec_sample *s;
    size_t n;

    if (r->n_fams == 0)
        return DESKDB_EINVAL;
    if (r->n_samples >= r->max_samples)
        return DESKDB_EBUSY;
    f = &r->fams[r->n_fams - 1];
    if (f->n == f->cap) {
        n = f->cap ? f->cap * 2 : 8;
        s = realloc(f->samples, n * sizeof(*s));
        if (s == NULL)
            return DESKDB_ENOMEM;
        f->samples = s;
        f->cap = n;
    }
    s = &f->samples[f->n];
    s->value = value;
    s->labels = arena_strv(r, label_values, f->n_labels);
    if (s->labels == NULL)
        return DESKDB_ENOMEM;
    f->n++;
    r->n_samples++;
    return DESKDB_OK;
}

size_t
rec_samples(const struct rec *r)
{
    return r != NULL ? r->n_samples : 0;
}

void
rec_replay(const struct rec *r, struct metrics_sink *sink)
{
    const struct rec_family *f;
    size_t i, j;

    if (r == NULL)
        return;
    for (i = 0; i < r->n_fams; i++) {
        f = &r->fams[i];
        if (f->n == 0)
            continue;
        /* an invalid family is skipped and counted by the sink */
        if (metrics_sink_family(sink,
                                f->type,
                                f->name,
                                f->help,
                                f->label_names) != 0)
            continue;
        for (j = 0; j < f->n; j++)
            metrics_sink_sample(sink,
                                f->samples[j].labels,
                                f->samples[j].value);
    }
}

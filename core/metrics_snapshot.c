/* SPDX-License-Identifier: MIT */
/* Snapshots: copy the registry and the collectors' output into one sorted,
 * de-duplicated set of families that the writers can render as they are. */
#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>

#include "core/metrics_internal.h"

/* ---- finishing ---------------------------------------------------------- */

static int
labels_cmp(char *const *a, char *const *b)
{
    int c;

    for (; *a != NULL && *b != NULL; a++, b++) {
        c = strcmp(*a, *b);
        if (c != 0)
            return c;
    }
    return (*a != NULL) - (*b != NULL);
}

static int
sample_cmp(const void *a, const void *b)
{
    return labels_cmp(((const struct metrics_sample *)a)->label_values,
                      ((const struct metrics_sample *)b)->label_values);
}

static int
family_cmp(const void *a, const void *b)
{
    const struct sink_family *x = a;
    const struct sink_family *y = b;
    int c = strcmp(x->pub.name, y->pub.name);

    if (c != 0)
        return c;
    return (x->order > y->order) - (x->order < y->order);
}

static bool
families_compatible(const struct metrics_snapshot_family *a,
                    const struct metrics_snapshot_family *b)
{
    size_t i;

    if (a->type != b->type || a->n_labels != b->n_labels)
        return false;
    for (i = 0; i < a->n_labels; i++) {
        if (strcmp(a->label_names[i], b->label_names[i]) != 0)
            return false;
    }
    if (a->n_samples == 0 || b->n_samples == 0 || a->type != METRIC_HISTOGRAM)
        return true;
    if (a->n_buckets != b->n_buckets)
        return false;
    for (i = 0; i < a->n_buckets; i++) {
        if (a->buckets[i] != b->buckets[i])
            return false;
    }
    return true;
}

static void
family_drop(struct metrics_sink *sink, struct sink_family *f)
{
    sink->dropped_duplicate += f->pub.n_samples;
    free(f->pub.samples);
    f->pub.samples = NULL;
    f->pub.n_samples = 0;
    f->dropped = true;
}

/* Move the samples of `from` (same name, compatible) into `into`. */
static void
family_merge(struct metrics_sink *sink,
             struct sink_family *into,
             struct sink_family *from)
{
    size_t n = into->pub.n_samples + from->pub.n_samples;
    struct metrics_sample *s;

    if (!families_compatible(&into->pub, &from->pub)) {
        family_drop(sink, from);
        return;
    }
    if (n > into->cap) {
        s = realloc(into->pub.samples, n * sizeof(*s));
        if (s == NULL) {
            sink->failed = true;
            return;
        }
        into->pub.samples = s;
        into->cap = n;
    }
    if (from->pub.n_samples > 0)
        memcpy(into->pub.samples + into->pub.n_samples,
               from->pub.samples,
               from->pub.n_samples * sizeof(*s));
    /* buckets belong to the samples: an empty family takes the others' */
    if (into->pub.n_samples == 0 && from->pub.n_samples > 0) {
        into->pub.buckets = from->pub.buckets;
        into->pub.n_buckets = from->pub.n_buckets;
    }
    into->pub.n_samples = n;
    from->pub.n_samples = 0;
    family_drop(sink, from);
}

/* A stable merge sort, so that of two equal label sets the one added
 * first (the registry's, then the collectors' in order) is kept. */
static int
samples_sort(struct metrics_sample *v, size_t n)
{
    struct metrics_sample *tmp = malloc(n * sizeof(*tmp));
    size_t width;
    size_t lo;
    size_t mid;
    size_t hi;
    size_t a;
    size_t b;
    size_t k;

    if (tmp == NULL)
        return DESKDB_ENOMEM;
    for (width = 1; width < n; width *= 2) {
        for (lo = 0; lo < n; lo += 2 * width) {
            mid = lo + width < n ? lo + width : n;
            hi = lo + 2 * width < n ? lo + 2 * width : n;
            a = lo;
            b = mid;
            k = lo;
            while (a < mid && b < hi)
                tmp[k++] = sample_cmp(&v[b], &v[a]) < 0 ? v[b++] : v[a++];
            while (a < mid)
                tmp[k++] = v[a++];
            while (b < hi)
                tmp[k++] = v[b++];
        }
        memcpy(v, tmp, n * sizeof(*v));
    }
    free(tmp);
    return DESKDB_OK;
}

/* Sort the samples and drop repeated label sets (the first one stays). */
static void
samples_dedup(struct metrics_sink *sink, struct metrics_snapshot_family *f)
{
    size_t i;
    size_t out = 0;

    if (f->n_samples < 2)
        return;
    if (samples_sort(f->samples, f->n_samples) != DESKDB_OK) {
        sink->failed = true;
        return;
    }
    for (i = 0; i < f->n_samples; i++) {
        if (out > 0 && sample_cmp(&f->samples[out - 1], &f->samples[i]) == 0) {
            sink->dropped_duplicate++;
            continue;
        }
        f->samples[out++] = f->samples[i];
    }
    f->n_samples = out;
}

struct owned_name {
    const char *name;
    size_t order; /* the family's; the lowest keeps a clashing name */
    size_t family;
};

static int
owned_cmp(const void *a, const void *b)
{
    const struct owned_name *x = a;
    const struct owned_name *y = b;
    int c = strcmp(x->name, y->name);

    if (c != 0)
        return c;
    return (x->order > y->order) - (x->order < y->order);
}

/* Every sample name and OpenMetrics family name a family can produce. */
static size_t
family_owned_names(struct metrics_sink *sink,
                   const struct metrics_snapshot_family *f,
                   const char *out[5])
{
    static const char *const counter[] = {"", "_total", "_created"};
    static const char *const histogram[] = {"",
                                            "_bucket",
                                            "_count",
                                            "_sum",
                                            "_created"};
    const char *const *suffixes = histogram;
    size_t base = strlen(f->name);
    size_t n = 5;
    size_t i;
    char *p;

    if (f->type == METRIC_GAUGE) {
        out[0] = f->name;
        return 1;
    }
    if (f->type == METRIC_COUNTER) {
        suffixes = counter;
        n = 3;
        base -= strlen("_total");
    }
    for (i = 0; i < n; i++) {
        p = metrics_arena_alloc(sink, base + strlen(suffixes[i]) + 1);
        if (p == NULL)
            return 0;
        memcpy(p, f->name, base);
        strcpy(p + base, suffixes[i]);
        out[i] = p;
    }
    return n;
}

/* Drop a family whose sample names collide with those of a family added
 * before it (gauge foo_sum and histogram foo, gauge foo and counter
 * foo_total): the output would be ambiguous. */
static void
families_check_clashes(struct metrics_sink *sink)
{
    struct owned_name *names;
    const char *mine[5];
    size_t n = 0;
    size_t i;
    size_t k;

    names = malloc((sink->n_families + 1) * 5 * sizeof(*names));
    if (names == NULL) {
        sink->failed = true;
        return;
    }
    for (i = 0; i < sink->n_families; i++) {
        if (sink->families[i].dropped)
            continue;
        k = family_owned_names(sink, &sink->families[i].pub, mine);
        while (k-- > 0)
            names[n++] =
                (struct owned_name){mine[k], sink->families[i].order, i};
    }
    qsort(names, n, sizeof(*names), owned_cmp);
    for (i = 1; i < n; i++) {
        k = names[i].family;
        if (strcmp(names[i - 1].name, names[i].name) == 0 &&
            names[i - 1].family != k && !sink->families[k].dropped)
            family_drop(sink, &sink->families[k]);
    }
    free(names);
}

static void
dropped_family_patch(struct metrics *m,
                     const struct metrics_sink *sink,
                     struct metrics_snapshot *snap)
{
    struct metrics_snapshot_family *f;
    uint64_t total[3];
    size_t i;
    size_t k;

    total[0] = atomic_fetch_add_explicit(&m->dropped_duplicate,
                                         sink->dropped_duplicate,
                                         memory_order_relaxed) +
               sink->dropped_duplicate;
    total[1] = atomic_fetch_add_explicit(&m->dropped_invalid,
                                         sink->dropped_invalid,
                                         memory_order_relaxed) +
               sink->dropped_invalid;
    total[2] = atomic_fetch_add_explicit(&m->dropped_limit,
                                         sink->dropped_limit,
                                         memory_order_relaxed) +
               sink->dropped_limit;
    f = (struct metrics_snapshot_family *)metrics_snapshot_find(
        snap,
        metrics_dropped_name);
    for (i = 0; f != NULL && i < f->n_samples; i++) {
        for (k = 0; k < 3; k++) {
            if (strcmp(f->samples[i].label_values[0],
                       metrics_dropped_reasons[k]) == 0)
                f->samples[i].value = (double)total[k];
        }
    }
}

/* Sort, merge, de-duplicate and publish what the sink collected. */
static int
sink_finish(struct metrics *m, struct metrics_sink *sink)
{
    struct metrics_snapshot *snap = &sink->snap->pub;
    struct sink_family *fam = sink->families;
    size_t n = sink->n_families;
    size_t i;
    size_t j;

    if (sink->failed)
        return DESKDB_ENOMEM;
    qsort(fam, n, sizeof(*fam), family_cmp);
    for (i = 0; i < n; i = j) {
        for (j = i + 1; j < n && strcmp(fam[i].pub.name, fam[j].pub.name) == 0;
             j++)
            family_merge(sink, &fam[i], &fam[j]);
    }
    for (i = 0; i < n; i++) {
        samples_dedup(sink, &fam[i].pub);
        if (fam[i].pub.n_samples == 0)
            fam[i].dropped = true; /* nothing to show; not a dropped series */
    }
    families_check_clashes(sink);
    if (sink->failed)
        return DESKDB_ENOMEM;
    snap->families = calloc(n > 0 ? n : 1, sizeof(*snap->families));
    if (snap->families == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < n; i++) {
        if (fam[i].dropped) {
            free(fam[i].pub.samples);
            continue;
        }
        snap->families[snap->n_families++] = fam[i].pub;
    }
    sink->n_families = 0; /* the samples now belong to the snapshot */
    snap->dropped_duplicate = sink->dropped_duplicate;
    snap->dropped_invalid = sink->dropped_invalid;
    dropped_family_patch(m, sink, snap);
    return DESKDB_OK;
}

/* Copy the family and collector lists; collectors are marked busy so that
 * metrics_remove_collector() waits for us. */
static int
registry_list(struct metrics *m,
              struct metric_family ***families,
              size_t *n_families,
              struct metrics_collector ***collectors,
              size_t *n_collectors)
{
    struct metric_family *f;
    struct metrics_collector *c;
    size_t n = 0;
    int rc = DESKDB_OK;

    pthread_mutex_lock(&m->lock);
    for (c = m->collectors; c != NULL; c = c->next)
        n++;
    *families = malloc((m->n_families + 1) * sizeof(**families));
    *collectors = malloc((n + 1) * sizeof(**collectors));
    if (*families == NULL || *collectors == NULL) {
        rc = DESKDB_ENOMEM;
        goto out;
    }
    *n_families = 0;
    for (f = m->families; f != NULL; f = f->next)
        (*families)[(*n_families)++] = f;
    *n_collectors = 0;
    for (c = m->collectors; c != NULL; c = c->next) {
        c->busy++;
        (*collectors)[(*n_collectors)++] = c;
    }
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void
collector_release(struct metrics *m, struct metrics_collector *c)
{
    pthread_mutex_lock(&m->lock);
    if (--c->busy == 0)
        pthread_cond_broadcast(&m->idle);
    pthread_mutex_unlock(&m->lock);
}

static void
sink_free(struct metrics_sink *sink)
{
    size_t i;

    for (i = 0; i < sink->n_families; i++)
        free(sink->families[i].pub.samples);
    free(sink->families);
}

struct metrics_snapshot *
metrics_snapshot_create(struct metrics *m,
                        metrics_collect_fn extra,
                        void *extra_arg)
{
    struct metrics_sink sink = {.cur = METRICS_NO_FAMILY};
    struct metric_family **families = NULL;
    struct metrics_collector **collectors = NULL;
    size_t n_families = 0;
    size_t n_collectors = 0;
    size_t i;
    int rc = DESKDB_ENOMEM;

    if (m == NULL)
        return NULL;
    sink.snap = calloc(1, sizeof(*sink.snap));
    if (sink.snap == NULL)
        return NULL;
    metrics_sink_add_dropped(&sink);
    if (registry_list(m, &families, &n_families, &collectors, &n_collectors) !=
        0)
        goto out;
    for (i = 0; i < n_families; i++)
        metrics_sink_copy_family(&sink, families[i]);
    for (i = 0; i < n_collectors; i++) {
        if (!sink.failed)
            collectors[i]->fn(collectors[i]->arg, &sink);
        sink.cur = METRICS_NO_FAMILY;
        collector_release(m, collectors[i]);
    }
    if (extra != NULL && !sink.failed)
        extra(extra_arg, &sink);
    rc = sink_finish(m, &sink);
out:
    free(families);
    free(collectors);
    sink_free(&sink);
    if (rc != DESKDB_OK) {
        metrics_snapshot_destroy(&sink.snap->pub);
        return NULL;
    }
    return &sink.snap->pub;
}

void
metrics_snapshot_destroy(struct metrics_snapshot *snap)
{
    struct snapshot_impl *impl = (struct snapshot_impl *)snap;
    struct arena_chunk *c;
    struct arena_chunk *next;
    size_t i;

    if (snap == NULL)
        return;
    for (i = 0; i < snap->n_families; i++)
        free(snap->families[i].samples);
    free(snap->families);
    for (c = impl->chunks; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(impl);
}

const struct metrics_snapshot_family *
metrics_snapshot_find(const struct metrics_snapshot *snap, const char *name)
{
    size_t lo = 0;
    size_t hi;
    size_t mid;
    int c;

    if (snap == NULL || name == NULL)
        return NULL;
    hi = snap->n_families;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(snap->families[mid].name, name);
        if (c == 0)
            return &snap->families[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

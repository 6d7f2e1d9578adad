/* SPDX-License-Identifier: MIT */
/* The metrics registry: families, series created on first use, lock-free
 * updates and scrape-time collectors (snapshots are in metrics_snapshot.c). */
#include "core/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/metrics_internal.h"

#define TABLE_INITIAL 8

/* ---- names and text ---------------------------------------------------- */

static bool
name_char(char c, bool first)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    return !first && c >= '0' && c <= '9';
}

bool
metrics_name_valid(const char *name)
{
    size_t i;

    if (name == NULL || name[0] == '\0')
        return false;
    for (i = 0; name[i] != '\0'; i++) {
        if (!name_char(name[i], i == 0))
            return false;
    }
    return true;
}

bool
metrics_label_name_valid(const char *name)
{
    return metrics_name_valid(name) && strncmp(name, "__", 2) != 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s);
    size_t k = strlen(suffix);

    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool
name_fits_type(enum metric_type type, const char *name)
{
    bool total = ends_with(name, "_total");

    if (type == METRIC_COUNTER) {
        /* the OpenMetrics family name (without _total) must stay valid */
        return total && strlen(name) > strlen("_total");
    }
    if (total)
        return false;
    if (type == METRIC_HISTOGRAM)
        return true;
    return !ends_with(name, "_bucket") && !ends_with(name, "_count") &&
           !ends_with(name, "_sum");
}

bool
metrics_family_valid(enum metric_type type,
                     const char *name,
                     const char *help,
                     const char *const *label_names,
                     size_t *n_labels)
{
    size_t i;
    size_t j;
    size_t n = 0;

    if (type != METRIC_COUNTER && type != METRIC_GAUGE &&
        type != METRIC_HISTOGRAM)
        return false;
    if (!metrics_name_valid(name) || !name_fits_type(type, name))
        return false;
    if (help == NULL || help[0] == '\0')
        return false;
    while (label_names != NULL && label_names[n] != NULL) {
        if (n == METRICS_MAX_LABELS)
            return false;
        if (!metrics_label_name_valid(label_names[n]) ||
            strcmp(label_names[n], "le") == 0 ||
            strcmp(label_names[n], "quantile") == 0)
            return false;
        n++;
    }
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if (strcmp(label_names[i], label_names[j]) == 0)
                return false;
        }
    }
    *n_labels = n;
    return true;
}

/* Length of the valid UTF-8 sequence at `s`, or 0 if it is invalid. */
static size_t
utf8_seq(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t n;
    size_t i;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4;
    else
        return 0;
    /* the second byte excludes overlong forms, surrogates and > U+10FFFF */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

size_t
metrics_utf8_clean(const char *s, char *out)
{
    static const char replacement[] = "\xEF\xBF\xBD";
    const unsigned char *p = (const unsigned char *)s;
    size_t len = 0;
    size_t n;
    bool in_bad = false;

    while (*p != '\0') {
        n = utf8_seq(p);
        if (n == 0) {
            /* one replacement character per run of bad bytes */
            if (!in_bad) {
                if (out != NULL)
                    memcpy(out + len, replacement, 3);
                len += 3;
            }
            in_bad = true;
            p++;
            continue;
        }
        if (out != NULL)
            memcpy(out + len, p, n);
        len += n;
        p += n;
        in_bad = false;
    }
    if (out != NULL)
        out[len] = '\0';
    return len;
}

static char *
utf8_dup(const char *s)
{
    char *out = malloc(metrics_utf8_clean(s, NULL) + 1);

    if (out != NULL)
        metrics_utf8_clean(s, out);
    return out;
}

static bool
utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    while (*p != '\0') {
        n = utf8_seq(p);
        if (n == 0)
            return false;
        p += n;
    }
    return true;
}

/* ---- registry ----------------------------------------------------------- */

struct metrics *
metrics_create(void)
{
    struct metrics *m = calloc(1, sizeof(*m));

    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    if (pthread_cond_init(&m->idle, NULL) != 0) {
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    m->families_tail = &m->families;
    return m;
}

static void
family_free(struct metric_family *f)
{
    struct metric *s;
    struct metric *next;
    size_t i;

    for (i = 0; i < f->n_table; i++) {
        for (s = f->table[i]; s != NULL; s = next) {
            next = s->hnext;
            free(s);
        }
    }
    for (s = f->removed; s != NULL; s = next) {
        next = s->hnext;
        free(s);
    }
    for (i = 0; i < f->n_labels; i++)
        free(f->label_names[i]);
    free(f->table);
    free(f->name);
    free(f->help);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void
metrics_destroy(struct metrics *m)
{
    struct metric_family *f;
    struct metric_family *fnext;
    struct metrics_collector *c;
    struct metrics_collector *cnext;

    if (m == NULL)
        return;
    for (f = m->families; f != NULL; f = fnext) {
        fnext = f->next;
        family_free(f);
    }
    for (c = m->collectors; c != NULL; c = cnext) {
        cnext = c->next;
        free(c);
    }
    pthread_cond_destroy(&m->idle);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static bool
buckets_valid(const double *buckets, size_t n)
{
    size_t i;

    if (n == 0 || n > METRICS_MAX_BUCKETS || buckets == NULL)
        return false;
    for (i = 0; i < n; i++) {
        if (!isfinite(buckets[i]) || (i > 0 && buckets[i] <= buckets[i - 1]))
            return false;
    }
    return true;
}

static bool
family_matches(const struct metric_family *f,
               enum metric_type type,
               const char *const *label_names,
               size_t n_labels,
               const double *buckets,
               size_t n_buckets)
{
    size_t i;

    if (f->type != type || f->n_labels != n_labels)
        return false;
    for (i = 0; i < n_labels; i++) {
        if (strcmp(f->label_names[i], label_names[i]) != 0)
            return false;
    }
    if (type != METRIC_HISTOGRAM)
        return true;
    if (f->n_buckets != n_buckets)
        return false;
    for (i = 0; i < n_buckets; i++) {
        if (f->buckets[i] != buckets[i])
            return false;
    }
    return true;
}

static struct metric_family *
family_new(struct metrics *m,
           enum metric_type type,
           const char *name,
           const char *help,
           const char *const *label_names,
           size_t n_labels,
           const double *buckets,
           size_t n_buckets)
{
    struct metric_family *f = calloc(1, sizeof(*f));
    size_t i;

    if (f == NULL)
        return NULL;
    if (pthread_mutex_init(&f->lock, NULL) != 0) {
        free(f);
        return NULL;
    }
    f->type = type;
    f->dropped_limit = &m->dropped_limit;
    atomic_init(&f->max_series, METRICS_DEFAULT_MAX_SERIES);
    f->name = strdup(name);
    f->help = utf8_dup(help);
    f->table = calloc(TABLE_INITIAL, sizeof(*f->table));
    f->n_table = TABLE_INITIAL;
    for (i = 0; i < n_labels; i++) {
        f->label_names[i] = strdup(label_names[i]);
        f->n_labels = i + 1;
        if (f->label_names[i] == NULL)
            break;
    }
    if (f->name == NULL || f->help == NULL || f->table == NULL ||
        (n_labels > 0 && f->label_names[n_labels - 1] == NULL)) {
        family_free(f);
        return NULL;
    }
    if (type == METRIC_HISTOGRAM) {
        memcpy(f->buckets, buckets, n_buckets * sizeof(*buckets));
        f->n_buckets = n_buckets;
    }
    return f;
}

struct metric_family *
metrics_family(struct metrics *m,
               enum metric_type type,
               const char *name,
               const char *help,
               const char *const *label_names,
               const double *buckets,
               size_t n_buckets)
{
    struct metric_family *f;
    size_t n_labels = 0;

    if (m == NULL ||
        !metrics_family_valid(type, name, help, label_names, &n_labels))
        return NULL;
    if (type == METRIC_HISTOGRAM && !buckets_valid(buckets, n_buckets))
        return NULL;
    pthread_mutex_lock(&m->lock);
    for (f = m->families; f != NULL; f = f->next) {
        if (strcmp(f->name, name) == 0)
            break;
    }
    if (f != NULL) {
        if (!family_matches(f, type, label_names, n_labels, buckets, n_buckets))
            f = NULL;
    } else {
        f = family_new(m,
                       type,
                       name,
                       help,
                       label_names,
                       n_labels,
                       buckets,
                       n_buckets);
        if (f != NULL) {
            *m->families_tail = f;
            m->families_tail = &f->next;
            m->n_families++;
        }
    }
    pthread_mutex_unlock(&m->lock);
    return f;
}

void
metrics_family_set_max_series(struct metric_family *f, size_t max)
{
    if (f != NULL)
        atomic_store_explicit(&f->max_series, max, memory_order_relaxed);
}

/* ---- series ------------------------------------------------------------- */

static uint64_t
labels_hash(const char *const *values, size_t n)
{
    uint64_t h = UINT64_C(14695981039346656037);
    const unsigned char *p;
    size_t i;

    for (i = 0; i < n; i++) {
        for (p = (const unsigned char *)values[i]; *p != '\0'; p++)
            h = (h ^ *p) * UINT64_C(1099511628211);
        h = (h ^ 0xFF) * UINT64_C(1099511628211); /* 0xFF is never UTF-8 */
    }
    return h;
}

static bool
labels_equal(const struct metric *s, const char *const *values, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(s->labels[i], values[i]) != 0)
            return false;
    }
    return true;
}

static void
table_grow(struct metric_family *f)
{
    size_t n = f->n_table * 2;
    struct metric **t = calloc(n, sizeof(*t));
    struct metric *s;
    struct metric *next;
    size_t i;

    if (t == NULL)
        return; /* longer chains, still correct */
    for (i = 0; i < f->n_table; i++) {
        for (s = f->table[i]; s != NULL; s = next) {
            next = s->hnext;
            s->hnext = t[s->hash % n];
            t[s->hash % n] = s;
        }
    }
    free(f->table);
    f->table = t;
    f->n_table = n;
}

static struct metric *
series_new(struct metric_family *f, const char *const *values, uint64_t hash)
{
    size_t n_counts = f->type == METRIC_HISTOGRAM ? f->n_buckets + 1 : 0;
    size_t head = sizeof(struct metric) + n_counts * sizeof(uint64_t);
    size_t text = 0;
    struct metric *s;
    char *p;
    size_t i;

    for (i = 0; i < f->n_labels; i++)
        text += strlen(values[i]) + 1;
    s = calloc(1, head + text);
    if (s == NULL)
        return NULL;
    s->family = f;
    s->hash = hash;
    atomic_init(&s->bits, metrics_double_bits(0.0));
    for (i = 0; i < n_counts; i++)
        atomic_init(&s->counts[i], 0);
    p = (char *)s + head;
    for (i = 0; i < f->n_labels; i++) {
        s->labels[i] = p;
        p = stpcpy(p, values[i]) + 1;
    }
    return s;
}

static struct metric *
series_get(struct metric_family *f, const char *const *values)
{
    uint64_t hash = labels_hash(values, f->n_labels);
    struct metric *s;

    pthread_mutex_lock(&f->lock);
    for (s = f->table[hash % f->n_table]; s != NULL; s = s->hnext) {
        if (s->hash == hash && labels_equal(s, values, f->n_labels))
            goto out;
    }
    if (f->n_series >=
        atomic_load_explicit(&f->max_series, memory_order_relaxed)) {
        atomic_fetch_add_explicit(f->dropped_limit, 1, memory_order_relaxed);
        goto out;
    }
    s = series_new(f, values, hash);
    if (s == NULL)
        goto out;
    if (f->n_series >= f->n_table)
        table_grow(f);
    s->hnext = f->table[hash % f->n_table];
    f->table[hash % f->n_table] = s;
    f->n_series++;
out:
    pthread_mutex_unlock(&f->lock);
    return s;
}

struct metric *
metric_series(struct metric_family *f, const char *const *label_values)
{
    const char *values[METRICS_MAX_LABELS];
    char *clean[METRICS_MAX_LABELS] = {NULL};
    struct metric *s = NULL;
    size_t i;

    if (f == NULL || (f->n_labels > 0 && label_values == NULL))
        return NULL;
    for (i = 0; i < f->n_labels; i++) {
        values[i] = label_values[i] != NULL ? label_values[i] : "";
        /* look up by the stored (cleaned) form so bad bytes cannot create
         * two series that render the same */
        if (!utf8_valid(values[i])) {
            clean[i] = utf8_dup(values[i]);
            if (clean[i] == NULL)
                goto out;
            values[i] = clean[i];
        }
    }
    s = series_get(f, values);
out:
    for (i = 0; i < f->n_labels; i++)
        free(clean[i]);
    return s;
}

void
metric_series_remove(struct metric *s)
{
    struct metric_family *f;
    struct metric **p;

    if (s == NULL)
        return;
    f = s->family;
    pthread_mutex_lock(&f->lock);
    for (p = &f->table[s->hash % f->n_table]; !s->removed && *p != NULL;
         p = &(*p)->hnext) {
        if (*p != s)
            continue;
        *p = s->hnext;
        s->hnext = f->removed;
        f->removed = s;
        s->removed = true;
        f->n_series--;
        break;
    }
    pthread_mutex_unlock(&f->lock);
}

struct metric *
metrics_counter(struct metrics *m, const char *name, const char *help)
{
    return metric_series(
        metrics_family(m, METRIC_COUNTER, name, help, NULL, NULL, 0),
        NULL);
}

struct metric *
metrics_gauge(struct metrics *m, const char *name, const char *help)
{
    return metric_series(
        metrics_family(m, METRIC_GAUGE, name, help, NULL, NULL, 0),
        NULL);
}

struct metric *
metrics_histogram(struct metrics *m,
                  const char *name,
                  const char *help,
                  const double *buckets,
                  size_t n_buckets)
{
    return metric_series(metrics_family(m,
                                        METRIC_HISTOGRAM,
                                        name,
                                        help,
                                        NULL,
                                        buckets,
                                        n_buckets),
                         NULL);
}

/* ---- updates ------------------------------------------------------------ */

static void
bits_add(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);

    while (!atomic_compare_exchange_weak_explicit(
        bits,
        &old,
        metrics_double_bits(metrics_bits_double(old) + v),
        memory_order_relaxed,
        memory_order_relaxed))
        ;
}

void
metric_inc(struct metric *s)
{
    metric_add(s, 1.0);
}

void
metric_add(struct metric *s, double v)
{
    if (s == NULL || s->family->type == METRIC_HISTOGRAM)
        return;
    /* counters only go up: negative, zero and NaN amounts are ignored */
    if (s->family->type == METRIC_COUNTER && !(v > 0))
        return;
    bits_add(&s->bits, v);
}

void
metric_set(struct metric *s, double v)
{
    uint64_t old;

    if (s == NULL || s->family->type == METRIC_HISTOGRAM)
        return;
    if (s->family->type == METRIC_GAUGE) {
        atomic_store_explicit(&s->bits,
                              metrics_double_bits(v),
                              memory_order_relaxed);
        return;
    }
    /* a counter is only ever raised */
    old = atomic_load_explicit(&s->bits, memory_order_relaxed);
    while (v > metrics_bits_double(old) &&
           !atomic_compare_exchange_weak_explicit(&s->bits,
                                                  &old,
                                                  metrics_double_bits(v),
                                                  memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void
metric_observe(struct metric *s, double v)
{
    const struct metric_family *f;
    size_t lo = 0;
    size_t hi;
    size_t mid;

    if (s == NULL || s->family->type != METRIC_HISTOGRAM || isnan(v))
        return;
    f = s->family;
    /* first bucket whose upper bound is >= v, else the +Inf slot */
    hi = f->n_buckets;
    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        if (v <= f->buckets[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
    bits_add(&s->bits, v);
}

double
metric_value(const struct metric *s)
{
    uint64_t total = 0;
    size_t i;

    if (s == NULL)
        return 0.0;
    if (s->family->type != METRIC_HISTOGRAM)
        return metrics_bits_double(
            atomic_load_explicit(&s->bits, memory_order_relaxed));
    for (i = 0; i <= s->family->n_buckets; i++)
        total += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    return (double)total;
}

/* ---- collectors --------------------------------------------------------- */

int
metrics_add_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
    struct metrics_collector *c;
    struct metrics_collector **tail;

    if (m == NULL || fn == NULL)
        return DESKDB_EINVAL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return DESKDB_ENOMEM;
    c->fn = fn;
    c->arg = arg;
    pthread_mutex_lock(&m->lock);
    for (tail = &m->collectors; *tail != NULL; tail = &(*tail)->next)
        ;
    *tail = c;
    pthread_mutex_unlock(&m->lock);
    return DESKDB_OK;
}

void
metrics_remove_collector(struct metrics *m, metrics_collect_fn fn, void *arg)
{
    struct metrics_collector **pp;
    struct metrics_collector *c = NULL;

    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    for (pp = &m->collectors; *pp != NULL; pp = &(*pp)->next) {
        if ((*pp)->fn == fn && (*pp)->arg == arg) {
            c = *pp;
            *pp = c->next;
            break;
        }
    }
    /* a snapshot may still be running it; `arg` must outlive that */
    while (c != NULL && c->busy > 0)
        pthread_cond_wait(&m->idle, &m->lock);
    pthread_mutex_unlock(&m->lock);
    free(c);
}

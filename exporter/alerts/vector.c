/* SPDX-License-Identifier: MIT */
/* Evaluating a parsed expression over a metrics snapshot: selection,
 * rate/increase from the history, aggregation and the comparison. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "exporter/alerts/eval.h"
#include "exporter/alerts/expr_internal.h"

void
expr_result_fini(struct expr_result *r)
{
    size_t i;

    if (r == NULL)
        return;
    for (i = 0; i < r->n; i++)
        notify_labels_free(r->samples[i].labels, r->samples[i].n_labels);
    free(r->samples);
    memset(r, 0, sizeof(*r));
}

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct notify_label *)a)->name,
                  ((const struct notify_label *)b)->name);
}

/* Append a sample; `labels` (name/value pairs, "" values skipped) are
 * copied and sorted. */
static int
push(struct expr_result *r,
     const char *const *names,
     const char *const *values,
     size_t n,
     double value)
{
    struct expr_sample *grown, *s;
    size_t i;

    if (r->n >= EXPR_MAX_SERIES) {
        r->truncated = true;
        return DESKDB_OK;
    }
    grown = realloc(r->samples, (r->n + 1) * sizeof(*grown));
    if (grown == NULL)
        return DESKDB_ENOMEM;
    r->samples = grown;
    s = &grown[r->n];
    memset(s, 0, sizeof(*s));
    s->value = value;
    s->labels = calloc(n + 1, sizeof(*s->labels));
    if (s->labels == NULL)
        return DESKDB_ENOMEM;
    r->n++;
    for (i = 0; i < n; i++) {
        if (values[i] == NULL || values[i][0] == '\0')
            continue;
        s->labels[s->n_labels].name = strdup(names[i]);
        s->labels[s->n_labels].value = strdup(values[i]);
        s->n_labels++;
        if (s->labels[s->n_labels - 1].name == NULL ||
            s->labels[s->n_labels - 1].value == NULL)
            return DESKDB_ENOMEM;
    }
    qsort(s->labels, s->n_labels, sizeof(*s->labels), label_cmp);
    return DESKDB_OK;
}

static bool
matches(const struct expr_node *sel,
        const char *const *names,
        const char *const *values,
        size_t n)
{
    size_t i, j;

    for (i = 0; i < sel->n_matchers; i++) {
        const struct expr_matcher *m = &sel->matchers[i];
        const char *v = "";
        bool hit;

        if (strcmp(m->label, "__name__") == 0)
            continue;
        for (j = 0; j < n; j++) {
            if (strcmp(names[j], m->label) == 0 && values[j] != NULL)
                v = values[j];
        }
        if (m->op == MATCH_EQ || m->op == MATCH_NE)
            hit = strcmp(v, m->value) == 0;
        else
            hit = regexec(&m->re, v, 0, NULL, 0) == 0;
        if (hit != (m->op == MATCH_EQ || m->op == MATCH_RE))
            return false;
    }
    return true;
}

enum hist_part { PART_NONE, PART_BUCKET, PART_COUNT, PART_SUM };

/* The family a selector reads, and which part of a histogram. */
static const struct metrics_snapshot_family *
find_family(const struct metrics_snapshot *snap,
            const char *metric,
            enum hist_part *part)
{
    static const struct {
        const char *suffix;
        enum hist_part part;
    } parts[] = {{"_bucket", PART_BUCKET},
                 {"_count", PART_COUNT},
                 {"_sum", PART_SUM}};
    const struct metrics_snapshot_family *f;
    size_t len = strlen(metric), i, sl;
    char base[256];

    *part = PART_NONE;
    f = metrics_snapshot_find(snap, metric);
    if (f != NULL)
        return f->type == METRIC_HISTOGRAM ? NULL : f;
    for (i = 0; i < 3; i++) {
        sl = strlen(parts[i].suffix);
        if (len <= sl || len - sl >= sizeof(base) ||
            strcmp(metric + len - sl, parts[i].suffix) != 0)
            continue;
        memcpy(base, metric, len - sl);
        base[len - sl] = '\0';
        f = metrics_snapshot_find(snap, base);
        if (f != NULL && f->type == METRIC_HISTOGRAM) {
            *part = parts[i].part;
            return f;
        }
    }
    return NULL;
}

static int
select_histogram(const struct expr_node *sel,
                 const struct metrics_snapshot_family *f,
                 const struct metrics_sample *s,
                 enum hist_part part,
                 struct expr_result *out)
{
    const char *names[METRICS_MAX_LABELS + 1], *values[METRICS_MAX_LABELS + 1];
    size_t n = f->n_labels, b;
    char le[32];
    int rc = DESKDB_OK;

    memcpy(names, f->label_names, n * sizeof(names[0]));
    memcpy(values, s->label_values, n * sizeof(values[0]));
    if (part != PART_BUCKET) {
        if (!matches(sel, names, values, n))
            return DESKDB_OK;
        return push(out,
                    names,
                    values,
                    n,
                    part == PART_SUM ? s->sum : (double)s->count);
    }
    names[n] = "le";
    values[n] = le;
    for (b = 0; rc == DESKDB_OK && b <= f->n_buckets; b++) {
        if (b < f->n_buckets)
            alerts_format_value(f->buckets[b], le);
        else
            strcpy(le, "+Inf");
        if (matches(sel, names, values, n + 1))
            rc = push(
                out,
                names,
                values,
                n + 1,
                (double)(b < f->n_buckets ? s->bucket_counts[b] : s->count));
    }
    return rc;
}

static int
select_series(const struct expr_node *sel,
              const struct metrics_snapshot *snap,
              struct expr_result *out)
{
    const struct metrics_snapshot_family *f;
    enum hist_part part;
    size_t i;
    int rc = DESKDB_OK;

    f = find_family(snap, sel->metric, &part);
    for (i = 0; f != NULL && rc == DESKDB_OK && i < f->n_samples; i++) {
        const struct metrics_sample *s = &f->samples[i];
        const char *const *names = (const char *const *)f->label_names;
        const char *const *values = (const char *const *)s->label_values;

        if (part != PART_NONE)
            rc = select_histogram(sel, f, s, part, out);
        else if (matches(sel, names, values, f->n_labels))
            rc = push(out, names, values, f->n_labels, s->value);
    }
    return rc;
}

/* "name\xffvalue\xff..." of sorted labels: a series' identity. */
static int
series_key(struct buf *b, const struct notify_label *l, size_t n)
{
    size_t i;
    int rc = DESKDB_OK;

    buf_reset(b);
    for (i = 0; rc == DESKDB_OK && i < n; i++)
        rc = buf_printf(b, "%s\xff%s\xff", l[i].name, l[i].value);
    return rc == DESKDB_OK && b->data == NULL ? buf_puts(b, "") : rc;
}

static int
apply_function(const struct expr_node *fn,
               struct expr_history *h,
               int64_t now,
               struct expr_result *in,
               struct expr_result *out)
{
    struct buf key;
    double inc;
    int64_t span;
    size_t i;
    int rc = DESKDB_OK;

    buf_init(&key, 64 * 1024);
    for (i = 0; rc == DESKDB_OK && i < in->n; i++) {
        struct expr_sample *s = &in->samples[i];

        rc = series_key(&key, s->labels, s->n_labels);
        if (rc != DESKDB_OK)
            break;
        if (!expr_history_observe(h, key.data, s->value, now, &inc, &span)) {
            out->truncated = true;
            continue;
        }
        if (span <= 0)
            continue;
        s->value = fn->fn == FN_RATE ? inc / ((double)span / 1e9) : inc;
        /* Move the sample over: out takes the labels. */
        rc = push(out, NULL, NULL, 0, s->value);
        if (rc == DESKDB_OK) {
            free(out->samples[out->n - 1].labels);
            out->samples[out->n - 1].labels = s->labels;
            out->samples[out->n - 1].n_labels = s->n_labels;
            s->labels = NULL;
            s->n_labels = 0;
        }
    }
    buf_fini(&key);
    expr_history_gc(h, now);
    return rc;
}

static int eval_node(const struct expr_node *n,
                     const struct metrics_snapshot *snap,
                     struct expr_history *h,
                     int64_t now,
                     struct expr_result *out);

static int apply_aggregation(const struct expr_node *n,
                             struct expr_result *in,
                             struct expr_result *out);

static int
eval_node(const struct expr_node *n,
          const struct metrics_snapshot *snap,
          struct expr_history *h,
          int64_t now,
          struct expr_result *out)
{
    struct expr_result inner = {0};
    int rc;

    if (n->kind == NODE_SELECT)
        return select_series(n, snap, out);
    rc = eval_node(n->child, snap, h, now, &inner);
    if (rc == DESKDB_OK && n->kind == NODE_FUNC)
        rc = h != NULL ? apply_function(n, h, now, &inner, out) : DESKDB_EINVAL;
    else if (rc == DESKDB_OK)
        rc = apply_aggregation(n, &inner, out);
    out->truncated |= inner.truncated;
    expr_result_fini(&inner);
    return rc;
}

static bool
compare(enum expr_cmp cmp, double v, double t)
{
    switch (cmp) {
    case CMP_GT:
        return v > t;
    case CMP_LT:
        return v < t;
    case CMP_GE:
        return v >= t;
    case CMP_LE:
        return v <= t;
    case CMP_EQ:
        return v == t;
    case CMP_NE:
        return v != t;
    }
    return false;
}

int
alert_expr_eval(const struct alert_expr *e,
                const struct metrics_snapshot *snap,
                struct expr_history *h,
                int64_t now_ns,
                struct expr_result *out)
{
    size_t i, kept = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = eval_node(e->root, snap, h, now_ns, out);
    if (rc != DESKDB_OK) {
        expr_result_fini(out);
        return rc;
    }
    for (i = 0; i < out->n; i++) {
        struct expr_sample *s = &out->samples[i];

        if (compare(e->cmp, s->value, e->threshold))
            out->samples[kept++] = *s;
        else
            notify_labels_free(s->labels, s->n_labels);
    }
    out->n = kept;
    return DESKDB_OK;
}

/* ---- aggregation ------------------------------------------------------- */

struct agg_group {
    double value;
    size_t count;
};

static void
agg_add(enum expr_agg agg, struct agg_group *g, double v)
{
    if (g->count == 0)
        g->value = agg == AGG_COUNT ? 0 : v;
    else if (agg == AGG_SUM || agg == AGG_AVG)
        g->value += v;
    else if (agg == AGG_MIN && (v < g->value || isnan(g->value)))
        g->value = v;
    else if (agg == AGG_MAX && (v > g->value || isnan(g->value)))
        g->value = v;
    g->count++;
}

static int
apply_aggregation(const struct expr_node *n,
                  struct expr_result *in,
                  struct expr_result *out)
{
    const char *values[METRICS_MAX_LABELS];
    struct agg_group *groups = calloc(in->n + 1, sizeof(*groups));
    size_t *group_of = calloc(in->n + 1, sizeof(*group_of));
    size_t i, j, k, n_groups = 0;
    int rc = DESKDB_OK;

    if (groups == NULL || group_of == NULL) {
        rc = DESKDB_ENOMEM;
        goto out;
    }
    /* A sample joins the first earlier sample whose by-labels match. */
    for (i = 0; i < in->n; i++) {
        const struct expr_sample *s = &in->samples[i];

        for (j = 0; j < i; j++) {
            const struct expr_sample *o = &in->samples[j];

            for (k = 0; k < n->n_by; k++) {
                const char *a =
                    notify_label_get(s->labels, s->n_labels, n->by[k]);
                const char *b =
                    notify_label_get(o->labels, o->n_labels, n->by[k]);

                if (strcmp(a != NULL ? a : "", b != NULL ? b : "") != 0)
                    break;
            }
            if (k == n->n_by)
                break;
        }
        group_of[i] = j < i ? group_of[j] : n_groups++;
        agg_add(n->agg, &groups[group_of[i]], s->value);
    }
    for (j = 0; rc == DESKDB_OK && j < n_groups; j++) {
        for (i = 0; group_of[i] != j; i++)
            ;
        for (k = 0; k < n->n_by; k++)
            values[k] = notify_label_get(in->samples[i].labels,
                                         in->samples[i].n_labels,
                                         n->by[k]);
        if (n->agg == AGG_AVG)
            groups[j].value /= (double)groups[j].count;
        if (n->agg == AGG_COUNT)
            groups[j].value = (double)groups[j].count;
        rc = push(out,
                  (const char *const *)n->by,
                  values,
                  n->n_by,
                  groups[j].value);
    }
out:
    free(groups);
    free(group_of);
    return rc;
}

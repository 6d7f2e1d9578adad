/* SPDX-License-Identifier: MIT */
/* A validator for whole Prometheus text 0.0.4 and OpenMetrics 1.0.0 bodies:
 * syntax, grouping, uniqueness, histogram invariants and naming lint. */
#include "expo_lint.h"
#include "expo_lint_internal.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LABELS 64
#define NONE       SIZE_MAX

static const char *const text_types[] =
    {"untyped", "counter", "gauge", "histogram", "summary", NULL};
static const char *const om_types[] = {"unknown",
                                       "counter",
                                       "gauge",
                                       "histogram",
                                       "summary",
                                       "info",
                                       "stateset",
                                       "gaugehistogram",
                                       NULL};

/* Sample-name suffixes each OpenMetrics type allows (NULL-terminated). */
static const char *const om_suffixes[][6] = {
    [LT_UNTYPED] = {"", NULL},
    [LT_COUNTER] = {"_total", "_created", NULL},
    [LT_GAUGE] = {"", NULL},
    [LT_HISTOGRAM] = {"_bucket", "_count", "_sum", "_created", NULL},
    [LT_SUMMARY] = {"", "_count", "_sum", "_created", NULL},
    [LT_INFO] = {"_info", NULL},
    [LT_STATESET] = {"", NULL},
    [LT_GAUGEHISTOGRAM] = {"_bucket", "_gcount", "_gsum", NULL},
};
static const char *const text_suffixes[][4] = {
    [LT_UNTYPED] = {"", NULL},
    [LT_COUNTER] = {"", NULL},
    [LT_GAUGE] = {"", NULL},
    [LT_HISTOGRAM] = {"_bucket", "_count", "_sum", NULL},
    [LT_SUMMARY] = {"", "_count", "_sum", NULL},
};

/* One labelled metric of a histogram or summary: its points so far. */
struct series {
    char *key; /* labels without le / quantile */
    bool closed;
    bool has_bound;
    double bound; /* last le or quantile */
    double last;  /* last bucket count */
    bool has_inf;
    double inf;
    bool has_sum;
    bool has_count;
    double count;
};

struct family {
    char *name; /* the metadata name (OpenMetrics counters: without _total) */
    enum ltype type;
    bool typed;
    bool help;
    bool help_empty;
    bool unit;
    bool samples;
    bool closed;
    size_t line;
    struct series *series;
    size_t n_series;
    size_t cur_series;
};

struct label {
    char *name;
    char *value; /* still escaped: the escaped form is canonical */
};

struct sample {
    char *name;
    struct label labels[MAX_LABELS];
    size_t n_labels;
    char *value;
    double v;
};

struct key {
    char *s;
    size_t line;
};

struct lint {
    bool om;
    struct family *fams;
    size_t n_fams;
    size_t cur;
    struct key *keys;
    size_t n_keys;
    size_t line;
    bool eof;
    char *msg;
    size_t msg_size;
    bool failed;
};

static int
fail(struct lint *l, int rule, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (l->failed)
        return -1;
    l->failed = true;
    n = snprintf(l->msg, l->msg_size, "line %zu: rule %d: ", l->line, rule);
    if (n >= 0 && (size_t)n < l->msg_size) {
        va_start(ap, fmt);
        vsnprintf(l->msg + n, l->msg_size - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static void *
xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fprintf(stderr, "expo_lint: out of memory\n");
        abort();
    }
    return p;
}

static char *
xstrdup(const char *s)
{
    return strcpy(xrealloc(NULL, strlen(s) + 1), s);
}

/* Rule 9: UTF-8 without NUL, \n line ends, a final \n (text). */
static int
check_bytes(struct lint *l, const char *body, size_t len)
{
    const unsigned char *p = (const unsigned char *)body;
    size_t i = 0;
    size_t n;

    l->line = 1;
    while (i < len) {
        if (p[i] == '\r')
            return fail(l, 9, "carriage return");
        n = lint_utf8_seq(p + i, len - i);
        if (n == 0)
            return fail(l, 9, "invalid UTF-8 or NUL byte");
        if (p[i] == '\n')
            l->line++;
        i += n;
    }
    if (!l->om && len > 0 && body[len - 1] != '\n')
        return fail(l, 9, "the last line does not end with \\n");
    return 0;
}

/* Rules 18, 19, 21 and 25 on a family (its help and name). */
static int
check_family_name(struct lint *l, const struct family *f)
{
    char msg[256];
    int rule;

    if (!f->help || f->help_empty)
        return fail(l, 21, "%s: no help text", f->name);
    rule = lint_name_problem(f->name, f->type, l->om, msg, sizeof(msg));
    if (rule != 0)
        return fail(l, rule, "%s: %s", f->name, msg);
    return 0;
}

/* ---- families and series ------------------------------------------------ */

static size_t
family_find(const struct lint *l, const char *name)
{
    size_t i;

    for (i = 0; i < l->n_fams; i++) {
        if (strcmp(l->fams[i].name, name) == 0)
            return i;
    }
    return NONE;
}

static size_t
family_add(struct lint *l, const char *name)
{
    struct family *f;

    l->fams = xrealloc(l->fams, (l->n_fams + 1) * sizeof(*l->fams));
    f = &l->fams[l->n_fams];
    memset(f, 0, sizeof(*f));
    f->name = xstrdup(name);
    f->line = l->line;
    f->cur_series = NONE;
    return l->n_fams++;
}

/* Rules 19, 20 and 29: a histogram or summary metric is complete. */
static int
series_close(struct lint *l, const struct family *f, struct series *s)
{
    s->closed = true;
    if (f->type == LT_SUMMARY) {
        if (!l->om && (!s->has_sum || !s->has_count))
            return fail(l, 20, "%s: summary without _sum and _count", f->name);
        return 0;
    }
    if (!s->has_inf)
        return fail(l, 19, "%s: no le=\"+Inf\" bucket", f->name);
    if (s->has_count && s->inf != s->count)
        return fail(l, 19, "%s: +Inf bucket differs from _count", f->name);
    if (l->om && s->has_sum != s->has_count)
        return fail(l, 29, "%s: _count without _sum or back", f->name);
    if (!l->om && (!s->has_sum || !s->has_count))
        return fail(l, 19, "%s: histogram without _sum and _count", f->name);
    return 0;
}

static int
family_close(struct lint *l, size_t idx)
{
    struct family *f = &l->fams[idx];
    size_t line = l->line;
    size_t i;
    int rc = 0;

    if (f->closed)
        return 0;
    f->closed = true;
    l->line = f->line;
    for (i = 0; i < f->n_series && rc == 0; i++) {
        if (!f->series[i].closed)
            rc = series_close(l, f, &f->series[i]);
    }
    if (rc == 0)
        rc = check_family_name(l, f);
    l->line = line;
    return rc;
}

/* Make `idx` the current family; a family may not come back (12, 31). */
static int
family_enter(struct lint *l, size_t idx)
{
    if (l->cur == idx)
        return 0;
    if (l->fams[idx].closed)
        return fail(l,
                    l->om ? 31 : 12,
                    "%s: family samples are not contiguous",
                    l->fams[idx].name);
    if (l->cur != NONE && family_close(l, l->cur) != 0)
        return -1;
    l->cur = idx;
    return 0;
}

static struct series *
series_enter(struct lint *l, struct family *f, const char *key)
{
    struct series *s;
    size_t i;

    if (f->cur_series != NONE && strcmp(f->series[f->cur_series].key, key) == 0)
        return &f->series[f->cur_series];
    if (f->cur_series != NONE &&
        series_close(l, f, &f->series[f->cur_series]) != 0)
        return NULL;
    for (i = 0; i < f->n_series; i++) {
        if (strcmp(f->series[i].key, key) == 0) {
            fail(l, l->om ? 31 : 12, "%s: points interleaved", f->name);
            return NULL;
        }
    }
    f->series = xrealloc(f->series, (f->n_series + 1) * sizeof(*f->series));
    s = &f->series[f->n_series];
    memset(s, 0, sizeof(*s));
    s->key = xstrdup(key);
    f->cur_series = f->n_series++;
    return s;
}

/* ---- metadata ----------------------------------------------------------- */

static bool
help_escapes_ok(const char *s, bool om)
{
    for (; *s != '\0'; s++) {
        if (*s != '\\')
            continue;
        s++;
        if (*s != '\\' && *s != 'n' && !(om && *s == '"'))
            return false;
    }
    return true;
}

static int
type_parse(struct lint *l, const char *s, enum ltype *type)
{
    const char *const *names = l->om ? om_types : text_types;
    size_t i;

    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(s, names[i]) == 0) {
            *type = (enum ltype)i;
            return 0;
        }
    }
    return fail(l, l->om ? 27 : 11, "unknown type '%s'", s);
}

/* `kind` is 'H', 'T' or 'U'; `rest` is what follows "# HELP ". */
static int
metadata(struct lint *l, char kind, char *rest)
{
    size_t n = lint_name_len(rest, true);
    char *text = rest + n;
    struct family *f;
    size_t idx;

    if (n == 0 || (*text != ' ' && !(kind == 'H' && *text == '\0')))
        return fail(l, l->om ? 24 : 10, "metadata needs 'name SP text'");
    if (*text == ' ')
        *text++ = '\0';
    if (strchr(rest, ':') != NULL)
        return fail(l, 13, "%s: ':' in a metric name", rest);
    idx = family_find(l, rest);
    if (idx == NONE)
        idx = family_add(l, rest);
    if (family_enter(l, idx) != 0)
        return -1;
    f = &l->fams[idx];
    if (f->samples)
        return fail(l, l->om ? 24 : 11, "%s: metadata after samples", rest);
    if (kind == 'T') {
        if (f->typed || (l->om && (f->help || f->unit)))
            return fail(l, l->om ? 24 : 11, "%s: TYPE repeated or late", rest);
        f->typed = true;
        return type_parse(l, text, &f->type);
    }
    if (kind == 'U') {
        if (f->unit || f->help)
            return fail(l, 24, "%s: UNIT repeated or after HELP", rest);
        f->unit = true;
        if (*text != '\0' &&
            (strlen(rest) <= strlen(text) + 1 || !lint_ends_with(rest, text) ||
             rest[strlen(rest) - strlen(text) - 1] != '_'))
            return fail(l, 26, "%s: unit '%s' is not its suffix", rest, text);
        return 0;
    }
    if (f->help)
        return fail(l, l->om ? 24 : 11, "%s: HELP repeated", rest);
    f->help = true;
    f->help_empty = *text == '\0';
    if (!help_escapes_ok(text, l->om))
        return fail(l, l->om ? 28 : 14, "%s: invalid escape in HELP", rest);
    return 0;
}

static int
comment_line(struct lint *l, char *s)
{
    const char *p = s + 1;

    while (*p == ' ' || *p == '\t')
        p++;
    if (l->om) {
        if (strncmp(s, "# TYPE ", 7) == 0 || strncmp(s, "# HELP ", 7) == 0 ||
            strncmp(s, "# UNIT ", 7) == 0)
            return metadata(l, s[2], s + 7);
        return fail(l, 24, "only TYPE, UNIT, HELP and EOF comments");
    }
    if (strncmp(p, "HELP", 4) != 0 && strncmp(p, "TYPE", 4) != 0)
        return 0; /* a plain comment */
    if (p[4] != ' ' && p[4] != '\t' && p[4] != '\0')
        return 0;
    if (strncmp(s, "# HELP ", 7) != 0 && strncmp(s, "# TYPE ", 7) != 0)
        return fail(l, 10, "metadata must be '# HELP name' or '# TYPE name'");
    return metadata(l, s[2], s + 7);
}

/* ---- samples ------------------------------------------------------------ */

static int
labels_parse(struct lint *l, char **pp, struct sample *smp)
{
    char *p = *pp + 1; /* after '{' */
    size_t n;
    size_t i;

    while (*p != '}') {
        n = lint_name_len(p, false);
        if (n == 0 || p[n] != '=' || p[n + 1] != '"')
            return fail(l, 13, "invalid label name or syntax");
        if (smp->n_labels == MAX_LABELS)
            return fail(l, 13, "too many labels");
        smp->labels[smp->n_labels].name = p;
        p[n] = '\0';
        if (strncmp(p, "__", 2) == 0)
            return fail(l, 13, "label name %s is reserved", p);
        for (i = 0; i < smp->n_labels; i++) {
            if (strcmp(smp->labels[i].name, p) == 0)
                return fail(l, 13, "label %s repeated", p);
        }
        p += n + 2;
        smp->labels[smp->n_labels++].value = p;
        for (; *p != '"'; p++) {
            if (*p == '\0')
                return fail(l, 15, "unterminated label value");
            if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                p++;
            else if (*p == '\\')
                return fail(l, 15, "invalid escape in a label value");
        }
        *p++ = '\0';
        if (*p == ',' && !(l->om && p[1] == '}'))
            p++;
        else if (*p != '}')
            return fail(l, 13, "expected ',' or '}' after a label");
    }
    *pp = p + 1;
    return 0;
}

static int
sample_parse(struct lint *l, char *s, struct sample *smp)
{
    size_t n = lint_name_len(s, true);
    char *p = s + n;
    char *end;

    memset(smp, 0, sizeof(*smp));
    if (n == 0)
        return fail(l, 13, "invalid metric name");
    smp->name = s;
    if (*p == '{' && labels_parse(l, &p, smp) != 0)
        return -1;
    if (*p != ' ' && !(!l->om && *p == '\t'))
        return fail(l, 13, "expected a space before the value");
    p++;
    s[n] = '\0';
    while (!l->om && (*p == ' ' || *p == '\t'))
        p++;
    smp->value = p;
    if (*p == '\0' || *p == ' ')
        return fail(l, 16, "no value, or more than one space before it");
    end = p + strcspn(p, " \t");
    if (*end != '\0') {
        *end++ = '\0';
        end += strspn(end, l->om ? "" : " \t");
        if (*end != '\0' || l->om)
            return fail(l, 17, "timestamps or trailing text after the value");
    }
    if (strchr(smp->name, ':') != NULL)
        return fail(l, 13, "%s: ':' in a metric name", smp->name);
    if (!lint_number_parse(smp->value, &smp->v))
        return fail(l, 16, "invalid value '%s'", smp->value);
    return 0;
}

static int
label_cmp(const void *a, const void *b)
{
    return strcmp((*(const struct label *const *)a)->name,
                  (*(const struct label *const *)b)->name);
}

/* name{a="1",b="2"} with labels sorted by name, le and quantile left out
 * when `series_only`; the caller frees it. */
static char *
sample_key(const struct sample *smp, bool series_only)
{
    const struct label *sorted[MAX_LABELS];
    size_t len = strlen(smp->name) + 3;
    size_t n = 0;
    size_t i;
    char *key;

    for (i = 0; i < smp->n_labels; i++) {
        if (series_only && (strcmp(smp->labels[i].name, "le") == 0 ||
                            strcmp(smp->labels[i].name, "quantile") == 0))
            continue;
        sorted[n++] = &smp->labels[i];
        len += strlen(smp->labels[i].name) + strlen(smp->labels[i].value) + 4;
    }
    qsort(sorted, n, sizeof(sorted[0]), label_cmp);
    key = xrealloc(NULL, len);
    strcpy(key, series_only ? "" : smp->name);
    strcat(key, "{");
    for (i = 0; i < n; i++) {
        strcat(key, sorted[i]->name);
        strcat(key, "=\"");
        strcat(key, sorted[i]->value);
        strcat(key, "\",");
    }
    strcat(key, "}");
    return key;
}

static void
key_add(struct lint *l, const struct sample *smp)
{
    l->keys = xrealloc(l->keys, (l->n_keys + 1) * sizeof(*l->keys));
    l->keys[l->n_keys].s = sample_key(smp, false);
    l->keys[l->n_keys++].line = l->line;
}

static const char *
label_get(const struct sample *smp, const char *name)
{
    size_t i;

    for (i = 0; i < smp->n_labels; i++) {
        if (strcmp(smp->labels[i].name, name) == 0)
            return smp->labels[i].value;
    }
    return NULL;
}

/* Rules 19-22 (and 27) on the labels of a sample of family `f`. */
static int
labels_check(struct lint *l,
             const struct family *f,
             const struct sample *smp,
             const char *suffix)
{
    bool bucket = (f->type == LT_HISTOGRAM || f->type == LT_GAUGEHISTOGRAM) &&
                  strcmp(suffix, "_bucket") == 0;
    bool quantile = f->type == LT_SUMMARY && suffix[0] == '\0';
    size_t i;

    for (i = 0; i < smp->n_labels; i++) {
        const struct label *lb = &smp->labels[i];

        if (lint_camel_case(lb->name))
            return fail(l, 21, "label %s is camelCase", lb->name);
        if (strcmp(lb->value, "total") == 0)
            return fail(l, 22, "%s: a \"total\" label value", smp->name);
        if (strcmp(lb->name, "le") == 0 && !bucket)
            return fail(l, 19, "%s: le label outside buckets", smp->name);
        if (strcmp(lb->name, "quantile") == 0 && !quantile)
            return fail(l, 19, "%s: quantile label", smp->name);
    }
    if (bucket && label_get(smp, "le") == NULL)
        return fail(l, 19, "%s: bucket without le", smp->name);
    if (quantile && label_get(smp, "quantile") == NULL)
        return fail(l, 20, "%s: summary point without quantile", smp->name);
    if (f->type == LT_STATESET && label_get(smp, f->name) == NULL)
        return fail(l, 27, "%s: stateset without its label", smp->name);
    return 0;
}

static int
bucket_check(struct lint *l, struct series *s, const struct sample *smp)
{
    const char *le = label_get(smp, "le");
    double bound;

    if (!lint_number_parse(le, &bound) || isnan(bound))
        return fail(l, 19, "%s: invalid le \"%s\"", smp->name, le);
    if (l->om && strpbrk(le, ".eI") == NULL)
        return fail(l, 29, "%s: le \"%s\" is not canonical", smp->name, le);
    if (l->om && !lint_is_uint(smp->value))
        return fail(l, 29, "%s: bucket count not an integer", smp->name);
    if (s->has_bound && !(bound > s->bound))
        return fail(l, 19, "%s: buckets not sorted by le", smp->name);
    if (s->has_bound && smp->v < s->last)
        return fail(l, 19, "%s: buckets not cumulative", smp->name);
    s->has_bound = true;
    s->bound = bound;
    s->last = smp->v;
    if (isinf(bound)) {
        s->has_inf = true;
        s->inf = smp->v;
    }
    return 0;
}

/* Histogram and summary points of one metric (rules 19, 20, 29). */
static int
point_check(struct lint *l,
            struct family *f,
            const struct sample *smp,
            const char *suffix)
{
    char *key = sample_key(smp, true);
    struct series *s = series_enter(l, f, key);
    double q;

    free(key);
    if (s == NULL)
        return -1;
    if (strcmp(suffix, "_bucket") == 0)
        return bucket_check(l, s, smp);
    if (strcmp(suffix, "_count") == 0 || strcmp(suffix, "_gcount") == 0) {
        if (l->om && !lint_is_uint(smp->value))
            return fail(l, 29, "%s: count not an integer", smp->name);
        s->has_count = true;
        s->count = smp->v;
    } else if (strcmp(suffix, "_sum") == 0 || strcmp(suffix, "_gsum") == 0) {
        s->has_sum = true;
    } else if (suffix[0] == '\0') {
        if (!lint_number_parse(label_get(smp, "quantile"), &q) ||
            (s->has_bound && !(q > s->bound)))
            return fail(l, 20, "%s: quantiles not ascending", smp->name);
        s->has_bound = true;
        s->bound = q;
    }
    return 0;
}

/* The family a sample name belongs to, current family first. */
static size_t
sample_family(const struct lint *l, const char *name, const char **suffix)
{
    size_t n = strlen(name);
    size_t i;
    size_t k;

    for (i = 0; i <= l->n_fams; i++) {
        size_t idx = i == 0 ? l->cur : i - 1;
        const struct family *f;
        const char *const *sfx;
        size_t fl;

        if (idx == NONE || (i > 0 && idx == l->cur))
            continue;
        f = &l->fams[idx];
        sfx = l->om ? om_suffixes[f->type] : text_suffixes[f->type];
        fl = strlen(f->name);
        for (k = 0; sfx[k] != NULL; k++) {
            if (n == fl + strlen(sfx[k]) && strncmp(name, f->name, fl) == 0 &&
                strcmp(name + fl, sfx[k]) == 0) {
                *suffix = sfx[k];
                return idx;
            }
        }
    }
    return NONE;
}

static int
sample_line(struct lint *l, char *s)
{
    struct sample smp;
    const char *suffix = "";
    struct family *f;
    size_t idx;

    if (sample_parse(l, s, &smp) != 0)
        return -1;
    idx = sample_family(l, smp.name, &suffix);
    if (idx == NONE) {
        idx = family_find(l, smp.name);
        if (idx != NONE)
            return fail(l,
                        !l->om                            ? 19
                        : l->fams[idx].type == LT_COUNTER ? 25
                                                          : 27,
                        "%s: sample name does not fit its TYPE",
                        smp.name);
        idx = family_add(l, smp.name);
    }
    if (family_enter(l, idx) != 0)
        return -1;
    f = &l->fams[idx];
    f->samples = true;
    if (labels_check(l, f, &smp, suffix) != 0)
        return -1;
    if (f->type == LT_COUNTER && strcmp(suffix, "_created") != 0 && smp.v < 0)
        return fail(l, 18, "%s: negative counter", smp.name);
    key_add(l, &smp);
    if (f->type == LT_HISTOGRAM || f->type == LT_GAUGEHISTOGRAM ||
        f->type == LT_SUMMARY)
        return point_check(l, f, &smp, suffix);
    return 0;
}

/* ---- the whole body ----------------------------------------------------- */

static int
key_cmp(const void *a, const void *b)
{
    const struct key *x = a;
    const struct key *y = b;
    int c = strcmp(x->s, y->s);

    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* Rule 12: each name and label set once; rule 31: no sample name two
 * families could claim. */
static int
check_unique(struct lint *l)
{
    struct key *names = NULL;
    size_t n = 0;
    size_t i;
    size_t k;

    if (l->n_keys > 1)
        qsort(l->keys, l->n_keys, sizeof(*l->keys), key_cmp);
    for (i = 1; i < l->n_keys; i++) {
        if (strcmp(l->keys[i - 1].s, l->keys[i].s) == 0) {
            l->line = l->keys[i].line;
            return fail(l, 12, "duplicate series %s", l->keys[i].s);
        }
    }
    for (i = 0; i < l->n_fams; i++) {
        const struct family *f = &l->fams[i];
        const char *const *sfx =
            l->om ? om_suffixes[f->type] : text_suffixes[f->type];

        for (k = 0; k == 0 || sfx[k - 1] != NULL; k++) {
            const char *suffix = k == 0 ? "" : sfx[k - 1];
            char *s = xrealloc(NULL, strlen(f->name) + strlen(suffix) + 1);

            if (k > 0 && suffix[0] == '\0') {
                free(s);
                continue;
            }
            strcat(strcpy(s, f->name), suffix);
            names = xrealloc(names, (n + 1) * sizeof(*names));
            names[n++] = (struct key){s, f->line};
        }
    }
    if (n > 1)
        qsort(names, n, sizeof(*names), key_cmp);
    for (i = 1; i < n && !l->failed; i++) {
        if (strcmp(names[i - 1].s, names[i].s) == 0) {
            l->line = names[i].line;
            fail(l, l->om ? 31 : 12, "sample name %s clashes", names[i].s);
        }
    }
    for (i = 0; i < n; i++)
        free(names[i].s);
    free(names);
    return l->failed ? -1 : 0;
}

static int
line_check(struct lint *l, char *s)
{
    if (l->om) {
        if (s[0] == '\0')
            return fail(l, 23, "blank line");
        if (strcmp(s, "# EOF") == 0) {
            l->eof = true;
            return 0;
        }
    } else if (s[strspn(s, " \t")] == '\0') {
        return 0; /* the text format ignores blank lines */
    }
    if (s[0] == '#')
        return comment_line(l, s);
    return sample_line(l, s);
}

static void
lint_free(struct lint *l)
{
    size_t i;
    size_t k;

    for (i = 0; i < l->n_fams; i++) {
        for (k = 0; k < l->fams[i].n_series; k++)
            free(l->fams[i].series[k].key);
        free(l->fams[i].series);
        free(l->fams[i].name);
    }
    free(l->fams);
    for (i = 0; i < l->n_keys; i++)
        free(l->keys[i].s);
    free(l->keys);
}

int
expo_lint(const char *body,
          size_t len,
          enum expo_format fmt,
          char *msg,
          size_t msg_size)
{
    struct lint l = {.om = fmt == EXPO_FORMAT_OPENMETRICS,
                     .cur = NONE,
                     .msg = msg,
                     .msg_size = msg_size};
    size_t start = 0;
    size_t end;
    char *line;
    int rc;

    if (msg_size > 0)
        msg[0] = '\0';
    rc = check_bytes(&l, body, len);
    l.line = 0;
    while (rc == 0 && start < len) {
        end = start;
        while (end < len && body[end] != '\n')
            end++;
        l.line++;
        line = xrealloc(NULL, end - start + 1);
        memcpy(line, body + start, end - start);
        line[end - start] = '\0';
        rc = l.eof ? fail(&l, 23, "content after # EOF") : line_check(&l, line);
        free(line);
        start = end + 1;
    }
    if (rc == 0 && l.om && !l.eof)
        rc = fail(&l, 23, "the body does not end with # EOF");
    if (rc == 0 && l.cur != NONE)
        rc = family_close(&l, l.cur);
    if (rc == 0)
        rc = check_unique(&l);
    lint_free(&l);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* The exposition writer: renders snapshots as Prometheus text 0.0.4 or
 * OpenMetrics 1.0.0, negotiates the format and compresses with zlib. */
#include "exporter/expo.h"

#define ZLIB_CONST
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const char content_type_text[] =
    "text/plain; version=0.0.4; charset=utf-8";
static const char content_type_openmetrics[] =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/* ---- numbers ------------------------------------------------------------ */

static bool
number_char(char c)
{
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' ||
           c == '.';
}

/*
 * printf and strtod follow LC_NUMERIC, and they agree with each other, so
 * the shortest-digits search works in any locale; afterwards whatever the
 * locale used as decimal point (',' or a multibyte sign) becomes '.'.
 */
static size_t
decimal_point_fix(char *s, size_t n)
{
    size_t i;
    size_t out = 0;

    for (i = 0; i < n; i++) {
        if (number_char(s[i])) {
            s[out++] = s[i];
        } else if (out == 0 || s[out - 1] != '.') {
            s[out++] = '.';
        }
    }
    s[out] = '\0';
    return out;
}

/* The shortest of %.15g, %.16g and %.17g that reads back as `v`: 15
 * digits always survive a round trip (DBL_DIG), 17 always identify a
 * double, and %g drops trailing zeros. */
static size_t
format_shortest(double v, char *out)
{
    int precision;
    int n = 0;

    for (precision = 15; precision <= 17; precision++) {
        n = snprintf(out, EXPO_NUMBER_MAX, "%.*g", precision, v);
        if (n < 0 || n >= EXPO_NUMBER_MAX) {
            n = 0;
            break;
        }
        if (strtod(out, NULL) == v)
            break;
    }
    return decimal_point_fix(out, (size_t)n);
}

size_t
expo_format_number(double v, enum expo_format fmt, char out[EXPO_NUMBER_MAX])
{
    size_t n;

    if (isnan(v))
        return (size_t)snprintf(out, EXPO_NUMBER_MAX, "NaN");
    if (isinf(v))
        return (size_t)snprintf(out, EXPO_NUMBER_MAX, v > 0 ? "+Inf" : "-Inf");
    if (v == trunc(v) && fabs(v) < 0x1p63) {
        /* integers in plain digits: exact, and no exponent */
        n = (size_t)snprintf(out,
                             EXPO_NUMBER_MAX,
                             signbit(v) && v == 0 ? "-%lld" : "%lld",
                             (long long)v);
    } else {
        n = format_shortest(v, out);
    }
    if (fmt == EXPO_FORMAT_OPENMETRICS && strpbrk(out, ".e") == NULL) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    return n;
}

/* ---- writer ------------------------------------------------------------- */

/* Appends that remember the first failure, so the render code stays
 * linear and checks once per family. */
struct writer {
    struct buf *b;
    enum expo_format fmt;
    int rc;
};

static void
put(struct writer *w, const char *s, size_t n)
{
    if (w->rc == DESKDB_OK && n > 0)
        w->rc = buf_append(w->b, s, n);
}

static void
put_str(struct writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Backslash and newline are always escaped; the double quote in label
 * values and in OpenMetrics HELP (0.0.4 HELP must not escape it). */
static void
put_escaped(struct writer *w, const char *s, bool quote)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        if (*s != '\\' && *s != '\n' && !(quote && *s == '"'))
            continue;
        put(w, run, (size_t)(s - run));
        put_str(w, *s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"");
        run = s + 1;
    }
    put(w, run, (size_t)(s - run));
}

static void
put_number(struct writer *w, double v)
{
    char num[EXPO_NUMBER_MAX];

    put(w, num, expo_format_number(v, w->fmt, num));
}

static void
put_uint(struct writer *w, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);

    put(w, num, (size_t)n);
}

/* `name``suffix`{labels[,le="…"]} */
static void
put_series(struct writer *w,
           const struct metrics_snapshot_family *f,
           const struct metrics_sample *s,
           const char *suffix,
           const char *le)
{
    size_t i;

    put_str(w, f->name);
    put_str(w, suffix);
    if (f->n_labels == 0 && le == NULL)
        return;
    put_str(w, "{");
    for (i = 0; i < f->n_labels; i++) {
        if (i > 0)
            put_str(w, ",");
        put_str(w, f->label_names[i]);
        put_str(w, "=\"");
        put_escaped(w, s->label_values[i], true);
        put_str(w, "\"");
    }
    if (le != NULL) {
        put_str(w, f->n_labels > 0 ? ",le=\"" : "le=\"");
        put_str(w, le);
        put_str(w, "\"");
    }
    put_str(w, "}");
}

static const char *
type_name(enum metric_type type)
{
    switch (type) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    }
    return "unknown";
}

/* 0.0.4: HELP then TYPE on the full name.  OpenMetrics: TYPE then HELP on
 * the family name, which for counters is the name without _total. */
static void
put_metadata(struct writer *w, const struct metrics_snapshot_family *f)
{
    size_t len = strlen(f->name);

    if (w->fmt == EXPO_FORMAT_TEXT) {
        put_str(w, "# HELP ");
        put_str(w, f->name);
        put_str(w, " ");
        put_escaped(w, f->help, false);
        put_str(w, "\n# TYPE ");
        put_str(w, f->name);
        put_str(w, " ");
        put_str(w, type_name(f->type));
        put_str(w, "\n");
        return;
    }
    if (f->type == METRIC_COUNTER && len > 6 &&
        strcmp(f->name + len - 6, "_total") == 0)
        len -= 6;
    put_str(w, "# TYPE ");
    put(w, f->name, len);
    put_str(w, " ");
    put_str(w, type_name(f->type));
    put_str(w, "\n# HELP ");
    put(w, f->name, len);
    put_str(w, " ");
    put_escaped(w, f->help, true);
    put_str(w, "\n");
}

static void
put_histogram(struct writer *w,
              const struct metrics_snapshot_family *f,
              const struct metrics_sample *s,
              char le[][EXPO_NUMBER_MAX])
{
    /* OpenMetrics: with negative buckets the sum is no counter, so
     * neither _sum nor (it goes with it) _count is exposed */
    bool om = w->fmt == EXPO_FORMAT_OPENMETRICS;
    bool sum = !om || f->n_buckets == 0 || f->buckets[0] >= 0;
    size_t i;

    for (i = 0; i < f->n_buckets; i++) {
        put_series(w, f, s, "_bucket", le[i]);
        put_str(w, " ");
        put_uint(w, s->bucket_counts[i]);
        put_str(w, "\n");
    }
    put_series(w, f, s, "_bucket", "+Inf");
    put_str(w, " ");
    put_uint(w, s->count);
    put_str(w, "\n");
    if (om && sum) {
        put_series(w, f, s, "_count", NULL);
        put_str(w, " ");
        put_uint(w, s->count);
        put_str(w, "\n");
    }
    if (sum) {
        put_series(w, f, s, "_sum", NULL);
        put_str(w, " ");
        put_number(w, s->sum);
        put_str(w, "\n");
    }
    if (!om) {
        put_series(w, f, s, "_count", NULL);
        put_str(w, " ");
        put_uint(w, s->count);
        put_str(w, "\n");
    }
}

static int
put_family(struct writer *w, const struct metrics_snapshot_family *f)
{
    char le[METRICS_MAX_BUCKETS][EXPO_NUMBER_MAX];
    size_t i;

    if (f->n_samples == 0)
        return DESKDB_OK;
    put_metadata(w, f);
    for (i = 0; i < f->n_buckets && i < METRICS_MAX_BUCKETS; i++)
        expo_format_number(f->buckets[i], w->fmt, le[i]);
    for (i = 0; i < f->n_samples && w->rc == DESKDB_OK; i++) {
        if (f->type == METRIC_HISTOGRAM) {
            put_histogram(w, f, &f->samples[i], le);
            continue;
        }
        put_series(w, f, &f->samples[i], "", NULL);
        put_str(w, " ");
        put_number(w, f->samples[i].value);
        put_str(w, "\n");
    }
    return w->rc;
}

int
expo_render(const struct metrics_snapshot *snap,
            enum expo_format fmt,
            struct buf *out)
{
    struct writer w = {.b = out, .fmt = fmt, .rc = DESKDB_OK};
    size_t i;

    for (i = 0; snap != NULL && i < snap->n_families; i++) {
        if (snap->families[i].n_buckets > METRICS_MAX_BUCKETS)
            return DESKDB_EINVAL;
        if (put_family(&w, &snap->families[i]) != DESKDB_OK)
            return w.rc;
    }
    if (fmt == EXPO_FORMAT_OPENMETRICS)
        put_str(&w, "# EOF\n");
    return w.rc;
}

const char *
expo_content_type(enum expo_format fmt)
{
    return fmt == EXPO_FORMAT_OPENMETRICS ? content_type_openmetrics
                                          : content_type_text;
}

/* ---- negotiation -------------------------------------------------------- */

/* One element of an Accept or Accept-Encoding list. */
struct list_element {
    const char *value; /* media range or content coding */
    size_t value_len;
    const char *version; /* the version parameter, if any */
    size_t version_len;
    int q; /* 0..1000; -1 when the q-value is malformed */
};

static bool
ascii_ieq(const char *s, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return false;
    for (i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return true;
}

static bool
http_ws(char c)
{
    return c == ' ' || c == '\t';
}

static const char *
skip_ws(const char *p)
{
    while (http_ws(*p))
        p++;
    return p;
}

/* Token up to a delimiter; *len gets its length. */
static const char *
token_end(const char *p, const char *delims)
{
    while (*p != '\0' && !http_ws(*p) && strchr(delims, *p) == NULL)
        p++;
    return p;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), RFC 9110 */
static int
qvalue_parse(const char *s, size_t n)
{
    int q;
    int scale = 100;
    size_t i;

    if (n == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * 1000;
    if (n == 1)
        return q;
    if (s[1] != '.' || n > 5)
        return -1;
    for (i = 2; i < n; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q <= 1000 ? q : -1;
}

/* Parse `name=value` parameters up to the end of the element. */
static const char *
params_parse(const char *p, struct list_element *e)
{
    const char *name;
    const char *value;
    size_t name_len;

    while (*(p = skip_ws(p)) == ';') {
        name = skip_ws(p + 1);
        p = token_end(name, ";,=");
        name_len = (size_t)(p - name);
        p = skip_ws(p);
        if (*p != '=')
            continue;
        value = skip_ws(p + 1);
        if (*value == '"') {
            /* quoted-string: keep the inside, skip escaped characters */
            for (p = ++value; *p != '\0' && *p != '"'; p++) {
                if (*p == '\\' && p[1] != '\0')
                    p++;
            }
        } else {
            p = token_end(value, ";,");
        }
        if (ascii_ieq(name, name_len, "q"))
            e->q = qvalue_parse(value, (size_t)(p - value));
        else if (ascii_ieq(name, name_len, "version")) {
            e->version = value;
            e->version_len = (size_t)(p - value);
        }
        if (*p == '"')
            p++;
    }
    return p;
}

/* Parse the next element at *pp; false at the end of the list.  Elements
 * may be empty (value_len 0). */
static bool
element_next(const char **pp, struct list_element *e)
{
    const char *p = skip_ws(*pp);

    if (*p == '\0')
        return false;
    memset(e, 0, sizeof(*e));
    e->q = 1000;
    e->value = p;
    p = token_end(p, ";,");
    e->value_len = (size_t)(p - e->value);
    p = params_parse(p, e);
    /* anything unexpected up to the next comma is skipped */
    while (*p != '\0' && *p != ',')
        p++;
    *pp = *p == ',' ? p + 1 : p;
    return true;
}

enum media_kind { MEDIA_NONE, MEDIA_TEXT, MEDIA_OPENMETRICS, MEDIA_ANY };

static bool
version_is(const struct list_element *e, const char *a, const char *b)
{
    return e->version == NULL || ascii_ieq(e->version, e->version_len, a) ||
           ascii_ieq(e->version, e->version_len, b);
}

static enum media_kind
media_kind(const struct list_element *e)
{
    if (ascii_ieq(e->value, e->value_len, "application/openmetrics-text"))
        return version_is(e, "1.0.0", "0.0.1") ? MEDIA_OPENMETRICS : MEDIA_NONE;
    /* version 1.0.0 allows UTF-8 names; ours are all legacy names, so a
     * 0.0.4 body is a valid answer */
    if (ascii_ieq(e->value, e->value_len, "text/plain"))
        return version_is(e, "0.0.4", "1.0.0") ? MEDIA_TEXT : MEDIA_NONE;
    if (ascii_ieq(e->value, e->value_len, "text/*"))
        return MEDIA_TEXT;
    if (ascii_ieq(e->value, e->value_len, "*/*"))
        return MEDIA_ANY;
    return MEDIA_NONE;
}

enum expo_format
expo_negotiate(const char *accept_header)
{
    const char *p = accept_header;
    struct list_element e;
    enum media_kind kind;
    enum media_kind best = MEDIA_NONE;
    int best_q = 0;
    bool text_refused = false;

    while (p != NULL && element_next(&p, &e)) {
        kind = media_kind(&e);
        if (kind == MEDIA_TEXT && e.q == 0)
            text_refused = true;
        if (kind != MEDIA_NONE && e.q > best_q) {
            best = kind;
            best_q = e.q;
        }
    }
    if (best == MEDIA_OPENMETRICS || (best == MEDIA_ANY && text_refused))
        return EXPO_FORMAT_OPENMETRICS;
    return EXPO_FORMAT_TEXT;
}

bool
expo_gzip_accepted(const char *accept_encoding)
{
    const char *p = accept_encoding;
    struct list_element e;
    int gzip_q = -1;
    int any_q = -1;

    while (p != NULL && element_next(&p, &e)) {
        if (ascii_ieq(e.value, e.value_len, "gzip") ||
            ascii_ieq(e.value, e.value_len, "x-gzip"))
            gzip_q = e.q > gzip_q ? e.q : gzip_q;
        else if (ascii_ieq(e.value, e.value_len, "*"))
            any_q = e.q;
    }
    if (gzip_q >= 0)
        return gzip_q > 0;
    return any_q > 0;
}

/* ---- gzip --------------------------------------------------------------- */

int
expo_gzip(const struct buf *in, struct buf *out)
{
    unsigned char chunk[16384];
    const unsigned char *next =
        (const unsigned char *)(in->data != NULL ? in->data : "");
    size_t left = in->len;
    z_stream zs;
    int flush;
    int rc = DESKDB_OK;

    memset(&zs, 0, sizeof(zs));
    /* 15 + 16: the largest window, with a gzip header and trailer */
    if (deflateInit2(&zs,
                     Z_DEFAULT_COMPRESSION,
                     Z_DEFLATED,
                     15 + 16,
                     8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return DESKDB_ENOMEM;
    do {
        zs.next_in = next;
        zs.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
        next += zs.avail_in;
        left -= zs.avail_in;
        flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
        do {
            zs.next_out = chunk;
            zs.avail_out = sizeof(chunk);
            if (deflate(&zs, flush) == Z_STREAM_ERROR) {
                rc = DESKDB_EINVAL;
                goto out;
            }
            rc = buf_append(out, chunk, sizeof(chunk) - zs.avail_out);
            if (rc != DESKDB_OK)
                goto out;
        } while (zs.avail_out == 0);
    } while (flush != Z_FINISH);
out:
    deflateEnd(&zs);
    return rc;
}

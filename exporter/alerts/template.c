/* SPDX-License-Identifier: MIT */
/* Annotation templates ({{ $value }}, {{ $labels.x }}) and how values are
 * written in them. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/alerts/eval.h"

const char *
alerts_format_value(double v, char out[32])
{
    int prec;

    if (isnan(v))
        return strcpy(out, "NaN");
    if (isinf(v))
        return strcpy(out, v > 0 ? "+Inf" : "-Inf");
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, 32, "%.0f", v);
        return out;
    }
    for (prec = 1; prec < 17; prec++) {
        snprintf(out, 32, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return out;
    }
    snprintf(out, 32, "%.17g", v);
    return out;
}

enum action { ACT_VALUE, ACT_LABEL };

/*
 * Parse the action starting after "{{" at `s`: sets *kind, the label name
 * span and *end (just past "}}").  Returns NULL or what is wrong.
 */
static const char *
parse_action(const char *s,
             enum action *kind,
             const char **name,
             size_t *name_len,
             const char **end)
{
    static const char *const labels[] = {"$labels.", ".Labels."};
    size_t i, len;

    while (*s == ' ' || *s == '\t')
        s++;
    *name = NULL;
    *name_len = 0;
    if (strncmp(s, "$value", 6) == 0 || strncmp(s, ".Value", 6) == 0) {
        *kind = ACT_VALUE;
        s += 6;
    } else {
        for (i = 0; i < 2; i++) {
            if (strncmp(s, labels[i], 8) == 0)
                break;
        }
        if (i == 2)
            return "unsupported template; use {{ $value }} or "
                   "{{ $labels.name }}";
        s += 8;
        len = 0;
        while (isalnum((unsigned char)s[len]) || s[len] == '_')
            len++;
        if (len == 0)
            return "expected a label name after $labels.";
        *kind = ACT_LABEL;
        *name = s;
        *name_len = len;
        s += len;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (strncmp(s, "}}", 2) != 0)
        return "expected '}}' to close the template";
    *end = s + 2;
    return NULL;
}

const char *
alerts_template_check(const char *tmpl, size_t *at)
{
    const char *p = tmpl, *open, *name, *end, *why;
    enum action kind;
    size_t len;

    *at = 0;
    while ((open = strstr(p, "{{")) != NULL) {
        why = parse_action(open + 2, &kind, &name, &len, &end);
        if (why != NULL) {
            *at = (size_t)(open - tmpl);
            return why;
        }
        p = end;
    }
    return NULL;
}

static const char *
label_value(const struct notify_label *labels,
            size_t n,
            const char *name,
            size_t len)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strncmp(labels[i].name, name, len) == 0 &&
            labels[i].name[len] == '\0')
            return labels[i].value;
    }
    return "";
}

int
alerts_template_render(const char *tmpl,
                       const struct notify_label *labels,
                       size_t n_labels,
                       double value,
                       struct buf *out)
{
    const char *p = tmpl, *open, *name, *end;
    enum action kind;
    char num[32];
    size_t len;
    int rc = DESKDB_OK;

    while (rc == DESKDB_OK && (open = strstr(p, "{{")) != NULL) {
        rc = buf_append(out, p, (size_t)(open - p));
        if (rc != DESKDB_OK)
            break;
        if (parse_action(open + 2, &kind, &name, &len, &end) != NULL) {
            /* Checked at load; kept literally should it ever happen. */
            rc = buf_puts(out, "{{");
            p = open + 2;
            continue;
        }
        if (kind == ACT_VALUE)
            rc = buf_puts(out, alerts_format_value(value, num));
        else
            rc = buf_puts(out, label_value(labels, n_labels, name, len));
        p = end;
    }
    return rc == DESKDB_OK ? buf_puts(out, p) : rc;
}

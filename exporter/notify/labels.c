/* SPDX-License-Identifier: MIT */
/* Alert identity as Alertmanager computes it (fingerprint, group key),
 * alert copies and the timestamps receivers expect. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exporter/notify/notify.h"

#define FNV64_OFFSET UINT64_C(14695981039346656037)
#define FNV64_PRIME  UINT64_C(1099511628211)

void
notify_labels_free(struct notify_label *labels, size_t n)
{
    size_t i;

    if (labels == NULL)
        return;
    for (i = 0; i < n; i++) {
        free(labels[i].name);
        free(labels[i].value);
    }
    free(labels);
}

static int
labels_dup(struct notify_label **dst, const struct notify_label *src, size_t n)
{
    size_t i;

    *dst = NULL;
    if (n == 0)
        return DESKDB_OK;
    *dst = calloc(n, sizeof(**dst));
    if (*dst == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < n; i++) {
        (*dst)[i].name = strdup(src[i].name);
        (*dst)[i].value = strdup(src[i].value);
        if ((*dst)[i].name == NULL || (*dst)[i].value == NULL) {
            notify_labels_free(*dst, n);
            *dst = NULL;
            return DESKDB_ENOMEM;
        }
    }
    return DESKDB_OK;
}

int
notify_alert_copy(struct notify_alert *dst, const struct notify_alert *src)
{
    *dst = *src;
    dst->labels = NULL;
    dst->annotations = NULL;
    if (labels_dup(&dst->labels, src->labels, src->n_labels) != DESKDB_OK ||
        labels_dup(&dst->annotations, src->annotations, src->n_annotations) !=
            DESKDB_OK) {
        notify_alert_fini(dst);
        return DESKDB_ENOMEM;
    }
    return DESKDB_OK;
}

void
notify_alert_fini(struct notify_alert *a)
{
    if (a == NULL)
        return;
    notify_labels_free(a->labels, a->n_labels);
    notify_labels_free(a->annotations, a->n_annotations);
    a->labels = NULL;
    a->annotations = NULL;
    a->n_labels = 0;
    a->n_annotations = 0;
}

const char *
notify_label_get(const struct notify_label *labels, size_t n, const char *name)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (strcmp(labels[i].name, name) == 0)
            return labels[i].value;
    }
    return NULL;
}

static uint64_t
fnv_bytes(uint64_t h, const char *s)
{
    for (; *s != '\0'; s++) {
        h ^= (uint8_t)*s;
        h *= FNV64_PRIME;
    }
    h ^= 0xff;
    return h * FNV64_PRIME;
}

uint64_t
notify_fingerprint(const struct notify_label *labels, size_t n)
{
    uint64_t h = FNV64_OFFSET;
    size_t i;

    for (i = 0; i < n; i++) {
        h = fnv_bytes(h, labels[i].name);
        h = fnv_bytes(h, labels[i].value);
    }
    return h;
}

/* Go's strconv.Quote for valid UTF-8: printable text as is. */
static int
go_quote(struct buf *out, const char *s)
{
    static const char esc[] = "\a\b\f\n\r\t\v";
    static const char letter[] = "abfnrtv";
    int rc = buf_putc(out, '"');

    for (; rc == DESKDB_OK && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        const char *e = c != 0 ? strchr(esc, c) : NULL;

        if (c == '"' || c == '\\')
            rc = buf_printf(out, "\\%c", c);
        else if (e != NULL)
            rc = buf_printf(out, "\\%c", letter[e - esc]);
        else if (c < 0x20 || c == 0x7f)
            rc = buf_printf(out, "\\x%02x", c);
        else
            rc = buf_putc(out, (char)c);
    }
    return rc == DESKDB_OK ? buf_putc(out, '"') : rc;
}

int
notify_group_key(struct buf *out, const struct notify_label *labels, size_t n)
{
    size_t i;
    int rc = buf_puts(out, "{}:{");

    for (i = 0; rc == DESKDB_OK && i < n; i++) {
        if (i > 0)
            rc = buf_puts(out, ", ");
        if (rc == DESKDB_OK)
            rc = buf_printf(out, "%s=", labels[i].name);
        if (rc == DESKDB_OK)
            rc = go_quote(out, labels[i].value);
    }
    return rc == DESKDB_OK ? buf_putc(out, '}') : rc;
}

int
notify_group_key_pair(struct buf *out, const char *name, const char *value)
{
    int rc = buf_printf(out, "{}:{%s=", name);

    if (rc == DESKDB_OK)
        rc = go_quote(out, value);
    return rc == DESKDB_OK ? buf_putc(out, '}') : rc;
}

const char *
notify_format_time(int64_t real_ns, char out[40])
{
    time_t secs;
    struct tm tm;
    int ms;
    size_t len;

    if (real_ns == 0) {
        strcpy(out, "0001-01-01T00:00:00Z");
        return out;
    }
    secs = (time_t)(real_ns / 1000000000);
    ms = (int)(real_ns % 1000000000 / 1000000);
    if (real_ns < 0 || gmtime_r(&secs, &tm) == NULL) {
        strcpy(out, "0001-01-01T00:00:00Z");
        return out;
    }
    len = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    if (ms != 0)
        snprintf(out + len, 40 - len, ".%03dZ", ms);
    else
        snprintf(out + len, 40 - len, "Z");
    return out;
}

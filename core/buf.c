/* SPDX-License-Identifier: MIT */
/* Bounded growable buffers for exposition, JSON and HTTP bodies. */
#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t cap)
{
    memset(b, 0, sizeof(*b));
    b->cap = cap;
}

void
buf_fini(struct buf *b)
{
    free(b->data);
    buf_init(b, b->cap);
}

void
buf_reset(struct buf *b)
{
    b->len = 0;
    b->overflow = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

static int
reserve(struct buf *b, size_t extra)
{
    size_t need;
    size_t want;
    char *p;

    if (extra > b->cap || b->len > b->cap - extra) {
        b->overflow = true;
        return DESKDB_EBUSY;
    }
    need = b->len + extra + 1;
    if (need <= b->alloc)
        return DESKDB_OK;
    want = b->alloc ? b->alloc : 256;
    while (want < need)
        want *= 2;
    if (want > b->cap + 1)
        want = b->cap + 1;
    p = realloc(b->data, want);
    if (p == NULL)
        return DESKDB_ENOMEM;
    b->data = p;
    b->alloc = want;
    return DESKDB_OK;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
    int rc = reserve(b, len);

    if (rc != DESKDB_OK)
        return rc;
    if (len > 0)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return DESKDB_OK;
}

int
buf_puts(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;
    int rc;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DESKDB_EINVAL;
    rc = reserve(b, (size_t)n);
    if (rc != DESKDB_OK)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DESKDB_OK;
}

char *
buf_take(struct buf *b)
{
    char *p = b->data;

    if (p == NULL)
        p = calloc(1, 1);
    buf_init(b, b->cap);
    return p;
}

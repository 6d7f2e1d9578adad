/* SPDX-License-Identifier: MIT */
/* A growable byte buffer with a hard size cap (after curl's dynbuf). */
#ifndef DESKDB_CORE_BUF_H
#define DESKDB_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/*
 * `data` is always NUL-terminated (when non-NULL) so text can be used as a
 * C string; `len` excludes the terminator.  Appends past `cap` fail with
 * DESKDB_EBUSY and set `overflow`; the buffer keeps what fit before.
 */
struct buf {
    char *data;
    size_t len;
    size_t alloc;
    size_t cap;
    bool overflow;
};

/* Start an empty buffer that may grow to at most `cap` bytes. */
void buf_init(struct buf *b, size_t cap);

/* Free the storage; the buffer may be reused after buf_init(). */
void buf_fini(struct buf *b);

/* Forget the contents, keep the storage. */
void buf_reset(struct buf *b);

int buf_append(struct buf *b, const void *data, size_t len) DESKDB_MUSTCHECK;
int buf_puts(struct buf *b, const char *s) DESKDB_MUSTCHECK;
int buf_putc(struct buf *b, char c) DESKDB_MUSTCHECK;
int buf_printf(struct buf *b, const char *fmt, ...)
    DESKDB_PRINTF(2, 3) DESKDB_MUSTCHECK;

/* Hand the storage to the caller (free() it); the buffer is left empty. */
char *buf_take(struct buf *b);

#endif

/* SPDX-License-Identifier: MIT */
/* The query log rings: fixed-size entries, one mutex, copies out. */
#include "core/querylog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct ring {
    struct querylog_entry *slots;
    size_t cap;
    uint64_t total; /* entries ever written; next slot is total % cap */
};

struct querylog {
    pthread_mutex_t mu; /* guards both rings and seq */
    uint64_t seq;
    struct ring recent;
    struct ring slow;
};

static int
ring_init(struct ring *r, size_t cap)
{
    r->cap = cap;
    r->total = 0;
    r->slots = NULL;
    if (cap == 0)
        return 0;
    r->slots = calloc(cap, sizeof(*r->slots));
    return r->slots != NULL ? 0 : DESKDB_ENOMEM;
}

struct querylog *
querylog_create(size_t recent, size_t slow)
{
    struct querylog *q = calloc(1, sizeof(*q));

    if (q == NULL)
        return NULL;
    if (ring_init(&q->recent, recent) != 0 || ring_init(&q->slow, slow) != 0) {
        free(q->recent.slots);
        free(q);
        return NULL;
    }
    pthread_mutex_init(&q->mu, NULL);
    return q;
}

void
querylog_destroy(struct querylog *q)
{
    if (q == NULL)
        return;
    pthread_mutex_destroy(&q->mu);
    free(q->recent.slots);
    free(q->slow.slots);
    free(q);
}

/* Length of `sql` cut to fit, never splitting a UTF-8 sequence. */
static size_t
cut_length(const char *sql, bool *truncated)
{
    size_t n = strnlen(sql, QUERYLOG_SQL_MAX);

    *truncated = n == QUERYLOG_SQL_MAX;
    if (!*truncated)
        return n;
    n = QUERYLOG_SQL_MAX - 1;
    /* Step back over continuation bytes (10xxxxxx) to a lead byte. */
    while (n > 0 && ((unsigned char)sql[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void
ring_put(struct ring *r, const struct querylog_entry *e)
{
    if (r->cap == 0)
        return;
    r->slots[r->total % r->cap] = *e;
    r->total++;
}

void
querylog_record(struct querylog *q,
                const char *sql,
                int nparams,
                int64_t at_ns,
                int64_t duration_ns,
                int64_t rows,
                int code,
                const char *sqlstate,
                bool slow)
{
    struct querylog_entry e;
    size_t n;

    if (q == NULL)
        return;
    /* Fill the entry before taking the lock; only the copies are inside. */
    memset(&e, 0, offsetof(struct querylog_entry, sql));
    n = cut_length(sql != NULL ? sql : "", &e.truncated);
    memcpy(e.sql, sql != NULL ? sql : "", n);
    e.sql[n] = '\0';
    e.nparams = nparams;
    e.at_ns = at_ns;
    e.duration_ns = duration_ns;
    e.rows = rows;
    e.code = code;
    if (sqlstate != NULL) {
        strncpy(e.sqlstate, sqlstate, sizeof(e.sqlstate) - 1);
        e.sqlstate[sizeof(e.sqlstate) - 1] = '\0';
    }
    pthread_mutex_lock(&q->mu);
    e.seq = ++q->seq;
    ring_put(&q->recent, &e);
    if (slow)
        ring_put(&q->slow, &e);
    pthread_mutex_unlock(&q->mu);
}

int
querylog_snapshot(struct querylog *q,
                  enum querylog_ring which,
                  struct querylog_entry **out,
                  size_t *n,
                  uint64_t *total)
{
    struct ring *r;
    struct querylog_entry *copy = NULL;
    size_t count, cap;

    *out = NULL;
    *n = 0;
    if (total != NULL)
        *total = 0;
    if (q == NULL)
        return 0;
    r = which == QUERYLOG_SLOW ? &q->slow : &q->recent;
    /* The capacity never changes, so the copy can be allocated unlocked. */
    cap = r->cap;
    if (cap > 0) {
        copy = malloc(cap * sizeof(*copy));
        if (copy == NULL)
            return DESKDB_ENOMEM;
    }
    pthread_mutex_lock(&q->mu);
    count = r->total < cap ? (size_t)r->total : cap;
    for (size_t i = 0; i < count; i++)
        copy[i] = r->slots[(r->total - 1 - i) % cap];
    if (total != NULL)
        *total = r->total;
    pthread_mutex_unlock(&q->mu);
    if (count == 0) {
        free(copy);
        copy = NULL;
    }
    *out = copy;
    *n = count;
    return 0;
}

/* SPDX-License-Identifier: MIT */
/* Grouping and deduplication per receiver, after Alertmanager's dispatcher
 * and DedupStage: group_wait, group_interval, repeat_interval and what a
 * receiver already knows about each alert. */
#include <stdlib.h>
#include <string.h>

#include "exporter/notify/notify.h"

struct galert {
    struct notify_alert a;
    enum notify_sent sent; /* what the receiver last got */
    bool touched;          /* in the latest update */
};

struct group {
    char *key;
    char *alertname; /* the group label; NULL in push mode */
    struct galert *alerts;
    size_t n, cap;
    int64_t next_flush_ns;
    int64_t last_sent_ns;
    bool has_sent;
    struct group *next;
};

struct dispatch {
    struct dispatch_cfg cfg;
    struct group *groups;
    size_t n_groups;
};

static const char *const reason_texts[] = {
    "first notification",
    "new alerts added",
    "some alerts resolved",
    "all alerts resolved",
    "repeat interval elapsed",
    "update",
};

const char *
notify_reason_text(enum notify_reason_sent r)
{
    return (unsigned)r <= NOTIFY_UPDATE ? reason_texts[r] : "unknown";
}

struct dispatch *
dispatch_create(const struct dispatch_cfg *cfg)
{
    struct dispatch *d = calloc(1, sizeof(*d));

    if (d != NULL)
        d->cfg = *cfg;
    return d;
}

static void
group_free(struct group *g)
{
    size_t i;

    for (i = 0; i < g->n; i++)
        notify_alert_fini(&g->alerts[i].a);
    free(g->alerts);
    free(g->key);
    free(g->alertname);
    free(g);
}

void
dispatch_destroy(struct dispatch *d)
{
    struct group *g, *next;

    if (d == NULL)
        return;
    for (g = d->groups; g != NULL; g = next) {
        next = g->next;
        group_free(g);
    }
    free(d);
}

void
dispatch_flush_free(struct dispatch_flush *f)
{
    size_t i;

    if (f == NULL)
        return;
    free(f->group_key);
    notify_labels_free(f->group_labels, f->n_group_labels);
    for (i = 0; i < f->n_alerts; i++)
        notify_alert_fini(&f->alerts[i]);
    free(f->alerts);
    memset(f, 0, sizeof(*f));
}

/* The group an alert belongs to: by alertname, or the one batch. */
static int
alert_group_key(const struct dispatch *d,
                const struct notify_alert *a,
                struct buf *key)
{
    const char *name;

    if (d->cfg.push)
        return buf_puts(key, "{}");
    name = notify_label_get(a->labels, a->n_labels, "alertname");
    return notify_group_key_pair(key, "alertname", name != NULL ? name : "");
}

static struct group *
group_find(const struct dispatch *d, const char *key)
{
    struct group *g;

    for (g = d->groups; g != NULL; g = g->next) {
        if (strcmp(g->key, key) == 0)
            return g;
    }
    return NULL;
}

static struct group *
group_add(struct dispatch *d, const char *key, const struct notify_alert *a)
{
    struct group *g = calloc(1, sizeof(*g));
    const char *name = notify_label_get(a->labels, a->n_labels, "alertname");

    if (g == NULL)
        return NULL;
    g->key = strdup(key);
    if (!d->cfg.push)
        g->alertname = strdup(name != NULL ? name : "");
    if (g->key == NULL || (!d->cfg.push && g->alertname == NULL)) {
        group_free(g);
        return NULL;
    }
    g->next = d->groups;
    d->groups = g;
    d->n_groups++;
    return g;
}

static void
group_remove(struct dispatch *d, struct group *g)
{
    struct group **p;

    for (p = &d->groups; *p != NULL; p = &(*p)->next) {
        if (*p == g) {
            *p = g->next;
            d->n_groups--;
            group_free(g);
            return;
        }
    }
}

static struct galert *
galert_find(struct group *g, uint64_t fp)
{
    size_t i;

    for (i = 0; i < g->n; i++) {
        if (g->alerts[i].a.fingerprint == fp)
            return &g->alerts[i];
    }
    return NULL;
}

static struct galert *
galert_add(struct group *g, const struct notify_alert *a, enum notify_sent s)
{
    struct galert *grown;

    if (g->n == g->cap) {
        size_t cap = g->cap != 0 ? 2 * g->cap : 4;

        grown = realloc(g->alerts, cap * sizeof(*grown));
        if (grown == NULL)
            return NULL;
        g->alerts = grown;
        g->cap = cap;
    }
    if (notify_alert_copy(&g->alerts[g->n].a, a) != DESKDB_OK)
        return NULL;
    g->alerts[g->n].sent = s;
    g->alerts[g->n].touched = true;
    return &g->alerts[g->n++];
}

static void
galert_remove(struct group *g, size_t i)
{
    notify_alert_fini(&g->alerts[i].a);
    g->alerts[i] = g->alerts[--g->n];
}

/* Replace the alert's contents, keeping what the receiver knows. */
static int
galert_set(struct galert *ga, const struct notify_alert *a)
{
    struct notify_alert copy;

    if (notify_alert_copy(&copy, a) != DESKDB_OK)
        return DESKDB_ENOMEM;
    notify_alert_fini(&ga->a);
    ga->a = copy;
    ga->touched = true;
    return DESKDB_OK;
}

static int
update_firing(struct dispatch *d,
              struct group *g,
              const struct notify_alert *a,
              int64_t now)
{
    struct galert *ga = galert_find(g, a->fingerprint);

    if (ga == NULL) {
        if (galert_add(g, a, NOTIFY_SENT_NONE) == NULL)
            return DESKDB_ENOMEM;
        if (d->cfg.push)
            g->next_flush_ns = now;
        return DESKDB_OK;
    }
    if (ga->a.resolved && d->cfg.push)
        g->next_flush_ns = now;
    return galert_set(ga, a);
}

static int
update_resolved(struct dispatch *d,
                struct group *g,
                const struct notify_alert *a,
                int64_t now)
{
    struct galert *ga = galert_find(g, a->fingerprint);

    if (ga == NULL)
        return DESKDB_OK;
    if (!ga->a.resolved && ga->sent == NOTIFY_SENT_FIRING && d->cfg.push)
        g->next_flush_ns = now;
    return galert_set(ga, a);
}

static int
update_one(struct dispatch *d,
           const struct notify_alert *a,
           int64_t now_mono,
           int64_t now_real,
           struct buf *key)
{
    struct group *g;
    int64_t wait;

    buf_reset(key);
    if (alert_group_key(d, a, key) != DESKDB_OK)
        return DESKDB_ENOMEM;
    g = group_find(d, key->data);
    if (g == NULL) {
        if (a->resolved)
            return DESKDB_OK;
        g = group_add(d, key->data, a);
        if (g == NULL)
            return DESKDB_ENOMEM;
        /* An alert that started longer than group_wait ago (a restart, a
         * receiver added later) is not held back again. */
        wait = a->starts_at_ns + d->cfg.group_wait_ns - now_real;
        g->next_flush_ns = now_mono + (wait > 0 ? wait : 0);
        if (d->cfg.push)
            g->next_flush_ns = now_mono;
    }
    return a->resolved ? update_resolved(d, g, a, now_mono)
                       : update_firing(d, g, a, now_mono);
}

int
dispatch_update(struct dispatch *d,
                const struct notify_alert *alerts,
                size_t n,
                int64_t now_mono_ns,
                int64_t now_real_ns)
{
    struct group *g;
    struct buf key;
    size_t i;
    int rc = DESKDB_OK;

    for (g = d->groups; g != NULL; g = g->next) {
        for (i = 0; i < g->n; i++)
            g->alerts[i].touched = false;
    }
    buf_init(&key, 64 * 1024);
    for (i = 0; i < n && rc == DESKDB_OK; i++)
        rc = update_one(d, &alerts[i], now_mono_ns, now_real_ns, &key);
    buf_fini(&key);
    if (rc != DESKDB_OK)
        return rc;
    /* A firing alert that is no longer reported has ended. */
    for (g = d->groups; g != NULL; g = g->next) {
        for (i = 0; i < g->n; i++) {
            struct galert *ga = &g->alerts[i];

            if (ga->touched || ga->a.resolved)
                continue;
            ga->a.resolved = true;
            ga->a.ends_at_ns = now_real_ns;
            if (d->cfg.push && ga->sent == NOTIFY_SENT_FIRING)
                g->next_flush_ns = now_mono_ns;
        }
    }
    return DESKDB_OK;
}

int
dispatch_restore(struct dispatch *d,
                 const struct notify_alert *alert,
                 enum notify_sent sent,
                 int64_t last_sent_real_ns,
                 int64_t now_mono_ns,
                 int64_t now_real_ns)
{
    struct group *g;
    struct galert *ga;
    struct buf key;
    int64_t ago = now_real_ns - last_sent_real_ns;
    int rc;

    buf_init(&key, 64 * 1024);
    rc = alert_group_key(d, alert, &key);
    g = rc == DESKDB_OK ? group_find(d, key.data) : NULL;
    if (rc == DESKDB_OK && g == NULL)
        g = group_add(d, key.data, alert);
    buf_fini(&key);
    if (g == NULL)
        return DESKDB_ENOMEM;
    g->next_flush_ns = now_mono_ns;
    ga = galert_find(g, alert->fingerprint);
    if (ga == NULL && galert_add(g, alert, sent) == NULL)
        return DESKDB_ENOMEM;
    /* Known here but not what the receiver heard (from another leader). */
    if (ga != NULL && ga->sent == NOTIFY_SENT_NONE)
        ga->sent = sent;
    if (sent != NOTIFY_SENT_NONE && last_sent_real_ns > 0) {
        int64_t at = now_mono_ns - (ago > 0 ? ago : 0);

        if (!g->has_sent || at > g->last_sent_ns)
            g->last_sent_ns = at;
        g->has_sent = true;
    }
    return DESKDB_OK;
}

struct tally {
    size_t firing;
    size_t new_firing;     /* firing, receiver does not know it firing */
    size_t known_firing;   /* any alert the receiver knows as firing */
    size_t known_resolved; /* resolved, receiver knows it firing */
};

static struct tally
group_tally(const struct group *g)
{
    struct tally t = {0};
    size_t i;

    for (i = 0; i < g->n; i++) {
        const struct galert *ga = &g->alerts[i];
        bool known = ga->sent == NOTIFY_SENT_FIRING;

        t.known_firing += known;
        if (ga->a.resolved) {
            t.known_resolved += known;
        } else {
            t.firing++;
            t.new_firing += !known;
        }
    }
    return t;
}

/* Whether to notify and why; false if nothing is to be sent. */
static bool
decide(const struct dispatch *d,
       const struct group *g,
       int64_t now,
       enum notify_reason_sent *why)
{
    struct tally t = group_tally(g);
    bool resolves = d->cfg.send_resolved && t.known_resolved > 0;

    if (d->cfg.push) {
        *why = NOTIFY_UPDATE;
        return t.new_firing > 0 || t.known_resolved > 0 ||
               (t.firing > 0 &&
                (!g->has_sent || now - g->last_sent_ns >= d->cfg.resend_ns));
    }
    if (t.firing == 0) {
        *why = NOTIFY_ALL_RESOLVED;
        return resolves;
    }
    if (t.known_firing == 0)
        *why = NOTIFY_FIRST;
    else if (t.new_firing > 0)
        *why = NOTIFY_NEW_ALERTS;
    else if (resolves)
        *why = NOTIFY_SOME_RESOLVED;
    else if (g->has_sent && now - g->last_sent_ns >= d->cfg.repeat_interval_ns)
        *why = NOTIFY_REPEAT;
    else
        return false;
    return true;
}

/* Resolved alerts go out only if the receiver knew them firing. */
static bool
sendable(const struct dispatch *d, const struct galert *ga)
{
    if (!ga->a.resolved)
        return true;
    return ga->sent == NOTIFY_SENT_FIRING &&
           (d->cfg.push || d->cfg.send_resolved);
}

static uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v + UINT64_C(0x9e3779b97f4a7c15) + (h << 6) + (h >> 2);
    return h;
}

static int
fill_flush(const struct dispatch *d,
           const struct group *g,
           enum notify_reason_sent why,
           struct dispatch_flush *f)
{
    size_t i, pass;

    memset(f, 0, sizeof(*f));
    f->reason = why;
    f->group_key = strdup(g->key);
    f->alerts = calloc(g->n, sizeof(*f->alerts));
    if (f->group_key == NULL || f->alerts == NULL)
        return DESKDB_ENOMEM;
    if (g->alertname != NULL) {
        f->group_labels = calloc(1, sizeof(*f->group_labels));
        if (f->group_labels == NULL)
            return DESKDB_ENOMEM;
        f->n_group_labels = 1;
        f->group_labels->name = strdup("alertname");
        f->group_labels->value = strdup(g->alertname);
        if (f->group_labels->name == NULL || f->group_labels->value == NULL)
            return DESKDB_ENOMEM;
    }
    /* Firing alerts first, then resolved ones, as a reader scans them. */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < g->n; i++) {
            const struct galert *ga = &g->alerts[i];

            if (ga->a.resolved != (pass == 1) || !sendable(d, ga))
                continue;
            if (notify_alert_copy(&f->alerts[f->n_alerts], &ga->a) != DESKDB_OK)
                return DESKDB_ENOMEM;
            f->n_alerts++;
            f->signature = mix(f->signature, ga->a.fingerprint);
            f->signature = mix(f->signature, ga->a.resolved);
        }
    }
    return DESKDB_OK;
}

static void
drop_unsendable(const struct dispatch *d, struct group *g)
{
    size_t i = 0;

    while (i < g->n) {
        if (!sendable(d, &g->alerts[i]))
            galert_remove(g, i);
        else
            i++;
    }
}

static int
flush_group(struct dispatch *d,
            struct group *g,
            int64_t now,
            struct dispatch_flush **out,
            size_t *n_out)
{
    enum notify_reason_sent why;
    struct dispatch_flush *grown;
    int rc = DESKDB_OK;

    g->next_flush_ns =
        now + (d->cfg.push ? d->cfg.resend_ns : d->cfg.group_interval_ns);
    if (decide(d, g, now, &why)) {
        grown = realloc(*out, (*n_out + 1) * sizeof(*grown));
        if (grown == NULL)
            return DESKDB_ENOMEM;
        *out = grown;
        rc = fill_flush(d, g, why, &grown[*n_out]);
        if (rc != DESKDB_OK)
            dispatch_flush_free(&grown[*n_out]);
        else
            (*n_out)++;
    }
    drop_unsendable(d, g);
    return rc;
}

int
dispatch_due(struct dispatch *d,
             int64_t now_mono_ns,
             struct dispatch_flush **out,
             size_t *n_out)
{
    struct group *g, *next;
    int rc = DESKDB_OK;

    for (g = d->groups; g != NULL && rc == DESKDB_OK; g = next) {
        next = g->next;
        if (g->next_flush_ns > now_mono_ns)
            continue;
        rc = flush_group(d, g, now_mono_ns, out, n_out);
        if (g->n == 0)
            group_remove(d, g);
    }
    return rc;
}

void
dispatch_delivered(struct dispatch *d,
                   const struct dispatch_flush *f,
                   int64_t now_mono_ns)
{
    struct group *g = group_find(d, f->group_key);
    size_t i, j;

    if (g == NULL)
        return;
    for (i = 0; i < f->n_alerts; i++) {
        for (j = 0; j < g->n; j++) {
            struct galert *ga = &g->alerts[j];

            if (ga->a.fingerprint != f->alerts[i].fingerprint)
                continue;
            if (!f->alerts[i].resolved) {
                ga->sent = NOTIFY_SENT_FIRING;
            } else if (ga->a.resolved) {
                galert_remove(g, j);
            } else {
                ga->sent = NOTIFY_SENT_RESOLVED;
            }
            break;
        }
    }
    g->has_sent = true;
    g->last_sent_ns = now_mono_ns;
    if (g->n == 0)
        group_remove(d, g);
}

int64_t
dispatch_next_due(const struct dispatch *d)
{
    const struct group *g;
    int64_t next = INT64_MAX;

    for (g = d->groups; g != NULL; g = g->next) {
        if (g->next_flush_ns < next)
            next = g->next_flush_ns;
    }
    return next;
}

size_t
dispatch_groups(const struct dispatch *d)
{
    return d->n_groups;
}

/* Copy every alert of `old` into `d` (configured for the new mode),
 * keeping what the receiver was told and when. */
static int
regroup(struct dispatch *d, const struct group *old, int64_t now)
{
    struct buf key;
    struct group *g = NULL;
    size_t i;
    int rc = DESKDB_OK;

    buf_init(&key, 64 * 1024);
    for (i = 0; rc == DESKDB_OK && i < old->n; i++) {
        const struct galert *ga = &old->alerts[i];

        buf_reset(&key);
        rc = alert_group_key(d, &ga->a, &key);
        g = rc == DESKDB_OK ? group_find(d, key.data) : NULL;
        if (rc == DESKDB_OK && g == NULL)
            g = group_add(d, key.data, &ga->a);
        if (g == NULL || galert_add(g, &ga->a, ga->sent) == NULL) {
            rc = DESKDB_ENOMEM;
            break;
        }
        g->next_flush_ns = now;
        if (old->has_sent &&
            (!g->has_sent || old->last_sent_ns > g->last_sent_ns))
            g->last_sent_ns = old->last_sent_ns;
        g->has_sent = g->has_sent || old->has_sent;
    }
    buf_fini(&key);
    return rc;
}

int
dispatch_reconfigure(struct dispatch *d,
                     const struct dispatch_cfg *cfg,
                     int64_t now_mono_ns)
{
    struct dispatch *fresh;
    struct group *g, *next;
    int rc = DESKDB_OK;

    if (cfg->push == d->cfg.push) {
        d->cfg = *cfg;
        return DESKDB_OK;
    }
    fresh = dispatch_create(cfg);
    if (fresh == NULL)
        return DESKDB_ENOMEM;
    for (g = d->groups; g != NULL && rc == DESKDB_OK; g = g->next)
        rc = regroup(fresh, g, now_mono_ns);
    if (rc != DESKDB_OK) {
        dispatch_destroy(fresh);
        return rc;
    }
    for (g = d->groups; g != NULL; g = next) {
        next = g->next;
        group_free(g);
    }
    d->groups = fresh->groups;
    d->n_groups = fresh->n_groups;
    d->cfg = *cfg;
    free(fresh);
    return DESKDB_OK;
}

/* SPDX-License-Identifier: MIT */
/* Comparing the migrations at hand with the database's history. */
#include "core/migrate_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
migrate_state_name(enum migrate_state state)
{
    switch (state) {
    case MIGRATE_APPLIED:
        return "applied";
    case MIGRATE_PENDING:
        return "pending";
    case MIGRATE_CHANGED:
        return "changed";
    case MIGRATE_UNKNOWN:
        return "unknown";
    }
    return "?";
}

static void
from_applied(struct migrate_status *s,
             const struct migrate_applied *a,
             const struct migration *m)
{
    s->version = a->version;
    snprintf(s->name, sizeof(s->name), "%s", a->name);
    snprintf(s->applied_at, sizeof(s->applied_at), "%s", a->applied_at);
    snprintf(s->checksum, sizeof(s->checksum), "%s", a->checksum);
    s->duration_ms = a->duration_ms;
    if (m == NULL)
        s->state = MIGRATE_UNKNOWN;
    else if (strcmp(m->name, a->name) != 0 ||
             strcmp(m->checksum, a->checksum) != 0)
        s->state = MIGRATE_CHANGED;
    else
        s->state = MIGRATE_APPLIED;
}

static void
from_pending(struct migrate_status *s, const struct migration *m)
{
    memset(s, 0, sizeof(*s));
    s->version = m->version;
    s->state = MIGRATE_PENDING;
    s->duration_ms = -1;
    snprintf(s->name, sizeof(s->name), "%s", m->name);
    snprintf(s->checksum, sizeof(s->checksum), "%s", m->checksum);
}

int
migrate_plan_status(const struct migration_set *set,
                    const struct migrate_applied *applied,
                    size_t n_applied,
                    struct migrate_status **out,
                    size_t *n,
                    struct deskdb_err *err)
{
    struct migrate_status *st;
    size_t i = 0, j = 0, k = 0;

    *out = NULL;
    *n = 0;
    st = calloc(set->n + n_applied + 1, sizeof(*st));
    if (st == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    /* Both lists are sorted by version: merge them. */
    while (i < set->n || j < n_applied) {
        const struct migration *m = i < set->n ? &set->items[i] : NULL;
        const struct migrate_applied *a = j < n_applied ? &applied[j] : NULL;

        if (a != NULL && (m == NULL || a->version < m->version)) {
            from_applied(&st[k++], a, NULL);
            j++;
        } else if (a != NULL && a->version == m->version) {
            from_applied(&st[k++], a, m);
            i++, j++;
        } else {
            from_pending(&st[k++], m);
            i++;
        }
    }
    *out = st;
    *n = k;
    return DESKDB_OK;
}

static int
refuse_changed(const struct migrate_status *s,
               const struct migration_set *set,
               struct deskdb_err *err)
{
    const struct migration *m = migration_set_find(set, s->version);

    if (strcmp(m->name, s->name) != 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "migration %s was applied under the name %s; restore "
                       "the file name or write a new migration",
                       m->name,
                       s->name);
    return err_set(err,
                   DESKDB_EINVAL,
                   "migration %s was changed after it was applied (checksum "
                   "%.12s recorded, %.12s now); restore the file or write a "
                   "new migration",
                   s->name,
                   s->checksum,
                   m->checksum);
}

int
migrate_plan_check(const struct migrate_status *st,
                   size_t n,
                   const struct migration_set *set,
                   bool up,
                   struct deskdb_err *err)
{
    const struct migrate_status *newest = NULL;
    size_t i;

    for (i = 0; i < n; i++) {
        if (st[i].state == MIGRATE_CHANGED)
            return refuse_changed(&st[i], set, err);
        if (st[i].state == MIGRATE_UNKNOWN)
            return err_set(err,
                           DESKDB_EINVAL,
                           "the database has migration %s applied, which "
                           "these migrations do not include; use the deskdb "
                           "release (or --dir) that applied it",
                           st[i].name);
        if (st[i].state != MIGRATE_PENDING)
            newest = &st[i];
    }
    if (!up || newest == NULL)
        return DESKDB_OK;
    for (i = 0; i < n && st[i].version < newest->version; i++) {
        if (st[i].state == MIGRATE_PENDING)
            return err_set(err,
                           DESKDB_EINVAL,
                           "migration %s is pending but the newer %s is "
                           "already applied; give it a version after %s",
                           st[i].name,
                           newest->name,
                           newest->name);
    }
    return DESKDB_OK;
}

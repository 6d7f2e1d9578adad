/* SPDX-License-Identifier: MIT */
/* The SQL of maintenance steps and purge batches. */
#include "jobs/maint.h"

#include <string.h>

#define PUT(b, s)                     \
    do {                              \
        int rc_ = buf_puts((b), (s)); \
        if (rc_ != 0)                 \
            return rc_;               \
    } while (0)

/* One identifier part of `len` bytes, quoted and folded. */
static int
put_ident(struct buf *b, const char *s, size_t len)
{
    int rc = buf_putc(b, '"');

    for (size_t i = 0; rc == 0 && i < len; i++) {
        char c = s[i];

        if (c == '"')
            rc = buf_putc(b, '"'); /* never in a checked name; stay safe */
        if (rc == 0)
            rc =
                buf_putc(b, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c);
    }
    return rc == 0 ? buf_putc(b, '"') : rc;
}

int
maint_put_relation(struct buf *b, const char *name)
{
    const char *dot = strchr(name, '.');
    int rc;

    if (dot == NULL)
        return put_ident(b, name, strlen(name));
    rc = put_ident(b, name, (size_t)(dot - name));
    if (rc == 0)
        rc = buf_putc(b, '.');
    return rc == 0 ? put_ident(b, dot + 1, strlen(dot + 1)) : rc;
}

static int
put_relations(struct buf *b, const struct config_str *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        PUT(b, i == 0 ? " " : ", ");
        int rc = maint_put_relation(b, list[i].value);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int
analyze_sql(const struct config_step_analyze *a, struct buf *b)
{
    PUT(b, "ANALYZE");
    return put_relations(b, a->tables, a->n_tables);
}

static int
vacuum_sql(const struct config_step_vacuum *v, struct buf *b)
{
    const char *opts[4];
    int n = 0;

    if (v->analyze)
        opts[n++] = "ANALYZE";
    if (v->freeze)
        opts[n++] = "FREEZE";
    if (v->disable_page_skipping)
        opts[n++] = "DISABLE_PAGE_SKIPPING";
    /* AUTO is the server's default (PostgreSQL 14+): only the explicit
     * choices are written, which also keeps older servers happy. */
    if (v->index_cleanup == CONFIG_INDEX_CLEANUP_ON)
        opts[n++] = "INDEX_CLEANUP ON";
    else if (v->index_cleanup == CONFIG_INDEX_CLEANUP_OFF)
        opts[n++] = "INDEX_CLEANUP OFF";
    PUT(b, "VACUUM");
    for (int i = 0; i < n; i++) {
        PUT(b, i == 0 ? " (" : ", ");
        PUT(b, opts[i]);
    }
    if (n > 0)
        PUT(b, ")");
    return put_relations(b, v->tables, v->n_tables);
}

static int
reindex_sql(const struct config_step_reindex *r, struct buf *b)
{
    bool index = r->index.value != NULL;

    PUT(b, index ? "REINDEX INDEX " : "REINDEX TABLE ");
    if (r->concurrently)
        PUT(b, "CONCURRENTLY ");
    return maint_put_relation(b, index ? r->index.value : r->table.value);
}

static int
refresh_sql(const struct config_step_refresh *r, struct buf *b)
{
    PUT(b, "REFRESH MATERIALIZED VIEW ");
    if (r->concurrently)
        PUT(b, "CONCURRENTLY ");
    return maint_put_relation(b, r->view.value);
}

static int
create_index_sql(const struct config_step_create_index *c, struct buf *b)
{
    int rc;

    PUT(b, c->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    if (c->concurrently)
        PUT(b, "CONCURRENTLY ");
    PUT(b, "IF NOT EXISTS ");
    rc = maint_put_relation(b, c->name.value);
    if (rc == 0)
        rc = buf_puts(b, " ON ");
    if (rc == 0)
        rc = maint_put_relation(b, c->table.value);
    if (rc != 0)
        return rc;
    if (c->definition.value != NULL) {
        PUT(b, " ");
        PUT(b, c->definition.value);
        return 0;
    }
    for (size_t i = 0; i < c->n_columns; i++) {
        PUT(b, i == 0 ? " (" : ", ");
        rc = put_ident(b, c->columns[i].value, strlen(c->columns[i].value));
        if (rc != 0)
            return rc;
    }
    PUT(b, ")");
    return 0;
}

int
maint_step_sql(const struct config_maint_step *st, struct buf *b)
{
    switch (st->kind) {
    case CONFIG_STEP_ANALYZE:
        return analyze_sql(&st->u.analyze, b);
    case CONFIG_STEP_VACUUM:
        return vacuum_sql(&st->u.vacuum, b);
    case CONFIG_STEP_REINDEX:
        return reindex_sql(&st->u.reindex, b);
    case CONFIG_STEP_REFRESH_MATERIALIZED_VIEW:
        return refresh_sql(&st->u.refresh, b);
    case CONFIG_STEP_CREATE_INDEX:
        return create_index_sql(&st->u.create_index, b);
    }
    return DESKDB_EINVAL;
}

bool
maint_step_builds_concurrently(const struct config_maint_step *st)
{
    if (st->kind == CONFIG_STEP_REINDEX)
        return st->u.reindex.concurrently;
    if (st->kind == CONFIG_STEP_CREATE_INDEX)
        return st->u.create_index.concurrently;
    return false;
}

/* Who is still working on index c: a lock on it or a build in progress. */
#define BUILDER                                                     \
    " (SELECT l.pid FROM pg_locks l WHERE l.relation = c.oid"       \
    "    AND l.pid <> pg_backend_pid()"                             \
    "  UNION ALL SELECT p.pid FROM pg_stat_progress_create_index p" \
    "    WHERE p.index_relid = c.oid AND p.pid <> pg_backend_pid()" \
    "  LIMIT 1)"

/* REINDEX ... CONCURRENTLY leaves <index>_ccnew[N] (and, when the swap
 * failed, <index>_ccold[N]) behind, invalid; the name is cut to fit 63
 * bytes, so the prefix is compared over its first 50 bytes. */
#define CC_LEFTOVER \
    " AND NOT i.indisvalid AND c.relname ~ '_cc(new|old)[0-9]*$'"

static const char leftover_reindex_index[] =
    "SELECT format('%I.%I', n.nspname, c.relname)," BUILDER " FROM pg_index x"
    " JOIN pg_class xc ON xc.oid = x.indexrelid"
    " JOIN pg_index i ON i.indrelid = x.indrelid"
    " JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE x.indexrelid = to_regclass($1) AND $2 = ''" CC_LEFTOVER
    " AND left(c.relname, least(length(xc.relname), 50))"
    "     = left(xc.relname, 50)"
    " ORDER BY 1";

static const char leftover_reindex_table[] =
    "SELECT format('%I.%I', n.nspname, c.relname)," BUILDER " FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE i.indrelid = to_regclass($1) AND $2 = ''" CC_LEFTOVER " ORDER BY 1";

/* A failed CREATE INDEX CONCURRENTLY leaves the index itself, invalid;
 * IF NOT EXISTS would then skip the build and keep the broken index. */
static const char leftover_create_index[] =
    "SELECT format('%I.%I', n.nspname, c.relname)," BUILDER " FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid"
    " JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = lower($1) AND i.indrelid = to_regclass($2)"
    "   AND NOT i.indisvalid";

const char *
maint_leftover_query(const struct config_maint_step *st)
{
    if (st->kind == CONFIG_STEP_CREATE_INDEX)
        return leftover_create_index;
    return st->u.reindex.index.value != NULL ? leftover_reindex_index
                                             : leftover_reindex_table;
}

void
maint_leftover_params(const struct config_maint_step *st, const char *out[2])
{
    if (st->kind == CONFIG_STEP_CREATE_INDEX) {
        out[0] = st->u.create_index.name.value;
        out[1] = st->u.create_index.table.value;
        return;
    }
    out[0] = st->u.reindex.index.value != NULL ? st->u.reindex.index.value
                                               : st->u.reindex.table.value;
    out[1] = "";
}

int
maint_purge_sql(const struct config_job_purge *p, struct buf *b)
{
    int rc;

    PUT(b, "DELETE FROM ");
    rc = maint_put_relation(b, p->table.value);
    if (rc == 0)
        rc = buf_puts(b, " WHERE ctid = ANY (ARRAY(SELECT ctid FROM ");
    if (rc == 0)
        rc = maint_put_relation(b, p->table.value);
    if (rc == 0)
        rc = buf_printf(b, " WHERE (%s)", p->where.value);
    if (rc == 0 && p->order_by.value != NULL)
        rc = buf_printf(b, " ORDER BY %s", p->order_by.value);
    if (rc == 0)
        rc = buf_printf(b,
                        " LIMIT %d)) AND (%s)",
                        p->batch_size,
                        p->where.value);
    return rc;
}

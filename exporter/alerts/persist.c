/* SPDX-License-Identifier: MIT */
/* Alert states in deskdb.alert_state: written behind the evaluation,
 * read back at start so that a resolve after a restart is still sent. */
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "exporter/alerts/internal.h"

/* Bounds on the state table's statements: they run on the evaluation
 * thread, which must keep its pace when the database is slow. */
#define STATE_ACQUIRE_MS  2000
#define STATE_DEADLINE_NS (5 * NS_PER_SEC)

static const char upsert_sql[] =
    "INSERT INTO deskdb.alert_state (fingerprint, rule, labels, state, "
    "active_at, fired_at, resolved_at, last_sent_at, payload) "
    "VALUES ($1, $2, $3::jsonb, $4, to_timestamp($5::float8), "
    "to_timestamp($6::float8), to_timestamp($7::float8), "
    "to_timestamp($8::float8), $9::jsonb) "
    "ON CONFLICT (fingerprint) DO UPDATE SET rule = EXCLUDED.rule, "
    "labels = EXCLUDED.labels, state = EXCLUDED.state, "
    "active_at = EXCLUDED.active_at, fired_at = EXCLUDED.fired_at, "
    "resolved_at = EXCLUDED.resolved_at, "
    "last_sent_at = EXCLUDED.last_sent_at, payload = EXCLUDED.payload";

static const char delete_sql[] =
    "DELETE FROM deskdb.alert_state WHERE fingerprint = $1";

static const char *const sent_names[] = {NULL, "firing", "resolved"};

/* ---- collect ----------------------------------------------------------- */

static json_t *
kv_json(const struct notify_label *l, size_t n)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < n; i++)
        json_object_set_new(o, l[i].name, json_string(l[i].value));
    return o;
}

static char *
payload_json(const struct alerts *a, const struct alert_instance *inst)
{
    json_t *o, *sent = json_object();
    char num[32], *text;
    size_t i;

    for (i = 0; sent != NULL && i < a->ev->n_receivers; i++) {
        if (inst->sent[i] != NOTIFY_SENT_NONE)
            json_object_set_new(sent,
                                a->cfg->receivers[i].name,
                                json_string(sent_names[inst->sent[i]]));
    }
    o = json_pack("{s:o, s:s, s:o, s:o}",
                  "annotations",
                  kv_json(inst->alert.annotations, inst->alert.n_annotations),
                  "value",
                  alerts_format_value(inst->value, num),
                  "keep_firing_since",
                  inst->keep_firing_since != 0
                      ? json_integer(inst->keep_firing_since / NS_PER_MS)
                      : json_null(),
                  "sent",
                  sent);
    if (o == NULL)
        return NULL;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static int
fill_row(const struct alerts *a,
         const struct alert_instance *inst,
         struct persist_row *row)
{
    const char *alertname =
        notify_label_get(inst->alert.labels, inst->alert.n_labels, "alertname");
    json_t *labels = kv_json(inst->alert.labels, inst->alert.n_labels);

    snprintf(row->fingerprint,
             sizeof(row->fingerprint),
             "%016" PRIx64,
             inst->alert.fingerprint);
    row->rule = strdup(inst->rule < a->ev->n_rules
                           ? a->cfg->rules[inst->rule].name
                           : (alertname != NULL ? alertname : ""));
    row->labels = labels != NULL ? json_dumps(labels, JSON_COMPACT) : NULL;
    json_decref(labels);
    row->payload = payload_json(a, inst);
    row->state = alert_state_name(inst->state);
    row->active_at = inst->active_at;
    row->fired_at = inst->fired_at;
    row->resolved_at = inst->resolved_at;
    row->last_sent_at = inst->last_sent_at;
    return row->rule != NULL && row->labels != NULL && row->payload != NULL
               ? DESKDB_OK
               : DESKDB_ENOMEM;
}

int
persist_collect(struct alerts *a, struct persist_batch *b)
{
    struct alerts_eval *ev = a->ev;
    size_t i;
    int rc = DESKDB_OK;

    memset(b, 0, sizeof(*b));
    b->rows = calloc(ev->n_inst + 1, sizeof(*b->rows));
    if (b->rows == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; rc == DESKDB_OK && i < ev->n_inst; i++) {
        if (!ev->inst[i]->dirty)
            continue;
        rc = fill_row(a, ev->inst[i], &b->rows[b->n_rows++]);
        ev->inst[i]->dirty = false;
    }
    b->deleted = ev->deleted;
    b->n_deleted = ev->n_deleted;
    ev->deleted = NULL;
    ev->n_deleted = ev->cap_deleted = 0;
    if (rc != DESKDB_OK)
        persist_requeue(a, b);
    return rc;
}

void
persist_requeue(struct alerts *a, const struct persist_batch *b)
{
    struct alerts_eval *ev = a->ev;
    struct alert_instance *inst;
    uint64_t fp, *grown;
    size_t i;

    for (i = 0; i < b->n_rows; i++) {
        fp = strtoull(b->rows[i].fingerprint, NULL, 16);
        inst = alerts_eval_find(ev, fp);
        if (inst != NULL)
            inst->dirty = true;
    }
    for (i = 0; i < b->n_deleted; i++) {
        if (alerts_eval_find(ev, b->deleted[i]) != NULL)
            continue;
        if (ev->n_deleted == ev->cap_deleted) {
            size_t cap = ev->cap_deleted != 0 ? 2 * ev->cap_deleted : 16;

            grown = realloc(ev->deleted, cap * sizeof(*grown));
            if (grown == NULL)
                return;
            ev->deleted = grown;
            ev->cap_deleted = cap;
        }
        ev->deleted[ev->n_deleted++] = b->deleted[i];
    }
}

void
persist_batch_fini(struct persist_batch *b)
{
    size_t i;

    for (i = 0; i < b->n_rows; i++) {
        free(b->rows[i].rule);
        free(b->rows[i].labels);
        free(b->rows[i].payload);
    }
    free(b->rows);
    free(b->deleted);
    memset(b, 0, sizeof(*b));
}

/* ---- write ------------------------------------------------------------- */

static const char *
epoch(int64_t ns, char buf[32])
{
    if (ns == 0)
        return NULL;
    snprintf(buf,
             32,
             "%" PRId64 ".%06" PRId64,
             ns / NS_PER_SEC,
             ns % NS_PER_SEC / 1000);
    return buf;
}

static int
write_rows(struct pool_conn *c,
           const struct persist_batch *b,
           struct deskdb_err *err)
{
    char t[4][32];
    size_t i;
    int rc = DESKDB_OK;

    for (i = 0; rc == DESKDB_OK && i < b->n_rows; i++) {
        const struct persist_row *r = &b->rows[i];
        const char *params[] = {r->fingerprint,
                                r->rule,
                                r->labels,
                                r->state,
                                epoch(r->active_at, t[0]),
                                epoch(r->fired_at, t[1]),
                                epoch(r->resolved_at, t[2]),
                                epoch(r->last_sent_at, t[3]),
                                r->payload};

        rc = pool_query(c, upsert_sql, 9, params, NULL, err);
    }
    for (i = 0; rc == DESKDB_OK && i < b->n_deleted; i++) {
        char fp[17];
        const char *params[] = {fp};

        snprintf(fp, sizeof(fp), "%016" PRIx64, b->deleted[i]);
        rc = pool_query(c, delete_sql, 1, params, NULL, err);
    }
    return rc;
}

static int
checkout(struct alerts *a, struct pool_conn **c, struct deskdb_err *err)
{
    int rc = pool_acquire_timeout(a->pool, c, STATE_ACQUIRE_MS, err);

    if (rc != DESKDB_OK)
        return rc;
    /* Bookkeeping, not the application's statements. */
    pool_conn_set_tracked(*c, false);
    pool_conn_set_deadline(*c,
                           clock_mono(pool_clock(a->pool)) + STATE_DEADLINE_NS);
    return DESKDB_OK;
}

int
persist_write(struct alerts *a,
              const struct persist_batch *b,
              struct deskdb_err *err)
{
    struct deskdb_err ignored;
    struct pool_conn *c;
    int rc = checkout(a, &c, err);

    if (rc != DESKDB_OK)
        return rc;
    rc = pool_exec(c, "BEGIN", err);
    if (rc == DESKDB_OK)
        rc = write_rows(c, b, err);
    if (rc == DESKDB_OK)
        rc = pool_exec(c, "COMMIT", err);
    else if (pool_exec(c, "ROLLBACK", &ignored) != DESKDB_OK)
        pool_conn_mark_broken(c);
    pool_release(a->pool, c);
    return rc;
}

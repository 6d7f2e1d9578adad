/* SPDX-License-Identifier: MIT */
/* Reading deskdb.alert_state back at start: instances for the evaluator
 * and what each receiver had been told, for its groups. */
#include <inttypes.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/pool.h"
#include "exporter/alerts/internal.h"

#define LOAD_ACQUIRE_MS  2000
#define LOAD_DEADLINE_NS (5 * NS_PER_SEC)

static const char select_sql[] =
    "SELECT fingerprint, rule, labels::text, state, "
    "extract(epoch FROM active_at)::float8, "
    "extract(epoch FROM fired_at)::float8, "
    "extract(epoch FROM resolved_at)::float8, "
    "extract(epoch FROM last_sent_at)::float8, payload::text "
    "FROM deskdb.alert_state ORDER BY fingerprint";

static int
label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct notify_label *)a)->name,
                  ((const struct notify_label *)b)->name);
}

/* A JSON object of strings as sorted labels. */
static int
object_labels(json_t *o, struct notify_label **out, size_t *n)
{
    const char *k;
    json_t *v;

    *out = NULL;
    *n = 0;
    if (!json_is_object(o))
        return DESKDB_EINVAL;
    *out = calloc(json_object_size(o) + 1, sizeof(**out));
    if (*out == NULL)
        return DESKDB_ENOMEM;
    json_object_foreach(o, k, v)
    {
        if (!json_is_string(v))
            return DESKDB_EINVAL;
        (*out)[*n].name = strdup(k);
        (*out)[*n].value = strdup(json_string_value(v));
        (*n)++;
        if ((*out)[*n - 1].name == NULL || (*out)[*n - 1].value == NULL)
            return DESKDB_ENOMEM;
    }
    qsort(*out, *n, sizeof(**out), label_cmp);
    return DESKDB_OK;
}

static int64_t
epoch_ns(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return 0;
    return (int64_t)(strtod(PQgetvalue(res, row, col), NULL) * 1e9);
}

static size_t
rule_index(const struct alerts *a, const char *name)
{
    size_t i;

    for (i = 0; i < a->cfg->n_rules; i++) {
        if (strcmp(a->cfg->rules[i].name, name) == 0)
            return i;
    }
    return a->cfg->n_rules; /* gone since: resolved at the next round */
}

static int
parse_state(const char *s, enum alert_state *out)
{
    if (strcmp(s, "pending") == 0)
        *out = ALERT_PENDING;
    else if (strcmp(s, "firing") == 0)
        *out = ALERT_FIRING;
    else if (strcmp(s, "resolved") == 0)
        *out = ALERT_RESOLVED;
    else
        return DESKDB_EINVAL;
    return DESKDB_OK;
}

static void
apply_payload(const struct alerts *a,
              struct alert_instance *inst,
              const char *text)
{
    json_t *p = text != NULL ? json_loads(text, 0, NULL) : NULL;
    json_t *sent, *v;
    const char *k;
    size_t i;

    if (p == NULL)
        return;
    if (object_labels(json_object_get(p, "annotations"),
                      &inst->alert.annotations,
                      &inst->alert.n_annotations) != DESKDB_OK) {
        notify_labels_free(inst->alert.annotations, inst->alert.n_annotations);
        inst->alert.annotations = NULL;
        inst->alert.n_annotations = 0;
    }
    v = json_object_get(p, "value");
    if (json_is_string(v))
        inst->value = strtod(json_string_value(v), NULL);
    v = json_object_get(p, "keep_firing_since");
    if (json_is_integer(v))
        inst->keep_firing_since = json_integer_value(v) * NS_PER_MS;
    sent = json_object_get(p, "sent");
    json_object_foreach(sent, k, v)
    {
        for (i = 0; i < a->cfg->n_receivers; i++) {
            if (strcmp(a->cfg->receivers[i].name, k) != 0 || !json_is_string(v))
                continue;
            if (strcmp(json_string_value(v), "firing") == 0)
                inst->sent[i] = NOTIFY_SENT_FIRING;
            else if (strcmp(json_string_value(v), "resolved") == 0)
                inst->sent[i] = NOTIFY_SENT_RESOLVED;
        }
    }
    json_decref(p);
}

/* One row as an instance, or NULL if it is unusable (or out of memory). */
static struct alert_instance *
row_instance(const struct alerts *a, const PGresult *res, int row)
{
    struct alert_instance *inst = alert_instance_new(a->cfg->n_receivers);
    json_t *labels = json_loads(PQgetvalue(res, row, 2), 0, NULL);
    char fp[17];
    int rc;

    rc = inst != NULL
             ? object_labels(labels, &inst->alert.labels, &inst->alert.n_labels)
             : DESKDB_ENOMEM;
    json_decref(labels);
    if (rc == DESKDB_OK)
        rc = parse_state(PQgetvalue(res, row, 3), &inst->state);
    if (rc == DESKDB_OK) {
        inst->alert.fingerprint =
            notify_fingerprint(inst->alert.labels, inst->alert.n_labels);
        snprintf(fp, sizeof(fp), "%016" PRIx64, inst->alert.fingerprint);
        /* Labels edited by hand: not an alert this program made. */
        if (strcmp(fp, PQgetvalue(res, row, 0)) != 0)
            rc = DESKDB_EINVAL;
    }
    if (rc != DESKDB_OK) {
        alert_instance_free(inst);
        return NULL;
    }
    inst->rule = rule_index(a, PQgetvalue(res, row, 1));
    inst->active_at = epoch_ns(res, row, 4);
    inst->fired_at = epoch_ns(res, row, 5);
    inst->resolved_at = epoch_ns(res, row, 6);
    inst->last_sent_at = epoch_ns(res, row, 7);
    inst->alert.starts_at_ns = inst->fired_at;
    inst->alert.resolved = inst->state == ALERT_RESOLVED;
    inst->alert.ends_at_ns = inst->resolved_at;
    apply_payload(a,
                  inst,
                  PQgetisnull(res, row, 8) ? NULL : PQgetvalue(res, row, 8));
    return inst;
}

static int
query_rows(struct alerts *a, PGresult **res, struct deskdb_err *err)
{
    struct pool_conn *c;
    int rc = pool_acquire_timeout(a->pool, &c, LOAD_ACQUIRE_MS, err);

    if (rc != DESKDB_OK)
        return rc;
    pool_conn_set_tracked(c, false);
    pool_conn_set_deadline(c,
                           clock_mono(pool_clock(a->pool)) + LOAD_DEADLINE_NS);
    rc = pool_query(c, select_sql, 0, NULL, (struct pg_result **)res, err);
    pool_release(a->pool, c);
    return rc;
}

/* Hand each receiver the alerts it had been told were firing. */
static void
restore_groups(struct alerts *a, struct alert_instance **list, size_t n)
{
    size_t i, r;

    for (i = 0; i < n; i++) {
        for (r = 0; r < a->n_notifiers; r++) {
            if (list[i]->state != ALERT_PENDING &&
                list[i]->sent[r] == NOTIFY_SENT_FIRING)
                notifier_restore(a->notifiers[r],
                                 &list[i]->alert,
                                 NOTIFY_SENT_FIRING,
                                 list[i]->last_sent_at);
        }
    }
}

/* An instance evaluated here before the table could be read (or while
 * another instance led): take what the receivers were told. */
static void
merge_sent(struct alerts *a, const struct alert_instance *row)
{
    struct alert_instance *inst =
        alerts_eval_find(a->ev, row->alert.fingerprint);
    size_t r;

    for (r = 0; inst != NULL && r < a->cfg->n_receivers; r++) {
        if (inst->sent[r] == NOTIFY_SENT_NONE &&
            row->sent[r] != NOTIFY_SENT_NONE) {
            inst->sent[r] = row->sent[r];
            inst->last_sent_at = row->last_sent_at;
        }
    }
}

int
persist_load(struct alerts *a, struct deskdb_err *err)
{
    struct alert_instance **list, *inst;
    PGresult *res = NULL;
    size_t n = 0, i;
    char count[24];
    int rc = query_rows(a, &res, err), row;

    if (rc != DESKDB_OK)
        return rc;
    list = calloc((size_t)PQntuples(res) + 1, sizeof(*list));
    if (list == NULL) {
        PQclear(res);
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    for (row = 0; row < PQntuples(res); row++) {
        inst = row_instance(a, res, row);
        if (inst != NULL)
            list[n++] = inst;
    }
    PQclear(res);
    /* Restore before the instances are shared: the receivers' groups
     * must know them before the next evaluation reports them. */
    restore_groups(a, list, n);
    pthread_mutex_lock(&a->lock);
    for (i = 0; i < n; i++) {
        if (alerts_eval_adopt(a->ev, list[i]) == DESKDB_OK)
            continue;
        merge_sent(a, list[i]);
        alert_instance_free(list[i]);
    }
    pthread_mutex_unlock(&a->lock);
    free(list);
    log_info("alerts",
             "alert states loaded",
             "alerts",
             log_i64(count, (int64_t)n));
    return DESKDB_OK;
}

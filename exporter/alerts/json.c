/* SPDX-License-Identifier: MIT */
/* /api/alerts: the pending and firing alerts and the receivers' queues. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporter/alerts/internal.h"

static json_t *
kv_json(const struct notify_label *l, size_t n)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < n; i++)
        json_object_set_new(o, l[i].name, json_string(l[i].value));
    return o;
}

static json_t *
time_json(int64_t ns)
{
    char t[40];

    return ns != 0 ? json_string(notify_format_time(ns, t)) : json_null();
}

static json_t *
alert_json(const struct alerts *a, const struct alert_instance *inst)
{
    const char *name =
        notify_label_get(inst->alert.labels, inst->alert.n_labels, "alertname");
    char fp[17], num[32];

    snprintf(fp, sizeof(fp), "%016" PRIx64, inst->alert.fingerprint);
    (void)a;
    return json_pack(
        "{s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:s}",
        "name",
        name != NULL ? name : "",
        "state",
        alert_state_name(inst->state),
        "labels",
        kv_json(inst->alert.labels, inst->alert.n_labels),
        "annotations",
        kv_json(inst->alert.annotations, inst->alert.n_annotations),
        "activeAt",
        time_json(inst->active_at),
        "firedAt",
        time_json(inst->fired_at),
        "value",
        alerts_format_value(inst->value, num),
        "fingerprint",
        fp);
}

static int
inst_cmp(const void *x, const void *y)
{
    const struct alert_instance *a = *(const struct alert_instance *const *)x;
    const struct alert_instance *b = *(const struct alert_instance *const *)y;
    const char *na =
        notify_label_get(a->alert.labels, a->alert.n_labels, "alertname");
    const char *nb =
        notify_label_get(b->alert.labels, b->alert.n_labels, "alertname");
    int c = strcmp(na != NULL ? na : "", nb != NULL ? nb : "");

    if (c != 0)
        return c;
    return a->alert.fingerprint < b->alert.fingerprint   ? -1
           : a->alert.fingerprint > b->alert.fingerprint ? 1
                                                         : 0;
}

/* Under the lock: the active alerts, sorted by name then fingerprint. */
static json_t *
alerts_array(struct alerts *a)
{
    struct alert_instance **list;
    json_t *arr = json_array();
    size_t i, n = 0;

    list = calloc(a->ev->n_inst + 1, sizeof(*list));
    if (list == NULL || arr == NULL) {
        free(list);
        json_decref(arr);
        return NULL;
    }
    for (i = 0; i < a->ev->n_inst; i++) {
        if (a->ev->inst[i]->state != ALERT_RESOLVED)
            list[n++] = a->ev->inst[i];
    }
    qsort(list, n, sizeof(*list), inst_cmp);
    for (i = 0; i < n; i++) {
        if (json_array_append_new(arr, alert_json(a, list[i])) != 0) {
            json_decref(arr);
            arr = NULL;
            break;
        }
    }
    free(list);
    return arr;
}

struct receiver_row {
    const char *name; /* in a configuration, which outlives the alerts */
    const char *type;
    struct notifier *n;
};

/* Under the lock: the receivers (a reload may replace them any time). */
static struct receiver_row *
receiver_rows(struct alerts *a, size_t *n)
{
    struct receiver_row *rows = calloc(a->n_notifiers + 1, sizeof(*rows));
    size_t i;

    *n = 0;
    for (i = 0; rows != NULL && i < a->n_notifiers; i++) {
        rows[i].name = a->cfg->receivers[i].name;
        rows[i].type = config_receiver_type_name(a->cfg->receivers[i].type);
        rows[i].n = a->notifiers[i];
        (*n)++;
    }
    return rows;
}

/* Without the lock: each queue takes its notifier's lock. */
static json_t *
receivers_array(const struct receiver_row *rows, size_t n)
{
    json_t *arr = rows != NULL ? json_array() : NULL;
    size_t i;

    for (i = 0; arr != NULL && i < n; i++) {
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:I}",
                      "name",
                      rows[i].name,
                      "type",
                      rows[i].type,
                      "queue_length",
                      (json_int_t)notifier_queue_length(rows[i].n)));
    }
    return arr;
}

int
alerts_json(void *arg, struct buf *out)
{
    struct alerts *a = arg;
    struct receiver_row *rows;
    json_t *alerts, *root;
    size_t n_rows;
    char *text;
    int rc;

    pthread_mutex_lock(&a->lock);
    alerts = alerts_array(a);
    rows = receiver_rows(a, &n_rows);
    pthread_mutex_unlock(&a->lock);
    root = json_pack("{s:o, s:o}",
                     "alerts",
                     alerts,
                     "receivers",
                     receivers_array(rows, n_rows));
    free(rows);
    if (root == NULL)
        return DESKDB_ENOMEM;
    text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (text == NULL)
        return DESKDB_ENOMEM;
    rc = buf_puts(out, text);
    free(text);
    return rc;
}

/* SPDX-License-Identifier: MIT */
/* The evaluator's rules and its set of alert instances, kept sorted by
 * fingerprint. */
#include <stdlib.h>
#include <string.h>

#include "exporter/alerts/eval.h"

static const char *const state_names[] = {"pending", "firing", "resolved"};

const char *
alert_state_name(enum alert_state s)
{
    return (unsigned)s <= ALERT_RESOLVED ? state_names[s] : "unknown";
}

struct alert_instance *
alert_instance_new(size_t n_receivers)
{
    struct alert_instance *inst = calloc(1, sizeof(*inst));

    if (inst == NULL)
        return NULL;
    inst->sent = calloc(n_receivers + 1, sizeof(*inst->sent));
    if (inst->sent == NULL) {
        free(inst);
        return NULL;
    }
    return inst;
}

void
alert_instance_free(struct alert_instance *inst)
{
    if (inst == NULL)
        return;
    notify_alert_fini(&inst->alert);
    free(inst->sent);
    free(inst);
}

static int
rule_receivers(const struct config_alerts *cfg,
               const struct config_rule *rc,
               bool *to)
{
    size_t i, j;

    for (i = 0; i < cfg->n_receivers; i++) {
        to[i] = rc->n_receivers == 0;
        for (j = 0; j < rc->n_receivers; j++) {
            if (strcmp(rc->receivers[j].value, cfg->receivers[i].name) == 0)
                to[i] = true;
        }
    }
    return DESKDB_OK;
}

static int
rule_init(struct alerts_eval *ev, size_t i, struct deskdb_err *err)
{
    const struct config_rule *rc = &ev->cfg->rules[i];
    struct alert_rule *r = &ev->rules[i];
    size_t off, k;
    int rc_parse;

    r->cfg = rc;
    r->severity = "";
    for (k = 0; k < rc->n_labels; k++) {
        if (strcmp(rc->labels[k].key, "severity") == 0)
            r->severity = rc->labels[k].value;
    }
    rc_parse = alert_expr_parse(rc->expr.value, &r->expr, &off, err);
    if (rc_parse != DESKDB_OK)
        return rc_parse;
    if (alert_expr_range_ms(r->expr) > 0) {
        r->history = expr_history_create(alert_expr_range_ms(r->expr));
        if (r->history == NULL)
            return err_set(err, DESKDB_ENOMEM, "out of memory");
    }
    r->to_receiver = calloc(ev->n_receivers + 1, sizeof(bool));
    if (r->to_receiver == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    return rule_receivers(ev->cfg, rc, r->to_receiver);
}

struct alerts_eval *
alerts_eval_create(const struct config_alerts *cfg, struct deskdb_err *err)
{
    struct alerts_eval *ev = calloc(1, sizeof(*ev));
    size_t i;

    if (ev == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    ev->cfg = cfg;
    ev->n_receivers = cfg->n_receivers;
    ev->rules = calloc(cfg->n_rules + 1, sizeof(*ev->rules));
    if (ev->rules == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        free(ev);
        return NULL;
    }
    ev->n_rules = cfg->n_rules;
    for (i = 0; i < cfg->n_rules; i++) {
        if (rule_init(ev, i, err) != DESKDB_OK) {
            err_prefix(err,
                       "alerts.rules[%zu] (%s): expr",
                       i,
                       cfg->rules[i].name);
            alerts_eval_destroy(ev);
            return NULL;
        }
    }
    return ev;
}

void
alerts_eval_destroy(struct alerts_eval *ev)
{
    size_t i;

    if (ev == NULL)
        return;
    for (i = 0; i < ev->n_rules; i++) {
        alert_expr_destroy(ev->rules[i].expr);
        expr_history_destroy(ev->rules[i].history);
        free(ev->rules[i].to_receiver);
    }
    for (i = 0; i < ev->n_inst; i++)
        alert_instance_free(ev->inst[i]);
    free(ev->inst);
    free(ev->rules);
    free(ev->deleted);
    free(ev);
}

/* Index of the first instance with fingerprint >= fp. */
static size_t
lower_bound(const struct alerts_eval *ev, uint64_t fp)
{
    size_t lo = 0, hi = ev->n_inst;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (ev->inst[mid]->alert.fingerprint < fp)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct alert_instance *
alerts_eval_find(const struct alerts_eval *ev, uint64_t fingerprint)
{
    size_t i = lower_bound(ev, fingerprint);

    return i < ev->n_inst && ev->inst[i]->alert.fingerprint == fingerprint
               ? ev->inst[i]
               : NULL;
}

int
alerts_eval_adopt(struct alerts_eval *ev, struct alert_instance *inst)
{
    size_t i = lower_bound(ev, inst->alert.fingerprint);
    struct alert_instance **grown;

    if (i < ev->n_inst &&
        ev->inst[i]->alert.fingerprint == inst->alert.fingerprint)
        return DESKDB_EEXIST;
    if (ev->n_inst == ev->cap_inst) {
        size_t cap = ev->cap_inst != 0 ? 2 * ev->cap_inst : 16;

        grown = realloc(ev->inst, cap * sizeof(*grown));
        if (grown == NULL)
            return DESKDB_ENOMEM;
        ev->inst = grown;
        ev->cap_inst = cap;
    }
    memmove(ev->inst + i + 1,
            ev->inst + i,
            (ev->n_inst - i) * sizeof(ev->inst[0]));
    ev->inst[i] = inst;
    ev->n_inst++;
    if (inst->rule < ev->n_rules)
        ev->rules[inst->rule].n_instances++;
    return DESKDB_OK;
}

void
alerts_eval_remember_deleted(struct alerts_eval *ev, uint64_t fp)
{
    uint64_t *grown;

    if (ev->track_deleted && ev->n_deleted == ev->cap_deleted &&
        ev->cap_deleted < ALERTS_MAX_DELETED) {
        size_t cap = ev->cap_deleted != 0 ? 2 * ev->cap_deleted : 16;

        grown = realloc(ev->deleted, cap * sizeof(*grown));
        if (grown != NULL) {
            ev->deleted = grown;
            ev->cap_deleted = cap;
        }
    }
    if (ev->track_deleted && ev->n_deleted < ev->cap_deleted)
        ev->deleted[ev->n_deleted++] = fp;
}

void
alerts_eval_remove(struct alerts_eval *ev, size_t i)
{
    struct alert_instance *inst = ev->inst[i];

    alerts_eval_remember_deleted(ev, inst->alert.fingerprint);
    if (inst->rule < ev->n_rules)
        ev->rules[inst->rule].n_instances--;
    memmove(ev->inst + i,
            ev->inst + i + 1,
            (ev->n_inst - i - 1) * sizeof(ev->inst[0]));
    ev->n_inst--;
    alert_instance_free(inst);
}

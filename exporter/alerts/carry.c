/* SPDX-License-Identifier: MIT */
/* A reload of the rules: the alert instances of the old evaluator move to
 * the new one, matched by rule name (and labels), the way Prometheus
 * keeps a rule's active alerts across a reload. */
#include <stdlib.h>
#include <string.h>

#include "exporter/alerts/eval.h"

static bool
kv_equal(const struct config_kv *a,
         size_t na,
         const struct config_kv *b,
         size_t nb)
{
    size_t i;

    if (na != nb)
        return false;
    for (i = 0; i < na; i++) {
        if (strcmp(a[i].key, b[i].key) != 0 ||
            strcmp(a[i].value, b[i].value) != 0)
            return false;
    }
    return true;
}

/* For each old rule, the new rule it becomes, or ALERTS_RULE_GONE: first
 * by name and labels (two rules may share a name), then by name alone,
 * in file order. */
static int
match_rules(const struct alerts_eval *from,
            const struct alerts_eval *to,
            size_t *map)
{
    bool *taken = calloc(to->n_rules + 1, sizeof(*taken));
    size_t i, j, pass;

    if (taken == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < from->n_rules; i++)
        map[i] = ALERTS_RULE_GONE;
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < from->n_rules; i++) {
            const struct config_rule *o = from->rules[i].cfg;

            for (j = 0; map[i] == ALERTS_RULE_GONE && j < to->n_rules; j++) {
                const struct config_rule *n = to->rules[j].cfg;

                if (taken[j] || strcmp(o->name, n->name) != 0 ||
                    (pass == 0 &&
                     !kv_equal(o->labels, o->n_labels, n->labels, n->n_labels)))
                    continue;
                map[i] = j;
                taken[j] = true;
            }
        }
    }
    free(taken);
    return DESKDB_OK;
}

/* For each new receiver, the old one of the same name, or SIZE_MAX. */
static void
match_receivers(const struct alerts_eval *from,
                const struct alerts_eval *to,
                size_t *map)
{
    size_t i, j;

    for (j = 0; j < to->n_receivers; j++) {
        map[j] = SIZE_MAX;
        for (i = 0; i < from->n_receivers; i++) {
            if (strcmp(from->cfg->receivers[i].name,
                       to->cfg->receivers[j].name) == 0)
                map[j] = i;
        }
    }
}

/* Everything that can fail, before anything moves. */
struct carry_plan {
    size_t *rule_map;
    size_t *recv_map;
    enum notify_sent **sent; /* per old instance, per new receiver */
};

static void
plan_fini(struct carry_plan *p, size_t n_inst)
{
    size_t i;

    for (i = 0; p->sent != NULL && i < n_inst; i++)
        free(p->sent[i]);
    free(p->sent);
    free(p->rule_map);
    free(p->recv_map);
}

static int
plan_init(struct carry_plan *p,
          const struct alerts_eval *from,
          struct alerts_eval *to)
{
    struct alert_instance **grown;
    size_t i;

    p->rule_map = calloc(from->n_rules + 1, sizeof(*p->rule_map));
    p->recv_map = calloc(to->n_receivers + 1, sizeof(*p->recv_map));
    p->sent = calloc(from->n_inst + 1, sizeof(*p->sent));
    if (p->rule_map == NULL || p->recv_map == NULL || p->sent == NULL)
        return DESKDB_ENOMEM;
    for (i = 0; i < from->n_inst; i++) {
        p->sent[i] = calloc(to->n_receivers + 1, sizeof(**p->sent));
        if (p->sent[i] == NULL)
            return DESKDB_ENOMEM;
    }
    if (to->cap_inst < from->n_inst) {
        grown = realloc(to->inst, from->n_inst * sizeof(*grown));
        if (grown == NULL)
            return DESKDB_ENOMEM;
        to->inst = grown;
        to->cap_inst = from->n_inst;
    }
    if (match_rules(from, to, p->rule_map) != DESKDB_OK)
        return DESKDB_ENOMEM;
    match_receivers(from, to, p->recv_map);
    return DESKDB_OK;
}

/* A rule with the same expression keeps what rate() and increase() saw. */
static void
carry_histories(struct alerts_eval *from,
                struct alerts_eval *to,
                const size_t *map)
{
    struct expr_history *h;
    size_t i;

    for (i = 0; i < from->n_rules; i++) {
        struct alert_rule *o = &from->rules[i], *n;

        if (map[i] == ALERTS_RULE_GONE)
            continue;
        n = &to->rules[map[i]];
        if (strcmp(o->cfg->expr.value, n->cfg->expr.value) != 0)
            continue;
        h = n->history;
        n->history = o->history;
        o->history = h;
    }
}

/* One old instance into `to`; false if it ended here (rule gone while
 * pending). */
static bool
carry_instance(struct alerts_eval *to,
               struct alert_instance *inst,
               size_t rule,
               int64_t now)
{
    inst->rule = rule;
    if (rule == ALERTS_RULE_GONE && inst->state == ALERT_PENDING) {
        alerts_eval_remember_deleted(to, inst->alert.fingerprint);
        return false;
    }
    if (rule == ALERTS_RULE_GONE && inst->state == ALERT_FIRING)
        alert_instance_resolve(inst, now);
    /* Sorted by fingerprint already, and `to` is empty: appends. */
    to->inst[to->n_inst++] = inst;
    if (rule != ALERTS_RULE_GONE)
        to->rules[rule].n_instances++;
    return true;
}

int
alerts_eval_carry(struct alerts_eval *from,
                  struct alerts_eval *to,
                  int64_t now_ns)
{
    struct carry_plan p = {0};
    struct alert_instance *inst;
    size_t i, r;
    int rc = to->n_inst == 0 ? plan_init(&p, from, to) : DESKDB_EINVAL;

    if (rc != DESKDB_OK) {
        plan_fini(&p, from->n_inst);
        return rc;
    }
    carry_histories(from, to, p.rule_map);
    to->track_deleted = from->track_deleted;
    to->deleted = from->deleted;
    to->n_deleted = from->n_deleted;
    to->cap_deleted = from->cap_deleted;
    from->deleted = NULL;
    from->n_deleted = from->cap_deleted = 0;
    to->failures = from->failures;
    for (i = 0; i < from->n_inst; i++) {
        inst = from->inst[i];
        for (r = 0; r < to->n_receivers; r++) {
            if (p.recv_map[r] != SIZE_MAX)
                p.sent[i][r] = inst->sent[p.recv_map[r]];
        }
        free(inst->sent);
        inst->sent = p.sent[i];
        p.sent[i] = NULL;
        if (!carry_instance(to,
                            inst,
                            inst->rule < from->n_rules ? p.rule_map[inst->rule]
                                                       : ALERTS_RULE_GONE,
                            now_ns))
            alert_instance_free(inst);
    }
    from->n_inst = 0;
    for (i = 0; i < from->n_rules; i++)
        from->rules[i].n_instances = 0;
    plan_fini(&p, 0);
    return DESKDB_OK;
}

/* SPDX-License-Identifier: MIT */
/* The alert evaluator: rules, their alert instances and the state machine
 * of Prometheus' alerting rules, driven by snapshots and injected time. */
#ifndef DESKDB_EXPORTER_ALERTS_EVAL_H
#define DESKDB_EXPORTER_ALERTS_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config_alerts.h"
#include "core/metrics.h"
#include "exporter/alerts/expr.h"
#include "exporter/notify/notify.h"

/* Alert instances one rule may have; more are counted as failures. */
#define ALERTS_MAX_INSTANCES 1000
/* How long a resolved alert is kept (and handed to receivers). */
#define ALERTS_RESOLVED_RETENTION_NS (15 * 60 * INT64_C(1000000000))

enum alert_state {
    ALERT_PENDING,
    ALERT_FIRING,
    ALERT_RESOLVED,
};

const char *alert_state_name(enum alert_state s);

/* alert_instance.rule of an alert whose rule is gone (removed by a
 * reload, or since the restart that read it back). */
#define ALERTS_RULE_GONE SIZE_MAX

/* One alert: a rule and the labels of one series it matched. */
struct alert_instance {
    size_t rule; /* index in alerts_eval.rules, or ALERTS_RULE_GONE */
    struct notify_alert alert; /* labels, annotations, fingerprint, times */
    enum alert_state state;
    double value;
    int64_t active_at;         /* wall clock ns: condition first true */
    int64_t fired_at;          /* 0 until firing */
    int64_t resolved_at;       /* 0 until resolved */
    int64_t keep_firing_since; /* first false evaluation while firing */
    int64_t last_sent_at;      /* last delivery to any receiver */
    enum notify_sent *sent;    /* per receiver */
    bool seen;                 /* matched in the current evaluation */
    bool dirty;                /* to be written to the state table */
};

struct alert_rule {
    const struct config_rule *cfg;
    struct alert_expr *expr;
    struct expr_history *history; /* NULL without rate()/increase() */
    bool *to_receiver;            /* per receiver */
    size_t n_instances;
    const char *severity; /* the severity label, or "" */
};

struct alerts_eval {
    const struct config_alerts *cfg;
    struct alert_rule *rules;
    size_t n_rules;
    size_t n_receivers;
    struct alert_instance **inst; /* sorted by nothing; small */
    size_t n_inst, cap_inst;
    bool track_deleted; /* a state table is kept: remember removals */
    uint64_t *deleted;  /* fingerprints removed since the last write */
    size_t n_deleted, cap_deleted;
    uint64_t failures; /* rule evaluations that failed, cumulative */
};

/* Parse every rule.  Errors as alerts_validate_config(). */
struct alerts_eval *alerts_eval_create(const struct config_alerts *cfg,
                                       struct deskdb_err *err) DESKDB_MUSTCHECK;

void alerts_eval_destroy(struct alerts_eval *ev);

/*
 * One evaluation of every rule at wall-clock time `now_ns` against
 * `snap`: instances are created, updated, promoted, resolved and
 * removed (research c.1).  A pure function of the snapshot, the time and
 * the previous state.  Returns how many rules failed (out of memory,
 * duplicate label sets, too many instances); those keep their state.
 */
int alerts_eval_tick(struct alerts_eval *ev,
                     const struct metrics_snapshot *snap,
                     int64_t now_ns);

/* The instance with this fingerprint, or NULL. */
struct alert_instance *alerts_eval_find(const struct alerts_eval *ev,
                                        uint64_t fingerprint);

/* Add an instance restored from the state table (takes `inst`). */
int alerts_eval_adopt(struct alerts_eval *ev,
                      struct alert_instance *inst) DESKDB_MUSTCHECK;

/* Most removals remembered between two writes of the state table; past
 * it the rows stay until their alert comes back or is loaded and ends. */
#define ALERTS_MAX_DELETED 10000

/* Remove and free the instance at index `i` of ev->inst, remembering its
 * fingerprint in ev->deleted when track_deleted is set. */
void alerts_eval_remove(struct alerts_eval *ev, size_t i);

/* Remember that the row of fingerprint `fp` is to be deleted from the
 * state table (when track_deleted is set; up to ALERTS_MAX_DELETED). */
void alerts_eval_remember_deleted(struct alerts_eval *ev, uint64_t fp);

/*
 * A reload: move the state of `from` (the evaluator being replaced) into
 * `to`, a fresh evaluator of the new configuration with no instances.
 * Rules match by name and labels, then by name alone; a matched rule
 * keeps its instances with their times (a changed rule's instances that
 * no longer match resolve at the next evaluation, as usual), and with
 * the same expression its rate() history.  The instances of a rule that
 * is gone end: firing ones resolve at `now_ns` (receivers that heard them
 * fire are told), pending ones are removed.  What each receiver was told
 * follows the receiver's name.  Pending removals of the state table move
 * too.  `from` is left without instances.  Errors: DESKDB_ENOMEM and
 * DESKDB_EINVAL (`to` has instances); nothing moved then.
 */
int alerts_eval_carry(struct alerts_eval *from,
                      struct alerts_eval *to,
                      int64_t now_ns) DESKDB_MUSTCHECK;

/* Firing (or pending) to resolved at `now_ns`. */
void alert_instance_resolve(struct alert_instance *inst, int64_t now_ns);

struct alert_instance *alert_instance_new(size_t n_receivers);
void alert_instance_free(struct alert_instance *inst);

/* Shortest text that reads back as `v` ("7", "0.25", "+Inf", "NaN"). */
const char *alerts_format_value(double v, char out[32]);

/*
 * Annotation templates: {{ $value }}, {{ $labels.name }} (also .Value and
 * .Labels.name), anything else is literal.  alerts_template_check()
 * returns NULL or what is wrong, with the offset in `*at`.
 */
const char *alerts_template_check(const char *tmpl, size_t *at);
int alerts_template_render(const char *tmpl,
                           const struct notify_label *labels,
                           size_t n_labels,
                           double value,
                           struct buf *out) DESKDB_MUSTCHECK;

#endif

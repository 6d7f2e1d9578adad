/* SPDX-License-Identifier: MIT */
/* The alerts: section: notification receivers and alerting rules as loaded. */
#ifndef DESKDB_CONFIG_CONFIG_ALERTS_H
#define DESKDB_CONFIG_CONFIG_ALERTS_H

#include "config/config.h"

enum config_receiver_type {
    CONFIG_RECEIVER_WEBHOOK,      /* Alertmanager webhook v4 JSON, signed */
    CONFIG_RECEIVER_ALERTMANAGER, /* POST /api/v2/alerts */
    CONFIG_RECEIVER_SLACK,        /* incoming webhook; the URL is the secret */
    CONFIG_RECEIVER_PAGERDUTY,    /* Events API v2 */
};

/*
 * Secrets (url from url_file, secret, routing_key) are read at load time
 * and never printed.  `url` is always set after load (pagerduty defaults
 * to https://events.pagerduty.com/v2/enqueue).
 */
struct config_receiver {
    struct config_pos pos;
    char *name; /* [a-z0-9_-]{1,63}, unique */
    enum config_receiver_type type;
    char *url;      /* http(s); from url or url_file */
    char *url_file; /* path, or NULL */
    char *secret;   /* webhook signing secret (whsec_...), or NULL */
    char *secret_file;
    char *routing_key; /* pagerduty */
    char *routing_key_file;
    int64_t timeout_ms;          /* default 5 s */
    bool send_resolved;          /* default true */
    int64_t group_wait_ms;       /* default 30 s */
    int64_t group_interval_ms;   /* default 5 min */
    int64_t repeat_interval_ms;  /* default 4 h */
    int64_t backoff_base_ms;     /* retry delay, default 500 ms */
    int64_t backoff_cap_ms;      /* default 1 min */
    int64_t max_delivery_age_ms; /* give up on a notification, default 24 h */
};

/*
 * A rule: `expr` is parsed by exporter/alerts (config_error_at() with
 * expr.pos).  Labels never contain templates; annotations may use
 * {{ $value }} and {{ $labels.x }}.  No receivers means every receiver.
 */
struct config_rule {
    struct config_pos pos;
    char *name; /* the alertname */
    struct config_str expr;
    int64_t for_ms;             /* default 0: fire on the first evaluation */
    int64_t keep_firing_for_ms; /* default 0 */
    struct config_kv *labels;
    size_t n_labels;
    struct config_kv *annotations;
    size_t n_annotations;
    struct config_str *receivers; /* names of receivers above */
    size_t n_receivers;
};

/* When the file has no `rules` key, the seed's four thresholds are the
 * rules (pool exhausted, slow queries, deadlock retries, health check);
 * `rules: []` means no rules. */
struct config_alerts {
    int64_t evaluation_interval_ms; /* default 15 s */
    struct config_receiver *receivers;
    size_t n_receivers;
    struct config_rule *rules;
    size_t n_rules;
};

const char *config_receiver_type_name(enum config_receiver_type type);

#endif

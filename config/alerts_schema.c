/* SPDX-License-Identifier: MIT */
/* The key tables of alerts: (receivers and rules), the seed's default
 * rules, and the checks that tie rules to receivers. */
#include <stdlib.h>
#include <string.h>

#include "config/config_alerts.h"
#include "config/config_internal.h"

#define PAGERDUTY_URL "https://events.pagerduty.com/v2/enqueue"

static const char *const receiver_type_names[] = {"webhook",
                                                  "alertmanager",
                                                  "slack",
                                                  "pagerduty",
                                                  NULL};

const char *
config_receiver_type_name(enum config_receiver_type type)
{
    return (unsigned)type <= CONFIG_RECEIVER_PAGERDUTY
               ? receiver_type_names[type]
               : "unknown";
}

/* ---- receivers ---------------------------------------------------------- */

static bool
is_webhook(const void *obj)
{
    return ((const struct config_receiver *)obj)->type ==
           CONFIG_RECEIVER_WEBHOOK;
}

static bool
is_pagerduty(const void *obj)
{
    return ((const struct config_receiver *)obj)->type ==
           CONFIG_RECEIVER_PAGERDUTY;
}

/* A URL read from url_file is entirely secret; a Slack URL's path is. */
static char *
display_receiver_url(const void *obj, const char *value)
{
    const struct config_receiver *r = obj;

    if (r->url_file != NULL)
        return strdup("***");
    return config_redact_webhook_url(value, r->type == CONFIG_RECEIVER_SLACK);
}

static int
receiver_fill(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    struct config_receiver *r = obj;

    (void)map;
    if (r->type != CONFIG_RECEIVER_PAGERDUTY || r->url != NULL)
        return 0;
    r->url = strdup(PAGERDUTY_URL);
    return r->url ? 0 : err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
}

static int
backoff_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_receiver *r = obj;
    struct config_pos pos;
    char a[48], b[48];

    if (r->backoff_base_ms <= r->backoff_cap_ms)
        return 0;
    pos = cfg_value_pos(ctx, map, "base", &r->backoff_base_ms);
    if (pos.file == NULL)
        pos = cfg_value_pos(ctx, map, "cap", &r->backoff_cap_ms);
    return cfg_err_pos(ctx,
                       &pos,
                       "%s: base (%s) must not exceed cap (%s)",
                       ctx->path,
                       config_format_duration(r->backoff_base_ms, a),
                       config_format_duration(r->backoff_cap_ms, b));
}

static int
receiver_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_receiver *r = obj;
    const char *why;

    if (r->url == NULL)
        return cfg_err(ctx,
                       map,
                       "%s: missing required key 'url' (or 'url_file')",
                       ctx->path);
    if (r->url_file != NULL && (why = cfg_valid_http_url(r->url)) != NULL)
        return cfg_err(ctx,
                       cfg_node_get(map, "url_file"),
                       "%s.url_file: the file does not hold a URL (%s)",
                       ctx->path,
                       why);
    if (r->type == CONFIG_RECEIVER_PAGERDUTY && r->routing_key == NULL)
        return cfg_err(ctx,
                       map,
                       "%s: a pagerduty receiver needs 'routing_key' or "
                       "'routing_key_file'",
                       ctx->path);
    return 0;
}

#define RC struct config_receiver
static const struct cfg_field receiver_backoff_fields[] = {
    {CFG_DUR_("base", RC, backoff_base_ms, 10, MINUTES(1), 500)},
    {CFG_DUR_("cap", RC, backoff_cap_ms, 100, HOURS(1), MINUTES(1))},
    {0},
};

static const struct cfg_section receiver_backoff_section = {
    .name = "backoff",
    .fields = receiver_backoff_fields,
    .pos_off = CFG_NO_POS,
    .check = backoff_check,
};

static const struct cfg_field receiver_fields[] = {
    {CFG_STR_("name", RC, name, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_name},
    {CFG_ENUM_("type", RC, type, receiver_type_names, 0),
     .flags = CFG_F_REQUIRED},
    {CFG_STR_("url", RC, url, NULL),
     .flags = CFG_F_NO_ECHO,
     .min = 1,
     .valid = cfg_valid_http_url,
     .display = display_receiver_url},
    {CFG_STR_("url_file", RC, url_file, NULL),
     .flags = CFG_F_PATH | CFG_F_SECRET_FILE | CFG_F_INTO_KEY,
     .off2 = offsetof(RC, url),
     .min = 1},
    {CFG_STR_("secret", RC, secret, NULL),
     .flags = CFG_F_SECRET,
     .min = 1,
     .max = 1024,
     .applies = is_webhook,
     .only = "type: webhook"},
    {CFG_STR_("secret_file", RC, secret_file, NULL),
     .flags = CFG_F_PATH | CFG_F_SECRET_FILE | CFG_F_INTO_KEY,
     .off2 = offsetof(RC, secret),
     .min = 1,
     .applies = is_webhook,
     .only = "type: webhook"},
    {CFG_STR_("routing_key", RC, routing_key, NULL),
     .flags = CFG_F_SECRET,
     .min = 1,
     .max = 1024,
     .applies = is_pagerduty,
     .only = "type: pagerduty"},
    {CFG_STR_("routing_key_file", RC, routing_key_file, NULL),
     .flags = CFG_F_PATH | CFG_F_SECRET_FILE | CFG_F_INTO_KEY,
     .off2 = offsetof(RC, routing_key),
     .min = 1,
     .applies = is_pagerduty,
     .only = "type: pagerduty"},
    {CFG_DUR_("timeout", RC, timeout_ms, 100, MINUTES(5), SECONDS(5))},
    {CFG_BOOL_("send_resolved", RC, send_resolved, true)},
    {CFG_DUR_("group_wait", RC, group_wait_ms, 0, HOURS(1), SECONDS(30))},
    {CFG_DUR_("group_interval",
              RC,
              group_interval_ms,
              SECONDS(1),
              DAYS(1),
              MINUTES(5))},
    {CFG_DUR_("repeat_interval",
              RC,
              repeat_interval_ms,
              MINUTES(1),
              DAYS(30),
              HOURS(4))},
    {CFG_FLAT_("backoff", &receiver_backoff_section)},
    {CFG_DUR_("max_delivery_age",
              RC,
              max_delivery_age_ms,
              MINUTES(1),
              DAYS(30),
              HOURS(24))},
    {0},
};
#undef RC

static const struct cfg_section receiver_section = {
    .name = "receiver",
    .fields = receiver_fields,
    .size = sizeof(struct config_receiver),
    .pos_off = offsetof(struct config_receiver, pos),
    .fill = receiver_fill,
    .check = receiver_check,
};

/* ---- rules -------------------------------------------------------------- */

static int
rule_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_rule *rule = obj;
    size_t i;

    (void)map;
    for (i = 0; i < rule->n_labels; i++) {
        if (strcmp(rule->labels[i].key, "alertname") == 0)
            return cfg_err_pos(ctx,
                               &rule->labels[i].pos,
                               "%s.labels: 'alertname' is the rule's name "
                               "and cannot be set as a label",
                               ctx->path);
    }
    return 0;
}

#define RU struct config_rule
static const struct cfg_field rule_fields[] = {
    {CFG_STR_("name", RU, name, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_alert_name},
    {CFG_PSTR_("expr", RU, expr, NULL), .flags = CFG_F_REQUIRED, .min = 1},
    {CFG_DUR_("for", RU, for_ms, 0, DAYS(1), 0)},
    {CFG_DUR_("keep_firing_for", RU, keep_firing_for_ms, 0, DAYS(1), 0)},
    {CFG_MAP_("labels", RU, labels, n_labels),
     .max = 32,
     .valid = cfg_valid_label_name,
     .valid_value = cfg_valid_label_value},
    {CFG_MAP_("annotations", RU, annotations, n_annotations),
     .max = 32,
     .valid = cfg_valid_label_name},
    {CFG_LIST_("receivers", RU, receivers, n_receivers),
     .max = 16,
     .valid = cfg_valid_name},
    {0},
};
#undef RU

static const struct cfg_section rule_section = {
    .name = "rule",
    .fields = rule_fields,
    .size = sizeof(struct config_rule),
    .pos_off = offsetof(struct config_rule, pos),
    .check = rule_check,
};

/* ---- the seed's thresholds, used when the file has no rules: key ------- */

struct default_rule {
    const char *name;
    const char *expr;
    int64_t for_ms;
    const char *severity;
    const char *summary;
};

static const struct default_rule default_rules[] = {
    {"DatabasePoolExhausted",
     "deskdb_pool_pending_requests > 5",
     MINUTES(1),
     "critical",
     "Database pool exhausted: {{ $value }} clients waiting"},
    {"DatabaseSlowQueries",
     "increase(deskdb_slow_queries_total[5m]) > 100",
     0,
     "warning",
     "High number of slow queries: {{ $value }} in 5 minutes"},
    {"DatabaseDeadlockRetries",
     "increase(deskdb_transaction_retries_total{reason=\"deadlock\"}[5m]) "
     "> 10",
     0,
     "warning",
     "High transaction contention: {{ $value }} deadlock retries in 5 "
     "minutes"},
    {"DatabaseHealthCheckFailed",
     "pg_up == 0",
     MINUTES(1),
     "critical",
     "Database health check failed"},
};

static int
one_kv(const char *key, const char *value, struct config_kv **out, size_t *n)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return DESKDB_ENOMEM;
    *n = 1;
    (*out)->key = strdup(key);
    (*out)->value = strdup(value);
    return (*out)->key && (*out)->value ? 0 : DESKDB_ENOMEM;
}

static int
default_rule(struct cfg_ctx *ctx,
             const struct default_rule *d,
             struct config_rule *r)
{
    int rc = cfg_apply_defaults(ctx, &rule_section, r);

    if (rc < 0)
        return rc;
    r->name = strdup(d->name);
    r->expr.value = strdup(d->expr);
    r->for_ms = d->for_ms;
    if (r->name == NULL || r->expr.value == NULL ||
        one_kv("severity", d->severity, &r->labels, &r->n_labels) < 0 ||
        one_kv("summary", d->summary, &r->annotations, &r->n_annotations) < 0)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    return 0;
}

/* No rules: key at all gives the seed's rules; rules: [] gives none. */
static int
alerts_fill(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    struct config_alerts *a = obj;
    size_t i, n = sizeof(default_rules) / sizeof(default_rules[0]);
    int rc;

    if (cfg_node_get(map, "rules") != NULL)
        return 0;
    a->rules = calloc(n, sizeof(*a->rules));
    if (a->rules == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    a->n_rules = n;
    for (i = 0; i < n; i++) {
        rc = default_rule(ctx, &default_rules[i], &a->rules[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
alerts_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_alerts *a = obj;
    const char **names;
    ptrdiff_t dup;
    size_t i, j;
    int rc = 0;

    names = malloc((a->n_receivers + 1) * sizeof(*names));
    if (names == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    for (i = 0; i < a->n_receivers; i++)
        names[i] = a->receivers[i].name;
    dup = cfg_find_duplicate(names, a->n_receivers);
    if (dup == -2)
        rc = err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    else if (dup >= 0)
        rc = cfg_err(
            ctx,
            cfg_node_get(cfg_node_get(map, "receivers")->items[dup], "name"),
            "duplicate receiver name '%s'",
            names[dup]);
    for (i = 0; rc == 0 && i < a->n_rules; i++) {
        const struct config_rule *r = &a->rules[i];

        for (j = 0; rc == 0 && j < r->n_receivers; j++) {
            size_t k = 0;

            while (k < a->n_receivers &&
                   strcmp(names[k], r->receivers[j].value) != 0)
                k++;
            if (k == a->n_receivers)
                rc = cfg_err_pos(ctx,
                                 &r->receivers[j].pos,
                                 "alerts.rules[%zu].receivers: no receiver "
                                 "named '%s'",
                                 i,
                                 r->receivers[j].value);
        }
    }
    free(names);
    return rc;
}

#define A struct config_alerts
static const struct cfg_field alerts_fields[] = {
    {CFG_DUR_("evaluation_interval",
              A,
              evaluation_interval_ms,
              SECONDS(1),
              HOURS(1),
              SECONDS(15))},
    {CFG_SECTIONS_("receivers", A, receivers, n_receivers, &receiver_section),
     .max = 100},
    {CFG_SECTIONS_("rules", A, rules, n_rules, &rule_section), .max = 1000},
    {0},
};
#undef A

const struct cfg_section cfg_alerts_section = {
    .name = "alerts",
    .fields = alerts_fields,
    .size = sizeof(struct config_alerts),
    .pos_off = CFG_NO_POS,
    .fill = alerts_fill,
    .check = alerts_check,
};

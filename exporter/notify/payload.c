/* SPDX-License-Identifier: MIT */
/* Request bodies: Alertmanager webhook v4, Alertmanager API v2 alerts,
 * Slack incoming webhooks and PagerDuty Events v2. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "exporter/notify/notify.h"

/* PagerDuty's summary limit, and how many alerts a Slack message lists. */
#define PD_SUMMARY_MAX  1024
#define SLACK_MAX_LINES 20

static json_t *
labels_json(const struct notify_label *l, size_t n)
{
    json_t *o = json_object();
    size_t i;

    for (i = 0; o != NULL && i < n; i++) {
        if (json_object_set_new(o, l[i].name, json_string(l[i].value)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The pairs every alert shares (labels or annotations). */
static json_t *
common_json(const struct dispatch_flush *f, bool annotations)
{
    json_t *o = json_object();
    const struct notify_alert *a0;
    size_t i, j, n;

    if (o == NULL || f->n_alerts == 0)
        return o;
    a0 = &f->alerts[0];
    n = annotations ? a0->n_annotations : a0->n_labels;
    for (i = 0; i < n; i++) {
        const struct notify_label *l =
            annotations ? &a0->annotations[i] : &a0->labels[i];
        bool shared = true;

        for (j = 1; shared && j < f->n_alerts; j++) {
            const struct notify_alert *a = &f->alerts[j];
            const char *v =
                annotations ? notify_label_get(a->annotations,
                                               a->n_annotations,
                                               l->name)
                            : notify_label_get(a->labels, a->n_labels, l->name);

            shared = v != NULL && strcmp(v, l->value) == 0;
        }
        if (shared &&
            json_object_set_new(o, l->name, json_string(l->value)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static size_t
count_firing(const struct dispatch_flush *f)
{
    size_t i, n = 0;

    for (i = 0; i < f->n_alerts; i++)
        n += !f->alerts[i].resolved;
    return n;
}

static void
generator_url(const struct payload_ctx *ctx, char *out, size_t len)
{
    size_t n = strlen(ctx->external_url);

    if (n == 0) {
        out[0] = '\0';
        return;
    }
    snprintf(out,
             len,
             "%s%sapi/alerts",
             ctx->external_url,
             ctx->external_url[n - 1] == '/' ? "" : "/");
}

static json_t *
webhook_alert(const struct payload_ctx *ctx, const struct notify_alert *a)
{
    char starts[40], ends[40], fp[17], gen[1100];

    notify_format_time(a->starts_at_ns, starts);
    notify_format_time(a->resolved ? a->ends_at_ns : 0, ends);
    snprintf(fp, sizeof(fp), "%016" PRIx64, a->fingerprint);
    generator_url(ctx, gen, sizeof(gen));
    return json_pack("{s:s, s:o, s:o, s:s, s:s, s:s, s:s}",
                     "status",
                     a->resolved ? "resolved" : "firing",
                     "labels",
                     labels_json(a->labels, a->n_labels),
                     "annotations",
                     labels_json(a->annotations, a->n_annotations),
                     "startsAt",
                     starts,
                     "endsAt",
                     ends,
                     "generatorURL",
                     gen,
                     "fingerprint",
                     fp);
}

static json_t *
webhook_body(const struct payload_ctx *ctx, const struct dispatch_flush *f)
{
    json_t *alerts = json_array();
    size_t i;

    for (i = 0; alerts != NULL && i < f->n_alerts; i++) {
        if (json_array_append_new(alerts, webhook_alert(ctx, &f->alerts[i])) !=
            0) {
            json_decref(alerts);
            return NULL;
        }
    }
    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s, s:s, s:s, "
                     "s:i}",
                     "receiver",
                     ctx->receiver,
                     "status",
                     count_firing(f) > 0 ? "firing" : "resolved",
                     "alerts",
                     alerts,
                     "notification_reason",
                     notify_reason_text(f->reason),
                     "groupLabels",
                     labels_json(f->group_labels, f->n_group_labels),
                     "commonLabels",
                     common_json(f, false),
                     "commonAnnotations",
                     common_json(f, true),
                     "externalURL",
                     ctx->external_url,
                     "version",
                     "4",
                     "groupKey",
                     f->group_key,
                     "truncatedAlerts",
                     0);
}

/* Alertmanager API v2: firing alerts stay valid for push_valid_ns and are
 * re-posted before then; a resolve is an endsAt in the past. */
static json_t *
alertmanager_body(const struct payload_ctx *ctx, const struct dispatch_flush *f)
{
    json_t *arr = json_array(), *o;
    char starts[40], ends[40], gen[1100];
    size_t i;

    generator_url(ctx, gen, sizeof(gen));
    for (i = 0; arr != NULL && i < f->n_alerts; i++) {
        const struct notify_alert *a = &f->alerts[i];

        notify_format_time(a->starts_at_ns, starts);
        notify_format_time(a->resolved ? a->ends_at_ns
                                       : ctx->now_real_ns + ctx->push_valid_ns,
                           ends);
        o = json_pack("{s:o, s:o, s:s, s:s}",
                      "labels",
                      labels_json(a->labels, a->n_labels),
                      "annotations",
                      labels_json(a->annotations, a->n_annotations),
                      "startsAt",
                      starts,
                      "endsAt",
                      ends);
        if (o != NULL && gen[0] != '\0')
            json_object_set_new(o, "generatorURL", json_string(gen));
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

/* The line that stands for an alert in chat messages. */
static const char *
alert_line(const struct notify_alert *a)
{
    static const char *const keys[] = {"summary", "description", "message"};
    const char *v;
    size_t i;

    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        v = notify_label_get(a->annotations, a->n_annotations, keys[i]);
        if (v != NULL && v[0] != '\0')
            return v;
    }
    v = notify_label_get(a->labels, a->n_labels, "alertname");
    return v != NULL ? v : "alert";
}

static int
title(struct buf *b, const struct dispatch_flush *f)
{
    const char *name = f->n_group_labels > 0 ? f->group_labels[0].value : "";
    size_t firing = count_firing(f);

    if (firing > 0)
        return buf_printf(b, "[FIRING:%zu] %s", firing, name);
    return buf_printf(b, "[RESOLVED] %s", name);
}

/* Slack mrkdwn needs &, < and > escaped. */
static int
slack_escape(struct buf *b, const char *s)
{
    int rc = DESKDB_OK;

    for (; rc == DESKDB_OK && *s != '\0'; s++) {
        if (*s == '&')
            rc = buf_puts(b, "&amp;");
        else if (*s == '<')
            rc = buf_puts(b, "&lt;");
        else if (*s == '>')
            rc = buf_puts(b, "&gt;");
        else
            rc = buf_putc(b, *s);
    }
    return rc;
}

static int
slack_text(struct buf *b, const struct dispatch_flush *f, bool bold)
{
    size_t i;
    int rc = buf_puts(b, bold ? "*" : "");

    if (rc == DESKDB_OK)
        rc = title(b, f);
    if (rc == DESKDB_OK)
        rc = buf_puts(b, bold ? "*" : "");
    for (i = 0; rc == DESKDB_OK && i < f->n_alerts; i++) {
        if (i == SLACK_MAX_LINES) {
            rc = buf_printf(b, "\n… and %zu more", f->n_alerts - i);
            break;
        }
        rc = buf_puts(b, f->alerts[i].resolved ? "\n✅ " : "\n🔥 ");
        if (rc == DESKDB_OK)
            rc = slack_escape(b, alert_line(&f->alerts[i]));
    }
    return rc;
}

static json_t *
slack_body(const struct dispatch_flush *f)
{
    struct buf plain, rich;
    json_t *o = NULL;
    const char *sev = f->n_alerts > 0 ? notify_label_get(f->alerts[0].labels,
                                                         f->alerts[0].n_labels,
                                                         "severity")
                                      : NULL;
    char ctx[160];

    /* Slack caps a section's text at 3000 characters. */
    buf_init(&plain, 2900);
    buf_init(&rich, 2900);
    (void)slack_text(&plain, f, false);
    (void)slack_text(&rich, f, true);
    snprintf(ctx, sizeof(ctx), "severity: %s", sev != NULL ? sev : "none");
    if (plain.data != NULL && rich.data != NULL)
        o = json_pack("{s:s, s:[{s:s, s:{s:s, s:s}}, {s:s, s:[{s:s, s:s}]}]}",
                      "text",
                      plain.data,
                      "blocks",
                      "type",
                      "section",
                      "text",
                      "type",
                      "mrkdwn",
                      "text",
                      rich.data,
                      "type",
                      "context",
                      "elements",
                      "type",
                      "mrkdwn",
                      "text",
                      ctx);
    buf_fini(&plain);
    buf_fini(&rich);
    return o;
}

static const char *
pd_severity(const struct dispatch_flush *f)
{
    static const char *const ok[] = {"critical", "error", "warning", "info"};
    const char *s = NULL;
    size_t i;

    if (f->n_alerts > 0)
        s = notify_label_get(f->alerts[0].labels,
                             f->alerts[0].n_labels,
                             "severity");
    for (i = 0; s != NULL && i < 4; i++) {
        if (strcmp(s, ok[i]) == 0)
            return ok[i];
    }
    return "error";
}

static json_t *
pagerduty_body(const struct payload_ctx *ctx, const struct dispatch_flush *f)
{
    char dedup[SHA256_HEX_LEN], ts[40];
    struct buf summary, details;
    json_t *o = NULL;

    sha256_hex(f->group_key, strlen(f->group_key), dedup);
    if (count_firing(f) == 0)
        return json_pack("{s:s, s:s, s:s}",
                         "routing_key",
                         ctx->routing_key,
                         "dedup_key",
                         dedup,
                         "event_action",
                         "resolve");
    buf_init(&summary, PD_SUMMARY_MAX);
    buf_init(&details, 16 * 1024);
    /* Both are cut at their caps, which is what PagerDuty wants. */
    if (title(&summary, f) == DESKDB_OK && f->n_alerts > 0 &&
        buf_printf(&summary, ": %s", alert_line(&f->alerts[0])) != DESKDB_OK)
        summary.overflow = true;
    (void)slack_text(&details, f, false);
    notify_format_time(f->alerts[0].starts_at_ns, ts);
    if (summary.data != NULL && details.data != NULL)
        o = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:{s:s, "
                      "s:o}}, s:s, s:s}",
                      "routing_key",
                      ctx->routing_key,
                      "event_action",
                      "trigger",
                      "dedup_key",
                      dedup,
                      "payload",
                      "summary",
                      summary.data,
                      "source",
                      ctx->source,
                      "severity",
                      pd_severity(f),
                      "timestamp",
                      ts,
                      "class",
                      f->n_group_labels > 0 ? f->group_labels[0].value : "",
                      "custom_details",
                      "alerts",
                      details.data,
                      "common_labels",
                      common_json(f, false),
                      "client",
                      "deskdb",
                      "client_url",
                      ctx->external_url);
    buf_fini(&summary);
    buf_fini(&details);
    if (o != NULL && ctx->external_url[0] == '\0')
        json_object_del(o, "client_url");
    return o;
}

int
notify_payload(const struct payload_ctx *ctx,
               const struct dispatch_flush *f,
               struct buf *out)
{
    json_t *root = NULL;
    char *text;
    int rc;

    switch (ctx->type) {
    case CONFIG_RECEIVER_WEBHOOK:
        root = webhook_body(ctx, f);
        break;
    case CONFIG_RECEIVER_ALERTMANAGER:
        root = alertmanager_body(ctx, f);
        break;
    case CONFIG_RECEIVER_SLACK:
        root = slack_body(f);
        break;
    case CONFIG_RECEIVER_PAGERDUTY:
        root = pagerduty_body(ctx, f);
        break;
    }
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

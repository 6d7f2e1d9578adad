# deskdb / Alerts: deskdb's own alert rules over time and the delivery of
# their notifications to each receiver (self-monitoring).
from grafana import (FIRING_MAP, RED_AT_1, dashboard, quantile, rate, row,
                     sel, stat, state_timeline, table, target, thresholds,
                     timeseries)

RECEIVER = "{{receiver}}"


def per_receiver(metric, *by):
    labels = ", ".join(("receiver",) + by)
    return "sum by (%s) (%s) * 60" % (labels, rate(metric))


def build():
    sent = "sum by (receiver) (%s)" % rate(
        "deskdb_webhook_notifications_total")
    failed = "sum by (receiver) (%s)" % rate(
        "deskdb_webhook_notifications_failed_total")
    panels = [
        row("Rules"),
        stat("Firing", "Alert rules firing now, by severity.", "none",
             [target("sum by (severity) (%s)" % sel("deskdb_alert_firing"),
                     "{{severity}}")], color="background", th=RED_AT_1,
             w=6),
        table("Firing now", "Alert rules firing now, per instance.", "none",
              [target(sel("deskdb_alert_firing") + " == 1", instant=True,
                      fmt="table")],
              {"alert": "Alert", "severity": "Severity",
               "instance": "Instance", "Value": "State"},
              mappings=FIRING_MAP, w=18, h=4),
        state_timeline("Rule states", "Each rule's state over time "
                       "(deskdb_alert_firing: 1 firing, 0 not). Pending "
                       "rules show as not firing.",
                       [target("max by (alert) (%s)"
                               % sel("deskdb_alert_firing"), "{{alert}}")],
                       FIRING_MAP, w=24, h=8),
        row("Delivery"),
        timeseries("Notifications / min", "Notifications sent to each "
                   "receiver.", "cpm",
                   [target(per_receiver("deskdb_webhook_notifications_total"),
                           RECEIVER)]),
        timeseries("Failed notifications / min", "Failed notification "
                   "attempts by receiver and reason; deskdb retries network "
                   "errors, timeouts, 408, 429 and 5xx with backoff. Alert "
                   "DeskdbAlertDeliveryFailing fires when failures persist "
                   "for 15 minutes.", "cpm",
                   [target(per_receiver(
                       "deskdb_webhook_notifications_failed_total", "reason"),
                       RECEIVER + " {{reason}}")]),
        timeseries("Failure ratio", "Failed attempts divided by "
                   "notifications sent, per receiver.", "percentunit",
                   [target("%s / %s" % (failed, sent), RECEIVER)],
                   threshold=0.1),
        timeseries("Delivery latency p95", "95th percentile of the time a "
                   "request to each receiver took.", "s",
                   [target(quantile(0.95,
                                    "deskdb_webhook_notification_duration_"
                                    "seconds", ("receiver",)), RECEIVER)]),
        timeseries("Delivery latency", "Time a request to a receiver took, "
                   "p50/p95/p99 over every receiver.", "s",
                   [target(quantile(q, "deskdb_webhook_notification_"
                                    "duration_seconds"), name)
                    for name, q in (("p50", 0.5), ("p95", 0.95),
                                    ("p99", 0.99))]),
        timeseries("Queue length", "Notifications waiting to be delivered "
                   "per receiver. A queue that keeps growing means the "
                   "receiver is down or slower than the alerts.", "short",
                   [target("sum by (receiver) (%s)"
                           % sel("deskdb_webhook_queue_length"), RECEIVER)],
                   th=thresholds()),
    ]
    return dashboard(
        "deskdb-alerts", "deskdb / Alerts",
        "deskdb's alert rules and the delivery of their notifications: "
        "states over time, notifications and failures per receiver, "
        "latency and queue length.", panels)

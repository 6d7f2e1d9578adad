/* SPDX-License-Identifier: MIT */
/* Notification delivery inside the exporter: alerts as sent, grouping with
 * Alertmanager's timers, payloads, signing, retries and the per-receiver
 * workers.  Only exporter/alerts uses it. */
#ifndef DESKDB_EXPORTER_NOTIFY_NOTIFY_H
#define DESKDB_EXPORTER_NOTIFY_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config_alerts.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

struct metrics;

/* ---- alerts as the receivers see them ---------------------------------- */

struct notify_label {
    char *name;
    char *value;
};

/* One alert: labels and annotations sorted by name (strcmp), times on the
 * wall clock in nanoseconds. */
struct notify_alert {
    uint64_t fingerprint;
    struct notify_label *labels;
    size_t n_labels;
    struct notify_label *annotations;
    size_t n_annotations;
    int64_t starts_at_ns;
    int64_t ends_at_ns; /* resolved alerts only */
    bool resolved;
};

/* What a receiver last got for an alert. */
enum notify_sent {
    NOTIFY_SENT_NONE,
    NOTIFY_SENT_FIRING,
    NOTIFY_SENT_RESOLVED,
};

/* Deep copy into `dst` (freed with notify_alert_fini()). */
int notify_alert_copy(struct notify_alert *dst,
                      const struct notify_alert *src) DESKDB_MUSTCHECK;
void notify_alert_fini(struct notify_alert *a);

/* Free `n` labels and the array. */
void notify_labels_free(struct notify_label *labels, size_t n);

/* The value of label `name`, or NULL. */
const char *
notify_label_get(const struct notify_label *labels, size_t n, const char *name);

/* Alertmanager's fingerprint: FNV-1a 64 over the sorted labels, each as
 * name 0xff value 0xff.  Labels must be sorted by name. */
uint64_t notify_fingerprint(const struct notify_label *labels, size_t n);

/* Alertmanager's group key for the root route grouped by `labels`
 * (sorted): {}:{alertname="X"}, values quoted the way Go's %q does. */
int notify_group_key(struct buf *out,
                     const struct notify_label *labels,
                     size_t n) DESKDB_MUSTCHECK;

/* The same for a single label. */
int notify_group_key_pair(struct buf *out,
                          const char *name,
                          const char *value) DESKDB_MUSTCHECK;

/* RFC 3339 UTC with milliseconds when not whole seconds; 0 gives
 * Go's zero time "0001-01-01T00:00:00Z". */
const char *notify_format_time(int64_t real_ns, char out[40]);

/* ---- retries and signing ----------------------------------------------- */

enum notify_outcome {
    NOTIFY_OK,        /* 2xx */
    NOTIFY_RETRY,     /* network error, timeout, 408, 429, 5xx */
    NOTIFY_PERMANENT, /* 1xx, 3xx (redirects are not followed), other 4xx */
};

/* Failure reasons: the `reason` label of the failed counter. */
enum notify_reason {
    NOTIFY_REASON_HTTP_3XX,
    NOTIFY_REASON_HTTP_4XX,
    NOTIFY_REASON_HTTP_5XX,
    NOTIFY_REASON_TIMEOUT,
    NOTIFY_REASON_NETWORK,
    NOTIFY_REASON_DROPPED,
    NOTIFY_NREASONS,
};

const char *notify_reason_name(enum notify_reason r);

/* Outcome of an answered request with HTTP `status`. */
enum notify_outcome notify_classify_status(long status);

/*
 * Retry-After: delay-seconds or an IMF-fixdate HTTP-date, relative to
 * `now_real_ns`.  Returns milliseconds (0 for a date in the past), or -1
 * when absent or unparsable.
 */
int64_t notify_parse_retry_after(const char *value, int64_t now_real_ns);

/*
 * Standard Webhooks: "v1," + base64(HMAC-SHA256(key, id "." ts "." body)).
 * The key is the base64 part of a "whsec_..." secret, or the secret's bytes
 * when it has no such prefix.  `out` holds at least NOTIFY_SIG_LEN bytes.
 * Returns 0 or DESKDB_EINVAL (whsec_ secret that is not base64).
 */
#define NOTIFY_SIG_LEN 64
int notify_sign(const char *secret,
                const char *id,
                int64_t timestamp,
                const char *body,
                size_t body_len,
                char out[NOTIFY_SIG_LEN]) DESKDB_MUSTCHECK;

/* Check a signing secret without revealing it: NULL if usable, else why. */
const char *notify_secret_problem(const char *secret);

/* Standard base64 with padding; `out` needs 4 * ceil(len / 3) + 1 bytes. */
void notify_base64(const uint8_t *in, size_t len, char *out);

/* Decode standard base64 (padding optional); returns the length or -1. */
long notify_unbase64(const char *in, uint8_t *out, size_t cap);

/* A fresh webhook-id: "msg_" and 32 hex digits from getrandom(2). */
#define NOTIFY_ID_LEN 40
void notify_new_id(char out[NOTIFY_ID_LEN]);

/* ---- grouping (pure; the worker locks around it) ----------------------- */

enum notify_reason_sent {
    NOTIFY_FIRST,      /* "first notification" */
    NOTIFY_NEW_ALERTS, /* "new alerts added" */
    NOTIFY_SOME_RESOLVED /* "some alerts resolved" */,
    NOTIFY_ALL_RESOLVED, /* "all alerts resolved" */
    NOTIFY_REPEAT,       /* "repeat interval elapsed" */
    NOTIFY_UPDATE,       /* push mode: changed or due for a resend */
};

const char *notify_reason_text(enum notify_reason_sent r);

struct dispatch_cfg {
    bool push;          /* alertmanager: one batch, resent every resend_ns */
    bool send_resolved; /* deliver resolves (always in push mode) */
    int64_t group_wait_ns;
    int64_t group_interval_ns;
    int64_t repeat_interval_ns;
    int64_t resend_ns; /* push mode */
};

/* One notification to deliver. */
struct dispatch_flush {
    char *group_key;
    struct notify_label *group_labels;
    size_t n_group_labels;
    enum notify_reason_sent reason;
    struct notify_alert *alerts; /* firing first, then resolved */
    size_t n_alerts;
    uint64_t signature; /* of the alerts and their states */
};

void dispatch_flush_free(struct dispatch_flush *f);

struct dispatch;

struct dispatch *dispatch_create(const struct dispatch_cfg *cfg);
void dispatch_destroy(struct dispatch *d);

/*
 * The alerts routed to this receiver after an evaluation: firing ones and
 * resolved ones still retained.  A firing alert joins (or updates) its
 * group; a new group flushes after group_wait.  A resolved alert updates
 * the group that holds it and is otherwise ignored (the receiver never
 * heard of it).  A firing alert missing from `alerts` is taken as
 * resolved at `now_real_ns`.
 */
int dispatch_update(struct dispatch *d,
                    const struct notify_alert *alerts,
                    size_t n,
                    int64_t now_mono_ns,
                    int64_t now_real_ns) DESKDB_MUSTCHECK;

/* Seed a group from persisted state after a restart: `sent` is what the
 * receiver last got, `last_sent_real_ns` when.  The group flushes at the
 * next call to dispatch_due(). */
int dispatch_restore(struct dispatch *d,
                     const struct notify_alert *alert,
                     enum notify_sent sent,
                     int64_t last_sent_real_ns,
                     int64_t now_mono_ns,
                     int64_t now_real_ns) DESKDB_MUSTCHECK;

/*
 * Flush the groups due at `now`, Alertmanager's dedup rules deciding
 * whether and why (research c.2).  Appends what to send (or record) to
 * `*out`/`*n_out` (the caller frees each with dispatch_flush_free() and
 * the array with free()).  Resolved alerts that will not be sent (the
 * receiver never got them firing, or send_resolved is off) leave their
 * group here; empty groups are removed.
 */
int dispatch_due(struct dispatch *d,
                 int64_t now_mono_ns,
                 struct dispatch_flush **out,
                 size_t *n_out) DESKDB_MUSTCHECK;

/* A notification was delivered: the receiver now knows the alerts in `f`
 * as sent; resolved ones leave their group. */
void dispatch_delivered(struct dispatch *d,
                        const struct dispatch_flush *f,
                        int64_t now_mono_ns);

/* Monotonic time of the next due group, or INT64_MAX. */
int64_t dispatch_next_due(const struct dispatch *d);

/* Number of groups (for tests). */
size_t dispatch_groups(const struct dispatch *d);

/*
 * New timers and modes for a receiver whose settings changed.  Groups
 * keep their alerts, what was sent and when; when `push` changes, the
 * alerts are regrouped for the new mode and those groups flush at the
 * next dispatch_due().  Errors: DESKDB_ENOMEM (the old groups stay).
 */
int dispatch_reconfigure(struct dispatch *d,
                         const struct dispatch_cfg *cfg,
                         int64_t now_mono_ns) DESKDB_MUSTCHECK;

/* ---- payloads ---------------------------------------------------------- */

struct payload_ctx {
    const char *receiver;
    enum config_receiver_type type;
    const char *external_url; /* "" if unknown */
    const char *routing_key;  /* pagerduty */
    const char *source;       /* pagerduty payload.source */
    int64_t now_real_ns;
    int64_t push_valid_ns; /* alertmanager: firing endsAt = now + this */
};

/* Serialize `f` for the receiver type into `out` (compact JSON). */
int notify_payload(const struct payload_ctx *ctx,
                   const struct dispatch_flush *f,
                   struct buf *out) DESKDB_MUSTCHECK;

/* ---- delivery workers -------------------------------------------------- */

/* One alert a delivery told the receiver about. */
struct notify_sent_item {
    uint64_t fingerprint;
    enum notify_sent sent;
};

typedef bool (*notify_leader_fn)(void *arg);
typedef void (*notify_delivered_fn)(void *arg,
                                    const char *receiver,
                                    const struct notify_sent_item *items,
                                    size_t n,
                                    int64_t at_real_ns);

struct notifier_opts {
    const struct config_receiver *cfg; /* borrowed; outlives the notifier */
    struct metrics *registry;          /* may be NULL */
    const struct clock *clock;         /* NULL: clock_system */
    int64_t push_resend_ns;            /* alertmanager receivers */
    int64_t push_valid_ns;
    notify_delivered_fn on_delivered; /* called without the notifier lock */
    void *cb_arg;
};

struct notifier;

/* Call once before any thread starts (curl_global_init). */
void notify_global_init(void);

struct notifier *notifier_create(const struct notifier_opts *opts,
                                 struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Who may send: NULL (default) means this instance always may. */
void notifier_set_leader_fn(struct notifier *n, notify_leader_fn fn, void *arg);

/* Where generatorURL and externalURL point ("" by default).  Copied. */
int notifier_set_external_url(struct notifier *n,
                              const char *url) DESKDB_MUSTCHECK;

/* Start the delivery thread. */
int notifier_start(struct notifier *n, struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Hand over the receiver's alerts after an evaluation (see
 * dispatch_update()); wakes the worker.  Never blocks on I/O. */
void notifier_update(struct notifier *n,
                     const struct notify_alert *alerts,
                     size_t count);

/*
 * New settings for the same receiver (a reload): URL, type, secret,
 * timeouts, intervals, send_resolved, backoff.  The groups and what the
 * receiver was told are kept (regrouped when the type changes between
 * alertmanager and the others); queued notifications stay queued and are
 * rebuilt for the new settings (one that cannot be is dropped and
 * counted); a request in flight finishes with the old ones.  `cfg` is
 * borrowed like notifier_opts.cfg and must have the same name.  Errors:
 * DESKDB_ENOMEM (nothing changed).
 */
int notifier_reconfigure(struct notifier *n,
                         const struct config_receiver *cfg,
                         int64_t push_resend_ns,
                         int64_t push_valid_ns) DESKDB_MUSTCHECK;

/* Free what is still queued after notifier_stop(), counting each as
 * dropped; returns how many there were. */
size_t notifier_discard(struct notifier *n);

/* Take the receiver's deskdb_webhook_* series out of /metrics (a receiver
 * removed by a reload); the notifier may still count into them. */
void notifier_forget_metrics(struct notifier *n);

/* See dispatch_restore(). */
void notifier_restore(struct notifier *n,
                      const struct notify_alert *alert,
                      enum notify_sent sent,
                      int64_t last_sent_real_ns);

/* Ask the worker to stop by `deadline_mono_ns` without waiting, so that
 * several receivers drain in parallel before notifier_stop(). */
void notifier_begin_stop(struct notifier *n, int64_t deadline_mono_ns);

/*
 * Stop: no new flushes; queued notifications are attempted once more
 * without waiting for their backoff, until `deadline_mono_ns`, when a
 * request in flight is aborted.  Joins the thread.  Idempotent.
 */
void notifier_stop(struct notifier *n, int64_t deadline_mono_ns);

/* notifier_destroy(NULL) is a no-op; stops first if needed. */
void notifier_destroy(struct notifier *n);

/* Notifications waiting for delivery. */
size_t notifier_queue_length(struct notifier *n);

/* ---- transport (send.c: the one place that uses libcurl) ---------------- */

struct notify_header {
    const char *name;
    const char *value;
};

struct notify_http_result {
    long status;          /* 0 when nothing was answered */
    bool timed_out;       /* no complete answer within the timeout */
    bool aborted;         /* stopped by the abort flag */
    char retry_after[64]; /* the Retry-After value, or "" */
    char error[128];      /* transport error, never with the URL */
};

/*
 * POST `body` to `url` with `headers` (Content-Type and User-Agent are
 * added), bounded by `timeout_ms` for connect and for the whole request;
 * http and https only, redirects not followed, at most 64 KiB of the
 * response read.  `abort_flag` (may be NULL) is polled during the
 * transfer.  Blocks.
 */
void notify_http_post(const char *url,
                      const struct notify_header *headers,
                      size_t n_headers,
                      const char *body,
                      size_t body_len,
                      int64_t timeout_ms,
                      const _Atomic bool *abort_flag,
                      struct notify_http_result *res);

#endif

/* SPDX-License-Identifier: MIT */
/* The /metrics handler: content negotiation, one snapshot of the registry
 * plus the PostgreSQL collectors within the scrape's budget, gzip. */
#include "exporter/scrape.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/metrics.h"
#include "exporter/collectors.h"
#include "exporter/expo.h"
#include "exporter/http.h"

/* Render into `out`: the whole exposition or an error status. */
static int
render(const struct scrape_handler *h,
       const struct http_request *req,
       enum expo_format fmt,
       struct buf *out)
{
    struct collectors_scrape scrape;
    struct metrics_snapshot *snap;
    int rc;

    scrape.collectors = h->collectors;
    scrape.budget_ms = collectors_budget_ms(
        http_request_header(req, "X-Prometheus-Scrape-Timeout-Seconds"),
        h->max_budget_ms);
    snap = metrics_snapshot_create(h->registry,
                                   h->collectors ? collectors_collect_scrape
                                                 : NULL,
                                   h->collectors ? &scrape : NULL);
    if (snap == NULL)
        return DESKDB_ENOMEM;
    rc = expo_render(snap, fmt, out);
    metrics_snapshot_destroy(snap);
    return rc;
}

void
scrape_handle(void *arg,
              const struct http_request *req,
              struct http_response *resp)
{
    const struct scrape_handler *h = arg;
    enum expo_format fmt = expo_negotiate(http_request_header(req, "Accept"));
    struct buf plain;
    int rc;

    if (http_response_add_header(resp, "Vary", "Accept, Accept-Encoding") !=
        DESKDB_OK) {
        http_response_text(resp, 500, "cannot build the response");
        return;
    }
    if (!expo_gzip_accepted(http_request_header(req, "Accept-Encoding"))) {
        rc = render(h, req, fmt, &resp->body);
    } else {
        buf_init(&plain, EXPO_MAX_BODY);
        rc = render(h, req, fmt, &plain);
        if (rc == DESKDB_OK)
            rc = expo_gzip(&plain, &resp->body);
        if (rc == DESKDB_OK)
            rc = http_response_add_header(resp, "Content-Encoding", "gzip");
        buf_fini(&plain);
    }
    if (rc != DESKDB_OK) {
        log_error("exporter",
                  "cannot render /metrics",
                  "err",
                  err_code_name(rc));
        buf_reset(&resp->body);
        http_response_text(resp, 500, "cannot render the exposition");
        return;
    }
    resp->status = 200;
    http_response_set_type(resp, expo_content_type(fmt));
}

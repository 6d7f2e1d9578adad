/* SPDX-License-Identifier: MIT */
/* The /metrics handler: content negotiation, one snapshot of the registry
 * plus the PostgreSQL collectors within the scrape's budget, gzip. */
#ifndef DESKDB_EXPORTER_SCRAPE_H
#define DESKDB_EXPORTER_SCRAPE_H

#include <stdint.h>

struct metrics;
struct collectors;
struct http_request;
struct http_response;

struct scrape_handler {
    struct metrics *registry;      /* borrowed */
    struct collectors *collectors; /* borrowed; NULL: registry only */
    int64_t max_budget_ms;         /* <= 0: the collectors' default */
};

/* An http_handler_fn; `arg` is a struct scrape_handler *.  Answers 200 with
 * whatever could be collected (failed collectors are reported in the
 * exposition, never as an HTTP error); 500 only if the body cannot be
 * built at all (out of memory, over the size cap). */
void scrape_handle(void *arg,
                   const struct http_request *req,
                   struct http_response *resp);

#endif

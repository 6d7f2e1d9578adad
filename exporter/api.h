/* SPDX-License-Identifier: MIT */
/* The JSON monitoring API: the seed's /api/db endpoints plus /api/jobs and
 * /api/alerts, built from snapshots of the pool, transactions and query log. */
#ifndef DESKDB_EXPORTER_API_H
#define DESKDB_EXPORTER_API_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct pool;
struct http_server;

/* Largest ?limit= accepted by the query-history endpoints. */
#define API_LIMIT_MAX     1000
#define API_LIMIT_DEFAULT 100

/*
 * Writes one JSON document (an object or an array) into `out` for
 * /api/jobs or /api/alerts.  Called on an HTTP thread; must not block on
 * the database.  Returns 0 or a negative DESKDB_* status.
 */
typedef int (*api_json_fn)(void *arg, struct buf *out);

struct api;

/*
 * An API over `pool` (borrowed, must outlive the API).  `health_timeout_ms`
 * bounds the SELECT 1 of /api/db/health.  NULL on allocation failure.
 */
struct api *api_create(struct pool *pool,
                       int64_t health_timeout_ms) DESKDB_MUSTCHECK;

/* api_destroy(NULL) is a no-op.  Stop the HTTP server first. */
void api_destroy(struct api *api);

/* Where /api/jobs and /api/alerts get their documents.  Without a
 * provider those endpoints answer 404: the feature is not running.  May
 * be called while the server runs (a reload that starts the scheduler);
 * the provider must then stay valid until the server has stopped. */
void api_set_jobs_provider(struct api *api, api_json_fn fn, void *arg);
void api_set_alerts_provider(struct api *api, api_json_fn fn, void *arg);

/* Register every API route on `srv` (before it starts). */
int api_register(struct api *api,
                 struct http_server *srv,
                 struct deskdb_err *err) DESKDB_MUSTCHECK;

#endif

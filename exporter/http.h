/* SPDX-License-Identifier: MIT */
/* The exporter's HTTP server: exact-path routes, authentication, limits and
 * TLS, with libmicrohttpd kept out of sight behind this header. */
#ifndef DESKDB_EXPORTER_HTTP_H
#define DESKDB_EXPORTER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/metrics.h"

#define HTTP_MAX_HEADERS 8           /* extra response headers */
#define HTTP_BODY_MAX    (64u << 20) /* cap of a response body */
#define HTTP_URI_MAX     8192        /* longer request targets get 414 */
#define HTTP_THREADS     4           /* worker threads per listen address */
#define HTTP_TYPE_TEXT   "text/plain; charset=utf-8"
#define HTTP_TYPE_JSON   "application/json"
#define HTTP_TYPE_HTML   "text/html; charset=utf-8"

/* A request as handlers see it.  Valid only during the handler call. */
struct http_request {
    const char *method;      /* "GET" or "HEAD" */
    const char *path;        /* decoded path, without the query string */
    const char *remote_addr; /* numeric address of the peer */
    const char *user;        /* authenticated name ("token" for the bearer
                                token), or NULL when anonymous */
    bool head;               /* HEAD: build the body, it is not sent */
    void *conn_;             /* private to the server */
};

/* Decoded value of query parameter `key`, or NULL (borrowed). */
const char *http_request_query(const struct http_request *req, const char *key);

/* Value of request header `name` (case-insensitive), or NULL (borrowed). */
const char *http_request_header(const struct http_request *req,
                                const char *name);

struct http_header {
    char *name;
    char *value;
};

/*
 * What a handler fills in.  The server starts it as 200, HTTP_TYPE_TEXT
 * and an empty `body` capped at HTTP_BODY_MAX; a handler appends to `body`
 * or points `static_body` at bytes that outlive the server.  A body that
 * overflowed its cap is answered with 500.
 */
struct http_response {
    int status;
    char content_type[128];
    struct buf body;
    const void *static_body;
    size_t static_len;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t n_headers;
};

/* Add a response header (copied).  DESKDB_EINVAL for a bad name, a value
 * with CR/LF or a full header list; DESKDB_ENOMEM. */
int http_response_add_header(struct http_response *resp,
                             const char *name,
                             const char *value) DESKDB_MUSTCHECK;

/* Set the Content-Type (truncated to the field's size). */
void http_response_set_type(struct http_response *resp, const char *type);

/* Answer with borrowed bytes that live at least as long as the server. */
void http_response_set_static(struct http_response *resp,
                              const void *data,
                              size_t len);

/* Replace status and body with a one-line plain-text message. */
void
http_response_text(struct http_response *resp, int status, const char *text);

/* A handler runs on a server thread, possibly concurrently with itself. */
typedef void (*http_handler_fn)(void *arg,
                                const struct http_request *req,
                                struct http_response *resp);

enum http_route_flags {
    HTTP_ROUTE_PUBLIC = 1 << 0,  /* never asks for credentials */
    HTTP_ROUTE_AUTH = 1 << 1,    /* needs them whenever any are configured */
    HTTP_ROUTE_METRICS = 1 << 2, /* needs them when http.auth.protect_metrics */
};

/* Reports readiness for /-/ready; called on server threads. */
typedef bool (*http_ready_fn)(void *arg);

struct http_server;

/*
 * Limits, per listen address: HTTP_THREADS worker threads (poll), at most
 * http.max_connections connections (more wait in the kernel's listen
 * backlog: libmicrohttpd 0.9.75 stops accepting rather than refusing),
 * http.connection_memory_limit bytes per connection for the request line
 * and headers (larger ones get 431/414 from libmicrohttpd), and
 * http.request_timeout as libmicrohttpd's idle timeout: a connection that
 * sends nothing for that long is closed.  Requests that libmicrohttpd
 * rejects itself (unparsable, oversized) never reach the metrics.
 *
 * Validate `cfg` and prepare a server: parse and resolve every listen
 * address, read the TLS certificate and key, build the credentials and
 * register the metrics (`metrics` may be NULL).  Fails with DESKDB_EINVAL
 * (message names the key) for a bad address, a TLS file that cannot be
 * read, bad credentials, or a non-loopback listen address without any
 * credential unless http.allow_unauthenticated; DESKDB_ENOMEM.  Binds
 * nothing yet.  Built-in routes: "/", "/-/healthy", "/-/ready".
 */
struct http_server *http_server_create(const struct config_http *cfg,
                                       struct metrics *metrics,
                                       struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Register `handler` for exactly `path` (no prefix matching, no
 * normalisation) with one of the HTTP_ROUTE_* flags.  Only before start.
 * DESKDB_EINVAL for a path not starting with '/', a duplicate path, bad
 * flags or a started server; DESKDB_ENOMEM.
 */
int http_server_route(struct http_server *srv,
                      const char *path,
                      unsigned flags,
                      http_handler_fn handler,
                      void *arg) DESKDB_MUSTCHECK;

/* Readiness for /-/ready (default: ready).  Only before start. */
void
http_server_set_ready(struct http_server *srv, http_ready_fn fn, void *arg);

/*
 * Bind every listen address and start serving on internal threads.
 * DESKDB_EIO (message has the address and strerror) if a bind fails,
 * DESKDB_EINVAL if libmicrohttpd refuses the options (e.g. TLS key and
 * certificate do not match).  On failure nothing stays bound.
 */
int http_server_start(struct http_server *srv,
                      struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Number of listen addresses, and the bound port of the `index`th (useful
 * with port 0); -1 if not started or out of range. */
size_t http_server_listener_count(const struct http_server *srv);
int http_server_port(const struct http_server *srv, size_t index);

/*
 * Swap in the credentials of `cfg` (bearer token, basic users,
 * protect_metrics, allow_unauthenticated) atomically: requests already
 * being checked finish with the old set.  Other keys need a restart and
 * are ignored.  On error (same rules as create) the old set stays.
 */
int http_server_update_auth(struct http_server *srv,
                            const struct config_http *cfg,
                            struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * Stop accepting connections, let requests in flight finish for up to
 * `timeout_ms`, then close everything and join the threads.  Blocks.
 * Idempotent; the server cannot be started again.
 */
void http_server_stop(struct http_server *srv, int64_t timeout_ms);

/* Stop (draining for request_timeout) and free; NULL is a no-op. */
void http_server_destroy(struct http_server *srv);

#endif

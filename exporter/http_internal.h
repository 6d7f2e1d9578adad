/* SPDX-License-Identifier: MIT */
/* Private to the HTTP server files: listen addresses and response setup. */
#ifndef DESKDB_EXPORTER_HTTP_INTERNAL_H
#define DESKDB_EXPORTER_HTTP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "config/config.h"
#include "core/err.h"
#include "core/metrics.h"
#include "exporter/auth.h"
#include "exporter/http.h"

#define HTTP_MAX_ROUTES    64
#define HTTP_CACHED_CODES  16 /* status codes with a cached counter */
#define HTTP_N_AUTH_STATUS (AUTH_BUSY + 1)
#define HTTP_TLS_FILE_MAX  (1 << 20)

/* One configured listen address and, once started, its socket. */
struct http_listener {
    char *text; /* as configured, for messages */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    bool any;      /* ":port": every interface, IPv6 dual-stack if possible */
    bool loopback; /* only reachable from this host */
    int fd;        /* bound socket while we own it, else -1 */
    ino_t ino;     /* inode of that socket, to recognise it later */
    int port;      /* bound port once started, else -1 */
    void *daemon;  /* the libmicrohttpd daemon serving it */
};

/*
 * Parse "host:port", "[v6addr]:port" or ":port" and resolve the host
 * (numeric or a name; the first address is used).  DESKDB_EINVAL with a
 * message naming `entry` and its position.
 */
int http_listener_parse(const struct config_str *entry,
                        struct http_listener *out,
                        struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Create, bind and listen on a non-blocking socket; records fd and port.
 * DESKDB_EIO with the address and strerror. */
int http_listener_bind(struct http_listener *l,
                       struct deskdb_err *err) DESKDB_MUSTCHECK;

/*
 * After libmicrohttpd refused to start on `fd`: it closes the socket on
 * some failure paths and not on others, so close `fd` only if it still is
 * the socket we bound (same inode), never a descriptor reused since.
 */
void http_listener_close_if_ours(struct http_listener *l, int fd);

/* Free the text and close the socket if still ours. */
void http_listener_fini(struct http_listener *l);

struct http_route {
    char *path; /* also the handler label */
    unsigned flags;
    http_handler_fn fn;
    void *arg;
    struct metric *duration;
    _Atomic(struct metric *) by_code[HTTP_CACHED_CODES];
};

enum http_state { HTTP_CREATED, HTTP_RUNNING, HTTP_STOPPED };

struct http_server {
    struct http_listener *listeners;
    size_t n_listeners;
    unsigned timeout_s;
    unsigned max_connections;
    size_t memory_limit;
    int64_t drain_ms;
    char *tls_cert; /* PEM, NULL without TLS */
    char *tls_key;
    size_t tls_key_len;

    struct http_route *routes; /* HTTP_MAX_ROUTES, fixed once started */
    size_t n_routes;
    struct http_route other; /* unknown paths */
    http_ready_fn ready_fn;
    void *ready_arg;
    enum http_state state; /* touched by the owner's thread only */

    pthread_mutex_t auth_lock; /* guards the `auth` pointer */
    struct auth *auth;

    _Atomic long in_flight; /* requests between handler and completion */
    struct metric_family *requests_total;
    struct metric_family *duration;
    struct metric *in_flight_gauge;
    struct metric *auth_failures[HTTP_N_AUTH_STATUS];

    pthread_mutex_t msg_lock; /* guards start_msg */
    char start_msg[512];      /* libmicrohttpd messages since the last start */
};

/* The route registered for exactly `path`, or NULL. */
struct http_route *http_find_route(struct http_server *srv, const char *path);

/* True if libmicrohttpd was built with TLS. */
bool http_tls_supported(void);

/* Start a response as 200, text/plain, empty body capped at HTTP_BODY_MAX. */
void http_response_init(struct http_response *resp);

/* Free the body and headers. */
void http_response_fini(struct http_response *resp);

#endif

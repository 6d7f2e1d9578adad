/* SPDX-License-Identifier: MIT */
/* The HTTP server on libmicrohttpd: the only file that includes it. */
#include "exporter/http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "exporter/auth.h"
#include "exporter/http_internal.h"

/* TLS 1.2 and 1.3 only (OpenMetrics asks for TLS 1.2 or later). */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Status codes whose request counters are cached per route. */
/* clang-format off */
static const int cached_codes[HTTP_CACHED_CODES] = {
    200, 204, 304, 400, 401, 403, 404, 405,
    406, 408, 413, 414, 429, 431, 500, 503,
};
/* clang-format on */

/* Per request, from the URI callback to the completion callback. */
struct request_ctx {
    int64_t start_ns;
    size_t uri_len;
    bool nul_escape; /* "%00" in the path */
    bool answered;   /* the access handler queued a response */
    struct http_route *route;
    int status;
    char method[12];
    char path[128];
    char user[64];
    char remote[NI_MAXHOST];
};

/* ---- small helpers ------------------------------------------------------ */

static void
copy_str(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src != NULL ? src : "");
}

const char *
http_request_query(const struct http_request *req, const char *key)
{
    return MHD_lookup_connection_value(req->conn_, MHD_GET_ARGUMENT_KIND, key);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn_, MHD_HEADER_KIND, name);
}

static struct auth *
current_auth(struct http_server *srv)
{
    struct auth *a;

    pthread_mutex_lock(&srv->auth_lock);
    a = auth_ref(srv->auth);
    pthread_mutex_unlock(&srv->auth_lock);
    return a;
}

bool
http_tls_supported(void)
{
    return MHD_is_feature_supported(MHD_FEATURE_TLS) == MHD_YES;
}

struct http_route *
http_find_route(struct http_server *srv, const char *path)
{
    for (size_t i = 0; i < srv->n_routes; i++)
        if (strcmp(srv->routes[i].path, path) == 0)
            return &srv->routes[i];
    return NULL;
}

/* ---- metrics ------------------------------------------------------------ */

static void
count_request(struct http_server *srv, struct http_route *r, int status)
{
    char code[8];
    const char *labels[2] = {r->path, code};
    struct metric *s;
    size_t slot = HTTP_CACHED_CODES;

    if (srv->requests_total == NULL)
        return;
    for (size_t i = 0; i < HTTP_CACHED_CODES; i++)
        if (cached_codes[i] == status)
            slot = i;
    s = slot < HTTP_CACHED_CODES ? atomic_load(&r->by_code[slot]) : NULL;
    if (s == NULL) {
        snprintf(code, sizeof(code), "%d", status);
        /* Same pointer for the same labels, so racing stores agree. */
        s = metric_series(srv->requests_total, labels);
        if (slot < HTTP_CACHED_CODES)
            atomic_store(&r->by_code[slot], s);
    }
    metric_inc(s);
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char msg[256];
    size_t used;
    size_t len;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    len = strlen(msg);
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '.'))
        msg[--len] = '\0';
    /* Start-up failures come as a cause and then a summary: keep both. */
    pthread_mutex_lock(&srv->msg_lock);
    used = strlen(srv->start_msg);
    snprintf(srv->start_msg + used,
             sizeof(srv->start_msg) - used,
             "%s%s",
             used > 0 ? "; " : "",
             msg);
    pthread_mutex_unlock(&srv->msg_lock);
    /* Mostly client trouble (resets, bad requests): not worth a warning. */
    log_debug("http", "libmicrohttpd", "detail", msg);
}

static bool
has_nul_escape(const char *uri)
{
    size_t path_len = strcspn(uri, "?");
    const char *p = uri;

    while ((p = strchr(p, '%')) != NULL && (size_t)(p - uri) < path_len) {
        if (p[1] == '0' && p[2] == '0')
            return true;
        p++;
    }
    return false;
}

/* Called with the raw request target before the headers are parsed; MHD
 * then always reports the request's end to on_completed(), which frees. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct request_ctx *ctx = calloc(1, sizeof(*ctx));

    (void)cls;
    (void)conn;
    if (ctx == NULL)
        return NULL;
    ctx->uri_len = strlen(uri);
    ctx->nul_escape = has_nul_escape(uri);
    return ctx;
}

static const char *
termination_name(enum MHD_RequestTerminationCode toe)
{
    switch (toe) {
    case MHD_REQUEST_TERMINATED_COMPLETED_OK:
        return "ok";
    case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED:
        return "timeout";
    case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN:
        return "shutdown";
    case MHD_REQUEST_TERMINATED_CLIENT_ABORT:
    case MHD_REQUEST_TERMINATED_READ_ERROR:
        return "client_abort";
    case MHD_REQUEST_TERMINATED_WITH_ERROR:
        break;
    }
    return "error";
}

static void
on_completed(void *cls,
             struct MHD_Connection *conn,
             void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct request_ctx *ctx = *con_cls;
    char status[24];
    char ms[32];
    int64_t ns;

    (void)conn;
    *con_cls = NULL;
    if (ctx == NULL)
        return;
    if (ctx->answered) {
        ns = clock_monotonic_ns() - ctx->start_ns;
        metric_add(srv->in_flight_gauge, -1);
        metric_observe(ctx->route->duration, (double)ns / 1e9);
        count_request(srv, ctx->route, ctx->status);
        log_debug("http",
                  "request",
                  "method",
                  ctx->method,
                  "path",
                  ctx->path,
                  "status",
                  log_i64(status, ctx->status),
                  "duration_ms",
                  log_ms(ms, ns),
                  "remote",
                  ctx->remote,
                  "user",
                  ctx->user[0] != '\0' ? ctx->user : "-",
                  "end",
                  termination_name(toe));
        atomic_fetch_sub(&srv->in_flight, 1);
    }
    free(ctx);
}

/* ---- dispatch ----------------------------------------------------------- */

static void
peer_address(struct MHD_Connection *conn, char *out, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci != NULL ? ci->client_addr : NULL;
    socklen_t len;

    copy_str(out, size, "-");
    if (sa == NULL)
        return;
    len = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                    : sizeof(struct sockaddr_in);
    if (getnameinfo(sa, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) !=
        0)
        copy_str(out, size, "-");
}

/* A GET or HEAD that announces a body is refused before it is read. */
static bool
announces_body(struct MHD_Connection *conn)
{
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *te =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");

    return te != NULL || (cl != NULL && strspn(cl, "0") != strlen(cl)) ||
           (cl != NULL && cl[0] == '\0');
}

static void
add_header(struct http_response *resp, const char *name, const char *value)
{
    if (http_response_add_header(resp, name, value) != DESKDB_OK)
        log_warn("http", "cannot add response header", "header", name);
}

/* Returns true if the request may go on; otherwise `resp` says why not. */
static bool
authorize(struct http_server *srv,
          struct MHD_Connection *conn,
          const struct http_route *route,
          struct request_ctx *ctx,
          struct http_response *resp)
{
    struct auth *a = current_auth(srv);
    enum auth_status st = AUTH_OK;
    bool needed;

    needed = auth_enabled(a) &&
             ((route->flags & HTTP_ROUTE_AUTH) ||
              ((route->flags & HTTP_ROUTE_METRICS) && auth_protect_metrics(a)));
    if (needed)
        st = auth_check(
            a,
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization"),
            ctx->user,
            sizeof(ctx->user));
    if (st == AUTH_BUSY) {
        http_response_text(resp, 503, "authentication is busy, retry later");
        add_header(resp, "Retry-After", "1");
    } else if (st != AUTH_OK) {
        http_response_text(resp, 401, "unauthorized");
        if (auth_has_basic(a))
            add_header(resp,
                       "WWW-Authenticate",
                       "Basic realm=\"" AUTH_REALM "\", charset=\"UTF-8\"");
        if (auth_has_bearer(a))
            add_header(resp,
                       "WWW-Authenticate",
                       "Bearer realm=\"" AUTH_REALM "\"");
    }
    if (st != AUTH_OK)
        metric_inc(srv->auth_failures[st]);
    auth_unref(a);
    return st == AUTH_OK;
}

static void
dispatch(struct http_server *srv,
         struct MHD_Connection *conn,
         struct request_ctx *ctx,
         const char *url,
         const char *method,
         struct http_response *resp)
{
    struct http_route *route = http_find_route(srv, url);
    bool head = strcmp(method, "HEAD") == 0;
    struct http_request req = {
        .method = method,
        .path = url,
        .remote_addr = ctx->remote,
        .head = head,
        .conn_ = conn,
    };

    ctx->route = route != NULL ? route : &srv->other;
    if (ctx->uri_len > HTTP_URI_MAX) {
        http_response_text(resp, 414, "request target too long");
    } else if (ctx->nul_escape) {
        http_response_text(resp, 400, "bad request target");
    } else if (route == NULL) {
        http_response_text(resp, 404, "not found");
    } else if (!head && strcmp(method, "GET") != 0) {
        http_response_text(resp, 405, "method not allowed");
        add_header(resp, "Allow", "GET, HEAD");
    } else if (announces_body(conn)) {
        http_response_text(resp, 400, "a GET or HEAD request takes no body");
    } else if (authorize(srv, conn, route, ctx, resp)) {
        req.user = ctx->user[0] != '\0' ? ctx->user : NULL;
        route->fn(route->arg, &req, resp);
    }
}

static bool
type_valid(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

/* Check what the handler produced; anything unusable becomes a 500. */
static void
vet_response(const struct request_ctx *ctx, struct http_response *resp)
{
    const char *problem = NULL;

    if (resp->status < 200 || resp->status > 599)
        problem = "invalid status code";
    else if (resp->static_body == NULL && resp->body.overflow)
        problem = "response body too large";
    else if (!type_valid(resp->content_type))
        problem = "invalid content type";
    if (problem == NULL)
        return;
    log_warn("http", "handler failed", "path", ctx->path, "error", problem);
    http_response_fini(resp);
    http_response_init(resp);
    http_response_text(resp, 500, "internal server error");
}

static struct MHD_Response *
make_mhd_response(struct http_response *resp)
{
    struct MHD_Response *r;
    size_t len = resp->body.len;
    char *data;

    if (resp->static_body != NULL)
        return MHD_create_response_from_buffer(resp->static_len,
                                               (void *)resp->static_body,
                                               MHD_RESPMEM_PERSISTENT);
    data = buf_take(&resp->body);
    if (data == NULL)
        return NULL;
    r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (r == NULL)
        free(data);
    return r;
}

static enum MHD_Result
send_response(struct MHD_Connection *conn,
              struct request_ctx *ctx,
              struct http_response *resp)
{
    struct MHD_Response *r;
    enum MHD_Result ret;
    bool ok;

    vet_response(ctx, resp);
    ctx->status = resp->status;
    r = make_mhd_response(resp);
    if (r == NULL) {
        log_warn("http", "cannot create response", "path", ctx->path);
        return MHD_NO;
    }
    /* Hardening headers on every answer (exporter-toolkit's defaults):
     * nothing here is meant to be cached, framed or run by a browser. */
    ok = MHD_add_response_header(r, "Content-Type", resp->content_type) ==
             MHD_YES &&
         MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") ==
             MHD_YES &&
         MHD_add_response_header(r, "Cache-Control", "no-store") == MHD_YES &&
         MHD_add_response_header(r,
                                 "Content-Security-Policy",
                                 "default-src 'none'; frame-ancestors "
                                 "'none'") == MHD_YES;
    for (size_t i = 0; ok && i < resp->n_headers; i++)
        ok = MHD_add_response_header(r,
                                     resp->headers[i].name,
                                     resp->headers[i].value) == MHD_YES;
    if (!ok)
        log_warn("http", "cannot set response headers", "path", ctx->path);
    ret = ok ? MHD_queue_response(conn, (unsigned)resp->status, r) : MHD_NO;
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls,
           struct MHD_Connection *conn,
           const char *url,
           const char *method,
           const char *version,
           const char *upload_data,
           size_t *upload_data_size,
           void **con_cls)
{
    struct http_server *srv = cls;
    struct request_ctx *ctx = *con_cls;
    struct http_response resp;
    enum MHD_Result ret;

    (void)version;
    (void)upload_data;
    if (ctx == NULL && (ctx = on_uri(srv, url, conn)) == NULL)
        return MHD_NO; /* out of memory: drop the connection */
    *con_cls = ctx;
    if (ctx->answered) {
        /* Already answered on the first call: discard any body. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    ctx->answered = true;
    ctx->start_ns = clock_monotonic_ns();
    atomic_fetch_add(&srv->in_flight, 1);
    metric_add(srv->in_flight_gauge, 1);
    copy_str(ctx->method, sizeof(ctx->method), method);
    copy_str(ctx->path, sizeof(ctx->path), url);
    peer_address(conn, ctx->remote, sizeof(ctx->remote));

    http_response_init(&resp);
    dispatch(srv, conn, ctx, url, method, &resp);
    ret = send_response(conn, ctx, &resp);
    http_response_fini(&resp);
    return ret;
}

/* ---- start and stop ----------------------------------------------------- */

static size_t
base_options(struct http_server *srv, struct MHD_OptionItem *o)
{
    unsigned threads = HTTP_THREADS;
    size_t n = 0;

    if (threads > srv->max_connections)
        threads = srv->max_connections;
    /* The logger goes first so that start-up messages reach it. */
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER,
                                     (intptr_t)on_mhd_log,
                                     srv};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_URI_LOG_CALLBACK,
                                     (intptr_t)on_uri,
                                     srv};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED,
                                     (intptr_t)on_completed,
                                     srv};
    /* libmicrohttpd has no connection timeout by default (slowloris). */
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
                                     (intptr_t)srv->timeout_s,
                                     NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                     (intptr_t)srv->max_connections,
                                     NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                     (intptr_t)srv->memory_limit,
                                     NULL};
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
                                     (intptr_t)threads,
                                     NULL};
    /* Our clients are Prometheus and curl: reject sloppy HTTP/1.1. */
    o[n++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
    if (srv->tls_cert != NULL) {
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT,
                                         0,
                                         srv->tls_cert};
        o[n++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
        o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES,
                                         0,
                                         (void *)TLS_PRIORITIES};
    }
    return n;
}

static int
start_listener(struct http_server *srv,
               struct http_listener *l,
               struct deskdb_err *err)
{
    struct MHD_OptionItem opts[16];
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    size_t n;
    int rc;

    rc = http_listener_bind(l, err);
    if (rc != DESKDB_OK)
        return rc;
    /* poll(), not epoll: libmicrohttpd's epoll loop removes the listening
     * socket from its epoll set when at the connection limit or quiesced
     * without holding a lock, and aborts the whole process when
     * MHD_quiesce_daemon() wins that race (daemon.c "Failed to remove
     * listen FD from epoll set"). Its poll() loop just leaves the socket
     * out of the next poll set. At an exporter's connection counts the
     * difference in cost does not show. */
    flags |= MHD_USE_POLL;
    if (srv->tls_cert != NULL)
        flags |= MHD_USE_TLS;
    n = base_options(srv, opts);
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET,
                                        (intptr_t)l->fd,
                                        NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    pthread_mutex_lock(&srv->msg_lock);
    srv->start_msg[0] = '\0';
    pthread_mutex_unlock(&srv->msg_lock);
    l->daemon = MHD_start_daemon(flags,
                                 0,
                                 NULL,
                                 NULL,
                                 on_request,
                                 srv,
                                 MHD_OPTION_ARRAY,
                                 opts,
                                 MHD_OPTION_END);
    if (l->daemon == NULL) {
        pthread_mutex_lock(&srv->msg_lock);
        err_set(err,
                DESKDB_EINVAL,
                "http.listen %s: cannot start server: %s",
                l->text,
                srv->start_msg[0] != '\0' ? srv->start_msg : "unknown error");
        pthread_mutex_unlock(&srv->msg_lock);
        http_listener_close_if_ours(l, l->fd);
        l->fd = -1;
        return DESKDB_EINVAL;
    }
    l->fd = -1; /* libmicrohttpd owns and closes it now */
    return DESKDB_OK;
}

int
http_server_start(struct http_server *srv, struct deskdb_err *err)
{
    char port[24];
    int rc = DESKDB_OK;

    if (srv->state != HTTP_CREATED)
        return err_set(err, DESKDB_EINVAL, "http server already started");
    srv->state = HTTP_RUNNING;
    for (size_t i = 0; rc == DESKDB_OK && i < srv->n_listeners; i++)
        rc = start_listener(srv, &srv->listeners[i], err);
    if (rc != DESKDB_OK) {
        http_server_stop(srv, 0);
        return rc;
    }
    for (size_t i = 0; i < srv->n_listeners; i++)
        log_info("http",
                 "listening",
                 "listen",
                 srv->listeners[i].text,
                 "port",
                 log_i64(port, srv->listeners[i].port),
                 "tls",
                 srv->tls_cert != NULL ? "true" : "false");
    return DESKDB_OK;
}

size_t
http_server_listener_count(const struct http_server *srv)
{
    return srv->n_listeners;
}

int
http_server_port(const struct http_server *srv, size_t index)
{
    if (srv->state != HTTP_RUNNING || index >= srv->n_listeners)
        return -1;
    return srv->listeners[index].port;
}

void
http_server_stop(struct http_server *srv, int64_t timeout_ms)
{
    int64_t deadline = clock_monotonic_ns() + timeout_ms * NS_PER_MS;
    const struct timespec tick = {.tv_nsec = 10 * 1000 * 1000};

    if (srv->state != HTTP_RUNNING) {
        srv->state = HTTP_STOPPED;
        return;
    }
    srv->state = HTTP_STOPPED;
    for (size_t i = 0; i < srv->n_listeners; i++) {
        struct http_listener *l = &srv->listeners[i];
        MHD_socket fd;

        if (l->daemon == NULL)
            continue;
        /* The socket comes back to us, but worker threads may still touch
         * it until MHD_stop_daemon(): refuse new connections now with
         * shutdown(), close it only after the stop. */
        fd = MHD_quiesce_daemon(l->daemon);
        if (fd != MHD_INVALID_SOCKET) {
            shutdown(fd, SHUT_RDWR);
            l->fd = fd;
        }
    }
    while (atomic_load(&srv->in_flight) > 0 && clock_monotonic_ns() < deadline)
        nanosleep(&tick, NULL);
    for (size_t i = 0; i < srv->n_listeners; i++) {
        struct http_listener *l = &srv->listeners[i];

        if (l->daemon != NULL)
            MHD_stop_daemon(l->daemon);
        if (l->fd >= 0)
            close(l->fd);
        l->fd = -1;
        l->daemon = NULL;
        l->port = -1;
    }
}

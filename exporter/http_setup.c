/* SPDX-License-Identifier: MIT */
/* HTTP server setup: configuration, routes, credentials, built-in pages. */
#include "exporter/http_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

static const double duration_buckets[] =
    {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

static void
register_metrics(struct http_server *srv, struct metrics *m)
{
    static const char *const handler_code[] = {"handler", "code", NULL};
    static const char *const handler[] = {"handler", NULL};
    static const char *const reason[] = {"reason", NULL};
    struct metric_family *failures;

    if (m == NULL)
        return;
    srv->requests_total = metrics_family(m,
                                         METRIC_COUNTER,
                                         "deskdb_http_requests_total",
                                         "HTTP requests answered, by route "
                                         "and status code.",
                                         handler_code,
                                         NULL,
                                         0);
    srv->duration = metrics_family(
        m,
        METRIC_HISTOGRAM,
        "deskdb_http_request_duration_seconds",
        "Time from the end of the request headers to the end of the "
        "response, by route.",
        handler,
        duration_buckets,
        sizeof(duration_buckets) / sizeof(duration_buckets[0]));
    srv->in_flight_gauge = metrics_gauge(m,
                                         "deskdb_http_requests_in_flight",
                                         "HTTP requests being answered.");
    failures = metrics_family(m,
                              METRIC_COUNTER,
                              "deskdb_http_auth_failures_total",
                              "Requests refused for missing or wrong "
                              "credentials, by reason.",
                              reason,
                              NULL,
                              0);
    if (failures == NULL)
        return;
    for (int st = AUTH_MISSING; st < (int)HTTP_N_AUTH_STATUS; st++) {
        const char *value[] = {auth_status_reason((enum auth_status)st)};

        srv->auth_failures[st] = metric_series(failures, value);
    }
}

static void
route_metrics(struct http_server *srv, struct http_route *r)
{
    const char *label[] = {r->path};

    if (srv->duration != NULL)
        r->duration = metric_series(srv->duration, label);
}

/* ---- built-in routes ---------------------------------------------------- */

static int
put_escaped(struct buf *b, const char *s)
{
    int rc = DESKDB_OK;

    for (; *s != '\0' && rc == DESKDB_OK; s++) {
        switch (*s) {
        case '&':
            rc = buf_puts(b, "&amp;");
            break;
        case '<':
            rc = buf_puts(b, "&lt;");
            break;
        case '>':
            rc = buf_puts(b, "&gt;");
            break;
        case '"':
            rc = buf_puts(b, "&quot;");
            break;
        default:
            rc = buf_putc(b, *s);
        }
    }
    return rc;
}

static void
handle_landing(void *arg,
               const struct http_request *req,
               struct http_response *resp)
{
    const struct http_server *srv = arg;
    struct buf *b = &resp->body;
    int rc;

    (void)req;
    http_response_set_type(resp, HTTP_TYPE_HTML);
    rc = buf_puts(b,
                  "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                  "<title>deskdb</title></head>\n<body><h1>deskdb</h1>\n"
                  "<p>PostgreSQL pool, exporter and job scheduler.</p>\n"
                  "<ul>\n");
    for (size_t i = 0; rc == DESKDB_OK && i < srv->n_routes; i++) {
        const char *path = srv->routes[i].path;

        if (strcmp(path, "/") == 0)
            continue;
        rc = buf_puts(b, "<li><a href=\"");
        if (rc == DESKDB_OK)
            rc = put_escaped(b, path);
        if (rc == DESKDB_OK)
            rc = buf_puts(b, "\">");
        if (rc == DESKDB_OK)
            rc = put_escaped(b, path);
        if (rc == DESKDB_OK)
            rc = buf_puts(b, "</a></li>\n");
    }
    if (rc == DESKDB_OK)
        rc = buf_puts(b, "</ul>\n</body></html>\n");
    if (rc != DESKDB_OK)
        http_response_text(resp, 500, "internal server error");
}

static void
handle_healthy(void *arg,
               const struct http_request *req,
               struct http_response *resp)
{
    (void)arg;
    (void)req;
    http_response_text(resp, 200, "OK");
}

static void
handle_ready(void *arg,
             const struct http_request *req,
             struct http_response *resp)
{
    const struct http_server *srv = arg;

    (void)req;
    if (srv->ready_fn == NULL || srv->ready_fn(srv->ready_arg))
        http_response_text(resp, 200, "OK");
    else
        http_response_text(resp, 503, "not ready");
}

/* ---- setup -------------------------------------------------------------- */

int
http_server_route(struct http_server *srv,
                  const char *path,
                  unsigned flags,
                  http_handler_fn handler,
                  void *arg)
{
    struct http_route *r;

    if (srv->state != HTTP_CREATED || path == NULL || path[0] != '/' ||
        handler == NULL || http_find_route(srv, path) != NULL ||
        srv->n_routes == HTTP_MAX_ROUTES ||
        (flags != HTTP_ROUTE_PUBLIC && flags != HTTP_ROUTE_AUTH &&
         flags != HTTP_ROUTE_METRICS))
        return DESKDB_EINVAL;
    r = &srv->routes[srv->n_routes];
    memset(r, 0, sizeof(*r));
    r->path = strdup(path);
    if (r->path == NULL)
        return DESKDB_ENOMEM;
    r->flags = flags;
    r->fn = handler;
    r->arg = arg;
    route_metrics(srv, r);
    srv->n_routes++;
    return DESKDB_OK;
}

void
http_server_set_ready(struct http_server *srv, http_ready_fn fn, void *arg)
{
    if (srv->state != HTTP_CREATED)
        return;
    srv->ready_fn = fn;
    srv->ready_arg = arg;
}

/* Read a PEM file whole, NUL-terminated (libmicrohttpd wants C strings).
 * Sized up front so that no stray copy of a key is left by realloc(). */
static char *
read_pem(const char *key, const char *path, size_t *len, struct deskdb_err *err)
{
    const char *why = NULL;
    struct stat st;
    char *data = NULL;
    size_t got = 0;
    ssize_t n = 1;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        why = strerror(errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size == 0 ||
        st.st_size > HTTP_TLS_FILE_MAX) {
        why = "not a regular file of 1 byte to 1 MiB";
        goto out;
    }
    data = malloc((size_t)st.st_size + 1);
    if (data == NULL) {
        why = "out of memory";
        goto out;
    }
    while (got < (size_t)st.st_size &&
           (n = read(fd, data + got, (size_t)st.st_size - got)) > 0)
        got += (size_t)n;
    if (n < 0)
        why = strerror(errno);
    else if (got != (size_t)st.st_size)
        why = "file changed while being read";
out:
    if (fd >= 0)
        close(fd);
    if (why != NULL) {
        err_set(err, DESKDB_EINVAL, "%s %s: %s", key, path, why);
        if (data != NULL)
            explicit_bzero(data, got);
        free(data);
        return NULL;
    }
    data[got] = '\0';
    *len = got;
    return data;
}

static int
load_tls(struct http_server *srv,
         const struct config_http *cfg,
         struct deskdb_err *err)
{
    size_t len = 0;
    struct stat st;

    if (cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL)
        return DESKDB_OK;
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL)
        return err_set(err,
                       DESKDB_EINVAL,
                       "http.tls needs both cert_file and key_file");
    if (!http_tls_supported())
        return err_set(err,
                       DESKDB_EINVAL,
                       "http.tls: libmicrohttpd was built without TLS");
    srv->tls_cert =
        read_pem("http.tls.cert_file", cfg->tls_cert_file, &len, err);
    if (srv->tls_cert == NULL)
        return DESKDB_EINVAL;
    srv->tls_key = read_pem("http.tls.key_file",
                            cfg->tls_key_file,
                            &srv->tls_key_len,
                            err);
    if (srv->tls_key == NULL)
        return DESKDB_EINVAL;
    if (stat(cfg->tls_key_file, &st) == 0 && (st.st_mode & 077) != 0)
        log_warn("http",
                 "TLS key file is readable by group or others",
                 "file",
                 cfg->tls_key_file);
    return DESKDB_OK;
}

/* The refusal rule: exposing the endpoints beyond this host needs
 * credentials, or an explicit allow_unauthenticated. */
static int
check_exposure(const struct http_server *srv,
               const struct auth *a,
               const struct config_http *cfg,
               struct deskdb_err *err)
{
    if (auth_enabled(a) || cfg->allow_unauthenticated)
        return DESKDB_OK;
    for (size_t i = 0; i < srv->n_listeners; i++)
        if (!srv->listeners[i].loopback)
            return err_set(err,
                           DESKDB_EINVAL,
                           "http.listen %s is not a loopback address and "
                           "http.auth has no credentials; configure "
                           "http.auth or set http.allow_unauthenticated: true",
                           srv->listeners[i].text);
    return DESKDB_OK;
}

static int
check_limits(const struct config_http *cfg, struct deskdb_err *err)
{
    if (cfg->n_listen == 0)
        return err_set(err, DESKDB_EINVAL, "http.listen is empty");
    if (cfg->max_connections < 1 || cfg->max_connections > 65536)
        return err_set(err,
                       DESKDB_EINVAL,
                       "http.max_connections must be 1-65536");
    if (cfg->request_timeout_ms < 1 || cfg->request_timeout_ms > 3600000)
        return err_set(err,
                       DESKDB_EINVAL,
                       "http.request_timeout must be 1ms-1h");
    if (cfg->connection_memory_limit < 4096 ||
        cfg->connection_memory_limit > (64 << 20))
        return err_set(err,
                       DESKDB_EINVAL,
                       "http.connection_memory_limit must be 4 KiB-64 MiB");
    return DESKDB_OK;
}

static int
setup(struct http_server *srv,
      const struct config_http *cfg,
      struct deskdb_err *err)
{
    int rc = check_limits(cfg, err);

    if (rc != DESKDB_OK)
        return rc;
    srv->timeout_s = (unsigned)((cfg->request_timeout_ms + 999) / 1000);
    srv->drain_ms = cfg->request_timeout_ms;
    srv->max_connections = (unsigned)cfg->max_connections;
    srv->memory_limit = (size_t)cfg->connection_memory_limit;
    srv->listeners = calloc(cfg->n_listen, sizeof(*srv->listeners));
    srv->routes = calloc(HTTP_MAX_ROUTES, sizeof(*srv->routes));
    srv->other.path = strdup("other");
    if (srv->listeners == NULL || srv->routes == NULL ||
        srv->other.path == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    route_metrics(srv, &srv->other);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        rc = http_listener_parse(&cfg->listen[i], &srv->listeners[i], err);
        srv->n_listeners++;
        if (rc != DESKDB_OK)
            return rc;
    }
    rc = load_tls(srv, cfg, err);
    if (rc != DESKDB_OK)
        return rc;
    srv->auth = auth_create(cfg, err);
    if (srv->auth == NULL)
        return err->code != 0 ? err->code : DESKDB_EINVAL;
    rc = check_exposure(srv, srv->auth, cfg, err);
    if (rc != DESKDB_OK)
        return rc;
    if (http_server_route(srv, "/", HTTP_ROUTE_PUBLIC, handle_landing, srv) !=
            DESKDB_OK ||
        http_server_route(srv,
                          "/-/healthy",
                          HTTP_ROUTE_PUBLIC,
                          handle_healthy,
                          srv) != DESKDB_OK ||
        http_server_route(srv,
                          "/-/ready",
                          HTTP_ROUTE_PUBLIC,
                          handle_ready,
                          srv) != DESKDB_OK)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    return DESKDB_OK;
}

struct http_server *
http_server_create(const struct config_http *cfg,
                   struct metrics *metrics,
                   struct deskdb_err *err)
{
    struct deskdb_err local;
    struct http_server *srv;

    if (err == NULL)
        err = &local;
    err_clear(err);
    srv = calloc(1, sizeof(*srv));
    if (srv == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&srv->auth_lock, NULL);
    pthread_mutex_init(&srv->msg_lock, NULL);
    atomic_init(&srv->in_flight, 0);
    register_metrics(srv, metrics);
    if (setup(srv, cfg, err) != DESKDB_OK) {
        http_server_destroy(srv);
        return NULL;
    }
    return srv;
}

int
http_server_update_auth(struct http_server *srv,
                        const struct config_http *cfg,
                        struct deskdb_err *err)
{
    struct auth *fresh = auth_create(cfg, err);
    struct auth *old;
    int rc;

    if (fresh == NULL)
        return err != NULL && err->code != 0 ? err->code : DESKDB_EINVAL;
    rc = check_exposure(srv, fresh, cfg, err);
    if (rc != DESKDB_OK) {
        auth_unref(fresh);
        return rc;
    }
    pthread_mutex_lock(&srv->auth_lock);
    old = srv->auth;
    srv->auth = fresh;
    pthread_mutex_unlock(&srv->auth_lock);
    /* Requests still checking against the old set hold their own
     * reference; the last one frees it. */
    auth_unref(old);
    log_info("http", "credentials reloaded");
    return DESKDB_OK;
}

void
http_server_destroy(struct http_server *srv)
{
    if (srv == NULL)
        return;
    http_server_stop(srv, srv->drain_ms);
    for (size_t i = 0; i < srv->n_listeners; i++)
        http_listener_fini(&srv->listeners[i]);
    free(srv->listeners);
    for (size_t i = 0; i < srv->n_routes; i++)
        free(srv->routes[i].path);
    free(srv->routes);
    free(srv->other.path);
    free(srv->tls_cert);
    if (srv->tls_key != NULL)
        explicit_bzero(srv->tls_key, srv->tls_key_len);
    free(srv->tls_key);
    auth_unref(srv->auth);
    pthread_mutex_destroy(&srv->auth_lock);
    pthread_mutex_destroy(&srv->msg_lock);
    free(srv);
}

/* SPDX-License-Identifier: MIT */
/* The HTTP server against real clients (libcurl, raw sockets) on 127.0.0.1:
 * routes, auth matrix, TLS versions, malformed input, slow and many clients.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/metrics.h"
#include "exporter/http.h"
#include "support/httptest.h"

#define PASSWORD "s3cret-pw"
#define HASH     "$2b$04$4F0XqsnczruoN5AxDLmDSuYYIAdyDY87ALKel1iqHP0b/Y3hAHgCW"
#define TOKEN    "tok-0123456789abcdef"

/* ---- fixture ------------------------------------------------------------ */

struct fixture {
    char listen_text[64];
    char token[64];
    char user[16];
    char hash[80];
    struct config_str listen;
    struct config_kv users[1];
    struct config_http cfg;
    struct metrics *metrics;
    struct http_server *srv;
    int port;
};

static atomic_bool ready_flag;
static atomic_int slow_entered;
static atomic_bool slow_release;

static bool
ready_cb(void *arg)
{
    (void)arg;
    return atomic_load(&ready_flag);
}

static void
handle_echo(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    const char *limit = http_request_query(req, "limit");
    const char *accept = http_request_header(req, "Accept");

    (void)arg;
    http_response_set_type(resp, HTTP_TYPE_JSON);
    if (buf_printf(&resp->body,
                   "{\"user\":\"%s\",\"limit\":\"%s\",\"accept\":\"%s\"}",
                   req->user != NULL ? req->user : "",
                   limit != NULL ? limit : "",
                   accept != NULL ? accept : "") != DESKDB_OK ||
        http_response_add_header(resp, "Vary", "Accept-Encoding") != DESKDB_OK)
        http_response_text(resp, 500, "echo failed");
}

static void
handle_slow(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    const struct timespec t = {.tv_nsec = 5 * 1000 * 1000};

    (void)arg;
    (void)req;
    atomic_fetch_add(&slow_entered, 1);
    /* Held until the test releases it (at most 10 s). */
    for (int i = 0; i < 2000 && !atomic_load(&slow_release); i++)
        nanosleep(&t, NULL);
    http_response_text(resp, 200, "slow");
}

static void
handle_static(void *arg,
              const struct http_request *req,
              struct http_response *resp)
{
    static const char text[] = "static body\n";

    (void)arg;
    (void)req;
    http_response_set_static(resp, text, sizeof(text) - 1);
}

static void
fixture_init(struct fixture *f, const char *listen)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->listen_text, sizeof(f->listen_text), "%s", listen);
    f->listen.value = f->listen_text;
    f->cfg.listen = &f->listen;
    f->cfg.n_listen = 1;
    f->cfg.max_connections = 64;
    f->cfg.request_timeout_ms = 5000;
    f->cfg.connection_memory_limit = 64 * 1024;
    snprintf(f->token, sizeof(f->token), "%s", TOKEN);
    snprintf(f->user, sizeof(f->user), "prom");
    snprintf(f->hash, sizeof(f->hash), "%s", HASH);
    f->users[0].key = f->user;
    f->users[0].value = f->hash;
}

static void
with_credentials(struct fixture *f)
{
    f->cfg.bearer_token = f->token;
    f->cfg.basic_users = f->users;
    f->cfg.n_basic_users = 1;
}

static void
fixture_start(struct fixture *f)
{
    struct deskdb_err err = {0};

    f->metrics = metrics_create();
    assert_non_null(f->metrics);
    f->srv = http_server_create(&f->cfg, f->metrics, &err);
    if (f->srv == NULL)
        fail_msg("http_server_create: %s", err.msg);
    assert_int_equal(http_server_port(f->srv, 0), -1);
    assert_int_equal(http_server_route(f->srv,
                                       "/api/echo",
                                       HTTP_ROUTE_AUTH,
                                       handle_echo,
                                       NULL),
                     DESKDB_OK);
    assert_int_equal(http_server_route(f->srv,
                                       "/metrics",
                                       HTTP_ROUTE_METRICS,
                                       handle_echo,
                                       NULL),
                     DESKDB_OK);
    assert_int_equal(http_server_route(f->srv,
                                       "/public",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_echo,
                                       NULL),
                     DESKDB_OK);
    assert_int_equal(http_server_route(f->srv,
                                       "/slow",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_slow,
                                       NULL),
                     DESKDB_OK);
    assert_int_equal(http_server_route(f->srv,
                                       "/static",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_static,
                                       NULL),
                     DESKDB_OK);
    /* Duplicates, relative paths and mixed flags are refused. */
    assert_int_equal(http_server_route(f->srv,
                                       "/metrics",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_echo,
                                       NULL),
                     DESKDB_EINVAL);
    assert_int_equal(
        http_server_route(f->srv, "x", HTTP_ROUTE_PUBLIC, handle_echo, NULL),
        DESKDB_EINVAL);
    assert_int_equal(http_server_route(f->srv,
                                       "/y",
                                       HTTP_ROUTE_AUTH | HTTP_ROUTE_PUBLIC,
                                       handle_echo,
                                       NULL),
                     DESKDB_EINVAL);
    http_server_set_ready(f->srv, ready_cb, NULL);
    if (http_server_start(f->srv, &err) != DESKDB_OK)
        fail_msg("http_server_start: %s", err.msg);
    f->port = http_server_port(f->srv, 0);
    assert_true(f->port > 0);
}

static void
fixture_fini(struct fixture *f)
{
    http_server_destroy(f->srv);
    metrics_destroy(f->metrics);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* A 4xx (or `also`, a status line prefix) or a closed connection. */
static void
assert_refused(const char *what, const char *answer, const char *also)
{
    if (answer[0] == '\0')
        return;
    if (strncmp(answer, "HTTP/1.1 4", 10) == 0 ||
        strncmp(answer, "HTTP/1.0 4", 10) == 0)
        return;
    if (also != NULL && strncmp(answer, also, strlen(also)) == 0)
        return;
    fail_msg("%s: expected 4xx or close, got: %.80s", what, answer);
}

/* ---- metrics ------------------------------------------------------------ */

/* The sample of family `name` whose first labels are `values` (n of them),
 * read from a snapshot: its value, or its count for a histogram; 0 when the
 * series does not exist yet. */
static double
sample_value(struct metrics *m,
             const char *name,
             const char *const *values,
             size_t n)
{
    struct metrics_snapshot *snap = metrics_snapshot_create(m, NULL, NULL);
    const struct metrics_snapshot_family *f;
    double v = 0;

    assert_non_null(snap);
    f = metrics_snapshot_find(snap, name);
    assert_non_null(f);
    for (size_t i = 0; i < f->n_samples; i++) {
        const struct metrics_sample *smp = &f->samples[i];
        size_t k = 0;

        while (k < n && strcmp(smp->label_values[k], values[k]) == 0)
            k++;
        if (k == n)
            v = f->type == METRIC_HISTOGRAM ? (double)smp->count : smp->value;
    }
    metrics_snapshot_destroy(snap);
    return v;
}

static double
requests_total(struct metrics *m, const char *handler, const char *code)
{
    const char *values[] = {handler, code};

    return sample_value(m, "deskdb_http_requests_total", values, 2);
}

static double
auth_failures(struct metrics *m, const char *reason)
{
    const char *values[] = {reason};

    return sample_value(m, "deskdb_http_auth_failures_total", values, 1);
}

static double
duration_count(struct metrics *m, const char *handler)
{
    const char *values[] = {handler};

    return sample_value(m, "deskdb_http_request_duration_seconds", values, 1);
}

/* Completion is reported just after the reply is sent: poll briefly. */
static void
wait_counter(struct metrics *m,
             const char *handler,
             const char *code,
             double want)
{
    const struct timespec t = {.tv_nsec = 10 * 1000 * 1000};

    for (int i = 0; i < 500 && requests_total(m, handler, code) < want; i++)
        nanosleep(&t, NULL);
    assert_true(requests_total(m, handler, code) >= want);
}

/* ---- tests -------------------------------------------------------------- */

static void
test_routes_and_methods(void **state)
{
    struct fixture f;
    struct test_reply r;
    char longpath[9000];

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    fixture_start(&f);

    test_http_do(f.port, &(struct test_request){.path = "/"}, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_reply_has_header(&r, "Content-Type: text/html"));
    assert_non_null(strstr(r.body.data, "<a href=\"/metrics\">"));
    assert_non_null(strstr(r.body.data, "<a href=\"/api/echo\">"));
    test_reply_fini(&r);

    test_http_do(f.port, &(struct test_request){.path = "/-/healthy"}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "OK\n");
    assert_true(test_reply_has_header(&r, "X-Content-Type-Options: nosniff"));
    test_reply_fini(&r);

    atomic_store(&ready_flag, false);
    assert_int_equal(test_http_get(f.port, "/-/ready"), 503);
    atomic_store(&ready_flag, true);
    assert_int_equal(test_http_get(f.port, "/-/ready"), 200);

    /* Exact paths only: no prefixes, no normalisation, no NUL tricks. */
    assert_int_equal(test_http_get(f.port, "/nope"), 404);
    assert_int_equal(test_http_get(f.port, "/-/healthy/"), 404);
    assert_int_equal(test_http_get(f.port, "/api/../metrics"), 404);
    assert_int_equal(test_http_get(f.port, "/-/healthy%00.html"), 400);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(test_http_get(f.port, longpath), 414);

    test_http_do(f.port,
                 &(struct test_request){.method = "POST",
                                        .path = "/-/healthy",
                                        .body = "x=1"},
                 &r);
    assert_int_equal(r.status, 405);
    assert_true(test_reply_has_header(&r, "Allow: GET, HEAD"));
    test_reply_fini(&r);
    assert_int_equal(
        test_http_status(
            f.port,
            &(struct test_request){.method = "DELETE", .path = "/metrics"}),
        405);

    /* A body on GET is refused without being read. */
    assert_int_equal(
        test_http_status(f.port,
                         &(struct test_request){.method = "GET",
                                                .path = "/-/healthy",
                                                .body = "surprise"}),
        400);

    /* HEAD: same headers, no body. */
    test_http_do(f.port,
                 &(struct test_request){.method = "HEAD", .path = "/-/healthy"},
                 &r);
    assert_int_equal(r.status, 200);
    assert_true(test_reply_has_header(&r, "Content-Length: 3"));
    assert_int_equal(r.body.len, 0);
    test_reply_fini(&r);

    /* Query and header accessors, extra headers, borrowed bodies. */
    test_http_do(f.port,
                 &(struct test_request){.path = "/public?limit=5&x=y",
                                        .header = "Accept: text/plain"},
                 &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data,
                        "{\"user\":\"\",\"limit\":\"5\",\"accept\":"
                        "\"text/plain\"}");
    assert_true(test_reply_has_header(&r, "Vary: Accept-Encoding"));
    assert_true(test_reply_has_header(&r, "Content-Type: application/json"));
    test_reply_fini(&r);
    test_http_do(f.port, &(struct test_request){.path = "/static"}, &r);
    assert_string_equal(r.body.data, "static body\n");
    test_reply_fini(&r);

    wait_counter(f.metrics, "/-/healthy", "200", 1);
    wait_counter(f.metrics, "/-/ready", "503", 1);
    wait_counter(f.metrics, "other", "404", 2);
    wait_counter(f.metrics, "/-/healthy", "405", 1);
    wait_counter(f.metrics, "/-/healthy", "400", 2);
    assert_true(duration_count(f.metrics, "/-/healthy") >= 2);
    fixture_fini(&f);
}

static void
test_auth_matrix(void **state)
{
    struct fixture f;
    struct deskdb_err err = {0};
    struct test_reply r;
    const char *routes[] = {"/api/echo", "/metrics"};

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    with_credentials(&f);
    fixture_start(&f);

    for (int protect = 0; protect <= 1; protect++) {
        f.cfg.protect_metrics = protect;
        assert_int_equal(http_server_update_auth(f.srv, &f.cfg, &err),
                         DESKDB_OK);
        for (size_t i = 0; i < 2; i++) {
            const char *p = routes[i];
            bool needs = i == 0 || protect;
            long denied = needs ? 401 : 200;

            test_http_do(f.port, &(struct test_request){.path = p}, &r);
            assert_int_equal(r.status, denied);
            if (needs) {
                assert_true(test_reply_has_header(&r,
                                                  "WWW-Authenticate: Basic "
                                                  "realm=\"deskdb\""));
                assert_true(test_reply_has_header(&r,
                                                  "WWW-Authenticate: Bearer "
                                                  "realm=\"deskdb\""));
                assert_string_equal(r.body.data, "unauthorized\n");
            }
            test_reply_fini(&r);
            assert_int_equal(
                test_http_status(
                    f.port,
                    &(struct test_request){.path = p,
                                           .header = "Authorization: Bearer "
                                                     "wrong-token"}),
                denied);
            assert_int_equal(
                test_http_status(
                    f.port,
                    &(struct test_request){.path = p, .userpwd = "prom:nope"}),
                denied);
            assert_int_equal(
                test_http_status(
                    f.port,
                    &(struct test_request){.path = p,
                                           .userpwd = "nobody:" PASSWORD}),
                denied);
            test_http_do(f.port,
                         &(struct test_request){
                             .path = p,
                             .header = "Authorization: Bearer " TOKEN},
                         &r);
            assert_int_equal(r.status, 200);
            if (needs)
                assert_non_null(strstr(r.body.data, "\"user\":\"token\""));
            test_reply_fini(&r);
            test_http_do(
                f.port,
                &(struct test_request){.path = p, .userpwd = "prom:" PASSWORD},
                &r);
            assert_int_equal(r.status, 200);
            if (needs)
                assert_non_null(strstr(r.body.data, "\"user\":\"prom\""));
            test_reply_fini(&r);
        }
    }
    /* Public routes never ask. */
    assert_int_equal(test_http_get(f.port, "/public"), 200);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    assert_true(auth_failures(f.metrics, "missing") >= 3);
    assert_true(auth_failures(f.metrics, "invalid_token") >= 3);
    assert_true(auth_failures(f.metrics, "invalid_basic") >= 6);

    /* Token only: the challenge names only Bearer. */
    f.cfg.n_basic_users = 0;
    assert_int_equal(http_server_update_auth(f.srv, &f.cfg, &err), DESKDB_OK);
    test_http_do(f.port, &(struct test_request){.path = "/api/echo"}, &r);
    assert_int_equal(r.status, 401);
    assert_true(
        test_reply_has_header(&r, "WWW-Authenticate: Bearer realm=\"deskdb\""));
    assert_false(test_reply_has_header(&r, "WWW-Authenticate: Basic"));
    test_reply_fini(&r);
    assert_int_equal(
        test_http_status(f.port,
                         &(struct test_request){.path = "/api/echo",
                                                .userpwd = "prom:" PASSWORD}),
        401);
    fixture_fini(&f);
}

static void
test_tls(void **state)
{
    char dir[] = "/tmp/deskdb-it-http-XXXXXX";
    char cmd[1024];
    char cert[128];
    char key[128];
    char other[128];
    struct deskdb_err err = {0};
    struct fixture f;
    struct test_reply r;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd,
             sizeof(cmd),
             "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes "
             "-subj /CN=localhost -days 1 -keyout %s -out %s "
             ">/dev/null 2>&1 && chmod 600 %s",
             key,
             cert,
             key);
    assert_int_equal(system(cmd), 0);
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.tls_cert_file = cert;
    f.cfg.tls_key_file = key;
    fixture_start(&f);

    test_http_do(f.port,
                 &(struct test_request){.path = "/-/healthy", .tls = true},
                 &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 200);
    test_reply_fini(&r);
    assert_int_equal(
        test_http_status(
            f.port,
            &(struct test_request){.path = "/-/healthy",
                                   .tls = true,
                                   .tls_version = CURL_SSLVERSION_TLSv1_2 |
                                                  CURL_SSLVERSION_MAX_TLSv1_2}),
        200);
    assert_int_equal(
        test_http_status(
            f.port,
            &(struct test_request){.path = "/-/healthy",
                                   .tls = true,
                                   .tls_version = CURL_SSLVERSION_TLSv1_3}),
        200);
    /* TLS 1.0/1.1 are refused by the server: the client is told to allow
     * them (OpenSSL's default security level would refuse them itself). */
    test_http_do(
        f.port,
        &(struct test_request){.path = "/-/healthy",
                               .tls = true,
                               .tls_version = CURL_SSLVERSION_TLSv1_0 |
                                              CURL_SSLVERSION_MAX_TLSv1_1,
                               .ciphers = "DEFAULT:@SECLEVEL=0"},
        &r);
    assert_int_not_equal(r.rc, CURLE_OK);
    assert_int_equal(r.status, 0);
    test_reply_fini(&r);
    /* Plain HTTP to the TLS port gets no HTTP answer. */
    assert_int_not_equal(test_http_get(f.port, "/-/healthy"), 200);
    /* Still serving. */
    assert_int_equal(
        test_http_status(f.port,
                         &(struct test_request){.path = "/", .tls = true}),
        200);
    fixture_fini(&f);

    /* A key that does not belong to the certificate fails the start with
     * libmicrohttpd's reason, and nothing is left listening. */
    snprintf(other, sizeof(other), "%s/other.pem", dir);
    snprintf(cmd,
             sizeof(cmd),
             "/usr/bin/openssl ecparam -genkey -name prime256v1 -noout "
             "-out %s >/dev/null 2>&1",
             other);
    assert_int_equal(system(cmd), 0);
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.tls_cert_file = cert;
    f.cfg.tls_key_file = other;
    f.srv = http_server_create(&f.cfg, NULL, &err);
    assert_non_null(f.srv);
    assert_int_equal(http_server_start(f.srv, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "cannot start server"));
    assert_non_null(strstr(err.msg, "do not match"));
    assert_int_equal(http_server_port(f.srv, 0), -1);
    http_server_destroy(f.srv);
    unlink(other);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void
test_malformed_requests(void **state)
{
    static const char *const cases[][3] = {
        {"garbage request line", "HELLO\r\n\r\n", NULL},
        {"binary junk", "\x01\x02\x03\xff\xfe\r\n\r\n", NULL},
        {"missing Host on HTTP/1.1", "GET /-/healthy HTTP/1.1\r\n\r\n", NULL},
        {"header without colon",
         "GET /-/healthy HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
         NULL},
        {"bad version",
         "GET /-/healthy HTTP/9.9\r\nHost: x\r\n\r\n",
         "HTTP/1.1 505"},
        {"space in target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", NULL},
        {"conflicting body",
         "GET /-/healthy HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
         "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         NULL},
    };
    struct fixture f;
    char answer[4096];
    char *big;
    size_t n;

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    fixture_start(&f);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_raw_exchange(f.port,
                          cases[i][1],
                          strlen(cases[i][1]),
                          answer,
                          sizeof(answer));
        assert_refused(cases[i][0], answer, cases[i][2]);
        assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    }

    /* A 100 KB header line is over the 64 KiB connection memory limit. */
    n = 100 * 1024;
    big = malloc(n + 128);
    assert_non_null(big);
    strcpy(big, "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(big + strlen(big), 'a', n);
    strcpy(big + strlen("GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: ") + n,
           "\r\n\r\n");
    test_raw_exchange(f.port, big, strlen(big), answer, sizeof(answer));
    assert_refused("100 KB header", answer, NULL);
    free(big);

    /* A well-formed raw request still works, and keeps the connection. */
    test_raw_exchange(
        f.port,
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close"
        "\r\n\r\n",
        strlen("GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: "
               "close\r\n\r\n"),
        answer,
        sizeof(answer));
    assert_true(strncmp(answer, "HTTP/1.1 200", 12) == 0);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);
}

static void
test_slow_client_is_dropped(void **state)
{
    static const char partial[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n";
    struct fixture f;
    char answer[512];
    int fd;

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.request_timeout_ms = 1000;
    fixture_start(&f);
    fd = test_raw_connect(f.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(partial) - 1));
    /* Others are served while the slow client dawdles. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    /* And it is dropped after the request timeout (bounded wait). */
    assert_true(test_raw_read(fd, answer, sizeof(answer), 15000) >= 0);
    close(fd);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);
}

static void
test_many_concurrent_clients(void **state)
{
    enum { N = 200 };
    struct fixture f;
    CURLM *multi = curl_multi_init();
    CURL *easy[N];
    char url[64];
    int running = 0;
    int ok = 0;
    int refused = 0;
    CURLMsg *msg;
    int left;

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.max_connections = 16; /* the rest queue in the listen backlog */
    fixture_start(&f);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/healthy", f.port);
    assert_non_null(multi);
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    for (int i = 0; i < N; i++) {
        easy[i] = curl_easy_init();
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
        curl_multi_add_handle(multi, easy[i]);
    }
    do {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running > 0);
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        long status = 0;

        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (msg->data.result == CURLE_OK && status == 200)
            ok++;
        else if (msg->data.result != CURLE_OK)
            refused++; /* a clean transport error, never a wrong answer */
        else
            fail_msg("unexpected status %ld", status);
    }
    for (int i = 0; i < N; i++) {
        curl_multi_remove_handle(multi, easy[i]);
        curl_easy_cleanup(easy[i]);
    }
    curl_multi_cleanup(multi);
    assert_int_equal(ok + refused, N);
    assert_true(ok > 0);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);
}

/* Over max_connections, new connections wait in the listen backlog (no
 * refusal in libmicrohttpd 0.9.75) and are served once slots free up. */
static void
test_connection_limit(void **state)
{
    enum { LIMIT = 8 };
    static const char req[] =
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const struct timespec t = {.tv_nsec = 50 * 1000 * 1000};
    struct fixture f;
    int held[LIMIT];
    char answer[1024];
    int fd;

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.max_connections = LIMIT;
    f.cfg.request_timeout_ms = 30000;
    fixture_start(&f);
    for (int i = 0; i < LIMIT; i++) {
        held[i] = test_raw_connect(f.port);
        assert_true(held[i] >= 0);
    }
    nanosleep(&t, NULL); /* let the server accept all of them */
    fd = test_raw_connect(f.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(req) - 1));
    /* Every slot is taken by an idle connection: no answer yet. */
    assert_int_equal(test_raw_read(fd, answer, sizeof(answer), 500), -2);
    for (int i = 0; i < LIMIT; i++)
        close(held[i]);
    /* Slots free up: the waiting request is answered. */
    assert_true(test_raw_read(fd, answer, sizeof(answer), 10000) > 0);
    assert_true(strncmp(answer, "HTTP/1.1 200", 12) == 0);
    close(fd);
    for (int i = 0; i < 10; i++)
        assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);
}

static void
test_non_loopback_needs_credentials(void **state)
{
    struct fixture f;
    struct deskdb_err err = {0};
    struct http_server *srv;

    (void)state;
    fixture_init(&f, "0.0.0.0:0");
    srv = http_server_create(&f.cfg, NULL, &err);
    assert_null(srv);
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "0.0.0.0:0 is not a loopback address"));
    assert_non_null(strstr(err.msg, "allow_unauthenticated"));

    fixture_init(&f, ":0");
    assert_null(http_server_create(&f.cfg, NULL, &err));

    /* Explicitly allowed: starts, and answers on 127.0.0.1. */
    fixture_init(&f, "0.0.0.0:0");
    f.cfg.allow_unauthenticated = true;
    fixture_start(&f);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);

    /* With credentials it starts; removing them on reload is refused and
     * the old credentials stay in force. */
    fixture_init(&f, "0.0.0.0:0");
    with_credentials(&f);
    fixture_start(&f);
    f.cfg.bearer_token = NULL;
    f.cfg.n_basic_users = 0;
    assert_int_equal(http_server_update_auth(f.srv, &f.cfg, &err),
                     DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "not a loopback address"));
    assert_int_equal(test_http_get(f.port, "/api/echo"), 401);
    assert_int_equal(
        test_http_status(
            f.port,
            &(struct test_request){.path = "/api/echo",
                                   .header = "Authorization: Bearer " TOKEN}),
        200);
    fixture_fini(&f);
}

static void
expect_create_error(struct fixture *f, const char *needle)
{
    struct deskdb_err err = {0};
    struct http_server *srv = http_server_create(&f->cfg, NULL, &err);

    if (srv != NULL)
        fail_msg("expected an error containing \"%s\"", needle);
    assert_int_equal(err.code, DESKDB_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void
test_bad_configuration(void **state)
{
    char missing_cert[] = "/nonexistent/cert.pem";
    char missing_key[] = "/nonexistent/key.pem";
    static const char *const bad_listen[] = {
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:99999",
        "127.0.0.1:-1",
        "::1:9187",
        "[::1",
        "[]:80",
        "",
        "127.0.0.1:8x0",
        "no.such.host.invalid:80",
    };
    struct fixture f;
    struct fixture g;
    struct deskdb_err err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
        fixture_init(&f, bad_listen[i]);
        expect_create_error(&f, "http.listen");
    }
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.tls_cert_file = missing_cert;
    f.cfg.tls_key_file = missing_key;
    expect_create_error(&f, "http.tls.cert_file /nonexistent/cert.pem");
    f.cfg.tls_key_file = NULL;
    expect_create_error(&f, "needs both cert_file and key_file");
    fixture_init(&f, "127.0.0.1:0");
    f.cfg.request_timeout_ms = 0;
    expect_create_error(&f, "http.request_timeout");
    fixture_init(&f, "127.0.0.1:0");
    f.users[0].value = f.listen_text; /* not a bcrypt hash */
    f.cfg.basic_users = f.users;
    f.cfg.n_basic_users = 1;
    expect_create_error(&f, "http.auth.basic_users.prom");

    /* A port already in use fails at start with the address and reason. */
    fixture_init(&f, "127.0.0.1:0");
    fixture_start(&f);
    fixture_init(&g, "127.0.0.1:0");
    snprintf(g.listen_text, sizeof(g.listen_text), "127.0.0.1:%d", f.port);
    g.srv = http_server_create(&g.cfg, NULL, &err);
    assert_non_null(g.srv);
    assert_int_equal(http_server_start(g.srv, &err), DESKDB_EIO);
    assert_non_null(strstr(err.msg, "Address already in use"));
    assert_non_null(strstr(err.msg, g.listen_text));
    http_server_destroy(g.srv);
    assert_int_equal(test_http_get(f.port, "/-/healthy"), 200);
    fixture_fini(&f);
}

struct slow_call {
    struct fixture *f;
    _Atomic long status;
};

static void *
slow_thread(void *arg)
{
    struct slow_call *c = arg;

    atomic_store(&c->status, test_http_get(c->f->port, "/slow"));
    return NULL;
}

static void *
stop_thread(void *arg)
{
    struct slow_call *c = arg;

    http_server_stop(c->f->srv, 10000);
    return NULL;
}

static void
test_graceful_stop(void **state)
{
    const struct timespec t = {.tv_nsec = 5 * 1000 * 1000};
    struct fixture f;
    struct slow_call call;
    pthread_t slow;
    pthread_t stopper;
    int fd = 0;

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    fixture_start(&f);
    call.f = &f;
    atomic_init(&call.status, 0);
    atomic_store(&slow_entered, 0);
    atomic_store(&slow_release, false);
    assert_int_equal(pthread_create(&slow, NULL, slow_thread, &call), 0);
    while (atomic_load(&slow_entered) == 0)
        nanosleep(&t, NULL);
    assert_int_equal(pthread_create(&stopper, NULL, stop_thread, &call), 0);
    /* While the request drains, new connections are refused. */
    for (int i = 0; i < 1000 && fd >= 0; i++) {
        fd = test_raw_connect(f.port);
        if (fd >= 0) {
            close(fd);
            nanosleep(&t, NULL);
        }
    }
    assert_int_equal(fd, -1);
    assert_int_equal(atomic_load(&call.status), 0); /* still in flight */
    atomic_store(&slow_release, true);
    pthread_join(stopper, NULL);
    pthread_join(slow, NULL);
    assert_int_equal(atomic_load(&call.status), 200);
    assert_int_equal(http_server_port(f.srv, 0), -1);
    http_server_stop(f.srv, 0); /* idempotent */
    fixture_fini(&f);
}

struct load {
    int port;
    atomic_int failures;
};

static void *
load_thread(void *arg)
{
    struct load *l = arg;
    const struct test_request rq = {.path = "/api/echo",
                                    .header = "Authorization: Bearer " TOKEN};

    for (int i = 0; i < 100; i++)
        if (test_http_status(l->port, &rq) != 200)
            atomic_fetch_add(&l->failures, 1);
    return NULL;
}

/* Credentials swapped on reload while requests use them. */
static void
test_reload_under_load(void **state)
{
    const struct timespec t = {.tv_nsec = 2 * 1000 * 1000};
    struct fixture f;
    struct deskdb_err err = {0};
    struct load l;
    pthread_t th[2];

    (void)state;
    fixture_init(&f, "127.0.0.1:0");
    with_credentials(&f);
    fixture_start(&f);
    l.port = f.port;
    atomic_init(&l.failures, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_thread, &l), 0);
    for (int i = 0; i < 50; i++) {
        f.cfg.protect_metrics = i % 2;
        f.cfg.n_basic_users = (size_t)(i % 2);
        assert_int_equal(http_server_update_auth(f.srv, &f.cfg, &err),
                         DESKDB_OK);
        nanosleep(&t, NULL);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&l.failures), 0);
    fixture_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes_and_methods),
        cmocka_unit_test(test_auth_matrix),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_slow_client_is_dropped),
        cmocka_unit_test(test_many_concurrent_clients),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_non_loopback_needs_credentials),
        cmocka_unit_test(test_bad_configuration),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_reload_under_load),
    };

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

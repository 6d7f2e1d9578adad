/* SPDX-License-Identifier: MIT */
/* The HTTP server against libcurl on 127.0.0.1: routes, methods, metrics,
 * the auth matrix, TLS versions, exposure rules, bad config and reloads.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/metrics.h"
#include "exporter/http.h"
#include "support/httpserver.h"
#include "support/httptest.h"

#define BEARER "Authorization: Bearer " TEST_HTTP_TOKEN
#define RIGHT  TEST_HTTP_USER ":" TEST_HTTP_PASSWORD

/* ---- metrics ------------------------------------------------------------ */

/* The sample of family `name` whose first labels are `values` (n of them),
 * from a snapshot: its value, or its count for a histogram; 0 if absent. */
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

/* Completion is counted just after the reply is sent: poll briefly. */
static void
wait_counter(struct metrics *m,
             const char *handler,
             const char *code,
             double want)
{
    const struct timespec t = {.tv_nsec = 10 * 1000 * 1000};

    for (int i = 0; i < 500 && requests_total(m, handler, code) < want; i++)
        nanosleep(&t, NULL);
    if (requests_total(m, handler, code) < want)
        fail_msg("requests_total{%s,%s} < %g", handler, code, want);
}

static long
status_with(int port, const char *path, const char *header, const char *pw)
{
    const struct test_request rq = {.path = path,
                                    .header = header,
                                    .userpwd = pw};

    return test_http_status(port, &rq);
}

/* ---- routes and methods ------------------------------------------------- */

static void
handle_noop(void *arg,
            const struct http_request *req,
            struct http_response *resp)
{
    (void)arg;
    (void)req;
    (void)resp;
}

static void
test_route_registration(void **state)
{
    struct test_http_server t;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_create(&t);
    assert_int_equal(http_server_port(t.srv, 0), -1);
    /* Duplicates, relative paths and mixed flags are refused. */
    assert_int_equal(http_server_route(t.srv,
                                       "/metrics",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_noop,
                                       NULL),
                     DESKDB_EINVAL);
    assert_int_equal(http_server_route(t.srv,
                                       "/-/ready",
                                       HTTP_ROUTE_PUBLIC,
                                       handle_noop,
                                       NULL),
                     DESKDB_EINVAL);
    assert_int_equal(
        http_server_route(t.srv, "x", HTTP_ROUTE_PUBLIC, handle_noop, NULL),
        DESKDB_EINVAL);
    assert_int_equal(http_server_route(t.srv,
                                       "/y",
                                       HTTP_ROUTE_AUTH | HTTP_ROUTE_PUBLIC,
                                       handle_noop,
                                       NULL),
                     DESKDB_EINVAL);
    assert_int_equal(
        http_server_route(t.srv, "/z", HTTP_ROUTE_PUBLIC, NULL, NULL),
        DESKDB_EINVAL);
    assert_int_equal(
        http_server_route(t.srv, "/new", HTTP_ROUTE_METRICS, handle_noop, NULL),
        DESKDB_OK);
    assert_int_equal(http_server_listener_count(t.srv), 1);
    test_http_server_fini(&t);
}

static void
test_builtin_routes(void **state)
{
    struct test_http_server t;
    struct test_reply r;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    test_http_do(t.port, &(struct test_request){.path = "/"}, &r);
    assert_int_equal(r.status, 200);
    assert_true(test_reply_has_header(&r, "Content-Type: text/html"));
    assert_non_null(strstr(r.body.data, "<a href=\"/metrics\">"));
    assert_non_null(strstr(r.body.data, "<a href=\"/api/echo\">"));
    test_reply_fini(&r);

    test_http_do(t.port, &(struct test_request){.path = "/-/healthy"}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body.data, "OK\n");
    assert_true(test_reply_has_header(&r, "X-Content-Type-Options: nosniff"));
    assert_true(test_reply_has_header(&r, "Cache-Control: no-store"));
    assert_true(
        test_reply_has_header(&r,
                              "Content-Security-Policy: default-src 'none'"));
    test_reply_fini(&r);

    atomic_store(&test_http_ready, false);
    assert_int_equal(test_http_get(t.port, "/-/ready"), 503);
    atomic_store(&test_http_ready, true);
    assert_int_equal(test_http_get(t.port, "/-/ready"), 200);
    wait_counter(t.metrics, "/-/ready", "503", 1);
    wait_counter(t.metrics, "/-/ready", "200", 1);
    test_http_server_fini(&t);
}

static void
test_paths_and_methods(void **state)
{
    struct test_http_server t;
    struct test_reply r;
    char longpath[9000];

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    /* Exact paths only: no prefixes, no normalisation, no NUL tricks. */
    assert_int_equal(test_http_get(t.port, "/nope"), 404);
    assert_int_equal(test_http_get(t.port, "/-/healthy/"), 404);
    assert_int_equal(test_http_get(t.port, "/api/../metrics"), 404);
    assert_int_equal(test_http_get(t.port, "/-/healthy%00.html"), 400);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(test_http_get(t.port, longpath), 414);

    test_http_do(t.port,
                 &(struct test_request){.method = "POST",
                                        .path = "/-/healthy",
                                        .body = "x=1"},
                 &r);
    assert_int_equal(r.status, 405);
    assert_true(test_reply_has_header(&r, "Allow: GET, HEAD"));
    test_reply_fini(&r);
    assert_int_equal(
        test_http_status(
            t.port,
            &(struct test_request){.method = "DELETE", .path = "/metrics"}),
        405);
    /* A body on GET is refused without being read. */
    assert_int_equal(
        test_http_status(t.port,
                         &(struct test_request){.method = "GET",
                                                .path = "/-/healthy",
                                                .body = "surprise"}),
        400);
    /* HEAD: same headers, no body. */
    test_http_do(t.port,
                 &(struct test_request){.method = "HEAD", .path = "/-/healthy"},
                 &r);
    assert_int_equal(r.status, 200);
    assert_true(test_reply_has_header(&r, "Content-Length: 3"));
    assert_int_equal(r.body.len, 0);
    test_reply_fini(&r);

    wait_counter(t.metrics, "other", "404", 3);
    wait_counter(t.metrics, "/-/healthy", "405", 1);
    wait_counter(t.metrics, "/-/healthy", "400", 2);
    wait_counter(t.metrics, "/-/healthy", "200", 1);
    test_http_server_fini(&t);
}

static void
test_handler_api(void **state)
{
    const char *handler[] = {"/public"};
    struct test_http_server t;
    struct test_reply r;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    /* Query and header accessors, extra headers, borrowed bodies. */
    test_http_do(t.port,
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
    test_http_do(t.port, &(struct test_request){.path = "/static"}, &r);
    assert_string_equal(r.body.data, "static body\n");
    test_reply_fini(&r);

    wait_counter(t.metrics, "/public", "200", 1);
    wait_counter(t.metrics, "/static", "200", 1);
    assert_true(sample_value(t.metrics,
                             "deskdb_http_request_duration_seconds",
                             handler,
                             1) >= 1);
    assert_true(
        sample_value(t.metrics, "deskdb_http_requests_in_flight", NULL, 0) ==
        0);
    test_http_server_fini(&t);
}

/* ---- authentication ----------------------------------------------------- */

static void
check_route_auth(const struct test_http_server *t, const char *path, bool needs)
{
    long denied = needs ? 401 : 200;
    struct test_reply r;

    test_http_do(t->port, &(struct test_request){.path = path}, &r);
    assert_int_equal(r.status, denied);
    if (needs) {
        assert_true(
            test_reply_has_header(&r,
                                  "WWW-Authenticate: Basic realm=\"deskdb\""));
        assert_true(
            test_reply_has_header(&r,
                                  "WWW-Authenticate: Bearer realm=\"deskdb\""));
        assert_string_equal(r.body.data, "unauthorized\n");
    }
    test_reply_fini(&r);
    assert_int_equal(
        status_with(t->port, path, "Authorization: Bearer wrong", NULL),
        denied);
    assert_int_equal(status_with(t->port, path, NULL, "prom:nope"), denied);
    assert_int_equal(
        status_with(t->port, path, NULL, "nobody:" TEST_HTTP_PASSWORD),
        denied);

    test_http_do(t->port,
                 &(struct test_request){.path = path, .header = BEARER},
                 &r);
    assert_int_equal(r.status, 200);
    if (needs)
        assert_non_null(strstr(r.body.data, "\"user\":\"token\""));
    test_reply_fini(&r);
    test_http_do(t->port,
                 &(struct test_request){.path = path, .userpwd = RIGHT},
                 &r);
    assert_int_equal(r.status, 200);
    if (needs)
        assert_non_null(strstr(r.body.data, "\"user\":\"prom\""));
    test_reply_fini(&r);
}

static void
test_auth_matrix(void **state)
{
    struct test_http_server t;
    struct deskdb_err err = {0};

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_credentials(&t);
    test_http_server_start(&t);
    for (int protect = 0; protect <= 1; protect++) {
        t.cfg.protect_metrics = protect;
        assert_int_equal(http_server_update_auth(t.srv, &t.cfg, &err),
                         DESKDB_OK);
        check_route_auth(&t, "/api/echo", true);
        check_route_auth(&t, "/metrics", protect);
    }
    /* Public routes never ask. */
    assert_int_equal(test_http_get(t.port, "/public"), 200);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    assert_true(auth_failures(t.metrics, "missing") >= 3);
    assert_true(auth_failures(t.metrics, "invalid_token") >= 3);
    assert_true(auth_failures(t.metrics, "invalid_basic") >= 6);
    wait_counter(t.metrics, "/api/echo", "401", 8);
    wait_counter(t.metrics, "/metrics", "401", 4);
    test_http_server_fini(&t);
}

static void
test_token_only_challenge(void **state)
{
    struct test_http_server t;
    struct test_reply r;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_credentials(&t);
    t.cfg.n_basic_users = 0;
    test_http_server_start(&t);
    test_http_do(t.port, &(struct test_request){.path = "/api/echo"}, &r);
    assert_int_equal(r.status, 401);
    assert_true(
        test_reply_has_header(&r, "WWW-Authenticate: Bearer realm=\"deskdb\""));
    assert_false(test_reply_has_header(&r, "WWW-Authenticate: Basic"));
    test_reply_fini(&r);
    assert_int_equal(status_with(t.port, "/api/echo", NULL, RIGHT), 401);
    assert_int_equal(status_with(t.port, "/api/echo", BEARER, NULL), 200);
    assert_true(auth_failures(t.metrics, "unsupported_scheme") >= 1);
    test_http_server_fini(&t);
}

/* ---- TLS ---------------------------------------------------------------- */

struct tls_files {
    char dir[64];
    char cert[128];
    char key[128];
    char other[128]; /* a key that does not match the certificate */
};

static void
tls_files_make(struct tls_files *f)
{
    char cmd[1024];

    snprintf(f->dir, sizeof(f->dir), "/tmp/deskdb-it-http-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
    snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
    snprintf(f->other, sizeof(f->other), "%s/other.pem", f->dir);
    snprintf(cmd,
             sizeof(cmd),
             "/usr/bin/openssl req -x509 -newkey rsa:2048 -nodes "
             "-subj /CN=localhost -days 1 -keyout %s -out %s >/dev/null 2>&1 "
             "&& chmod 600 %s && /usr/bin/openssl ecparam -genkey "
             "-name prime256v1 -noout -out %s >/dev/null 2>&1",
             f->key,
             f->cert,
             f->key,
             f->other);
    assert_int_equal(system(cmd), 0);
}

static void
tls_files_remove(struct tls_files *f)
{
    unlink(f->cert);
    unlink(f->key);
    unlink(f->other);
    rmdir(f->dir);
}

static long
tls_status(int port, long version, const char *ciphers)
{
    const struct test_request rq = {.path = "/-/healthy",
                                    .tls = true,
                                    .tls_version = version,
                                    .ciphers = ciphers};

    return test_http_status(port, &rq);
}

static void
test_tls(void **state)
{
    struct tls_files files;
    struct test_http_server t;
    struct deskdb_err err = {0};

    (void)state;
    tls_files_make(&files);
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.tls_cert_file = files.cert;
    t.cfg.tls_key_file = files.key;
    test_http_server_start(&t);
    assert_int_equal(tls_status(t.port, 0, NULL), 200);
    assert_int_equal(
        tls_status(t.port,
                   CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2,
                   NULL),
        200);
    assert_int_equal(tls_status(t.port, CURL_SSLVERSION_TLSv1_3, NULL), 200);
    /* TLS 1.0/1.1 are refused by the server: the client is told to allow
     * them (OpenSSL's default security level would refuse them itself). */
    assert_int_equal(
        tls_status(t.port,
                   CURL_SSLVERSION_TLSv1_0 | CURL_SSLVERSION_MAX_TLSv1_1,
                   "DEFAULT:@SECLEVEL=0"),
        -1);
    /* Plain HTTP to the TLS port gets no HTTP answer; TLS still works. */
    assert_int_not_equal(test_http_get(t.port, "/-/healthy"), 200);
    assert_int_equal(tls_status(t.port, 0, NULL), 200);
    test_http_server_fini(&t);

    /* A key that does not belong to the certificate fails the start with
     * libmicrohttpd's reason. */
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.tls_cert_file = files.cert;
    t.cfg.tls_key_file = files.other;
    t.srv = http_server_create(&t.cfg, NULL, &err);
    assert_non_null(t.srv);
    assert_int_equal(http_server_start(t.srv, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "cannot start server"));
    assert_non_null(strstr(err.msg, "do not match"));
    assert_int_equal(http_server_port(t.srv, 0), -1);
    test_http_server_fini(&t);
    tls_files_remove(&files);
}

/* ---- exposure and configuration ----------------------------------------- */

static void
test_non_loopback_needs_credentials(void **state)
{
    struct test_http_server t;
    struct deskdb_err err = {0};

    (void)state;
    test_http_server_init(&t, "0.0.0.0:0");
    assert_null(http_server_create(&t.cfg, NULL, &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "0.0.0.0:0 is not a loopback address"));
    assert_non_null(strstr(err.msg, "allow_unauthenticated"));
    test_http_server_init(&t, ":0");
    assert_null(http_server_create(&t.cfg, NULL, &err));

    /* Explicitly allowed: starts, and answers on 127.0.0.1. */
    test_http_server_init(&t, "0.0.0.0:0");
    t.cfg.allow_unauthenticated = true;
    test_http_server_start(&t);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);

    /* With credentials it starts; dropping them on reload is refused and
     * the old credentials stay in force. */
    test_http_server_init(&t, "0.0.0.0:0");
    test_http_server_credentials(&t);
    test_http_server_start(&t);
    t.cfg.bearer_token = NULL;
    t.cfg.n_basic_users = 0;
    assert_int_equal(http_server_update_auth(t.srv, &t.cfg, &err),
                     DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "not a loopback address"));
    assert_int_equal(test_http_get(t.port, "/api/echo"), 401);
    assert_int_equal(status_with(t.port, "/api/echo", BEARER, NULL), 200);
    test_http_server_fini(&t);
}

static void
expect_create_error(struct test_http_server *t, const char *needle)
{
    struct deskdb_err err = {0};
    struct http_server *srv = http_server_create(&t->cfg, NULL, &err);

    if (srv != NULL)
        fail_msg("expected an error containing \"%s\"", needle);
    assert_int_equal(err.code, DESKDB_EINVAL);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void
test_bad_configuration(void **state)
{
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
    char missing_cert[] = "/nonexistent/cert.pem";
    char missing_key[] = "/nonexistent/key.pem";
    struct test_http_server t;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_listen) / sizeof(bad_listen[0]); i++) {
        test_http_server_init(&t, bad_listen[i]);
        expect_create_error(&t, "http.listen");
    }
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.tls_cert_file = missing_cert;
    t.cfg.tls_key_file = missing_key;
    expect_create_error(&t, "http.tls.cert_file /nonexistent/cert.pem");
    t.cfg.tls_key_file = NULL;
    expect_create_error(&t, "needs both cert_file and key_file");
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.request_timeout_ms = 0;
    expect_create_error(&t, "http.request_timeout");
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.max_connections = 0;
    expect_create_error(&t, "http.max_connections");
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_credentials(&t);
    t.users[0].value = t.listen_text; /* not a bcrypt hash */
    expect_create_error(&t, "http.auth.basic_users.prom");
}

static void
test_port_in_use(void **state)
{
    struct test_http_server t;
    struct test_http_server u;
    struct deskdb_err err = {0};

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    test_http_server_init(&u, "127.0.0.1:0");
    snprintf(u.listen_text, sizeof(u.listen_text), "127.0.0.1:%d", t.port);
    u.srv = http_server_create(&u.cfg, NULL, &err);
    assert_non_null(u.srv);
    assert_int_equal(http_server_start(u.srv, &err), DESKDB_EIO);
    assert_non_null(strstr(err.msg, "Address already in use"));
    assert_non_null(strstr(err.msg, u.listen_text));
    assert_int_equal(http_server_start(u.srv, &err), DESKDB_EINVAL);
    test_http_server_fini(&u);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);
}

/* ---- reload ------------------------------------------------------------- */

struct load {
    int port;
    atomic_int failures;
};

static void *
load_thread(void *arg)
{
    struct load *l = arg;

    for (int i = 0; i < 100; i++)
        if (status_with(l->port, "/api/echo", BEARER, NULL) != 200)
            atomic_fetch_add(&l->failures, 1);
    return NULL;
}

/* Credentials swapped on reload while requests use them. */
static void
test_reload_under_load(void **state)
{
    const struct timespec t2ms = {.tv_nsec = 2 * 1000 * 1000};
    struct test_http_server t;
    struct deskdb_err err = {0};
    struct load l;
    pthread_t th[2];

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_credentials(&t);
    test_http_server_start(&t);
    l.port = t.port;
    atomic_init(&l.failures, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, load_thread, &l), 0);
    for (int i = 0; i < 50; i++) {
        t.cfg.protect_metrics = i % 2;
        t.cfg.n_basic_users = (size_t)(i % 2);
        assert_int_equal(http_server_update_auth(t.srv, &t.cfg, &err),
                         DESKDB_OK);
        nanosleep(&t2ms, NULL);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&l.failures), 0);
    test_http_server_fini(&t);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_registration),
        cmocka_unit_test(test_builtin_routes),
        cmocka_unit_test(test_paths_and_methods),
        cmocka_unit_test(test_handler_api),
        cmocka_unit_test(test_auth_matrix),
        cmocka_unit_test(test_token_only_challenge),
        cmocka_unit_test(test_tls),
        cmocka_unit_test(test_non_loopback_needs_credentials),
        cmocka_unit_test(test_bad_configuration),
        cmocka_unit_test(test_port_in_use),
        cmocka_unit_test(test_reload_under_load),
    };

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

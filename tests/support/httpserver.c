/* SPDX-License-Identifier: MIT */
/* A deskdb HTTP server on 127.0.0.1 with test routes, for integration tests. */
#include "support/httpserver.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

atomic_bool test_http_ready = true;
atomic_int test_http_slow_entered;
atomic_bool test_http_slow_release;

static bool
ready_cb(void *arg)
{
    (void)arg;
    return atomic_load(&test_http_ready);
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
    atomic_fetch_add(&test_http_slow_entered, 1);
    for (int i = 0; i < 2000 && !atomic_load(&test_http_slow_release); i++)
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

void
test_http_server_init(struct test_http_server *t, const char *listen)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->listen_text, sizeof(t->listen_text), "%s", listen);
    t->listen.value = t->listen_text;
    t->cfg.listen = &t->listen;
    t->cfg.n_listen = 1;
    t->cfg.max_connections = 64;
    t->cfg.request_timeout_ms = 5000;
    t->cfg.connection_memory_limit = 64 * 1024;
    snprintf(t->token, sizeof(t->token), "%s", TEST_HTTP_TOKEN);
    snprintf(t->user, sizeof(t->user), "%s", TEST_HTTP_USER);
    snprintf(t->hash, sizeof(t->hash), "%s", TEST_HTTP_HASH);
    t->users[0].key = t->user;
    t->users[0].value = t->hash;
}

void
test_http_server_credentials(struct test_http_server *t)
{
    t->cfg.bearer_token = t->token;
    t->cfg.basic_users = t->users;
    t->cfg.n_basic_users = 1;
}

static void
route(struct test_http_server *t,
      const char *path,
      unsigned flags,
      http_handler_fn fn)
{
    if (http_server_route(t->srv, path, flags, fn, NULL) != DESKDB_OK)
        fail_msg("http_server_route %s failed", path);
}

void
test_http_server_create(struct test_http_server *t)
{
    struct deskdb_err err = {0};

    t->metrics = metrics_create();
    assert_non_null(t->metrics);
    t->srv = http_server_create(&t->cfg, t->metrics, &err);
    if (t->srv == NULL)
        fail_msg("http_server_create: %s", err.msg);
    route(t, "/api/echo", HTTP_ROUTE_AUTH, handle_echo);
    route(t, "/metrics", HTTP_ROUTE_METRICS, handle_echo);
    route(t, "/public", HTTP_ROUTE_PUBLIC, handle_echo);
    route(t, "/slow", HTTP_ROUTE_PUBLIC, handle_slow);
    route(t, "/static", HTTP_ROUTE_PUBLIC, handle_static);
    http_server_set_ready(t->srv, ready_cb, NULL);
}

void
test_http_server_start(struct test_http_server *t)
{
    struct deskdb_err err = {0};

    test_http_server_create(t);
    if (http_server_start(t->srv, &err) != DESKDB_OK)
        fail_msg("http_server_start: %s", err.msg);
    t->port = http_server_port(t->srv, 0);
    assert_true(t->port > 0);
}

void
test_http_server_fini(struct test_http_server *t)
{
    http_server_destroy(t->srv);
    metrics_destroy(t->metrics);
    t->srv = NULL;
    t->metrics = NULL;
}

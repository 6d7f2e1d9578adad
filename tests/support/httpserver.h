/* SPDX-License-Identifier: MIT */
/* A deskdb HTTP server on 127.0.0.1 with test routes, for integration tests. */
#ifndef DESKDB_TESTS_HTTPSERVER_H
#define DESKDB_TESTS_HTTPSERVER_H

#include <stdatomic.h>
#include <stdbool.h>

#include "config/config.h"
#include "core/metrics.h"
#include "exporter/http.h"

/* Credentials of test_http_server_credentials(); the hash is bcrypt cost 4
 * of TEST_HTTP_PASSWORD, made once with crypt_gensalt_rn() + crypt_r(). */
#define TEST_HTTP_USER     "prom"
#define TEST_HTTP_PASSWORD "s3cret-pw"
#define TEST_HTTP_HASH \
    "$2b$04$4F0XqsnczruoN5AxDLmDSuYYIAdyDY87ALKel1iqHP0b/Y3hAHgCW"
#define TEST_HTTP_TOKEN "tok-0123456789abcdef"

/*
 * Routes: /api/echo (AUTH), /metrics (METRICS) and /public (PUBLIC) answer
 * {"user":..,"limit":..,"accept":..} from the request with "Vary:
 * Accept-Encoding"; /slow (PUBLIC) waits for test_http_slow_release (at
 * most 10 s); /static (PUBLIC) sends a borrowed "static body\n".
 * /-/ready follows test_http_ready.
 */
struct test_http_server {
    char listen_text[64];
    char token[64];
    char user[16];
    char hash[80];
    struct config_str listen;
    struct config_kv users[1];
    struct config_http cfg; /* edit between init and start */
    struct metrics *metrics;
    struct http_server *srv;
    int port;
};

extern atomic_bool test_http_ready;
extern atomic_int test_http_slow_entered;
extern atomic_bool test_http_slow_release;

/* Config with one listen address, 64 connections, 5 s timeout, 64 KiB. */
void test_http_server_init(struct test_http_server *t, const char *listen);

/* Configure the bearer token and the Basic user. */
void test_http_server_credentials(struct test_http_server *t);

/* Create (with a metrics registry), add the routes and start; fails the
 * test on error.  Sets `port`. */
void test_http_server_start(struct test_http_server *t);

/* Create and add the routes without starting. */
void test_http_server_create(struct test_http_server *t);

void test_http_server_fini(struct test_http_server *t);

#endif

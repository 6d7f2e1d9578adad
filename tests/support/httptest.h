/* SPDX-License-Identifier: MIT */
/* HTTP clients for tests: libcurl requests and raw sockets to 127.0.0.1. */
#ifndef DESKDB_TESTS_HTTPTEST_H
#define DESKDB_TESTS_HTTPTEST_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct test_request {
    const char *method;  /* NULL: GET; "HEAD" sends no body back */
    const char *path;    /* sent as is (no dot-segment removal) */
    const char *header;  /* one extra request header line, or NULL */
    const char *body;    /* request body, or NULL */
    const char *userpwd; /* Basic credentials "user:password", or NULL */
    bool tls;            /* https, certificate not verified */
    long tls_version;    /* CURLOPT_SSLVERSION value, 0 for the default */
    const char *ciphers; /* CURLOPT_SSL_CIPHER_LIST, or NULL */
};

struct test_reply {
    CURLcode rc;
    long status; /* 0 when no HTTP answer arrived */
    struct buf body;
    struct buf headers; /* every response header line, as received */
};

/* Run `rq` against 127.0.0.1:`port` (20 s timeout).  Free with
 * test_reply_fini(). */
void
test_http_do(int port, const struct test_request *rq, struct test_reply *r);
void test_reply_fini(struct test_reply *r);

/* Status of `rq`, or -1 if no HTTP answer arrived. */
long test_http_status(int port, const struct test_request *rq);

/* Status of a plain GET of `path`, or -1. */
long test_http_get(int port, const char *path);

/* True if a response header line starts with `line` (case-insensitive). */
bool test_reply_has_header(const struct test_reply *r, const char *line);

/* Connect a TCP socket to 127.0.0.1:`port`; -1 if refused. */
int test_raw_connect(int port);

/*
 * Read until EOF, a reset, a full buffer or `timeout_ms` of silence.
 * Returns the bytes read (0: closed without an answer) or -2 on silence;
 * `out` is NUL-terminated.
 */
long test_raw_read(int fd, char *out, size_t size, int timeout_ms);

/* Send `len` bytes on a new connection and read the answer ("" when the
 * server closed); fails the test if the server stays silent for 10 s. */
void test_raw_exchange(int port,
                       const char *req,
                       size_t len,
                       char *out,
                       size_t size);

#endif

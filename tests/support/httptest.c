/* SPDX-License-Identifier: MIT */
/* HTTP clients for tests: libcurl requests and raw sockets to 127.0.0.1. */
#include "support/httptest.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <strings.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

static size_t
collect(char *data, size_t size, size_t n, void *arg)
{
    struct buf *b = arg;

    return buf_append(b, data, size * n) == DESKDB_OK ? size * n : 0;
}

static void
set_tls(CURL *c, const struct test_request *rq)
{
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    if (rq->tls_version != 0)
        curl_easy_setopt(c, CURLOPT_SSLVERSION, rq->tls_version);
    if (rq->ciphers != NULL)
        curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, rq->ciphers);
}

void
test_http_do(int port, const struct test_request *rq, struct test_reply *r)
{
    char url[16384];
    struct curl_slist *hdrs = NULL;
    CURL *c = curl_easy_init();

    assert_non_null(c);
    buf_init(&r->body, 1 << 20);
    buf_init(&r->headers, 1 << 16);
    snprintf(url,
             sizeof(url),
             "%s://127.0.0.1:%d%s",
             rq->tls ? "https" : "http",
             port,
             rq->path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    if (rq->method != NULL && strcmp(rq->method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (rq->method != NULL)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
    if (rq->body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    if (rq->header != NULL)
        hdrs = curl_slist_append(hdrs, rq->header);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    if (rq->userpwd != NULL) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERPWD, rq->userpwd);
    }
    if (rq->tls)
        set_tls(c, rq);
    r->status = 0;
    r->rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
}

void
test_reply_fini(struct test_reply *r)
{
    buf_fini(&r->body);
    buf_fini(&r->headers);
}

long
test_http_status(int port, const struct test_request *rq)
{
    struct test_reply r;
    long status;

    test_http_do(port, rq, &r);
    status = r.rc == CURLE_OK ? r.status : -1;
    test_reply_fini(&r);
    return status;
}

long
test_http_get(int port, const char *path)
{
    const struct test_request rq = {.path = path};

    return test_http_status(port, &rq);
}

bool
test_reply_has_header(const struct test_reply *r, const char *line)
{
    const char *p = r->headers.data;
    size_t n = strlen(line);

    while (p != NULL && *p != '\0') {
        if (strncasecmp(p, line, n) == 0)
            return true;
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    return false;
}

int
test_raw_connect(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

long
test_raw_read(int fd, char *out, size_t size, int timeout_ms)
{
    size_t got = 0;

    out[0] = '\0';
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        if (poll(&p, 1, timeout_ms) <= 0)
            return got > 0 ? (long)got : -2;
        n = recv(fd, out + got, size - 1 - got, 0);
        if (n > 0)
            got += (size_t)n;
        out[got] = '\0';
        if (n <= 0 || got == size - 1)
            return (long)got;
    }
}

void
test_raw_exchange(int port, const char *req, size_t len, char *out, size_t size)
{
    int fd = test_raw_connect(port);
    size_t sent = 0;

    assert_true(fd >= 0);
    while (sent < len) {
        ssize_t w = send(fd, req + sent, len - sent, MSG_NOSIGNAL);

        if (w <= 0)
            break; /* the server may close early on bad input */
        sent += (size_t)w;
    }
    assert_true(test_raw_read(fd, out, size, 10000) >= 0);
    close(fd);
}

/* SPDX-License-Identifier: MIT */
/* The HTTP server under hostile or heavy clients on 127.0.0.1: malformed
 * requests, a slow client, many clients, the connection limit, and a
 * graceful stop with a request in flight, and a stop while clients churn.
 * ctest-labels: concurrency */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "exporter/http.h"
#include "support/httpserver.h"
#include "support/httptest.h"

static const struct timespec five_ms = {.tv_nsec = 5 * 1000 * 1000};

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
    static const char head[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: ";
    static const char good[] =
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const size_t big_len = 100 * 1024;
    struct test_http_server t;
    char answer[4096];
    char *big;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        test_raw_exchange(t.port,
                          cases[i][1],
                          strlen(cases[i][1]),
                          answer,
                          sizeof(answer));
        assert_refused(cases[i][0], answer, cases[i][2]);
        assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    }

    /* A 100 KB header line is over the 64 KiB connection memory limit. */
    big = malloc(sizeof(head) + big_len + 8);
    assert_non_null(big);
    memcpy(big, head, sizeof(head) - 1);
    memset(big + sizeof(head) - 1, 'a', big_len);
    memcpy(big + sizeof(head) - 1 + big_len, "\r\n\r\n", 5);
    test_raw_exchange(t.port, big, strlen(big), answer, sizeof(answer));
    assert_refused("100 KB header", answer, NULL);
    free(big);

    /* A well-formed raw request still works. */
    test_raw_exchange(t.port, good, sizeof(good) - 1, answer, sizeof(answer));
    assert_true(strncmp(answer, "HTTP/1.1 200", 12) == 0);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);
}

static void
test_slow_client_is_dropped(void **state)
{
    static const char partial[] = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n";
    struct test_http_server t;
    char answer[512];
    int fd;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.request_timeout_ms = 1000;
    test_http_server_start(&t);
    fd = test_raw_connect(t.port);
    assert_true(fd >= 0);
    assert_int_equal(send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof(partial) - 1));
    /* Others are served while the slow client dawdles. */
    for (int i = 0; i < 5; i++)
        assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    /* It is dropped after the request timeout (generous bound: 15 s). */
    assert_true(test_raw_read(fd, answer, sizeof(answer), 15000) >= 0);
    close(fd);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    (void)arg;
    return size * n;
}

/* Run `n` easy handles at once; returns how many got 200.  Any other HTTP
 * status fails the test; transport errors are counted in `refused`. */
static int
run_multi(CURL **easy, int n, int *refused)
{
    CURLM *multi = curl_multi_init();
    int running = 0;
    int ok = 0;
    CURLMsg *msg;
    int left;

    assert_non_null(multi);
    for (int i = 0; i < n; i++)
        curl_multi_add_handle(multi, easy[i]);
    do {
        curl_multi_perform(multi, &running);
        curl_multi_poll(multi, NULL, 0, 100, NULL);
    } while (running > 0);
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        long status = 0;

        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        if (msg->data.result != CURLE_OK)
            (*refused)++;
        else if (status == 200)
            ok++;
        else
            fail_msg("unexpected status %ld", status);
    }
    for (int i = 0; i < n; i++)
        curl_multi_remove_handle(multi, easy[i]);
    curl_multi_cleanup(multi);
    return ok;
}

static void
test_many_concurrent_clients(void **state)
{
    enum { N = 200 };
    struct test_http_server t;
    CURL *easy[N];
    char url[64];
    int refused = 0;
    int ok;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.max_connections = 16; /* the rest wait in the listen backlog */
    test_http_server_start(&t);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/-/healthy", t.port);
    for (int i = 0; i < N; i++) {
        easy[i] = curl_easy_init();
        assert_non_null(easy[i]);
        curl_easy_setopt(easy[i], CURLOPT_URL, url);
        curl_easy_setopt(easy[i], CURLOPT_TIMEOUT, 60L);
        curl_easy_setopt(easy[i], CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(easy[i], CURLOPT_WRITEFUNCTION, discard);
    }
    ok = run_multi(easy, N, &refused);
    for (int i = 0; i < N; i++)
        curl_easy_cleanup(easy[i]);
    /* Every client got 200 or a clean transport error, never a hang. */
    assert_int_equal(ok + refused, N);
    assert_true(ok > 0);
    assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);
}

/* Over max_connections, new connections wait in the listen backlog (no
 * refusal in libmicrohttpd 0.9.75) and are served once slots free up. */
static void
test_connection_limit(void **state)
{
    enum { LIMIT = 8 };
    static const char req[] =
        "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const struct timespec settle = {.tv_nsec = 50 * 1000 * 1000};
    struct test_http_server t;
    int held[LIMIT];
    char answer[1024];
    int fd;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    t.cfg.max_connections = LIMIT;
    t.cfg.request_timeout_ms = 30000;
    test_http_server_start(&t);
    for (int i = 0; i < LIMIT; i++) {
        held[i] = test_raw_connect(t.port);
        assert_true(held[i] >= 0);
    }
    nanosleep(&settle, NULL); /* let the server accept all of them */
    fd = test_raw_connect(t.port);
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
        assert_int_equal(test_http_get(t.port, "/-/healthy"), 200);
    test_http_server_fini(&t);
}

struct slow_call {
    struct test_http_server *t;
    _Atomic long status;
};

static void *
slow_thread(void *arg)
{
    struct slow_call *c = arg;

    atomic_store(&c->status, test_http_get(c->t->port, "/slow"));
    return NULL;
}

static void *
stop_thread(void *arg)
{
    struct slow_call *c = arg;

    http_server_stop(c->t->srv, 10000);
    return NULL;
}

static void
test_graceful_stop(void **state)
{
    struct test_http_server t;
    struct slow_call call;
    pthread_t slow;
    pthread_t stopper;
    int fd = 0;

    (void)state;
    test_http_server_init(&t, "127.0.0.1:0");
    test_http_server_start(&t);
    call.t = &t;
    atomic_init(&call.status, 0);
    atomic_store(&test_http_slow_entered, 0);
    atomic_store(&test_http_slow_release, false);
    assert_int_equal(pthread_create(&slow, NULL, slow_thread, &call), 0);
    while (atomic_load(&test_http_slow_entered) == 0)
        nanosleep(&five_ms, NULL);
    assert_int_equal(pthread_create(&stopper, NULL, stop_thread, &call), 0);
    /* While the request drains, new connections are refused. */
    for (int i = 0; i < 1000 && fd >= 0; i++) {
        fd = test_raw_connect(t.port);
        if (fd >= 0) {
            close(fd);
            nanosleep(&five_ms, NULL);
        }
    }
    assert_int_equal(fd, -1);
    assert_int_equal(atomic_load(&call.status), 0); /* still in flight */
    atomic_store(&test_http_slow_release, true);
    pthread_join(stopper, NULL);
    pthread_join(slow, NULL);
    assert_int_equal(atomic_load(&call.status), 200);
    assert_int_equal(http_server_port(t.srv, 0), -1);
    http_server_stop(t.srv, 0); /* idempotent */
    test_http_server_fini(&t);
}

struct churn {
    int port;
    _Atomic bool stop;
};

/* Opens and drops connections as fast as it can, so the server keeps
 * crossing its connection limit while it is being stopped. */
static void *
churn_thread(void *arg)
{
    struct churn *c = arg;

    while (!atomic_load(&c->stop)) {
        int fd = test_raw_connect(c->port);

        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

/* libmicrohttpd's epoll loop aborts the process when a quiesce races its
 * own "at the connection limit" removal of the listening socket; the
 * server must stop cleanly however busy the listener is. */
static void
test_stop_while_clients_churn(void **state)
{
    (void)state;
    for (int round = 0; round < 40; round++) {
        struct test_http_server t;
        struct churn c;
        pthread_t th[3];

        test_http_server_init(&t, "127.0.0.1:0");
        t.cfg.max_connections = 2;
        test_http_server_start(&t);
        c.port = t.port;
        atomic_init(&c.stop, false);
        for (size_t i = 0; i < 3; i++)
            assert_int_equal(pthread_create(&th[i], NULL, churn_thread, &c), 0);
        nanosleep(&five_ms, NULL);
        http_server_stop(t.srv, 1000);
        atomic_store(&c.stop, true);
        for (size_t i = 0; i < 3; i++)
            pthread_join(th[i], NULL);
        test_http_server_fini(&t);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_requests),
        cmocka_unit_test(test_slow_client_is_dropped),
        cmocka_unit_test(test_many_concurrent_clients),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_graceful_stop),
        cmocka_unit_test(test_stop_while_clients_churn),
    };

    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_ALL);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

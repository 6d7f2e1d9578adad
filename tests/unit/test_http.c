/* SPDX-License-Identifier: MIT */
/* Unit tests for the HTTP server's listen-address parsing and responses. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/http_internal.h"

static int
parse(const char *text, struct http_listener *l, struct deskdb_err *err)
{
    char value[128];
    struct config_str entry = {.value = value};

    snprintf(value, sizeof(value), "%s", text);
    return http_listener_parse(&entry, l, err);
}

static int
port_of(const struct http_listener *l)
{
    if (l->addr.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&l->addr)->sin6_port);
    return ntohs(((const struct sockaddr_in *)&l->addr)->sin_port);
}

static void
expect(const char *text, int family, bool loopback, bool any, int port)
{
    struct http_listener l;
    struct deskdb_err err = {0};

    if (parse(text, &l, &err) != DESKDB_OK)
        fail_msg("%s: %s", text, err.msg);
    assert_int_equal(l.addr.ss_family, family);
    if (l.loopback != loopback || l.any != any)
        fail_msg("%s: loopback=%d any=%d", text, l.loopback, l.any);
    assert_int_equal(port_of(&l), port);
    assert_int_equal(l.fd, -1);
    assert_int_equal(l.port, -1);
    assert_string_equal(l.text, text);
    http_listener_fini(&l);
}

static void
test_listen_forms(void **state)
{
    (void)state;
    expect("127.0.0.1:9187", AF_INET, true, false, 9187);
    expect("127.5.6.7:1", AF_INET, true, false, 1);
    expect("0.0.0.0:0", AF_INET, false, false, 0);
    expect("10.1.2.3:80", AF_INET, false, false, 80);
    expect("[::1]:9187", AF_INET6, true, false, 9187);
    expect("[::]:9187", AF_INET6, false, false, 9187);
    expect("[::ffff:127.0.0.1]:8080", AF_INET6, true, false, 8080);
    expect(":9187", AF_INET6, false, true, 9187);
    expect("127.0.0.1:65535", AF_INET, true, false, 65535);
}

static void
test_listen_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "9187",
        "127.0.0.1",
        "127.0.0.1:",
        "127.0.0.1:x",
        "127.0.0.1:65536",
        "127.0.0.1:-1",
        "::1:80",
        "[::1]",
        "[::1]80",
        "[]:80",
        "[::1:80",
        "1.2.3.4:123456",
    };
    char value[] = "nohost";
    struct config_str entry = {
        .value = value,
        .pos = {.file = "deskdb.yaml", .line = 3, .column = 11},
    };
    struct http_listener l;
    struct deskdb_err err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &l, &err) != DESKDB_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(strstr(err.msg, "http.listen"));
        http_listener_fini(&l);
    }
    assert_int_equal(http_listener_parse(&entry, &l, &err), DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "deskdb.yaml:3:11: http.listen"));
    http_listener_fini(&l);
}

static void
test_response_headers(void **state)
{
    struct http_response resp;

    (void)state;
    http_response_init(&resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.content_type, HTTP_TYPE_TEXT);
    assert_int_equal(http_response_add_header(&resp, "Retry-After", "1"),
                     DESKDB_OK);
    /* No header injection, no bad names. */
    assert_int_equal(
        http_response_add_header(&resp, "X-A", "1\r\nSet-Cookie: x=1"),
        DESKDB_EINVAL);
    assert_int_equal(http_response_add_header(&resp, "X-A", "1\nb"),
                     DESKDB_EINVAL);
    assert_int_equal(http_response_add_header(&resp, "Bad Name", "1"),
                     DESKDB_EINVAL);
    assert_int_equal(http_response_add_header(&resp, "X-B:", "1"),
                     DESKDB_EINVAL);
    assert_int_equal(http_response_add_header(&resp, "", "1"), DESKDB_EINVAL);
    assert_int_equal(http_response_add_header(&resp, "X-Tab", "a\tb"),
                     DESKDB_OK);
    while (resp.n_headers < HTTP_MAX_HEADERS)
        assert_int_equal(http_response_add_header(&resp, "X-Fill", "v"),
                         DESKDB_OK);
    assert_int_equal(http_response_add_header(&resp, "X-Over", "v"),
                     DESKDB_EINVAL);
    assert_string_equal(resp.headers[0].name, "Retry-After");
    assert_string_equal(resp.headers[1].value, "a\tb");
    http_response_fini(&resp);
}

static void
test_response_text(void **state)
{
    static const char bytes[] = "borrowed";
    struct http_response resp;

    (void)state;
    http_response_init(&resp);
    http_response_set_type(&resp, HTTP_TYPE_JSON);
    http_response_set_static(&resp, bytes, sizeof(bytes) - 1);
    assert_ptr_equal(resp.static_body, bytes);
    assert_int_equal(buf_puts(&resp.body, "{}"), DESKDB_OK);
    http_response_text(&resp, 503, "not ready");
    assert_int_equal(resp.status, 503);
    assert_null(resp.static_body);
    assert_string_equal(resp.body.data, "not ready\n");
    assert_string_equal(resp.content_type, HTTP_TYPE_TEXT);
    assert_int_equal(resp.body.cap, HTTP_BODY_MAX);
    http_response_fini(&resp);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_response_headers),
        cmocka_unit_test(test_response_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for HTTP authentication: constant-time compare, bcrypt Basic
 * users with decoy and cache, bearer tokens, and SipHash vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "exporter/auth.h"
#include "exporter/siphash.h"

/* Generated once with crypt_gensalt_rn() + crypt_r(), password below. */
#define PASSWORD "s3cret-pw"
#define HASH_2B_04 \
    "$2b$04$4F0XqsnczruoN5AxDLmDSuYYIAdyDY87ALKel1iqHP0b/Y3hAHgCW"
#define HASH_2B_10 \
    "$2b$10$afqO54GnvQYkcV/n.DHbX.slMkIai.T11T0tl/83NHZ7.vFunvhPm"
#define HASH_2Y_04 \
    "$2y$04$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy"
#define HASH_2A_04 \
    "$2a$04$XX6LIIMuPrtPMpUlvsPK8O9CNat9SgTMnEAFa86iDrf2q3IugH8ke"
#define TOKEN "tok-0123456789abcdef"

/* Writable copies of literals for the config structs (char *, not const). */
static char *
S(const char *s)
{
    static char pool[32][128];
    static size_t next;
    char *p = pool[next++ % 32];

    snprintf(p, sizeof(pool[0]), "%s", s);
    return p;
}

static char *
b64(const char *in, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static char out[4096];
    size_t o = 0;

    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)in[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t)(unsigned char)in[i + 1] << 8;
        if (i + 2 < len)
            v |= (unsigned char)in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* "Basic base64(user:password)" in a static buffer. */
static const char *
basic(const char *user, const char *password)
{
    static char header[4200];
    char plain[1024];

    snprintf(plain, sizeof(plain), "%s:%s", user, password);
    snprintf(header, sizeof(header), "Basic %s", b64(plain, strlen(plain)));
    return header;
}

static struct auth *
make_auth(const char *token, struct config_kv *users, size_t n_users)
{
    struct config_http cfg = {0};
    struct deskdb_err err = {0};
    struct auth *a;

    cfg.bearer_token = token != NULL ? S(token) : NULL;
    cfg.basic_users = users;
    cfg.n_basic_users = n_users;
    a = auth_create(&cfg, &err);
    if (a == NULL)
        fail_msg("auth_create: %s", err.msg);
    return a;
}

static void
test_equal_ct(void **state)
{
    (void)state;
    assert_true(auth_equal_ct("abcdef", 6, "abcdef", 6));
    assert_false(auth_equal_ct("abcdef", 6, "abcdeg", 6));
    assert_false(auth_equal_ct("abcdef", 6, "bbcdef", 6));
    assert_false(auth_equal_ct("abcdef", 6, "abcde", 5));
    assert_false(auth_equal_ct("abcde", 5, "abcdef", 6));
    assert_false(auth_equal_ct("abc", 3, "", 0));
    assert_false(auth_equal_ct("", 0, "abc", 3));
    assert_true(auth_equal_ct("", 0, "", 0));
    /* Bytes past the given length are compared as zero, but the length
     * difference still decides. */
    assert_false(auth_equal_ct("ab\0", 3, "ab", 2));
}

static void
test_hash_syntax(void **state)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "$2y$99$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy",
        "$2y$03$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy",
        "$2y$17$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy",
        "$2x$04$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy",
        "$2y$04$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhy",
        "$2y$04$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyyy",
        "$2y$04$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeq!yy",
        "$2y$a4$26RPybL6Y.rJygwZUZPATeaKs54uG7XSl.IUi2ZtdMktg2zfeqhyy",
        "$6$rounds=5000$saltsalt$abcdefghijklmnopqrstuvwxyz0123456789",
    };
    int cost = 0;

    (void)state;
    assert_true(auth_bcrypt_hash_valid(HASH_2B_04, &cost));
    assert_int_equal(cost, 4);
    assert_true(auth_bcrypt_hash_valid(HASH_2B_10, &cost));
    assert_int_equal(cost, 10);
    assert_true(auth_bcrypt_hash_valid(HASH_2Y_04, NULL));
    assert_true(auth_bcrypt_hash_valid(HASH_2A_04, NULL));
    assert_false(auth_bcrypt_hash_valid(NULL, NULL));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_false(auth_bcrypt_hash_valid(bad[i], NULL));
}

static void
test_create_rejects_bad_config(void **state)
{
    struct config_kv users[2] = {
        {.key = S("prom"),
         .value = S("$2y$99$abc"),
         .pos = {.file = "deskdb.yaml", .line = 7, .column = 11}},
    };
    struct config_http cfg = {0};
    struct deskdb_err err = {0};

    (void)state;
    cfg.basic_users = users;
    cfg.n_basic_users = 1;
    assert_null(auth_create(&cfg, &err));
    assert_int_equal(err.code, DESKDB_EINVAL);
    assert_non_null(strstr(err.msg, "deskdb.yaml:7:11:"));
    assert_non_null(strstr(err.msg, "http.auth.basic_users.prom"));
    assert_null(strstr(err.msg, "$2y$99$abc")); /* never echo the hash */

    users[0].value = S(HASH_2B_04);
    users[1] = users[0];
    cfg.n_basic_users = 2;
    assert_null(auth_create(&cfg, &err));
    assert_non_null(strstr(err.msg, "duplicate user"));

    users[0].key = S("a:b");
    cfg.n_basic_users = 1;
    assert_null(auth_create(&cfg, &err));
    assert_non_null(strstr(err.msg, "without ':'"));

    cfg.n_basic_users = 0;
    cfg.bearer_token = S("");
    assert_null(auth_create(&cfg, &err));
    assert_non_null(strstr(err.msg, "bearer_token_file"));
    cfg.bearer_token = S("two words");
    assert_null(auth_create(&cfg, &err));
    assert_null(strstr(err.msg, "two words"));
}

static void
test_no_credentials(void **state)
{
    struct auth *a = make_auth(NULL, NULL, 0);
    char user[32] = "x";

    (void)state;
    assert_false(auth_enabled(a));
    assert_false(auth_has_basic(a));
    assert_false(auth_has_bearer(a));
    assert_int_equal(auth_check(a, NULL, user, sizeof(user)), AUTH_OK);
    assert_string_equal(user, "");
    auth_unref(a);
}

static void
test_bearer(void **state)
{
    struct auth *a = make_auth(TOKEN, NULL, 0);
    char user[32];

    (void)state;
    assert_true(auth_enabled(a));
    assert_true(auth_has_bearer(a));
    assert_false(auth_has_basic(a));
    assert_int_equal(auth_check(a, "Bearer " TOKEN, user, sizeof(user)),
                     AUTH_OK);
    assert_string_equal(user, "token");
    /* Scheme names are case-insensitive. */
    assert_int_equal(auth_check(a, "bearer " TOKEN, user, sizeof(user)),
                     AUTH_OK);
    assert_int_equal(
        auth_check(a, "Bearer tok-0123456789abcdeX", user, sizeof(user)),
        AUTH_BAD_TOKEN);
    assert_string_equal(user, "");
    assert_int_equal(auth_check(a, "Bearer tok", user, sizeof(user)),
                     AUTH_BAD_TOKEN);
    assert_int_equal(auth_check(a, "Bearer " TOKEN "x", user, sizeof(user)),
                     AUTH_BAD_TOKEN);
    assert_int_equal(auth_check(a, "Bearer ", user, sizeof(user)),
                     AUTH_MALFORMED);
    assert_int_equal(auth_check(a, "Bearer", user, sizeof(user)),
                     AUTH_MALFORMED);
    assert_int_equal(auth_check(a, NULL, user, sizeof(user)), AUTH_MISSING);
    assert_int_equal(auth_check(a, "", user, sizeof(user)), AUTH_MISSING);
    assert_int_equal(auth_check(a, "Digest x=1", user, sizeof(user)),
                     AUTH_BAD_SCHEME);
    assert_int_equal(auth_check(a, basic("prom", PASSWORD), user, 32),
                     AUTH_BAD_SCHEME);
    auth_unref(a);
}

static void
test_oversized_header(void **state)
{
    struct auth *a = make_auth(TOKEN, NULL, 0);
    size_t n = AUTH_HEADER_MAX + 100;
    char *h = malloc(n + 1);

    (void)state;
    assert_non_null(h);
    memcpy(h, "Bearer ", 7);
    memset(h + 7, 'a', n - 7);
    h[n] = '\0';
    assert_int_equal(auth_check(a, h, NULL, 0), AUTH_MALFORMED);
    free(h);
    auth_unref(a);
}

static void
test_basic_cache_and_decoy(void **state)
{
    struct config_kv users[] = {{.key = S("prom"), .value = S(HASH_2B_04)}};
    struct auth *a = make_auth(NULL, users, 1);
    struct auth_stats st;
    char user[32];

    (void)state;
    assert_true(auth_has_basic(a));
    assert_int_equal(auth_check(a, basic("prom", PASSWORD), user, 32), AUTH_OK);
    assert_string_equal(user, "prom");
    auth_get_stats(a, &st);
    assert_int_equal(st.bcrypt_runs, 1);
    assert_int_equal(st.cache_hits, 0);

    /* The verified pair is cached: no second bcrypt. */
    assert_int_equal(auth_check(a, basic("prom", PASSWORD), user, 32), AUTH_OK);
    auth_get_stats(a, &st);
    assert_int_equal(st.bcrypt_runs, 1);
    assert_int_equal(st.cache_hits, 1);

    /* A wrong password is never served from the cache. */
    assert_int_equal(auth_check(a, basic("prom", "wrong"), user, 32),
                     AUTH_BAD_BASIC);
    assert_string_equal(user, "");
    auth_get_stats(a, &st);
    assert_int_equal(st.bcrypt_runs, 2);
    assert_int_equal(st.decoy_runs, 0);

    /* Unknown users cost a bcrypt too (the decoy), and look the same. */
    assert_int_equal(auth_check(a, basic("nobody", PASSWORD), user, 32),
                     AUTH_BAD_BASIC);
    auth_get_stats(a, &st);
    assert_int_equal(st.bcrypt_runs, 3);
    assert_int_equal(st.decoy_runs, 1);
    assert_int_equal(st.cache_hits, 1);
    auth_unref(a);
}

static void
test_basic_variants(void **state)
{
    struct config_kv users[] = {
        {.key = S("a"), .value = S(HASH_2A_04)},
        {.key = S("y"), .value = S(HASH_2Y_04)},
        {.key = S("ten"), .value = S(HASH_2B_10)},
    };
    struct auth *a = make_auth(TOKEN, users, 3);
    char user[32];
    const char nul[] = "a\0x:" PASSWORD;

    (void)state;
    assert_int_equal(auth_check(a, basic("a", PASSWORD), user, 32), AUTH_OK);
    assert_int_equal(auth_check(a, basic("y", PASSWORD), user, 32), AUTH_OK);
    assert_string_equal(user, "y");
    assert_int_equal(auth_check(a, basic("ten", PASSWORD), user, 32), AUTH_OK);
    assert_int_equal(auth_check(a, basic("ten", "s3cret-pX"), user, 32),
                     AUTH_BAD_BASIC);
    /* Both schemes work when both are configured. */
    assert_int_equal(auth_check(a, "Bearer " TOKEN, user, 32), AUTH_OK);
    /* Malformed Basic payloads. */
    assert_int_equal(auth_check(a, "Basic !!!!", user, 32), AUTH_MALFORMED);
    assert_int_equal(auth_check(a, "Basic abcde", user, 32), AUTH_MALFORMED);
    assert_int_equal(auth_check(a, "Basic ====", user, 32), AUTH_MALFORMED);
    assert_int_equal(auth_check(a, "Basic bm9jb2xvbg==", user, 32),
                     AUTH_MALFORMED); /* "nocolon" */
    char header[200];
    snprintf(header, sizeof(header), "Basic %s", b64(nul, sizeof(nul) - 1));
    assert_int_equal(auth_check(a, header, user, 32), AUTH_MALFORMED);
    auth_unref(a);
}

static void
test_password_with_colon(void **state)
{
    struct config_kv users[] = {{.key = S("prom"), .value = S(HASH_2B_04)}};
    struct auth *a = make_auth(NULL, users, 1);

    (void)state;
    /* Only the first ':' separates; "s3cret-pw:" is a different password. */
    assert_int_equal(auth_check(a, basic("prom", PASSWORD ":"), NULL, 0),
                     AUTH_BAD_BASIC);
    assert_int_equal(auth_check(a, basic("prom", PASSWORD), NULL, 0), AUTH_OK);
    auth_unref(a);
}

static void
test_odd_hash_never_crashes(void **state)
{
    /* Well-formed by syntax, but not a hash crypt_r produced. */
    struct config_kv users[] = {
        {.key = S("dots"),
         .value = S("$2b$04$"
                    "....................................................."
                    "")},
        {.key = S("zs"),
         .value = S("$2y$04$"
                    "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")},
    };
    struct auth *a = make_auth(NULL, users, 2);

    (void)state;
    assert_int_equal(auth_check(a, basic("dots", ""), NULL, 0), AUTH_BAD_BASIC);
    assert_int_equal(auth_check(a, basic("zs", PASSWORD), NULL, 0),
                     AUTH_BAD_BASIC);
    assert_int_equal(auth_check(a, basic("", ""), NULL, 0), AUTH_BAD_BASIC);
    auth_unref(a);
}

static void
test_refcount(void **state)
{
    struct auth *a = make_auth(TOKEN, NULL, 0);

    (void)state;
    assert_ptr_equal(auth_ref(a), a);
    auth_unref(a);
    /* Still alive: one reference left. */
    assert_int_equal(auth_check(a, "Bearer " TOKEN, NULL, 0), AUTH_OK);
    auth_unref(a);
    auth_unref(NULL);
}

static void
test_reasons(void **state)
{
    (void)state;
    assert_string_equal(auth_status_reason(AUTH_MISSING), "missing");
    assert_string_equal(auth_status_reason(AUTH_MALFORMED), "malformed");
    assert_string_equal(auth_status_reason(AUTH_BAD_SCHEME),
                        "unsupported_scheme");
    assert_string_equal(auth_status_reason(AUTH_BAD_TOKEN), "invalid_token");
    assert_string_equal(auth_status_reason(AUTH_BAD_BASIC), "invalid_basic");
    assert_string_equal(auth_status_reason(AUTH_BUSY), "busy");
}

/* Reference vectors of SipHash-2-4-128 (key 00..0f, message 00..len-1). */
static void
test_siphash_vectors(void **state)
{
    /* clang-format off */
    static const uint8_t v0[16] = {
        0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6,
        0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02, 0x93};
    static const uint8_t v8[16] = {
        0x3b, 0x62, 0xa9, 0xba, 0x62, 0x58, 0xf5, 0x61,
        0x0f, 0x83, 0xe2, 0x64, 0xf3, 0x14, 0x97, 0xb4};
    static const uint8_t v15[16] = {
        0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11,
        0x7e, 0x08, 0xec, 0x0f, 0x97, 0xcf, 0xc3, 0xd9};
    /* clang-format on */
    uint8_t key[16];
    uint8_t msg[16];
    uint8_t out[16];

    (void)state;
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t)i;
    siphash128(key, msg, 0, out);
    assert_memory_equal(out, v0, 16);
    siphash128(key, msg, 8, out);
    assert_memory_equal(out, v8, 16);
    siphash128(key, msg, 15, out);
    assert_memory_equal(out, v15, 16);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_ct),
        cmocka_unit_test(test_hash_syntax),
        cmocka_unit_test(test_create_rejects_bad_config),
        cmocka_unit_test(test_no_credentials),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_oversized_header),
        cmocka_unit_test(test_basic_cache_and_decoy),
        cmocka_unit_test(test_basic_variants),
        cmocka_unit_test(test_password_with_colon),
        cmocka_unit_test(test_odd_hash_never_crashes),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_reasons),
        cmocka_unit_test(test_siphash_vectors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* Unit tests for SHA-256 (FIPS 180-2 vectors) and HMAC-SHA256 (RFC 4231). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/sha256.h"

static void
assert_digest_hex(const uint8_t *d, size_t len, const char *want)
{
    char hex[SHA256_HEX_LEN];

    sha256_hex_encode(d, len, hex);
    assert_string_equal(hex, want);
}

static void
test_fips_vectors(void **state)
{
    char hex[SHA256_HEX_LEN];

    (void)state;
    sha256_hex("abc", 3, hex);
    assert_string_equal(
        hex,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    sha256_hex("", 0, hex);
    assert_string_equal(
        hex,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
               56,
               hex);
    assert_string_equal(
        hex,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
               "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
               112,
               hex);
    assert_string_equal(
        hex,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

static void
test_million_a_in_odd_chunks(void **state)
{
    struct sha256 s;
    uint8_t d[SHA256_DIGEST_LEN];
    char chunk[997];
    size_t left = 1000000;

    (void)state;
    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    while (left > 0) {
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

        sha256_update(&s, chunk, n);
        left -= n;
    }
    sha256_final(&s, d);
    assert_digest_hex(
        d,
        sizeof(d),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the padding boundaries (55/56 bytes need one or two final
 * blocks), checked against an independent implementation. */
static void
test_padding_boundaries(void **state)
{
    static const struct {
        size_t n;
        const char *hex;
    } cases[] = {
        {55,
         "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
        {56,
         "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
        {63,
         "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
        {64,
         "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
        {65,
         "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
        {119,
         "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
        {120,
         "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
    };
    char a[120];
    char hex[SHA256_HEX_LEN];
    size_t i;

    (void)state;
    memset(a, 'a', sizeof(a));
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sha256_hex(a, cases[i].n, hex);
        assert_string_equal(hex, cases[i].hex);
    }
}

/* Feeding the same bytes split at every offset gives the same digest. */
static void
test_split_feeding_is_equivalent(void **state)
{
    uint8_t msg[200];
    uint8_t whole[SHA256_DIGEST_LEN];
    uint8_t part[SHA256_DIGEST_LEN];
    struct sha256 s;
    size_t i, cut;

    (void)state;
    for (i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 7 + 3);
    sha256(msg, sizeof(msg), whole);
    for (cut = 0; cut <= sizeof(msg); cut++) {
        sha256_init(&s);
        sha256_update(&s, msg, cut);
        sha256_update(&s, NULL, 0);
        sha256_update(&s, msg + cut, sizeof(msg) - cut);
        sha256_final(&s, part);
        assert_memory_equal(whole, part, sizeof(whole));
    }
}

static void
test_hmac_rfc4231(void **state)
{
    static const char *msg7 =
        "This is a test using a larger than block-size key and a larger "
        "than block-size data. The key needs to be hashed before being "
        "used by the HMAC algorithm.";
    uint8_t key[131], data[50], mac[SHA256_DIGEST_LEN];
    size_t i;

    (void)state;
    memset(key, 0x0b, 20); /* test case 1 */
    hmac_sha256(key, 20, "Hi There", 8, mac);
    assert_digest_hex(
        mac,
        sizeof(mac),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac); /* 2 */
    assert_digest_hex(
        mac,
        sizeof(mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    memset(key, 0xaa, 20); /* 3 */
    memset(data, 0xdd, 50);
    hmac_sha256(key, 20, data, 50, mac);
    assert_digest_hex(
        mac,
        sizeof(mac),
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    for (i = 0; i < 25; i++) /* 4 */
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    hmac_sha256(key, 25, data, 50, mac);
    assert_digest_hex(
        mac,
        sizeof(mac),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    memset(key, 0x0c, 20); /* 5: truncated to 128 bits */
    hmac_sha256(key, 20, "Test With Truncation", 20, mac);
    assert_digest_hex(mac, 16, "a3b6167473100ee06e0c796c2955552b");
    memset(key, 0xaa, 131); /* 6: key longer than a block */
    hmac_sha256(key,
                131,
                "Test Using Larger Than Block-Size Key - Hash Key First",
                54,
                mac);
    assert_digest_hex(
        mac,
        sizeof(mac),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    hmac_sha256(key, 131, msg7, strlen(msg7), mac); /* 7 */
    assert_digest_hex(
        mac,
        sizeof(mac),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void
test_hmac_empty_key_and_message(void **state)
{
    uint8_t mac[SHA256_DIGEST_LEN];

    (void)state;
    /* Known value: HMAC-SHA256 with empty key of the empty message. */
    hmac_sha256(NULL, 0, NULL, 0, mac);
    assert_digest_hex(
        mac,
        sizeof(mac),
        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_vectors),
        cmocka_unit_test(test_million_a_in_odd_chunks),
        cmocka_unit_test(test_padding_boundaries),
        cmocka_unit_test(test_split_feeding_is_equivalent),
        cmocka_unit_test(test_hmac_rfc4231),
        cmocka_unit_test(test_hmac_empty_key_and_message),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

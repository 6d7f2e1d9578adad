/* SPDX-License-Identifier: MIT */
/* SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for checksums and signing. */
#ifndef DESKDB_CORE_SHA256_H
#define DESKDB_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_BLOCK_LEN  64
#define SHA256_HEX_LEN    (2 * SHA256_DIGEST_LEN + 1) /* with the NUL */

/* Incremental hashing state; plain data, no cleanup needed. */
struct sha256 {
    uint32_t h[8];
    uint64_t total; /* bytes hashed so far */
    size_t used;    /* bytes waiting in `block` */
    uint8_t block[SHA256_BLOCK_LEN];
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
/* Write the digest; `s` must be re-initialised before reuse. */
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_LEN]);

/* One-shot digest of `len` bytes. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_DIGEST_LEN]);

/* Lower-case hex of `len` bytes into `out` (2 * len + 1 bytes). */
void sha256_hex_encode(const uint8_t *bytes, size_t len, char *out);

/* One-shot digest as 64 lower-case hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

/* HMAC-SHA256 of `msg` under `key` (any length; longer than a block is
 * hashed first, as RFC 2104 says). */
void hmac_sha256(const void *key,
                 size_t key_len,
                 const void *msg,
                 size_t msg_len,
                 uint8_t out[SHA256_DIGEST_LEN]);

#endif

/* SPDX-License-Identifier: MIT */
/* SipHash-2-4 with a 128-bit output: a keyed PRF for in-memory digests. */
#ifndef DESKDB_EXPORTER_SIPHASH_H
#define DESKDB_EXPORTER_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_SIZE 16
#define SIPHASH128_SIZE  16

/*
 * Compute SipHash-2-4-128 (Aumasson and Bernstein) of `data` under `key`
 * into `out`.  Without the key, outputs cannot be predicted or matched,
 * which is what the credential cache relies on; it is not a password hash.
 */
void siphash128(const uint8_t key[SIPHASH_KEY_SIZE],
                const void *data,
                size_t len,
                uint8_t out[SIPHASH128_SIZE]);

#endif

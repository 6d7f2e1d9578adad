/* SPDX-License-Identifier: MIT */
/* SipHash-2-4-128, written from the paper's specification. */
#include "exporter/siphash.h"

#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sipstate {
    uint64_t v0, v1, v2, v3;
};

static uint64_t
load_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void
store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void
sipround(struct sipstate *s, int rounds)
{
    for (int i = 0; i < rounds; i++) {
        s->v0 += s->v1;
        s->v1 = ROTL(s->v1, 13);
        s->v1 ^= s->v0;
        s->v0 = ROTL(s->v0, 32);
        s->v2 += s->v3;
        s->v3 = ROTL(s->v3, 16);
        s->v3 ^= s->v2;
        s->v0 += s->v3;
        s->v3 = ROTL(s->v3, 21);
        s->v3 ^= s->v0;
        s->v2 += s->v1;
        s->v1 = ROTL(s->v1, 17);
        s->v1 ^= s->v2;
        s->v2 = ROTL(s->v2, 32);
    }
}

static void
absorb(struct sipstate *s, uint64_t m)
{
    s->v3 ^= m;
    sipround(s, 2);
    s->v0 ^= m;
}

void
siphash128(const uint8_t key[SIPHASH_KEY_SIZE],
           const void *data,
           size_t len,
           uint8_t out[SIPHASH128_SIZE])
{
    const uint8_t *p = data;
    uint64_t k0 = load_le64(key);
    uint64_t k1 = load_le64(key + 8);
    struct sipstate s = {
        .v0 = k0 ^ UINT64_C(0x736f6d6570736575),
        .v1 = k1 ^ UINT64_C(0x646f72616e646f6d) ^ 0xee,
        .v2 = k0 ^ UINT64_C(0x6c7967656e657261),
        .v3 = k1 ^ UINT64_C(0x7465646279746573),
    };
    uint8_t tail[8] = {0};
    size_t full = len - len % 8;

    for (size_t i = 0; i < full; i += 8)
        absorb(&s, load_le64(p + i));
    if (len > full)
        memcpy(tail, p + full, len - full);
    tail[7] = (uint8_t)len;
    absorb(&s, load_le64(tail));

    s.v2 ^= 0xee;
    sipround(&s, 4);
    store_le64(out, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
    s.v1 ^= 0xdd;
    sipround(&s, 4);
    store_le64(out + 8, s.v0 ^ s.v1 ^ s.v2 ^ s.v3);
}

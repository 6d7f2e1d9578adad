/* SPDX-License-Identifier: MIT */
/* Standard Webhooks signing (webhook-id, webhook-timestamp,
 * webhook-signature) and the base64 it needs. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/sha256.h"
#include "exporter/notify/notify.h"

#define WHSEC_PREFIX "whsec_"
#define KEY_MAX      1024

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
notify_base64(const uint8_t *in, size_t len, char *out)
{
    size_t i;
    uint32_t v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        *out++ = b64[v >> 18 & 63];
        *out++ = b64[v >> 12 & 63];
        *out++ = b64[v >> 6 & 63];
        *out++ = b64[v & 63];
    }
    if (i < len) {
        v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        *out++ = b64[v >> 18 & 63];
        *out++ = b64[v >> 12 & 63];
        *out++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static int
b64_value(char c)
{
    const char *p = c != '\0' ? strchr(b64, c) : NULL;

    return p != NULL ? (int)(p - b64) : -1;
}

long
notify_unbase64(const char *in, uint8_t *out, size_t cap)
{
    size_t n = 0, len = strlen(in);
    uint32_t acc = 0;
    int bits = 0, v;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        v = b64_value(in[i]);
        if (v < 0)
            return -1;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap)
                return -1;
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

/* The HMAC key of a secret; returns its length or -1. */
static long
secret_key(const char *secret, uint8_t key[KEY_MAX])
{
    size_t len;

    if (strncmp(secret, WHSEC_PREFIX, strlen(WHSEC_PREFIX)) == 0)
        return notify_unbase64(secret + strlen(WHSEC_PREFIX), key, KEY_MAX);
    len = strlen(secret);
    if (len > KEY_MAX)
        return -1;
    memcpy(key, secret, len);
    return (long)len;
}

const char *
notify_secret_problem(const char *secret)
{
    uint8_t key[KEY_MAX];
    long len = secret_key(secret, key);

    explicit_bzero(key, sizeof(key));
    if (len < 0)
        return "a whsec_ secret must be base64 after the prefix";
    if (len < 16)
        return "the signing key must be at least 16 bytes (Standard "
               "Webhooks recommends 24 to 64 random bytes)";
    return NULL;
}

int
notify_sign(const char *secret,
            const char *id,
            int64_t timestamp,
            const char *body,
            size_t body_len,
            char out[NOTIFY_SIG_LEN])
{
    uint8_t key[KEY_MAX], mac[SHA256_DIGEST_LEN];
    char ts[24];
    long key_len = secret_key(secret, key);
    size_t id_len = strlen(id), ts_len;
    char *msg;

    if (key_len < 0) {
        explicit_bzero(key, sizeof(key));
        return DESKDB_EINVAL;
    }
    ts_len = (size_t)snprintf(ts, sizeof(ts), "%" PRId64, timestamp);
    msg = malloc(id_len + ts_len + body_len + 2);
    if (msg == NULL) {
        explicit_bzero(key, sizeof(key));
        return DESKDB_ENOMEM;
    }
    memcpy(msg, id, id_len);
    msg[id_len] = '.';
    memcpy(msg + id_len + 1, ts, ts_len);
    msg[id_len + 1 + ts_len] = '.';
    memcpy(msg + id_len + ts_len + 2, body, body_len);
    hmac_sha256(key, (size_t)key_len, msg, id_len + ts_len + body_len + 2, mac);
    free(msg);
    explicit_bzero(key, sizeof(key));
    memcpy(out, "v1,", 3);
    notify_base64(mac, sizeof(mac), out + 3);
    return DESKDB_OK;
}

void
notify_new_id(char out[NOTIFY_ID_LEN])
{
    uint8_t raw[16];
    size_t got = 0;
    ssize_t r;

    while (got < sizeof(raw)) {
        r = getrandom(raw + got, sizeof(raw) - got, 0);
        if (r > 0)
            got += (size_t)r;
    }
    memcpy(out, "msg_", 4);
    sha256_hex_encode(raw, sizeof(raw), out + 4);
}

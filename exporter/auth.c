/* SPDX-License-Identifier: MIT */
/* Bearer and Basic (bcrypt) authentication with a decoy and a result cache. */
#include "exporter/auth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "exporter/siphash.h"

#define BCRYPT_HASH_LEN 60 /* "$2b$" "NN" "$" + 22 salt + 31 digest */
#define BASIC_MAX       (AUTH_HEADER_MAX * 3 / 4 + 1)

struct auth_user {
    char *name;
    char *hash;
};

struct auth_cache_entry {
    uint8_t digest[SIPHASH128_SIZE];
    bool used;
};

struct auth {
    _Atomic unsigned refs;
    bool protect_metrics;
    char *token; /* NULL when no bearer token is configured */
    size_t token_len;
    struct auth_user *users;
    size_t n_users;
    char decoy[CRYPT_GENSALT_OUTPUT_SIZE]; /* setting at the highest cost */
    uint8_t cache_key[SIPHASH_KEY_SIZE];

    pthread_mutex_t cache_lock; /* guards cache[] and cache_next */
    struct auth_cache_entry cache[AUTH_CACHE_SIZE];
    size_t cache_next;

    pthread_mutex_t bcrypt_lock; /* guards cdata; one bcrypt at a time */
    struct crypt_data *cdata;    /* ~32 KiB: never on a thread stack */

    _Atomic uint64_t bcrypt_runs;
    _Atomic uint64_t decoy_runs;
    _Atomic uint64_t cache_hits;
};

static const char bcrypt_alphabet[] =
    "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

bool
auth_equal_ct(const void *expected,
              size_t expected_len,
              const void *given,
              size_t given_len)
{
    const volatile unsigned char *e = expected;
    const volatile unsigned char *g = given;
    size_t diff = expected_len ^ given_len;
    unsigned char acc = 0;

    for (size_t i = 0; i < expected_len; i++) {
        /* Past the end of `given` compare against 0; the length difference
         * already makes the result false. */
        unsigned char gb = i < given_len ? g[i] : 0;
        acc |= (unsigned char)(e[i] ^ gb);
    }
    return (diff | acc) == 0;
}

bool
auth_bcrypt_hash_valid(const char *hash, int *cost)
{
    int c;

    if (hash == NULL || strlen(hash) != BCRYPT_HASH_LEN)
        return false;
    if (hash[0] != '$' || hash[1] != '2' || hash[3] != '$' || hash[6] != '$')
        return false;
    if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y')
        return false;
    if (hash[4] < '0' || hash[4] > '9' || hash[5] < '0' || hash[5] > '9')
        return false;
    c = (hash[4] - '0') * 10 + (hash[5] - '0');
    if (c < AUTH_BCRYPT_MIN_COST || c > AUTH_BCRYPT_MAX_COST)
        return false;
    if (strspn(hash + 7, bcrypt_alphabet) != BCRYPT_HASH_LEN - 7)
        return false;
    if (cost != NULL)
        *cost = c;
    return true;
}

static int
fail_at(struct deskdb_err *err,
        const struct config_pos *pos,
        const char *key,
        const char *what)
{
    if (pos != NULL && pos->file != NULL && pos->line > 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "%s:%d:%d: %s: %s",
                       pos->file,
                       pos->line,
                       pos->column,
                       key,
                       what);
    return err_set(err, DESKDB_EINVAL, "%s: %s", key, what);
}

static bool
printable(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
            return false;
    return true;
}

static int
load_token(struct auth *a,
           const struct config_http *cfg,
           struct deskdb_err *err)
{
    if (cfg->bearer_token == NULL)
        return DESKDB_OK;
    if (cfg->bearer_token[0] == '\0')
        return fail_at(err, NULL, "http.auth.bearer_token_file", "is empty");
    if (!printable(cfg->bearer_token))
        return fail_at(err,
                       NULL,
                       "http.auth.bearer_token_file",
                       "token contains whitespace or control characters");
    a->token = strdup(cfg->bearer_token);
    if (a->token == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    a->token_len = strlen(a->token);
    return DESKDB_OK;
}

static int
check_user(const struct config_kv *kv,
           const struct auth *a,
           int *cost,
           struct deskdb_err *err)
{
    char key[160];

    snprintf(key, sizeof(key), "http.auth.basic_users.%.120s", kv->key);
    if (kv->key[0] == '\0' || strchr(kv->key, ':') != NULL ||
        !printable(kv->key))
        return fail_at(err,
                       &kv->pos,
                       "http.auth.basic_users",
                       "user names must be non-empty, printable and "
                       "without ':'");
    for (size_t i = 0; i < a->n_users; i++)
        if (strcmp(a->users[i].name, kv->key) == 0)
            return fail_at(err, &kv->pos, key, "duplicate user");
    if (!auth_bcrypt_hash_valid(kv->value, cost))
        return fail_at(err,
                       &kv->pos,
                       key,
                       "not a bcrypt hash ($2a$, $2b$ or $2y$ with cost "
                       "4-16)");
    return DESKDB_OK;
}

static int
load_users(struct auth *a,
           const struct config_http *cfg,
           struct deskdb_err *err)
{
    int max_cost = 0;

    if (cfg->n_basic_users == 0)
        return DESKDB_OK;
    a->users = calloc(cfg->n_basic_users, sizeof(*a->users));
    if (a->users == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->n_basic_users; i++) {
        const struct config_kv *kv = &cfg->basic_users[i];
        struct auth_user *u = &a->users[a->n_users];
        int cost = 0;
        int rc = check_user(kv, a, &cost, err);

        if (rc != DESKDB_OK)
            return rc;
        u->name = strdup(kv->key);
        u->hash = strdup(kv->value);
        a->n_users++;
        if (u->name == NULL || u->hash == NULL)
            return err_set(err, DESKDB_ENOMEM, "out of memory");
        if (cost > max_cost)
            max_cost = cost;
    }
    /* Unknown users are checked against a random setting of the highest
     * configured cost, so that their answer takes as long as a real one. */
    if (crypt_gensalt_rn("$2b$",
                         (unsigned long)max_cost,
                         NULL,
                         0,
                         a->decoy,
                         (int)sizeof(a->decoy)) == NULL)
        return err_set(err,
                       DESKDB_EIO,
                       "http.auth: cannot create a bcrypt salt: %s",
                       strerror(errno));
    a->cdata = calloc(1, sizeof(*a->cdata));
    if (a->cdata == NULL)
        return err_set(err, DESKDB_ENOMEM, "out of memory");
    return DESKDB_OK;
}

struct auth *
auth_create(const struct config_http *cfg, struct deskdb_err *err)
{
    struct auth *a = calloc(1, sizeof(*a));
    int rc;

    if (a == NULL) {
        err_set(err, DESKDB_ENOMEM, "out of memory");
        return NULL;
    }
    atomic_init(&a->refs, 1);
    pthread_mutex_init(&a->cache_lock, NULL);
    pthread_mutex_init(&a->bcrypt_lock, NULL);
    a->protect_metrics = cfg->protect_metrics;
    rc = load_token(a, cfg, err);
    if (rc == DESKDB_OK)
        rc = load_users(a, cfg, err);
    if (rc == DESKDB_OK && getrandom(a->cache_key, sizeof(a->cache_key), 0) !=
                               (ssize_t)sizeof(a->cache_key))
        rc = err_set(err,
                     DESKDB_EIO,
                     "http.auth: cannot read random bytes: %s",
                     strerror(errno));
    if (rc != DESKDB_OK) {
        auth_unref(a);
        return NULL;
    }
    return a;
}

struct auth *
auth_ref(struct auth *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
    return a;
}

void
auth_unref(struct auth *a)
{
    if (a == NULL)
        return;
    if (atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (a->token != NULL)
        explicit_bzero(a->token, a->token_len);
    free(a->token);
    for (size_t i = 0; i < a->n_users; i++) {
        free(a->users[i].name);
        free(a->users[i].hash);
    }
    free(a->users);
    if (a->cdata != NULL)
        explicit_bzero(a->cdata, sizeof(*a->cdata));
    free(a->cdata);
    explicit_bzero(a->cache, sizeof(a->cache));
    explicit_bzero(a->cache_key, sizeof(a->cache_key));
    pthread_mutex_destroy(&a->cache_lock);
    pthread_mutex_destroy(&a->bcrypt_lock);
    free(a);
}

bool
auth_enabled(const struct auth *a)
{
    return a->token != NULL || a->n_users > 0;
}

bool
auth_has_bearer(const struct auth *a)
{
    return a->token != NULL;
}

bool
auth_has_basic(const struct auth *a)
{
    return a->n_users > 0;
}

bool
auth_protect_metrics(const struct auth *a)
{
    return a->protect_metrics;
}

void
auth_get_stats(const struct auth *a, struct auth_stats *out)
{
    out->bcrypt_runs =
        atomic_load_explicit(&a->bcrypt_runs, memory_order_relaxed);
    out->decoy_runs =
        atomic_load_explicit(&a->decoy_runs, memory_order_relaxed);
    out->cache_hits =
        atomic_load_explicit(&a->cache_hits, memory_order_relaxed);
}

const char *
auth_status_reason(enum auth_status status)
{
    switch (status) {
    case AUTH_OK:
        return "ok";
    case AUTH_MISSING:
        return "missing";
    case AUTH_MALFORMED:
        return "malformed";
    case AUTH_BAD_SCHEME:
        return "unsupported_scheme";
    case AUTH_BAD_TOKEN:
        return "invalid_token";
    case AUTH_BAD_BASIC:
        return "invalid_basic";
    case AUTH_BUSY:
        return "busy";
    }
    return "unknown";
}

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode standard base64 (padding optional) into `out` as a C string.
 * Returns the decoded length, or -1 if malformed, too long or holding NUL. */
static long
b64_decode(const char *in, char *out, size_t out_size)
{
    size_t len = strlen(in);
    size_t n = 0;
    uint32_t acc = 0;
    int bits = 0;

    while (len > 0 && in[len - 1] == '=')
        len--;
    if (strlen(in) - len > 2 || len % 4 == 1)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);

        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n + 1 >= out_size)
                return -1;
            out[n] = (char)((acc >> bits) & 0xff);
            if (out[n] == '\0')
                return -1;
            n++;
        }
    }
    out[n] = '\0';
    return (long)n;
}

static void
copy_user(char *user, size_t user_size, const char *name)
{
    if (user != NULL && user_size > 0)
        snprintf(user, user_size, "%s", name);
}

static enum auth_status
check_bearer(struct auth *a, const char *cred, char *user, size_t user_size)
{
    if (a->token == NULL)
        return AUTH_BAD_SCHEME;
    if (!auth_equal_ct(a->token, a->token_len, cred, strlen(cred)))
        return AUTH_BAD_TOKEN;
    copy_user(user, user_size, "token");
    return AUTH_OK;
}

static void
cache_digest(const struct auth *a,
             const char *name,
             const char *password,
             uint8_t out[SIPHASH128_SIZE])
{
    char buf[BASIC_MAX + 2];
    size_t nl = strlen(name);
    size_t pl = strlen(password);

    /* name and password both come from one decoded header of at most
     * BASIC_MAX bytes, so "name\0password" fits. */
    memcpy(buf, name, nl + 1);
    memcpy(buf + nl + 1, password, pl);
    siphash128(a->cache_key, buf, nl + 1 + pl, out);
    explicit_bzero(buf, sizeof(buf));
}

static bool
cache_lookup(struct auth *a, const uint8_t digest[SIPHASH128_SIZE])
{
    bool hit = false;

    pthread_mutex_lock(&a->cache_lock);
    for (size_t i = 0; i < AUTH_CACHE_SIZE; i++)
        if (a->cache[i].used && auth_equal_ct(a->cache[i].digest,
                                              SIPHASH128_SIZE,
                                              digest,
                                              SIPHASH128_SIZE))
            hit = true;
    pthread_mutex_unlock(&a->cache_lock);
    return hit;
}

static void
cache_insert(struct auth *a, const uint8_t digest[SIPHASH128_SIZE])
{
    pthread_mutex_lock(&a->cache_lock);
    memcpy(a->cache[a->cache_next].digest, digest, SIPHASH128_SIZE);
    a->cache[a->cache_next].used = true;
    a->cache_next = (a->cache_next + 1) % AUTH_CACHE_SIZE;
    pthread_mutex_unlock(&a->cache_lock);
}

/* Run bcrypt on `password` with `setting` and compare with `setting` (a
 * full hash).  Returns 1 on match, 0 on mismatch, -1 if the mutex could not
 * be had in time. */
static int
bcrypt_verify(struct auth *a, const char *password, const char *setting)
{
    struct timespec until;
    const char *out;
    int match;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += AUTH_BCRYPT_WAIT_MS / 1000;
    until.tv_nsec += (AUTH_BCRYPT_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    if (pthread_mutex_timedlock(&a->bcrypt_lock, &until) != 0)
        return -1;
    atomic_fetch_add_explicit(&a->bcrypt_runs, 1, memory_order_relaxed);
    out = crypt_r(password, setting, a->cdata);
    /* libxcrypt reports failure as NULL or a string starting with '*'. */
    match = out != NULL && out[0] != '*' &&
            auth_equal_ct(setting, strlen(setting), out, strlen(out));
    explicit_bzero(a->cdata, sizeof(*a->cdata));
    pthread_mutex_unlock(&a->bcrypt_lock);
    return match;
}

static enum auth_status
check_basic(struct auth *a, const char *cred, char *user, size_t user_size)
{
    char plain[BASIC_MAX];
    uint8_t digest[SIPHASH128_SIZE];
    const struct auth_user *u = NULL;
    enum auth_status st = AUTH_BAD_BASIC;
    char *password;
    int rc;

    if (a->n_users == 0)
        return AUTH_BAD_SCHEME;
    if (b64_decode(cred, plain, sizeof(plain)) < 0 ||
        (password = strchr(plain, ':')) == NULL) {
        st = AUTH_MALFORMED;
        goto out;
    }
    *password++ = '\0';
    for (size_t i = 0; i < a->n_users; i++)
        if (strcmp(a->users[i].name, plain) == 0)
            u = &a->users[i];
    if (u == NULL) {
        atomic_fetch_add_explicit(&a->decoy_runs, 1, memory_order_relaxed);
        rc = bcrypt_verify(a, password, a->decoy);
        st = rc < 0 ? AUTH_BUSY : AUTH_BAD_BASIC;
        goto out;
    }
    cache_digest(a, u->name, password, digest);
    if (cache_lookup(a, digest)) {
        atomic_fetch_add_explicit(&a->cache_hits, 1, memory_order_relaxed);
        st = AUTH_OK;
    } else {
        rc = bcrypt_verify(a, password, u->hash);
        st = rc < 0 ? AUTH_BUSY : rc ? AUTH_OK : AUTH_BAD_BASIC;
        if (st == AUTH_OK)
            cache_insert(a, digest);
    }
    if (st == AUTH_OK)
        copy_user(user, user_size, u->name);
out:
    explicit_bzero(plain, sizeof(plain));
    explicit_bzero(digest, sizeof(digest));
    return st;
}

enum auth_status
auth_check(struct auth *a,
           const char *authorization,
           char *user,
           size_t user_size)
{
    const char *p;
    size_t scheme_len;

    copy_user(user, user_size, "");
    if (!auth_enabled(a))
        return AUTH_OK;
    if (authorization == NULL || authorization[0] == '\0')
        return AUTH_MISSING;
    if (strlen(authorization) > AUTH_HEADER_MAX)
        return AUTH_MALFORMED;
    scheme_len = strcspn(authorization, " \t");
    p = authorization + scheme_len;
    p += strspn(p, " \t");
    if (*p == '\0')
        return AUTH_MALFORMED;
    /* Auth schemes are case-insensitive (RFC 9110, section 11.1). */
    if (scheme_len == 6 && strncasecmp(authorization, "Bearer", 6) == 0)
        return check_bearer(a, p, user, user_size);
    if (scheme_len == 5 && strncasecmp(authorization, "Basic", 5) == 0)
        return check_basic(a, p, user, user_size);
    return AUTH_BAD_SCHEME;
}

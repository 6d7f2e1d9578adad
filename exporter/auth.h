/* SPDX-License-Identifier: MIT */
/* Credentials of the HTTP endpoints: a bearer token and bcrypt Basic users. */
#ifndef DESKDB_EXPORTER_AUTH_H
#define DESKDB_EXPORTER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/err.h"

#define AUTH_REALM "deskdb"

/* bcrypt costs we accept; above 16 one check takes seconds (a CPU DoS). */
#define AUTH_BCRYPT_MIN_COST 4
#define AUTH_BCRYPT_MAX_COST 16

/* Verified (user, password) pairs remembered so scrapes skip bcrypt. */
#define AUTH_CACHE_SIZE 16

/* Longest Authorization header value we look at. */
#define AUTH_HEADER_MAX 1024

/* How long a request waits for the bcrypt mutex before giving up. */
#define AUTH_BCRYPT_WAIT_MS 2000

/*
 * One immutable set of credentials (plus its internally locked cache),
 * shared by the server's threads and reference counted so that a reload
 * can swap in a new set while requests still use the old one.
 */
struct auth;

enum auth_status {
    AUTH_OK = 0,
    AUTH_MISSING,    /* no Authorization header */
    AUTH_MALFORMED,  /* header or Basic payload cannot be parsed */
    AUTH_BAD_SCHEME, /* a scheme that is not configured */
    AUTH_BAD_TOKEN,  /* the bearer token does not match */
    AUTH_BAD_BASIC,  /* unknown user or wrong password (not told apart) */
    AUTH_BUSY,       /* too many bcrypt checks queued; try later */
};

/* Counters for tests and diagnostics (relaxed snapshots). */
struct auth_stats {
    uint64_t bcrypt_runs; /* every crypt_r call, decoys included */
    uint64_t decoy_runs;  /* crypt_r calls for unknown users */
    uint64_t cache_hits;
};

/*
 * Build the credentials of `cfg` (bearer_token, basic_users,
 * protect_metrics).  Fails with DESKDB_EINVAL naming the key (and its
 * file:line:column) for an empty or unprintable token, a bad user name or
 * a hash that is not bcrypt ($2a$, $2b$, $2y$, cost 4-16); DESKDB_ENOMEM.
 * Never puts a secret in `err`.  The result has one reference.
 */
struct auth *auth_create(const struct config_http *cfg,
                         struct deskdb_err *err) DESKDB_MUSTCHECK;

/* Take another reference; returns `a`. */
struct auth *auth_ref(struct auth *a);

/* Drop a reference; the last one frees (and wipes) everything.  NULL is a
 * no-op. */
void auth_unref(struct auth *a);

/* True when any credential is configured. */
bool auth_enabled(const struct auth *a);
bool auth_has_bearer(const struct auth *a);
bool auth_has_basic(const struct auth *a);
bool auth_protect_metrics(const struct auth *a);

/*
 * Check the value of an Authorization header (NULL when absent).  On
 * AUTH_OK the authenticated name ("token" for the bearer token) is copied
 * to `user` (may be NULL); otherwise `user` is empty.  May block: a Basic
 * check that misses the cache runs bcrypt under a mutex shared by all
 * requests, waiting at most AUTH_BCRYPT_WAIT_MS for it (AUTH_BUSY).
 * Unknown users cost one bcrypt of the highest configured cost too.
 */
enum auth_status auth_check(struct auth *a,
                            const char *authorization,
                            char *user,
                            size_t user_size);

/* Stable label for deskdb_http_auth_failures_total{reason}. */
const char *auth_status_reason(enum auth_status status);

void auth_get_stats(const struct auth *a, struct auth_stats *out);

/*
 * Compare two byte strings in time that depends only on `expected_len`:
 * every byte of `expected` is visited and a length difference is folded
 * into the result instead of returning early.
 */
bool auth_equal_ct(const void *expected,
                   size_t expected_len,
                   const void *given,
                   size_t given_len);

/* True if `hash` is a well-formed bcrypt hash we accept; its cost is
 * stored in `cost` (may be NULL). */
bool auth_bcrypt_hash_valid(const char *hash, int *cost);

#endif

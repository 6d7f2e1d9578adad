/* SPDX-License-Identifier: MIT */
/* Connection strings and URLs: redaction for display, and the libpq
 * connection string built from database.* (without linking libpq). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config/config_internal.h"
#include "core/buf.h"

#define URL_CAP (64 * 1024)

static bool
is_uri(const char *s)
{
    return strncmp(s, "postgresql://", 13) == 0 ||
           strncmp(s, "postgres://", 11) == 0;
}

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decode s[0..n) into out (at most size-1 bytes): libpq decodes
 * URI parameter names, so "pass%77ord" is "password". */
static void
uri_decode(const char *s, size_t n, char *out, size_t size)
{
    size_t i, o = 0;

    for (i = 0; i < n && o + 1 < size; i++) {
        if (s[i] == '%' && i + 2 < n && hex_value(s[i + 1]) >= 0 &&
            hex_value(s[i + 2]) >= 0) {
            out[o++] = (char)(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* libpq keywords are lower case, but "PASSWORD=x" must not be shown
 * either just because libpq would refuse it. */
static bool
is_secret_key(const char *key)
{
    return strcasecmp(key, "password") == 0 ||
           strcasecmp(key, "sslpassword") == 0;
}

/* ---- key=value connection strings ---------------------------------------- */

struct kv_token {
    const char *key;
    size_t key_len;
    const char *raw; /* the value as written, quotes included */
    size_t raw_len;
    char value[1024]; /* unescaped, truncated (only compared) */
};

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* The next keyword=value at *p, as libpq's conninfo_parse reads it.
 * Returns 1 for a token, 0 at the end, -1 for a syntax error. */
static int
kv_next(const char **p, struct kv_token *t)
{
    const char *s = *p;
    size_t o = 0;
    bool quoted;

    while (is_space(*s))
        s++;
    if (*s == '\0')
        return 0;
    t->key = s;
    while (*s != '\0' && *s != '=' && !is_space(*s))
        s++;
    t->key_len = (size_t)(s - t->key);
    while (is_space(*s))
        s++;
    if (*s != '=' || t->key_len == 0)
        return -1;
    s++;
    while (is_space(*s))
        s++;
    t->raw = s;
    quoted = *s == '\'';
    if (quoted)
        s++;
    while (*s != '\0' && (quoted ? *s != '\'' : !is_space(*s))) {
        if (*s == '\\' && s[1] != '\0')
            s++;
        if (o + 1 < sizeof(t->value))
            t->value[o++] = *s;
        s++;
    }
    if (quoted && *s++ != '\'')
        return -1;
    t->value[o] = '\0';
    t->raw_len = (size_t)(s - t->raw);
    *p = s;
    return 1;
}

static bool
key_is(const struct kv_token *t, const char *key)
{
    return t->key_len == strlen(key) && strncmp(t->key, key, t->key_len) == 0;
}

static int
put_quoted(struct buf *b, const char *s)
{
    int rc = buf_putc(b, '\'');

    for (; rc == 0 && *s != '\0'; s++) {
        if (*s == '\'' || *s == '\\')
            rc = buf_putc(b, '\\');
        if (rc == 0)
            rc = buf_putc(b, *s);
    }
    return rc == 0 ? buf_putc(b, '\'') : rc;
}

static char *redact(const char *url, int depth);

static int
redact_kv_value(struct buf *b, const struct kv_token *t, int depth)
{
    char *inner, key[64];
    int rc;

    snprintf(key,
             sizeof(key),
             "%.*s",
             (int)(t->key_len < sizeof(key) ? t->key_len : sizeof(key) - 1),
             t->key);
    if (is_secret_key(key))
        return buf_puts(b, "***");
    /* dbname may itself hold a connection string (expand_dbname) */
    if (key_is(t, "dbname") && (is_uri(t->value) || strchr(t->value, '='))) {
        inner = redact(t->value, depth + 1);
        if (inner == NULL)
            return DESKDB_ENOMEM;
        rc = put_quoted(b, inner);
        free(inner);
        return rc;
    }
    return buf_append(b, t->raw, t->raw_len);
}

static int
redact_kv(struct buf *b, const char *s, int depth)
{
    struct kv_token t;
    bool first = true;
    int r, rc = 0;

    while (rc == 0 && (r = kv_next(&s, &t)) > 0) {
        if (!first)
            rc = buf_putc(b, ' ');
        first = false;
        if (rc == 0)
            rc = buf_append(b, t.key, t.key_len);
        if (rc == 0)
            rc = buf_putc(b, '=');
        if (rc == 0)
            rc = redact_kv_value(b, &t, depth);
    }
    if (rc == 0 && r < 0)
        return DESKDB_EINVAL;
    return rc;
}

/* ---- URIs --------------------------------------------------------------- */

/* Copy query parameters, replacing values of keys that `hide` selects. */
static int
redact_query(struct buf *b, const char *q, bool (*hide)(const char *))
{
    int rc = 0;

    while (rc == 0 && *q != '\0') {
        size_t n = strcspn(q, "&"), k = strcspn(q, "=&");
        char key[256];

        uri_decode(q, k, key, sizeof(key));
        if (k < n && hide(key)) {
            rc = buf_append(b, q, k + 1);
            if (rc == 0)
                rc = buf_puts(b, "***");
        } else if (k == n && hide(key)) {
            rc = buf_puts(b, "***");
        } else {
            rc = buf_append(b, q, n);
        }
        q += n;
        if (rc == 0 && *q == '&') {
            rc = buf_putc(b, '&');
            q++;
        }
    }
    return rc;
}

/*
 * The authority at `a`: [userinfo@]hosts.  Like libpq, the userinfo is
 * whatever comes before an '@' ahead of the first '/'; taking the last
 * such '@' hides more, never less.  A password in the userinfo is hidden,
 * or the whole userinfo with `hide_user`.  Returns the authority length
 * through *len.
 */
static int
redact_authority(struct buf *b, const char *a, bool hide_user, size_t *len)
{
    size_t slash = strcspn(a, "/"), i, colon, host;
    const char *at = NULL;
    int rc = 0;

    for (i = 0; i < slash; i++) {
        if (a[i] == '@')
            at = a + i;
    }
    host = at ? (size_t)(at + 1 - a) : 0;
    /* an '@' further on (app:pa/ss@db) means we read it differently from
     * the library: show nothing rather than a password */
    if (a[host + strcspn(a + host, "@?#")] == '@')
        return DESKDB_EINVAL;
    *len = host + strcspn(a + host, "/?#");
    if (at != NULL) {
        colon = strcspn(a, ":@");
        if (hide_user)
            rc = buf_puts(b, "***@");
        else if (a + colon < at)
            rc = buf_append(b, a, colon + 1);
        else
            rc = buf_append(b, a, host);
        if (rc == 0 && !hide_user && a + colon < at)
            rc = buf_puts(b, "***@");
    }
    return rc == 0 ? buf_append(b, a + host, *len - host) : rc;
}

static int
redact_uri(struct buf *b, const char *s)
{
    const char *auth = strstr(s, "://") + 3, *rest, *q;
    size_t n;
    int rc;

    rc = buf_append(b, s, (size_t)(auth - s));
    if (rc == 0)
        rc = redact_authority(b, auth, false, &n);
    if (rc != 0)
        return rc;
    rest = auth + n;
    q = strchr(rest, '?');
    if (rc == 0)
        rc = buf_append(b, rest, q ? (size_t)(q - rest) : strlen(rest));
    if (rc == 0 && q != NULL) {
        rc = buf_putc(b, '?');
        if (rc == 0)
            rc = redact_query(b, q + 1, is_secret_key);
    }
    return rc;
}

static char *
redact(const char *url, int depth)
{
    struct buf b;
    int rc;

    if (depth > 1)
        return strdup("***");
    buf_init(&b, URL_CAP);
    if (is_uri(url))
        rc = redact_uri(&b, url);
    else
        rc = redact_kv(&b, url, depth);
    if (rc == 0 && b.data == NULL)
        rc = buf_puts(&b, "");
    if (rc == DESKDB_ENOMEM) {
        buf_fini(&b);
        return NULL;
    }
    if (rc < 0) {
        /* what we cannot parse, we do not show */
        buf_fini(&b);
        return strdup("***");
    }
    return buf_take(&b);
}

char *
config_redact_url(const char *url)
{
    return redact(url ? url : "", 0);
}

char *
cfg_display_database_url(const void *obj, const char *value)
{
    (void)obj;
    return config_redact_url(value);
}

static bool
hide_all(const char *key)
{
    (void)key;
    return true;
}

char *
config_redact_webhook_url(const char *url, bool hide_path)
{
    const char *sep = url ? strstr(url, "://") : NULL, *rest;
    size_t n, path_len;
    struct buf b;
    int rc;

    if (sep == NULL)
        return strdup("***");
    buf_init(&b, URL_CAP);
    rc = buf_append(&b, url, (size_t)(sep + 3 - url));
    if (rc == 0)
        rc = redact_authority(&b, sep + 3, true, &n);
    if (rc < 0) {
        buf_fini(&b);
        return rc == DESKDB_ENOMEM ? NULL : strdup("***");
    }
    rest = sep + 3 + n;
    path_len = strcspn(rest, "?#");
    if (rc == 0 && path_len > 0)
        rc = hide_path ? buf_puts(&b, "/***") : buf_append(&b, rest, path_len);
    if (rc == 0 && rest[path_len] == '?') {
        char *query =
            strndup(rest + path_len + 1, strcspn(rest + path_len + 1, "#"));

        rc = query ? buf_putc(&b, '?') : DESKDB_ENOMEM;
        if (rc == 0)
            rc = redact_query(&b, query, hide_all);
        free(query);
    }
    if (rc < 0) {
        buf_fini(&b);
        return rc == DESKDB_ENOMEM ? NULL : strdup("***");
    }
    return buf_take(&b);
}

/* ---- the libpq connection string ------------------------------------------
 */

static bool
uri_has_param(const char *url, const char *key)
{
    const char *q = strchr(url, '?');
    char name[256];

    while (q != NULL) {
        size_t k;

        q++;
        k = strcspn(q, "=&");
        uri_decode(q, k, name, sizeof(name));
        if (strcmp(name, key) == 0)
            return true;
        q = strchr(q, '&');
    }
    return false;
}

static bool
kv_has_param(const char *url, const char *key)
{
    struct kv_token t;

    while (kv_next(&url, &t) > 0) {
        if (key_is(&t, key))
            return true;
    }
    return false;
}

static int
put_encoded(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;

    for (; rc == 0 && *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
            rc = buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            rc = buf_append(b, e, 3);
        }
    }
    return rc;
}

static int
add_param(struct buf *b, const char *url, const char *key, const char *value)
{
    int rc;

    if (is_uri(url)) {
        char last = b->len ? b->data[b->len - 1] : '\0';

        rc = 0;
        if (last != '?' && last != '&')
            rc = buf_putc(b, strchr(b->data, '?') ? '&' : '?');
        if (rc == 0)
            rc = buf_printf(b, "%s=", key);
        return rc == 0 ? put_encoded(b, value) : rc;
    }
    rc = b->len ? buf_putc(b, ' ') : 0;
    if (rc == 0)
        rc = buf_printf(b, "%s=", key);
    return rc == 0 ? put_quoted(b, value) : rc;
}

static bool
has_param(const char *url, const char *key)
{
    return is_uri(url) ? uri_has_param(url, key) : kv_has_param(url, key);
}

char *
config_conninfo(const struct config *cfg)
{
    const struct config_database *db = &cfg->database;
    const char *url = db->url ? db->url : "";
    char timeout[32];
    struct buf b;
    int rc;

    /* libpq's connect_timeout is in whole seconds */
    snprintf(timeout,
             sizeof(timeout),
             "%lld",
             (long long)((cfg->pool.connect_timeout_ms + 999) / 1000));
    buf_init(&b, URL_CAP);
    rc = buf_puts(&b, url);
    if (rc == 0 && db->application_name && db->application_name[0] &&
        !has_param(url, "application_name"))
        rc = add_param(&b, url, "application_name", db->application_name);
    if (rc == 0 && cfg->pool.connect_timeout_ms > 0 &&
        !has_param(url, "connect_timeout"))
        rc = add_param(&b, url, "connect_timeout", timeout);
    /* later keywords win in libpq, so the password file beats the url */
    if (rc == 0 && db->password != NULL)
        rc = add_param(&b, url, "password", db->password);
    if (rc < 0) {
        if (b.data != NULL)
            explicit_bzero(b.data, b.alloc);
        buf_fini(&b);
        return NULL;
    }
    return buf_take(&b);
}

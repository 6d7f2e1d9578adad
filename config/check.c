/* SPDX-License-Identifier: MIT */
/* Format checks for configured names, addresses, URLs and hashes. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static bool
is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Length of the run of characters at `s` that satisfy `ok`. */
static size_t
span(const char *s, bool (*ok)(char))
{
    size_t n = 0;

    while (s[n] != '\0' && ok(s[n]))
        n++;
    return n;
}

static bool
name_char(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

const char *
cfg_valid_name(const char *s)
{
    size_t n = span(s, name_char);

    if (n == 0 || s[n] != '\0' || n > 63)
        return "use 1 to 63 characters from a-z, 0-9, '_' and '-'";
    return NULL;
}

static bool
word_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

const char *
cfg_valid_alert_name(const char *s)
{
    size_t n = span(s, word_char);

    if (n == 0 || s[n] != '\0' || n > 128 || is_digit(s[0]))
        return "use letters, digits and '_', not starting with a digit";
    return NULL;
}

static bool
ident_char(char c)
{
    return word_char(c) || c == '$';
}

/* One unquoted identifier at s; returns its length or 0. */
static size_t
identifier(const char *s)
{
    size_t n;

    if (!is_alpha(s[0]) && s[0] != '_')
        return 0;
    n = span(s, ident_char);
    return n <= 63 ? n : 0;
}

const char *
cfg_valid_identifier(const char *s)
{
    size_t n = identifier(s);

    if (n == 0 || s[n] != '\0')
        return "an unquoted SQL identifier of at most 63 characters";
    return NULL;
}

const char *
cfg_valid_relation(const char *s)
{
    size_t n = identifier(s);

    if (n > 0 && s[n] == '.')
        n += 1 + identifier(s + n + 1);
    if (n == 0 || s[n] != '\0' || s[n - 1] == '.')
        return "write name or schema.name with unquoted identifiers";
    return NULL;
}

const char *
cfg_valid_setting(const char *s)
{
    size_t n = span(s, word_char);

    if (n > 0 && s[n] == '.')
        n += 1 + span(s + n + 1, word_char);
    if (n == 0 || s[n] != '\0' || s[n - 1] == '.' || is_digit(s[0]) || n > 63)
        return "not a PostgreSQL setting name";
    return NULL;
}

const char *
cfg_valid_label_name(const char *s)
{
    size_t n = span(s, word_char);

    if (n == 0 || s[n] != '\0' || is_digit(s[0]))
        return "use letters, digits and '_', not starting with a digit";
    if (strncmp(s, "__", 2) == 0)
        return "names starting with '__' are reserved";
    return NULL;
}

const char *
cfg_valid_label_value(const char *s)
{
    if (strstr(s, "{{") != NULL)
        return "labels identify an alert and cannot use templates; "
               "put {{ ... }} in annotations";
    return NULL;
}

const char *
cfg_valid_user(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || *s == ':' || *s == 0x7F)
            return "user names cannot contain ':' or control characters";
    }
    return NULL;
}

static bool
host_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '-' || c == '_';
}

static bool
v6_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
           c == ':' || c == '.';
}

const char *
cfg_valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    size_t host_len, n;
    long port;

    if (colon == NULL || colon == s)
        return "write host:port, e.g. 127.0.0.1:9187 or [::1]:9187";
    host_len = (size_t)(colon - s);
    if (s[0] == '[') {
        n = span(s + 1, v6_char);
        if (n == 0 || s[n + 1] != ']' || n + 2 != host_len)
            return "an IPv6 address goes in brackets: [::1]:9187";
    } else if (span(s, host_char) != host_len || host_len > 253) {
        return "write host:port, e.g. 127.0.0.1:9187 or [::1]:9187";
    }
    n = span(colon + 1, is_digit);
    port = n > 0 && n <= 5 ? strtol(colon + 1, NULL, 10) : 0;
    if (colon[1 + n] != '\0' || port < 1 || port > 65535)
        return "the port must be a number from 1 to 65535";
    return NULL;
}

bool
cfg_listen_is_loopback(const char *s)
{
    return strncmp(s, "127.", 4) == 0 || strncmp(s, "localhost:", 10) == 0 ||
           strncmp(s, "[::1]:", 6) == 0;
}

static bool
bcrypt_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '.' || c == '/';
}

const char *
cfg_valid_bcrypt(const char *s)
{
    if (strlen(s) != 60 || s[0] != '$' || s[1] != '2' ||
        strchr("aby", s[2]) == NULL || s[3] != '$' || !is_digit(s[4]) ||
        !is_digit(s[5]) || s[6] != '$' || span(s + 7, bcrypt_char) != 53)
        return "not a bcrypt hash; create one with "
               "'htpasswd -nBC 12 USER'";
    if (strncmp(s + 4, "04", 2) < 0 || strncmp(s + 4, "31", 2) > 0)
        return "bcrypt cost must be between 04 and 31";
    return NULL;
}

const char *
cfg_valid_http_url(const char *s)
{
    const char *host;
    size_t i;

    if (strncmp(s, "http://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "https://", 8) == 0)
        host = s + 8;
    else
        return "must be an http:// or https:// URL";
    if (*host == '\0' || *host == '/' || *host == '?' || *host == '#')
        return "the URL has no host";
    for (i = 0; s[i] != '\0'; i++) {
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7F)
            return "the URL contains spaces or control characters";
    }
    return NULL;
}

struct ranked {
    const char *s;
    size_t index;
};

static int
compare_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c = strcmp(x->s, y->s);

    if (c != 0)
        return c;
    return (x->index > y->index) - (x->index < y->index);
}

ptrdiff_t
cfg_find_duplicate(const char *const *strs, size_t n)
{
    struct ranked *r;
    ptrdiff_t found = -1;
    size_t i;

    if (n < 2)
        return -1;
    r = malloc(n * sizeof(*r));
    if (r == NULL)
        return -2;
    for (i = 0; i < n; i++) {
        r[i].s = strs[i] ? strs[i] : "";
        r[i].index = i;
    }
    qsort(r, n, sizeof(*r), compare_ranked);
    for (i = 1; i < n; i++) {
        if (strcmp(r[i].s, r[i - 1].s) != 0)
            continue;
        if (found < 0 || (ptrdiff_t)r[i].index < found)
            found = (ptrdiff_t)r[i].index;
    }
    free(r);
    return found;
}

/* SPDX-License-Identifier: MIT */
/* Validation of operation input against field tables: the whole record is
 * checked before any transaction starts, and every message names the
 * field. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops_internal.h"

#define PATH_MAX_LEN   160
#define KEY_ECHO_MAX   64 /* bytes of an unknown key quoted in a message */
#define EMAIL_MAX      254
#define EMAIL_LOCAL    64
#define EMAIL_LABEL    63
#define SECRET_MAX     255
#define DECIMAL_DIGITS 30

bool
ops_uuid_valid(const char *s)
{
    static const char hex[] = "0123456789abcdefABCDEF";
    size_t i;

    if (s == NULL || strlen(s) != OPS_UUID_LEN)
        return false;
    for (i = 0; i < OPS_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (s[i] == '\0' || strchr(hex, s[i]) == NULL) {
            return false;
        }
    }
    return true;
}

const char *
ops_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* -?digits(.digits)?, at most DECIMAL_DIGITS digits. */
static bool
decimal_syntax(const char *s)
{
    size_t digits = 0, i = 0;
    bool point = false;

    if (s[i] == '-')
        i++;
    if (s[i] < '0' || s[i] > '9')
        return false;
    for (; s[i] != '\0'; i++) {
        if (s[i] >= '0' && s[i] <= '9') {
            digits++;
        } else if (s[i] == '.' && !point && s[i + 1] >= '0' &&
                   s[i + 1] <= '9') {
            point = true;
        } else {
            return false;
        }
    }
    return digits <= DECIMAL_DIGITS;
}

int
ops_decimal_text(const json_t *v, char out[OPS_NUM_MAX])
{
    if (json_is_integer(v)) {
        snprintf(out, OPS_NUM_MAX, "%lld", (long long)json_integer_value(v));
        return 0;
    }
    if (json_is_real(v)) {
        /* 15 significant digits give back the decimal that was written
         * for every value the columns can hold (numeric(12,2), (6,3)). */
        snprintf(out, OPS_NUM_MAX, "%.15g", json_real_value(v));
        return decimal_syntax(out) ? 0 : -1;
    }
    if (json_is_string(v) && json_string_length(v) < OPS_NUM_MAX &&
        decimal_syntax(json_string_value(v))) {
        snprintf(out, OPS_NUM_MAX, "%s", json_string_value(v));
        return 0;
    }
    return -1;
}

const char *
ops_num(const json_t *obj, const char *key, char buf[OPS_NUM_MAX])
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v) || ops_decimal_text(v, buf) != 0)
        return NULL;
    return buf;
}

/* Characters (code points) of valid UTF-8; -1 if it holds a control
 * character, which one-line fields do not take. */
static long
text_chars(const char *s, size_t len)
{
    long n = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x20 || ch == 0x7f)
            return -1;
        if ((ch & 0xc0) != 0x80)
            n++;
    }
    return n;
}

static bool
blank(const char *s)
{
    return s[strspn(s, " \t")] == '\0';
}

static bool
name_valid(const char *s, double min, double max)
{
    size_t n = strlen(s);

    if ((double)n < min || (double)n > max)
        return false;
    return strspn(s,
                  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789._-@") == n;
}

static bool
domain_valid(const char *d)
{
    size_t label = 0, labels = 0;

    for (const char *p = d;; p++) {
        unsigned char ch = (unsigned char)*p;

        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > EMAIL_LABEL || p[-1] == '-')
                return false;
            labels++;
            label = 0;
            if (ch == '\0')
                break;
            continue;
        }
        if (ch == '-' && label == 0)
            return false;
        if (!(ch >= 0x80 || ch == '-' || (ch >= '0' && ch <= '9') ||
              (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')))
            return false;
        label++;
    }
    return labels >= 2;
}

/* local@domain: the dot-atom form of RFC 5322 (UTF-8 allowed, RFC 6531),
 * no quoted local parts, no IP literals. */
static bool
email_valid(const char *s)
{
    static const char local_ok[] = "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                   ".!#$%&'*+/=?^_`{|}~-";
    const char *at = strchr(s, '@');
    size_t local;

    if (at == NULL || strlen(s) > EMAIL_MAX || strchr(at + 1, '@') != NULL)
        return false;
    local = (size_t)(at - s);
    if (local == 0 || local > EMAIL_LOCAL || s[0] == '.' || at[-1] == '.')
        return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (ch < 0x80 && strchr(local_ok, ch) == NULL)
            return false;
        if (ch == '.' && s[i + 1] == '.')
            return false;
    }
    return domain_valid(at + 1);
}

static bool
secret_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > SECRET_MAX || s[0] != '$')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

static bool
choice_valid(const char *s, const char *const *choices)
{
    for (size_t i = 0; choices[i] != NULL; i++) {
        if (strcmp(s, choices[i]) == 0)
            return true;
    }
    return false;
}

static void
choices_join(const char *const *choices, char *out, size_t size)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; choices[i] != NULL && used < size; i++) {
        int n = snprintf(out + used,
                         size - used,
                         "%s%s",
                         i > 0 ? ", " : "",
                         choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static int
check_text(const struct ops_field *f,
           const json_t *v,
           const char *path,
           struct deskdb_err *err)
{
    const char *s = json_string_value(v);
    long n = text_chars(s, json_string_length(v));

    if (n < 0)
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be one line without control "
                       "characters",
                       path);
    if ((double)n < f->min || (double)n > f->max || (f->min > 0 && blank(s)))
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be %g to %g characters, not blank",
                       path,
                       f->min,
                       f->max);
    return 0;
}

static int
check_number(const struct ops_field *f,
             const json_t *v,
             const char *path,
             struct deskdb_err *err)
{
    char text[OPS_NUM_MAX];
    const char *point;
    double d;

    if (f->type == OPS_F_INT) {
        if (!json_is_integer(v) || (double)json_integer_value(v) < f->min ||
            (double)json_integer_value(v) > f->max)
            return err_set(err,
                           DESKDB_EINVAL,
                           "field '%s' must be a whole number from %.15g to "
                           "%.15g",
                           path,
                           f->min,
                           f->max);
        return 0;
    }
    if (ops_decimal_text(v, text) != 0)
        goto bad;
    d = strtod(text, NULL);
    point = strchr(text, '.');
    if (!isfinite(d) || d < f->min || d > f->max ||
        (point != NULL && strlen(point + 1) > (size_t)f->scale))
        goto bad;
    return 0;
bad:
    return err_set(err,
                   DESKDB_EINVAL,
                   "field '%s' must be a number from %.15g to %.15g with at "
                   "most %d decimal places",
                   path,
                   f->min,
                   f->max,
                   f->scale);
}

static int check_object(const json_t *obj,
                        const struct ops_field *fields,
                        const char *prefix,
                        struct deskdb_err *err);

/* A string-typed field other than plain text; `s` is its value. */
static int
check_string(const struct ops_field *f,
             const char *s,
             const char *path,
             struct deskdb_err *err)
{
    char list[256];

    switch (f->type) {
    case OPS_F_UUID:
        if (ops_uuid_valid(s))
            return 0;
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be a UUID (8-4-4-4-12 hex digits)",
                       path);
    case OPS_F_NAME:
        if (name_valid(s, f->min, f->max))
            return 0;
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be %g to %g of the characters "
                       "A-Z a-z 0-9 . _ - @",
                       path,
                       f->min,
                       f->max);
    case OPS_F_EMAIL:
        if (email_valid(s))
            return 0;
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be an e-mail address such as "
                       "name@example.com",
                       path);
    case OPS_F_SECRET:
        if (secret_valid(s))
            return 0;
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be a crypt(3) hash such as "
                       "$2b$12$... (the value is not shown)",
                       path);
    default: /* OPS_F_ENUM */
        if (choice_valid(s, f->choices))
            return 0;
        choices_join(f->choices, list, sizeof(list));
        return err_set(err,
                       DESKDB_EINVAL,
                       "field '%s' must be one of %s",
                       path,
                       list);
    }
}

/* `v` is present and not null. */
static int
check_value(const struct ops_field *f,
            const json_t *v,
            const char *path,
            struct deskdb_err *err)
{
    switch (f->type) {
    case OPS_F_INT:
    case OPS_F_DECIMAL:
        return check_number(f, v, path, err);
    case OPS_F_OBJECT:
        if (!json_is_object(v))
            return err_set(err,
                           DESKDB_EINVAL,
                           "field '%s' must be an object",
                           path);
        return check_object(v, f->sub, path, err);
    default:
        break;
    }
    if (!json_is_string(v))
        return err_set(err, DESKDB_EINVAL, "field '%s' must be a string", path);
    if (f->type == OPS_F_TEXT)
        return check_text(f, v, path, err);
    return check_string(f, json_string_value(v), path, err);
}

static void
field_path(char *out, const char *prefix, const char *name)
{
    snprintf(out,
             PATH_MAX_LEN,
             "%s%s%s",
             prefix,
             prefix[0] != '\0' ? "." : "",
             name);
}

/* The first KEY_ECHO_MAX bytes of `key`, cut at a character boundary. */
static void
key_echo(char *out, const char *key)
{
    size_t n = strlen(key);

    if (n > KEY_ECHO_MAX) {
        n = KEY_ECHO_MAX;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)key[i] < 0x20 ? '?' : key[i];
    out[n] = '\0';
    if (n < strlen(key))
        strcat(out, "...");
}

static int
check_object(const json_t *obj,
             const struct ops_field *fields,
             const char *prefix,
             struct deskdb_err *err)
{
    char path[PATH_MAX_LEN], echo[KEY_ECHO_MAX + 4];
    const char *key;
    const json_t *v;
    const struct ops_field *f;
    int rc;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (f = fields; f->name != NULL; f++) {
            if (strcmp(f->name, key) == 0)
                break;
        }
        if (f->name == NULL) {
            key_echo(echo, key);
            field_path(path, prefix, echo);
            return err_set(err, DESKDB_EINVAL, "unknown field '%s'", path);
        }
    }
    for (f = fields; f->name != NULL; f++) {
        field_path(path, prefix, f->name);
        v = json_object_get(obj, f->name);
        if (v == NULL || json_is_null(v)) {
            if (f->required)
                return err_set(err, DESKDB_EINVAL, "missing field '%s'", path);
            continue;
        }
        rc = check_value(f, v, path, err);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int
ops_input_check(const json_t *obj,
                const struct ops_field *fields,
                const char *prefix,
                struct deskdb_err *err)
{
    if (!json_is_object(obj))
        return err_set(err, DESKDB_EINVAL, "input must be a JSON object");
    return check_object(obj, fields, prefix, err);
}

void
ops_input_normalize(json_t *obj, const struct ops_field *fields)
{
    char lower[OPS_UUID_LEN + 1];

    for (const struct ops_field *f = fields; f->name != NULL; f++) {
        json_t *v = json_object_get(obj, f->name);

        if (f->type == OPS_F_OBJECT && json_is_object(v)) {
            ops_input_normalize(v, f->sub);
        } else if (f->type == OPS_F_UUID && json_is_string(v) &&
                   ops_uuid_valid(json_string_value(v))) {
            const char *s = json_string_value(v);

            for (size_t i = 0; i <= OPS_UUID_LEN; i++)
                lower[i] =
                    (char)((s[i] >= 'A' && s[i] <= 'F') ? s[i] + 32 : s[i]);
            /* Should the copy fail for want of memory, the original
             * case stays, which PostgreSQL reads just as well. */
            (void)json_string_set(v, lower);
        }
    }
}

/* SPDX-License-Identifier: MIT */
/* Leaf values of the schema: numbers, booleans, names, strings (with path
 * resolution and secret files), string lists and string maps. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

static void *
at(void *obj, size_t off)
{
    return (char *)obj + off;
}

/* ---- numbers, booleans and names --------------------------------------- */

void
cfg_free_secret(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

const char *
cfg_kind_name(const struct cfg_node *n)
{
    switch (n->kind) {
    case CFG_NODE_SEQUENCE:
        return "list";
    case CFG_NODE_MAPPING:
        return "mapping";
    default:
        return "value";
    }
}

static bool
no_echo(const struct cfg_field *f)
{
    return (f->flags & (CFG_F_SECRET | CFG_F_NO_ECHO)) != 0;
}

/* The expanded text of scalar `n`; `what` names the expected type. */
static int
scalar_text(struct cfg_ctx *ctx,
            const struct cfg_node *n,
            const char *what,
            char **out)
{
    if (n->kind != CFG_NODE_SCALAR)
        return cfg_err_key(ctx,
                           n,
                           "expected %s, not a %s",
                           what,
                           cfg_kind_name(n));
    return cfg_expand(ctx, n, out);
}

static const char *
type_name(enum cfg_type t)
{
    switch (t) {
    case CFG_T_DURATION:
        return "duration";
    case CFG_T_SIZE:
        return "size";
    default:
        return "integer";
    }
}

static const char *
format_number(enum cfg_type t, int64_t v, char buf[48])
{
    if (t == CFG_T_DURATION)
        return config_format_duration(v, buf);
    if (t == CFG_T_SIZE)
        return cfg_format_size(v, buf);
    snprintf(buf, 48, "%lld", (long long)v);
    return buf;
}

static int
check_range(struct cfg_ctx *ctx,
            const struct cfg_field *f,
            const struct cfg_node *n,
            int64_t v)
{
    char a[48], b[48];

    if (v < f->min)
        return cfg_err_key(ctx,
                           n,
                           "must be at least %s (got %s)",
                           format_number(f->type, f->min, a),
                           format_number(f->type, v, b));
    if (v > f->max)
        return cfg_err_key(ctx,
                           n,
                           "must be at most %s (got %s)",
                           format_number(f->type, f->max, a),
                           format_number(f->type, v, b));
    return 0;
}

static int
parse_number(struct cfg_ctx *ctx,
             const struct cfg_field *f,
             const struct cfg_node *n,
             void *obj)
{
    const char *why = NULL;
    char *text = NULL, echo[80];
    int64_t v = 0;
    int rc;

    if (cfg_node_is_null(n)) {
        if (!(f->flags & CFG_F_UNSET_NEG))
            return cfg_err_key(ctx, n, "needs a value");
        *(int64_t *)at(obj, f->off) = -1;
        return 0;
    }
    rc = scalar_text(ctx,
                     n,
                     f->type == CFG_T_DURATION ? "a duration" : "a number",
                     &text);
    if (rc < 0)
        return rc;
    if (f->type == CFG_T_DURATION)
        rc = cfg_parse_duration(text, &v, &why);
    else if (f->type == CFG_T_SIZE)
        rc = cfg_parse_size(text, &v, &why);
    else
        rc = cfg_parse_int(text, &v, &why);
    if (rc < 0)
        rc = cfg_err_key(ctx,
                         n,
                         "invalid %s '%s' (%s)",
                         type_name(f->type),
                         cfg_echo(text, echo, sizeof(echo)),
                         why);
    else
        rc = check_range(ctx, f, n, v);
    free(text);
    if (rc < 0)
        return rc;
    if (f->type == CFG_T_INT)
        *(int *)at(obj, f->off) = (int)v;
    else
        *(int64_t *)at(obj, f->off) = v;
    return 0;
}

static int
parse_bool(struct cfg_ctx *ctx,
           const struct cfg_field *f,
           const struct cfg_node *n,
           void *obj)
{
    char *text = NULL, echo[80];
    int rc;

    if (cfg_node_is_null(n))
        return cfg_err_key(ctx, n, "needs a value (true or false)");
    rc = scalar_text(ctx, n, "true or false", &text);
    if (rc < 0)
        return rc;
    if (cfg_parse_bool(text, (bool *)at(obj, f->off)) < 0)
        rc = cfg_err_key(ctx,
                         n,
                         "invalid boolean '%s' (use true or false)",
                         cfg_echo(text, echo, sizeof(echo)));
    free(text);
    return rc;
}

static size_t
count_names(const char *const *names)
{
    size_t n = 0;

    while (names[n] != NULL)
        n++;
    return n;
}

int
cfg_unknown_name(struct cfg_ctx *ctx,
                 const struct cfg_node *n,
                 const char *what,
                 const char *s,
                 const char *const *names)
{
    char echo[80], list[256] = "";
    const char *hint = cfg_suggest(s, names, count_names(names));
    size_t i, len = 0;

    cfg_echo(s, echo, sizeof(echo));
    if (hint != NULL)
        return cfg_err_key(ctx,
                           n,
                           "unknown %s '%s' (did you mean '%s'?)",
                           what,
                           echo,
                           hint);
    for (i = 0; names[i] != NULL && len < sizeof(list); i++)
        len += (size_t)snprintf(list + len,
                                sizeof(list) - len,
                                "%s%s",
                                i == 0         ? ""
                                : names[i + 1] ? ", "
                                               : " or ",
                                names[i]);
    return cfg_err_key(ctx,
                       n,
                       "unknown %s '%s' (expected %s)",
                       what,
                       echo,
                       list);
}

static int
lookup_name(struct cfg_ctx *ctx,
            const struct cfg_node *n,
            const char *const *names,
            int *out)
{
    char *text = NULL;
    int i, rc;

    if (cfg_node_is_null(n))
        return cfg_err_key(ctx, n, "needs a value");
    rc = scalar_text(ctx, n, "a name", &text);
    if (rc < 0)
        return rc;
    for (i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], text) == 0) {
            *out = i;
            free(text);
            return 0;
        }
    }
    rc = cfg_unknown_name(ctx, n, "value", text, names);
    free(text);
    return rc;
}

static int
parse_flags(struct cfg_ctx *ctx,
            const struct cfg_field *f,
            const struct cfg_node *n,
            void *obj)
{
    unsigned bits = 0;
    size_t i;
    int idx, rc;

    if (!cfg_node_is_null(n)) {
        if (n->kind != CFG_NODE_SEQUENCE)
            return cfg_err_key(ctx,
                               n,
                               "expected a list, not a %s",
                               cfg_kind_name(n));
        for (i = 0; i < n->n_items; i++) {
            rc = lookup_name(ctx, n->items[i], f->names, &idx);
            if (rc < 0)
                return rc;
            bits |= 1u << idx;
        }
    }
    *(unsigned *)at(obj, f->off) = bits;
    return 0;
}

/* ---- strings ------------------------------------------------------------ */

static int
check_string(struct cfg_ctx *ctx,
             const struct cfg_field *f,
             const struct cfg_node *n,
             const char *s,
             int64_t min,
             int64_t max,
             const char *(*valid)(const char *))
{
    size_t len = strlen(s);
    const char *why;
    char echo[80];

    if (max == 0)
        max = CFG_DEFAULT_MAX_LEN;
    if ((int64_t)len < min)
        return cfg_err_key(ctx, n, "must not be empty");
    if ((int64_t)len > max)
        return cfg_err_key(ctx,
                           n,
                           "is too long (%zu bytes, at most %lld)",
                           len,
                           (long long)max);
    if (valid == NULL || (why = valid(s)) == NULL)
        return 0;
    if (no_echo(f))
        return cfg_err_key(ctx, n, "invalid value (%s)", why);
    return cfg_err_key(ctx,
                       n,
                       "invalid value '%s' (%s)",
                       cfg_echo(s, echo, sizeof(echo)),
                       why);
}

static const struct cfg_field *
sibling_at(const struct cfg_section *sec, size_t off)
{
    const struct cfg_field *g;

    for (g = sec->fields; g->name != NULL; g++) {
        if (g->off == off && !(g->flags & CFG_F_SECRET_FILE))
            return g;
    }
    return NULL;
}

/* A *_file key: read the secret it names into its target. */
static int
read_secret_into(struct cfg_ctx *ctx,
                 const struct cfg_section *sec,
                 const struct cfg_field *f,
                 const struct cfg_node *n,
                 const char *path,
                 void *obj)
{
    char **target = (char **)at(obj, f->off2);
    const struct cfg_field *key = sibling_at(sec, f->off2);
    char *secret = NULL;
    int rc;

    if ((f->flags & CFG_F_INTO_KEY) && *target != NULL)
        return cfg_err_key(ctx,
                           n,
                           "'%s' and '%s' are mutually exclusive",
                           key ? key->name : "?",
                           f->name);
    rc = cfg_read_secret_file(ctx, n, path, &secret);
    if (rc < 0)
        return rc;
    cfg_free_secret(*target);
    *target = secret;
    return 0;
}

static int
parse_string(struct cfg_ctx *ctx,
             const struct cfg_section *sec,
             const struct cfg_field *f,
             const struct cfg_node *n,
             void *obj)
{
    char *text = NULL, *resolved;
    char **slot;
    int rc;

    slot = f->type == CFG_T_PSTRING
               ? &((struct config_str *)at(obj, f->off))->value
               : (char **)at(obj, f->off);
    if (cfg_node_is_null(n)) {
        if (f->flags & CFG_F_REQUIRED)
            return cfg_err_key(ctx, n, "needs a value");
        /* null is "not set": a default, applied before parsing, stays
         * (modules rely on it: jobs.timezone was once NULL here) */
        if (f->def_str != NULL)
            return 0;
        free(*slot);
        *slot = NULL;
        return 0;
    }
    rc = scalar_text(ctx, n, "a string", &text);
    if (rc < 0)
        return rc;
    rc = check_string(ctx, f, n, text, f->min, f->max, f->valid);
    if (rc < 0)
        goto out;
    if (f->flags & CFG_F_PATH) {
        resolved = cfg_resolve_path(ctx, text);
        if (resolved == NULL) {
            rc = err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
            goto out;
        }
        free(text);
        text = resolved;
    }
    if (f->flags & CFG_F_SECRET_FILE) {
        rc = read_secret_into(ctx, sec, f, n, text, obj);
        if (rc < 0)
            goto out;
    }
    if (f->flags & CFG_F_SECRET)
        cfg_free_secret(*slot);
    else
        free(*slot);
    *slot = text;
    text = NULL;
    if (f->type == CFG_T_PSTRING)
        ((struct config_str *)at(obj, f->off))->pos = cfg_node_pos(ctx, n);
out:
    free(text);
    return rc;
}

int
cfg_check_count(struct cfg_ctx *ctx,
                const struct cfg_field *f,
                const struct cfg_node *n,
                size_t count)
{
    if ((int64_t)count < f->min)
        return cfg_err_key(ctx,
                           n,
                           "needs at least %lld item%s",
                           (long long)f->min,
                           f->min == 1 ? "" : "s");
    if (f->max > 0 && (int64_t)count > f->max)
        return cfg_err_key(ctx,
                           n,
                           "has too many items (at most %lld)",
                           (long long)f->max);
    return 0;
}

void
cfg_free_str_list(struct config_str *items, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(items[i].value);
    free(items);
}

static int
parse_str_list(struct cfg_ctx *ctx,
               const struct cfg_field *f,
               const struct cfg_node *n,
               void *obj)
{
    struct config_str **slot = (struct config_str **)at(obj, f->off);
    size_t *count = (size_t *)at(obj, f->off2);
    const struct cfg_node *const *items =
        (const struct cfg_node *const *)n->items;
    size_t i, len = n->n_items, saved;
    int rc = 0;

    cfg_free_str_list(*slot, *count);
    *slot = NULL;
    *count = 0;
    if (cfg_node_is_null(n))
        return cfg_check_count(ctx, f, n, 0);
    if (n->kind == CFG_NODE_SCALAR && (f->flags & CFG_F_SCALAR_LIST)) {
        items = &n;
        len = 1;
    } else if (n->kind != CFG_NODE_SEQUENCE) {
        return cfg_err_key(ctx,
                           n,
                           "expected a list, not a %s",
                           cfg_kind_name(n));
    }
    rc = cfg_check_count(ctx, f, n, len);
    if (rc < 0 || len == 0)
        return rc;
    *slot = calloc(len, sizeof(**slot));
    if (*slot == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    *count = len;
    for (i = 0; i < len && rc == 0; i++) {
        saved = cfg_path_push(ctx, "[%zu]", i);
        rc = scalar_text(ctx, items[i], "a string", &(*slot)[i].value);
        if (rc == 0)
            rc = check_string(ctx,
                              f,
                              items[i],
                              (*slot)[i].value,
                              1,
                              0,
                              f->valid);
        (*slot)[i].pos = cfg_node_pos(ctx, items[i]);
        cfg_path_pop(ctx, saved);
    }
    return rc;
}

void
cfg_free_kv(struct config_kv *kv, size_t n, bool secret)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(kv[i].key);
        if (secret)
            cfg_free_secret(kv[i].value);
        else
            free(kv[i].value);
    }
    free(kv);
}

static int
parse_pair(struct cfg_ctx *ctx,
           const struct cfg_field *f,
           const struct cfg_pair *p,
           struct config_kv *kv)
{
    size_t saved = cfg_path_push(ctx, ".%s", p->key->value);
    int rc;

    rc = check_string(ctx, f, p->key, p->key->value, 1, 255, f->valid);
    if (rc < 0)
        goto out;
    kv->key = strdup(p->key->value);
    if (kv->key == NULL) {
        rc = err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
        goto out;
    }
    if (cfg_node_is_null(p->value)) {
        rc = cfg_err_key(ctx, p->value, "needs a value");
        goto out;
    }
    rc = scalar_text(ctx, p->value, "a string", &kv->value);
    if (rc == 0)
        rc = check_string(ctx, f, p->value, kv->value, 0, 0, f->valid_value);
    kv->pos = cfg_node_pos(ctx, p->value);
out:
    cfg_path_pop(ctx, saved);
    return rc;
}

static int
parse_str_map(struct cfg_ctx *ctx,
              const struct cfg_field *f,
              const struct cfg_node *n,
              void *obj)
{
    struct config_kv **slot = (struct config_kv **)at(obj, f->off);
    size_t *count = (size_t *)at(obj, f->off2);
    size_t i;
    int rc = 0;

    cfg_free_kv(*slot, *count, (f->flags & CFG_F_SECRET) != 0);
    *slot = NULL;
    *count = 0;
    if (cfg_node_is_null(n))
        return 0;
    if (n->kind != CFG_NODE_MAPPING)
        return cfg_err_key(ctx,
                           n,
                           "expected a mapping, not a %s",
                           cfg_kind_name(n));
    rc = cfg_check_count(ctx, f, n, n->n_pairs);
    if (rc < 0 || n->n_pairs == 0)
        return rc;
    *slot = calloc(n->n_pairs, sizeof(**slot));
    if (*slot == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    *count = n->n_pairs;
    for (i = 0; i < n->n_pairs && rc == 0; i++)
        rc = parse_pair(ctx, f, &n->pairs[i], &(*slot)[i]);
    return rc;
}

int
cfg_parse_value(struct cfg_ctx *ctx,
                const struct cfg_section *sec,
                const struct cfg_field *f,
                const struct cfg_node *n,
                void *obj)
{
    switch (f->type) {
    case CFG_T_INT:
    case CFG_T_INT64:
    case CFG_T_DURATION:
    case CFG_T_SIZE:
        return parse_number(ctx, f, n, obj);
    case CFG_T_BOOL:
        return parse_bool(ctx, f, n, obj);
    case CFG_T_STRING:
    case CFG_T_PSTRING:
        return parse_string(ctx, sec, f, n, obj);
    case CFG_T_ENUM:
        return lookup_name(ctx, n, f->names, (int *)at(obj, f->off));
    case CFG_T_FLAGS:
        return parse_flags(ctx, f, n, obj);
    case CFG_T_STR_LIST:
        return parse_str_list(ctx, f, n, obj);
    case CFG_T_STR_MAP:
        return parse_str_map(ctx, f, n, obj);
    default:
        return err_set(ctx->err, DESKDB_EINVAL, "%s: not a value", f->name);
    }
}

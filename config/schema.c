/* SPDX-License-Identifier: MIT */
/* The schema engine: the key tables drive defaults, the walk over sections
 * and lists (leaf values are in schema_value.c), the cross-field checks,
 * and freeing. */
#include <string.h>
#include <stdlib.h>

#include "config/config_internal.h"

static void *
at(void *obj, size_t off)
{
    return (char *)obj + off;
}

static bool
applies(const struct cfg_field *f, const void *obj)
{
    return f->applies == NULL || f->applies(obj);
}

const struct cfg_field *
cfg_find_field(const struct cfg_section *sec, const char *name)
{
    const struct cfg_field *f;

    for (f = sec->fields; f->name != NULL; f++) {
        if (strcmp(f->name, name) == 0)
            return f;
    }
    return NULL;
}

/* ---- defaults ----------------------------------------------------------- */

static int
dup_default(const char *def, char **out)
{
    *out = NULL;
    if (def == NULL)
        return 0;
    *out = strdup(def);
    return *out == NULL ? DESKDB_ENOMEM : 0;
}

static int
default_list(const struct cfg_field *f, void *obj)
{
    struct config_str *items;

    if (f->def_str == NULL)
        return 0;
    items = calloc(1, sizeof(*items));
    if (items == NULL)
        return DESKDB_ENOMEM;
    *(struct config_str **)at(obj, f->off) = items;
    *(size_t *)at(obj, f->off2) = 1;
    return dup_default(f->def_str, &items[0].value);
}

static int
default_field(struct cfg_ctx *ctx, const struct cfg_field *f, void *obj)
{
    void *p = at(obj, f->off);

    switch (f->type) {
    case CFG_T_INT:
    case CFG_T_ENUM:
        *(int *)p = (int)f->def;
        return 0;
    case CFG_T_FLAGS:
        *(unsigned *)p = (unsigned)f->def;
        return 0;
    case CFG_T_INT64:
    case CFG_T_DURATION:
    case CFG_T_SIZE:
        *(int64_t *)p = f->def;
        return 0;
    case CFG_T_BOOL:
        *(bool *)p = f->def != 0;
        return 0;
    case CFG_T_STRING:
        return dup_default(f->def_str, (char **)p);
    case CFG_T_PSTRING:
        return dup_default(f->def_str, &((struct config_str *)p)->value);
    case CFG_T_STR_LIST:
        return default_list(f, obj);
    case CFG_T_SECTION:
        return cfg_apply_defaults(ctx, f->sub, p);
    case CFG_T_SECTION_PTR:
        *(void **)p = calloc(1, f->sub->size);
        if (*(void **)p == NULL)
            return DESKDB_ENOMEM;
        return cfg_apply_defaults(ctx, f->sub, *(void **)p);
    case CFG_T_STR_MAP:
    case CFG_T_SECTION_LIST:
    case CFG_T_VARIANT_LIST:
        return 0;
    }
    return 0;
}

int
cfg_apply_defaults(struct cfg_ctx *ctx,
                   const struct cfg_section *sec,
                   void *obj)
{
    const struct cfg_field *f;
    int rc;

    for (f = sec->fields; f->name != NULL; f++) {
        rc = default_field(ctx, f, obj);
        if (rc < 0)
            return err_set(ctx->err, rc, "out of memory");
    }
    return 0;
}

/* ---- sections ----------------------------------------------------------- */

static int
as_mapping(struct cfg_ctx *ctx,
           const struct cfg_node *n,
           const struct cfg_node **map)
{
    *map = NULL;
    if (n == NULL || cfg_node_is_null(n))
        return 0;
    if (n->kind != CFG_NODE_MAPPING)
        return cfg_err_key(ctx,
                           n,
                           "expected a mapping, not a %s",
                           cfg_kind_name(n));
    *map = n;
    return 0;
}

static int
parse_nested(struct cfg_ctx *ctx,
             const struct cfg_section *sub,
             const struct cfg_node *n,
             void *obj)
{
    const struct cfg_node *map;
    int rc = as_mapping(ctx, n, &map);

    if (rc < 0)
        return rc;
    return cfg_parse_section(ctx, sub, map, obj);
}

static int
alloc_elements(struct cfg_ctx *ctx,
               const struct cfg_field *f,
               const struct cfg_node *n,
               void *obj,
               void **items)
{
    int rc;

    *items = NULL;
    if (cfg_node_is_null(n))
        return cfg_check_count(ctx, f, n, 0);
    if (n->kind != CFG_NODE_SEQUENCE)
        return cfg_err_key(ctx,
                           n,
                           "expected a list, not a %s",
                           cfg_kind_name(n));
    rc = cfg_check_count(ctx, f, n, n->n_items);
    if (rc < 0 || n->n_items == 0)
        return rc;
    *items = calloc(n->n_items, f->sub->size);
    if (*items == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    /* counted at once so that config_destroy() frees a partial list */
    *(void **)at(obj, f->off) = *items;
    *(size_t *)at(obj, f->off2) = n->n_items;
    return 0;
}

static int
parse_section_list(struct cfg_ctx *ctx,
                   const struct cfg_field *f,
                   const struct cfg_node *n,
                   void *obj)
{
    void *items;
    size_t i, saved;
    int rc;

    rc = alloc_elements(ctx, f, n, obj, &items);
    for (i = 0; rc == 0 && items != NULL && i < n->n_items; i++) {
        void *elem = at(items, i * f->sub->size);

        saved = cfg_path_push(ctx, "[%zu]", i);
        if (n->items[i]->kind != CFG_NODE_MAPPING)
            rc = cfg_err_key(ctx,
                             n->items[i],
                             "expected a mapping, not a %s",
                             cfg_kind_name(n->items[i]));
        if (rc == 0)
            rc = cfg_apply_defaults(ctx, f->sub, elem);
        if (rc == 0)
            rc = cfg_parse_section(ctx, f->sub, n->items[i], elem);
        cfg_path_pop(ctx, saved);
    }
    return rc;
}

static const struct cfg_variant *
variant_by_tag(const struct cfg_section *sec, int tag)
{
    const struct cfg_variant *v;

    for (v = sec->variants; v->name != NULL; v++) {
        if (v->tag == tag)
            return v;
    }
    return NULL;
}

static int
parse_variant(struct cfg_ctx *ctx,
              const struct cfg_section *sec,
              const struct cfg_node *item,
              void *elem)
{
    const char *names[16];
    const struct cfg_variant *v;
    const struct cfg_node *map;
    size_t n = 0, saved;
    int rc;

    if (item->kind != CFG_NODE_MAPPING || item->n_pairs != 1)
        return cfg_err_key(ctx,
                           item,
                           "each entry is a mapping with one key naming "
                           "its kind, e.g. {analyze: {tables: [...]}}");
    for (v = sec->variants; v->name != NULL && n < 16; v++) {
        names[n++] = v->name;
        if (strcmp(v->name, item->pairs[0].key->value) == 0)
            break;
    }
    if (v->name == NULL) {
        names[n] = NULL;
        return cfg_unknown_name(ctx,
                                item->pairs[0].key,
                                "kind",
                                item->pairs[0].key->value,
                                names);
    }
    *(int *)at(elem, sec->tag_off) = v->tag;
    *(struct config_pos *)at(elem, sec->pos_off) = cfg_node_pos(ctx, item);
    saved = cfg_path_push(ctx, ".%s", v->name);
    rc = as_mapping(ctx, item->pairs[0].value, &map);
    if (rc == 0)
        rc = cfg_apply_defaults(ctx, v->section, elem);
    if (rc == 0)
        rc = cfg_parse_section(ctx, v->section, map, elem);
    cfg_path_pop(ctx, saved);
    return rc;
}

static int
parse_variant_list(struct cfg_ctx *ctx,
                   const struct cfg_field *f,
                   const struct cfg_node *n,
                   void *obj)
{
    void *items;
    size_t i, saved;
    int rc;

    rc = alloc_elements(ctx, f, n, obj, &items);
    for (i = 0; rc == 0 && items != NULL && i < n->n_items; i++) {
        saved = cfg_path_push(ctx, "[%zu]", i);
        rc = parse_variant(ctx,
                           f->sub,
                           n->items[i],
                           at(items, i * f->sub->size));
        cfg_path_pop(ctx, saved);
    }
    return rc;
}

static int
parse_field(struct cfg_ctx *ctx,
            const struct cfg_section *sec,
            const struct cfg_field *f,
            const struct cfg_node *n,
            void *obj)
{
    switch (f->type) {
    case CFG_T_SECTION:
        return parse_nested(ctx, f->sub, n, at(obj, f->off));
    case CFG_T_SECTION_PTR:
        return parse_nested(ctx, f->sub, n, *(void **)at(obj, f->off));
    case CFG_T_SECTION_LIST:
        return parse_section_list(ctx, f, n, obj);
    case CFG_T_VARIANT_LIST:
        return parse_variant_list(ctx, f, n, obj);
    default:
        return cfg_parse_value(ctx, sec, f, n, obj);
    }
}

static int
unknown_key(struct cfg_ctx *ctx,
            const struct cfg_section *sec,
            const struct cfg_node *key)
{
    const char *names[64];
    const struct cfg_field *f;
    const char *hint;
    char echo[80];
    size_t n = 0;

    for (f = sec->fields; f->name != NULL && n < 64; f++)
        names[n++] = f->name;
    hint = cfg_suggest(key->value, names, n);
    cfg_echo(key->value, echo, sizeof(echo));
    if (hint != NULL)
        return cfg_err(ctx,
                       key,
                       "unknown key '%s'%s%s (did you mean '%s'?)",
                       echo,
                       ctx->path_len ? " in " : "",
                       ctx->path,
                       hint);
    return cfg_err(ctx,
                   key,
                   "unknown key '%s'%s%s",
                   echo,
                   ctx->path_len ? " in " : "",
                   ctx->path);
}

/* Whether another entry with the same key applies (e.g. steps). */
static bool
other_applies(const struct cfg_section *sec,
              const struct cfg_field *f,
              const void *obj)
{
    const struct cfg_field *g;

    for (g = sec->fields; g->name != NULL; g++) {
        if (g != f && strcmp(g->name, f->name) == 0 && applies(g, obj))
            return true;
    }
    return false;
}

static int
parse_key(struct cfg_ctx *ctx,
          const struct cfg_section *sec,
          const struct cfg_field *f,
          const struct cfg_node *map,
          void *obj)
{
    const struct cfg_node *n = cfg_node_get(map, f->name);
    size_t saved;
    int rc = 0;

    saved = cfg_path_push(ctx, "%s%s", ctx->path_len ? "." : "", f->name);
    if (!applies(f, obj)) {
        if (n != NULL && !other_applies(sec, f, obj))
            rc = cfg_err_key(ctx, n, "only valid with %s", f->only);
    } else if (n != NULL) {
        rc = parse_field(ctx, sec, f, n, obj);
    } else if (!(f->flags & CFG_F_REQUIRED) &&
               (f->type == CFG_T_SECTION || f->type == CFG_T_SECTION_PTR)) {
        /* an absent section still gets its fill() */
        rc = parse_field(ctx, sec, f, NULL, obj);
    } else if (f->flags & CFG_F_REQUIRED) {
        cfg_path_pop(ctx, saved);
        if (map != NULL)
            return cfg_err(ctx,
                           map,
                           "missing required key '%s'%s%s",
                           f->name,
                           ctx->path_len ? " in " : "",
                           ctx->path);
        return cfg_err_key(ctx, NULL, "missing required key '%s'", f->name);
    }
    cfg_path_pop(ctx, saved);
    return rc;
}

int
cfg_parse_section(struct cfg_ctx *ctx,
                  const struct cfg_section *sec,
                  const struct cfg_node *map,
                  void *obj)
{
    const struct cfg_field *f;
    size_t i;
    int rc;

    if (map != NULL && sec->pos_off != CFG_NO_POS)
        *(struct config_pos *)at(obj, sec->pos_off) = cfg_node_pos(ctx, map);
    for (i = 0; map != NULL && i < map->n_pairs; i++) {
        if (cfg_find_field(sec, map->pairs[i].key->value) == NULL)
            return unknown_key(ctx, sec, map->pairs[i].key);
    }
    for (f = sec->fields; f->name != NULL; f++) {
        rc = parse_key(ctx, sec, f, map, obj);
        if (rc < 0)
            return rc;
    }
    return sec->fill ? sec->fill(ctx, map, obj) : 0;
}

/* ---- cross-field checks ------------------------------------------------- */

static const struct cfg_node *
mapping_or_null(const struct cfg_node *n)
{
    return n != NULL && n->kind == CFG_NODE_MAPPING ? n : NULL;
}

static const struct cfg_node *
item_at(const struct cfg_node *list, size_t i)
{
    if (list == NULL || list->kind != CFG_NODE_SEQUENCE || i >= list->n_items)
        return NULL;
    return list->items[i];
}

static int
check_list(struct cfg_ctx *ctx,
           const struct cfg_field *f,
           const struct cfg_node *n,
           void *obj)
{
    void *items = *(void **)at(obj, f->off);
    size_t count = *(size_t *)at(obj, f->off2), i, saved;
    const struct cfg_section *sec = f->sub;
    int rc = 0;

    for (i = 0; i < count && rc == 0; i++) {
        void *elem = at(items, i * f->sub->size);
        const struct cfg_node *item = item_at(n, i);

        saved = cfg_path_push(ctx, "[%zu]", i);
        if (f->type == CFG_T_VARIANT_LIST) {
            const struct cfg_variant *v =
                variant_by_tag(f->sub, *(int *)at(elem, f->sub->tag_off));

            sec = v->section;
            cfg_path_push(ctx, ".%s", v->name);
            /* {reindex: null} has no mapping of its own: blame the entry */
            if (item != NULL && item->n_pairs == 1 &&
                item->pairs[0].value->kind == CFG_NODE_MAPPING)
                item = item->pairs[0].value;
        }
        rc = cfg_check_section(ctx, sec, mapping_or_null(item), elem);
        cfg_path_pop(ctx, saved);
    }
    return rc;
}

int
cfg_check_section(struct cfg_ctx *ctx,
                  const struct cfg_section *sec,
                  const struct cfg_node *map,
                  void *obj)
{
    const struct cfg_field *f;
    const struct cfg_node *n;
    size_t saved;
    int rc = 0;

    for (f = sec->fields; f->name != NULL && rc == 0; f++) {
        if (!applies(f, obj))
            continue;
        n = cfg_node_get(map, f->name);
        saved = cfg_path_push(ctx, "%s%s", ctx->path_len ? "." : "", f->name);
        if (f->type == CFG_T_SECTION)
            rc = cfg_check_section(ctx,
                                   f->sub,
                                   mapping_or_null(n),
                                   at(obj, f->off));
        else if (f->type == CFG_T_SECTION_PTR)
            rc = cfg_check_section(ctx,
                                   f->sub,
                                   mapping_or_null(n),
                                   *(void **)at(obj, f->off));
        else if (f->type == CFG_T_SECTION_LIST || f->type == CFG_T_VARIANT_LIST)
            rc = check_list(ctx, f, n, obj);
        cfg_path_pop(ctx, saved);
    }
    if (rc == 0 && sec->check != NULL)
        rc = sec->check(ctx, map, obj);
    return rc;
}

/* ---- freeing ------------------------------------------------------------ */

static void
free_elements(const struct cfg_field *f, void *obj)
{
    void *items = *(void **)at(obj, f->off);
    size_t count = *(size_t *)at(obj, f->off2), i;

    for (i = 0; i < count; i++) {
        void *elem = at(items, i * f->sub->size);

        if (f->type == CFG_T_SECTION_LIST) {
            cfg_free_section(f->sub, elem);
        } else {
            const struct cfg_variant *v =
                variant_by_tag(f->sub, *(int *)at(elem, f->sub->tag_off));
            if (v != NULL)
                cfg_free_section(v->section, elem);
        }
    }
    free(items);
}

static void
free_field(const struct cfg_field *f, void *obj)
{
    void *p = at(obj, f->off);

    switch (f->type) {
    case CFG_T_STRING:
        if (f->flags & CFG_F_SECRET)
            cfg_free_secret(*(char **)p);
        else
            free(*(char **)p);
        if ((f->flags & CFG_F_SECRET_FILE) && !(f->flags & CFG_F_INTO_KEY))
            cfg_free_secret(*(char **)at(obj, f->off2));
        break;
    case CFG_T_PSTRING:
        free(((struct config_str *)p)->value);
        break;
    case CFG_T_STR_LIST:
        cfg_free_str_list(*(struct config_str **)p,
                          *(size_t *)at(obj, f->off2));
        break;
    case CFG_T_STR_MAP:
        cfg_free_kv(*(struct config_kv **)p,
                    *(size_t *)at(obj, f->off2),
                    (f->flags & CFG_F_SECRET) != 0);
        break;
    case CFG_T_SECTION:
        cfg_free_section(f->sub, p);
        break;
    case CFG_T_SECTION_PTR:
        if (*(void **)p != NULL)
            cfg_free_section(f->sub, *(void **)p);
        free(*(void **)p);
        break;
    case CFG_T_SECTION_LIST:
    case CFG_T_VARIANT_LIST:
        free_elements(f, obj);
        break;
    default:
        break;
    }
}

void
cfg_free_section(const struct cfg_section *sec, void *obj)
{
    const struct cfg_field *f;

    for (f = sec->fields; f->name != NULL; f++)
        free_field(f, obj);
}

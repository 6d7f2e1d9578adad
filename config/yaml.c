/* SPDX-License-Identifier: MIT */
/* The only user of libyaml: one YAML document into an owned node tree. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/config_internal.h"

/*
 * libyaml 0.2.5 has no nesting limit and parses deep nesting in quadratic
 * time, and it hands out anchors and aliases for the caller to expand.  We
 * use the event API, stop at CFG_MAX_DEPTH and refuse anchors outright, so
 * neither a "billion laughs" file nor a deep one costs more than a linear
 * pass over at most CFG_MAX_FILE_SIZE bytes.
 */

struct level {
    struct cfg_node *node;
    struct cfg_node *key; /* mapping: the key waiting for its value */
    size_t cap;           /* allocated items or pairs */
};

struct builder {
    const char *name;
    const char *data;
    size_t len;
    struct deskdb_err *err;
    struct cfg_node *root;
    struct level stack[CFG_MAX_DEPTH];
    size_t depth;
    size_t n_nodes;
    int documents;
};

void
cfg_node_free(struct cfg_node *n)
{
    size_t i;

    if (n == NULL)
        return;
    for (i = 0; i < n->n_items; i++)
        cfg_node_free(n->items[i]);
    for (i = 0; i < n->n_pairs; i++) {
        cfg_node_free(n->pairs[i].key);
        cfg_node_free(n->pairs[i].value);
    }
    free(n->items);
    free(n->pairs);
    free(n->value);
    free(n);
}

const struct cfg_node *
cfg_node_get(const struct cfg_node *map, const char *key)
{
    size_t i;

    if (map == NULL || map->kind != CFG_NODE_MAPPING)
        return NULL;
    for (i = 0; i < map->n_pairs; i++) {
        if (strcmp(map->pairs[i].key->value, key) == 0)
            return map->pairs[i].value;
    }
    return NULL;
}

bool
cfg_node_is_null(const struct cfg_node *n)
{
    if (n == NULL || n->kind != CFG_NODE_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->value, "~") == 0 ||
           strcmp(n->value, "null") == 0 || strcmp(n->value, "Null") == 0 ||
           strcmp(n->value, "NULL") == 0;
}

static int
fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
    DESKDB_PRINTF(3, 4);

static int
fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
{
    char msg[sizeof(b->err->msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return err_set(b->err,
                   DESKDB_EINVAL,
                   "%s:%zu:%zu: %s",
                   b->name,
                   mark->line + 1,
                   mark->column + 1,
                   msg);
}

/* Reader errors carry a byte offset instead of a mark. */
static void
offset_to_mark(const struct builder *b, size_t offset, yaml_mark_t *mark)
{
    size_t i;

    mark->line = 0;
    mark->column = 0;
    for (i = 0; i < offset && i < b->len; i++) {
        if (b->data[i] == '\n') {
            mark->line++;
            mark->column = 0;
        } else if (((unsigned char)b->data[i] & 0xC0) != 0x80) {
            mark->column++;
        }
    }
}

static int
parser_error(struct builder *b, yaml_parser_t *parser)
{
    yaml_mark_t mark = parser->problem_mark;
    const char *problem = parser->problem ? parser->problem : "syntax error";

    if (parser->error == YAML_MEMORY_ERROR)
        return err_set(b->err, DESKDB_ENOMEM, "%s: out of memory", b->name);
    if (parser->error == YAML_READER_ERROR) {
        offset_to_mark(b, parser->problem_offset, &mark);
        if (parser->problem_value >= 0)
            return fail_at(b,
                           &mark,
                           "invalid YAML: %s (byte 0x%02x)",
                           problem,
                           (unsigned)parser->problem_value & 0xFF);
        return fail_at(b, &mark, "invalid YAML: %s", problem);
    }
    if (parser->context != NULL)
        return fail_at(b,
                       &mark,
                       "invalid YAML: %s (%s)",
                       problem,
                       parser->context);
    return fail_at(b, &mark, "invalid YAML: %s", problem);
}

static int
grow(void **array, size_t *cap, size_t n, size_t size)
{
    size_t want = *cap ? *cap * 2 : 4;
    void *p;

    if (n < *cap)
        return 0;
    p = realloc(*array, want * size);
    if (p == NULL)
        return DESKDB_ENOMEM;
    *array = p;
    *cap = want;
    return 0;
}

static int
node_new(struct builder *b,
         const yaml_event_t *ev,
         enum cfg_node_kind kind,
         struct cfg_node **out)
{
    struct cfg_node *n;

    *out = NULL;
    if (++b->n_nodes > CFG_MAX_NODES)
        return fail_at(b,
                       &ev->start_mark,
                       "too many values (more than %d)",
                       CFG_MAX_NODES);
    n = calloc(1, sizeof(*n));
    if (n == NULL)
        return err_set(b->err, DESKDB_ENOMEM, "%s: out of memory", b->name);
    n->kind = kind;
    n->line = (int)ev->start_mark.line + 1;
    n->column = (int)ev->start_mark.column + 1;
    *out = n;
    return 0;
}

/* Hang `n` under the innermost open container (or make it the root). */
static int
attach(struct builder *b, struct cfg_node *n, const yaml_event_t *ev)
{
    struct level *lv;

    if (b->depth == 0) {
        b->root = n;
        return 0;
    }
    lv = &b->stack[b->depth - 1];
    if (lv->node->kind == CFG_NODE_SEQUENCE) {
        if (grow((void **)&lv->node->items,
                 &lv->cap,
                 lv->node->n_items,
                 sizeof(*lv->node->items)) < 0)
            goto nomem;
        lv->node->items[lv->node->n_items++] = n;
        return 0;
    }
    if (lv->key == NULL) {
        if (n->kind != CFG_NODE_SCALAR) {
            cfg_node_free(n);
            return fail_at(b, &ev->start_mark, "mapping keys must be strings");
        }
        if (n->plain && strcmp(n->value, "<<") == 0) {
            cfg_node_free(n);
            return fail_at(b,
                           &ev->start_mark,
                           "merge keys ('<<') are not supported");
        }
        lv->key = n;
        return 0;
    }
    if (grow((void **)&lv->node->pairs,
             &lv->cap,
             lv->node->n_pairs,
             sizeof(*lv->node->pairs)) < 0)
        goto nomem;
    lv->node->pairs[lv->node->n_pairs].key = lv->key;
    lv->node->pairs[lv->node->n_pairs].value = n;
    lv->node->n_pairs++;
    lv->key = NULL;
    return 0;
nomem:
    cfg_node_free(n);
    return err_set(b->err, DESKDB_ENOMEM, "%s: out of memory", b->name);
}

static int
compare_keys(const void *a, const void *b)
{
    const struct cfg_node *x = *(const struct cfg_node *const *)a;
    const struct cfg_node *y = *(const struct cfg_node *const *)b;
    int c = strcmp(x->value, y->value);

    if (c != 0)
        return c;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return (x->column > y->column) - (x->column < y->column);
}

static bool
before(const struct cfg_node *a, const struct cfg_node *b)
{
    return a->line < b->line || (a->line == b->line && a->column < b->column);
}

/* Sorting keeps this O(n log n) for mappings with many keys. */
static int
check_duplicates(struct builder *b, const struct cfg_node *map)
{
    const struct cfg_node **keys;
    const struct cfg_node *dup = NULL, *first = NULL;
    size_t i;

    if (map->n_pairs < 2)
        return 0;
    keys = malloc(map->n_pairs * sizeof(*keys));
    if (keys == NULL)
        return err_set(b->err, DESKDB_ENOMEM, "%s: out of memory", b->name);
    for (i = 0; i < map->n_pairs; i++)
        keys[i] = map->pairs[i].key;
    qsort(keys, map->n_pairs, sizeof(*keys), compare_keys);
    for (i = 1; i < map->n_pairs; i++) {
        if (strcmp(keys[i]->value, keys[i - 1]->value) != 0)
            continue;
        /* keys[i - 1] is the first of its group only if it differs from
         * the one before it; report the earliest repetition in the file */
        if (i >= 2 && strcmp(keys[i - 2]->value, keys[i]->value) == 0)
            continue;
        if (dup == NULL || before(keys[i], dup)) {
            dup = keys[i];
            first = keys[i - 1];
        }
    }
    free(keys);
    if (dup == NULL)
        return 0;
    return err_set(b->err,
                   DESKDB_EINVAL,
                   "%s:%d:%d: duplicate key '%s' (first at line %d)",
                   b->name,
                   dup->line,
                   dup->column,
                   dup->value,
                   first->line);
}

static int
refuse_decorations(struct builder *b,
                   const yaml_event_t *ev,
                   const yaml_char_t *anchor,
                   const yaml_char_t *tag)
{
    if (anchor != NULL)
        return fail_at(b,
                       &ev->start_mark,
                       "anchors and aliases are not supported (&%s)",
                       (const char *)anchor);
    if (tag != NULL)
        return fail_at(b, &ev->start_mark, "YAML tags are not supported");
    return 0;
}

static int
on_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct cfg_node *n;
    size_t len = ev->data.scalar.length;
    int rc;

    rc = refuse_decorations(b, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
    if (rc < 0)
        return rc;
    if (memchr(ev->data.scalar.value, '\0', len) != NULL)
        return fail_at(b, &ev->start_mark, "value contains a NUL character");
    rc = node_new(b, ev, CFG_NODE_SCALAR, &n);
    if (rc < 0)
        return rc;
    n->value = malloc(len + 1);
    if (n->value == NULL) {
        free(n);
        return err_set(b->err, DESKDB_ENOMEM, "%s: out of memory", b->name);
    }
    memcpy(n->value, ev->data.scalar.value, len);
    n->value[len] = '\0';
    n->len = len;
    n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    return attach(b, n, ev);
}

static int
on_start(struct builder *b, const yaml_event_t *ev, enum cfg_node_kind kind)
{
    const yaml_char_t *anchor, *tag;
    struct cfg_node *n;
    int rc;

    if (kind == CFG_NODE_MAPPING) {
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
    } else {
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
    }
    rc = refuse_decorations(b, ev, anchor, tag);
    if (rc < 0)
        return rc;
    if (b->depth == CFG_MAX_DEPTH)
        return fail_at(b,
                       &ev->start_mark,
                       "nesting deeper than %d levels",
                       CFG_MAX_DEPTH);
    rc = node_new(b, ev, kind, &n);
    if (rc < 0)
        return rc;
    rc = attach(b, n, ev);
    if (rc < 0)
        return rc;
    b->stack[b->depth].node = n;
    b->stack[b->depth].key = NULL;
    b->stack[b->depth].cap = 0;
    b->depth++;
    return 0;
}

static int
on_end(struct builder *b)
{
    struct level *lv = &b->stack[--b->depth];

    if (lv->node->kind == CFG_NODE_MAPPING)
        return check_duplicates(b, lv->node);
    return 0;
}

static int
on_event(struct builder *b, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (b->documents > 0)
            return fail_at(b,
                           &ev->start_mark,
                           "more than one YAML document in the file");
        if (ev->data.document_start.tag_directives.start !=
            ev->data.document_start.tag_directives.end)
            return fail_at(b, &ev->start_mark, "YAML tags are not supported");
        return 0;
    case YAML_DOCUMENT_END_EVENT:
        b->documents++;
        return 0;
    case YAML_ALIAS_EVENT:
        return fail_at(b,
                       &ev->start_mark,
                       "anchors and aliases are not supported (*%s)",
                       (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        return on_scalar(b, ev);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, ev, CFG_NODE_SEQUENCE);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, ev, CFG_NODE_MAPPING);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b);
    default:
        return 0;
    }
}

static int
check_root(struct builder *b)
{
    const struct cfg_node *r = b->root;
    yaml_mark_t start = {0, 0, 0};

    if (r == NULL || cfg_node_is_null(r))
        return fail_at(b, &start, "empty configuration (no YAML document)");
    if (r->kind != CFG_NODE_MAPPING)
        return err_set(b->err,
                       DESKDB_EINVAL,
                       "%s:%d:%d: the top level must be a mapping of "
                       "sections (database:, pool:, ...)",
                       b->name,
                       r->line,
                       r->column);
    return 0;
}

int
cfg_yaml_parse(const char *name,
               const char *data,
               size_t len,
               struct cfg_node **root,
               struct deskdb_err *err)
{
    struct builder b = {.name = name, .data = data, .len = len, .err = err};
    yaml_parser_t parser;
    yaml_event_t ev;
    bool done = false;
    size_t i;
    int rc = 0;

    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        return err_set(err, DESKDB_ENOMEM, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = parser_error(&b, &parser);
            goto out;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        rc = on_event(&b, &ev);
        yaml_event_delete(&ev);
        if (rc < 0)
            goto out;
    }
    rc = check_root(&b);
out:
    yaml_parser_delete(&parser);
    for (i = 0; i < b.depth; i++)
        cfg_node_free(b.stack[i].key);
    if (rc < 0) {
        cfg_node_free(b.root);
        return rc;
    }
    *root = b.root;
    return 0;
}

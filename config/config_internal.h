/* SPDX-License-Identifier: MIT */
/* Private to config/: the YAML node tree and the declarative schema engine. */
#ifndef DESKDB_CONFIG_CONFIG_INTERNAL_H
#define DESKDB_CONFIG_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/config.h"
#include "core/err.h"

/* ---- limits ------------------------------------------------------------ */

#define CFG_MAX_FILE_SIZE   (1024 * 1024) /* the config file */
#define CFG_MAX_DEPTH       32            /* nested sequences and mappings */
#define CFG_MAX_NODES       200000        /* values in one file */
#define CFG_MAX_SECRET_SIZE (64 * 1024)   /* *_file contents */
#define CFG_DEFAULT_MAX_LEN 4096          /* strings without their own cap */

/* Durations in the tables, in milliseconds. */
#define SECONDS(x) ((int64_t)(x)*1000)
#define MINUTES(x) ((int64_t)(x)*60 * 1000)
#define HOURS(x)   ((int64_t)(x)*3600 * 1000)
#define DAYS(x)    ((int64_t)(x)*86400 * 1000)

/* The tables store enums through int pointers. */
_Static_assert(sizeof(enum config_isolation) == sizeof(int),
               "enums must be int-sized");

/* ---- the node tree (yaml.c) -------------------------------------------- */

enum cfg_node_kind { CFG_NODE_SCALAR, CFG_NODE_SEQUENCE, CFG_NODE_MAPPING };

struct cfg_node;

struct cfg_pair {
    struct cfg_node *key; /* always a scalar */
    struct cfg_node *value;
};

struct cfg_node {
    enum cfg_node_kind kind;
    int line; /* 1-based */
    int column;
    bool plain;              /* scalar written without quotes or block style */
    char *value;             /* scalar, NUL-terminated, no embedded NUL */
    size_t len;              /* scalar length */
    struct cfg_node **items; /* sequence */
    size_t n_items;
    struct cfg_pair *pairs; /* mapping, in file order, keys unique */
    size_t n_pairs;
};

/*
 * Parse one YAML document into a tree (anchors, aliases, tags, merge keys,
 * duplicate keys, multiple or empty documents and deep nesting refused).
 * The root is a mapping.  `name` is used in error messages.
 */
int cfg_yaml_parse(const char *name,
                   const char *data,
                   size_t len,
                   struct cfg_node **root,
                   struct deskdb_err *err) DESKDB_MUSTCHECK;

void cfg_node_free(struct cfg_node *n);

/* The value of `key` in mapping `map` (NULL if map is NULL or absent). */
const struct cfg_node *cfg_node_get(const struct cfg_node *map,
                                    const char *key);

/* A plain empty scalar, "~" or "null". */
bool cfg_node_is_null(const struct cfg_node *n);

/* ---- the schema -------------------------------------------------------- */

/* Table helpers: `{CFG_INT_("max", struct config_pool, max, 1, 10000, 20)}`
 * plus any further designated initializers (.flags, .valid, ...). */
#define CFG_NUM_(t, n, T, m, lo, hi, d)                                        \
    .name = (n), .type = (t), .off = offsetof(T, m), .min = (lo), .max = (hi), \
    .def = (d)
#define CFG_INT_(n, T, m, lo, hi, d)   CFG_NUM_(CFG_T_INT, n, T, m, lo, hi, d)
#define CFG_INT64_(n, T, m, lo, hi, d) CFG_NUM_(CFG_T_INT64, n, T, m, lo, hi, d)
#define CFG_DUR_(n, T, m, lo, hi, d) \
    CFG_NUM_(CFG_T_DURATION, n, T, m, lo, hi, d)
#define CFG_SIZE_(n, T, m, lo, hi, d) CFG_NUM_(CFG_T_SIZE, n, T, m, lo, hi, d)
#define CFG_BOOL_(n, T, m, d) \
    .name = (n), .type = CFG_T_BOOL, .off = offsetof(T, m), .def = (d)
#define CFG_STR_(n, T, m, d) \
    .name = (n), .type = CFG_T_STRING, .off = offsetof(T, m), .def_str = (d)
#define CFG_PSTR_(n, T, m, d) \
    .name = (n), .type = CFG_T_PSTRING, .off = offsetof(T, m), .def_str = (d)
#define CFG_ENUM_(n, T, m, nm, d)                                          \
    .name = (n), .type = CFG_T_ENUM, .off = offsetof(T, m), .names = (nm), \
    .def = (d)
#define CFG_FLAGS_(n, T, m, nm, d)                                          \
    .name = (n), .type = CFG_T_FLAGS, .off = offsetof(T, m), .names = (nm), \
    .def = (d)
#define CFG_LIST_(n, T, m, cnt)                                 \
    .name = (n), .type = CFG_T_STR_LIST, .off = offsetof(T, m), \
    .off2 = offsetof(T, cnt)
#define CFG_MAP_(n, T, m, cnt)                                 \
    .name = (n), .type = CFG_T_STR_MAP, .off = offsetof(T, m), \
    .off2 = offsetof(T, cnt)
#define CFG_SECTION_(n, T, m, s) \
    .name = (n), .type = CFG_T_SECTION, .off = offsetof(T, m), .sub = (s)
/* A nested mapping whose keys live directly in the parent struct. */
#define CFG_FLAT_(n, s) .name = (n), .type = CFG_T_SECTION, .off = 0, .sub = (s)
#define CFG_SECTION_PTR_(n, T, m, s) \
    .name = (n), .type = CFG_T_SECTION_PTR, .off = offsetof(T, m), .sub = (s)
#define CFG_SECTIONS_(n, T, m, cnt, s)                              \
    .name = (n), .type = CFG_T_SECTION_LIST, .off = offsetof(T, m), \
    .off2 = offsetof(T, cnt), .sub = (s)
#define CFG_VARIANTS_(n, T, m, cnt, s)                              \
    .name = (n), .type = CFG_T_VARIANT_LIST, .off = offsetof(T, m), \
    .off2 = offsetof(T, cnt), .sub = (s)

enum cfg_type {
    CFG_T_INT,          /* int */
    CFG_T_INT64,        /* int64_t */
    CFG_T_BOOL,         /* bool */
    CFG_T_STRING,       /* char * */
    CFG_T_PSTRING,      /* struct config_str (string and its position) */
    CFG_T_DURATION,     /* int64_t milliseconds */
    CFG_T_SIZE,         /* int64_t bytes */
    CFG_T_ENUM,         /* int-sized enum: index into names */
    CFG_T_FLAGS,        /* unsigned: list of names, bit = index */
    CFG_T_STR_LIST,     /* struct config_str * at off, size_t count at off2 */
    CFG_T_STR_MAP,      /* struct config_kv * at off, size_t count at off2 */
    CFG_T_SECTION,      /* nested mapping, object at off */
    CFG_T_SECTION_PTR,  /* nested mapping, object allocated, pointer at off */
    CFG_T_SECTION_LIST, /* list of mappings: array at off, count at off2 */
    CFG_T_VARIANT_LIST, /* list of one-key mappings {kind: {...}} */
};

enum cfg_flag {
    CFG_F_REQUIRED = 1 << 0,    /* must be present (when it applies) */
    CFG_F_SECRET = 1 << 1,      /* printed as "***", never echoed */
    CFG_F_PATH = 1 << 2,        /* relative to the config file */
    CFG_F_SECRET_FILE = 1 << 3, /* read the file named here into off2 */
    CFG_F_INTO_KEY = 1 << 4,    /* off2 is a sibling key's storage */
    CFG_F_UNSET_NEG = 1 << 5,   /* int64: null/absent stored as -1 */
    CFG_F_SCALAR_LIST = 1 << 6, /* a single string is a one-item list */
    CFG_F_NO_ECHO = 1 << 7,     /* never quote the value in errors */
};

struct cfg_section;
struct cfg_ctx;

struct cfg_field {
    const char *name;
    enum cfg_type type;
    unsigned flags;
    size_t off;
    size_t off2;
    int64_t min; /* numbers: range; strings: length; lists: count */
    int64_t max; /* strings: 0 is CFG_DEFAULT_MAX_LEN; lists: 0 no cap */
    int64_t def; /* numbers, bool, enum, flags */
    const char *def_str;      /* strings; string lists: the one item */
    const char *const *names; /* enum, flags: NULL-terminated */
    const struct cfg_section *sub;
    /* Format checks: NULL if `s` is fine, else what is wrong with it. */
    const char *(*valid)(const char *s); /* strings, list items, map keys */
    const char *(*valid_value)(const char *s); /* map values */
    /* Whether the key belongs in this object (e.g. sql only for type sql);
     * fields earlier in the table are already parsed when it is called. */
    bool (*applies)(const void *obj);
    const char *only; /* "type: sql", shown when applies() is false */
    /* The printed form of a string, caller frees (URLs). */
    char *(*display)(const void *obj, const char *value);
};

struct cfg_variant {
    const char *name;
    int tag;
    const struct cfg_section *section;
};

#define CFG_NO_POS ((size_t)-1)

struct cfg_section {
    const char *name; /* for messages about the section as a whole */
    const struct cfg_field *fields; /* ends with a zeroed entry */
    size_t size;                    /* object size (lists, SECTION_PTR) */
    size_t pos_off; /* struct config_pos of the mapping, or CFG_NO_POS */
    /* After the fields are parsed (map NULL: section absent). */
    int (*fill)(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj);
    /* After the whole file and the environment are applied. */
    int (*check)(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj);
    const struct cfg_variant *variants; /* VARIANT_LIST element sections */
    size_t tag_off;                     /* int-sized enum of the variant */
};

/* An environment variable that replaced a value. */
struct cfg_env_source {
    const void *target;
    const char *var;
};

struct cfg_ctx {
    struct config *cfg;
    const char *file;     /* positions; NULL for defaults only */
    const char *base_dir; /* for CFG_F_PATH, NULL: working directory */
    struct deskdb_err *err;
    char path[256]; /* the key being processed, "pool.max" */
    size_t path_len;
    struct cfg_env_source env[16];
    size_t n_env;
};

extern const struct cfg_section cfg_config_section;
extern const struct cfg_section cfg_jobs_section;
extern const struct cfg_section cfg_alerts_section;

/* schema.c: the engine. */
int cfg_apply_defaults(struct cfg_ctx *ctx,
                       const struct cfg_section *sec,
                       void *obj) DESKDB_MUSTCHECK;
int cfg_parse_section(struct cfg_ctx *ctx,
                      const struct cfg_section *sec,
                      const struct cfg_node *map,
                      void *obj) DESKDB_MUSTCHECK;
int cfg_check_section(struct cfg_ctx *ctx,
                      const struct cfg_section *sec,
                      const struct cfg_node *map,
                      void *obj) DESKDB_MUSTCHECK;
void cfg_free_section(const struct cfg_section *sec, void *obj);

/* schema_value.c: the leaf types (not sections) and helpers shared with
 * schema.c. */
int cfg_parse_value(struct cfg_ctx *ctx,
                    const struct cfg_section *sec,
                    const struct cfg_field *f,
                    const struct cfg_node *n,
                    void *obj) DESKDB_MUSTCHECK;
const char *cfg_kind_name(const struct cfg_node *n);
int cfg_unknown_name(struct cfg_ctx *ctx,
                     const struct cfg_node *n,
                     const char *what,
                     const char *s,
                     const char *const *names);
int cfg_check_count(struct cfg_ctx *ctx,
                    const struct cfg_field *f,
                    const struct cfg_node *n,
                    size_t count);
void cfg_free_secret(char *s);
void cfg_free_str_list(struct config_str *items, size_t n);
void cfg_free_kv(struct config_kv *kv, size_t n, bool secret);
const struct cfg_field *cfg_find_field(const struct cfg_section *sec,
                                       const char *name);

/* Positioned errors: at a node, at a struct config_pos, or unpositioned.
 * cfg_err() does not name the key; cfg_err_key() starts the message with
 * the current key path ("pool.max: ..."). */
int
cfg_err(struct cfg_ctx *ctx, const struct cfg_node *node, const char *fmt, ...)
    DESKDB_PRINTF(3, 4);
int cfg_err_key(struct cfg_ctx *ctx,
                const struct cfg_node *node,
                const char *fmt,
                ...) DESKDB_PRINTF(3, 4);
int cfg_err_pos(struct cfg_ctx *ctx,
                const struct config_pos *pos,
                const char *fmt,
                ...) DESKDB_PRINTF(3, 4);
struct config_pos cfg_node_pos(const struct cfg_ctx *ctx,
                               const struct cfg_node *n);

/* Where the value stored at `target` (key `key` of `map`) came from:
 * the environment, the file, or nowhere (line 0: default). */
struct config_pos cfg_value_pos(const struct cfg_ctx *ctx,
                                const struct cfg_node *map,
                                const char *key,
                                const void *target);

/* Key path handling for messages: push returns the length to pop to. */
size_t cfg_path_push(struct cfg_ctx *ctx, const char *fmt, ...)
    DESKDB_PRINTF(2, 3);
void cfg_path_pop(struct cfg_ctx *ctx, size_t len);

/* value.c: scalar parsing and formatting. */
int cfg_parse_int(const char *s, int64_t *out, const char **why);
int cfg_parse_bool(const char *s, bool *out);
int cfg_parse_duration(const char *s, int64_t *ms, const char **why);
int cfg_parse_size(const char *s, int64_t *bytes, const char **why);
const char *cfg_format_size(int64_t bytes, char buf[48]);
/* Closest of `names` to `s` within edit distance 2, or NULL. */
const char *cfg_suggest(const char *s, const char *const *names, size_t n);
/* A printable, truncated copy of a value for messages, into buf. */
const char *cfg_echo(const char *s, char *buf, size_t size);

/* env.c: ${VAR} expansion, secret files, environment overrides. */
int cfg_expand(struct cfg_ctx *ctx,
               const struct cfg_node *n,
               char **out) DESKDB_MUSTCHECK;
int cfg_read_secret_file(struct cfg_ctx *ctx,
                         const struct cfg_node *n,
                         const char *path,
                         char **out) DESKDB_MUSTCHECK;
int cfg_apply_env(struct cfg_ctx *ctx) DESKDB_MUSTCHECK;
/* `path` made absolute against ctx->base_dir when relative; caller frees. */
char *cfg_resolve_path(const struct cfg_ctx *ctx, const char *path);

/* check.c: format checks used by the tables (see cfg_field.valid). */
const char *cfg_valid_name(const char *s);
const char *cfg_valid_alert_name(const char *s);
const char *cfg_valid_relation(const char *s);
const char *cfg_valid_identifier(const char *s);
const char *cfg_valid_setting(const char *s);
const char *cfg_valid_label_name(const char *s);
const char *cfg_valid_label_value(const char *s);
const char *cfg_valid_listen(const char *s);
const char *cfg_valid_bcrypt(const char *s);
const char *cfg_valid_http_url(const char *s);
const char *cfg_valid_user(const char *s);
bool cfg_listen_is_loopback(const char *s);
/* Index of the earliest repetition of a string in `strs`, -1 if all are
 * different, -2 when out of memory. */
ptrdiff_t cfg_find_duplicate(const char *const *strs, size_t n);

/* conninfo.c */
char *cfg_display_database_url(const void *obj, const char *value);

#endif

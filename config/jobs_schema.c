/* SPDX-License-Identifier: MIT */
/* The key tables of jobs: (scheduler settings, job definitions and their
 * typed steps) and the checks across jobs. */
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"
#include "config/config_jobs.h"

#define SQL_MAX (64 * 1024)

static const char *const leader_names[] = {"none", "advisory_lock", NULL};
static const char *const type_names[] =
    {"sql", "maintenance", "purge", "batch", "import", NULL};
static const char *const concurrency_names[] = {"forbid",
                                                "allow",
                                                "queue",
                                                "replace",
                                                NULL};
static const char *const misfire_names[] = {"skip", "run_once", NULL};
static const char *const cleanup_names[] = {"auto", "on", "off", NULL};
static const char *const isolation_names[] = {"read_committed",
                                              "repeatable_read",
                                              "serializable",
                                              NULL};
static const char *const operation_names[] = {"create_deal",
                                              "attach_customer",
                                              "register_user",
                                              "update_email_status",
                                              "next_sequence",
                                              NULL};
static const char *const step_names[] = {"analyze",
                                         "vacuum",
                                         "reindex",
                                         "refresh_materialized_view",
                                         "create_index",
                                         NULL};

const char *
config_job_type_name(enum config_job_type type)
{
    return (unsigned)type <= CONFIG_JOB_IMPORT ? type_names[type] : "unknown";
}

const char *
config_step_kind_name(enum config_step_kind kind)
{
    return (unsigned)kind <= CONFIG_STEP_CREATE_INDEX ? step_names[kind]
                                                      : "unknown";
}

const char *
config_import_operation_name(enum config_import_operation op)
{
    return (unsigned)op <= CONFIG_IMPORT_NEXT_SEQUENCE ? operation_names[op]
                                                       : "unknown";
}

/* Exactly one of two keys, e.g. reindex {index} or {table}. */
static int
one_of(struct cfg_ctx *ctx,
       const struct cfg_node *map,
       bool a_set,
       bool b_set,
       const char *a,
       const char *b)
{
    if (a_set != b_set)
        return 0;
    return cfg_err_key(ctx,
                       map,
                       a_set ? "give either '%s' or '%s', not both"
                             : "needs '%s' or '%s'",
                       a,
                       b);
}

/* ---- maintenance steps -------------------------------------------------- */

#define S struct config_maint_step
static const struct cfg_field analyze_fields[] = {
    {CFG_LIST_("tables", S, u.analyze.tables, u.analyze.n_tables),
     .max = 1000,
     .valid = cfg_valid_relation},
    {0},
};

static const struct cfg_field vacuum_fields[] = {
    {CFG_LIST_("tables", S, u.vacuum.tables, u.vacuum.n_tables),
     .max = 1000,
     .valid = cfg_valid_relation},
    {CFG_BOOL_("analyze", S, u.vacuum.analyze, false)},
    {CFG_BOOL_("freeze", S, u.vacuum.freeze, false)},
    {CFG_BOOL_("disable_page_skipping",
               S,
               u.vacuum.disable_page_skipping,
               false)},
    {CFG_ENUM_("index_cleanup",
               S,
               u.vacuum.index_cleanup,
               cleanup_names,
               CONFIG_INDEX_CLEANUP_AUTO)},
    {0},
};

static int
reindex_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_step_reindex *r = &((S *)obj)->u.reindex;

    return one_of(ctx,
                  map,
                  r->index.value != NULL,
                  r->table.value != NULL,
                  "index",
                  "table");
}

static const struct cfg_field reindex_fields[] = {
    {CFG_PSTR_("index", S, u.reindex.index, NULL), .valid = cfg_valid_relation},
    {CFG_PSTR_("table", S, u.reindex.table, NULL), .valid = cfg_valid_relation},
    {CFG_BOOL_("concurrently", S, u.reindex.concurrently, true)},
    {0},
};

static const struct cfg_field refresh_fields[] = {
    {CFG_PSTR_("view", S, u.refresh.view, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_relation},
    {CFG_BOOL_("concurrently", S, u.refresh.concurrently, false)},
    {0},
};

static int
create_index_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_step_create_index *c = &((S *)obj)->u.create_index;

    return one_of(ctx,
                  map,
                  c->n_columns > 0,
                  c->definition.value != NULL,
                  "columns",
                  "definition");
}

static const struct cfg_field create_index_fields[] = {
    {CFG_PSTR_("name", S, u.create_index.name, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_identifier},
    {CFG_PSTR_("table", S, u.create_index.table, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_relation},
    {CFG_LIST_("columns", S, u.create_index.columns, u.create_index.n_columns),
     .max = 32,
     .valid = cfg_valid_identifier},
    {CFG_PSTR_("definition", S, u.create_index.definition, NULL), .min = 1},
    {CFG_BOOL_("unique", S, u.create_index.unique, false)},
    {CFG_BOOL_("concurrently", S, u.create_index.concurrently, true)},
    {0},
};
#undef S

#define VARIANT(n, f, chk)                                      \
    static const struct cfg_section n = {.name = #n,            \
                                         .fields = f,           \
                                         .pos_off = CFG_NO_POS, \
                                         .check = chk}
VARIANT(analyze_section, analyze_fields, NULL);
VARIANT(vacuum_section, vacuum_fields, NULL);
VARIANT(reindex_section, reindex_fields, reindex_check);
VARIANT(refresh_section, refresh_fields, NULL);
VARIANT(create_index_section, create_index_fields, create_index_check);
#undef VARIANT

static const struct cfg_variant step_variants[] = {
    {"analyze", CONFIG_STEP_ANALYZE, &analyze_section},
    {"vacuum", CONFIG_STEP_VACUUM, &vacuum_section},
    {"reindex", CONFIG_STEP_REINDEX, &reindex_section},
    {"refresh_materialized_view",
     CONFIG_STEP_REFRESH_MATERIALIZED_VIEW,
     &refresh_section},
    {"create_index", CONFIG_STEP_CREATE_INDEX, &create_index_section},
    {0},
};

static const struct cfg_section maint_step_section = {
    .name = "steps",
    .size = sizeof(struct config_maint_step),
    .pos_off = offsetof(struct config_maint_step, pos),
    .variants = step_variants,
    .tag_off = offsetof(struct config_maint_step, kind),
};

/* ---- batch steps, purge, import, retry ---------------------------------- */

#define B struct config_batch_step
static const struct cfg_field batch_step_fields[] = {
    {CFG_STR_("name", B, name, NULL), .valid = cfg_valid_name},
    {CFG_PSTR_("sql", B, sql, NULL),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = SQL_MAX},
    {CFG_INT64_("expect_rows", B, expect_rows, 0, INT64_MAX, -1),
     .flags = CFG_F_UNSET_NEG},
    {0},
};
#undef B

static const struct cfg_section batch_step_section = {
    .name = "steps",
    .fields = batch_step_fields,
    .size = sizeof(struct config_batch_step),
    .pos_off = offsetof(struct config_batch_step, pos),
};

#define PG struct config_job_purge
static const struct cfg_field purge_fields[] = {
    {CFG_PSTR_("table", PG, table, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_relation},
    {CFG_PSTR_("where", PG, where, NULL),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = SQL_MAX},
    {CFG_PSTR_("order_by", PG, order_by, NULL), .min = 1, .max = 1024},
    {CFG_INT_("batch_size", PG, batch_size, 1, 100000, 1000)},
    {CFG_DUR_("pause", PG, pause_ms, 0, HOURS(1), 100)},
    {CFG_DUR_("max_duration",
              PG,
              max_duration_ms,
              SECONDS(1),
              DAYS(1),
              MINUTES(5))},
    {0},
};
#undef PG

static const struct cfg_section purge_section = {
    .name = "purge",
    .fields = purge_fields,
    .pos_off = CFG_NO_POS,
};

static const struct cfg_field import_fields[] = {
    {CFG_STR_("inbox", struct config_job_import, inbox, NULL),
     .flags = CFG_F_REQUIRED | CFG_F_PATH,
     .min = 1},
    {CFG_ENUM_("operation",
               struct config_job_import,
               operation,
               operation_names,
               0),
     .flags = CFG_F_REQUIRED},
    {0},
};

static const struct cfg_section import_section = {
    .name = "import",
    .fields = import_fields,
    .pos_off = CFG_NO_POS,
};

static int
retry_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_job_retry *r = obj;
    struct config_pos pos;
    char a[48], b[48];

    if (r->base_ms <= r->cap_ms)
        return 0;
    pos = cfg_value_pos(ctx, map, "base", &r->base_ms);
    if (pos.file == NULL)
        pos = cfg_value_pos(ctx, map, "cap", &r->cap_ms);
    return cfg_err_pos(ctx,
                       &pos,
                       "%s: base (%s) must not exceed cap (%s)",
                       ctx->path,
                       config_format_duration(r->base_ms, a),
                       config_format_duration(r->cap_ms, b));
}

#define R struct config_job_retry
static const struct cfg_field retry_fields[] = {
    {CFG_INT_("max_attempts", R, max_attempts, 1, 100, 1)},
    {CFG_DUR_("base", R, base_ms, 1, HOURS(1), SECONDS(1))},
    {CFG_DUR_("cap", R, cap_ms, 1, DAYS(1), MINUTES(1))},
    {0},
};
#undef R

static const struct cfg_section retry_section = {
    .name = "retry",
    .fields = retry_fields,
    .pos_off = CFG_NO_POS,
    .check = retry_check,
};

/* ---- a job -------------------------------------------------------------- */

static bool
is_sql(const void *obj)
{
    return ((const struct config_job *)obj)->type == CONFIG_JOB_SQL;
}

static bool
is_maintenance(const void *obj)
{
    return ((const struct config_job *)obj)->type == CONFIG_JOB_MAINTENANCE;
}

static bool
is_batch(const void *obj)
{
    return ((const struct config_job *)obj)->type == CONFIG_JOB_BATCH;
}

static bool
is_purge(const void *obj)
{
    return ((const struct config_job *)obj)->type == CONFIG_JOB_PURGE;
}

static bool
is_import(const void *obj)
{
    return ((const struct config_job *)obj)->type == CONFIG_JOB_IMPORT;
}

static bool
allows_instances(const void *obj)
{
    return ((const struct config_job *)obj)->concurrency ==
           CONFIG_CONCURRENCY_ALLOW;
}

/* A job without its own time zone runs in jobs.timezone. */
static int
job_fill(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    struct config_job *job = obj;
    const struct config_str *tz = &ctx->cfg->jobs->timezone;

    (void)map;
    if (job->timezone.value != NULL || tz->value == NULL)
        return 0;
    job->timezone.value = strdup(tz->value);
    if (job->timezone.value == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    job->timezone.pos = tz->pos;
    return 0;
}

/* The order matters: type and concurrency come before the keys whose
 * applies() looks at them. */
#define J struct config_job
static const struct cfg_field job_fields[] = {
    {CFG_STR_("name", J, name, NULL),
     .flags = CFG_F_REQUIRED,
     .valid = cfg_valid_name},
    {CFG_ENUM_("type", J, type, type_names, 0), .flags = CFG_F_REQUIRED},
    {CFG_BOOL_("enabled", J, enabled, true)},
    {CFG_PSTR_("schedule", J, schedule, NULL),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = 256},
    {CFG_PSTR_("timezone", J, timezone, NULL), .min = 1, .max = 255},
    {CFG_PSTR_("sql", J, sql, NULL),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = SQL_MAX,
     .applies = is_sql,
     .only = "type: sql"},
    {CFG_VARIANTS_("steps", J, maint_steps, n_maint_steps, &maint_step_section),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = 100,
     .applies = is_maintenance,
     .only = "type: maintenance or batch"},
    {CFG_SECTIONS_("steps", J, batch_steps, n_batch_steps, &batch_step_section),
     .flags = CFG_F_REQUIRED,
     .min = 1,
     .max = 1000,
     .applies = is_batch,
     .only = "type: maintenance or batch"},
    {CFG_ENUM_("isolation",
               J,
               isolation,
               isolation_names,
               CONFIG_ISOLATION_READ_COMMITTED),
     .applies = is_batch,
     .only = "type: batch"},
    {CFG_SECTION_("purge", J, purge, &purge_section),
     .flags = CFG_F_REQUIRED,
     .applies = is_purge,
     .only = "type: purge"},
    {CFG_SECTION_("import", J, import, &import_section),
     .flags = CFG_F_REQUIRED,
     .applies = is_import,
     .only = "type: import"},
    {CFG_MAP_("settings", J, settings, n_settings),
     .max = 64,
     .valid = cfg_valid_setting},
    {CFG_PSTR_("only_if", J, only_if, NULL), .min = 1, .max = SQL_MAX},
    {CFG_ENUM_("concurrency",
               J,
               concurrency,
               concurrency_names,
               CONFIG_CONCURRENCY_FORBID)},
    {CFG_INT_("max_instances", J, max_instances, 1, 100, 1),
     .applies = allows_instances,
     .only = "concurrency: allow"},
    {CFG_ENUM_("misfire", J, misfire, misfire_names, CONFIG_MISFIRE_RUN_ONCE)},
    {CFG_DUR_("timeout", J, timeout_ms, SECONDS(1), DAYS(7), HOURS(1))},
    {CFG_SECTION_("retry", J, retry, &retry_section)},
    {CFG_DUR_("jitter", J, jitter_ms, 0, HOURS(1), 0)},
    {0},
};
#undef J

static const struct cfg_section job_section = {
    .name = "job",
    .fields = job_fields,
    .size = sizeof(struct config_job),
    .pos_off = offsetof(struct config_job, pos),
    .fill = job_fill,
};

/* ---- jobs: -------------------------------------------------------------- */

static int
jobs_check(struct cfg_ctx *ctx, const struct cfg_node *map, void *obj)
{
    const struct config_jobs *jobs = obj;
    const struct cfg_node *defs = cfg_node_get(map, "definitions");
    const char **names;
    ptrdiff_t dup;
    size_t i;

    if (jobs->n_definitions < 2)
        return 0;
    names = malloc(jobs->n_definitions * sizeof(*names));
    if (names == NULL)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    for (i = 0; i < jobs->n_definitions; i++)
        names[i] = jobs->definitions[i].name;
    dup = cfg_find_duplicate(names, jobs->n_definitions);
    free(names);
    if (dup == -2)
        return err_set(ctx->err, DESKDB_ENOMEM, "out of memory");
    if (dup < 0)
        return 0;
    return cfg_err(ctx,
                   cfg_node_get(defs->items[dup], "name"),
                   "duplicate job name '%s'",
                   jobs->definitions[dup].name);
}

#define L struct config_jobs
static const struct cfg_field leader_fields[] = {
    {CFG_ENUM_("mode",
               L,
               leader_mode,
               leader_names,
               CONFIG_LEADER_ADVISORY_LOCK)},
    {CFG_INT64_("key", L, leader_key, INT64_MIN, INT64_MAX, 0x6465736b6462)},
    {0},
};

static const struct cfg_section leader_section = {
    .name = "jobs.leader",
    .fields = leader_fields,
    .pos_off = CFG_NO_POS,
};

static const struct cfg_field jobs_fields[] = {
    {CFG_FLAT_("leader", &leader_section)},
    {CFG_PSTR_("timezone", L, timezone, "UTC"), .min = 1, .max = 255},
    {CFG_INT_("max_concurrent", L, max_concurrent, 1, 64, 4)},
    {CFG_DUR_("history_retention",
              L,
              history_retention_ms,
              HOURS(1),
              DAYS(3650),
              DAYS(14))},
    {CFG_SECTIONS_("definitions", L, definitions, n_definitions, &job_section),
     .max = 10000},
    {0},
};
#undef L

const struct cfg_section cfg_jobs_section = {
    .name = "jobs",
    .fields = jobs_fields,
    .size = sizeof(struct config_jobs),
    .pos_off = CFG_NO_POS,
    .check = jobs_check,
};

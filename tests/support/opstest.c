/* SPDX-License-Identifier: MIT */
/* Fixture of the atomic-operation tests. */
#include "support/opstest.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/migrate.h"
#include "core/pool.h"
#include "support/pooltest.h"
#include "support/testsupport.h"

static atomic_int role_counter;

static void
grant_role(struct opstest *f)
{
    char sql[1024];

    snprintf(sql,
             sizeof(sql),
             "CREATE ROLE %s LOGIN NOSUPERUSER NOBYPASSRLS",
             f->role);
    test_exec(sql);
    snprintf(sql,
             sizeof(sql),
             "GRANT USAGE ON SCHEMA public, deskdb TO %s;"
             "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA"
             " public TO %s;"
             "GRANT SELECT, INSERT, UPDATE ON deskdb.import_ledger TO %s",
             f->role,
             f->role,
             f->role);
    test_db_exec(&f->db, sql);
}

static struct pool *
make_pool(struct opstest *f, const struct config_database *db)
{
    struct deskdb_err err;
    struct pool *p = pool_create(db, &f->pool_cfg, NULL, NULL, &err);

    if (p == NULL)
        fail_msg("pool_create: %s", err.msg);
    return p;
}

void
opstest_setup(struct opstest *f, const char *prefix, int pool_max)
{
    struct migration_set *set = NULL;
    struct migrate_options o = {0};
    struct deskdb_err err;
    size_t n;

    memset(f, 0, sizeof(*f));
    test_db_create(&f->db, prefix);
    if (migration_set_load_embedded(&set, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    o.conninfo = f->db.dsn;
    o.set = set;
    if (migrate_up(&o, NULL, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    migration_set_destroy(set);

    snprintf(f->role,
             sizeof(f->role),
             "desk_app_%ld_%d",
             (long)getpid(),
             atomic_fetch_add(&role_counter, 1));
    grant_role(f);
    /* A repeated keyword wins over the earlier one in a conninfo string. */
    n = strlen(f->db.dsn) + strlen(f->role) + 16;
    f->app_dsn = malloc(n);
    assert_non_null(f->app_dsn);
    snprintf(f->app_dsn, n, "%s user='%s'", f->db.dsn, f->role);

    pooltest_config(&f->super_db, &f->pool_cfg, prefix, f->appname);
    f->pool_cfg.min = 1;
    f->pool_cfg.max = pool_max;
    f->super_db.url = f->db.dsn;
    f->app_db = f->super_db;
    f->app_db.url = f->app_dsn;
    f->app = make_pool(f, &f->app_db);
    f->super = make_pool(f, &f->super_db);
}

void
opstest_teardown(struct opstest *f)
{
    char sql[128];

    pool_destroy(f->app);
    pool_destroy(f->super);
    test_db_drop(&f->db);
    snprintf(sql, sizeof(sql), "DROP ROLE IF EXISTS %s", f->role);
    test_exec(sql);
    free(f->app_dsn);
    memset(f, 0, sizeof(*f));
}

/* The rows of one dealership; {T} stands for its tail, {N} for the
 * number of vehicles. */
static const char seed_sql[] =
    "INSERT INTO dealerships (id, name, code) VALUES"
    " ('00000000-0000-0000-0000-{T}', 'Dealer {T}', 'D{T}');"
    "INSERT INTO users (id, dealership_id, username, email, role, is_active)"
    " VALUES ('10000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}',"
    "  'sales_{T}', 'sales_{T}@example.com', 'salesperson', true),"
    " ('11000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}',"
    "  'gone_{T}', 'gone_{T}@example.com', 'salesperson', false);"
    "INSERT INTO customers (id, dealership_id, first_name, last_name)"
    " VALUES ('20000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}',"
    " 'Ann', 'Lee');"
    "INSERT INTO vehicles (id, dealership_id, stock_number)"
    " SELECT ('3' || lpad(i::text, 7, '0') || '-0000-0000-0000-{T}')::uuid,"
    " '00000000-0000-0000-0000-{T}', 'S' || i FROM generate_series(1, {N}) i;"
    "INSERT INTO deals (id, dealership_id) VALUES"
    " ('40000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}');"
    "INSERT INTO email_messages (id, dealership_id, from_address, direction,"
    " status, folder) VALUES"
    " ('50000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}',"
    "  'desk@example.com', 'outbound', 'draft', 'drafts'),"
    " ('51000000-0000-0000-0000-{T}', '00000000-0000-0000-0000-{T}',"
    "  'buyer@example.com', 'inbound', 'received', 'inbox');";

void
opstest_seed(struct opstest *f, const char *t, int vehicles)
{
    char sql[sizeof(seed_sql) * 2], n[16];
    size_t used = 0;

    snprintf(n, sizeof(n), "%d", vehicles);
    for (const char *p = seed_sql; *p != '\0' && used + 16 < sizeof(sql);) {
        const char *sub = strncmp(p, "{T}", 3) == 0   ? t
                          : strncmp(p, "{N}", 3) == 0 ? n
                                                      : NULL;
        if (sub != NULL) {
            used += (size_t)snprintf(sql + used, sizeof(sql) - used, "%s", sub);
            p += 3;
        } else {
            sql[used++] = *p++;
        }
    }
    sql[used] = '\0';
    test_db_exec(&f->db, sql);
}

struct ops_options
opstest_options(void)
{
    struct ops_options o = {
        .txn =
            {
                .isolation = CONFIG_ISOLATION_READ_COMMITTED,
                .max_retries = 3,
                .backoff_base_ms = 5,
                .backoff_cap_ms = 50,
                .timeout_ms = 20000,
            },
    };
    return o;
}

json_t *
opstest_apply(struct pool *pool,
              const char *op,
              const struct ops_options *opt,
              const char *input,
              int *rc)
{
    const struct ops_op *o = ops_find(op);
    struct deskdb_err err;
    json_error_t jerr;
    char *text = NULL;
    json_t *res;
    int r;

    assert_non_null(o);
    err_clear(&err);
    r = ops_apply(pool, o, opt, input, strlen(input), 1, &text, NULL, &err);
    if (rc != NULL)
        *rc = r;
    assert_non_null(text);
    res = json_loads(text, 0, &jerr);
    if (res == NULL)
        fail_msg("result is not JSON: %s", text);
    free(text);
    return res;
}

char *
opstest_stream(struct pool *pool,
               const char *op,
               const struct ops_options *opt,
               const char *input,
               struct ops_summary *sum)
{
    FILE *in = fmemopen((void *)input, strlen(input), "r");
    char *out_text = NULL;
    size_t out_len = 0;
    FILE *out = open_memstream(&out_text, &out_len);
    struct deskdb_err err;

    assert_non_null(in);
    assert_non_null(out);
    err_clear(&err);
    if (ops_run_stream(pool, ops_find(op), opt, in, out, sum, &err) != 0)
        fail_msg("ops_run_stream: %s", err.msg);
    fclose(in);
    fclose(out);
    return out_text;
}

json_t *
opstest_line(const char *output, int n)
{
    const char *p = output;
    json_error_t jerr;
    json_t *j;

    for (int i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p == NULL || *p == '\0')
        fail_msg("no result line %d in:\n%s", n, output);
    j = json_loadb(p, strcspn(p, "\n"), 0, &jerr);
    if (j == NULL)
        fail_msg("result line %d is not JSON: %s", n, jerr.text);
    return j;
}

const char *
opstest_get(const json_t *o, const char *path)
{
    char key[64];
    const char *dot;

    while ((dot = strchr(path, '.')) != NULL) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - path), path);
        o = json_object_get(o, key);
        path = dot + 1;
    }
    o = json_object_get(o, path);
    return json_is_string(o) ? json_string_value(o) : "";
}

long long
opstest_int(struct opstest *f, const char *sql)
{
    return test_db_query_int(&f->db, sql);
}

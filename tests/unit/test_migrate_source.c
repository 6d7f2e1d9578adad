/* SPDX-License-Identifier: MIT */
/* Unit tests for loading and checking migrations and planning a run. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/migrate_internal.h"

static const char *const seed_names[] = {
    "0000_initial_schema",
    "0001_add_performance_indexes",
    "0002_schema_consistency",
    "0003_fix_email_direction",
    "0004_add_critical_indexes",
    "0005_row_level_security",
    "0006_deskdb_schema",
    "0007_import_ledger_per_dealership",
    "0008_job_runs_run_details",
};

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data;
    long n;

    if (f == NULL)
        fail_msg("open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    rewind(f);
    data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    data[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return data;
}

static void
test_embedded_matches_source_tree(void **state)
{
    const char *src = getenv("DESKDB_SOURCE_DIR");
    struct migration_set *emb = NULL, *dir = NULL;
    struct deskdb_err err;
    char path[4096];
    size_t i;

    (void)state;
    assert_non_null(src);
    assert_int_equal(migration_set_load_embedded(&emb, &err), DESKDB_OK);
    snprintf(path, sizeof(path), "%s/migrations", src);
    assert_int_equal(migration_set_load_dir(path, &dir, &err), DESKDB_OK);
    assert_int_equal(emb->n, sizeof(seed_names) / sizeof(seed_names[0]));
    assert_int_equal(dir->n, emb->n);
    for (i = 0; i < emb->n; i++) {
        char file[4200], hex[SHA256_HEX_LEN];
        size_t len;
        char *up;

        assert_string_equal(emb->items[i].name, seed_names[i]);
        assert_int_equal(emb->items[i].version, (int64_t)i);
        assert_string_equal(dir->items[i].name, seed_names[i]);
        assert_string_equal(dir->items[i].checksum, emb->items[i].checksum);
        assert_string_equal(dir->items[i].down_sql, emb->items[i].down_sql);
        snprintf(file, sizeof(file), "%s/%s.up.sql", path, seed_names[i]);
        up = slurp(file, &len);
        sha256_hex(up, len, hex);
        assert_string_equal(emb->items[i].checksum, hex);
        assert_int_equal(emb->items[i].up_len, len);
        free(up);
    }
    /* Index builds run CONCURRENTLY, so outside a transaction. */
    assert_true(emb->items[1].up_autocommit && emb->items[1].down_autocommit);
    assert_true(emb->items[2].up_autocommit && !emb->items[2].down_autocommit);
    assert_true(emb->items[4].up_autocommit && emb->items[4].down_autocommit);
    assert_false(emb->items[0].up_autocommit || emb->items[3].up_autocommit ||
                 emb->items[5].up_autocommit || emb->items[6].up_autocommit);
    migration_set_destroy(emb);
    migration_set_destroy(dir);
}

/* Build a set of one migration from strings; returns the status. */
static int
one(const char *name,
    const char *up,
    const char *down,
    struct migration_set **set,
    struct deskdb_err *err)
{
    struct migration_source s = {name, up, strlen(up), down, strlen(down)};

    err_clear(err);
    return migration_set_from_sources(&s, 1, set, err);
}

static void
expect_bad(const char *name,
           const char *up,
           const char *down,
           const char *fragment)
{
    struct migration_set *set = (struct migration_set *)1;
    struct deskdb_err err;

    assert_int_equal(one(name, up, down, &set, &err), DESKDB_EINVAL);
    assert_null(set);
    assert_contains(err.msg, fragment);
}

static void
test_bad_sources_are_refused(void **state)
{
    struct migration_source two[2] = {
        {"0001_a", "SELECT 1", 8, "SELECT 1", 8},
        {"1_b", "SELECT 2", 8, "SELECT 2", 8},
    };
    struct migration_set *set = NULL;
    struct deskdb_err err;

    (void)state;
    expect_bad("0001_Bad", "SELECT 1", "", "is not NNNN_name");
    expect_bad("abc", "SELECT 1", "", "is not NNNN_name");
    expect_bad("0001_", "SELECT 1", "", "is not NNNN_name");
    expect_bad("1234567890123456789_x", "SELECT 1", "", "18 digits");
    expect_bad("0001_a",
               "SELECT 1;\n\nbegin;\nSELECT 2",
               "",
               "0001_a.up.sql:3: begin: a migration must not control");
    expect_bad("0001_a",
               "SELECT 1",
               "DELETE FROM t;\nCOMMIT",
               "0001_a.down.sql:2: commit");
    expect_bad("0001_a", "COPY t FROM STDIN", "", "COPY from STDIN");
    expect_bad("0001_a",
               "SELECT 1;\nSELECT 'oops",
               "",
               "0001_a.up.sql: line 2: unterminated string");
    err_clear(&err);
    assert_int_equal(migration_set_from_sources(two, 2, &set, &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "0001_a and 1_b have the same version");
}

static void
test_nul_byte_is_refused(void **state)
{
    struct migration_source s = {"0001_a", "SELECT 1;\0DROP", 14, "", 0};
    struct migration_set *set = NULL;
    struct deskdb_err err;

    (void)state;
    assert_int_equal(migration_set_from_sources(&s, 1, &set, &err),
                     DESKDB_EINVAL);
    assert_contains(err.msg, "NUL byte");
}

static bool
autocommit_of(const char *up)
{
    struct migration_set *set = NULL;
    struct deskdb_err err;
    bool v;

    assert_int_equal(one("0001_a", up, "", &set, &err), DESKDB_OK);
    v = set->items[0].up_autocommit;
    migration_set_destroy(set);
    return v;
}

static void
test_autocommit_detection(void **state)
{
    (void)state;
    assert_false(autocommit_of("-- CREATE INDEX CONCURRENTLY in a comment\n"
                               "CREATE INDEX i ON t (a)"));
    assert_false(autocommit_of("SELECT 'vacuum concurrently'"));
    assert_true(autocommit_of("SELECT 1; vacuum (analyze) t"));
    assert_true(autocommit_of("CREATE TABLE t (a int);\n"
                              "CREATE INDEX CONCURRENTLY i ON t (a)"));
    assert_true(autocommit_of("REFRESH MATERIALIZED VIEW CONCURRENTLY mv"));
}

static void
write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
remove_file(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    unlink(path);
}

static void
test_load_dir(void **state)
{
    char dir[] = "/tmp/deskdb-migrate-unit-XXXXXX";
    struct migration_set *set = NULL;
    struct deskdb_err err;

    (void)state;
    assert_non_null(mkdtemp(dir));
    write_file(dir, "0002_b.up.sql", "SELECT 2");
    write_file(dir, "0002_b.down.sql", "");
    write_file(dir, "0001_a.up.sql", "SELECT 1");
    write_file(dir, "0001_a.down.sql", "SELECT -1");
    write_file(dir, "README.md", "ignored");
    write_file(dir, ".0003_c.up.sql.swp", "ignored");
    assert_int_equal(migration_set_load_dir(dir, &set, &err), DESKDB_OK);
    assert_int_equal(set->n, 2);
    assert_string_equal(set->items[0].name, "0001_a");
    assert_string_equal(set->items[1].name, "0002_b");
    assert_string_equal(set->items[0].down_sql, "SELECT -1");
    assert_ptr_equal(migration_set_find(set, 2), &set->items[1]);
    assert_null(migration_set_find(set, 3));
    migration_set_destroy(set);

    write_file(dir, "0003_c.up.sql", "SELECT 3");
    assert_int_equal(migration_set_load_dir(dir, &set, &err), DESKDB_EINVAL);
    assert_contains(err.msg, "0003_c.down.sql is missing");
    remove_file(dir, "0003_c.up.sql");

    write_file(dir, "notes.sql", "SELECT 1");
    assert_int_equal(migration_set_load_dir(dir, &set, &err), DESKDB_EINVAL);
    assert_contains(err.msg, "notes.sql: migrations are named");
    remove_file(dir, "notes.sql");

    remove_file(dir, "0001_a.up.sql");
    remove_file(dir, "0001_a.down.sql");
    remove_file(dir, "0002_b.up.sql");
    remove_file(dir, "0002_b.down.sql");
    remove_file(dir, "README.md");
    remove_file(dir, ".0003_c.up.sql.swp");
    assert_int_equal(rmdir(dir), 0);
    assert_int_equal(migration_set_load_dir(dir, &set, &err), DESKDB_EIO);
    assert_contains(err.msg, "open migrations directory");
}

/* A set 0001_a, 0002_b, 0003_c and history rows made from it. */
static struct migration_set *
abc_set(void)
{
    static const struct migration_source src[] = {
        {"0001_a", "SELECT 1", 8, "", 0},
        {"0002_b", "SELECT 2", 8, "", 0},
        {"0003_c", "SELECT 3", 8, "", 0},
    };
    struct migration_set *set = NULL;

    assert_int_equal(migration_set_from_sources(src, 3, &set, NULL), 0);
    return set;
}

static struct migrate_applied
row(const struct migration_set *set, int64_t version)
{
    struct migrate_applied a = {.version = version, .duration_ms = 5};
    const struct migration *m = migration_set_find(set, version);

    snprintf(a.name, sizeof(a.name), "%s", m != NULL ? m->name : "0009_z");
    snprintf(a.checksum,
             sizeof(a.checksum),
             "%s",
             m != NULL ? m->checksum : "00");
    snprintf(a.applied_at, sizeof(a.applied_at), "2025-01-31T12:00:00Z");
    return a;
}

/* Plan with `applied` and check for `up`; returns the check's status. */
static int
plan(const struct migration_set *set,
     const struct migrate_applied *applied,
     size_t n_applied,
     bool up,
     const char *states,
     struct deskdb_err *err)
{
    struct migrate_status *st = NULL;
    size_t n = 0, i;
    int rc;

    assert_int_equal(migrate_plan_status(set, applied, n_applied, &st, &n, err),
                     0);
    assert_int_equal(n, strlen(states));
    for (i = 0; i < n; i++)
        assert_int_equal(migrate_state_name(st[i].state)[0], states[i]);
    err_clear(err);
    rc = migrate_plan_check(st, n, set, up, err);
    free(st);
    return rc;
}

static void
test_plan(void **state)
{
    struct migration_set *set = abc_set();
    struct migrate_applied a[4];
    struct deskdb_err err;

    (void)state;
    assert_int_equal(plan(set, NULL, 0, true, "ppp", &err), DESKDB_OK);
    a[0] = row(set, 1), a[1] = row(set, 2);
    assert_int_equal(plan(set, a, 2, true, "aap", &err), DESKDB_OK);
    a[2] = row(set, 3), a[3] = row(set, 9);
    assert_int_equal(plan(set, a, 3, true, "aaa", &err), DESKDB_OK);

    /* An edited file. */
    snprintf(a[1].checksum, sizeof(a[1].checksum), "%s", "0123456789abcdef");
    assert_int_equal(plan(set, a, 3, true, "aca", &err), DESKDB_EINVAL);
    assert_contains(err.msg,
                    "migration 0002_b was changed after it was "
                    "applied (checksum 0123456789ab recorded, ");
    assert_contains(err.msg, "restore the file or write a new migration");
    assert_int_equal(plan(set, a, 3, false, "aca", &err), DESKDB_EINVAL);

    /* A renamed file. */
    a[1] = row(set, 2);
    snprintf(a[1].name, sizeof(a[1].name), "0002_old");
    assert_int_equal(plan(set, a, 3, true, "aca", &err), DESKDB_EINVAL);
    assert_contains(err.msg, "0002_b was applied under the name 0002_old");

    /* A version the set does not have. */
    a[1] = row(set, 2);
    assert_int_equal(plan(set, a, 4, true, "aaau", &err), DESKDB_EINVAL);
    assert_contains(err.msg, "has migration 0009_z applied");
    assert_int_equal(plan(set, a, 4, false, "aaau", &err), DESKDB_EINVAL);

    /* A pending version older than an applied one. */
    a[1] = row(set, 3);
    assert_int_equal(plan(set, a, 2, true, "apa", &err), DESKDB_EINVAL);
    assert_contains(err.msg, "0002_b is pending but the newer 0003_c");
    assert_int_equal(plan(set, a, 2, false, "apa", &err), DESKDB_OK);
    migration_set_destroy(set);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embedded_matches_source_tree),
        cmocka_unit_test(test_bad_sources_are_refused),
        cmocka_unit_test(test_nul_byte_is_refused),
        cmocka_unit_test(test_autocommit_detection),
        cmocka_unit_test(test_load_dir),
        cmocka_unit_test(test_plan),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

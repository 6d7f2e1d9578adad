/* SPDX-License-Identifier: MIT */
/* Integration tests of the migrations and their runner on a real server. */
#include <dirent.h>
#include <regex.h>
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
#include "support/testdb.h"
#include "support/testsupport.h"

#define N_SEED 9

struct fixture {
    struct test_db db;
    struct migration_set *set;
    struct migrate_options o;
    char dir[64]; /* a scratch migrations directory, "" if unused */
    int events;
    int autocommit_events;
};

/* The indexes of 0001, 0002 and 0004, the seed's list among them. */
static const char *const indexes[] = {
    "idx_users_dealership_id",
    "idx_user_permissions_permission_id",
    "idx_role_permissions_permission_id",
    "idx_email_messages_customer_id",
    "idx_email_messages_deal_id",
    "idx_email_messages_user_id",
    "users_email_lower_key",
    "vehicles_dealership_stock_number_key",
    "idx_deals_dealership_id",
    "idx_customers_dealership_id",
    "idx_vehicles_dealership_id",
    "idx_deals_customer_id",
    "idx_deals_vehicle_id",
    "idx_deals_salesperson_id",
    "idx_deal_scenarios_deal_id",
    "idx_deals_state",
    "idx_deals_created_at",
    "idx_customers_search",
    "idx_customers_email",
    "idx_email_messages_dealership_created",
    "idx_audit_log_dealership_created",
    "idx_audit_log_entity",
    "idx_audit_log_user_id",
    "idx_deals_active",
    "idx_vehicles_pending",
};

static const char *const tables[] = {
    "dealerships",
    "users",
    "permissions",
    "role_permissions",
    "user_permissions",
    "customers",
    "vehicles",
    "deals",
    "deal_scenarios",
    "audit_log",
    "email_messages",
    "sequences",
    "deskdb.job_runs",
    "deskdb.import_ledger",
    "deskdb.alert_state",
    "deskdb.schema_migrations",
};

/* Every object of the public and deskdb schemas, one sorted line each, so
 * that two schema states compare as strings. */
static const char snapshot_sql[] =
    "WITH ns AS (SELECT oid FROM pg_namespace"
    "            WHERE nspname IN ('public', 'deskdb')),"
    " lines(l) AS ("
    "  SELECT format('rel %s %s rls=%s/%s', c.oid::regclass, c.relkind,"
    "                c.relrowsecurity, c.relforcerowsecurity)"
    "  FROM pg_class c WHERE c.relnamespace IN (SELECT oid FROM ns)"
    "  UNION ALL"
    "  SELECT format('col %s.%s %s notnull=%s default=%s', "
    "a.attrelid::regclass,"
    "                a.attname, format_type(a.atttypid, a.atttypmod),"
    "                a.attnotnull, pg_get_expr(d.adbin, d.adrelid))"
    "  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
    "  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    "  WHERE c.relnamespace IN (SELECT oid FROM ns) AND a.attnum > 0"
    "    AND NOT a.attisdropped"
    "  UNION ALL"
    "  SELECT format('con %s.%s %s', conrelid::regclass, conname,"
    "                pg_get_constraintdef(oid))"
    "  FROM pg_constraint WHERE connamespace IN (SELECT oid FROM ns)"
    "  UNION ALL"
    "  SELECT format('idx %s valid=%s', pg_get_indexdef(i.indexrelid),"
    "                i.indisvalid)"
    "  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
    "  WHERE c.relnamespace IN (SELECT oid FROM ns)"
    "  UNION ALL"
    "  SELECT format('pol %s.%s %s %s %s', schemaname, tablename, policyname,"
    "                qual, with_check)"
    "  FROM pg_policies WHERE schemaname IN ('public', 'deskdb')"
    "  UNION ALL"
    "  SELECT format('trg %s', pg_get_triggerdef(t.oid))"
    "  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
    "  WHERE NOT t.tgisinternal AND c.relnamespace IN (SELECT oid FROM ns)"
    "  UNION ALL"
    "  SELECT format('fn %s', pg_get_functiondef(p.oid))"
    "  FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM ns)"
    "  UNION ALL"
    "  SELECT format('type %s', t.oid::regtype)"
    "  FROM pg_type t WHERE t.typnamespace IN (SELECT oid FROM ns))"
    " SELECT string_agg(l, E'\\n' ORDER BY l) FROM lines";

static void
on_event(void *arg, const struct migrate_event *ev)
{
    struct fixture *f = arg;

    f->events++;
    if (ev->autocommit)
        f->autocommit_events++;
    assert_true(ev->duration_ms >= 0);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct deskdb_err err;

    assert_non_null(f);
    test_db_create(&f->db, "deskdb_mig");
    if (migration_set_load_embedded(&f->set, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    f->o.conninfo = f->db.dsn;
    f->o.set = f->set;
    f->o.on_event = on_event;
    f->o.event_arg = f;
    *state = f;
    return 0;
}

static void
dir_remove(const char *dir)
{
    char path[4096];
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    test_db_drop(&f->db);
    migration_set_destroy(f->set);
    if (f->dir[0] != '\0')
        dir_remove(f->dir);
    free(f);
    return 0;
}

static void
dir_write(const char *dir, const char *name, const char *text)
{
    char path[4096];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Use migrations from a fresh scratch directory from now on. */
static void
use_dir(struct fixture *f)
{
    struct deskdb_err err;

    migration_set_destroy(f->set);
    f->set = NULL;
    if (migration_set_load_dir(f->dir, &f->set, &err) != DESKDB_OK)
        fail_msg("%s", err.msg);
    f->o.set = f->set;
}

static void
make_dir(struct fixture *f)
{
    snprintf(f->dir, sizeof(f->dir), "/tmp/deskdb-it-migrate-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static int
up(struct fixture *f, struct deskdb_err *err)
{
    int applied = -1;
    int rc;

    err_clear(err);
    rc = migrate_up(&f->o, &applied, err);
    return rc == DESKDB_OK ? applied : rc;
}

static void
up_ok(struct fixture *f, int want)
{
    struct deskdb_err err;
    int got = up(f, &err);

    if (got != want)
        fail_msg("up: want %d applied, got %d (%s)", want, got, err.msg);
}

static void
assert_contains(const char *haystack, const char *needle)
{
    if (strstr(haystack, needle) == NULL)
        fail_msg("'%s' not in '%s'", needle, haystack);
}

static void
test_status_of_new_database_creates_nothing(void **state)
{
    struct fixture *f = *state;
    struct migrate_status *st;
    struct deskdb_err err;
    size_t n, i;

    assert_int_equal(migrate_status(&f->o, &st, &n, &err), DESKDB_OK);
    assert_int_equal(n, N_SEED);
    for (i = 0; i < n; i++) {
        assert_int_equal(st[i].state, MIGRATE_PENDING);
        assert_string_equal(st[i].applied_at, "");
    }
    free(st);
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(*) FROM pg_namespace"
                                       " WHERE nspname = 'deskdb'"),
                     0);
}

static void
test_up_applies_everything_once(void **state)
{
    struct fixture *f = *state;
    struct migrate_status *st;
    struct deskdb_err err;
    regex_t iso;
    char sql[2048];
    size_t n, i;

    up_ok(f, N_SEED);
    assert_int_equal(f->events, N_SEED);
    assert_int_equal(f->autocommit_events, 3); /* 0001, 0002, 0004 */
    up_ok(f, 0);
    for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        snprintf(sql,
                 sizeof(sql),
                 "SELECT (to_regclass('%s') IS NOT NULL)::int",
                 tables[i]);
        if (test_db_query_int(&f->db, sql) != 1)
            fail_msg("table %s is missing", tables[i]);
    }
    for (i = 0; i < sizeof(indexes) / sizeof(indexes[0]); i++) {
        snprintf(sql,
                 sizeof(sql),
                 "SELECT count(*) FROM pg_index i JOIN pg_class c"
                 " ON c.oid = i.indexrelid WHERE c.relname = '%s'"
                 " AND i.indisvalid AND i.indisready",
                 indexes[i]);
        if (test_db_query_int(&f->db, sql) != 1)
            fail_msg("index %s is missing or invalid", indexes[i]);
    }
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_index WHERE indexrelid IN"
                          " ('idx_deals_active'::regclass,"
                          "  'idx_vehicles_pending'::regclass)"
                          " AND indpred IS NOT NULL"),
        2);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deskdb.schema_migrations"),
        N_SEED);

    assert_int_equal(migrate_status(&f->o, &st, &n, &err), DESKDB_OK);
    assert_int_equal(n, N_SEED);
    assert_int_equal(
        regcomp(&iso, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$", REG_EXTENDED),
        0);
    for (i = 0; i < n; i++) {
        assert_int_equal(st[i].state, MIGRATE_APPLIED);
        assert_string_equal(st[i].name, f->set->items[i].name);
        assert_string_equal(st[i].checksum, f->set->items[i].checksum);
        assert_true(st[i].duration_ms >= 0);
        assert_int_equal(regexec(&iso, st[i].applied_at, 0, NULL, 0), 0);
    }
    regfree(&iso);
    free(st);
}

/* Fail with the first line where two snapshots differ. */
static void
assert_same_schema(const char *what, const char *got, const char *want)
{
    const char *g = got, *w = want;

    while (*g != '\0' && *g == *w)
        g++, w++;
    if (*g == '\0' && *w == '\0')
        return;
    while (g > got && g[-1] != '\n')
        g--, w--;
    fail_msg("down of %s did not restore the schema:\n got: %.*s\nwant: %.*s",
             what,
             (int)strcspn(g, "\n"),
             g,
             (int)strcspn(w, "\n"),
             w);
}

/* Apply the migrations one by one, remember the schema after each, then
 * roll back one at a time: each down must restore the previous schema
 * exactly.  All the way down, only the history table is left. */
static void
test_each_down_restores_the_previous_schema(void **state)
{
    struct fixture *f = *state;
    char *snap[N_SEED + 1];
    char *history;
    struct deskdb_err err;
    int k, done;

    for (k = 0; k <= N_SEED; k++) {
        struct migration_set *sub = NULL;
        struct migration_set *full = f->set;

        assert_int_equal(
            migration_set_from_sources(migrate_embedded, (size_t)k, &sub, &err),
            DESKDB_OK);
        f->o.set = sub;
        up_ok(f, k == 0 ? 0 : 1);
        f->o.set = full;
        migration_set_destroy(sub);
        snap[k] = test_db_query_text(&f->db, snapshot_sql);
    }
    for (k = N_SEED; k > 0; k--) {
        char *now;

        assert_int_equal(migrate_down(&f->o, 1, &done, &err), DESKDB_OK);
        assert_int_equal(done, 1);
        now = test_db_query_text(&f->db, snapshot_sql);
        assert_same_schema(f->set->items[k - 1].name, now, snap[k - 1]);
        free(now);
    }
    assert_int_equal(migrate_down(&f->o, 1, &done, &err), DESKDB_OK);
    assert_int_equal(done, 0);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_class"
                          " WHERE relnamespace = 'public'::regnamespace"),
        0);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_proc"
                          " WHERE pronamespace = 'public'::regnamespace"),
        0);
    history = test_db_query_text(&f->db,
                                 "SELECT string_agg(relname, ',' ORDER BY"
                                 " relname) FROM pg_class WHERE relnamespace"
                                 " = 'deskdb'::regnamespace");
    assert_string_equal(history, "schema_migrations,schema_migrations_pkey");
    free(history);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deskdb.schema_migrations"),
        0);

    up_ok(f, N_SEED);
    history = test_db_query_text(&f->db, snapshot_sql);
    assert_string_equal(history, snap[N_SEED]);
    free(history);
    for (k = 0; k <= N_SEED; k++)
        free(snap[k]);
}

/* Apply the first `k` seed migrations only. */
static void
up_to(struct fixture *f, int k)
{
    struct migration_set *sub = NULL;
    struct deskdb_err err;

    assert_int_equal(
        migration_set_from_sources(migrate_embedded, (size_t)k, &sub, &err),
        DESKDB_OK);
    f->o.set = sub;
    up_ok(f, k);
    f->o.set = f->set;
    migration_set_destroy(sub);
}

static const char legacy_rows[] =
    "INSERT INTO dealerships (id, name, code) VALUES"
    " ('00000000-0000-0000-0000-00000000000a', 'A Motors', 'A');"
    "INSERT INTO customers (id, dealership_id, first_name, last_name) VALUES"
    " ('00000000-0000-0000-0000-0000000000c1',"
    "  '00000000-0000-0000-0000-00000000000a', 'Ann', 'Lee');"
    "INSERT INTO vehicles (dealership_id, stock_number) VALUES"
    " ('00000000-0000-0000-0000-00000000000a', 'S1');"
    "INSERT INTO deals (dealership_id, deal_number) VALUES"
    " ('00000000-0000-0000-0000-00000000000a', '1');"
    "INSERT INTO email_messages (dealership_id, from_address, subject,"
    " direction, folder) VALUES"
    " ('00000000-0000-0000-0000-00000000000a', 'a@x', '1', 'OUT', 'inbox'),"
    " ('00000000-0000-0000-0000-00000000000a', 'a@x', '2', ' incoming',"
    "  'sent'),"
    " ('00000000-0000-0000-0000-00000000000a', 'a@x', '3', NULL, 'sent'),"
    " ('00000000-0000-0000-0000-00000000000a', 'a@x', '4', 'weird', 'inbox'),"
    " ('00000000-0000-0000-0000-00000000000a', 'a@x', '5', 'outbound',"
    "  'inbox')";

/* Rows written under 0000's loose schema survive 0002 and 0003 with the
 * documented backfills, and updated_at follows real changes only. */
static void
test_data_migrations_backfill(void **state)
{
    struct fixture *f = *state;
    char *dirs;

    up_to(f, 1);
    test_db_exec(&f->db, legacy_rows);
    up_ok(f, N_SEED - 1);
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(*) FROM vehicles"
                                       " WHERE status = 'available'"),
                     1);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deals WHERE deal_state = "
                          "'DRAFT'"),
        1);
    dirs = test_db_query_text(&f->db,
                              "SELECT string_agg(direction, ',' ORDER BY "
                              "subject) FROM email_messages");
    assert_string_equal(dirs, "outbound,inbound,outbound,inbound,outbound");
    free(dirs);

    test_db_exec(&f->db,
                 "ALTER TABLE customers DISABLE TRIGGER"
                 " customers_touch_updated_at;"
                 "UPDATE customers SET updated_at = '2000-01-01Z';"
                 "ALTER TABLE customers ENABLE TRIGGER"
                 " customers_touch_updated_at;"
                 "UPDATE customers SET first_name = first_name");
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(*) FROM customers"
                                       " WHERE updated_at = '2000-01-01Z'"),
                     1);
    test_db_exec(&f->db, "UPDATE customers SET first_name = 'Anna'");
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM customers"
                          " WHERE updated_at > now() - interval '1 hour'"),
        1);
}

/* 0002 runs statement by statement: a customer without a dealership stops
 * it at VALIDATE, what ran before stays, and once the row is fixed the
 * same migration runs again from the top and completes. */
static void
test_0002_stops_on_orphans_and_resumes(void **state)
{
    struct fixture *f = *state;
    struct deskdb_err err;
    int rc;

    up_to(f, 2);
    test_db_exec(&f->db, legacy_rows);
    test_db_exec(&f->db,
                 "INSERT INTO customers (first_name, last_name)"
                 " VALUES ('No', 'Dealer')");
    rc = up(f, &err);
    assert_int_equal(rc, DESKDB_EPG);
    assert_string_equal(err.sqlstate, "23514");
    assert_contains(err.msg,
                    "migration 0002_schema_consistency up failed: "
                    "0002_schema_consistency.up.sql:");
    assert_contains(err.msg, "customers_dealership_id_not_null");
    assert_contains(err.msg, "runs outside a transaction");
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deskdb.schema_migrations"),
        2);
    /* The statements before the failing one were committed. */
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM information_schema.columns"
                          " WHERE table_name = 'customers'"
                          " AND column_name = 'updated_at'"),
        1);

    test_db_exec(&f->db,
                 "UPDATE customers SET dealership_id ="
                 " '00000000-0000-0000-0000-00000000000a'"
                 " WHERE dealership_id IS NULL");
    up_ok(f, N_SEED - 2);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_attribute WHERE attrelid ="
                          " 'customers'::regclass AND attname ="
                          " 'dealership_id' AND attnotnull"),
        1);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_constraint WHERE conname"
                          " LIKE '%_not_null'"),
        0);
}

static void
copy_seed_migrations(struct fixture *f)
{
    const char *src = getenv("DESKDB_SOURCE_DIR");
    size_t i;

    assert_non_null(src);
    make_dir(f);
    for (i = 0; i < f->set->n; i++) {
        const struct migration *m = &f->set->items[i];
        char name[MIGRATE_NAME_MAX + 16];

        snprintf(name, sizeof(name), "%s.up.sql", m->name);
        dir_write(f->dir, name, m->up_sql);
        snprintf(name, sizeof(name), "%s.down.sql", m->name);
        dir_write(f->dir, name, m->down_sql);
    }
    use_dir(f);
}

static void
test_changed_checksum_is_refused(void **state)
{
    struct fixture *f = *state;
    struct migrate_status *st;
    struct deskdb_err err;
    char *orig;
    size_t n;
    int done = -1;

    copy_seed_migrations(f);
    up_ok(f, N_SEED);
    orig = strdup(f->set->items[2].up_sql);
    assert_non_null(orig);
    {
        size_t len = strlen(orig) + 32;
        char *edited = malloc(len);

        assert_non_null(edited);
        snprintf(edited, len, "%s\n-- edited\n", orig);
        dir_write(f->dir, "0002_schema_consistency.up.sql", edited);
        free(edited);
    }
    use_dir(f);
    assert_int_equal(up(f, &err), DESKDB_EINVAL);
    assert_contains(err.msg,
                    "migration 0002_schema_consistency was changed after it "
                    "was applied (checksum ");
    assert_contains(err.msg, "restore the file or write a new migration");
    assert_int_equal(migrate_down(&f->o, 1, &done, &err), DESKDB_EINVAL);
    assert_int_equal(done, 0);
    assert_int_equal(migrate_status(&f->o, &st, &n, &err), DESKDB_OK);
    assert_int_equal(n, N_SEED);
    assert_int_equal(st[2].state, MIGRATE_CHANGED);
    assert_int_equal(st[3].state, MIGRATE_APPLIED);
    free(st);

    /* Restoring the file restores the runner. */
    dir_write(f->dir, "0002_schema_consistency.up.sql", orig);
    free(orig);
    use_dir(f);
    up_ok(f, 0);

    /* A migration the files no longer have. */
    {
        char path[4200];

        snprintf(path, sizeof(path), "%s/0006_deskdb_schema.up.sql", f->dir);
        assert_int_equal(unlink(path), 0);
        snprintf(path, sizeof(path), "%s/0006_deskdb_schema.down.sql", f->dir);
        assert_int_equal(unlink(path), 0);
    }
    use_dir(f);
    assert_int_equal(up(f, &err), DESKDB_EINVAL);
    assert_contains(err.msg, "has migration 0006_deskdb_schema applied");
}

/*
 * The premise of the design: libpq sends several statements in one PQexec
 * as one implicit transaction, where CREATE INDEX CONCURRENTLY cannot run.
 * Hence the splitter and one PQexec per statement.
 */
static void
test_multi_statement_exec_is_one_transaction(void **state)
{
    struct fixture *f = *state;
    PGconn *c = test_db_connect(&f->db);
    char st[6];

    PQclear(PQexec(c, "CREATE TABLE p (a int)"));
    assert_string_equal(
        test_sqlstate(c,
                      "SELECT 1; CREATE INDEX CONCURRENTLY p_a ON p (a)",
                      st),
        "25001");
    assert_string_equal(
        test_sqlstate(c, "CREATE INDEX CONCURRENTLY p_a ON p (a)", st),
        "");
    PQfinish(c);
}

static const char table_up[] =
    "-- A table with duplicates; this comment has semicolons; and 'quotes\n"
    "CREATE TABLE t (a int, b text);\n"
    "INSERT INTO t VALUES (1, 'x;y'), (1, E'it\\'s;'), (2, $q$ $$;$$ $q$);\n"
    "DO $do$\n"
    "BEGIN\n"
    "    -- a semicolon; inside a body\n"
    "    PERFORM 1;\n"
    "END\n"
    "$do$;\n";

static const char unique_up[] =
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS t_b_idx ON t (b);\n"
    "/* a comment; before the build that fails */\n"
    "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS\n"
    "    t_a_key ON t (a);\n";

static long long
invalid_t_a_key(struct fixture *f)
{
    return test_db_query_int(&f->db,
                             "SELECT count(*) FROM pg_index i JOIN pg_class c"
                             " ON c.oid = i.indexrelid WHERE c.relname ="
                             " 't_a_key' AND NOT i.indisvalid");
}

/* A failed CREATE UNIQUE INDEX CONCURRENTLY leaves an INVALID index.  IF
 * NOT EXISTS alone would skip it next time and report success; the runner
 * drops it and builds again, which fails again until the data is fixed. */
static void
test_failed_concurrent_build_is_cleaned_up(void **state)
{
    struct fixture *f = *state;
    struct deskdb_err err;

    make_dir(f);
    dir_write(f->dir, "0001_table.up.sql", table_up);
    dir_write(f->dir, "0001_table.down.sql", "DROP TABLE t;\n");
    dir_write(f->dir, "0002_unique.up.sql", unique_up);
    dir_write(f->dir,
              "0002_unique.down.sql",
              "DROP INDEX CONCURRENTLY IF EXISTS t_a_key;\n"
              "DROP INDEX CONCURRENTLY IF EXISTS t_b_idx;\n");
    use_dir(f);
    assert_true(f->set->items[1].up_autocommit);

    assert_int_equal(up(f, &err), DESKDB_EPG);
    assert_string_equal(err.sqlstate, "23505");
    assert_contains(err.msg, "0002_unique.up.sql:3: could not create unique");
    assert_int_equal(
        test_db_query_int(&f->db, "SELECT count(*) FROM t WHERE b = 'x;y'"),
        1);
    assert_int_equal(invalid_t_a_key(f), 1);

    assert_int_equal(up(f, &err), DESKDB_EPG);
    assert_string_equal(err.sqlstate, "23505");
    assert_int_equal(invalid_t_a_key(f), 1);

    test_db_exec(&f->db, "DELETE FROM t WHERE b = 'x;y'");
    up_ok(f, 1);
    assert_int_equal(invalid_t_a_key(f), 0);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM pg_index WHERE indexrelid ="
                          " 't_a_key'::regclass AND indisvalid"),
        1);
    assert_int_equal(migrate_down(&f->o, 5, NULL, &err), DESKDB_OK);
    assert_int_equal(
        test_db_query_int(&f->db, "SELECT (to_regclass('t') IS NULL)::int"),
        1);
}

/* A transactional migration that fails leaves nothing behind, and the
 * error names the file and the line of the offending value. */
static void
test_failed_transactional_migration_rolls_back(void **state)
{
    struct fixture *f = *state;
    struct deskdb_err err;

    make_dir(f);
    dir_write(f->dir, "0001_ok.up.sql", "CREATE TABLE t (a int);\n");
    dir_write(f->dir, "0001_ok.down.sql", "DROP TABLE t;\n");
    dir_write(f->dir,
              "0002_bad.up.sql",
              "CREATE TABLE u (a int);\n"
              "INSERT INTO t\n"
              "VALUES (1),\n"
              "       ('not a number');\n");
    dir_write(f->dir, "0002_bad.down.sql", "DROP TABLE u;\n");
    use_dir(f);
    assert_false(f->set->items[1].up_autocommit);
    assert_int_equal(up(f, &err), DESKDB_EPG);
    assert_string_equal(err.sqlstate, "22P02");
    assert_contains(err.msg,
                    "migration 0002_bad up failed: 0002_bad.up.sql:4:"
                    " invalid input syntax for type integer");
    assert_int_equal(
        test_db_query_int(&f->db, "SELECT (to_regclass('u') IS NULL)::int"),
        1);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deskdb.schema_migrations"),
        1);
}

static void
test_bad_arguments_and_unreachable_server(void **state)
{
    struct fixture *f = *state;
    struct migrate_options o = f->o;
    struct migrate_status *st = NULL;
    struct deskdb_err err;
    size_t n = 0;
    int done = -1;

    assert_int_equal(migrate_down(&o, 0, &done, &err), DESKDB_EINVAL);
    assert_int_equal(done, 0);
    o.conninfo = "host=127.0.0.1 port=1 password=sekrit connect_timeout=2";
    assert_int_equal(migrate_up(&o, NULL, &err), DESKDB_ECONN);
    assert_contains(err.msg, "connect to database: ");
    assert_null(strstr(err.msg, "sekrit"));
    assert_int_equal(migrate_status(&o, &st, &n, &err), DESKDB_ECONN);
    assert_null(st);
    o.conninfo = "host=127.0.0.1 sekrit";
    assert_int_equal(migrate_up(&o, NULL, &err), DESKDB_EINVAL);
    assert_contains(err.msg, "not a valid libpq connection string");
    assert_null(strstr(err.msg, "sekrit"));
    o.conninfo = "postgresql://u:sekrit@127.0.0.1:1/x?bogus=1";
    assert_int_equal(migrate_up(&o, NULL, &err), DESKDB_EINVAL);
    assert_null(strstr(err.msg, "sekrit"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_status_of_new_database_creates_nothing,
            setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_up_applies_everything_once,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_each_down_restores_the_previous_schema,
            setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_data_migrations_backfill,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_0002_stops_on_orphans_and_resumes,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_changed_checksum_is_refused,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_multi_statement_exec_is_one_transaction,
            setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_concurrent_build_is_cleaned_up,
            setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_failed_transactional_migration_rolls_back,
            setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_bad_arguments_and_unreachable_server,
            setup,
            teardown),
    };

    test_dsn();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

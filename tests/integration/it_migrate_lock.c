/* SPDX-License-Identifier: MIT */
/* Two migration runners at once: the advisory lock lets one apply. */
/* ctest-labels: concurrency */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/migrate.h"
#include "support/testdb.h"
#include "support/testsupport.h"

#define N_SEED 9
#define LOCK   "1684370283, 1" /* MIGRATE_LOCK_CLASS, MIGRATE_LOCK_OBJECT */

struct fixture {
    struct test_db db;
    struct migration_set *set;
};

struct runner {
    pthread_t thread;
    struct migrate_options o;
    int rc;
    int applied;
    struct deskdb_err err;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct deskdb_err err;

    assert_non_null(f);
    test_db_create(&f->db, "deskdb_miglock");
    assert_int_equal(migration_set_load_embedded(&f->set, &err), DESKDB_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    test_db_drop(&f->db);
    migration_set_destroy(f->set);
    free(f);
    return 0;
}

static PGconn *
hold_lock(struct fixture *f)
{
    PGconn *c = test_db_connect(&f->db);
    PGresult *r = PQexec(c, "SELECT pg_advisory_lock(" LOCK ")");

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    return c;
}

static void
test_lock_wait_is_bounded(void **state)
{
    struct fixture *f = *state;
    struct migrate_options o = {.conninfo = f->db.dsn, .set = f->set};
    PGconn *holder = hold_lock(f);
    struct deskdb_err err;
    char want[64];

    snprintf(want, sizeof(want), "(backend pid %d)", PQbackendPID(holder));
    o.lock_wait_ms = 300;
    assert_int_equal(migrate_up(&o, NULL, &err), DESKDB_ETIMEOUT);
    if (strstr(err.msg, want) == NULL)
        fail_msg("'%s' not in '%s'", want, err.msg);
    assert_non_null(strstr(err.msg, "gave up after 300 ms"));
    o.lock_wait_ms = -1;
    assert_int_equal(migrate_down(&o, 1, NULL, &err), DESKDB_ETIMEOUT);
    /* Nothing was touched without the lock. */
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(*) FROM pg_namespace"
                                       " WHERE nspname = 'deskdb'"),
                     0);
    PQfinish(holder);
    o.lock_wait_ms = 0;
    assert_int_equal(migrate_up(&o, NULL, &err), DESKDB_OK);
}

static void *
run_up(void *arg)
{
    struct runner *r = arg;

    err_clear(&r->err);
    r->rc = migrate_up(&r->o, &r->applied, &r->err);
    return NULL;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (ms % 1000) * 1000000};

    nanosleep(&ts, NULL);
}

/*
 * Both runners start while the lock is held elsewhere, so both wait; once
 * it is released one applies everything, including the CREATE INDEX
 * CONCURRENTLY files, while the other keeps polling (with a runner blocked
 * in pg_advisory_lock() those index builds would fail with "deadlock
 * detected"), and then finds nothing left to do.
 */
static void
test_two_runners_apply_once(void **state)
{
    struct fixture *f = *state;
    struct runner r[2];
    PGconn *holder = hold_lock(f);
    PGresult *res;
    int i, waited;

    memset(r, 0, sizeof(r));
    for (i = 0; i < 2; i++) {
        r[i].o.conninfo = f->db.dsn;
        r[i].o.set = f->set;
        assert_int_equal(pthread_create(&r[i].thread, NULL, run_up, &r[i]), 0);
    }
    for (waited = 0; waited < 20000; waited += 50) {
        char sql[256];

        snprintf(sql,
                 sizeof(sql),
                 "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s'"
                 " AND application_name = 'deskdb-migrate'",
                 f->db.name);
        if (test_query_int(sql) == 2)
            break;
        sleep_ms(50);
    }
    assert_true(waited < 20000);
    res = PQexec(holder, "SELECT pg_advisory_unlock(" LOCK ")");
    assert_string_equal(PQgetvalue(res, 0, 0), "t");
    PQclear(res);
    for (i = 0; i < 2; i++)
        assert_int_equal(pthread_join(r[i].thread, NULL), 0);
    PQfinish(holder);

    for (i = 0; i < 2; i++) {
        if (r[i].rc != DESKDB_OK)
            fail_msg("runner %d: %s", i, r[i].err.msg);
    }
    assert_int_equal(r[0].applied + r[1].applied, N_SEED);
    assert_true(r[0].applied == 0 || r[1].applied == 0);
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(DISTINCT version) FROM"
                                       " deskdb.schema_migrations"),
                     N_SEED);
    assert_int_equal(
        test_db_query_int(&f->db,
                          "SELECT count(*) FROM deskdb.schema_migrations"),
        N_SEED);
    assert_int_equal(test_db_query_int(&f->db,
                                       "SELECT count(*) FROM pg_index"
                                       " WHERE NOT indisvalid"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lock_wait_is_bounded,
                                        setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_two_runners_apply_once,
                                        setup,
                                        teardown),
    };

    test_dsn();
    return cmocka_run_group_tests(tests, NULL, NULL);
}

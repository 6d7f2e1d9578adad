/* SPDX-License-Identifier: MIT */
/* Unit tests for the query log rings: order, wrap-around, the slow ring,
 * truncation on a UTF-8 boundary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/querylog.h"

static void
test_ring_keeps_newest_first(void **state)
{
    struct querylog *q = querylog_create(3, 2);
    struct querylog_entry *e;
    size_t n;
    uint64_t total;
    char sql[32];

    (void)state;
    assert_non_null(q);
    for (int i = 1; i <= 5; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d", i);
        querylog_record(q, sql, 0, i * 10, i * 1000, i, 0, "", i % 2 == 0);
    }
    assert_int_equal(querylog_snapshot(q, QUERYLOG_RECENT, &e, &n, &total), 0);
    assert_int_equal(n, 3);
    assert_int_equal(total, 5);
    assert_string_equal(e[0].sql, "SELECT 5");
    assert_string_equal(e[1].sql, "SELECT 4");
    assert_string_equal(e[2].sql, "SELECT 3");
    assert_int_equal(e[0].seq, 5);
    assert_int_equal(e[0].rows, 5);
    assert_int_equal(e[0].duration_ns, 5000);
    free(e);

    assert_int_equal(querylog_snapshot(q, QUERYLOG_SLOW, &e, &n, &total), 0);
    assert_int_equal(n, 2);
    assert_int_equal(total, 2);
    assert_string_equal(e[0].sql, "SELECT 4");
    assert_string_equal(e[1].sql, "SELECT 2");
    /* The same sequence number in both rings identifies the statement. */
    assert_int_equal(e[0].seq, 4);
    free(e);
    querylog_destroy(q);
}

static void
test_parameters_and_errors(void **state)
{
    struct querylog *q = querylog_create(4, 0);
    struct querylog_entry *e;
    size_t n;

    (void)state;
    querylog_record(q,
                    "INSERT INTO t VALUES ($1, $2)",
                    2,
                    1,
                    2,
                    -1,
                    DESKDB_EPG,
                    "23505",
                    false);
    assert_int_equal(querylog_snapshot(q, QUERYLOG_RECENT, &e, &n, NULL), 0);
    assert_int_equal(n, 1);
    assert_string_equal(e[0].sql, "INSERT INTO t VALUES ($1, $2)");
    assert_int_equal(e[0].nparams, 2);
    assert_int_equal(e[0].code, DESKDB_EPG);
    assert_string_equal(e[0].sqlstate, "23505");
    assert_false(e[0].truncated);
    free(e);
    /* A disabled ring is empty, not an error. */
    assert_int_equal(querylog_snapshot(q, QUERYLOG_SLOW, &e, &n, NULL), 0);
    assert_int_equal(n, 0);
    assert_null(e);
    querylog_destroy(q);
}

static void
test_truncation_respects_utf8(void **state)
{
    struct querylog *q = querylog_create(1, 0);
    struct querylog_entry *e;
    char *sql = malloc(QUERYLOG_SQL_MAX + 100);
    size_t n, len;

    (void)state;
    /* "é" is two bytes; place one across the cut. */
    memset(sql, 'a', QUERYLOG_SQL_MAX + 99);
    sql[QUERYLOG_SQL_MAX - 2] = (char)0xC3;
    sql[QUERYLOG_SQL_MAX - 1] = (char)0xA9;
    sql[QUERYLOG_SQL_MAX + 99] = '\0';
    querylog_record(q, sql, 0, 0, 0, 0, 0, NULL, false);
    assert_int_equal(querylog_snapshot(q, QUERYLOG_RECENT, &e, &n, NULL), 0);
    assert_true(e[0].truncated);
    len = strlen(e[0].sql);
    assert_int_equal(len, QUERYLOG_SQL_MAX - 2);
    assert_int_equal((unsigned char)e[0].sql[len - 1], 'a');
    free(e);
    querylog_destroy(q);
    free(sql);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_keeps_newest_first),
        cmocka_unit_test(test_parameters_and_errors),
        cmocka_unit_test(test_truncation_respects_utf8),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

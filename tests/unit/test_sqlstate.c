/* SPDX-License-Identifier: MIT */
/* Unit tests for SQLSTATE classification and the transaction retry
 * decision built on it (research/jobs.md section (d)). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/sqlstate.h"
#include "core/txn.h"

static void
test_validity(void **state)
{
    (void)state;
    assert_true(sqlstate_valid("40001"));
    assert_true(sqlstate_valid("40P01"));
    assert_false(sqlstate_valid(NULL));
    assert_false(sqlstate_valid(""));
    assert_false(sqlstate_valid("4000"));
    assert_false(sqlstate_valid("400011"));
    assert_false(sqlstate_valid("40p01"));
    assert_false(sqlstate_valid("40 01"));
}

static void
test_classification_table(void **state)
{
    static const struct {
        const char *code;
        enum sqlstate_kind kind;
    } table[] = {
        {"40001", SQLSTATE_KIND_SERIALIZATION},
        {"40P01", SQLSTATE_KIND_DEADLOCK},
        {"08000", SQLSTATE_KIND_CONNECTION},
        {"08001", SQLSTATE_KIND_CONNECTION},
        {"08003", SQLSTATE_KIND_CONNECTION},
        {"08004", SQLSTATE_KIND_CONNECTION},
        {"08006", SQLSTATE_KIND_CONNECTION},
        {"08P01", SQLSTATE_KIND_CONNECTION},
        {"57P01", SQLSTATE_KIND_CONNECTION},
        {"57P02", SQLSTATE_KIND_CONNECTION},
        {"57P03", SQLSTATE_KIND_CONNECTION},
        {"53300", SQLSTATE_KIND_CONNECTION},
        {"08007", SQLSTATE_KIND_AMBIGUOUS},
        {"40003", SQLSTATE_KIND_AMBIGUOUS},
        {"55P03", SQLSTATE_KIND_LOCK_TIMEOUT},
        {"57014", SQLSTATE_KIND_CANCELED},
        /* Never retried: stalled client, failed transaction, data, syntax. */
        {"25P03", SQLSTATE_KIND_OTHER},
        {"25P02", SQLSTATE_KIND_OTHER},
        {"23505", SQLSTATE_KIND_OTHER},
        {"22P02", SQLSTATE_KIND_OTHER},
        {"42601", SQLSTATE_KIND_OTHER},
        {"XX000", SQLSTATE_KIND_OTHER},
        {"40002", SQLSTATE_KIND_OTHER},
        {"", SQLSTATE_KIND_NONE},
        {"bogus", SQLSTATE_KIND_NONE},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (sqlstate_classify(table[i].code) != table[i].kind)
            fail_msg("%s: got %s, want %s",
                     table[i].code,
                     sqlstate_kind_name(sqlstate_classify(table[i].code)),
                     sqlstate_kind_name(table[i].kind));
    }
    assert_int_equal(sqlstate_classify(NULL), SQLSTATE_KIND_NONE);
}

static void
test_class_label(void **state)
{
    char cls[3];

    (void)state;
    sqlstate_class("40P01", "XX", cls);
    assert_string_equal(cls, "40");
    sqlstate_class("", "08", cls);
    assert_string_equal(cls, "08");
    sqlstate_class("junk!", "57", cls);
    assert_string_equal(cls, "57");
    sqlstate_class(NULL, NULL, cls);
    assert_string_equal(cls, "");
}

static void
test_retry_before_commit(void **state)
{
    (void)state;
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "40001", false, false),
                     TXN_RETRY_AS_SERIALIZATION);
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "40P01", false, false),
                     TXN_RETRY_AS_DEADLOCK);
    /* A killed backend: no SQLSTATE, connection lost. */
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "", false, false),
                     TXN_RETRY_AS_CONNECTION);
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "57P01", false, false),
                     TXN_RETRY_AS_CONNECTION);
    /* A standby after failover, unless we asked for READ ONLY. */
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "25006", false, false),
                     TXN_RETRY_AS_CONNECTION);
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "25006", false, true),
                     TXN_FAIL);
    /* Definite errors are never retried. */
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "23505", false, false),
                     TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "57014", false, false),
                     TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_ETIMEOUT, "", false, false),
                     TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "25P03", false, false),
                     TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_EINVAL, "", false, false),
                     TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_ECLOSED, "", false, false),
                     TXN_FAIL);
}

static void
test_commit_is_never_blindly_retried(void **state)
{
    (void)state;
    /* COMMIT answered 40001: the server rolled back, so retry. */
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "40001", true, false),
                     TXN_RETRY_AS_SERIALIZATION);
    /* COMMIT sent, connection gone: outcome unknown, never retried. */
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "", true, false),
                     TXN_COMMIT_UNKNOWN);
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "57P01", true, false),
                     TXN_COMMIT_UNKNOWN);
    assert_int_equal(txn_classify_failure(DESKDB_ECONN, "08007", true, false),
                     TXN_COMMIT_UNKNOWN);
    assert_int_equal(txn_classify_failure(DESKDB_ETIMEOUT, "", true, false),
                     TXN_COMMIT_UNKNOWN);
    /* A definite answer to COMMIT (deferred constraint, cancel) is final. */
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "23505", true, false),
                     TXN_FAIL);
    assert_int_equal(
        txn_classify_failure(DESKDB_ETIMEOUT, "57014", true, false),
        TXN_FAIL);
    assert_int_equal(txn_classify_failure(DESKDB_EPG, "25006", true, false),
                     TXN_FAIL);
}

static void
test_commit_unknown_error(void **state)
{
    struct deskdb_err e;

    (void)state;
    err_set(&e, DESKDB_ECONN, "x");
    assert_false(txn_commit_unknown(&e));
    strcpy(e.sqlstate, TXN_SQLSTATE_COMMIT_UNKNOWN);
    assert_true(txn_commit_unknown(&e));
    e.code = DESKDB_EPG;
    assert_false(txn_commit_unknown(&e));
    assert_false(txn_commit_unknown(NULL));
    assert_string_equal(txn_retry_reason_name(TXN_RETRY_DEADLOCK), "deadlock");
    assert_string_equal(txn_retry_reason_name(TXN_RETRY_SERIALIZATION),
                        "serialization_failure");
    assert_string_equal(txn_retry_reason_name(TXN_RETRY_CONNECTION),
                        "connection");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validity),
        cmocka_unit_test(test_classification_table),
        cmocka_unit_test(test_class_label),
        cmocka_unit_test(test_retry_before_commit),
        cmocka_unit_test(test_commit_is_never_blindly_retried),
        cmocka_unit_test(test_commit_unknown_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

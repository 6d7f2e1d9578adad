/* SPDX-License-Identifier: MIT */
/* Unit tests for the SQL statement splitter and its small recognisers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/sqlsplit.h"

/* Split `sql` and compare the statements with the NULL-terminated list. */
static void
check_split(const char *sql, const char *const *want)
{
    struct sql_statement *st;
    struct deskdb_err err;
    size_t n, i, nwant = 0;

    err_clear(&err);
    while (want[nwant] != NULL)
        nwant++;
    assert_int_equal(sql_split(sql, strlen(sql), &st, &n, &err), DESKDB_OK);
    for (i = 0; i < n && i < nwant; i++) {
        char got[512];

        assert_true(st[i].len < sizeof(got));
        memcpy(got, sql + st[i].off, st[i].len);
        got[st[i].len] = '\0';
        assert_string_equal(got, want[i]);
    }
    assert_int_equal(n, nwant);
    free(st);
}

static void
test_plain_statements(void **state)
{
    (void)state;
    check_split(
        "SELECT 1; SELECT 2;\nSELECT 3",
        (const char *const[]){"SELECT 1", "SELECT 2", "SELECT 3", NULL});
    check_split("", (const char *const[]){NULL});
    check_split(" ;;\n ; -- only a comment\n/* and ; another */",
                (const char *const[]){NULL});
    check_split("SELECT 1 -- trailing ; comment\n;",
                (const char *const[]){"SELECT 1", NULL});
    check_split("SELECT 1\r\n;\r\nSELECT 2\r\n",
                (const char *const[]){"SELECT 1", "SELECT 2", NULL});
}

static void
test_quotes_hide_semicolons(void **state)
{
    (void)state;
    check_split("SELECT ';'; SELECT 'it''s;'",
                (const char *const[]){"SELECT ';'", "SELECT 'it''s;'", NULL});
    check_split(
        "SELECT E'it\\'s;', e'\\\\'; SELECT 2",
        (const char *const[]){"SELECT E'it\\'s;', e'\\\\'", "SELECT 2", NULL});
    /* standard_conforming_strings: a backslash does not escape here. */
    check_split("SELECT 'a\\'; SELECT 2",
                (const char *const[]){"SELECT 'a\\'", "SELECT 2", NULL});
    check_split("SELECT \"a;\"\"b\" FROM \"t;\"; SELECT 2",
                (const char *const[]){"SELECT \"a;\"\"b\" FROM \"t;\"",
                                      "SELECT 2",
                                      NULL});
    check_split(
        "SELECT U&'d\\0061t;' , U&\"d;\" UESCAPE '!'; SELECT B'01', "
        "X'f;', N'n;'",
        (const char *const[]){"SELECT U&'d\\0061t;' , U&\"d;\" UESCAPE '!'",
                              "SELECT B'01', X'f;', N'n;'",
                              NULL});
}

static void
test_dollar_quotes(void **state)
{
    (void)state;
    check_split("DO $$ BEGIN PERFORM 1; END $$; SELECT 2",
                (const char *const[]){"DO $$ BEGIN PERFORM 1; END $$",
                                      "SELECT 2",
                                      NULL});
    check_split("SELECT $a$ $$; $b$ ; $a$; SELECT $_x1$;$_x1$",
                (const char *const[]){"SELECT $a$ $$; $b$ ; $a$",
                                      "SELECT $_x1$;$_x1$",
                                      NULL});
    /* $ inside identifiers and $n parameters are not dollar quotes. */
    check_split("SELECT a$b$ FROM t; SELECT $1; SELECT x$$y; SELECT 3",
                (const char *const[]){"SELECT a$b$ FROM t",
                                      "SELECT $1",
                                      "SELECT x$$y",
                                      "SELECT 3",
                                      NULL});
    check_split(
        "SELECT 1 AS \"$$\"; SELECT '$$'",
        (const char *const[]){"SELECT 1 AS \"$$\"", "SELECT '$$'", NULL});
}

static void
test_comments(void **state)
{
    (void)state;
    check_split(
        "-- first; comment\nSELECT 1; /* block ; /* nested ; */ "
        "still ; */ SELECT 2 /* inside; */ + 1;",
        (const char *const[]){"SELECT 1", "SELECT 2 /* inside; */ + 1", NULL});
    check_split("SELECT 1 - -2; SELECT 4/*x*/;",
                (const char *const[]){"SELECT 1 - -2", "SELECT 4", NULL});
    check_split("SELECT '--not a comment;'; SELECT \"/*\"",
                (const char *const[]){"SELECT '--not a comment;'",
                                      "SELECT \"/*\"",
                                      NULL});
}

static void
test_parentheses_and_atomic_bodies(void **state)
{
    (void)state;
    check_split("CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a "
                "VALUES (1); INSERT INTO b VALUES (2)); SELECT 1",
                (const char *const[]){
                    "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a "
                    "VALUES (1); INSERT INTO b VALUES (2))",
                    "SELECT 1",
                    NULL});
    check_split("CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql "
                "BEGIN ATOMIC SELECT 1; SELECT CASE WHEN x > 0 THEN 1 ELSE 2 "
                "END; END; SELECT 3",
                (const char *const[]){
                    "CREATE OR REPLACE FUNCTION f(x int) RETURNS int "
                    "LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN x "
                    "> 0 THEN 1 ELSE 2 END; END",
                    "SELECT 3",
                    NULL});
    check_split("create procedure p() begin atomic insert into t values (1); "
                "end; call p()",
                (const char *const[]){"create procedure p() begin atomic "
                                      "insert into t values (1); end",
                                      "call p()",
                                      NULL});
    /* BEGIN outside a routine body is an ordinary statement. */
    check_split("BEGIN; SELECT CASE WHEN true THEN 1 END; COMMIT",
                (const char *const[]){"BEGIN",
                                      "SELECT CASE WHEN true THEN 1 END",
                                      "COMMIT",
                                      NULL});
    /* A stray ')' does not swallow the rest of the script. */
    check_split("SELECT 1); SELECT 2",
                (const char *const[]){"SELECT 1)", "SELECT 2", NULL});
}

static void
check_error(const char *sql, const char *fragment)
{
    struct sql_statement *st = (struct sql_statement *)1;
    struct deskdb_err err;
    size_t n = 99;

    err_clear(&err);
    assert_int_equal(sql_split(sql, strlen(sql), &st, &n, &err), DESKDB_EINVAL);
    assert_null(st);
    assert_int_equal(n, 0);
    if (strstr(err.msg, fragment) == NULL)
        fail_msg("'%s' not in '%s'", fragment, err.msg);
}

static void
test_unterminated_constructs(void **state)
{
    (void)state;
    check_error("SELECT 1;\nSELECT 'abc", "line 2: unterminated string");
    check_error("SELECT E'abc\\'", "line 1: unterminated string");
    check_error("SELECT \"abc", "unterminated quoted identifier");
    check_error("\n\nDO $body$ BEGIN END $bod$", "line 3: unterminated dollar");
    check_error("SELECT 1 /* open /* nested */", "unterminated /* comment");
    check_error("/*/", "line 1: unterminated /* comment");
}

static void
test_statement_lines(void **state)
{
    static const char sql[] = "-- header\n\nSELECT 'a\nb';\n"
                              "/* c\n */ SELECT $$\n\n$$;\n  SELECT 3";
    struct sql_statement *st;
    size_t n;

    (void)state;
    assert_int_equal(sql_split(sql, strlen(sql), &st, &n, NULL), DESKDB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(st[0].line, 3);
    assert_int_equal(st[1].line, 6);
    assert_int_equal(st[2].line, 9);
    free(st);
}

static void
test_recognisers(void **state)
{
    char w[16];

    (void)state;
    sql_first_word("  -- c\n/* x */ VACUUM (ANALYZE) t", 33, w, sizeof(w));
    assert_string_equal(w, "vacuum");
    sql_first_word("'x'", 3, w, sizeof(w));
    assert_string_equal(w, "");
    sql_first_word("averyveryverylongword", 21, w, sizeof(w));
    assert_string_equal(w, "");
    assert_true(sql_has_word("create index Concurrently i on t (a)",
                             36,
                             "concurrently"));
    assert_false(sql_has_word("select 'concurrently' -- concurrently\n",
                              38,
                              "concurrently"));
    assert_false(sql_has_word("select \"concurrently\" /* concurrently */",
                              40,
                              "concurrently"));
    assert_false(sql_has_word("select concurrently_x", 21, "concurrently"));
}

static void
check_cic(const char *sql, const char *want_index, const char *want_table)
{
    char index[64], table[128];
    bool ok = sql_match_create_index_concurrently(sql,
                                                  strlen(sql),
                                                  index,
                                                  sizeof(index),
                                                  table,
                                                  sizeof(table));

    if (want_index == NULL) {
        assert_false(ok);
        return;
    }
    assert_true(ok);
    assert_string_equal(index, want_index);
    assert_string_equal(table, want_table);
}

static void
test_create_index_concurrently(void **state)
{
    (void)state;
    check_cic("CREATE INDEX CONCURRENTLY idx_A ON deals (x)", "idx_a", "deals");
    check_cic("create unique index concurrently if not exists \"Odd \"\"Nm\" "
              "on only public.\"Deals\" using btree (lower(e))",
              "Odd \"Nm",
              "public.\"Deals\"");
    check_cic("CREATE INDEX CONCURRENTLY /* c */ i -- x\n ON s . t(a)",
              "i",
              "s . t");
    check_cic("CREATE INDEX CONCURRENTLY ON deals (x)", NULL, NULL);
    check_cic("CREATE INDEX i ON deals (x)", NULL, NULL);
    check_cic("DROP INDEX CONCURRENTLY i", NULL, NULL);
    check_cic("CREATE INDEX CONCURRENTLY i ON", NULL, NULL);
    check_cic("CREATE INDEX CONCURRENTLY i ON t.", NULL, NULL);
    /* Names longer than 63 bytes are truncated as PostgreSQL does. */
    check_cic("CREATE INDEX CONCURRENTLY "
              "a123456789b123456789c123456789d123456789e123456789f123456789"
              "ghijklmn ON t (x)",
              "a123456789b123456789c123456789d123456789e123456789f123456789g"
              "hi",
              "t");
}

/* Random scripts over an alphabet of tricky bytes: never a crash, and the
 * statements lie inside the text, in order, without overlapping. */
static void
test_random_scripts_keep_invariants(void **state)
{
    static const char alphabet[] = "'\"$;-/*()Ee\\\n a1UB&";
    uint64_t seed = 0x9e3779b97f4a7c15u;
    char sql[64];
    int round;

    (void)state;
    for (round = 0; round < 20000; round++) {
        struct sql_statement *st;
        size_t n, i, len = (size_t)(round % (int)sizeof(sql));
        size_t prev_end = 0;

        for (i = 0; i < len; i++) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            sql[i] = alphabet[seed % (sizeof(alphabet) - 1)];
        }
        if (sql_split(sql, len, &st, &n, NULL) != DESKDB_OK)
            continue;
        for (i = 0; i < n; i++) {
            assert_true(st[i].len > 0);
            assert_true(st[i].off >= prev_end);
            assert_true(st[i].off + st[i].len <= len);
            prev_end = st[i].off + st[i].len;
        }
        free(st);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_statements),
        cmocka_unit_test(test_quotes_hide_semicolons),
        cmocka_unit_test(test_dollar_quotes),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_parentheses_and_atomic_bodies),
        cmocka_unit_test(test_unterminated_constructs),
        cmocka_unit_test(test_statement_lines),
        cmocka_unit_test(test_recognisers),
        cmocka_unit_test(test_create_index_concurrently),
        cmocka_unit_test(test_random_scripts_keep_invariants),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

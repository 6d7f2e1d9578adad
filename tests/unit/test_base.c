/* SPDX-License-Identifier: MIT */
/* Unit tests for the base helpers: errors, buffers and the manual clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

static void
test_err_set_and_prefix(void **state)
{
    struct deskdb_err e;

    (void)state;
    err_clear(&e);
    assert_int_equal(err_set(&e, DESKDB_ETIMEOUT, "acquire after %d ms", 5),
                     DESKDB_ETIMEOUT);
    err_prefix(&e, "pool %s", "main");
    assert_string_equal(e.msg, "pool main: acquire after 5 ms");
    assert_string_equal(err_code_name(e.code), "timeout");
    assert_int_equal(err_set(NULL, DESKDB_EIO, "x"), DESKDB_EIO);
    err_set(&e, DESKDB_EINVAL, "bad value '%s'", "a\r\nb\tc\x7f");
    assert_int_equal(err_one_line(&e), DESKDB_EINVAL);
    assert_string_equal(e.msg, "bad value 'a??b?c?'");
    assert_int_equal(err_one_line(NULL), DESKDB_EINVAL);
}

static void
test_buf_cap_is_enforced(void **state)
{
    struct buf b;

    (void)state;
    buf_init(&b, 8);
    assert_int_equal(buf_puts(&b, "12345678"), DESKDB_OK);
    assert_int_equal(buf_putc(&b, '9'), DESKDB_EBUSY);
    assert_true(b.overflow);
    assert_string_equal(b.data, "12345678");
    buf_reset(&b);
    assert_int_equal(buf_printf(&b, "%d-%s", 42, "ab"), DESKDB_OK);
    assert_string_equal(b.data, "42-ab");
    buf_fini(&b);
}

static void
test_buf_take_gives_ownership(void **state)
{
    struct buf b;
    char *s;

    (void)state;
    buf_init(&b, 1024);
    s = buf_take(&b);
    assert_string_equal(s, "");
    free(s);
    assert_int_equal(buf_puts(&b, "abc"), DESKDB_OK);
    s = buf_take(&b);
    assert_string_equal(s, "abc");
    assert_null(b.data);
    free(s);
}

static void
test_manual_clock(void **state)
{
    struct clock_manual m = {.mono_ns = 5, .real_ns = 7};
    struct clock c = clock_manual_make(&m);

    (void)state;
    assert_int_equal(clock_mono(&c), 5);
    m.mono_ns += NS_PER_SEC;
    assert_int_equal(clock_mono(&c), 5 + NS_PER_SEC);
    assert_int_equal(clock_real(&c), 7);
    assert_true(clock_monotonic_ns() > 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_buf_cap_is_enforced),
        cmocka_unit_test(test_buf_take_gives_ownership),
        cmocka_unit_test(test_manual_clock),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_status.c - error records: cq_errf fills code and message, messages are
 * cut at CQ_ERR_MSG_MAX, cq_err_prefix keeps the failure's code and never
 * turns a failure into CQ_OK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/status.h"

static void test_status_errf_fills_code_and_message(void **state)
{
    (void)state;
    cq_err err;
    cq_err_clear(&err);
    assert_int_equal(cq_errf(&err, CQ_EIO, "%s: byte %d", "x.bin", 12), CQ_EIO);
    assert_int_equal(err.code, CQ_EIO);
    assert_string_equal(err.msg, "x.bin: byte 12");
}

static void test_status_errf_cuts_long_messages(void **state)
{
    (void)state;
    char big[3 * CQ_ERR_MSG_MAX];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cq_err err;
    assert_int_equal(cq_errf(&err, CQ_EFORMAT, "%s", big), CQ_EFORMAT);
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_int_equal(strlen(err.msg), CQ_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, big, CQ_ERR_MSG_MAX - 1);
}

static void test_status_prefix_keeps_the_code(void **state)
{
    (void)state;
    cq_err err;
    cq_errf(&err, CQ_ENOMEM, "node 12: out of memory");
    assert_int_equal(cq_err_prefix(&err, CQ_ENOMEM, "%s: ", "model.onnx"), CQ_ENOMEM);
    assert_int_equal(err.code, CQ_ENOMEM);
    assert_string_equal(err.msg, "model.onnx: node 12: out of memory");
}

/* The code passed wins over a stale err->code: the record then agrees with
 * what the caller returns. */
static void test_status_prefix_takes_the_given_code(void **state)
{
    (void)state;
    cq_err err;
    cq_errf(&err, CQ_EINVAL, "bad node");
    assert_int_equal(cq_err_prefix(&err, CQ_EFORMAT, "m.onnx: "), CQ_EFORMAT);
    assert_int_equal(err.code, CQ_EFORMAT);
    assert_string_equal(err.msg, "m.onnx: bad node");
}

static void test_status_prefix_never_returns_ok(void **state)
{
    (void)state;
    cq_err err;
    cq_err_clear(&err);
    assert_int_equal(cq_err_prefix(&err, CQ_OK, "%s: ", "x.npy"), CQ_ESTATE);
    assert_int_equal(err.code, CQ_ESTATE);
    assert_non_null(strstr(err.msg, "x.npy: "));
    assert_non_null(strstr(err.msg, "not a failure"));
    /* a code outside the enum is no failure either */
    assert_int_equal(cq_err_prefix(&err, CQ_STATUS_COUNT, "y: "), CQ_ESTATE);
    assert_int_equal(cq_err_prefix(&err, (cq_status)-1, "y: "), CQ_ESTATE);
    assert_int_equal(err.code, CQ_ESTATE);
}

static void test_status_prefix_cuts_long_messages(void **state)
{
    (void)state;
    char big[CQ_ERR_MSG_MAX];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cq_err err;
    cq_errf(&err, CQ_EIO, "%s", big);
    assert_int_equal(cq_err_prefix(&err, CQ_EIO, "head: "), CQ_EIO);
    assert_int_equal(strlen(err.msg), CQ_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "head: bbb", 9);
    /* a prefix longer than the record fills it alone */
    char head[2 * CQ_ERR_MSG_MAX];
    memset(head, 'h', sizeof head - 1);
    head[sizeof head - 1] = '\0';
    cq_errf(&err, CQ_EIO, "tail");
    assert_int_equal(cq_err_prefix(&err, CQ_EIO, "%s", head), CQ_EIO);
    assert_int_equal(strlen(err.msg), CQ_ERR_MSG_MAX - 1);
    assert_null(strchr(err.msg, 't'));
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(cq_status_name(CQ_OK), "OK");
    assert_string_equal(cq_status_name(CQ_ESTATE), "ESTATE");
    assert_string_equal(cq_status_name(CQ_STATUS_COUNT), "EUNKNOWN");
    assert_string_equal(cq_status_name((cq_status)-3), "EUNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_errf_fills_code_and_message),
        cmocka_unit_test(test_status_errf_cuts_long_messages),
        cmocka_unit_test(test_status_prefix_keeps_the_code),
        cmocka_unit_test(test_status_prefix_takes_the_given_code),
        cmocka_unit_test(test_status_prefix_never_returns_ok),
        cmocka_unit_test(test_status_prefix_cuts_long_messages),
        cmocka_unit_test(test_status_names),
    };
    return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
